#!/usr/bin/env node
/*
 * Registers this project's tslab as a Jupyter kernel named "tslab" (display name "TypeScript
 * (bandit kit)"). Runs after `npm install` (postinstall) and on demand (`node scripts/install-kernel.js`).
 *
 * The kernelspec goes to `<jupyter --data-dir>/kernels/tslab/kernel.json` (on Linux usually
 * ~/.local/share/jupyter/kernels/tslab) and starts tslab with absolute paths to this Node.js and
 * this project's node_modules/tslab, so the notebooks always run the kit's own tslab and packages.
 * Without Jupyter it prints how to add the kernel later and exits 0: an install never fails here.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const KERNEL_NAME = "tslab";
const projectRoot = path.resolve(__dirname, "..");

/** `jupyter --data-dir` of the first Jupyter that answers (PATH first, then Debian's). */
function jupyterDataDir() {
  const candidates = [process.env.JUPYTER || "jupyter", "/usr/bin/jupyter", "/usr/local/bin/jupyter"];
  for (const cmd of candidates) {
    const r = spawnSync(cmd, ["--data-dir"], { encoding: "utf8", timeout: 30000 });
    if (r.status === 0 && r.stdout.trim()) return { cmd, dir: r.stdout.trim() };
  }
  return undefined;
}

function main() {
  const tslabBin = path.join(projectRoot, "node_modules", "tslab", "bin", "tslab");
  if (!fs.existsSync(tslabBin)) {
    console.log(`install-kernel: ${tslabBin} is missing (run npm install first); kernel not installed.`);
    return;
  }
  const found = jupyterDataDir();
  if (!found) {
    console.log(
      "install-kernel: Jupyter not found, so the tslab kernel was not registered; after installing Jupyter run `npm run install-kernel` (or `node scripts/install-kernel.js`).",
    );
    return;
  }
  const dir = path.join(found.dir, "kernels", KERNEL_NAME);
  fs.mkdirSync(dir, { recursive: true });
  const spec = {
    // The same argv tslab's own installer writes, with absolute paths to this project's tslab.
    argv: [process.execPath, tslabBin, "kernel", "--config-path", "{connection_file}"],
    display_name: "TypeScript (bandit kit)",
    language: "typescript",
    // The AWS SDK warns once per kernel that its 2027 releases need Node.js 22; in a notebook that
    // warning is a red block in the first AWS cell. The README says when to upgrade instead.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    metadata: { cbkit_project_root: projectRoot },
  };
  fs.writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
  console.log(`install-kernel: kernel "${KERNEL_NAME}" written to ${path.join(dir, "kernel.json")} (found Jupyter: ${found.cmd})`);
}

try {
  main();
} catch (e) {
  console.log(`install-kernel: could not register the kernel (${e && e.message}); run \`node scripts/install-kernel.js\` to retry.`);
}
