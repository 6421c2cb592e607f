/**
 * The git clean filter for notebooks (scripts/notebook-clean.js, registered by
 * scripts/install-git-filter.js after `npm install`, applied by .gitattributes): outputs and run
 * state go, content stays; the tracked notebooks are already clean; and in a real git repository a
 * notebook that was run shows as unchanged while a real edit still shows.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { findProjectRoot } from "@cbkit/common/config";

const projectRoot = findProjectRoot();
const filter = path.join(projectRoot, "scripts", "notebook-clean.js");
const notebooks = path.join(projectRoot, "notebooks");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-nbclean-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Cell {
  cell_type: string;
  id: string;
  metadata: Record<string, unknown>;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
  attachments?: Record<string, unknown>;
}

function runFilter(input: string, cwd = projectRoot): string {
  const r = spawnSync(process.execPath, [filter], { input, encoding: "utf8", cwd, maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Notebook `name` as nbclient leaves it after a run: outputs of each kind, counts, timings. */
function executedCopy(name: string): string {
  const nb = JSON.parse(fs.readFileSync(path.join(notebooks, name), "utf8")) as { cells: Cell[] };
  let count = 0;
  for (const cell of nb.cells.filter((c) => c.cell_type === "code")) {
    count++;
    cell.execution_count = count;
    cell.metadata.execution = { "iopub.execute_input": "2026-12-01T10:00:00.000Z", "shell.execute_reply": "2026-12-01T10:00:01.500Z" };
    cell.metadata.scrolled = true;
    cell.outputs = [
      { name: "stdout", output_type: "stream", text: [`cell ${count} ran\n`] },
      { data: { "text/html": ["<div>chart</div>"], "text/plain": ["chart"] }, metadata: {}, output_type: "display_data" },
      { data: { "text/plain": [String(count)] }, execution_count: count, metadata: {}, output_type: "execute_result" },
    ];
  }
  return JSON.stringify(nb, null, 1) + "\n";
}

test("every tracked notebook is already clean: the filter gives back the same bytes", () => {
  const names = fs.readdirSync(notebooks).filter((f) => f.endsWith(".ipynb"));
  assert.ok(names.length >= 5);
  for (const name of names) {
    const text = fs.readFileSync(path.join(notebooks, name), "utf8");
    assert.ok(runFilter(text) === text, `${name} has outputs or run state committed; run it through scripts/notebook-clean.js`);
  }
});

test("a run notebook comes out as the tracked one: no outputs, counts or timings; ids, tags and attachments kept", () => {
  const name = "0_setup_and_data.ipynb";
  const executed = executedCopy(name);
  assert.match(executed, /"output_type": "stream"/);
  const cleaned = runFilter(executed);
  assert.ok(cleaned === fs.readFileSync(path.join(notebooks, name), "utf8"), "the cleaned notebook equals the tracked file byte for byte");
  const cells = (JSON.parse(cleaned) as { cells: Cell[] }).cells;
  assert.ok(cells.filter((c) => c.cell_type === "code").every((c) => c.outputs?.length === 0 && c.execution_count === null));
  assert.ok(cells.some((c) => c.attachments && Object.keys(c.attachments).length > 0), "the diagrams (attachments) stay");
  assert.ok(cells.every((c) => typeof c.id === "string" && c.id.length > 0), "cell ids stay");
  assert.ok(cells.some((c) => Array.isArray(c.metadata.tags)), "tags stay (the tests find cells by them)");
});

test("text that is not a notebook (a merge conflict) passes through untouched", () => {
  const conflict = '<<<<<<< HEAD\n{"cells": []}\n=======\n{"cells": [1]}\n>>>>>>> theirs\n';
  assert.equal(runFilter(conflict), conflict);
});

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync("git", ["-c", "user.name=cbkit test", "-c", "user.email=test@example.invalid", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: path.join(tmp, "no-global-gitconfig") },
  });
  assert.equal(r.status, 0, `git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

test("in a git checkout set up as npm install does, a run notebook changes nothing in git and does not block a pull", (t) => {
  if (spawnSync("git", ["--version"]).status !== 0) return t.skip("git is not installed");
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: path.join(tmp, "no-global-gitconfig") };
  const upstream = path.join(tmp, "upstream");
  fs.mkdirSync(path.join(upstream, "scripts"), { recursive: true });
  fs.mkdirSync(path.join(upstream, "notebooks"));
  for (const f of ["notebook-clean.js", "install-git-filter.js"]) fs.copyFileSync(path.join(projectRoot, "scripts", f), path.join(upstream, "scripts", f));
  fs.copyFileSync(path.join(projectRoot, ".gitattributes"), path.join(upstream, ".gitattributes"));
  const name = "0_setup_and_data.ipynb";
  fs.copyFileSync(path.join(notebooks, name), path.join(upstream, "notebooks", name));
  git(upstream, "init", "-q");
  git(upstream, "add", ".");
  git(upstream, "commit", "-q", "-m", "notebooks");

  // An attendee's clone, after `npm install` (its postinstall step).
  const repo = path.join(tmp, "attendee");
  git(tmp, "clone", "-q", upstream, repo);
  const install = spawnSync(process.execPath, [path.join(repo, "scripts", "install-git-filter.js")], { cwd: repo, encoding: "utf8", env });
  assert.equal(install.status, 0, install.stderr);
  assert.match(install.stdout, /git filter "notebook-clean" registered/);
  assert.equal(git(repo, "config", "filter.notebook-clean.clean").trim(), 'node "scripts/notebook-clean.js"');

  // Jupyter autosaves the run notebook over the tracked one.
  const tracked = path.join(repo, "notebooks", name);
  const executed = executedCopy(name);
  fs.writeFileSync(tracked, executed);
  assert.equal(git(repo, "diff"), "", "a run notebook is no change to git");
  git(repo, "add", "-A");
  assert.equal(git(repo, "status", "--porcelain"), "", "adding it stages nothing");
  assert.equal(fs.readFileSync(tracked, "utf8"), executed, "the outputs stay in the attendee's file");
  // Git lists a file whose size changed as modified before running the filter; it still holds nothing.
  fs.writeFileSync(tracked, executedCopy(name).replace("cell 1 ran", "cell 1 ran again"));
  assert.equal(git(repo, "diff"), "");

  // The workshop's authors update the notebook; the attendee pulls without a conflict.
  fs.writeFileSync(path.join(upstream, "notebooks", name), fs.readFileSync(path.join(notebooks, name), "utf8").replace("Statlog", "STATLOG"));
  git(upstream, "commit", "-q", "-am", "update");
  git(repo, "pull", "-q", "--no-rebase");
  assert.equal(git(repo, "status", "--porcelain"), "");
  assert.match(fs.readFileSync(tracked, "utf8"), /STATLOG/, "the update arrived");

  // A real edit is still one, and what gets staged has no outputs.
  fs.writeFileSync(tracked, executed.replace("Statlog", "Shuttle data"));
  assert.equal(git(repo, "status", "--porcelain").trim(), `M notebooks/${name}`);
  git(repo, "add", ".");
  assert.ok(!git(repo, "show", `:notebooks/${name}`).includes('"output_type"'), "the index holds no outputs");
});

test("outside a git checkout the postinstall step says so and succeeds", () => {
  const plain = path.join(tmp, "download");
  fs.mkdirSync(path.join(plain, "scripts"), { recursive: true });
  fs.copyFileSync(path.join(projectRoot, "scripts", "install-git-filter.js"), path.join(plain, "scripts", "install-git-filter.js"));
  const r = spawnSync(process.execPath, [path.join(plain, "scripts", "install-git-filter.js")], {
    cwd: plain,
    encoding: "utf8",
    env: { ...process.env, GIT_CEILING_DIRECTORIES: tmp },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /not a git checkout/);
});
