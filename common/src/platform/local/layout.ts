/**
 * Object keys of the experiment bucket, following the original's S3 layout (§4.8). Both platforms
 * use these keys; only the URI prefix differs (`file://<workspace>/bucket/` or `s3://<bucket>/`).
 * Ids are validated by the manager before they get here; `safeSegment` is the last line of defence.
 */
import type { ObjectLayout } from "../types";

/** Rejects anything that could escape a folder or is not a plain id. */
export function safeSegment(value: string, what: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value) || value.includes("..")) {
    throw new Error(`${what} '${value}' is not a safe path segment (letters, digits, '.', '_', '-' only)`);
  }
  return value;
}

export const objectLayout: ObjectLayout = {
  experimentPrefix: (exp) => safeSegment(exp, "experiment id"),
  rewardsPrefix: (exp, batch) => `${safeSegment(exp, "experiment id")}/rewards_data/${safeSegment(batch, "rewards batch id")}`,
  joinedPrefix: (exp, join, split) =>
    `${safeSegment(exp, "experiment id")}/joined_data/${safeSegment(join, "join job id")}/${split === "train" ? "train" : "eval"}`,
  trainingJobPrefix: (exp, model) => `${safeSegment(exp, "experiment id")}/training_jobs/${safeSegment(model, "model id")}`,
  modelArtifactPrefix: (exp, model) =>
    `${safeSegment(exp, "experiment id")}/training_jobs/${safeSegment(model, "model id")}/output/model`,
  evaluationJobPrefix: (exp, job) => `${safeSegment(exp, "experiment id")}/evaluation_jobs/${safeSegment(job, "evaluation job id")}`,
  decisionLogPrefix: (exp) => `${safeSegment(exp, "experiment id")}/inference_data`,
  uploadsPrefix: (exp, id) => `${safeSegment(exp, "experiment id")}/uploads/${safeSegment(id, "upload id")}`,
};
