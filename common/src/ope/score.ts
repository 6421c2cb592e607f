/**
 * The score: one estimator's estimate of a policy's average cost (1 − reward, smaller is better)
 * with its intervals and diagnostics. It is the kit's one score shape: the accumulators produce
 * it, the evaluation job writes it (`score.json` is its JSON), the experiment manager records it
 * per evaluation data set (a model record's `eval_scores`) and returns it, and the loop, the deploy
 * gate and the display helpers read it.
 *
 * JSON has no NaN: an estimate's NaN numbers (a standard error from one row, a bootstrap interval
 * without enough usable replicates) are written as null, and `scoreFromJson` turns them back.
 * It also reads the score of the kit's previous version (`{score, ci, n, estimator, details}`),
 * so model records written before stay readable.
 */
import { OpeInputError } from "./errors";
import { estimatorNamed, type EstimatorName } from "./estimators";
import type { OpeInterval } from "./types";

/** One estimator's estimate: the kit's score. */
export interface OpeEstimate {
  estimator: EstimatorName;
  /** Estimated average cost of the target policy (1 − mean reward); smaller is better. */
  value: number;
  /** The primary interval: the bootstrap one when bootstrap samples were drawn, else the normal one. */
  ci: OpeInterval;
  /** Normal-approximation (delta-method) interval, always computed. */
  normalCi: OpeInterval;
  /** Percentile interval of the seeded Poisson bootstrap, or null when bootstrapSamples = 0. */
  bootstrapCi: OpeInterval | null;
  /** Standard error behind the normal interval. */
  standardError: number;
  /** Confidence level of both intervals (0.95 by default). */
  confidence: number;
  /** Number of logged rows used. */
  n: number;
  /** Effective sample size of the importance weights w = π(a|x)/p: (Σw)² / Σw². */
  effectiveSampleSize: number;
  /** Mean importance weight; far from 1 means the target puts mass where the logger rarely went. */
  meanWeight: number;
  /** Largest importance weight seen. */
  maxWeight: number;
  /** True for estimators whose value is biased by construction (DM relies on the reward model only). */
  biased: boolean;
  /**
   * Diagnostics in words, empty when all is well: a small effective sample size (the estimate
   * and its interval rest on a few heavily weighted rows — measured on shuttle, coverage collapses
   * below about 100), or a mean weight far from 1 (the target often picks actions the logger
   * rarely tried).
   */
  warnings: string[];
  /**
   * The possible range of this estimate — average costs lie in [1 − maxReward, 1 − minReward]
   * (a difference of two policies in ± the range's width) — when the caller gave or defaulted a
   * reward range (evaluatePolicy, comparePolicies, PolicyEvaluationStream); null from a bare
   * accumulator.
   */
  range: { lower: number; upper: number } | null;
  /**
   * What was clipped to `range`, empty when nothing: "value" (the point estimate, e.g. IPS with
   * large weights), "ci.lower", "ci.upper", "normalCi.lower", ... .
   */
  clipped: string[];
}

/**
 * The part of a score a chart or a table shows: the value and, when known, its interval's ends and
 * its possible range. Any OpeEstimate is one; an observed cost without an interval is `{ value }`.
 */
export type ScoreView = Pick<OpeEstimate, "value"> & Partial<Pick<OpeEstimate, "range">> & { ci?: Pick<OpeInterval, "lower" | "upper"> };

/** Clips an estimate (value and every interval end) to [lower, upper]; records what moved in `clipped`. */
export function clipEstimate(e: OpeEstimate, lower: number, upper: number): OpeEstimate {
  const clipped: string[] = [];
  const clip = (x: number, name: string): number => {
    if (x < lower) { clipped.push(name); return lower; }
    if (x > upper) { clipped.push(name); return upper; }
    return x;
  };
  const interval = (i: OpeInterval, name: string): OpeInterval => ({ lower: clip(i.lower, `${name}.lower`), upper: clip(i.upper, `${name}.upper`), method: i.method });
  const value = clip(e.value, "value");
  const normalCi = interval(e.normalCi, "normalCi");
  const bootstrapCi = e.bootstrapCi ? interval(e.bootstrapCi, "bootstrapCi") : null;
  const ci = interval(e.ci, "ci");
  return { ...e, value, ci, normalCi, bootstrapCi, range: { lower, upper }, clipped };
}

/** The results of several estimators, keyed by name. */
export type OpeResults<E extends EstimatorName = EstimatorName> = Record<E, OpeEstimate>;


/** The warning an evaluation adds when it skipped unreadable rows of its data. */
export function skippedRowsWarning(skipped: number): string {
  return `${skipped} malformed row(s) of the evaluation data were skipped (hyperparameter strict=true makes this an error)`;
}

/** Reads a score from the text of its JSON (a `score.json`); see scoreFromJson. */
export function parseScore(text: string, source: string): OpeEstimate {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new OpeInputError(source, null, `is not JSON: ${(error as Error).message}`);
  }
  return scoreFromJson(json, source);
}

/**
 * A score from its parsed JSON: checked field by field (an OpeInputError names `source` and what
 * is wrong), with JSON's nulls turned back into NaN. A score of the previous version
 * (`{score, ci, n, estimator, details?}`) is read into today's shape: what it did not record
 * (standard error, mean and largest weight) is NaN, its confidence is the 0.95 that version always
 * used, and its details (effective sample size, bias, normal interval, range, clipped, skipped
 * rows) fill the fields of the same meaning.
 */
export function scoreFromJson(json: unknown, source: string): OpeEstimate {
  const bad = (why: string): OpeInputError => new OpeInputError(source, null, `${why}: ${String(JSON.stringify(json)).slice(0, 200)}`);
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw bad("is not a score object");
  const v = json as Record<string, unknown>;
  const legacy = !("value" in v) && "score" in v;
  const value = numberOrNaN(legacy ? v.score : v.value);
  const n = numberOrNaN(v.n);
  const ci = intervalOf(v.ci);
  if (value === undefined || !Number.isFinite(value) || n === undefined || !(Number.isInteger(n) && n >= 0) || typeof v.estimator !== "string" || !ci) {
    throw bad("lacks a finite score (value), n, estimator or ci {lower, upper, method}");
  }
  const estimator = estimatorNamed(v.estimator, `${source}: estimator`);
  if (legacy) return fromPreviousVersion(v, value, n, ci, estimator.name, estimator.biased);

  const numbers = ["standardError", "confidence", "effectiveSampleSize", "meanWeight", "maxWeight"] as const;
  const got = {} as Record<(typeof numbers)[number], number>;
  for (const k of numbers) {
    const x = numberOrNaN(v[k]);
    if (x === undefined) throw bad(`lacks the number ${k}`);
    got[k] = x;
  }
  const normalCi = intervalOf(v.normalCi);
  if (!normalCi) throw bad("lacks normalCi {lower, upper, method}");
  const bootstrapCi = v.bootstrapCi === null ? null : intervalOf(v.bootstrapCi);
  if (bootstrapCi === undefined) throw bad("has a bootstrapCi that is neither null nor {lower, upper, method}");
  if (typeof v.biased !== "boolean") throw bad("lacks the boolean biased");
  const warnings = stringsOf(v.warnings);
  const clipped = stringsOf(v.clipped);
  if (!warnings || !clipped) throw bad("lacks the string lists warnings and clipped");
  const range = v.range === null ? null : rangeOf(v.range);
  if (range === undefined) throw bad("has a range that is neither null nor {lower, upper}");
  return {
    estimator: estimator.name,
    value,
    ci,
    normalCi,
    bootstrapCi,
    standardError: got.standardError,
    confidence: got.confidence,
    n,
    effectiveSampleSize: got.effectiveSampleSize,
    meanWeight: got.meanWeight,
    maxWeight: got.maxWeight,
    biased: v.biased,
    warnings,
    range,
    clipped,
  };
}

/** The previous version's score, read into today's shape (see scoreFromJson). */
function fromPreviousVersion(v: Record<string, unknown>, value: number, n: number, ci: OpeInterval, estimator: EstimatorName, biasedByName: boolean): OpeEstimate {
  const d = (v.details !== null && typeof v.details === "object" ? v.details : {}) as Record<string, unknown>;
  const ess = numberOrNaN(d.effectiveSampleSize);
  const skipped = numberOrNaN(d.skipped);
  const none: OpeInterval = { lower: Number.NaN, upper: Number.NaN, method: "normal" };
  return {
    estimator,
    value,
    ci,
    normalCi: ci.method === "normal" ? ci : (intervalOf(d.normalCi) ?? none),
    bootstrapCi: ci.method === "bootstrap" ? ci : null,
    standardError: Number.NaN,
    confidence: 0.95,
    n,
    effectiveSampleSize: ess ?? Number.NaN,
    meanWeight: Number.NaN,
    maxWeight: Number.NaN,
    biased: typeof d.biased === "boolean" ? d.biased : biasedByName,
    warnings: skipped !== undefined && skipped > 0 ? [skippedRowsWarning(skipped)] : [],
    range: rangeOf(d.range) ?? null,
    clipped: stringsOf(d.clipped) ?? [],
  };
}

/** A JSON number, with null read as NaN; undefined for anything else. */
function numberOrNaN(x: unknown): number | undefined {
  return typeof x === "number" ? x : x === null ? Number.NaN : undefined;
}

function intervalOf(x: unknown): OpeInterval | undefined {
  if (x === null || typeof x !== "object") return undefined;
  const i = x as Record<string, unknown>;
  const lower = numberOrNaN(i.lower);
  const upper = numberOrNaN(i.upper);
  if (lower === undefined || upper === undefined || (i.method !== "bootstrap" && i.method !== "normal")) return undefined;
  return { lower, upper, method: i.method };
}

function rangeOf(x: unknown): { lower: number; upper: number } | undefined {
  if (x === null || typeof x !== "object") return undefined;
  const r = x as Record<string, unknown>;
  return typeof r.lower === "number" && typeof r.upper === "number" ? { lower: r.lower, upper: r.upper } : undefined;
}

function stringsOf(x: unknown): string[] | undefined {
  return Array.isArray(x) && x.every((s) => typeof s === "string") ? [...x] : undefined;
}
