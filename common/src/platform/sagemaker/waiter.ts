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

export interface PollOptions {
  /** What is being waited for, for the timeout message. */
  what: string;
  timeoutMs: number;
  /** First delay between checks; grows by 1.5x per check up to `maxIntervalMs`. */
  intervalMs: number;
  maxIntervalMs?: number;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type PollResult<T> = { done: true; value: T } | { done: false; status: string };

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `check` until it reports done, at most until `timeoutMs` has passed (one last check is
 * made at the deadline, so a success seen then is a success: the original's D-41). Errors thrown
 * by `check` propagate immediately.
 */
export async function pollUntil<T>(check: () => Promise<PollResult<T>>, options: PollOptions): Promise<T> {
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  const maxInterval = options.maxIntervalMs ?? Math.max(options.intervalMs, 30_000);
  let interval = options.intervalMs;
  for (;;) {
    const result = await check();
    if (result.done) return result.value;
    const remaining = deadline - now();
    if (remaining <= 0) throw new WaitTimeoutError(options.what, options.timeoutMs, result.status);
    await sleep(Math.min(interval, remaining));
    interval = Math.min(maxInterval, Math.ceil(interval * 1.5));
  }
}
