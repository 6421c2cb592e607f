/**
 * The whole workshop, headless: warm start, first model, evaluation, deploy, then `loops` rounds
 * of `batchSize` interactions through the endpoint, each followed by rewards -> join -> train ->
 * evaluate challenger and champion on the same eval split -> deploy when the gate says so.
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
  loadConfig,
  sortableSuffix,
  type Config,
  type EvaluationScore,
} from "@cbkit/common";
import { prepareStatlogWarmStartData, resolveShuttleDataFile, StatlogSimApp } from "../statlog";

export type GateRule = "ci" | "point" | "always";

export interface WorkshopOptions {
  config?: string | Config;
  loops?: number;
  batchSize?: number;
  warmStart?: number;
  seed?: number;
  experimentId?: string;
  keepEndpoint?: boolean;
  gate?: GateRule;
  /** Requests in flight at once (default 4); every decision still goes through the endpoint. */
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

export interface ScoreSummary {
  modelId: string;
  score: number;
  lower: number;
  upper: number;
  n: number;
}

export interface LoopRow {
  loop: number;
  meanReward: number;
  champion: ScoreSummary;
  challenger: ScoreSummary;
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
  first: ScoreSummary;
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

function summary(modelId: string, s: EvaluationScore): ScoreSummary {
  return { modelId, score: s.score, lower: s.ci.lower, upper: s.ci.upper, n: s.n };
}

export function gatePasses(rule: GateRule, challenger: ScoreSummary, champion: ScoreSummary): boolean {
  if (rule === "always") return true;
  if (rule === "point") return challenger.score <= champion.score;
  return challenger.upper < champion.score;
}

export async function runWorkshop(options: WorkshopOptions = {}): Promise<WorkshopResult> {
  const t0 = performance.now();
  const config = typeof options.config === "object" ? options.config : loadConfig(options.config);
  if (options.seed !== undefined) config.seed = options.seed;
  const seed = config.seed;
  const loops = options.loops ?? 15;
  const batchSize = options.batchSize ?? 500;
  const warmStart = options.warmStart ?? 500;
  const gate = options.gate ?? config.workflow.deploy_gate ?? "ci";
  const gateOn = options.gateOn ?? "holdout";
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const requestBatch = Math.max(1, options.requestBatch ?? 50);
  const ratio = config.workflow.join_ratio;
  const log = options.log ?? (() => undefined);
  for (const [name, v] of [["loops", loops], ["batchSize", batchSize], ["warmStart", warmStart]] as const) {
    if (!Number.isInteger(v) || v < (name === "loops" ? 0 : 1)) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  const experimentId = options.experimentId ?? `workshop-${sortableSuffix()}`;
  const dataFile = resolveShuttleDataFile(config);
  const sim = new StatlogSimApp({ dataFile, seed });
  const manager = await ExperimentManager.create(config, experimentId, { log });
  let endpointUrl: string | null = null;
  let kept = false;
  try {
    // Warm start: uniformly random logged decisions, joined on the client side.
    const warm = prepareStatlogWarmStartData({ dataFile, batchSize: warmStart, seed });
    await manager.ingestJoinedData(warm, ratio);
    const baseline = await manager.evaluateHistoricalData(manager.lastJoinedJobEvalData);
    await manager.initializeFirstModel({ inputDataUri: manager.lastJoinedJobTrainData });
    const firstId = manager.lastTrainedModelId as string;
    const first = summary(firstId, await manager.evaluateModel());
    endpointUrl = (await manager.deployModel({ modelId: firstId })).url;
    const predictor = manager.predictor;

    const rows: LoopRow[] = [];
    const rewardsList: number[] = [];
    for (let loop = 1; loop <= loops; loop++) {
      const tl = performance.now();
      const users = Array.from({ length: batchSize }, () => sim.chooseRandomUser());
      const rewards: { event_id: string; reward: number }[] = new Array(batchSize);
      const batchRewards: number[] = new Array(batchSize);
      // Requests go out in mini-batches (one InvokeEndpoint call with JSON lines, one decision per
      // line); `requestBatch: 1` sends one request per user as the original client does.
      const chunks: number[][] = [];
      for (let i = 0; i < batchSize; i += requestBatch) chunks.push(Array.from({ length: Math.min(requestBatch, batchSize - i) }, (_, k) => i + k));
      let nextChunk = 0;
      let done = 0;
      const worker = async () => {
        while (nextChunk < chunks.length) {
          const idx = chunks[nextChunk++];
          // Event ids depend on the seed only (not the experiment id), so a seed reproduces a run.
          const eventIds = idx.map((i) => `s${seed}-l${loop}-${i}`);
          const actions =
            idx.length === 1
              ? [await predictor.getAction(users[idx[0]].context, { eventId: eventIds[0] })]
              : await predictor.getActions(idx.map((i) => users[i].context), { eventIds });
          idx.forEach((i, k) => {
            const r = sim.rewardOf(users[i].userId, actions[k].action);
            rewards[i] = { event_id: actions[k].eventId, reward: r };
            batchRewards[i] = r;
          });
          done += idx.length;
          options.onProgress?.(loop, done, batchSize);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, worker));
      rewardsList.push(...batchRewards);
      const meanReward = batchRewards.reduce((s, r) => s + r, 0) / batchSize;
      await manager.publishRewards(meanReward);

      const rewardsUri = await manager.ingestRewards(rewards);
      const join = await manager.join(rewardsUri, { ratio });
      await manager.trainNextModel();
      const challengerId = manager.lastTrainedModelId as string;
      const championId = manager.lastHostedModelId as string;
      const gateData = gateOn === "holdout" ? manager.holdoutDataUri : manager.lastJoinedJobEvalData;
      const challenger = summary(challengerId, await manager.evaluateModel({ modelId: challengerId, inputDataUri: gateData }));
      const champion = summary(championId, await manager.evaluateModel({ modelId: championId, inputDataUri: gateData }));
      const deployed = gatePasses(gate, challenger, champion);
      if (deployed) await manager.deployModel({ modelId: challengerId });
      const row: LoopRow = {
        loop,
        meanReward,
        champion,
        challenger,
        deployed,
        hostedModelId: manager.lastHostedModelId as string,
        joined: { train: join.counts?.train ?? 0, eval: join.counts?.eval ?? 0 },
        seconds: (performance.now() - tl) / 1000,
      };
      rows.push(row);
      options.onLoop?.(row);
    }
    kept = options.keepEndpoint === true;
    return {
      experimentId,
      seed,
      gate,
      gateOn,
      loops: rows,
      rewards: rewardsList,
      first,
      baselineCost: baseline.cost,
      oracleReward: sim.oracleReward,
      majorityReward: sim.majorityReward,
      randomReward: sim.randomReward,
      seconds: (performance.now() - t0) / 1000,
      requestBatch,
      endpointKept: kept,
      endpointUrl,
      workspace: manager.localMode ? path.resolve(config.dir, config.workspace) : null,
    };
  } finally {
    if (!kept) await manager.cleanResource().catch((err: unknown) => log(`clean-up failed: ${(err as Error).message}`));
    await manager.close();
  }
}
