import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { configReference, findProjectRoot } from "@cbkit/common/config";

test("README's config reference lists every config key (regenerate: node scripts/config-reference.js)", () => {
  const readme = fs.readFileSync(path.join(findProjectRoot(), "README.md"), "utf8");
  const missing = configReference()
    .map((r) => r.key)
    .filter((k) => !readme.includes(`| \`${k}\` |`));
  assert.deepEqual(missing, [], "keys missing from README.md: run `npm run build && node scripts/config-reference.js`");
});
