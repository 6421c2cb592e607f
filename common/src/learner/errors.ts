/** The learner's errors, and the config.yaml keys they name. */

/** Where the feature count comes from in config.yaml (named in every feature-count error). */
export const NUM_FEATURES_KEY = "algor.algorithms_parameters.num_features";
/** Where the action count comes from in config.yaml. */
export const NUM_ARMS_KEY = "algor.algorithms_parameters.num_arms";

/** Bad learner input or options; `field` names what is wrong. */
export class LearnerError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "LearnerError";
  }
}

/**
 * Data that does not fit the configuration (an action beyond num_arms, another feature count than
 * num_features, a reward outside [min_reward, max_reward]): never skipped, because every row after
 * it would likely be wrong too. The message names the field, the value, what was expected and the
 * config.yaml key.
 */
export class ConfigMismatchError extends LearnerError {
  constructor(field: string, message: string) {
    super(field, message);
    this.name = "ConfigMismatchError";
  }
}
