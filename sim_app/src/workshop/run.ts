/**
 * The whole workshop, headless: warm start, first model, evaluation, deploy (`startExperiment`),
 * then `loops` rounds (`runLoop`) of `batchSize` interactions through the endpoint, each followed
 * by rewards -> join -> train -> evaluate challenger and champion on the same data -> deploy when
 * the gate says so. Notebook 3 calls the same two functions, so `npm start` and the notebook run
 * the same loop with the same settings (config workflow.deploy_gate and workflow.join_ratio).
 *
 * The gate ("ci", the default) deploys the challenger only when the upper end of its confidence
 * interval is below the champion's estimated cost: the challenger must be better beyond its own
 * uncertainty, so a lucky estimate on a small eval split does not replace a good model. "point"
 * is the original's rule (challenger cost <= champion cost); "always" deploys every model. Both
 * models are scored on the same data: by default the holdout (every eval split so far), else the
 * newest join's eval split.
 */
import * as path from "node:path";
import {
  ExperimentManager,
  distinctDecimals,
  formatDifference,
  loadConfig,
  sortableSuffix,
  type Config,
  type OpeEstimate,
} from "@cbkit/common";
import { prepareStatlogWarmStartData, resolveShuttleDataFile, StatlogSimApp } from "../statlog";
import { workshopLoops } from "./cloud-cost";

export type GateRule = "ci" | "point" | "always";

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
  gateOn?: "holdout" | "latest";
  /** Decisions per InvokeEndpoint call (default 50, JSON lines); 1 = one request per user. */
  requestBatch?: number;
  /** Called during a batch with (loop, done, total). */
  onProgress?: (loop: number, done: number, total: number) => void;
  /** Called after each loop. */
  onLoop?: (row: LoopRow) => void;
  log?: (message: string) => void;
}

export interface LoopRow {
  loop: number;
  meanReward: number;
  /** The 0/1 reward of each interaction of the loop, in order. */
  rewards: number[];
  /** The model that served the loop, and its score on the gate's data. */
  championId: string;
  champion: OpeEstimate;
  /** The model trained after the loop, and its score on the same data. */
  challengerId: string;
  challenger: OpeEstimate;
  deployed: boolean;
  hostedModelId: string;
  joined: { train: number; eval: number };
  seconds: number;
}

export interface WorkshopResult {
  experimentId: string;
  seed: number;
  gate: GateRule;
  gateOn: "holdout" | "latest";
  loops: LoopRow[];
  /** One 0/1 reward per interaction made in the loops, in order. */
  rewards: number[];
  firstModelId: string;
  first: OpeEstimate;
  baselineCost: number;
  oracleReward: number;
  majorityReward: number;
  randomReward: number;
  seconds: number;
  requestBatch: number;
  endpointKept: boolean;
  endpointUrl: string | null;
  workspace: string | null;
}

/** What the gate reads of a score (an `OpeEstimate`): the estimated cost and its interval. */
export type GateScore = Pick<OpeEstimate, "value" | "ci">;

/** The gate's reason in words, with enough digits to tell two close costs apart. */
export function gateReason(rule: GateRule, challenger: GateScore, champion: GateScore): string {
  if (rule === "always") return "gate always: every challenger is deployed";
  const diff = challenger.value - champion.value;
  if (rule === "point") {
    const d = distinctDecimals([challenger.value, champion.value]);
    const op = diff <= 0 ? "<=" : ">";
    return `challenger cost ${challenger.value.toFixed(d)} ${op} champion ${champion.value.toFixed(d)} (difference ${formatDifference(diff, d)})`;
  }
  const upper = challenger.ci.upper;
  const d = distinctDecimals([upper, champion.value]);
  const op = upper < champion.value ? "<" : ">=";
  return (
    `challenger upper bound ${upper.toFixed(d)} ${op} champion cost ${champion.value.toFixed(d)}` +
    ` (costs ${challenger.value.toFixed(d)} vs ${champion.value.toFixed(d)}, difference ${formatDifference(diff, d)})`
  );
}

export function gatePasses(rule: GateRule, challenger: GateScore, champion: GateScore): boolean {
  if (rule === "always") return true;
  if (rule === "point") return challenger.value <= champion.value;
  return challenger.ci.upper < champion.value;
}

/** How each loop runs: the same for `npm start` (runWorkshop) and notebook 3. */
export interface LoopSettings {
  gate: GateRule;
  /** "holdout": both models scored on every eval split so far; "latest": on the newest one. */
  gateOn: "holdout" | "latest";
  /** Share of the joined records used for training (config workflow.join_ratio). */
  ratio: number;
  batchSize: number;
  /**
   * Requests in flight at once (default 4). Arrival order does not change the models: the join
   * writes its rows sorted by event id, so a seed reproduces a run at any concurrency.
   */
  concurrency: number;
  /** Decisions per InvokeEndpoint call (JSON lines); 1 = one request per user. */
  requestBatch: number;
  /** Event ids are `<prefix>-l<loop>-<i>`; the default `s<seed>` makes a seed reproduce a run. */
  eventIdPrefix: string;
}

/** The loop settings from the config (workflow.deploy_gate, workflow.join_ratio) and overrides. */
export function loopSettings(config: Config, overrides: Partial<LoopSettings> = {}): LoopSettings {
  const s: LoopSettings = {
    gate: config.workflow.deploy_gate ?? "ci",
    gateOn: "holdout",
    ratio: config.workflow.join_ratio,
    batchSize: 500,
    concurrency: 4,
    requestBatch: 50,
    eventIdPrefix: `s${config.seed}`,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
  if (!["ci", "point", "always"].includes(s.gate)) throw new RangeError(`gate must be ci, point or always, got '${s.gate}'`);
  if (!["holdout", "latest"].includes(s.gateOn)) throw new RangeError(`gateOn must be holdout or latest, got '${s.gateOn}'`);
  for (const [name, v] of [["batchSize", s.batchSize], ["concurrency", s.concurrency], ["requestBatch", s.requestBatch]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  return s;
}

/** What `startExperiment` did: the first model's score and the warm-start data's own cost. */
export interface StartSummary {
  firstModelId: string;
  first: OpeEstimate;
  baselineCost: number;
  endpointUrl: string;
}

/**
 * Warm start (uniformly random logged decisions, joined on the client side), the first model,
 * its counterfactual score and its deployment.
 */
export async function startExperiment(
  manager: ExperimentManager,
  options: { dataFile: string; warmStart: number; seed: number; ratio: number },
): Promise<StartSummary> {
  const warm = prepareStatlogWarmStartData({ dataFile: options.dataFile, batchSize: options.warmStart, seed: options.seed });
  await manager.ingestJoinedData(warm, options.ratio);
  const baseline = await manager.evaluateHistoricalData(manager.lastJoinedJobEvalData);
  await manager.initializeFirstModel({ inputDataUri: manager.lastJoinedJobTrainData });
  const firstId = manager.lastTrainedModelId as string;
  const first = await manager.evaluateModel();
  const endpointUrl = (await manager.deployModel({ modelId: firstId })).url;
  return { firstModelId: firstId, first, baselineCost: baseline.cost, endpointUrl };
}

/** Sends the users' requests in mini-batches, `concurrency` at a time; returns the rewards. */
async function serveUsers(
  manager: ExperimentManager,
  sim: StatlogSimApp,
  settings: LoopSettings,
  loop: number,
  onProgress?: (done: number, total: number) => void,
): Promise<{ event_id: string; reward: number }[]> {
  const n = settings.batchSize;
  const users = Array.from({ length: n }, () => sim.chooseRandomUser());
  const rewards: { event_id: string; reward: number }[] = new Array(n);
  const chunks: number[][] = [];
  for (let i = 0; i < n; i += settings.requestBatch) {
    chunks.push(Array.from({ length: Math.min(settings.requestBatch, n - i) }, (_, k) => i + k));
  }
  const predictor = manager.predictor;
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const idx = chunks[next++];
      // Event ids depend on the prefix (default: the seed) only, so a seed reproduces a run.
      const eventIds = idx.map((i) => `${settings.eventIdPrefix}-l${loop}-${i}`);
      const actions =
        idx.length === 1
          ? [await predictor.getAction(users[idx[0]].context, { eventId: eventIds[0] })]
          : await predictor.getActions(idx.map((i) => users[i].context), { eventIds });
      idx.forEach((i, k) => {
        rewards[i] = { event_id: actions[k].eventId, reward: sim.rewardOf(users[i].userId, actions[k].action) };
      });
      done += idx.length;
      onProgress?.(done, n);
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.concurrency, chunks.length) }, worker));
  return rewards;
}

/**
 * One loop: `batchSize` users through the endpoint -> publish the batch's mean reward -> ingest
 * the rewards and join them with the endpoint's decision log -> train the challenger (from the
 * last trained model) -> score challenger and champion on the same data -> deploy when the gate
 * passes. The experiment needs a deployed model (`startExperiment`, or an earlier loop).
 */
export async function runLoop(
  manager: ExperimentManager,
  sim: StatlogSimApp,
  settings: LoopSettings,
  loop: number,
  onProgress?: (done: number, total: number) => void,
): Promise<LoopRow> {
  const t0 = performance.now();
  if (!manager.lastHostedModelId) {
    throw new Error(`experiment ${manager.experimentId} has no deployed model yet: deploy one first (startExperiment, or deployModel)`);
  }
  const served = await serveUsers(manager, sim, settings, loop, onProgress);
  const rewards = served.map((r) => r.reward);
  const meanReward = rewards.reduce((s, r) => s + r, 0) / rewards.length;
  await manager.publishRewards(meanReward);
  const join = await manager.join(await manager.ingestRewards(served), { ratio: settings.ratio });
  await manager.trainNextModel();
  const challengerId = manager.lastTrainedModelId as string;
  const championId = manager.lastHostedModelId;
  const gateData = settings.gateOn === "holdout" ? manager.holdoutDataUri : manager.lastJoinedJobEvalData;
  const score = (modelId: string) => manager.evaluateModel({ modelId, inputDataUri: gateData });
  const challenger = await score(challengerId);
  const champion = await score(championId);
  const deployed = gatePasses(settings.gate, challenger, champion);
  if (deployed) await manager.deployModel({ modelId: challengerId });
  return {
    loop,
    meanReward,
    rewards,
    championId,
    champion,
    challengerId,
    challenger,
    deployed,
    hostedModelId: manager.lastHostedModelId as string,
    joined: { train: join.counts?.train ?? 0, eval: join.counts?.eval ?? 0 },
    seconds: (performance.now() - t0) / 1000,
  };
}

export async function runWorkshop(options: WorkshopOptions = {}): Promise<WorkshopResult> {
  const t0 = performance.now();
  const config = typeof options.config === "object" ? options.config : loadConfig(options.config);
  if (options.seed !== undefined) config.seed = options.seed;
  const seed = config.seed;
  const loops = options.loops ?? workshopLoops(config);
  const warmStart = options.warmStart ?? 500;
  const settings = loopSettings(config, {
    gate: options.gate,
    gateOn: options.gateOn,
    batchSize: options.batchSize,
    concurrency: options.concurrency === undefined ? undefined : Math.max(1, options.concurrency),
    requestBatch: options.requestBatch === undefined ? undefined : Math.max(1, options.requestBatch),
  });
  const log = options.log ?? (() => undefined);
  for (const [name, v] of [["loops", loops], ["warmStart", warmStart]] as const) {
    if (!Number.isInteger(v) || v < (name === "loops" ? 0 : 1)) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  const experimentId = options.experimentId ?? `workshop-${sortableSuffix()}`;
  const dataFile = resolveShuttleDataFile(config);
  // The app refuses a config whose num_arms or num_features differ from its own.
  const sim = new StatlogSimApp({ dataFile, seed, config });
  const manager = await ExperimentManager.create(config, experimentId, { log });
  let endpointUrl: string | null = null;
  let kept = false;
  try {
    const start = await startExperiment(manager, { dataFile, warmStart, seed, ratio: settings.ratio });
    endpointUrl = start.endpointUrl;
    const rows: LoopRow[] = [];
    for (let loop = 1; loop <= loops; loop++) {
      const row = await runLoop(manager, sim, settings, loop, (done, total) => options.onProgress?.(loop, done, total));
      rows.push(row);
      options.onLoop?.(row);
    }
    kept = options.keepEndpoint === true;
    return {
      experimentId,
      seed,
      gate: settings.gate,
      gateOn: settings.gateOn,
      loops: rows,
      rewards: rows.flatMap((r) => r.rewards),
      firstModelId: start.firstModelId,
      first: start.first,
      baselineCost: start.baselineCost,
      oracleReward: sim.oracleReward,
      majorityReward: sim.majorityReward,
      randomReward: sim.randomReward,
      seconds: (performance.now() - t0) / 1000,
      requestBatch: settings.requestBatch,
      endpointKept: kept,
      endpointUrl,
      workspace: manager.localMode ? path.resolve(config.dir, config.workspace) : null,
    };
  } finally {
    if (!kept) await manager.cleanResource().catch((err: unknown) => log(`clean-up failed: ${(err as Error).message}`));
    await manager.close();
  }
}
