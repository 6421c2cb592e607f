/**
 * Experiment ids and the ids derived from them. An experiment id becomes SageMaker job, model and
 * endpoint names, S3 keys and Athena table names, so it must match `[a-zA-Z0-9](-*[a-zA-Z0-9])*`,
 * must not contain `-eval-` (evaluation job names are split on it, D-29) and must be short enough
 * that the longest derived name (an evaluation job, `<exp>-model-<12>-eval-<12>`) fits SageMaker's
 * 63 characters (D-25). Derived ids end in a sortable unique suffix: milliseconds since the epoch
 * (monotonic within a process) plus three random base-36 characters, so two ids made in the same
 * second — even by two processes — do not collide.
 */
import { sortableSuffix } from "../util/suffix";

export { sortableSuffix };

export const SAGEMAKER_NAME_LIMIT = 63;
const SUFFIX_LENGTH = 12;
const MODEL_INFIX = "-model-";
const EVAL_INFIX = "-eval-";
const JOIN_INFIX = "-join-";
/** The longest experiment id: 63 − len("-model-") − 12 − len("-eval-") − 12 = 26. */
export const MAX_EXPERIMENT_ID_LENGTH = SAGEMAKER_NAME_LIMIT - MODEL_INFIX.length - SUFFIX_LENGTH - EVAL_INFIX.length - SUFFIX_LENGTH;

const ID_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;

export class InvalidExperimentIdError extends Error {
  constructor(id: unknown, reason: string) {
    super(`experiment id ${JSON.stringify(id)} is not valid: ${reason}`);
    this.name = "InvalidExperimentIdError";
  }
}

/** Throws InvalidExperimentIdError naming the rule and the fix; returns the id. */
export function validateExperimentId(id: unknown): string {
  if (typeof id !== "string" || id.length === 0) throw new InvalidExperimentIdError(id, "give a non-empty string like 'bandits-exp-1'");
  if (id.length > MAX_EXPERIMENT_ID_LENGTH) {
    throw new InvalidExperimentIdError(
      id,
      `it has ${id.length} characters, at most ${MAX_EXPERIMENT_ID_LENGTH} are allowed so that every derived SageMaker name fits in ${SAGEMAKER_NAME_LIMIT}`,
    );
  }
  if (!ID_PATTERN.test(id)) {
    throw new InvalidExperimentIdError(id, "use letters, digits and single or repeated hyphens only, starting and ending with a letter or digit (no '_', '.', spaces)");
  }
  if (id.includes(EVAL_INFIX)) throw new InvalidExperimentIdError(id, "it must not contain '-eval-' (reserved for evaluation job names)");
  return id;
}

export function newModelId(experimentId: string): string {
  return `${experimentId}${MODEL_INFIX}${sortableSuffix()}`;
}

export function newEvaluationJobId(modelId: string): string {
  return `${modelId}${EVAL_INFIX}${sortableSuffix()}`;
}

export function newJoinJobId(experimentId: string): string {
  return `${experimentId}${JOIN_INFIX}${sortableSuffix()}`;
}

/** The model id of an evaluation job id (the part before the last '-eval-'). */
export function modelIdOfEvaluationJob(jobId: string): string {
  const i = jobId.lastIndexOf(EVAL_INFIX);
  if (i < 0) throw new Error(`'${jobId}' is not an evaluation job id (no '-eval-')`);
  return jobId.slice(0, i);
}

/** Checks an id this module derived (or that a user passed back): experiment prefix + safe characters. */
export function checkDerivedId(id: unknown, experimentId: string, what: string): string {
  if (typeof id !== "string" || !id.startsWith(`${experimentId}-`) || !ID_PATTERN.test(id) || id.length > SAGEMAKER_NAME_LIMIT) {
    throw new Error(`${what} ${JSON.stringify(id)} does not belong to experiment '${experimentId}' (expected '${experimentId}-...')`);
  }
  return id;
}

/** The event-id rule is a record field rule: it lives with the record (data/records.ts). */
export { checkEventId, MAX_EVENT_ID_LENGTH } from "../data/records";
