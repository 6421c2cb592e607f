/**
 * Training entry point (SageMaker training-job contract, see contract.ts).
 *
 * - no `training` channel: saves a fresh (untrained, uniform-exploring) model — the first model;
 * - `training` only: learns a new model from the joined files;
 * - `training` + `pretrained_model`: continues learning from the parent model (warm start).
 * A `training` channel that is present but holds no usable record fails the job (it never saves a
 * model trained on 0 records).
 *
 * Hyperparameters: the config's `algorithms_parameters` (strings; `num_arms` and `num_features`
 * fix the model's shape), plus `seed`, `model_id` (defaults to env TRAINING_JOB_NAME),
 * `parent_model_id`, `min_reward` / `max_reward` (the possible rewards, default 0 and 1: a record
 * outside fails the job) and `strict` ("true": any skipped row fails the job).
 * Run as a process: `node common/dist/container/train.js [--root /opt/ml]`.
 */
import * as fs from "node:fs";
import { readJoinedRecords } from "../data";
import { CbLearner, NUM_ARMS_KEY, NUM_FEATURES_KEY, learnerOptionsFromParameters, loadModel, saveModel } from "../learner";
import {
  booleanHyperparameter,
  channelHasFiles,
  numberHyperparameter,
  readHyperparameters,
  rewardRangeHyperparameters,
  runAsMain,
  type JobLog,
  type JobPaths,
} from "./contract";

export interface TrainingOutcome {
  modelId: string;
  used: number;
  skipped: number;
  /** The first few skipped rows, `file:line: why`. */
  reasons: string[];
  examplesSeen: number;
  warmStartedFrom: string | null;
}

/** Refuses a parent model whose shape differs from the config's (hyperparameters num_arms / num_features). */
function checkParentMatchesConfig(learner: CbLearner, hp: Record<string, string>, parentId: string): void {
  const arms = hp.num_arms;
  if (arms !== undefined && arms.trim() !== "" && Number(arms) !== learner.numArms) {
    throw new Error(`the parent model ${parentId} has ${learner.numArms} actions but num_arms is ${arms} (config.yaml ${NUM_ARMS_KEY}); train a new first model or fix the config`);
  }
  const feats = hp.num_features;
  if (feats !== undefined && feats.trim() !== "" && learner.numFeatures !== null && Number(feats) !== learner.numFeatures) {
    throw new Error(`the parent model ${parentId} has ${learner.numFeatures} features but num_features is ${feats} (config.yaml ${NUM_FEATURES_KEY}); train a new first model or fix the config`);
  }
}

export async function trainJob(paths: JobPaths, log: JobLog): Promise<TrainingOutcome> {
  const hp = readHyperparameters(paths);
  const modelId = hp.model_id ?? process.env.TRAINING_JOB_NAME;
  if (!modelId) throw new Error("hyperparameter 'model_id' is missing (or set env TRAINING_JOB_NAME)");
  const seed = numberHyperparameter(hp, "seed", 1);
  const strict = booleanHyperparameter(hp, "strict");
  const range = rewardRangeHyperparameters(hp);
  const trainingDir = paths.channel("training");
  const pretrainedDir = paths.channel("pretrained_model");
  const dataGiven = fs.existsSync(trainingDir);
  if (dataGiven && !channelHasFiles(trainingDir)) {
    throw new Error(`the training channel ${trainingDir} is empty: the training data given holds no file (check the data URI; the job never saves a model trained on 0 records)`);
  }
  const hasParent = channelHasFiles(pretrainedDir);

  let learner: CbLearner;
  let parentModelId: string | null = null;
  if (dataGiven && hasParent) {
    const loaded = await loadModel(pretrainedDir);
    learner = loaded.learner;
    parentModelId = loaded.metadata.modelId;
    checkParentMatchesConfig(learner, hp, parentModelId);
    log(`warm start from model ${parentModelId} (${learner.examplesSeen} examples seen)`);
  } else {
    learner = CbLearner.create(learnerOptionsFromParameters(hp, seed));
    if (!dataGiven) log(hasParent ? "no training data: the pretrained model is ignored, saving a fresh model" : "no training data: saving a fresh model");
  }
  log(`learner: ${learner.description}`);

  let used = 0;
  let skipped = 0;
  let reasons: string[] = [];
  if (dataGiven) {
    const reader = readJoinedRecords(trainingDir, { strict });
    const report = await learner.train(reader, { strict, ...range });
    ({ used, skipped, reasons } = report);
    if (skipped > 0) {
      log(`WARNING: skipped ${skipped} malformed row(s) of the training data (hyperparameter strict=true makes this an error); the first:`);
      for (const r of reasons) log(`  skipped ${r}`);
    }
    if (used === 0) throw new Error(`the training data in ${trainingDir} gave 0 records to train on: ${reader.whyNoRecords()}`);
  }
  await saveModel(learner, paths.modelDir, { modelId, parentModelId });
  log(`Model learned using ${used} training experiences (${skipped} skipped); ${learner.examplesSeen} seen in total.`);
  return { modelId, used, skipped, reasons, examplesSeen: learner.examplesSeen, warmStartedFrom: parentModelId };
}

if (require.main === module) runAsMain(trainJob);
