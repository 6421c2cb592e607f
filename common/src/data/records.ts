import { numberProblem } from "./numbers";

/**
 * The joined experience record: one decision joined with its reward. The field names and their
 * order are the original sample's (`reward, event_id, action, action_prob, model_id, observation,
 * sample_prob`), so data produced by the Python sample loads too.
 */
export interface JoinedRecord {
  /** Reward observed for the decision, in [0, 1] for the shuttle task (1 = right action). */
  reward: number;
  /** Event id, always a string (the original's 128-bit integers lose precision as JS numbers). */
  event_id: string;
  /** The logged action, 1-based. */
  action: number;
  /** Probability with which the logging policy chose `action`, in (0, 1]. */
  action_prob: number;
  /** Id of the model that made the decision, or "not-apply-to-warm-start". */
  model_id: string;
  /** The context the decision was made for (the shuttle's 9 normalised features). */
  observation: number[];
  /** Kept for compatibility with the original; the kit's splits hash the event id instead. */
  sample_prob: number;
}

/** The column order of joined-record files (CSV headers and JSON key order). */
export const JOINED_RECORD_COLUMNS = [
  "reward",
  "event_id",
  "action",
  "action_prob",
  "model_id",
  "observation",
  "sample_prob",
] as const;

/** The model id the original writes on warm-start rows that no model produced. */
export const WARM_START_MODEL_ID = "not-apply-to-warm-start";

/**
 * A data file that can not be used (strict mode, a CSV header without the needed columns, no
 * records at all): names the file, the line when there is one, and the problem.
 */
export class DataFileError extends Error {
  constructor(readonly file: string, readonly line: number | null, readonly problem: string) {
    super(`${file}${line === null ? "" : `:${line}`}: ${problem}`);
    this.name = "DataFileError";
  }
}

/** Options of the joined-record and VW-text readers. */
export interface ReadOptions {
  /** Any row that would be skipped throws a DataFileError instead (CLI --strict, hyperparameter strict). */
  strict?: boolean;
}

/**
 * The one row check both readers apply (CSV / JSON lines and VW text skip the same rows): why a
 * parsed record can not be learned from or evaluated on, or null: rewards and features keep the
 * numeric contract (numbers.ts), so a row of 1e308 is skipped like a NaN. Config-dependent checks (the
 * number of actions and features, the reward range) belong to the learner and the estimators.
 */
export function joinedRecordProblem(r: { reward: number; action: number; action_prob: number; observation: ArrayLike<number> }): string | null {
  return joinedRowProblem(r.reward, r.action, r.action_prob, r.observation, 0, r.observation.length);
}

/**
 * joinedRecordProblem on a row's values, its observation being obs[from, to): the same rule
 * without a record object (the readers' fast paths).
 */
export function joinedRowProblem(reward: number, action: number, actionProb: number, obs: ArrayLike<number>, from: number, to: number): string | null {
  const rewardProblem = numberProblem(reward);
  if (rewardProblem !== null) return `reward ${rewardProblem}`;
  if (!Number.isInteger(action) || action < 1) return `action must be a 1-based integer, got ${action}`;
  if (!(actionProb > 0 && actionProb <= 1)) return `action_prob must be in (0, 1] (the probability the action was logged with), got ${actionProb}`;
  if (to <= from) return "observation is empty: give at least one feature";
  for (let j = from; j < to; j++) {
    const problem = numberProblem(obs[j]);
    if (problem !== null) return `observation[${j - from}] ${problem}`;
  }
  return null;
}

/** SageMaker's InferenceId limit, which event ids share because data capture records them there. */
export const MAX_EVENT_ID_LENGTH = 64;
const EVENT_ID_PATTERN = /^[\x21-\x7e][\x20-\x7e]*$/;

/**
 * Throws an error naming `field` unless `id` is a valid event id: 1–64 printable ASCII characters,
 * not starting with a space (the InferenceId rule, so the id survives the data-capture round trip).
 */
export function checkEventId(id: unknown, field = "event_id"): string {
  if (typeof id !== "string" || id.length === 0) throw new Error(`field '${field}' must be a non-empty string`);
  if (id.length > MAX_EVENT_ID_LENGTH) {
    throw new Error(`field '${field}' has ${id.length} characters; at most ${MAX_EVENT_ID_LENGTH} are allowed (SageMaker's InferenceId limit)`);
  }
  if (!EVENT_ID_PATTERN.test(id)) throw new Error(`field '${field}' must be printable ASCII and must not start with a space: ${JSON.stringify(id)}`);
  return id;
}
