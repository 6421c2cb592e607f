/**
 * Shapes of the off-policy evaluation (OPE) module. Values are average COST (1 − reward), smaller
 * is better, as in the original sample's `average loss`.
 */

/** A confidence interval for an estimate. */
export interface OpeInterval {
  lower: number;
  upper: number;
  method: "bootstrap" | "normal";
}

/** The possible rewards (config workflow.min_reward / max_reward): one owner, data/rewards.ts. */
export type { RewardRange } from "../data/rewards";

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
