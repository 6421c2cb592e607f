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
import { CbLearner, JoinedRecord, LearnerOptions } from "@cbkit/common";
import { splitOf, splitValueOf } from "@cbkit/common/data";
import { StatlogSimApp } from "../statlog/sim-app";
import { prepareStatlogWarmStartData } from "../statlog/warm-start";

export interface SimulateOptions {
  /** Learner options; numArms defaults to the simulator's 7 actions, seed to the run's seed. */
  learner: Omit<LearnerOptions, "numArms"> & { numArms?: number };
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

export interface SimulationResult {
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
  learner: CbLearner;
}

export function isTrainSplit(eventId: string, ratio: number): boolean {
  return splitOf(eventId, ratio) === "train";
}

export async function simulate(o: SimulateOptions): Promise<SimulationResult> {
  const seed = o.seed ?? 1;
  const loops = o.loops ?? 15;
  const batch = o.batchSize ?? 500;
  const warmN = o.warmStart ?? 100;
  const wsRatio = o.warmStartRatio ?? 0.8;
  const loopRatio = o.loopRatio ?? 0.85;
  const sim = new StatlogSimApp({ dataFile: o.dataFile, seed });
  const learner = CbLearner.create({ numArms: sim.numActions, seed, ...o.learner } as LearnerOptions);
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
    const recs: JoinedRecord[] = [];
    let sum = 0;
    for (let i = 0; i < batch; i++) {
      const user = sim.chooseRandomUser();
      const eventId = `sim-${seed}-${loop + 1}-${i}`;
      const c = learner.chooseAction(user.context, eventId);
      for (let a = 0; a < k; a++) if (c.pmf[a] < minProb) minProb = c.pmf[a];
      const reward = sim.rewardOf(user.userId, c.action);
      sum += reward;
      recs.push({ reward, event_id: eventId, action: c.action, action_prob: c.actionProb, model_id: `model-${loop}`, observation: user.context, sample_prob: splitValueOf(eventId) });
    }
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
    learner,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
