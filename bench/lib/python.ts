/**
 * The project's Python tools (Vowpal Wabbit, sqlglot, moto) live in one virtual environment,
 * `<project root>/.venv`, made by `npm run python-env`. Benches and tests find them here; a tool
 * that is missing gives a message naming who needs it, the tool and the command that installs it.
 * Also: running a whole process and reading its wall time and peak RSS (for side-by-side benches).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findProjectRoot } from "@cbkit/common/config";

interface PythonEnvScript {
  SETUP_COMMAND: string;
  venvBin(name: string): string;
}
// scripts/python-env.js owns where the venv is and how it is made.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pythonEnv = require(path.join(findProjectRoot(), "scripts", "python-env.js")) as PythonEnvScript;

export const INSTALL_COMMAND = pythonEnv.SETUP_COMMAND;

/** The venv's Python (`.venv/bin/python`, or `.venv\\Scripts\\python.exe` on Windows), whether or not it exists. */
export function venvPython(): string {
  return pythonEnv.venvBin("python");
}

export type PythonTool = { ok: true; python: string } | { ok: false; reason: string };

/**
 * Checks that the project's Python can import `module` (e.g. "vowpalwabbit", "sqlglot", "moto").
 * `who` names the test or bench that needs it, for the message.
 */
export function findPythonTool(who: string, module: string, pipName = module): PythonTool {
  const python = venvPython();
  if (!fs.existsSync(python)) {
    return { ok: false, reason: `${who} needs ${pipName} in the project's Python environment, and ${python} does not exist: run \`${INSTALL_COMMAND}\`` };
  }
  const r = spawnSync(python, ["-c", `import ${module}`], { encoding: "utf8" });
  if (r.status !== 0) {
    return { ok: false, reason: `${who} needs ${pipName}, which ${python} cannot import (${(r.stderr || "").trim().split("\n").pop()}): run \`${INSTALL_COMMAND}\`` };
  }
  return { ok: true, python };
}

export interface ProcessRun {
  /** Wall-clock seconds of the whole process. */
  seconds: number;
  /** Peak resident set size of the whole process, bytes (GNU time's maximum RSS). */
  peakRss: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion under GNU time (`/usr/bin/time`) and returns its wall time and
 * peak RSS; a non-zero exit is an error carrying its stderr.
 */
export function measureProcess(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ProcessRun> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-time-")), "time.txt");
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/time", ["-o", out, "-f", "%e %M", command, ...args], { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      let text = "";
      try {
        text = fs.readFileSync(out, "utf8").trim().split("\n").pop() ?? "";
      } finally {
        fs.rmSync(path.dirname(out), { recursive: true, force: true });
      }
      if (code !== 0) return reject(new Error(`${command} ${args.join(" ")} exited with ${code}: ${stderr.trim().slice(-2000)}`));
      const [secs, kb] = text.split(" ").map(Number);
      resolve({ seconds: secs, peakRss: kb * 1024, stdout, stderr });
    });
  });
}
