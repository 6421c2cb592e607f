/**
 * The project's Python tools (Vowpal Wabbit, sqlglot, moto) live in one virtual environment,
 * `<project root>/.venv`, made by `npm run python-env`. Benches and tests find them here; a tool
 * that is missing gives a message naming who needs it, the tool and the command that installs it.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
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
