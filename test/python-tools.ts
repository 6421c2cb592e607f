/**
 * The Python tools the tests use, from the project's virtual environment (`.venv`, made by
 * `npm run python-env` from requirements-dev.txt; scripts/python-env.js owns where it is), and the
 * one way a test says a tool is missing: skip with a message naming the test, the tool and the
 * command that installs it — except under CI=true, where a missing tool fails the run.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { findProjectRoot } from "@cbkit/common/config";
import { findPythonTool } from "../bench/lib/python";

interface PythonEnvScript {
  VENV: string;
  SETUP_COMMAND: string;
  venvBin(name: string): string;
  venvPython(): string | undefined;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pythonEnv = require(path.join(findProjectRoot(), "scripts", "python-env.js")) as PythonEnvScript;

/** The command that creates .venv with everything the tests need. */
export const PYTHON_ENV_COMMAND = pythonEnv.SETUP_COMMAND;

/** A program of the venv (jupyter, pip, ...), whether or not it exists. */
export const venvBin = (name: string): string => pythonEnv.venvBin(name);

/** The venv's Python, or undefined when `npm run python-env` has not run. */
export const venvPython = (): string | undefined => pythonEnv.venvPython();

/** True when `python` imports every module (e.g. ["nbclient", "jupyterlab"]). */
export function canImport(python: string, modules: readonly string[]): boolean {
  return spawnSync(python, ["-c", modules.map((m) => `import ${m}`).join("; ")], { encoding: "utf8" }).status === 0;
}

/**
 * The skip reason when a tool is missing: "<test> needs <tool>: <how to install>". Under CI=true it
 * throws instead, so CI never passes by skipping.
 */
export function missingTool(test: string, tool: string, install: string): string {
  return skipOrFail(`${test} needs ${tool}: ${install}`);
}

/** The skip reason `message`, or under CI a thrown error: CI never passes by skipping. */
function skipOrFail(message: string): string {
  if (process.env.CI) throw new Error(`${message} (CI must run it)`);
  return message;
}

/**
 * For node:test: the venv's Python when it imports `module` (e.g. "vowpalwabbit", "sqlglot",
 * "moto"), or a skip reason for `it(name, { skip })` naming `who`, the package and the command
 * that installs it.
 */
export function pythonToolOrSkip(who: string, module: string, pipName = module): { python: string | null; skip: string | false } {
  const tool = findPythonTool(who, module, pipName);
  return tool.ok ? { python: tool.python, skip: false } : { python: null, skip: skipOrFail(tool.reason) };
}
