/** Small hand-checkable fixtures shared by the OPE tests. */
import type { JoinedRecord, OpeEstimate } from "@cbkit/common";

export function rec(action: number, actionProb: number, reward: number, observation: number[], id = `e${observation.join("_")}`): JoinedRecord {
  return { reward, event_id: id, action, action_prob: actionProb, model_id: "m1", observation, sample_prob: 0.5 };
}

/**
 * Four logged rows, K = 2, the context is just the row number (so fixed tables can serve as
 * the target policy and the cost model).
 *
 *   row  action  p     reward  cost | target pmf   π(a|x)  w = π/p
 *   0    1       0.5   1       0    | [0.8, 0.2]   0.8     1.6
 *   1    2       0.5   0       1    | [0.8, 0.2]   0.2     0.4
 *   2    1       0.25  0       1    | [0.5, 0.5]   0.5     2.0
 *   3    2       0.75  1       0    | [0.0, 1.0]   1.0     4/3
 */
export const FIXTURE: JoinedRecord[] = [
  rec(1, 0.5, 1, [0]),
  rec(2, 0.5, 0, [1]),
  rec(1, 0.25, 0, [2]),
  rec(2, 0.75, 1, [3]),
];
export const FIXTURE_PMFS = [
  [0.8, 0.2],
  [0.8, 0.2],
  [0.5, 0.5],
  [0.0, 1.0],
];
/** The same target as a model: looks its pmf up by the row number in the context. */
export const FIXTURE_MODEL = { predictPmf: (x: number[]) => FIXTURE_PMFS[x[0]] };
/** A fixed cost model ĉ(x, ·) per row. */
export const FIXTURE_COSTS = [
  [0.2, 0.6],
  [0.2, 0.6],
  [0.4, 0.4],
  [0.5, 0.1],
];
export const FIXTURE_COST_MODEL = { predictCosts: (x: number[]) => FIXTURE_COSTS[x[0]] };

/**
 * Hand computation (cost c = 1 − reward, w = π(a|x)/p):
 *   IPS   = mean(w·c) = (1.6·0 + 0.4·1 + 2·1 + 4/3·0) / 4 = 2.4 / 4 = 0.6
 *   Σw    = 1.6 + 0.4 + 2 + 4/3 = 16/3
 *   SNIPS = Σ w·c / Σ w = 2.4 / (16/3) = 0.45
 *   DM    : direct cost per row Σ_a π(a|x)·ĉ(x,a):
 *           row0 0.8·0.2 + 0.2·0.6 = 0.28; row1 0.28; row2 0.5·0.4 + 0.5·0.4 = 0.4; row3 1·0.1 = 0.1
 *           DM = (0.28 + 0.28 + 0.4 + 0.1) / 4 = 1.06 / 4 = 0.265
 *   residual c − ĉ(x, a): row0 0 − 0.2 = −0.2; row1 1 − 0.6 = 0.4; row2 1 − 0.4 = 0.6; row3 0 − 0.1 = −0.1
 *   w·residual: −0.32, 0.16, 1.2, −2/15 (= −0.13333…)  sum = 1.04 − 2/15 = 0.906666…
 *   DR    = DM + 0.906666… / 4 = 0.265 + 0.226666… = 0.491666…
 *   SNDR  = DM + 0.906666… / (16/3) = 0.265 + 0.17 = 0.435
 *   ESS   = (Σw)² / Σw² = (256/9) / (2.56 + 0.16 + 4 + 16/9) = 28.4444… / 8.497777… = 3.347280…
 */
export const EXPECTED = {
  ips: 0.6,
  snips: 0.45,
  dm: 0.265,
  dr: 0.265 + 0.90666666666666667 / 4,
  sndr: 0.435,
  ess: (256 / 9) / (2.56 + 0.16 + 4 + 16 / 9),
};

/** A deterministic synthetic log: K = 3, uniform logging, 2 features; action 1 is right when x0 > 0, else action 2. */
export function syntheticLog(n: number, seed = 7): JoinedRecord[] {
  const out: JoinedRecord[] = [];
  let s = seed >>> 0;
  const u = () => {
    // xorshift32: enough for a fixture, keeps the test independent of the kit's Rng.
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  for (let i = 0; i < n; i++) {
    const x = [u() * 2 - 1, u() * 2 - 1];
    const a = 1 + Math.floor(u() * 3);
    const best = x[0] > 0 ? 1 : 2;
    out.push(rec(a, 1 / 3, a === best ? 1 : 0, x, `ev-${i}`));
  }
  return out;
}

/** A target for syntheticLog: 90 % on the right action, 5 % on each other. */
export const SYNTH_MODEL = { predictPmf: (x: number[]) => (x[0] > 0 ? [0.9, 0.05, 0.05] : [0.05, 0.9, 0.05]) };

/** A score (an OpeEstimate, as the evaluation job writes and the records keep) with this DR cost and interval. */
export function scoreFixture(value: number, lower: number, upper: number, n = 100): OpeEstimate {
  const interval = (method: "bootstrap" | "normal") => ({ lower, upper, method });
  return {
    estimator: "dr", value, ci: interval("bootstrap"), normalCi: interval("normal"), bootstrapCi: interval("bootstrap"), standardError: (upper - lower) / 4,
    confidence: 0.95, n, effectiveSampleSize: n, meanWeight: 1, maxWeight: 1, biased: false, warnings: [], range: { lower: 0, upper: 1 }, clipped: [],
  };
}

/**
 * A score as the kit's previous version wrote it (its evaluation job's score.json, kept in model
 * records' eval_scores): `{score, ci, n, estimator, details}`.
 */
export const PREVIOUS_VERSION_SCORE = {
  score: 0.1364,
  ci: { lower: 0.0595, upper: 0.2343, method: "bootstrap" },
  n: 71,
  estimator: "dr",
  details: {
    modelId: "exp-model-1",
    effectiveSampleSize: 64.25,
    biased: false,
    normalCi: { lower: 0, upper: 0.2291, method: "normal" },
    range: { lower: 0, upper: 1 },
    clipped: ["normalCi.lower"],
    skipped: 2,
  },
};

/** PREVIOUS_VERSION_SCORE as it reads today. */
export const PREVIOUS_VERSION_SCORE_TODAY: OpeEstimate = {
  estimator: "dr",
  value: 0.1364,
  ci: { lower: 0.0595, upper: 0.2343, method: "bootstrap" },
  normalCi: { lower: 0, upper: 0.2291, method: "normal" },
  bootstrapCi: { lower: 0.0595, upper: 0.2343, method: "bootstrap" },
  standardError: Number.NaN,
  confidence: 0.95,
  n: 71,
  effectiveSampleSize: 64.25,
  meanWeight: Number.NaN,
  maxWeight: Number.NaN,
  biased: false,
  warnings: ["2 malformed row(s) of the evaluation data were skipped (hyperparameter strict=true makes this an error)"],
  range: { lower: 0, upper: 1 },
  clipped: ["normalCi.lower"],
};
