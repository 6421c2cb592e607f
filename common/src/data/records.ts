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
