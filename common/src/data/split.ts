/**
 * The deterministic train/eval split of joined data (fixes the original's random split, D-2).
 * The endpoint stores `sample_prob = hashUnit(event_id, SPLIT_SEED)` with every decision, so the
 * SQL joins (DuckDB locally, Athena on AWS) split on `sample_prob <= ratio` exactly like the
 * original, but the same event always lands in the same split.
 *
 * The ratio (config `workflow.join_ratio`) lies strictly between 0 and 1: a ratio of 0 sends
 * (almost) every record to evaluation and 1 every record to training, so one split would be
 * empty. The config schema, the manager, the SQL join and `splitOf` all check it here.
 */
import { hashUnit } from "../util/random";

/** Seed of the split hash; changing it reshuffles every split, so it is fixed. */
export const SPLIT_SEED = 0x53504c54; // "SPLT"

export const JOIN_RATIO_KEY = "workflow.join_ratio";

/** The bounds of a split ratio, as the config schema declares them: 0 < ratio < 1. */
export const SPLIT_RATIO_BOUNDS = { exclusiveMin: 0, exclusiveMax: 1 } as const;

/** Why a split ratio is not allowed ("must be ..."), or null. */
export function splitRatioProblem(ratio: unknown): string | null {
  if (typeof ratio === "number" && ratio > SPLIT_RATIO_BOUNDS.exclusiveMin && ratio < SPLIT_RATIO_BOUNDS.exclusiveMax) return null;
  return (
    `must be a number strictly between 0 and 1 (config.yaml ${JOIN_RATIO_KEY}), got ${typeof ratio === "number" ? ratio : JSON.stringify(ratio)}: ` +
    "0 sends every record to evaluation and 1 every record to training, leaving the other split empty"
  );
}

/** Returns the ratio when allowed; otherwise throws a RangeError naming `field`. */
export function checkSplitRatio(ratio: unknown, field = "ratio"): number {
  const problem = splitRatioProblem(ratio);
  if (problem !== null) throw new RangeError(`${field} ${problem}`);
  return ratio as number;
}

/** The split value of an event id, in [0, 1): the endpoint writes it as `sample_prob`. */
export function splitValueOf(eventId: string): number {
  return hashUnit(eventId, SPLIT_SEED);
}

/** The split of a record by its split value (`sample_prob`): "train" when `value <= ratio`, else "eval". */
export function splitOfValue(value: number, ratio: number): "train" | "eval" {
  return value <= ratio ? "train" : "eval";
}

/** "train" when `splitValueOf(eventId) <= ratio`, else "eval". */
export function splitOf(eventId: string, ratio: number): "train" | "eval" {
  checkSplitRatio(ratio);
  return splitOfValue(splitValueOf(eventId), ratio);
}
