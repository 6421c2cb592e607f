/**
 * Whole-process measurements for the benches: wall time, CPU time and peak RSS of a command, as
 * GNU time (/usr/bin/time, Debian package `time`) reports them.
 */
import { spawnSync } from "node:child_process";
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

/** Runs `cmd args` to completion; throws with its output when it fails. */
export function runMeasured(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ProcessRun {
  if (!fs.existsSync(TIME)) throw new Error(`${TIME} is missing: install GNU time (apt-get install time) to run this bench`);
  const out = path.join(os.tmpdir(), `cbkit-time-${process.pid}-${Date.now()}.txt`);
  const r = spawnSync(TIME, ["-o", out, "-f", "%e %U %S %M", cmd, ...args], { encoding: "utf8", maxBuffer: 1 << 26, cwd: options.cwd, env: options.env ?? process.env });
  const stats = fs.existsSync(out) ? fs.readFileSync(out, "utf8").trim().split("\n").pop() ?? "" : "";
  fs.rmSync(out, { force: true });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  const [e, u, s, m] = stats.split(" ").map(Number);
  return { seconds: e, cpuSeconds: u + s, peakMB: m / 1024, stdout: r.stdout, stderr: r.stderr };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
