/**
 * The endpoint's decision log: JSON lines, one file per process and hour folder
 * (`YYYY/MM/DD/HH/decisions-<start ms>-<pid>.jsonl`), written synchronously before a decision is
 * answered.
 *
 * All or nothing: `append` writes every byte of a batch or throws after cutting the file back to
 * its last whole line, so a full disk (a short write, then ENOSPC) leaves no half line and the
 * caller answers nothing. Writes go to an explicit offset (no O_APPEND), so even if cutting back
 * failed, the next batch overwrites the torn bytes instead of gluing a line to them.
 *
 * A process killed in the middle of a write (or a machine that lost power) can still leave a torn
 * last line; `repairTornLogs` moves such a tail aside when the next endpoint starts, and the join
 * skips any line it can not read, with a warning.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_FREE_HINT, asDiskFull } from "../util/disk";
import { pidAlive } from "../util/process";

/** The hint of a full disk under the decision log. */
const FREE_HINT = `${DEFAULT_FREE_HINT}; the endpoint answers again as soon as its log can be written`;

/** The decision log could not take a batch: nothing of it was logged, so nothing may be answered. */
export class DecisionLogError extends Error {
  constructor(readonly file: string, cause: unknown) {
    super(
      cause instanceof Error && cause.name === "DiskFullError"
        ? cause.message
        : `the decision log ${file} could not be written (${(cause as Error)?.message ?? String(cause)}); nothing of this request was logged or answered`,
      { cause },
    );
    this.name = "DecisionLogError";
  }
}

export class DecisionLog {
  private fd: number | null = null;
  private file = "";
  /** Bytes of whole lines in the current file: where the next batch goes. */
  private size = 0;
  private hour = -1;
  private readonly tag = `${Date.now()}-${process.pid}`;

  constructor(private readonly dir: string) {}

  /** Appends `text` (whole lines, ending in "\n") completely, or throws DecisionLogError having written nothing. */
  append(text: string, nowMs: number): void {
    const buf = Buffer.from(text, "utf8");
    const hour = Math.floor(nowMs / 3600000);
    try {
      if (hour !== this.hour || this.fd === null) this.rotate(hour);
    } catch (err) {
      throw new DecisionLogError(this.file || this.dir, asDiskFull(err, this.file || this.dir, "the decision log", FREE_HINT));
    }
    const fd = this.fd as number;
    let written = 0;
    try {
      while (written < buf.length) {
        const n = fs.writeSync(fd, buf, written, buf.length - written, this.size + written);
        if (n <= 0) throw Object.assign(new Error("the write made no progress"), { code: "EIO" });
        written += n;
      }
    } catch (err) {
      this.cutBack();
      throw new DecisionLogError(this.file, asDiskFull(err, this.file, "the decision log", FREE_HINT));
    }
    this.size += buf.length;
  }

  /** Cuts the file back to its last whole line (a failed batch may have left part of itself). */
  private cutBack(): void {
    try {
      if (this.fd !== null) fs.ftruncateSync(this.fd, this.size);
    } catch {
      // The next append writes at `size` anyway and overwrites what is left.
    }
  }

  private rotate(hour: number): void {
    this.close();
    const d = new Date(hour * 3600000);
    const p2 = (n: number) => String(n).padStart(2, "0");
    const folder = path.join(this.dir, String(d.getUTCFullYear()), p2(d.getUTCMonth() + 1), p2(d.getUTCDate()), p2(d.getUTCHours()));
    this.file = path.join(folder, `decisions-${this.tag}.jsonl`);
    fs.mkdirSync(folder, { recursive: true });
    this.fd = fs.openSync(this.file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
    this.size = fs.fstatSync(this.fd).size;
    this.hour = hour;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** The pid in a decision-log file name (`decisions-<ms>-<pid>.jsonl`), or null. */
function writerPid(file: string): number | null {
  const m = /^decisions-\d+-(\d+)\.jsonl$/.exec(path.basename(file));
  return m ? Number(m[1]) : null;
}

/** The offset after the last "\n" of an open file of `size` bytes (0 when there is none). */
function endOfLastLine(fd: number, size: number): number {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - start, start);
    const i = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (i >= 0) return start + i + 1;
    end = start;
  }
  return 0;
}

/**
 * Moves the torn last line of every decision-log file under `dir` whose writer is gone into
 * `<file>.torn` (kept for inspection; the join reads only `.jsonl`), leaving the whole lines.
 * Files of a live endpoint process are left alone (the join skips a line it can not read).
 * Returns one warning per repaired file.
 */
export function repairTornLogs(dir: string): string[] {
  const warnings: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith(".jsonl")) {
        const warning = repairTornLog(p);
        if (warning) warnings.push(warning);
      }
    }
  };
  walk(dir);
  return warnings;
}

function repairTornLog(file: string): string | null {
  const pid = writerPid(file);
  if (pid !== null && pid !== process.pid && pidAlive(pid)) return null;
  let fd: number;
  try {
    fd = fs.openSync(file, "r+");
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return null;
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 0x0a) return null;
    const keep = endOfLastLine(fd, size);
    const torn = Buffer.alloc(size - keep);
    fs.readSync(fd, torn, 0, torn.length, keep);
    fs.appendFileSync(`${file}.torn`, torn);
    fs.ftruncateSync(fd, keep);
    return (
      `decision log ${file} ended in a torn line (${torn.length} bytes, left by a crash or a full disk; that decision was never answered): ` +
      `moved to ${path.basename(file)}.torn, the ${keep > 0 ? "whole lines before it are kept" : "file holds no whole line"}`
    );
  } catch (err) {
    return `decision log ${file} ends in a torn line that could not be moved aside (${(err as Error).message}); the join skips it`;
  } finally {
    fs.closeSync(fd);
  }
}
