/**
 * Processes by more than their pid. A pid is reused after its process exits (quickly after a
 * reboot), so "the pid in a state file is alive" does not mean "our process is alive". Before a
 * signal is sent, the process is identified by its start time and its command line as well.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

/** Whether a process with this pid exists (signal 0 only checks; EPERM means it exists but is not ours). */
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
 * An opaque, exact token of when a process started, or null when there is no such process.
 * Linux: the boot id and the start time in clock ticks since boot (`/proc/<pid>/stat` field 22),
 * so a pid reused after a reboot or a restart never matches. Elsewhere (macOS): `ps -o lstart`,
 * to the second.
 */
export function processStartToken(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (fs.existsSync("/proc/self/stat")) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      // The command name (field 2) is in parentheses and may hold spaces: read after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const startTicks = fields[19]; // field 22 of the whole line
      const bootId = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      return `linux:${bootId}:${startTicks}`;
    } catch {
      return null;
    }
  }
  return psStartToken(pid);
}

/** The start token from `ps -o lstart` (to the second): the form used where there is no /proc. */
export function psStartToken(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const lstart = psField(pid, "lstart");
  return lstart ? `ps:${lstart}` : null;
}

/** The command line of a process (argv), or null when there is no such process. */
export function processCommandLine(pid: number): string[] | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (fs.existsSync("/proc/self/cmdline")) {
    try {
      const raw = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return raw.split("\0").filter((s, i, all) => s !== "" || i < all.length - 1);
    } catch {
      return null;
    }
  }
  // `ps` joins argv with spaces, which cannot be split back reliably: one string.
  const command = psField(pid, "command");
  return command ? [command] : null;
}

/**
 * The wall-clock time a process started (ms since the epoch), or null. Linux: boot time plus the
 * start ticks (accurate to about a second: the kernel's boot time drifts with clock adjustments).
 */
export function processStartTimeMs(pid: number): number | null {
  if (fs.existsSync("/proc/self/stat")) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const startTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
      const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"))?.[1]);
      // USER_HZ is 100 on every Linux architecture Node supports.
      return Number.isFinite(startTicks) && Number.isFinite(btime) ? btime * 1000 + startTicks * 10 : null;
    } catch {
      return null;
    }
  }
  const lstart = psField(pid, "lstart");
  const ms = lstart ? Date.parse(lstart) : NaN;
  return Number.isFinite(ms) ? ms : null;
}

function psField(pid: number, field: "lstart" | "command"): string | null {
  try {
    const out = execFileSync("ps", ["-o", `${field}=`, "-p", String(pid)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return out || null;
  } catch {
    return null;
  }
}

/** The command line as one string (arguments joined by spaces), or null when there is no such process. */
export function processCommandText(pid: number): string | null {
  return processCommandLine(pid)?.join(" ") ?? null;
}

/**
 * Whether the process `pid` is still the one recorded: it exists, its start token equals the
 * recorded one, and its command line (as one string) contains every expected text.
 */
export function isSameProcess(pid: number, startToken: string, expectedText: readonly string[] = []): boolean {
  const now = processStartToken(pid);
  if (now === null || now !== startToken) return false;
  if (expectedText.length === 0) return true;
  const command = processCommandText(pid);
  return command !== null && expectedText.every((t) => command.includes(t));
}
