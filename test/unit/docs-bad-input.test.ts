import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { findProjectRoot } from "@cbkit/common/config";

const root = findProjectRoot();

test("every row of docs/bad-input.md names a test file that exists", () => {
  const doc = fs.readFileSync(path.join(root, "docs", "bad-input.md"), "utf8");
  const rows = doc.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Input") && !l.startsWith("| ---"));
  assert.ok(rows.length >= 50, `the table lists ${rows.length} inputs`);
  for (const row of rows) {
    const lastCell = row.split("|").slice(-2, -1)[0] ?? "";
    const files = lastCell.match(/[\w-]+\/[\w-]+\.(?:test|cases)\.ts/g) ?? [];
    assert.ok(files.length > 0, `no test named in: ${row}`);
    for (const f of files) assert.ok(fs.existsSync(path.join(root, "test", f)), `test/${f} (named in docs/bad-input.md) does not exist`);
  }
});
