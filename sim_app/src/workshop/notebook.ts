/**
 * What the workshop notebooks call beside the common loop (startExperiment, runLoop of
 * @cbkit/common), so their cells stay short and say what they do: opening an experiment without
 * wiping one silently, the traffic of the inference notebook, and the exploration-policy comparison.
 */
import {
  ExperimentManager,
  learnerOptionsFromParameters,
  type Config,
  type InferenceMonitor,
  type Predictor,
} from "@cbkit/common";
import { simulate } from "../simulate/simulate";
import type { StatlogSimApp } from "../statlog";

/** Raised when a notebook would start over an experiment that already has models. */
export class ExperimentHasModelsError extends Error {}

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
        `so this cell stops instead of deleting them. To carry on with it, skip to "Resume after a kernel ` +
        `restart"; to delete it and start over, set ${flag} = true in this cell and run it again.`,
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
