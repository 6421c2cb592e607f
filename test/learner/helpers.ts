import { CbLearner, JoinedRecord, LearnerOptions } from "@cbkit/common";
import { Rng } from "@cbkit/common/util";

/** A small synthetic 3-feature, 4-action problem: the best action depends on the largest feature. */
export function syntheticRecords(n: number, seed = 7, k = 4): JoinedRecord[] {
  const rng = new Rng(seed);
  const out: JoinedRecord[] = [];
  for (let i = 0; i < n; i++) {
    const x = [rng.normal(), rng.normal(), rng.normal()];
    const best = x.indexOf(Math.max(...x)) + 1;
    const action = rng.int(k) + 1;
    out.push({ reward: action === best ? 1 : 0, event_id: `ev-${seed}-${i}`, action, action_prob: 1 / k, model_id: "m", observation: x, sample_prob: 0.5 });
  }
  return out;
}

export const ALL_CONFIGS: LearnerOptions[] = [
  { numArms: 4, explorationPolicy: "egreedy", epsilon: 0.1 },
  { numArms: 4, explorationPolicy: "egreedy", epsilon: 0.1, cbType: "dr" },
  { numArms: 4, explorationPolicy: "egreedy", epsilon: 0.1, cbType: "ips" },
  { numArms: 4, explorationPolicy: "bag", numPolicies: 3 },
  { numArms: 4, explorationPolicy: "bag", numPolicies: 3, cbType: "dr" },
  { numArms: 4, explorationPolicy: "cover", numPolicies: 3, cbType: "dr" },
  { numArms: 4, explorationPolicy: "cover", numPolicies: 4, psi: 0.1 },
  { numArms: 4, explorationPolicy: "first", tau: 50 },
  { numArms: 4, explorationPolicy: "softmax", lambda: 5 },
  { numArms: 4, explorationPolicy: "squarecb", gammaScale: 10, gammaExponent: 0.5 },
  { numArms: 4, explorationPolicy: "egreedy", epsilon: 0.05, featureMap: "quadratic" },
  { numArms: 4, explorationPolicy: "egreedy", epsilon: 0.05, featureMap: "bins", numBins: 8 },
  { numArms: 4, explorationPolicy: "egreedy", epsilon: 0.05, featureMap: "bins", binning: "quantile" },
];

export function label(o: LearnerOptions): string {
  return Object.entries(o).filter(([k]) => k !== "numArms").map(([k, v]) => `${k}=${v}`).join(" ");
}

export async function trained(o: LearnerOptions, records: JoinedRecord[]): Promise<CbLearner> {
  const l = CbLearner.create(o);
  await l.train(records);
  return l;
}
