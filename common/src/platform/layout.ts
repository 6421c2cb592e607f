/**
 * Object keys of the experiment bucket, following the original's S3 layout (§4.8), for both
 * platforms: only the URI prefix differs (`file://<workspace>/bucket/` or `s3://<bucket>/`). Every
 * object path the kit writes or reads under an experiment comes from here.
 * Ids are validated by the manager before they get here; `safeSegment` is the last line of defence
 * (the local platform also uses it for the file names of its workspace folders).
 */
import type { ObjectLayout } from "./types";

/** Rejects anything that could escape a folder or is not a plain id. */
export function safeSegment(value: string, what: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value) || value.includes("..")) {
    throw new Error(`${what} '${value}' is not a safe path segment (letters, digits, '.', '_', '-' only)`);
  }
  return value;
}

const experiment = (exp: string) => safeSegment(exp, "experiment id");
const rewardsRoot = (exp: string) => `${experiment(exp)}/rewards_data`;
const joinedIdsRoot = (exp: string) => `${experiment(exp)}/joined_ids`;
const trainingJobsRoot = (exp: string) => `${experiment(exp)}/training_jobs`;
const trainingJob = (exp: string, model: string) => `${trainingJobsRoot(exp)}/${safeSegment(model, "model id")}`;

export const objectLayout: ObjectLayout = {
  experimentPrefix: experiment,
  rewardsRootPrefix: rewardsRoot,
  rewardsPrefix: (exp, batch) => `${rewardsRoot(exp)}/${safeSegment(batch, "rewards batch id")}`,
  joinedPrefix: (exp, join, split) => `${experiment(exp)}/joined_data/${safeSegment(join, "join job id")}/${split === "train" ? "train" : "eval"}`,
  joinedIdsRootPrefix: joinedIdsRoot,
  joinedIdsPrefix: (exp, join) => `${joinedIdsRoot(exp)}/${safeSegment(join, "join job id")}`,
  holdoutPrefix: (exp) => `${experiment(exp)}/holdout`,
  trainingJobsRootPrefix: trainingJobsRoot,
  trainingJobPrefix: trainingJob,
  modelArtifactPrefix: (exp, model) => `${trainingJob(exp, model)}/output/model`,
  evaluationJobPrefix: (exp, job) => `${experiment(exp)}/evaluation_jobs/${safeSegment(job, "evaluation job id")}`,
  decisionLogPrefix: (exp) => `${experiment(exp)}/inference_data`,
  uploadsPrefix: (exp, id) => `${experiment(exp)}/uploads/${safeSegment(id, "upload id")}`,
  athenaResultsPrefix: (exp) => `${experiment(exp)}/athena_query_results`,
};
