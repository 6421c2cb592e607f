/**
 * Bounded polling. Every wait in SageMaker mode (jobs, endpoints, Athena queries, tables, the
 * decision log catching up) goes through `pollUntil`, so nothing can loop forever (D-7, D-11)
 * and nothing relies on a fixed sleep (D-4).
 */

export class WaitTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastStatus: string,
  ) {
    super(
      `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what} (last status: ${lastStatus}). ` +
        "It may still finish: check it in the AWS console, or raise the matching sagemaker.*_timeout_seconds in config.yaml.",
    );
    this.name = "WaitTimeoutError";
  }
}

/** A wait given up because the process was interrupted (SIGINT: Ctrl-C, Jupyter's "Interrupt"). */
export class WaitInterruptedError extends Error {
  constructor(readonly what: string) {
    super(`interrupted while waiting for ${what}`);
    this.name = "WaitInterruptedError";
  }
}

/**
 * Runs `wait` with a signal that fires when the process receives SIGINT. While it runs, SIGINT
 * does not end the process at once (Node's default), so the caller can stop what it waited for —
 * a job that would otherwise bill on — before its error goes up; afterwards SIGINT acts as before.
 * In a Jupyter kernel, tslab also turns the SIGINT into the cell's "Interrupted" error.
 */
export async function whileInterruptible<T>(wait: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const interrupted = new AbortController();
  const onInterrupt = () => interrupted.abort();
  process.on("SIGINT", onInterrupt);
  try {
    return await wait(interrupted.signal);
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

export interface PollOptions {
  /** What is being waited for, for the timeout message. */
  what: string;
  timeoutMs: number;
  /** First delay between checks; grows by 1.5x per check up to `maxIntervalMs`. */
  intervalMs: number;
  maxIntervalMs?: number;
  /** Injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  /** Gives the wait up with WaitInterruptedError when it fires (see whileInterruptible). */
  signal?: AbortSignal;
}

export type PollResult<T> = { done: true; value: T } | { done: false; status: string };

/** Sleeps `ms`, or less when `signal` fires (the timer does not outlive an interrupted wait). */
export const realSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal?.addEventListener("abort", wake, { once: true });
  });

/**
 * Calls `check` until it reports done, at most until `timeoutMs` has passed (one last check is
 * made at the deadline, so a success seen then is a success: the original's D-41). Errors thrown
 * by `check` propagate immediately; `signal` ends the wait with WaitInterruptedError, also
 * during a sleep.
 */
export async function pollUntil<T>(check: () => Promise<PollResult<T>>, options: PollOptions): Promise<T> {
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;
  const { signal, what } = options;
  const deadline = now() + options.timeoutMs;
  const maxInterval = options.maxIntervalMs ?? Math.max(options.intervalMs, 30_000);
  let interval = options.intervalMs;
  for (;;) {
    if (signal?.aborted) throw new WaitInterruptedError(what);
    const result = await check();
    if (result.done) return result.value;
    if (signal?.aborted) throw new WaitInterruptedError(what);
    const remaining = deadline - now();
    if (remaining <= 0) throw new WaitTimeoutError(what, options.timeoutMs, result.status);
    await sleep(Math.min(interval, remaining), signal);
    interval = Math.min(maxInterval, Math.ceil(interval * 1.5));
  }
}
