/**
 * The attendee's own copies of the notebooks (scripts/notebook-copies.js, made by `npm install`):
 * missing copies are made, existing ones are never touched, `--reset` replaces them keeping a
 * .bak; and a copy that was run and saved leaves `git status` clean, because git ignores the folder.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { findProjectRoot } from "@cbkit/common/config";
import { executeNotebook, jupyterMissing, withWorkshopLock } from "../notebooks/harness";

const projectRoot = findProjectRoot();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { makeCopies, COPIES, ORIGINALS } = require(path.join(projectRoot, "scripts", "notebook-copies.js")) as {
  makeCopies(o: { from?: string; to?: string; reset?: boolean }): { name: string; action: "created" | "kept" | "replaced" }[];
  COPIES: string;
  ORIGINALS: string;
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-nbcopies-"));
// Inside my-notebooks/ (so git ignores it as it ignores the attendee's copies), apart from them.
const runDir = path.join(COPIES, `.test-${process.pid}`);
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(runDir, { recursive: true, force: true });
});

const originals = fs.readdirSync(ORIGINALS).filter((f) => f.endsWith(".ipynb")).sort();

test("missing copies are made, an existing copy is kept as it is, --reset replaces it and keeps a .bak", () => {
  assert.deepEqual(makeCopies({ to: tmp }).map((d) => d.action), originals.map(() => "created"));
  for (const name of originals) assert.ok(fs.readFileSync(path.join(tmp, name)).equals(fs.readFileSync(path.join(ORIGINALS, name))), name);
  const mine = path.join(tmp, originals[0]);
  fs.writeFileSync(mine, "my outputs");
  assert.deepEqual(makeCopies({ to: tmp }).map((d) => d.action), originals.map(() => "kept"));
  assert.equal(fs.readFileSync(mine, "utf8"), "my outputs", "npm install never overwrites a copy");
  assert.deepEqual(makeCopies({ to: tmp, reset: true }).map((d) => d.action), originals.map(() => "replaced"));
  assert.equal(fs.readFileSync(`${mine}.bak`, "utf8"), "my outputs");
  assert.ok(fs.readFileSync(mine).equals(fs.readFileSync(path.join(ORIGINALS, originals[0]))));
});

test("a copy run and saved with its outputs leaves git status clean", { skip: jupyterMissing("test/setup/notebook-copies.test.ts") }, async () => {
  const git = (...args: string[]) => spawnSync("git", args, { cwd: projectRoot, encoding: "utf8" });
  if (git("rev-parse", "--is-inside-work-tree").stdout.trim() !== "true") return; // a downloaded archive: nothing to check
  const before = git("status", "--porcelain", "--", "notebooks", "my-notebooks").stdout;
  makeCopies({ to: runDir });
  const copy = path.join(runDir, originals[0]);
  // Run from the copy's folder, as Jupyter started there would, and save the outputs into the copy.
  const run = await withWorkshopLock(() => executeNotebook(copy));
  fs.copyFileSync(run.outputPath, copy);
  const saved = JSON.parse(fs.readFileSync(copy, "utf8")) as { cells: { outputs?: unknown[] }[] };
  assert.ok(saved.cells.some((c) => (c.outputs ?? []).length > 0), "the saved copy holds outputs");
  assert.equal(git("check-ignore", "-q", copy).status, 0, "git ignores the copies");
  assert.equal(git("status", "--porcelain", "--", "notebooks", "my-notebooks").stdout, before, "git status is as before the run");
});
