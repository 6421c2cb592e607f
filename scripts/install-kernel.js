#!/usr/bin/env node
/*
 * Registers the Jupyter kernel "cbkit" (display name "TypeScript (cbkit)"). Runs after
 * `npm install` (postinstall) and on demand (`npm run install-kernel`).
 *
 * The kernelspec goes to `<Jupyter data dir>/kernels/cbkit/` ($JUPYTER_DATA_DIR when set, else
 * what `jupyter --data-dir` prints — the project's .venv Jupyter first; on Linux usually
 * ~/.local/share/jupyter/kernels/cbkit) and
 * holds kernel.json plus a copy of scripts/kernel-launcher.js. The launcher runs the tslab of the
 * checkout a notebook lives in (the nearest node_modules/tslab above the notebook's folder), so
 * every checkout's install writes the same kernel and each notebook still runs its own kit.
 * Without Jupyter it prints how to add the kernel later and exits 0: an install never fails here.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { venvBin } = require("./python-env");

const KERNEL_NAME = "cbkit";
const DISPLAY_NAME = "TypeScript (cbkit)";
const projectRoot = path.resolve(__dirname, "..");

/** Where Jupyter looks for user kernels: $JUPYTER_DATA_DIR, else `jupyter --data-dir` of the first Jupyter that answers. */
function jupyterDataDir() {
  if (process.env.JUPYTER_DATA_DIR) return { source: "JUPYTER_DATA_DIR", dir: path.resolve(process.env.JUPYTER_DATA_DIR) };
  // The project's own venv first (`npm run python-env`), then a Jupyter on PATH or Debian's.
  const candidates = [process.env.JUPYTER, venvBin("jupyter"), "jupyter", "/usr/bin/jupyter", "/usr/local/bin/jupyter"].filter(Boolean);
  for (const cmd of candidates) {
    const r = spawnSync(cmd, ["--data-dir"], { encoding: "utf8", timeout: 30000 });
    if (r.status === 0 && r.stdout.trim()) return { source: cmd, dir: r.stdout.trim() };
  }
  return undefined;
}

/** Writes the kernelspec into `dataDir`/kernels/cbkit and returns the kernel.json path. */
function installKernel(dataDir) {
  const tslabDir = path.join(projectRoot, "node_modules", "tslab");
  const dir = path.join(dataDir, "kernels", KERNEL_NAME);
  fs.mkdirSync(dir, { recursive: true });
  const launcher = path.join(dir, "kernel-launcher.js");
  fs.copyFileSync(path.join(__dirname, "kernel-launcher.js"), launcher);
  const spec = {
    argv: [process.execPath, launcher, "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    env: {
      // The AWS SDK warns once per kernel that its 2027 releases need Node.js 22; in a notebook that
      // warning is a red block in the first AWS cell. The README says when to upgrade instead.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      // Used only for a notebook outside any checkout (no node_modules/tslab above it).
      CBKIT_FALLBACK_TSLAB: tslabDir,
    },
    // Jupyter sends SIGINT on "Interrupt"; tslab stops the running cell on it.
    interrupt_mode: "signal",
    metadata: { cbkit_registered_by: projectRoot },
  };
  const file = path.join(dir, "kernel.json");
  fs.writeFileSync(file, JSON.stringify(spec, null, 2) + "\n");
  return file;
}

function main() {
  if (!fs.existsSync(path.join(projectRoot, "node_modules", "tslab", "dist", "main.js"))) {
    console.log("install-kernel: node_modules/tslab is missing (run npm install first); kernel not installed.");
    return;
  }
  const found = jupyterDataDir();
  if (!found) {
    console.log(
      `install-kernel: Jupyter not found, so the "${KERNEL_NAME}" kernel was not registered; after installing Jupyter run \`npm run install-kernel\`.`,
    );
    return;
  }
  const file = installKernel(found.dir);
  console.log(`install-kernel: kernel "${KERNEL_NAME}" (${DISPLAY_NAME}) written to ${file} (data dir from ${found.source})`);
  const old = path.join(found.dir, "kernels", "tslab", "kernel.json");
  if (fs.existsSync(old) && fs.readFileSync(old, "utf8").includes("cbkit_project_root")) {
    console.log(
      `install-kernel: an older registration of this kit, kernel "tslab", is still at ${path.dirname(old)}; the notebooks now use "${KERNEL_NAME}". Remove it with \`jupyter kernelspec remove tslab\` unless another project uses it.`,
    );
  }
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.log(`install-kernel: could not register the kernel (${e && e.message}); run \`npm run install-kernel\` to retry.`);
  }
}

module.exports = { KERNEL_NAME, installKernel };
