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
 * 2. Charts: the kernelspec folder is exported as CBKIT_KERNELSPEC_DIR; the kit copies plotly.js
 *    there and the Jupyter server serves it (common/src/display/chart.ts).
 * 3. Status: tslab handles every shell message concurrently and wraps each in its own busy/idle
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

/**
 * How long the last request's idle waits for requests already sent: a cell that runs synchronously
 * (compiling, loading modules) blocks the event loop, so cells queued by Run All meanwhile are read
 * from the socket only after it ends. Without the wait the front end would flash "idle" between them.
 */
const IDLE_SETTLE_MS = 30;

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
    clearTimeout(this.cbkitIdleTimer);
    this.cbkitIdleTimer = setTimeout(() => {
      if (this.cbkitInFlight > 0) return;
      const held = this.cbkitHeldIdle.splice(0);
      try {
        for (const p of held) publish.call(this, "idle", p);
      } catch {
        // The sockets closed meanwhile (shutdown): nobody is listening any more.
      }
    }, IDLE_SETTLE_MS);
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
  // The kernelspec folder this launcher was copied into: Jupyter serves its files at
  // <base url>kernelspecs/cbkit/, which is where the kit's charts load plotly.js from.
  if (fs.existsSync(path.join(__dirname, "kernel.json"))) process.env.CBKIT_KERNELSPEC_DIR = __dirname;
  // By real path, as the kit's own require("tslab") resolves it, so both share one module instance.
  const real = fs.realpathSync(tslabDir);
  holdIdleWhileBusy(require(path.join(real, "dist", "jupyter.js")).ZmqServer);
  const tslab = require(path.join(real, "dist", "main.js"));
  const version = require(path.join(real, "package.json")).version;
  // enableFindLocal: false — the tslab chosen above is the one that runs.
  tslab.startKernel({ configPath: connectionFile, enableFindLocal: false, jsKernel: false, globalVersion: version });
}

main();
