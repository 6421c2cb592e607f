/**
 * What the workshop notebooks call beside the common loop (startExperiment, runLoop of
 * @cbkit/common), so their cells stay short and say what they do: opening an experiment without
 * wiping one silently, the traffic of the inference notebook, and the exploration-policy comparison.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import {
  ExperimentManager,
  learnerOptionsFromParameters,
  loadModel,
  type Config,
  type InferenceMonitor,
  type Predictor,
} from "@cbkit/common";
import { clipInterval, formatScore } from "@cbkit/common/display";
import type { OpeEstimate, ScoreView } from "@cbkit/common/ope";
import { readTar } from "@cbkit/common/sagemaker";
import { simulate } from "../simulate/simulate";
import type { StatlogSimApp } from "../statlog";

/**
 * Raised when a notebook would start over an experiment that already has models. The kernel prints
 * only its message (no stack trace): it is an expected stop with instructions, not a crash.
 */
export class ExperimentHasModelsError extends Error {
  override name = "ExperimentHasModelsError";
  [inspect.custom](): string {
    return this.message;
  }
}

/**
 * Opens an experiment for a notebook that starts from nothing. An experiment with models is not
 * wiped unless `startOver` is true: it throws, naming the models and the two ways on (resume, or
 * set the flag). Leftovers without any model (an interrupted start) are removed and reported.
 */
export async function openExperiment(
  config: Config,
  experimentId: string,
  options: { startOver?: boolean; flag?: string; log?: (message: string) => void } = {},
): Promise<ExperimentManager> {
  const say = options.log ?? ((m: string) => console.log(m));
  const flag = options.flag ?? "START_OVER";
  const existing = await ExperimentManager.create(config, experimentId, options.log ? { log: options.log } : {});
  const models = await existing.listModels();
  const joins = await existing.listJoinJobs();
  const endpoint = await existing.describeEndpoint();
  if (models.length > 0 && options.startOver !== true) {
    const hosted = existing.lastHostedModelId;
    await existing.close();
    throw new ExperimentHasModelsError(
      `experiment "${experimentId}" already has ${models.length} model(s)${hosted ? ` (serving ${hosted})` : ""}, ` +
        `so this cell stops here instead of deleting them (the cells below need this one: run them ` +
        `after one of the two ways on).\n` +
        `  1. Carry on with it: run the imports and settings cells, then skip to "Resume after a kernel ` +
        `restart".\n` +
        `  2. Start afresh: set ${flag} = true in this cell and run it again (or run notebook 4 to ` +
        `clean up, or choose a new experiment id).`,
    );
  }
  if (models.length === 0 && joins.length === 0 && !endpoint) return existing;
  await existing.cleanResource({ deleteData: true });
  await existing.cleanTableRecords();
  await existing.close();
  say(`removed the earlier run of "${experimentId}": ${models.length} model(s), ${joins.length} join job(s)` +
    `${endpoint ? ", its endpoint" : ""}`);
  return ExperimentManager.create(config, experimentId, options.log ? { log: options.log } : {});
}

/**
 * Sends requests without pause from `concurrency` clients until `during()` settles, counting each
 * answer (and its serving model) or failure in the monitor. With `recordRewards`, the app keeps
 * every answered decision with its reward (`joinedDataBuffer`) for the next training.
 */
export async function sendRequestsWhile(
  predictor: Predictor,
  app: StatlogSimApp,
  monitor: InferenceMonitor,
  options: { concurrency: number; recordRewards: boolean },
  during: () => Promise<void>,
): Promise<void> {
  const run = { stop: false };
  const client = async () => {
    while (!run.stop) {
      const u = app.chooseRandomUser();
      const t0 = performance.now();
      try {
        const d = await predictor.getAction(u.context);
        monitor.success(d.modelId, performance.now() - t0);
        if (options.recordRewards) app.getReward({ ...d, userId: u.userId });
      } catch (err) {
        monitor.failure(err);
      }
    }
  };
  monitor.start();
  const clients = Array.from({ length: Math.max(1, options.concurrency) }, client);
  try {
    await during();
  } finally {
    run.stop = true;
    await Promise.all(clients);
  }
}

/** One variant of the comparison: a label and the algorithm parameters it changes. */
export interface PolicyVariant {
  label: string;
  params: Record<string, unknown>;
}

export interface PolicyComparisonRow {
  policy: string;
  loopRewards: number[];
  overall: number;
  lastFive: number;
}

/**
 * The notebooks' protocol in this process (`simulate`: no endpoint, no jobs) for each variant of
 * the configured algorithm parameters: the mean reward of every loop.
 */
export async function compareExplorationPolicies(
  config: Config,
  variants: readonly PolicyVariant[],
  options: { loops: number; batchSize: number; warmStart: number; dataFile: string },
): Promise<PolicyComparisonRow[]> {
  const rows: PolicyComparisonRow[] = [];
  for (const v of variants) {
    const learner = learnerOptionsFromParameters({ ...config.algor.algorithms_parameters, ...v.params }, config.seed);
    const r = await simulate({ learner, seed: config.seed, ...options });
    rows.push({ policy: v.label, loopRewards: r.loopRewards, overall: r.overall, lastFive: r.lastFive });
  }
  return rows;
}

/** The offline estimate of a model next to the cost it then had live: 1 − the served batch's mean reward. */
export interface EstimateVersusLive {
  /** The estimate as shown (clipped to 0..1): "0.210 [0.000, 0.566]". */
  estimate: string;
  liveCost: number;
  /** Whether the live cost lies inside the (clipped) interval. */
  inside: boolean;
  /** One line: "estimated 0.210 [0.000, 0.566]; served 1 − 0.760 = 0.240: inside the interval". */
  text: string;
}

/** Counterfactual evaluation checked against what happened: did the served batch's cost fall in the interval? */
export function estimateVersusLive(score: ScoreView, meanReward: number): EstimateVersusLive {
  if (!(meanReward >= 0 && meanReward <= 1)) throw new RangeError(`meanReward must be in [0, 1], got ${meanReward}`);
  const c = clipInterval(score);
  const liveCost = 1 - meanReward;
  const inside = liveCost >= c.lower && liveCost <= c.upper;
  const estimate = formatScore(score);
  const where = inside ? "inside the interval" : liveCost < c.lower ? "below the interval" : "above the interval";
  const text = `estimated ${estimate}; served 1 − ${meanReward.toFixed(3)} = ${liveCost.toFixed(3)}: ${where}`;
  return { estimate, liveCost, inside, text };
}

/**
 * The serving model and its most recent offline estimate (the one the deploy decision saw), or
 * null when no model serves or it was never scored.
 */
export async function servingEstimate(manager: ExperimentManager): Promise<{ modelId: string; score: OpeEstimate } | null> {
  const modelId = manager.lastHostedModelId;
  if (!modelId) return null;
  const record = (await manager.listModels()).find((m) => m.model_id === modelId);
  const scores = Object.values(record?.eval_scores ?? {});
  return scores.length > 0 ? { modelId, score: scores[scores.length - 1] } : null;
}

/** One action as the model sees it for a context: its predicted cost and its probability. */
export interface ActionView {
  action: number;
  predicted_cost: number;
  probability: number;
}

/**
 * What a trained model thinks of each action for one context: the predicted cost ĉ(x, a) =
 * 1 − r̂(x, a) of every action next to the probability π(a|x) it gives it. Reads the model's
 * artifact from the experiment's store (a folder in local mode, model.tar.gz on SageMaker).
 */
export async function actionCosts(manager: ExperimentManager, modelId: string, context: readonly number[]): Promise<ActionView[]> {
  const { objects, layout } = manager.platform;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-model-"));
  try {
    const files = await objects.download(objects.uriOf(layout.modelArtifactPrefix(manager.experimentId, modelId)), dir);
    const archive = files.find((f) => path.basename(f) === "model.tar.gz");
    if (archive) {
      for (const e of readTar(fs.readFileSync(archive))) {
        fs.mkdirSync(path.dirname(path.join(dir, e.path)), { recursive: true });
        fs.writeFileSync(path.join(dir, e.path), e.data);
      }
    }
    const modelJson = [dir, ...files.map(path.dirname)].find((d) => fs.existsSync(path.join(d, "model.json")));
    if (!modelJson) throw new Error(`model ${modelId} of ${manager.experimentId} has no model.json in its artifact`);
    const { learner } = await loadModel(modelJson);
    const costs = learner.predictCosts([...context]);
    const pmf = learner.predictPmf([...context]);
    return Array.from(costs, (c, i) => ({ action: i + 1, predicted_cost: c, probability: pmf[i] }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
