/**
 * Training entry point (SageMaker training-job contract, see contract.ts).
 *
 * - no `training` channel: saves a fresh (untrained, uniform-exploring) model — the first model;
 * - `training` only: learns a new model from the joined files;
 * - `training` + `pretrained_model`: continues learning from the parent model (warm start).
 *
 * Hyperparameters: the config's `algorithms_parameters` (strings), plus `seed`, `model_id`
 * (defaults to env TRAINING_JOB_NAME) and `parent_model_id`.
 * Run as a process: `node common/dist/container/train.js [--root /opt/ml]`.
 */
import { readJoinedRecords } from "../data";
import { CbLearner, learnerOptionsFromParameters, loadModel, saveModel } from "../learner";
import { channelHasFiles, readHyperparameters, runAsMain, type JobLog, type JobPaths } from "./contract";

export interface TrainingOutcome {
  modelId: string;
  used: number;
  skipped: number;
  examplesSeen: number;
  warmStartedFrom: string | null;
}

export async function trainJob(paths: JobPaths, log: JobLog): Promise<TrainingOutcome> {
  const hp = readHyperparameters(paths);
  const modelId = hp.model_id ?? process.env.TRAINING_JOB_NAME;
  if (!modelId) throw new Error("hyperparameter 'model_id' is missing (or set env TRAINING_JOB_NAME)");
  const seed = hp.seed !== undefined ? Number(hp.seed) : 1;
  if (!Number.isFinite(seed)) throw new Error(`hyperparameter 'seed' must be a number, got '${hp.seed}'`);
  const trainingDir = paths.channel("training");
  const pretrainedDir = paths.channel("pretrained_model");
  const hasData = channelHasFiles(trainingDir);
  const hasParent = channelHasFiles(pretrainedDir);

  let learner: CbLearner;
  let parentModelId: string | null = null;
  if (hasData && hasParent) {
    const loaded = await loadModel(pretrainedDir);
    learner = loaded.learner;
    parentModelId = loaded.metadata.modelId;
    log(`warm start from model ${parentModelId} (${learner.examplesSeen} examples seen)`);
  } else {
    learner = CbLearner.create(learnerOptionsFromParameters(hp, seed));
    if (!hasData) log(hasParent ? "no training data: the pretrained model is ignored, saving a fresh model" : "no training data: saving a fresh model");
  }
  log(`learner: ${learner.vwArguments}`);

  let used = 0;
  let skipped = 0;
  if (hasData) {
    const report = await learner.train(readJoinedRecords(trainingDir));
    used = report.used;
    skipped = report.skipped;
    for (const r of report.reasons) log(`skipped: ${r}`);
    if (used === 0) throw new Error(`the training data in ${trainingDir} holds no usable record (${skipped} skipped)`);
  }
  await saveModel(learner, paths.modelDir, { modelId, parentModelId });
  log(`Model learned using ${used} training experiences (${skipped} skipped); ${learner.examplesSeen} seen in total.`);
  return { modelId, used, skipped, examplesSeen: learner.examplesSeen, warmStartedFrom: parentModelId };
}

if (require.main === module) runAsMain(trainJob);
