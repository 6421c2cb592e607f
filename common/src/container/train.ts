/**
 * Training entry point (SageMaker training-job contract, see contract.ts).
 *
 * - no `training` channel: saves a fresh (untrained, uniform-exploring) model — the first model;
 * - `training` only: learns a new model from the joined files;
 * - `training` + `pretrained_model`: continues learning from the parent model (warm start). The
 *   hyperparameters' tunable learner settings (epsilon, lambda, learning_rate, min_probability, ...)
 *   apply to the new model; one that would change the parent's weight layout (bits, feature_map,
 *   num_arms, egreedy to bag, ...) fails the job naming the key (policies.ts marks which is which).
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
import { CbLearner, ModelLayoutError, learnerOptionsFromParameters, loadModel, nextModelOptions, parameterValueText, saveModel } from "../learner";
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

/** Where config.yaml holds the learner's settings. */
const PARAMETERS_KEY = "config.yaml algor.algorithms_parameters";

/**
 * The parent model with the hyperparameters' learner settings applied (the next model of its
 * line), logging what changed; a setting that would change the weight layout fails the job with
 * the key, both values and how to start a new model line.
 */
function continueParent(parent: CbLearner, hp: Record<string, string>, parentId: string, log: JobLog): CbLearner {
  let next;
  try {
    next = nextModelOptions(parent.options, parent.numFeatures, hp);
  } catch (e) {
    if (!(e instanceof ModelLayoutError)) throw e;
    const lines = e.changes.map(
      (c) =>
        `the parent model ${parentId} has ${parameterValueText(c.key, c.parent)} but ${c.key} is ${String(c.next)} (${PARAMETERS_KEY}.${c.key}): ${c.why}, ` +
        `so the models of a line keep it. Set ${c.key} back to ${String(c.parent)}`,
    );
    throw new Error(`${lines.join("; ")}; or start a new model line with the new setting: initializeFirstModel() on this experiment, or a new experiment id`);
  }
  if (next.applied.length === 0) return parent;
  log(`settings changed since the parent model (applied to this model): ${next.applied.map((c) => `${c.key} ${String(c.parent)} -> ${String(c.next)}`).join(", ")}`);
  return parent.withOptions(next.options);
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
    log(`warm start from model ${parentModelId} (${learner.examplesSeen} examples seen)`);
    learner = continueParent(learner, hp, parentModelId, log);
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
  await saveModel(learner, paths.modelDir, { modelId, parentModelId, ...(dataGiven ? { training: { used, skipped, firstSkipped: reasons } } : {}) });
  log(`Model learned using ${used} training experiences (${skipped} skipped); ${learner.examplesSeen} seen in total.`);
  return { modelId, used, skipped, reasons, examplesSeen: learner.examplesSeen, warmStartedFrom: parentModelId };
}

if (require.main === module) runAsMain(trainJob);
