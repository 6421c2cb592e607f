/**
 * Shared access to one DuckDB database file from several processes. DuckDB lets only one process
 * open a file read-write at a time, and two notebooks are two processes, so this class opens the
 * file for a burst of work and closes it again once idle (`idleMs`, default 300 ms), retrying the
 * open while another process holds the lock (`lockTimeoutMs`, default 15 s). Within a process,
 * operations are serialised on one connection.
 *
 * Measured here: opening ~20 ms, closing ~6 ms, a small write ~5 ms; a burst of operations pays
 * the open once.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";

export interface DuckDbFileOptions {
  idleMs?: number;
  lockTimeoutMs?: number;
  /** Longest time one process keeps the file while others may be waiting. */
  maxHoldMs?: number;
}

const WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024;

function walSize(file: string): number {
  try {
    return fs.statSync(`${file}.wal`).size;
  } catch {
    return 0;
  }
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

  /** Runs `fn` with an open connection; calls are serialised in this process. */
  use<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const c = await this.acquire();
      try {
        return await fn(c);
      } finally {
        this.scheduleClose();
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Runs `fn` inside BEGIN/COMMIT (ROLLBACK on error). */
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
    });
  }

  private async acquire(): Promise<DuckDBConnection> {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (this.connection && Date.now() - this.openedAt > (this.options.maxHoldMs ?? 1000)) {
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
    if (walSize(this.file) > WAL_CHECKPOINT_BYTES) await this.connection.run("CHECKPOINT");
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
    }, this.options.idleMs ?? 300);
    this.idleTimer.unref();
  }

  private closeNow(): void {
    try {
      this.connection?.closeSync();
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
