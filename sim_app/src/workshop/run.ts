/**
 * The whole workshop, headless (`npm start`): the simulated shuttle app plugged into the
 * continual-learning loop of @cbkit/common (`runContinualLearning`: warm start, first model,
 * evaluation, deploy, then `loops` rounds of serve -> rewards -> join -> train -> evaluate
 * challenger and champion on the same data -> gate -> deploy). Notebook 3 runs the same loop one
 * step per cell (`startExperiment`, `runLoop`), with the same settings (config workflow.deploy_gate
 * and workflow.join_ratio).
 */
import { loadConfig, runContinualLearning, type Config, type ContinualLearningRun, type GateData, type GateRule, type LoopRow } from "@cbkit/common";
import { resolveShuttleDataFile, StatlogSimApp } from "../statlog";
import { workshopLoops } from "./cloud-cost";

export interface WorkshopOptions {
  config?: string | Config;
  /** Default: 15 in local mode, 5 in SageMaker mode (workshopLoops). */
  loops?: number;
  batchSize?: number;
  warmStart?: number;
  seed?: number;
  experimentId?: string;
  keepEndpoint?: boolean;
  gate?: GateRule;
  /** Requests in flight at once (default 4; see LoopSettings.concurrency). */
  concurrency?: number;
  /**
   * What the gate compares the models on: "holdout" (default; every eval split so far, including
   * the uniformly random warm-start one) or "latest" (the newest join's eval split, as the original).
   */
  gateOn?: GateData;
  /** Decisions per InvokeEndpoint call (default 50, JSON lines); 1 = one request per user. */
  requestBatch?: number;
  /** Called during a batch with (loop, done, total). */
  onProgress?: (loop: number, done: number, total: number) => void;
  /** Called after each loop. */
  onLoop?: (row: LoopRow) => void;
  log?: (message: string) => void;
}

/** The loop's run, with the seed and the shuttle app's reference rewards. */
export interface WorkshopResult extends ContinualLearningRun {
  seed: number;
  oracleReward: number;
  majorityReward: number;
  randomReward: number;
}

export async function runWorkshop(options: WorkshopOptions = {}): Promise<WorkshopResult> {
  const config = typeof options.config === "object" ? options.config : loadConfig(options.config);
  if (options.seed !== undefined) config.seed = options.seed;
  const seed = config.seed;
  // The app refuses a config whose num_arms or num_features differ from its own.
  const app = new StatlogSimApp({ dataFile: resolveShuttleDataFile(config), seed, config });
  const run = await runContinualLearning(config, app, {
    experimentId: options.experimentId,
    loops: options.loops ?? workshopLoops(config),
    warmStart: options.warmStart,
    settings: {
      gate: options.gate,
      gateOn: options.gateOn,
      batchSize: options.batchSize,
      concurrency: options.concurrency === undefined ? undefined : Math.max(1, options.concurrency),
      requestBatch: options.requestBatch === undefined ? undefined : Math.max(1, options.requestBatch),
    },
    keepEndpoint: options.keepEndpoint,
    onProgress: options.onProgress,
    onLoop: options.onLoop,
    log: options.log,
  });
  return { ...run, seed, oracleReward: app.oracleReward, majorityReward: app.majorityReward, randomReward: app.randomReward };
}
