/**
 * Executes notebooks with the real Jupyter client (nbclient, from the project's .venv) and
 * the project's kernel (cbkit, which runs tslab), and gives tests easy access to the outputs.
 * Executed notebooks are written to test-output/notebooks/ (kept for inspection).
 */
import { spawn, spawnSync, type SpawnOptions } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { findProjectRoot } from "@cbkit/common/config";
import { canImport, missingTool, PYTHON_ENV_COMMAND, venvPython } from "../python-tools";

export interface NbOutput {
  output_type: "stream" | "display_data" | "execute_result" | "error" | "update_display_data";
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface NbCell {
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: { tags?: string[] };
  outputs?: NbOutput[];
}

interface RunReport {
  ok: boolean;
  seconds: number;
  kernel_start_seconds?: number;
  cells: { index: number; seconds: number }[];
  failure: { index: number | null; source: string; error: string; outputs: NbOutput[] } | null;
}

const joinText = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join("") : (t ?? ""));

/** Text of one output: streams, text/plain, text/markdown, errors. */
export function outputText(o: NbOutput): string {
  if (o.output_type === "stream") return joinText(o.text);
  if (o.output_type === "error") return `${o.ename}: ${o.evalue}`;
  const d = o.data ?? {};
  return [joinText(d["text/plain"]), joinText(d["text/markdown"])].filter(Boolean).join("\n");
}

export class ExecutedNotebook {
  constructor(
    readonly name: string,
    readonly outputPath: string,
    readonly cells: NbCell[],
    readonly report: RunReport,
  ) {}

  get seconds(): number {
    return this.report.seconds;
  }

  /** Code cells carrying a tag (notebook cell metadata "tags"). */
  cellsTagged(tag: string): NbCell[] {
    return this.cells.filter((c) => c.cell_type === "code" && c.metadata.tags?.includes(tag));
  }

  /** Outputs of the code cells with this tag (fails when no cell has it). */
  cellOutputs(tag: string): NbOutput[] {
    const cells = this.cellsTagged(tag);
    if (cells.length === 0) throw new Error(`${this.name}: no code cell tagged "${tag}"`);
    return cells.flatMap((c) => c.outputs ?? []);
  }

  /** All text output (streams, text/plain, markdown, errors), or that of the tagged cells. */
  outputsText(tag?: string): string {
    const outs = tag ? this.cellOutputs(tag) : this.cells.flatMap((c) => c.outputs ?? []);
    return outs.map(outputText).join("\n");
  }

  /** The text/html outputs, or those of the tagged cells. */
  htmlOutputs(tag?: string): string[] {
    const outs = tag ? this.cellOutputs(tag) : this.cells.flatMap((c) => c.outputs ?? []);
    return outs.flatMap((o) => (o.data?.["text/html"] !== undefined ? [joinText(o.data["text/html"])] : []));
  }
}

/**
 * The Python that runs notebooks headless (has nbclient): $JUPYTER_PYTHON, else the project's
 * .venv (`npm run python-env`), else a python3 on PATH or Debian's (the apt route).
 */
export function findJupyterPython(): string | undefined {
  for (const py of [process.env.JUPYTER_PYTHON, venvPython(), "python3", "/usr/bin/python3"]) {
    if (py && canImport(py, ["nbclient", "nbformat"])) return py;
  }
  return undefined;
}

/** Why notebooks cannot be executed here, naming `test` (throws under CI), or false. */
export function jupyterMissing(test: string): string | false {
  return findJupyterPython() ? false : missingTool(test, "Python with nbclient (Jupyter's client)", `run \`${PYTHON_ENV_COMMAND}\``);
}

/** The kernel the notebooks name in their metadata (registered by scripts/install-kernel.js). */
export const KERNEL_NAME = "cbkit";

/**
 * Makes sure Jupyter knows the kit's kernel with this checkout's launcher (a kernelspec left by an
 * older install would not behave the same); (re)registers it otherwise. Returns what it did.
 */
export function ensureKitKernel(py: string): string {
  const probe = spawnSync(
    py,
    ["-c", `import json; from jupyter_client.kernelspec import KernelSpecManager as K; print(json.dumps(K().get_kernel_spec('${KERNEL_NAME}').argv))`],
    { encoding: "utf8" },
  );
  let argv: string[] = [];
  try {
    argv = probe.status === 0 ? (JSON.parse(probe.stdout.trim().split("\n").pop() ?? "[]") as string[]) : [];
  } catch {
    argv = [];
  }
  const launcher = fs.readFileSync(path.join(projectRoot, "scripts", "kernel-launcher.js"), "utf8");
  const current = argv.length >= 2 && fs.existsSync(argv[0]) && fs.existsSync(argv[1]) && fs.readFileSync(argv[1], "utf8") === launcher;
  if (current) return `${KERNEL_NAME} kernel: ${argv[1]}`;
  const r = spawnSync(process.execPath, [path.join(projectRoot, "scripts", "install-kernel.js")], { encoding: "utf8" });
  return `${KERNEL_NAME} kernel was ${argv.length ? "out of date" : "missing"}; ${r.stdout.trim()}`;
}

export const projectRoot = findProjectRoot();
export const notebooksDir = path.join(projectRoot, "notebooks");
export const outputDir = path.join(projectRoot, "test-output", "notebooks");

/** The notebooks to test: every notebooks/*.ipynb, by name. */
export function listNotebooks(): string[] {
  return fs
    .readdirSync(notebooksDir)
    .filter((f) => f.endsWith(".ipynb"))
    .sort();
}

function describeFailure(name: string, f: NonNullable<RunReport["failure"]>, outPath: string): string {
  const outs = f.outputs.map(outputText).filter(Boolean).join("\n");
  return [
    `notebook ${name}: cell ${f.index ?? "?"} (0-based, markdown cells counted) failed`,
    "---- cell source ----",
    f.source,
    "---- error ----",
    f.error.split("\n").slice(-30).join("\n"),
    ...(outs ? ["---- cell output ----", outs.slice(-4000)] : []),
    `(executed notebook kept at ${outPath})`,
  ].join("\n");
}

/** Runs a process to its end (without blocking the event loop) and returns its exit code and output. */
export function runProcess(command: string, args: string[], options: SpawnOptions): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (b) => (stdout += b));
    child.stderr!.on("data", (b) => (stderr += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let kernelChecked = false;
/** What the kernel check found (for test diagnostics). */
export let kernelNote = "";

/**
 * Runs a notebook top to bottom with the kit's kernel (cwd = notebooks/); rejects with the failing
 * cell's source, error and output.
 */
export async function executeNotebook(name: string, options: { timeoutSeconds?: number; kernel?: string } = {}): Promise<ExecutedNotebook> {
  const py = findJupyterPython();
  if (!py) throw new Error(`no Python with nbclient found: run \`${PYTHON_ENV_COMMAND}\``);
  if (!kernelChecked) {
    kernelNote = ensureKitKernel(py);
    kernelChecked = true;
  }
  fs.mkdirSync(outputDir, { recursive: true });
  const input = path.isAbsolute(name) ? name : path.join(notebooksDir, name);
  const output = path.join(outputDir, path.basename(name));
  const runner = path.join(projectRoot, "test", "notebooks", "run_notebook.py");
  const args = [runner, input, output, options.kernel ?? KERNEL_NAME, String(options.timeoutSeconds ?? 600)];
  const { code, stdout, stderr } = await runProcess(py, args, { cwd: path.dirname(input), env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" } });
  const last = stdout.trim().split("\n").pop() ?? "";
  let report: RunReport;
  try {
    report = JSON.parse(last) as RunReport;
  } catch {
    throw new Error(`notebook runner failed (exit ${code}) for ${name}:\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`);
  }
  if (!report.ok && report.failure) throw new Error(describeFailure(name, report.failure, output));
  const nb = JSON.parse(fs.readFileSync(output, "utf8")) as { cells: NbCell[] };
  return new ExecutedNotebook(name, output, nb.cells, report);
}

/**
 * Runs `fn` while holding the workshop lock: the notebooks' experiments (nb1-step-by-step, ...) live
 * in the project's one workspace, so two test files must not run the workshop notebooks at the same
 * time (node runs test files in parallel on machines with more cores). A lock left by a process
 * that is gone is taken over.
 */
export async function withWorkshopLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = path.join(projectRoot, "test-output", "workshop.lock");
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let pid = 0;
      try {
        pid = Number(fs.readFileSync(path.join(lock, "pid"), "utf8"));
      } catch {
        pid = 0; // being written, or the lock was just released
      }
      const alive = (p: number) => {
        try {
          process.kill(p, 0);
          return true;
        } catch {
          return false;
        }
      };
      const fresh = fs.existsSync(lock) && Date.now() - fs.statSync(lock).mtimeMs < 10_000;
      if ((pid && !alive(pid)) || (!pid && !fresh)) fs.rmSync(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
