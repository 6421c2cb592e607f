/**
 * The continual-learning loop, for any client application (`ClientApplication`):
 *
 *   startExperiment   warm-start data -> ingest and split -> first model -> its score -> deploy
 *   runLoop           `batchSize` users through the endpoint -> rewards -> join -> train the
 *                     challenger -> score challenger and champion on the same data -> deploy when
 *                     the gate (gate.ts) passes
 *   runContinualLearning  a new experiment: startExperiment, `loops` × runLoop, then clean-up
 *
 * `npm start` (runContinualLearning), notebook 3 (startExperiment and runLoop, one cell per step)
 * and notebook 1's resume (runLoop) run this one loop with the settings of config.yaml
 * (workflow.deploy_gate, workflow.join_ratio) read by `loopSettings`. Both models are scored on
 * the same data: by default the holdout (every eval split so far), else the newest join's eval
 * split. Event ids depend on the settings only, so a seed reproduces a run.
 */
import { resolveWorkspaceDir, type Config } from "../config/load";
import type { JoinedRecord } from "../data/records";
import { checkSplitRatio } from "../data/split";
import type { LoopResult } from "../display/dashboard";
import type { OpeEstimate } from "../ope/score";
import { checkGateRule, gatePasses, type GateRule } from "./gate";
import { sortableSuffix } from "./ids";
import { ExperimentManager } from "./manager";

/** A user of the client application: the context the endpoint decides on, plus whatever the app keeps. */
export interface ClientUser {
  readonly context: ArrayLike<number>;
}

/**
 * What the loop needs from the client application (the app whose users the endpoint serves): users
 * with their contexts, the reward of the action taken for a user, and warm-start data. The kit's
 * simulated shuttle app (`StatlogSimApp` of @cbkit/sim_app) is one; the loop knows nothing else of it.
 */
export interface ClientApplication<User extends ClientUser = ClientUser> {
  /** The next user who asks for a decision. */
  nextUser(): User;
  /** The reward the user gives the action (1-based) the endpoint chose for them. */
  rewardFor(user: User, action: number): number;
  /** `count` decisions logged before the first model (by a uniformly random policy, say), joined with their rewards. */
  warmStartData(count: number): readonly JoinedRecord[];
}

/** What the gate compares the models on: every eval split so far, or the newest join's eval split (the original). */
export const GATE_DATA = ["holdout", "latest"] as const;
export type GateData = (typeof GATE_DATA)[number];

/** Returns `value` when it is one of GATE_DATA; otherwise throws a RangeError naming `field`. */
export function checkGateData(value: unknown, field = "gateOn"): GateData {
  if ((GATE_DATA as readonly unknown[]).includes(value)) return value as GateData;
  throw new RangeError(`${field} must be ${GATE_DATA.join(" or ")}, got '${String(value)}'`);
}

/** How each loop runs: the same for `npm start` and the notebooks. */
export interface LoopSettings {
  gate: GateRule;
  /** "holdout": both models scored on every eval split so far; "latest": on the newest one. */
  gateOn: GateData;
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
  checkGateRule(s.gate, "gate");
  checkGateData(s.gateOn, "gateOn");
  checkSplitRatio(s.ratio, "ratio");
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
 * Warm start (`warmStart` records of the app's logged decisions, joined on the client side and
 * split with `ratio`), the first model, its counterfactual score and its deployment.
 */
export async function startExperiment(
  manager: ExperimentManager,
  app: Pick<ClientApplication, "warmStartData">,
  options: { warmStart: number; ratio: number },
): Promise<StartSummary> {
  await manager.ingestJoinedData(app.warmStartData(options.warmStart), options.ratio);
  const baseline = await manager.evaluateHistoricalData(manager.lastJoinedJobEvalData);
  await manager.initializeFirstModel({ inputDataUri: manager.lastJoinedJobTrainData });
  const firstId = manager.lastTrainedModelId as string;
  const first = await manager.evaluateModel();
  const endpointUrl = (await manager.deployModel({ modelId: firstId })).url;
  return { firstModelId: firstId, first, baselineCost: baseline.cost, endpointUrl };
}

/** One loop of `runLoop`. */
export interface LoopRow {
  loop: number;
  meanReward: number;
  /** The reward of each interaction of the loop, in order. */
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
  /** Seconds spent in each step of the loop (the breakdown `npm start` prints); set by runLoop. */
  steps?: LoopStepSeconds;
}

/** Seconds per step of a loop: serving the users, publishing the reward, join, train, scoring both models, deploy. */
export interface LoopStepSeconds {
  requests: number;
  reward: number;
  join: number;
  train: number;
  evaluate: number;
  deploy: number;
}

/** Sends the users' requests in mini-batches, `concurrency` at a time; returns the rewards. */
async function serveUsers<User extends ClientUser>(
  manager: ExperimentManager,
  app: ClientApplication<User>,
  settings: LoopSettings,
  loop: number,
  onProgress?: (done: number, total: number) => void,
): Promise<{ event_id: string; reward: number }[]> {
  const n = settings.batchSize;
  const users = Array.from({ length: n }, () => app.nextUser());
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
      const eventIds = idx.map((i) => `${settings.eventIdPrefix}-l${loop}-${i}`);
      const actions =
        idx.length === 1
          ? [await predictor.getAction(users[idx[0]].context, { eventId: eventIds[0] })]
          : await predictor.getActions(idx.map((i) => users[i].context), { eventIds });
      idx.forEach((i, k) => {
        rewards[i] = { event_id: actions[k].eventId, reward: app.rewardFor(users[i], actions[k].action) };
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
export async function runLoop<User extends ClientUser>(
  manager: ExperimentManager,
  app: ClientApplication<User>,
  settings: LoopSettings,
  loop: number,
  onProgress?: (done: number, total: number) => void,
): Promise<LoopRow> {
  const t0 = performance.now();
  if (!manager.lastHostedModelId) {
    throw new Error(`experiment ${manager.experimentId} has no deployed model yet: deploy one first (startExperiment, or deployModel)`);
  }
  let mark = performance.now();
  const lap = () => {
    const now = performance.now();
    const seconds = (now - mark) / 1000;
    mark = now;
    return seconds;
  };
  const served = await serveUsers(manager, app, settings, loop, onProgress);
  const requests = lap();
  const rewards = served.map((r) => r.reward);
  const meanReward = rewards.reduce((s, r) => s + r, 0) / rewards.length;
  await manager.publishRewards(meanReward);
  const reward = lap();
  const join = await manager.join(await manager.ingestRewards(served), { ratio: settings.ratio });
  const joinSeconds = lap();
  await manager.trainNextModel();
  const train = lap();
  const challengerId = manager.lastTrainedModelId as string;
  const championId = manager.lastHostedModelId;
  const gateData = settings.gateOn === "holdout" ? manager.holdoutDataUri : manager.lastJoinedJobEvalData;
  const score = (modelId: string) => manager.evaluateModel({ modelId, inputDataUri: gateData });
  const challenger = await score(challengerId);
  const champion = await score(championId);
  const evaluate = lap();
  const deployed = gatePasses(settings.gate, challenger, champion);
  if (deployed) await manager.deployModel({ modelId: challengerId });
  const deploy = lap();
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
    steps: { requests, reward, join: joinSeconds, train, evaluate, deploy },
  };
}

/** A loop of `runLoop` in the shape the `LoopDashboard` draws. */
export function loopResult(row: LoopRow, servedModelId?: string): LoopResult {
  return {
    loop: row.loop,
    rewards: row.rewards,
    challenger: row.challenger,
    champion: row.champion,
    deployed: row.deployed,
    servedModelId: servedModelId ?? row.championId,
    trainedModelId: row.challengerId,
    seconds: row.seconds,
  };
}

export interface ContinualLearningOptions {
  /** Experiment id (default `workshop-<unique>`); a new experiment. */
  experimentId?: string;
  /** Loops after the start (default 15; 0 = only the start). */
  loops?: number;
  /** Warm-start records (default 500). */
  warmStart?: number;
  /** Overrides of the config's loop settings (see `loopSettings`). */
  settings?: Partial<LoopSettings>;
  /** Leave the endpoint running at the end (default: stop it). */
  keepEndpoint?: boolean;
  /** Called during a batch with (loop, done, total). */
  onProgress?: (loop: number, done: number, total: number) => void;
  /** Called after each loop. */
  onLoop?: (row: LoopRow) => void;
  /** The manager's messages. */
  log?: (message: string) => void;
}

/** A whole run: the start, every loop, and where its endpoint and workspace are. */
export interface ContinualLearningRun {
  experimentId: string;
  gate: GateRule;
  gateOn: GateData;
  requestBatch: number;
  loops: LoopRow[];
  /** One reward per interaction made in the loops, in order. */
  rewards: number[];
  firstModelId: string;
  first: OpeEstimate;
  baselineCost: number;
  seconds: number;
  /** Seconds of the start (warm start, first model, its score, its deployment). */
  startSeconds: number;
  endpointKept: boolean;
  endpointUrl: string | null;
  /** The local workspace folder; null on SageMaker. */
  workspace: string | null;
}

/**
 * A new experiment from start to end: `startExperiment`, then `loops` × `runLoop`. The endpoint is
 * stopped at the end (also after a failure) unless `keepEndpoint`; the manager is closed.
 */
export async function runContinualLearning<User extends ClientUser>(
  config: Config,
  app: ClientApplication<User>,
  options: ContinualLearningOptions = {},
): Promise<ContinualLearningRun> {
  const t0 = performance.now();
  const loops = options.loops ?? 15;
  const warmStart = options.warmStart ?? 500;
  if (!Number.isInteger(loops) || loops < 0) throw new RangeError(`loops must be a non-negative integer, got ${loops}`);
  if (!Number.isInteger(warmStart) || warmStart < 1) throw new RangeError(`warmStart must be a positive integer, got ${warmStart}`);
  const settings = loopSettings(config, options.settings);
  const log = options.log ?? (() => undefined);
  const experimentId = options.experimentId ?? `workshop-${sortableSuffix()}`;
  const manager = await ExperimentManager.create(config, experimentId, { log });
  let kept = false;
  try {
    const startT0 = performance.now();
    const start = await startExperiment(manager, app, { warmStart, ratio: settings.ratio });
    const startSeconds = (performance.now() - startT0) / 1000;
    const rows: LoopRow[] = [];
    for (let loop = 1; loop <= loops; loop++) {
      const row = await runLoop(manager, app, settings, loop, (done, total) => options.onProgress?.(loop, done, total));
      rows.push(row);
      options.onLoop?.(row);
    }
    kept = options.keepEndpoint === true;
    return {
      experimentId,
      gate: settings.gate,
      gateOn: settings.gateOn,
      requestBatch: settings.requestBatch,
      loops: rows,
      rewards: rows.flatMap((r) => r.rewards),
      firstModelId: start.firstModelId,
      first: start.first,
      baselineCost: start.baselineCost,
      seconds: (performance.now() - t0) / 1000,
      startSeconds,
      endpointKept: kept,
      endpointUrl: start.endpointUrl,
      workspace: manager.localMode ? resolveWorkspaceDir(config) : null,
    };
  } finally {
    if (!kept) await manager.cleanResource().catch((err: unknown) => log(`clean-up failed: ${(err as Error).message}`));
    await manager.close();
  }
}
