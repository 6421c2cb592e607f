/**
 * The kit's numeric contract: every number it takes in as data or as a setting (rewards and their
 * range, observations, probabilities, config values) is finite and at most MAX_MAGNITUDE in size.
 *
 * Why 1e9: the learner and the estimators multiply what they read (normalised updates divide by
 * x², quadratic features multiply two features, variances add squared costs over many rows). With
 * |x| <= 1e9 the largest such intermediate, (1e9 · 1e9)² = 1e36 added up over a billion rows, stays
 * far below the largest double (about 1.8e308), so no input can overflow a model or an estimate
 * into Infinity or NaN; real rewards and features (the shuttle's lie in [0, 1]) are far inside it.
 */
import { showValue } from "../util/show";

/** The largest magnitude of any number the kit accepts. */
export const MAX_MAGNITUDE = 1e9;

/** The contract in words, for errors and docs. */
export const NUMBER_CONTRACT = "a finite number within ±1e9 (the kit's numeric contract)";

// One rendering of values in messages, owned by util/show.ts.
export { showValue };

/** Whether a number keeps the contract (NaN and ±Infinity do not): the check itself, for hot loops. */
export function keepsNumberContract(value: number): boolean {
  return Math.abs(value) <= MAX_MAGNITUDE;
}

/** What is wrong with a number under the contract ("must be ..."), or null when it keeps it. */
export function numberProblem(value: unknown): string | null {
  if (typeof value !== "number" || !keepsNumberContract(value)) {
    return `must be ${NUMBER_CONTRACT}, got ${showValue(value)}`;
  }
  return null;
}

/** Returns `value` when it keeps the contract; otherwise throws a RangeError naming `field`. */
export function checkNumber(value: unknown, field: string): number {
  const problem = numberProblem(value);
  if (problem !== null) throw new RangeError(`${field} ${problem}`);
  return value as number;
}
