/**
 * The deterministic train/eval split of joined data (fixes the original's random split, D-2).
 * The endpoint stores `sample_prob = hashUnit(event_id, SPLIT_SEED)` with every decision, so the
 * SQL joins (DuckDB locally, Athena on AWS) split on `sample_prob <= ratio` exactly like the
 * original, but the same event always lands in the same split.
 */
import { hashUnit } from "../util/random";

/** Seed of the split hash; changing it reshuffles every split, so it is fixed. */
export const SPLIT_SEED = 0x53504c54; // "SPLT"

/** The split value of an event id, in [0, 1): the endpoint writes it as `sample_prob`. */
export function splitValueOf(eventId: string): number {
  return hashUnit(eventId, SPLIT_SEED);
}

/** "train" when `splitValueOf(eventId) <= ratio`, else "eval". */
export function splitOf(eventId: string, ratio: number): "train" | "eval" {
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`ratio must be in [0, 1], got ${ratio}`);
  return splitValueOf(eventId) <= ratio ? "train" : "eval";
}
