/**
 * Evaluation entry point: off-policy (counterfactual) evaluation of the model in channel
 * `pretrained_model` on the joined data in channel `evaluation`. Writes `model/score.json`
 * (`EvaluationScore`: the estimated average cost — smaller is better — with its confidence
 * interval, n and estimator), so nobody parses logs for the score. Missing channels or an empty
 * data set fail the job with a reason (the original exited "successfully" without a score, D-27).
 *
 * Hyperparameters: `cfa_type` (dr | ips | snips | sndr | dm; default dr), `seed`, `min_reward` /
 * `max_reward` (the possible rewards, default 0 and 1: a record outside fails the job, and the
 * score and its interval are clipped to the possible costs [1 − max_reward, 1 − min_reward]),
 * `strict` ("true": any unreadable row fails the job; else such rows are skipped and logged).
 * Run as a process: `node common/dist/container/evaluate.js [--root /opt/ml]`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { JoinedRecord } from "../data/records";
import { readJoinedRecords } from "../data";
import { loadModel } from "../learner";
import { evaluatePolicy, type EstimatorName } from "../ope";
import type { EvaluationScore } from "../platform/types";
import { booleanHyperparameter, channelHasFiles, numberHyperparameter, readHyperparameters, rewardRangeHyperparameters, runAsMain, SCORE_FILE, type JobLog, type JobPaths } from "./contract";

const ESTIMATORS: readonly EstimatorName[] = ["dr", "ips", "snips", "sndr", "dm"];

export async function evaluateJob(paths: JobPaths, log: JobLog): Promise<EvaluationScore> {
  const hp = readHyperparameters(paths);
  const estimator = (hp.cfa_type ?? "dr").toLowerCase() as EstimatorName;
  if (!ESTIMATORS.includes(estimator)) {
    throw new Error(`hyperparameter 'cfa_type' must be one of ${ESTIMATORS.join(", ")}, got '${hp.cfa_type}'`);
  }
  const seed = numberHyperparameter(hp, "seed", 1);
  const strict = booleanHyperparameter(hp, "strict");
  const range = rewardRangeHyperparameters(hp);
  const modelDir = paths.channel("pretrained_model");
  const dataDir = paths.channel("evaluation");
  if (!channelHasFiles(modelDir)) throw new Error(`channel 'pretrained_model' (${modelDir}) is missing or empty: give the model to evaluate`);
  if (!channelHasFiles(dataDir)) throw new Error(`channel 'evaluation' (${dataDir}) is missing or empty: give joined evaluation data`);
  const { learner, metadata } = await loadModel(modelDir);
  const records: JoinedRecord[] = [];
  const reader = readJoinedRecords(dataDir, { strict });
  for await (const r of reader) records.push(r);
  if (reader.malformed > 0) {
    log(`WARNING: skipped ${reader.malformed} malformed row(s) of the evaluation data (hyperparameter strict=true makes this an error); the first:`);
    for (const r of reader.malformedReasons) log(`  skipped ${r}`);
  }
  if (records.length === 0) throw new Error(`the evaluation data in ${dataDir} gave 0 records to evaluate on: ${reader.whyNoRecords()}`);
  const estimates = await evaluatePolicy(records, learner, { estimators: [estimator], seed, ...range });
  const est = estimates[estimator];
  if (!est) throw new Error(`the ${estimator} estimate is missing from the OPE result`);
  if (est.biased) log(`note: the ${estimator} estimator is biased (a direct-method estimate); prefer dr`);
  if (est.clipped.length > 0) log(`note: ${est.clipped.join(", ")} clipped to the possible costs [${est.range?.lower}, ${est.range?.upper}] (1 − max_reward .. 1 − min_reward)`);
  const score: EvaluationScore = {
    score: est.value,
    ci: { lower: est.ci.lower, upper: est.ci.upper, method: est.ci.method },
    n: est.n,
    estimator,
    details: { modelId: metadata.modelId, effectiveSampleSize: est.effectiveSampleSize, biased: est.biased, normalCi: est.normalCi, range: est.range, clipped: est.clipped, skipped: reader.malformed },
  };
  fs.mkdirSync(paths.modelDir, { recursive: true });
  fs.writeFileSync(path.join(paths.modelDir, SCORE_FILE), JSON.stringify(score, null, 2) + "\n");
  log(`Model ${metadata.modelId} evaluated using ${records.length} data instances: ${estimator} average cost ${est.value.toFixed(4)} ` +
    `(${(est.ci.lower).toFixed(4)} .. ${(est.ci.upper).toFixed(4)})`);
  return score;
}

if (require.main === module) runAsMain(evaluateJob);
