/**
 * Processes by more than their pid. A pid is reused after its process exits (quickly after a
 * reboot), so "the pid in a record is alive" does not mean "our process is alive".
 *
 * The kit never signals a process on what the operating system says about it (its command line or
 * start time): an endpoint process proves itself by answering its own per-start identity token
 * (platform/local/hosting.ts). What is here only tells dead owners of workflow steps from live
 * ones (experiment/owners.ts), which closes a step, never signals anything.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

/** Whether a process with this pid exists (signal 0 only checks; EPERM means it exists but is not ours). Works on every platform. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The wall-clock time a process started (ms since the epoch), or null when it is not known (no
 * such process, or a platform without /proc or `ps`, such as Windows). Linux: boot time plus the
 * start ticks (accurate to about a second: the kernel's boot time drifts with clock adjustments).
 * Only a hint that a pid was reused: a null means "no proof either way".
 */
export function processStartTimeMs(pid: number): number | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (fs.existsSync("/proc/self/stat")) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      // The command name (field 2) is in parentheses and may hold spaces: read after the last ')'.
      const startTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]); // field 22
      const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"))?.[1]);
      // USER_HZ is 100 on every Linux architecture Node supports.
      return Number.isFinite(startTicks) && Number.isFinite(btime) ? btime * 1000 + startTicks * 10 : null;
    } catch {
      return null;
    }
  }
  if (process.platform === "win32") return null;
  try {
    const lstart = execFileSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const ms = lstart ? Date.parse(lstart) : NaN;
    return Number.isFinite(ms) ? ms : null;
  } catch {
    return null;
  }
}
