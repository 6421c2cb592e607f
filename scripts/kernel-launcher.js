#!/usr/bin/env node
/*
 * Starts the "cbkit" Jupyter kernel: tslab from the notebook's own checkout, with truthful
 * busy/idle status. scripts/install-kernel.js copies this file into the kernelspec folder, so one
 * registration serves every checkout of the kit and survives the deletion of the one that wrote it.
 *
 * Usage (from kernel.json): node kernel-launcher.js {connection_file}
 *
 * 1. Which tslab: Jupyter starts a kernel in the notebook's folder, so the nearest
 *    node_modules/tslab above the working directory is that checkout's (its packages, its build).
 *    Without one, the tslab recorded at registration (CBKIT_FALLBACK_TSLAB) is used, with a warning.
 * 2. Status: tslab handles every shell message concurrently and wraps each in its own busy/idle
 *    pair, so a completion or kernel_info request answered during a long cell, or the end of the
 *    first of several queued cells (Run All), publishes "idle" while code still runs, and the
 *    front end shows an idle kernel. Here each request still gets its own busy and idle (clients
 *    such as nbclient wait for the idle of their request), but an idle is held back until no other
 *    request is in progress.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

/** The nearest `node_modules/tslab` at or above `dir`, or undefined. */
function findTslab(dir) {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const candidate = path.join(d, "node_modules", "tslab");
    if (path.basename(d) !== "node_modules" && fs.existsSync(path.join(candidate, "dist", "main.js"))) return candidate;
    if (path.dirname(d) === d) return undefined;
  }
}

/** Makes a ZmqServer publish "idle" only when none of its requests is still being handled. */
function holdIdleWhileBusy(ZmqServer) {
  const publish = ZmqServer.prototype.publishStatus;
  ZmqServer.prototype.publishStatus = function (status, parent) {
    this.cbkitInFlight = this.cbkitInFlight ?? 0;
    this.cbkitHeldIdle = this.cbkitHeldIdle ?? [];
    if (status === "busy") {
      this.cbkitInFlight++;
      publish.call(this, status, parent);
      return;
    }
    this.cbkitInFlight = Math.max(0, this.cbkitInFlight - 1);
    this.cbkitHeldIdle.push(parent);
    if (this.cbkitInFlight > 0) return;
    const held = this.cbkitHeldIdle.splice(0);
    for (const p of held) publish.call(this, "idle", p);
  };
}

function main() {
  const connectionFile = process.argv[2];
  if (!connectionFile) {
    console.error("cbkit kernel: usage: node kernel-launcher.js CONNECTION_FILE (Jupyter passes it)");
    process.exit(2);
  }
  let tslabDir = findTslab(process.cwd());
  if (!tslabDir) {
    const fallback = process.env.CBKIT_FALLBACK_TSLAB;
    if (!fallback || !fs.existsSync(path.join(fallback, "dist", "main.js"))) {
      console.error(
        `cbkit kernel: no node_modules/tslab in ${process.cwd()} or any folder above it, and the kit ` +
          `that registered this kernel (${fallback ?? "unknown"}) is gone. Open the notebooks of a ` +
          "checkout where `npm install` has run, or run `npm install` there.",
      );
      process.exit(1);
    }
    console.error(`cbkit kernel: no node_modules/tslab above ${process.cwd()}; using ${fallback}`);
    tslabDir = fallback;
  }
  process.env.CBKIT_TSLAB_DIR = tslabDir;
  // By real path, as the kit's own require("tslab") resolves it, so both share one module instance.
  const real = fs.realpathSync(tslabDir);
  holdIdleWhileBusy(require(path.join(real, "dist", "jupyter.js")).ZmqServer);
  const tslab = require(path.join(real, "dist", "main.js"));
  const version = require(path.join(real, "package.json")).version;
  // enableFindLocal: false — the tslab chosen above is the one that runs.
  tslab.startKernel({ configPath: connectionFile, enableFindLocal: false, jsKernel: false, globalVersion: version });
}

main();
