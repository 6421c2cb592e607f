#!/usr/bin/env node
/*
 * Runs the compiled tests with Node's test runner, on whichever Node.js runs this script
 * (`npm test`; scripts/test-node-versions.js runs it with Node 22 and 24).
 *
 * Why not `node --test build/test/`: Node 20 takes a folder there, Node 22 and later take glob
 * patterns and read a folder as a file name ("Cannot find module"). Listing the *.test.js files
 * here works on every version and every platform's shell.
 *
 * Usage: node scripts/run-tests.js [FOLDER_OR_FILE ...]   (default: build/test)
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const projectRoot = path.resolve(__dirname, "..");

/** Every *.test.js file under `target` (or `target` itself), sorted for a stable order. */
function testFiles(target) {
  const full = path.resolve(projectRoot, target);
  if (!fs.existsSync(full)) throw new Error(`${target} does not exist; build the tests first (npm test does: tsc -b common sim_app test)`);
  if (fs.statSync(full).isFile()) return [full];
  return fs
    .readdirSync(full, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? testFiles(path.join(full, e.name)) : e.name.endsWith(".test.js") ? [path.join(full, e.name)] : []));
}

function main(targets) {
  const files = (targets.length ? targets : ["build/test"]).flatMap(testFiles);
  if (files.length === 0) throw new Error(`no *.test.js files under ${targets.join(", ") || "build/test"}`);
  const r = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...files.map((f) => path.relative(projectRoot, f))], { cwd: projectRoot, stdio: "inherit" });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`run-tests: ${e.message}`);
    process.exitCode = 1;
  }
}

module.exports = { testFiles };
