/**
 * A full disk, said once: which path could not be written, how much space its file system has
 * left, and what to free. Every writer of the kit (the endpoint's decision log, the local object
 * store, the record database, the join, the jobs) turns an out-of-space failure into this error
 * instead of a raw ENOSPC, a half-written file or a crash.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Error codes that mean "no room to write": disk full, quota exceeded, file size limit (RLIMIT_FSIZE). */
const OUT_OF_SPACE_CODES = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);
/** The same, as the words of libraries that do not keep the code (DuckDB). */
const OUT_OF_SPACE_WORDS = /No space left on device|ENOSPC|Disk quota exceeded|File too large|EFBIG/i;

/** Whether an error is an out-of-space failure (by its code, its cause's code, or its words). */
export function isOutOfSpace(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DiskFullError) return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && OUT_OF_SPACE_CODES.has(code)) return true;
    if (OUT_OF_SPACE_WORDS.test(String((e as Error).message ?? e))) return true;
  }
  return false;
}

/** Free bytes (for an unprivileged writer) on the file system holding `p`, or null when unknown. */
export function freeBytes(p: string): number | null {
  let dir = path.resolve(p);
  for (;;) {
    try {
      const st = fs.statfsSync(dir);
      return Number(st.bavail) * Number(st.bsize);
    } catch {
      const up = path.dirname(dir);
      if (up === dir) return null;
      dir = up; // not created yet: ask its folder
    }
  }
}

/** Bytes as people read them (1.2 MB). */
export function formatBytes(n: number | null): string {
  if (n === null) return "an unknown amount";
  if (n < 1024) return `${n} bytes`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export const DEFAULT_FREE_HINT =
  "free space on that disk (delete old experiments' data with manager.cleanResource({ deleteData: true }), the folders of " +
  "failed jobs under <workspace>/jobs and downloads under <workspace>/downloads), or set workspace in config.yaml to a folder on a larger disk";

/** Writing `path` failed or would fail for lack of space. */
export class DiskFullError extends Error {
  readonly code = "ENOSPC";
  constructor(
    /** The file or folder that could not be written. */
    readonly path: string,
    /** Free bytes on its file system when this was raised (null: unknown). */
    readonly freeBytes: number | null,
    /** What was being written, e.g. "the decision log". */
    readonly what: string,
    options: { needed?: number; hint?: string; cause?: unknown } = {},
  ) {
    super(
      `${what}: no space left to write ${path} (${formatBytes(freeBytes)} free on its disk` +
        `${options.needed ? `, at least ${formatBytes(options.needed)} needed` : ""}). ` +
        `Nothing was half-written. What to do: ${options.hint ?? DEFAULT_FREE_HINT}; then run the step again`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "DiskFullError";
  }
}

/** `err` as a DiskFullError naming `p` when it is an out-of-space failure; otherwise `err` unchanged. */
export function asDiskFull(err: unknown, p: string, what: string, hint?: string): unknown {
  if (err instanceof DiskFullError || !isOutOfSpace(err)) return err;
  return new DiskFullError(p, freeBytes(p), what, { hint, cause: err });
}

/** Throws a DiskFullError unless the file system of `p` has at least `needed` bytes free. */
export function checkFreeSpace(p: string, needed: number, what: string, hint?: string): void {
  const free = freeBytes(p);
  if (free !== null && free < needed) throw new DiskFullError(p, free, what, { needed, hint });
}
