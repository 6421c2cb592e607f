/**
 * Vowpal Wabbit for side-by-side runs: the `vw` binary given in CBKIT_VW_BIN, else the Python
 * package `vowpalwabbit` (9.11, `python -m vowpalwabbit <vw arguments>`) of CBKIT_VW_PYTHON or
 * the project's .venv (`npm run python-env`). Note: VW parses in a thread of its own beside the
 * learner, so on this 2-core machine it may use more than one core.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { findProjectRoot } from "@cbkit/common/config";
import { ProcessRun, runMeasured } from "./measure";

export interface VwCommand {
  cmd: string;
  /** Arguments before VW's own. */
  prefix: string[];
  /** What it is, for the report. */
  label: string;
}

/** The VW to compare with, or null with the reason it is missing. */
export function findVw(): VwCommand | { missing: string } {
  const bin = process.env.CBKIT_VW_BIN;
  if (bin) return fs.existsSync(bin) ? { cmd: bin, prefix: [], label: bin } : { missing: `CBKIT_VW_BIN=${bin} does not exist` };
  const python = process.env.CBKIT_VW_PYTHON ?? path.join(findProjectRoot(), ".venv", "bin", "python");
  if (!fs.existsSync(python)) return { missing: `no Python with vowpalwabbit at ${python} (run npm run python-env, or set CBKIT_VW_PYTHON / CBKIT_VW_BIN)` };
  const probe = runMeasuredOrNull(python, ["-c", "import vowpalwabbit, sys; sys.stdout.write(vowpalwabbit.__version__)"]);
  if (probe === null) return { missing: `${python} cannot import vowpalwabbit (pip install 'vowpalwabbit>=9.11,<9.12')` };
  return { cmd: python, prefix: ["-m", "vowpalwabbit"], label: `vowpalwabbit ${probe.stdout.trim()} (Python package)` };
}

function runMeasuredOrNull(cmd: string, args: string[]): ProcessRun | null {
  try {
    return runMeasured(cmd, args);
  } catch {
    return null;
  }
}

/** Runs VW with these arguments (add --quiet yourself), measured as a whole process. */
export function runVw(vw: VwCommand, args: string[]): ProcessRun {
  return runMeasured(vw.cmd, [...vw.prefix, ...args]);
}

/** A process that only starts VW (imports it), for the RSS baseline. */
export function runVwBaseline(vw: VwCommand): ProcessRun {
  return vw.prefix.length > 0 ? runMeasured(vw.cmd, ["-c", "import vowpalwabbit"]) : runMeasured(vw.cmd, ["--version"]);
}
