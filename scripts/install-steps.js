#!/usr/bin/env node
/*
 * What `npm install` does after building the packages (package.json postinstall), so that one
 * command sets a fresh laptop up:
 *   1. the shuttle data: found and checked, or downloaded and checked (scripts/data.js);
 *   2. the Python environment .venv with JupyterLab, Notebook 7 and the tests' tools
 *      (scripts/python-env.js; skipped when CBKIT_SKIP_PYTHON_ENV=1, for a Jupyter you manage);
 *   3. the cbkit kernel registered with that Jupyter (scripts/install-kernel.js);
 *   4. the git filter that keeps notebook outputs out of git (scripts/install-git-filter.js);
 *   5. your copies of the notebooks in my-notebooks/, the ones you run (scripts/notebook-copies.js).
 * Steps 1 and 2 need the network the first time. When one fails, the install goes on and says
 * which command to run again once the cause is fixed; a kernel that cannot be registered fails it.
 */
"use strict";
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const run = (script, args = []) =>
  spawnSync(process.execPath, [path.join(__dirname, script), ...args], { stdio: "inherit" }).status === 0;

const retry = [];
if (!run("data.js")) retry.push("npm run data");
if (process.env.CBKIT_SKIP_PYTHON_ENV === "1") console.log("install: CBKIT_SKIP_PYTHON_ENV=1: .venv left as it is");
else if (!run("python-env.js")) retry.push("npm run python-env && npm run install-kernel");
if (!run("install-kernel.js")) process.exit(1);
if (!run("install-git-filter.js")) retry.push("node scripts/install-git-filter.js");
if (!run("notebook-copies.js")) retry.push("npm run notebooks");
if (retry.length > 0) {
  console.warn(`install: done, except what the messages above name; once fixed, run: ${retry.join("; ")}`);
}
