/**
 * The "cbkit" Jupyter kernel: registration (scripts/install-kernel.js into a private
 * JUPYTER_DATA_DIR, never the machine's), the launcher's choice of tslab, and the busy/idle status
 * a front end sees while long cells run (watched on iopub with jupyter_client).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { findJupyterPython, jupyterMissing, projectRoot, runProcess } from "../notebooks/harness";

interface StatusEvent {
  t: number;
  channel: "iopub" | "shell";
  type: string;
  state: string | null;
  request: string;
}
interface StatusReport {
  events: StatusEvent[];
  summary: {
    finished: boolean;
    idle_while_running: StatusEvent[];
    requests_with_idle: string[];
    last_state: string | null;
    stdout: string;
  };
}

const py = findJupyterPython();
const skip = jupyterMissing("test/setup/kernel.test.ts");

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-jupyter-"));
const env = { ...process.env, JUPYTER_DATA_DIR: dataDir, PYDEVD_DISABLE_FILE_VALIDATION: "1" };
const tslabDir = path.join(projectRoot, "node_modules", "tslab");
const specDir = path.join(dataDir, "kernels", "cbkit");

function installKernel(): string {
  const r = spawnSync(process.execPath, [path.join(projectRoot, "scripts", "install-kernel.js")], { encoding: "utf8", env });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Runs test/setup/kernel_status.py against a kernelspec of the private data dir. */
async function watchStatus(kernel: string, cwd: string): Promise<StatusReport> {
  const script = path.join(projectRoot, "test", "setup", "kernel_status.py");
  const { code, stdout, stderr } = await runProcess(py!, [script, kernel, cwd], { env });
  assert.equal(code, 0, `kernel_status.py ${kernel} failed:\n${stderr.slice(-3000)}`);
  return JSON.parse(stdout.trim().split("\n").pop() ?? "") as StatusReport;
}

before(() => {
  if (skip) return;
  // Plain tslab, as `tslab install` registers it: the control that shows what the launcher fixes.
  fs.mkdirSync(path.join(dataDir, "kernels", "plain-tslab"), { recursive: true });
  const argv = [process.execPath, path.join(tslabDir, "bin", "tslab"), "kernel", "--config-path", "{connection_file}"];
  fs.writeFileSync(path.join(dataDir, "kernels", "plain-tslab", "kernel.json"), JSON.stringify({ argv, display_name: "plain tslab", language: "typescript" }));
});
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

test("install-kernel writes the cbkit kernelspec into $JUPYTER_DATA_DIR, with the launcher beside it", { skip }, () => {
  const out = installKernel();
  assert.match(out, /kernel "cbkit" .* written to .*JUPYTER_DATA_DIR/);
  const spec = JSON.parse(fs.readFileSync(path.join(specDir, "kernel.json"), "utf8")) as { argv: string[]; env: Record<string, string>; display_name: string };
  const launcher = path.join(specDir, "kernel-launcher.js");
  assert.deepEqual(spec.argv, [process.execPath, launcher, "{connection_file}"], "the kernel starts the launcher copied into its own folder, not a checkout's file");
  assert.equal(fs.readFileSync(launcher, "utf8"), fs.readFileSync(path.join(projectRoot, "scripts", "kernel-launcher.js"), "utf8"));
  assert.equal(spec.display_name, "TypeScript (cbkit)");
  assert.equal(spec.env.CBKIT_FALLBACK_TSLAB, tslabDir);
  // A second install (another checkout, or npm install again) writes the same spec.
  const before = fs.readFileSync(path.join(specDir, "kernel.json"), "utf8");
  installKernel();
  assert.equal(fs.readFileSync(path.join(specDir, "kernel.json"), "utf8"), before);
  assert.ok(!fs.existsSync(path.join(dataDir, "kernels", "tslab")), "no kernel named tslab is written (a user's own tslab kernel stays theirs)");
});

test("plain tslab publishes idle while queued cells still run (why the launcher exists)", { skip }, async () => {
  const report = await watchStatus("plain-tslab", path.join(projectRoot, "notebooks"));
  assert.ok(report.summary.finished, JSON.stringify(report.events));
  // If this fails, tslab has fixed its status messages upstream and holdIdleWhileBusy can go.
  assert.ok(report.summary.idle_while_running.length > 0, "plain tslab reports idle during the long cells");
});

test("the cbkit kernel stays busy while any request runs, and still gives every request its idle", { skip }, async () => {
  if (!fs.existsSync(path.join(specDir, "kernel.json"))) installKernel();
  const report = await watchStatus("cbkit", path.join(projectRoot, "notebooks"));
  const s = report.summary;
  assert.ok(s.finished, `every request answered and idled: ${JSON.stringify(report.events)}`);
  assert.deepEqual(s.idle_while_running, [], "no idle status while cells A and B run, despite kernel_info and complete in between");
  assert.deepEqual(s.requests_with_idle, ["A", "B", "complete", "kernel_info"], "each request got its own idle (clients wait for it)");
  assert.equal(s.last_state, "idle");
  assert.match(s.stdout, new RegExp(`B done ${tslabDir.replace(/[/.]/g, "\\$&")}\\n`), "the notebook folder's own tslab ran the cells");
});

test("the launcher runs the tslab of the checkout the notebook is in", { skip }, async () => {
  if (!fs.existsSync(path.join(specDir, "kernel.json"))) installKernel();
  // Another checkout: its own node_modules/tslab (a link to this one's files) above the notebook folder.
  const other = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-other-checkout-"));
  try {
    fs.mkdirSync(path.join(other, "node_modules"));
    fs.symlinkSync(tslabDir, path.join(other, "node_modules", "tslab"), "dir");
    fs.mkdirSync(path.join(other, "notebooks"));
    const report = await watchStatus("cbkit", path.join(other, "notebooks"));
    assert.match(report.summary.stdout, new RegExp(`B done ${path.join(other, "node_modules", "tslab").replace(/[/.]/g, "\\$&")}\\n`));
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});

test("without any tslab above the notebook and no registering kit left, the launcher says what to do", () => {
  const nowhere = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-no-checkout-"));
  try {
    const r = spawnSync(process.execPath, [path.join(projectRoot, "scripts", "kernel-launcher.js"), path.join(nowhere, "conn.json")], {
      cwd: nowhere,
      encoding: "utf8",
      env: { ...process.env, CBKIT_FALLBACK_TSLAB: path.join(nowhere, "gone", "node_modules", "tslab") },
      timeout: 30_000,
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no node_modules\/tslab in .* or any folder above it/);
    assert.match(r.stderr, /run `npm install`/);
  } finally {
    fs.rmSync(nowhere, { recursive: true, force: true });
  }
});
