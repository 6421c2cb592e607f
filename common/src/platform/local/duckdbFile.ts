/**
 * Shared access to one DuckDB database file from several processes. DuckDB lets only one process
 * open a file read-write at a time, and two notebooks are two processes, so this class opens the
 * file for a burst of work and closes it again once idle (`idleMs`, default 1 s), holding it at
 * most `maxHoldMs` (default 3 s) while others may wait, and retries the open while another process
 * holds the lock (`lockTimeoutMs`, default 15 s). Within a process, operations are serialised on
 * one connection.
 *
 * Why 1 s and 3 s: an open replays the write-ahead log, 100–200 ms for the workshop's records
 * (measured 2026-12-03), so closing after 300 ms idle and every 1 s reopened the file about ten
 * times in `npm start` (a median 11.1 s run against 9.5 s with these values, same load, same
 * run). A second process still gets the file within about 3 s, far inside its lock timeout.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { DEFAULT_FREE_HINT, asDiskFull, checkFreeSpace, freeBytes } from "../../util/disk";

export interface DuckDbFileOptions {
  idleMs?: number;
  lockTimeoutMs?: number;
  /** Longest time one process keeps the file while others may be waiting. */
  maxHoldMs?: number;
}

const WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024;

/**
 * Free space a write needs besides the database and its WAL (which a checkpoint may rewrite).
 * DuckDB can not be trusted with a full disk: a commit whose WAL write fails can end in a
 * FatalException that aborts the whole process (seen: exit 134 in `trainNextModel`), so writes are
 * refused with a DiskFullError while less than this is free, long before DuckDB runs out.
 */
export const RECORD_WRITE_RESERVE_BYTES = 16 * 1024 * 1024;

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

const walSize = (file: string) => sizeOf(`${file}.wal`);

/** What to free when the record database can not be written. */
const FREE_HINT = `${DEFAULT_FREE_HINT}. The records on disk are intact`;

/** A DuckDB error after which the instance is unusable ("database has been invalidated"). */
function isInvalidated(err: unknown): boolean {
  return /invalidated|FATAL Error/i.test(String((err as Error)?.message ?? err));
}

function isLockError(err: unknown): boolean {
  return /Could not set lock|Conflicting lock/i.test(String((err as Error)?.message ?? err));
}

/**
 * One DuckDbFile per database path and process. DuckDB's file lock only keeps other processes
 * out; two instances on one file inside a process would not see each other's writes safely, so
 * every store in this process shares the same handle (see `DuckDbFile.shared`).
 */
const sharedFiles = new Map<string, DuckDbFile>();

export class DuckDbFile {
  /** The process-wide handle of a database file (created on first use). */
  static shared(file: string, init: (c: DuckDBConnection) => Promise<void>, options: DuckDbFileOptions = {}): DuckDbFile {
    const key = path.resolve(file);
    let f = sharedFiles.get(key);
    if (!f) {
      f = new DuckDbFile(key, init, options);
      sharedFiles.set(key, f);
    }
    return f;
  }

  private instance: DuckDBInstance | null = null;
  private connection: DuckDBConnection | null = null;
  private openedAt = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private initialised = false;
  /** Number of times the file was opened (for measurements and tests). */
  opens = 0;

  constructor(
    readonly file: string,
    private readonly init: (c: DuckDBConnection) => Promise<void>,
    private readonly options: DuckDbFileOptions = {},
  ) {}

  /** Bytes a write needs free: the reserve, plus the database and WAL a checkpoint may rewrite. */
  private writeNeeds(): number {
    return RECORD_WRITE_RESERVE_BYTES + sizeOf(this.file) + walSize(this.file);
  }

  /**
   * Runs `fn` with an open connection; calls are serialised in this process. `write: true` (any
   * statement that changes the file) first checks the free space (DiskFullError naming the file,
   * the space and what to free); an out-of-space failure of DuckDB itself becomes the same error.
   */
  use<T>(fn: (c: DuckDBConnection) => Promise<T>, options: { write?: boolean } = {}): Promise<T> {
    const run = async (): Promise<T> => {
      if (options.write) checkFreeSpace(this.file, this.writeNeeds(), "the record database", FREE_HINT);
      try {
        return await fn(await this.acquire());
      } catch (err) {
        if (isInvalidated(err)) this.closeNow(); // reopened (and its WAL replayed) on the next call
        throw asDiskFull(err, this.file, "the record database", FREE_HINT);
      } finally {
        this.scheduleClose();
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Runs `fn` inside BEGIN/COMMIT (ROLLBACK on error); a write (see `use`). */
  transaction<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.use(async (c) => {
      await c.run("BEGIN TRANSACTION");
      try {
        const out = await fn(c);
        await c.run("COMMIT");
        return out;
      } catch (err) {
        await c.run("ROLLBACK").catch(() => undefined);
        throw err;
      }
    }, { write: true });
  }

  private async acquire(): Promise<DuckDBConnection> {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (this.connection && Date.now() - this.openedAt > (this.options.maxHoldMs ?? 3000)) {
      // Held long enough: let a waiting process in before opening again.
      this.closeNow();
      await new Promise((r) => setTimeout(r, 30));
    }
    if (this.connection) return this.connection;
    const deadline = Date.now() + (this.options.lockTimeoutMs ?? 15000);
    let wait = 5;
    for (;;) {
      try {
        // One thread: record queries are tiny, and handing them to worker threads costs more than they do.
        // Loaded here, not at the top: a process that never opens a database never loads the native library.
        const { DuckDBInstance: Instance } = require("@duckdb/node-api") as typeof import("@duckdb/node-api");
        this.instance = await Instance.create(this.file, { checkpoint_threshold: "64MB", threads: "1" });
        break;
      } catch (err) {
        if (!isLockError(err) || Date.now() > deadline) {
          if (isLockError(err)) {
            throw new Error(
              `the record database ${this.file} stayed locked by another process for ` +
                `${this.options.lockTimeoutMs ?? 15000} ms: ${(err as Error).message}`,
            );
          }
          throw err;
        }
        await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
        wait = Math.min(wait * 2, 100);
      }
    }
    this.opens++;
    this.openedAt = Date.now();
    this.connection = await this.instance.connect();
    // Closing would checkpoint (rewrite the file) every time; keep the WAL instead and checkpoint
    // only when it has grown (see closeNow).
    await this.connection.run("PRAGMA disable_checkpoint_on_shutdown");
    if (!this.initialised) {
      await this.init(this.connection);
      this.initialised = true;
    }
    // A checkpoint rewrites blocks of the file: only with room to spare (else the WAL just grows).
    if (walSize(this.file) > WAL_CHECKPOINT_BYTES) {
      const free = freeBytes(this.file);
      if (free === null || free >= this.writeNeeds()) await this.connection.run("CHECKPOINT");
    }
    return this.connection;
  }

  private scheduleClose(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      // Close only when nothing is queued behind us.
      this.queue = this.queue.then(() => {
        if (!this.idleTimer) this.closeNow();
      });
    }, this.options.idleMs ?? 1000);
    this.idleTimer.unref();
  }

  private closeNow(): void {
    try {
      this.connection?.closeSync();
    } catch {
      // An invalidated database may refuse to close cleanly; the instance is dropped anyway.
    } finally {
      this.connection = null;
      try {
        this.instance?.closeSync();
      } finally {
        this.instance = null;
      }
    }
  }

  /** Closes the file now (waits for queued work). */
  async close(): Promise<void> {
    await this.queue;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    this.closeNow();
  }
}
