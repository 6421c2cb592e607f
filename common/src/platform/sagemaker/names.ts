/**
 * The names the kit gives its AWS resources, read both by the code that creates them and by the
 * IAM policies scoped to them (iam.ts).
 */

/** Tags the kit puts on what it creates (hosting: the experiment; jobs: the job kind). */
export const EXPERIMENT_TAG = "cbkit:experiment";
export const JOB_TAG = "cbkit:job";

/** The CloudWatch namespace of the experiments' metrics. */
export const METRIC_NAMESPACE = "ContextualBandits";
