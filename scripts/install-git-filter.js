#!/usr/bin/env node
/*
 * Registers the git clean filter "notebook-clean" (scripts/notebook-clean.js) that
 * .gitattributes applies to notebooks/*.ipynb, so outputs never reach git (diff, add, commit),
 * and turns on autostash for pull, so a notebook you ran does not block `git pull`. Runs after
 * `npm install` (postinstall).
 *
 * Only inside a git checkout of the kit; elsewhere (a downloaded archive, git not installed) it
 * says so and exits 0: an install never fails here. The setting goes into the repository's
 * .git/config (shared by its worktrees), with the script's path relative to the checkout's top,
 * which is where git runs filters.
 */
"use strict";
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const FILTER = "notebook-clean";
const projectRoot = path.resolve(__dirname, "..");

function git(args) {
  return spawnSync("git", args, { cwd: projectRoot, encoding: "utf8" });
}

function main() {
  const top = git(["rev-parse", "--show-toplevel"]);
  if (top.error || top.status !== 0) {
    console.log(`install-git-filter: not a git checkout (or git is not installed); the notebook output filter is not needed.`);
    return;
  }
  const script = path.relative(top.stdout.trim(), path.join(__dirname, "notebook-clean.js")).split(path.sep).join("/");
  const command = `node ${JSON.stringify(script)}`;
  for (const [key, value] of [
    // Clean only: checking a notebook out needs no filter (git copies it as stored).
    [`filter.${FILTER}.clean`, command],
    // Git decides "modified" from the file's size before it runs any filter, so a run notebook
    // blocks `git pull` ("local changes would be overwritten") although its cleaned content is
    // unchanged. With autostash, pull sets it aside (nothing to keep), updates, and goes on; real
    // edits are put back after the update, as `git stash pop` would.
    ["merge.autoStash", "true"],
    ["rebase.autoStash", "true"],
  ]) {
    const r = git(["config", key, value]);
    if (r.status !== 0) throw new Error(`git config ${key} failed: ${(r.stderr || "").trim()}`);
  }
  console.log(`install-git-filter: git filter "${FILTER}" registered (${command}): notebook outputs stay in your files and out of git.`);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.log(`install-git-filter: could not register the notebook filter (${e && e.message}); run \`node scripts/install-git-filter.js\` to retry.`);
  }
}
