/**
 * The evaluating thread's side of an evaluation worker (ope/worker.ts): a worker thread that adds
 * rows to sums — the cross-fitting's fold statistics in pass 1, the bootstrap's in pass 2 — while
 * this thread reads and scores the next rows. Rows go in batches, at most a few batches ahead
 * (`drain` waits), so memory stays bounded; `finish` returns the sums. The worker runs the same
 * code in the same order, so the sums are the same, bit for bit, as without it.
 */
import * as path from "node:path";
import type { Worker } from "node:worker_threads";

/** What the evaluating thread sends a worker. */
export type WorkerMessage =
  | { type: "bootstrap"; from: number; to: number; quantities: number; seedWord: number }
  | { type: "rows"; n: number; keys: Uint32Array; u: Float64Array }
  | { type: "folds"; p: number; maxNonZero: number; numArms: number; folds: number; seedWords: number[] }
  | { type: "fold-rows"; n: number; m: number; idx: Int32Array; val: Float64Array; rows: Float64Array }
  | { type: "finish" };

/** Batches sent and not yet added by the worker, at most. */
const AHEAD = 4;

export class WorkerChannel<T> {
  private inFlight = 0;
  private failure: Error | null = null;
  private result: { value: T } | null = null;
  private wake: (() => void) | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on("message", (m: { type: string; value?: T }) => {
      if (m.type === "done") this.inFlight--;
      else if (m.type === "result") this.result = { value: m.value as T };
      this.wake?.();
    });
    worker.on("error", (e) => {
      this.failure = e;
      this.wake?.();
    });
    worker.on("exit", (code) => {
      if (this.result === null && this.failure === null) this.failure = new Error(`the evaluation worker stopped (exit code ${code})`);
      this.wake?.();
    });
  }

  /** Starts a worker with its first message (what it sums). */
  static open<T>(start: WorkerMessage): WorkerChannel<T> {
    // Loaded here: most processes never start a worker.
    const { Worker: WorkerThread } = require("node:worker_threads") as typeof import("node:worker_threads");
    const w = new WorkerThread(path.join(__dirname, "worker.js"));
    w.unref();
    w.postMessage(start);
    return new WorkerChannel<T>(w);
  }

  send(msg: WorkerMessage, transfer: ArrayBuffer[]): void {
    this.worker.postMessage(msg, transfer);
    this.inFlight++;
  }

  private async until(done: () => boolean): Promise<void> {
    while (!done()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  /** Waits while the worker is more than a few batches behind. */
  async drain(): Promise<void> {
    await this.until(() => this.inFlight <= AHEAD || this.failure !== null);
    if (this.failure) throw this.failure;
  }

  /** Sends "finish", waits for the sums, stops the worker. */
  async finish(): Promise<T> {
    this.worker.postMessage({ type: "finish" } satisfies WorkerMessage);
    try {
      await this.until(() => this.result !== null || this.failure !== null);
    } finally {
      this.worker.removeAllListeners("exit");
      await this.worker.terminate();
    }
    if (this.result === null) throw this.failure as Error;
    return this.result.value;
  }
}
