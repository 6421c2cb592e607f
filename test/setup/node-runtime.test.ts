/**
 * The Node.js running this suite runs the kit: the native modules load on it, and a kernel it
 * registered starts on it and executes notebook 0 with that notebook's output checks.
 * `npm run test:node-versions` (scripts/test-node-versions.js) runs this file, with the unit,
 * learner and endpoint tests, on Node 22 and 24; `npm test` runs it on the machine's own Node.
 * The kernel is registered into a private JUPYTER_DATA_DIR, never the user's.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { DuckDBInstance } from "@duckdb/node-api";
import { executeNotebook, jupyterMissing, notebooksDir, projectRoot } from "../notebooks/harness";
import checkNotebook0 from "../notebooks/checks/0_setup_and_data";

const skip = jupyterMissing("test/setup/node-runtime.test.ts");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-node-runtime-"));
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

test(`DuckDB's native binding (N-API) loads and queries on Node ${process.version}`, async () => {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll("SELECT 6 * 7 AS answer");
  assert.deepEqual(reader.getRowObjects(), [{ answer: 42 }]);
  connection.closeSync();
});

test(`a kernel registered by Node ${process.version} starts on it and runs notebook 0`, { skip, timeout: 10 * 60_000 }, async (t) => {
  // The harness starts Jupyter with this process's environment: the kernel comes from dataDir.
  process.env.JUPYTER_DATA_DIR = dataDir;
  const r = spawnSync(process.execPath, [path.join(projectRoot, "scripts", "install-kernel.js")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const spec = JSON.parse(fs.readFileSync(path.join(dataDir, "kernels", "cbkit", "kernel.json"), "utf8")) as { argv: string[] };
  assert.equal(spec.argv[0], process.execPath, "the kernelspec names the Node that registered it");

  // Notebook 0 plus one cell that reports the kernel's own Node, run from a folder of its own so the
  // executed copy does not overwrite notebooks.test.ts's.
  const nb = JSON.parse(fs.readFileSync(path.join(notebooksDir, "0_setup_and_data.ipynb"), "utf8")) as { cells: object[] };
  nb.cells.push({
    cell_type: "code",
    id: "node-runtime-probe",
    metadata: { tags: ["node-runtime"] },
    execution_count: null,
    outputs: [],
    source: ["console.log(JSON.stringify({ node: process.version, execPath: process.execPath }));"],
  });
  const folder = path.join(projectRoot, "test-output", "node-runtime");
  fs.mkdirSync(folder, { recursive: true });
  const copy = path.join(folder, `0_setup_and_data.node${process.versions.node.split(".")[0]}.ipynb`);
  fs.writeFileSync(copy, JSON.stringify(nb, null, 1) + "\n");

  const executed = await executeNotebook(copy);
  t.diagnostic(`notebook 0 on Node ${process.version}: ${executed.seconds.toFixed(1)} s (kernel start ${executed.report.kernel_start_seconds ?? "?"} s)`);
  checkNotebook0(executed);
  const probe = JSON.parse(executed.outputsText("node-runtime").trim()) as { node: string; execPath: string };
  assert.deepEqual(probe, { node: process.version, execPath: process.execPath }, "the kernel runs on the Node that registered it");
});
