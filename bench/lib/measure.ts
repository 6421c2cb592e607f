/**
 * Whole-process measurements for the benches: wall time, CPU time and peak RSS of a command, as
 * GNU time (/usr/bin/time, Debian package `time`) reports them.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface ProcessRun {
  /** Wall-clock seconds. */
  seconds: number;
  /** User + system CPU seconds. */
  cpuSeconds: number;
  /** Peak resident set, MB. */
  peakMB: number;
  stdout: string;
  stderr: string;
}

const TIME = "/usr/bin/time";

type RunOptions = { cwd?: string; env?: NodeJS.ProcessEnv };

/** GNU time's arguments for `cmd args`, and how to read its report afterwards (removing the file). */
function timed(cmd: string, args: string[]): { timeArgs: string[]; report(stdout: string, stderr: string): ProcessRun } {
  if (!fs.existsSync(TIME)) throw new Error(`${TIME} is missing: install GNU time (apt-get install time) to run this bench`);
  const out = path.join(os.tmpdir(), `cbkit-time-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  return {
    timeArgs: ["-o", out, "-f", "%e %U %S %M", cmd, ...args],
    report(stdout, stderr) {
      const stats = fs.existsSync(out) ? fs.readFileSync(out, "utf8").trim().split("\n").pop() ?? "" : "";
      fs.rmSync(out, { force: true });
      const [e, u, s, m] = stats.split(" ").map(Number);
      return { seconds: e, cpuSeconds: u + s, peakMB: m / 1024, stdout, stderr };
    },
  };
}

/** Runs `cmd args` to completion; throws with its output when it fails. */
export function runMeasured(cmd: string, args: string[], options: RunOptions = {}): ProcessRun {
  const t = timed(cmd, args);
  const r = spawnSync(TIME, t.timeArgs, { encoding: "utf8", maxBuffer: 1 << 26, cwd: options.cwd, env: options.env ?? process.env });
  const run = t.report(r.stdout, r.stderr);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return run;
}

/** runMeasured without blocking the event loop (for a bench that keeps other work going meanwhile). */
export function measureProcess(cmd: string, args: string[], options: RunOptions = {}): Promise<ProcessRun> {
  const t = timed(cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(TIME, t.timeArgs, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const run = t.report(stdout, stderr);
      if (code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}: ${stderr.trim().slice(-2000)}`));
      else resolve(run);
    });
  });
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
