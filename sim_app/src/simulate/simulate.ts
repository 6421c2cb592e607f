/**
 * The notebook's continual-learning protocol on the shuttle data, in one process:
 *
 *  1. warm start: `warmStart` decisions by a uniform random policy (p = 1/K);
 *  2. the first model trains on the warm start's train split (ratio 0.8);
 *  3. `loops` times: the deployed model serves `batchSize` decisions while frozen (chooseAction
 *     with the decision's event id), the rewards come back, and the model is retrained —
 *     warm-started, continuing its learning state — on that loop's train split (ratio 0.85), then
 *     deployed for the next loop.
 *
 * Splits hash the event id (`splitOf(event_id, ratio)`), exactly as the kit's join.
 */
import { JoinedRecord, splitOf, splitValueOf } from "@cbkit/common/data";
import { CbLearner, LearnerOptions } from "@cbkit/common/learner";
import { StatlogSimApp } from "../statlog/sim-app";
import { prepareStatlogWarmStartData } from "../statlog/warm-start";

export interface ProtocolOptions {
  seed?: number;
  loops?: number;
  batchSize?: number;
  warmStart?: number;
  /** Train share of the warm start (0.8) and of each loop (0.85), as the notebooks. */
  warmStartRatio?: number;
  loopRatio?: number;
  /** Train on every record of a loop instead of its train split. */
  trainOnAll?: boolean;
  dataFile?: string | null;
  /** Called after each loop with its 1-based number and mean reward. */
  onLoop?: (loop: number, meanReward: number) => void;
}

export interface SimulateOptions extends ProtocolOptions {
  /** Learner options; numArms defaults to the simulator's 7 actions, seed to the run's seed. */
  learner: Omit<LearnerOptions, "numArms"> & { numArms?: number };
}

/**
 * What the protocol needs from a learner, so another implementation (Vowpal Wabbit in the
 * benches) runs exactly the same protocol: the decisions of one loop under the frozen model, and
 * retraining on records.
 */
export interface ProtocolLearner {
  /** One decision per context (1-based action, its probability, the pmf) under the current model. */
  choose(contexts: number[][], eventIds: string[]): Promise<{ action: number; actionProb: number; pmf: ArrayLike<number> }[]>;
  /** Continues training on these records (warm-started). */
  train(records: JoinedRecord[]): Promise<void>;
}

export interface ProtocolResult {
  seed: number;
  /** Mean reward of each loop's decisions. */
  loopRewards: number[];
  /** Mean reward over all loops. */
  overall: number;
  /** Mean reward over loops 11–15 (or the last five loops when fewer). */
  lastFive: number;
  /** Smallest probability any action had in any logged decision of the loops. */
  minLoggedProb: number;
  /** Mean reward of the uniform warm start. */
  warmStartReward: number;
  /** Records each model trained on. */
  trainedRows: number[];
}

export interface SimulationResult extends ProtocolResult {
  learner: CbLearner;
}

export function isTrainSplit(eventId: string, ratio: number): boolean {
  return splitOf(eventId, ratio) === "train";
}

export async function simulate(o: SimulateOptions): Promise<SimulationResult> {
  const seed = o.seed ?? 1;
  const numArms = new StatlogSimApp({ dataFile: o.dataFile, seed }).numActions;
  const learner = CbLearner.create({ numArms, seed, ...o.learner } as LearnerOptions);
  const result = await runProtocol(
    {
      choose: async (contexts, eventIds) => contexts.map((c, i) => learner.chooseAction(c, eventIds[i])),
      train: async (records) => void (await learner.train(records)),
    },
    o,
  );
  return { ...result, learner };
}

/** The protocol above with any learner (see ProtocolLearner). */
export async function runProtocol(learner: ProtocolLearner, o: ProtocolOptions): Promise<ProtocolResult> {
  const seed = o.seed ?? 1;
  const loops = o.loops ?? 15;
  const batch = o.batchSize ?? 500;
  const warmN = o.warmStart ?? 100;
  const wsRatio = o.warmStartRatio ?? 0.8;
  const loopRatio = o.loopRatio ?? 0.85;
  const sim = new StatlogSimApp({ dataFile: o.dataFile, seed });
  const warm = prepareStatlogWarmStartData({ dataFile: o.dataFile, batchSize: warmN, seed });
  const pick = (recs: JoinedRecord[], ratio: number) => (o.trainOnAll ? recs : recs.filter((r) => isTrainSplit(r.event_id, ratio)));
  const trainedRows: number[] = [];
  const first = pick(warm, wsRatio);
  await learner.train(first);
  trainedRows.push(first.length);
  const loopRewards: number[] = [];
  let minProb = 1;
  const k = sim.numActions;
  for (let loop = 0; loop < loops; loop++) {
    // The model is frozen during a loop, so the loop's decisions are asked for at once.
    const users = Array.from({ length: batch }, () => sim.chooseRandomUser());
    const eventIds = users.map((_, i) => `sim-${seed}-${loop + 1}-${i}`);
    const decisions = await learner.choose(users.map((u) => u.context), eventIds);
    const recs: JoinedRecord[] = [];
    let sum = 0;
    users.forEach((user, i) => {
      const c = decisions[i], eventId = eventIds[i];
      for (let a = 0; a < k; a++) if (c.pmf[a] < minProb) minProb = c.pmf[a];
      const reward = sim.rewardOf(user.userId, c.action);
      sum += reward;
      recs.push({ reward, event_id: eventId, action: c.action, action_prob: c.actionProb, model_id: `model-${loop}`, observation: user.context, sample_prob: splitValueOf(eventId) });
    });
    loopRewards.push(sum / batch);
    o.onLoop?.(loop + 1, sum / batch);
    const tr = pick(recs, loopRatio);
    await learner.train(tr);
    trainedRows.push(tr.length);
  }
  const mean = (a: number[]) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN);
  return {
    seed,
    loopRewards,
    overall: mean(loopRewards),
    lastFive: mean(loopRewards.slice(loops >= 15 ? 10 : Math.max(0, loops - 5), loops >= 15 ? 15 : loops)),
    minLoggedProb: minProb,
    warmStartReward: mean(warm.map((r) => r.reward)),
    trainedRows,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
