/**
 * Processes by more than their pid. A pid is reused after its process exits (quickly after a
 * reboot), so "the pid in a record is alive" does not mean "our process is alive".
 *
 * The kit never signals a process on what the operating system says about it (its command line or
 * start time): an endpoint process proves itself by answering its own per-start identity token
 * (platform/local/hosting.ts). What is here only tells dead owners of workflow steps from live
 * ones (experiment/owners.ts), which closes a step (and stops its SageMaker job), never signals a
 * process. There too only records prove: a step's owner records its own pid and start id, and is
 * gone only when that pid is dead or now has another start id.
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
 * The start of a process as the operating system keeps it, as an opaque string that stays the
 * same for the whole life of the process, or null when it is not known (no such process, or a
 * platform without /proc or `ps`, such as Windows). Linux: the boot id and the start ticks
 * (/proc/<pid>/stat field 22); elsewhere `ps -o lstart` (the start time the kernel stored). Never
 * a wall-clock time computed now: the boot time that would take drifts with clock adjustments.
 *
 * A pid's start id read now that differs from the one its owner recorded for itself proves the pid
 * belongs to another process by now; a null proves nothing either way.
 */
export function processStartId(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (fs.existsSync("/proc/self/stat")) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      // The command name (field 2) is in parentheses and may hold spaces: read after the last ')'.
      const startTicks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]; // field 22
      return /^\d+$/.test(startTicks ?? "") ? `${bootId()}/${startTicks}` : null;
    } catch {
      return null;
    }
  }
  if (process.platform === "win32") return null;
  try {
    // One format whatever the caller's locale and time zone: the owner and the checker may differ.
    const env = { ...process.env, LC_ALL: "C", TZ: "UTC" };
    const lstart = execFileSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8", env, stdio: ["ignore", "pipe", "ignore"] }).trim();
    return lstart || null;
  } catch {
    return null;
  }
}

/** This boot's id (ticks start again at 0 after a reboot); "" where the kernel does not say. */
function bootId(): string {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}
