/**
 * Evaluation entry point: off-policy (counterfactual) evaluation of the model in channel
 * `pretrained_model` on the joined data in channel `evaluation`. Writes `model/score.json`, the
 * JSON of the estimate (`OpeEstimate`, the kit's score: the estimated average cost — smaller is
 * better — with its confidence intervals, n, estimator and diagnostics), so nobody parses logs for
 * the score. Missing channels or an empty data set fail the job with a reason (the original exited
 * "successfully" without a score, D-27).
 *
 * Hyperparameters: `cfa_type` (a name of the estimator registry, ope/estimators.ts; default dr),
 * `seed`, `min_reward` / `max_reward` (the possible rewards, default 0 and 1: a record outside
 * fails the job, and the score and its interval are clipped to the possible costs
 * [1 − max_reward, 1 − min_reward]), `strict` ("true": any unreadable row fails the job; else such
 * rows are skipped, logged and named in the score's warnings).
 * Run as a process: `node common/dist/container/evaluate.js [--root /opt/ml]`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readJoinedRecords } from "../data";
import { loadModel } from "../learner";
import { DEFAULT_ESTIMATOR, estimatorNamed, evaluatePolicy, skippedRowsWarning, type Estimator, type EstimatorName, type OpeEstimate } from "../ope";
import { booleanHyperparameter, channelHasFiles, numberHyperparameter, readHyperparameters, rewardRangeHyperparameters, runAsMain, SCORE_FILE, type JobLog, type JobPaths } from "./contract";

/** The estimator the hyperparameter `cfa_type` names (default dr); an unknown name fails the job with the choices. */
export function estimatorOfHyperparameters(hp: Record<string, string | undefined>): Estimator<EstimatorName> {
  return estimatorNamed(hp.cfa_type ?? DEFAULT_ESTIMATOR.name, "hyperparameter cfa_type");
}

export async function evaluateJob(paths: JobPaths, log: JobLog): Promise<OpeEstimate> {
  const hp = readHyperparameters(paths);
  const estimator = estimatorOfHyperparameters(hp);
  const seed = numberHyperparameter(hp, "seed", 1);
  const strict = booleanHyperparameter(hp, "strict");
  const range = rewardRangeHyperparameters(hp);
  const modelDir = paths.channel("pretrained_model");
  const dataDir = paths.channel("evaluation");
  if (!channelHasFiles(modelDir)) throw new Error(`channel 'pretrained_model' (${modelDir}) is missing or empty: give the model to evaluate`);
  if (!channelHasFiles(dataDir)) throw new Error(`channel 'evaluation' (${dataDir}) is missing or empty: give joined evaluation data`);
  const { learner, metadata } = await loadModel(modelDir);
  // Read streaming (twice: see evaluatePolicy), never held in memory.
  const reader = readJoinedRecords(dataDir, { strict });
  let estimates;
  try {
    estimates = await evaluatePolicy(reader, learner, { estimators: [estimator], seed, ...range });
  } catch (e) {
    if (reader.rows === 0) throw new Error(`the evaluation data in ${dataDir} gave 0 records to evaluate on: ${reader.whyNoRecords()}`);
    throw e;
  }
  if (reader.malformed > 0) {
    log(`WARNING: skipped ${reader.malformed} malformed row(s) of the evaluation data (hyperparameter strict=true makes this an error); the first:`);
    for (const r of reader.malformedReasons) log(`  skipped ${r}`);
  }
  const est = estimates[estimator.name];
  if (!est) throw new Error(`the ${estimator.name} estimate is missing from the OPE result`);
  if (estimator.warning) log(`note: cfa_type ${estimator.name}: ${estimator.warning}`);
  if (est.clipped.length > 0) log(`note: ${est.clipped.join(", ")} clipped to the possible costs [${est.range?.lower}, ${est.range?.upper}] (1 − max_reward .. 1 − min_reward)`);
  // The score is the estimate itself; skipped rows stay on record as one of its warnings.
  const score: OpeEstimate = reader.malformed > 0 ? { ...est, warnings: [...est.warnings, skippedRowsWarning(reader.malformed)] } : est;
  fs.mkdirSync(paths.modelDir, { recursive: true });
  fs.writeFileSync(path.join(paths.modelDir, SCORE_FILE), JSON.stringify(score, null, 2) + "\n");
  log(`Model ${metadata.modelId} evaluated using ${reader.rows} data instances: ${estimator.name} average cost ${est.value.toFixed(4)} ` +
    `(${(est.ci.lower).toFixed(4)} .. ${(est.ci.upper).toFixed(4)})`);
  return score;
}

if (require.main === module) runAsMain(evaluateJob);
