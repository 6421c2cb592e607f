/**
 * Shapes of the off-policy evaluation (OPE) module. Values are average COST (1 − reward), smaller
 * is better, as in the original sample's `average loss`.
 */

/** The estimators the kit offers; `dr` is the default, as in the original. */
export type EstimatorName = "ips" | "snips" | "dm" | "dr" | "sndr";

/** Every estimator name, in the order tables print them. */
export const ESTIMATOR_NAMES: readonly EstimatorName[] = ["ips", "snips", "dm", "dr", "sndr"];

/** A confidence interval for an estimate. */
export interface OpeInterval {
  lower: number;
  upper: number;
  method: "bootstrap" | "normal";
}

/** One estimator's result. */
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

/** The possible rewards (config workflow.min_reward / max_reward): one owner, data/rewards.ts. */
export type { RewardRange } from "../data/rewards";

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

/** Anything that gives a probability for every action (1-based action a has probability pmf[a-1]). */
export interface PmfModel {
  predictPmf(context: number[]): ArrayLike<number>;
}

/**
 * The policy to evaluate: a model whose full pmf is used (the expected value over its choices, not
 * one sampled action), or per-row pmfs, or per-row deterministic actions (1-based), aligned with the
 * records' order.
 */
export type TargetPolicy = PmfModel | { pmfs: ArrayLike<ArrayLike<number>> } | { actions: ArrayLike<number> };

/** A model of the expected cost of every action in a context (index a-1 for action a). */
export interface CostModel {
  predictCosts(context: number[]): ArrayLike<number>;
}

/**
 * One logged row already scored against the target policy: the input of the streaming
 * accumulators. `directCost` and `predictedCost` come from a cost model and are needed by DM,
 * DR and SNDR only.
 */
export interface OpeSample {
  /** Observed cost of the logged action (1 − reward). */
  cost: number;
  /** Probability with which the logging policy chose the logged action, in (0, 1]. */
  propensity: number;
  /** Probability the target policy gives the logged action, in [0, 1]. */
  targetProb: number;
  /** Σ_a π(a|x) ĉ(x, a): the cost model's expected cost of the target policy in this context. */
  directCost?: number;
  /** ĉ(x, logged action): the cost model's prediction for the logged action. */
  predictedCost?: number;
  /**
   * Identity of the row for the bootstrap (for example its event id): the row's bootstrap weights
   * are a function of (seed, key), so accumulators merged in any order equal one pass. Without a
   * key, weights come from the accumulator's own seeded stream (still deterministic). Numbers
   * are used as 32-bit hashes (evaluatePolicy hashes each row's content).
   */
  key?: string | number;
}

/** Options shared by every accumulator. */
export interface AccumulatorOptions {
  /** Seed of the bootstrap (default 1). */
  seed?: number | string;
  /** Number of bootstrap replicates (default 1000; 0 = normal interval only). */
  bootstrapSamples?: number;
  /** Confidence level of the intervals (default 0.95). */
  confidence?: number;
}
