/**
 * The reward range (config `workflow.min_reward` / `workflow.max_reward`, the jobs' hyperparameters
 * `min_reward` / `max_reward`, the `minReward` / `maxReward` options of training and evaluation) and
 * the cost of a reward. Every layer checks rewards with these functions, so config, ingest,
 * training, evaluation and the CLI apply one rule and say it in one way.
 *
 * The rule: both ends keep the numeric contract and min < max. A range with min == max is refused:
 * every reward would be the same number, so every action costs the same, training has nothing to
 * learn, every estimator returns that one cost and the deploy gate can never tell two models apart.
 *
 * Costs are 1 − reward (smaller is better, the original's `average loss`), so they lie in
 * [1 − max_reward, 1 − min_reward].
 */
import { NUMBER_CONTRACT, numberProblem, showValue } from "./numbers";

export const MIN_REWARD_KEY = "workflow.min_reward";
export const MAX_REWARD_KEY = "workflow.max_reward";

/** The possible rewards as the APIs take them: either end may be left out (default [0, 1]). */
export interface RewardRange {
  /** Smallest possible reward (default 0). */
  minReward?: number;
  /** Largest possible reward (default 1). */
  maxReward?: number;
}

/** A checked reward range. */
export interface RewardBounds {
  minReward: number;
  maxReward: number;
}

export const DEFAULT_REWARD_RANGE: Readonly<RewardBounds> = { minReward: 0, maxReward: 1 };

/** One problem of a reward range: the config key to fix, what it holds, and what is allowed. */
export interface RewardRangeIssue {
  key: typeof MIN_REWARD_KEY | typeof MAX_REWARD_KEY;
  found: string;
  expected: string;
}

/** The first problem of a reward range, or null when it is valid. */
export function rewardRangeIssue(minReward: unknown, maxReward: unknown): RewardRangeIssue | null {
  for (const [key, value] of [[MIN_REWARD_KEY, minReward], [MAX_REWARD_KEY, maxReward]] as const) {
    if (numberProblem(value) !== null) return { key, found: showValue(value), expected: NUMBER_CONTRACT };
  }
  if (!((minReward as number) < (maxReward as number))) {
    return {
      key: MAX_REWARD_KEY,
      found: `${maxReward}, not above ${MIN_REWARD_KEY} (${minReward})`,
      expected: `${MIN_REWARD_KEY} < ${MAX_REWARD_KEY} (the reward range must not be empty: with one possible reward every action costs the same)`,
    };
  }
  return null;
}

/** A reward range that breaks the rule; `key` is the config key to fix. */
export class RewardRangeError extends RangeError {
  readonly key: string;
  constructor(issue: RewardRangeIssue) {
    super(
      `reward range: ${issue.key} is ${issue.found}; expected ${issue.expected}. ` +
        "Fix it in config.yaml (jobs get it as the hyperparameters min_reward / max_reward)",
    );
    this.name = "RewardRangeError";
    this.key = issue.key;
  }
}

/** The range with defaults applied, checked; throws RewardRangeError naming the key to fix. */
export function rewardRangeOf(range: RewardRange = {}): RewardBounds {
  const minReward = range.minReward ?? DEFAULT_REWARD_RANGE.minReward;
  const maxReward = range.maxReward ?? DEFAULT_REWARD_RANGE.maxReward;
  const issue = rewardRangeIssue(minReward, maxReward);
  if (issue !== null) throw new RewardRangeError(issue);
  return { minReward, maxReward };
}

/**
 * Why a reward does not fit the range ("is 7, outside ..."), or null. Callers put the record and
 * the field in front, each in its layer's error type.
 */
export function rewardProblem(reward: unknown, bounds: RewardBounds): string | null {
  const problem = numberProblem(reward);
  if (problem !== null) return problem;
  if ((reward as number) < bounds.minReward || (reward as number) > bounds.maxReward) {
    return `is ${reward}, outside the possible rewards [${bounds.minReward}, ${bounds.maxReward}] (min_reward / max_reward: config.yaml ${MIN_REWARD_KEY} / ${MAX_REWARD_KEY})`;
  }
  return null;
}

/** The cost of a reward: 1 − reward (smaller is better). */
export function costOfReward(reward: number): number {
  return 1 - reward;
}

/** The reward of a cost: 1 − cost. */
export function rewardOfCost(cost: number): number {
  return 1 - cost;
}

/** The possible costs of a reward range: [1 − maxReward, 1 − minReward]. */
export function costRangeOf(bounds: RewardBounds): { lower: number; upper: number } {
  return { lower: costOfReward(bounds.maxReward), upper: costOfReward(bounds.minReward) };
}
