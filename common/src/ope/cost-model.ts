/**
 * The default cost (reward) model of DM, DR and SNDR: one ridge regression per action of the
 * observed cost on features of the context, ĉ(x, a) = β_a · φ(x), where φ(x) is
 *   - "linear": [1, z(x)], z standardising each feature with the training rows' mean and
 *     standard deviation;
 *   - "bins" (the default): [1, z(x), one-hot bin of each feature], the bins being per-feature
 *     quantiles of the training rows (`numBins`, duplicates merged), which lets a linear model
 *     fit axis-aligned, non-monotone structure (the shuttle's classes are boxes in feature space).
 * The intercept is not penalised; the penalty λ applies to every other coefficient (standardised
 * slopes and bin offsets, so it means the same for any feature scale).
 * Each action's model is fitted on the rows that logged that action — a plain regression of cost
 * given (x, a), which needs no importance weights. An action with fewer than `minRowsPerAction`
 * rows falls back to its mean cost, shrunk toward the overall mean; an action never logged gets
 * the overall mean. Predictions are clipped to the range of costs seen in training.
 *
 * Cross-fitting (`crossFitCostPredictions`): rows are split into folds by a hash of the row's
 * key, and each row's predictions come from a model fitted on the other folds, so a row never
 * scores itself — the condition under which DR keeps its guarantees with a flexible model.
 * Everything is deterministic: no randomness beyond the fixed fold hash.
 */
import { fmix32, hash32 } from "../util/random";
import { OpeInputError } from "./errors";
import type { CostModel } from "./types";

/** One training row of a cost model. */
export interface CostRow {
  observation: ArrayLike<number>;
  /** Logged action, 1-based. */
  action: number;
  cost: number;
}

export type CostFeatureMap = "linear" | "bins";

export interface RidgeCostModelOptions {
  numArms: number;
  /** Ridge penalty on everything but the intercept (default 1). */
  lambda?: number;
  /** Feature map (default "bins"). */
  featureMap?: CostFeatureMap;
  /** Quantile bins per feature for the "bins" map (default 16: the best of 4–64 on the shuttle benchmark). */
  numBins?: number;
  /** Below this many rows an action uses its (shrunk) mean cost instead of a regression (default 2·(d+1)). */
  minRowsPerAction?: number;
}

/** The fitted feature map φ: standardisation and, for "bins", each feature's inner bin edges. */
class CostFeatures {
  readonly size: number;
  constructor(
    readonly mean: Float64Array,
    readonly scale: Float64Array,
    /** Per feature: ascending inner edges; bin = number of edges ≤ value (so edges.length + 1 bins). */
    readonly edges: Float64Array[],
  ) {
    this.size = 1 + mean.length + edges.reduce((n, e) => n + (e.length > 0 ? e.length + 1 : 0), 0);
  }

  static fit(rows: readonly CostRow[], d: number, map: CostFeatureMap, numBins: number): CostFeatures {
    const mean = new Float64Array(d);
    const sq = new Float64Array(d);
    for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r.observation[j];
    for (let j = 0; j < d; j++) mean[j] /= rows.length;
    for (const r of rows) for (let j = 0; j < d; j++) sq[j] += (r.observation[j] - mean[j]) ** 2;
    const scale = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const sd = Math.sqrt(sq[j] / rows.length);
      scale[j] = sd > 0 ? sd : 1;
    }
    const edges: Float64Array[] = [];
    for (let j = 0; j < d; j++) {
      if (map !== "bins" || numBins < 2) {
        edges.push(new Float64Array(0));
        continue;
      }
      const v = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) v[i] = rows[i].observation[j];
      v.sort();
      const e: number[] = [];
      for (let b = 1; b < numBins; b++) {
        // Edge at the b/numBins quantile (a value equal to an edge falls in the upper bin); repeated
        // values give repeated quantiles, which are merged, so a bin never splits a value group.
        const q = v[Math.min(v.length - 1, Math.floor((b * v.length) / numBins))];
        if (q > v[0] && (e.length === 0 || q > e[e.length - 1])) e.push(q);
      }
      edges.push(Float64Array.from(e));
    }
    return new CostFeatures(mean, scale, edges);
  }

  /** Largest number of non-zero entries of φ(x). */
  get maxNonZero(): number {
    return 1 + this.mean.length + this.edges.filter((e) => e.length > 0).length;
  }

  /** Writes the non-zero entries of φ(x) as (index, value) pairs; returns how many. */
  encode(x: ArrayLike<number>, idx: Int32Array, val: Float64Array): number {
    idx[0] = 0;
    val[0] = 1;
    let m = 1;
    const d = this.mean.length;
    for (let j = 0; j < d; j++) {
      idx[m] = 1 + j;
      val[m++] = (x[j] - this.mean[j]) / this.scale[j];
    }
    let base = 1 + d;
    for (let j = 0; j < d; j++) {
      const e = this.edges[j];
      if (e.length === 0) continue;
      let b = 0;
      while (b < e.length && x[j] >= e[b]) b++;
      idx[m] = base + b;
      val[m++] = 1;
      base += e.length + 1;
    }
    return m;
  }
}

/** Per-action ridge regression of cost on the context (see the file comment). */
export class RidgeCostModel implements CostModel {
  readonly numArms: number;
  readonly numFeatures: number;
  /** Per action: the coefficients β_a on φ(x) (intercept first). */
  readonly coefficients: Float64Array[];
  private readonly features: CostFeatures;
  private readonly minCost: number;
  private readonly maxCost: number;
  private readonly idx: Int32Array;
  private readonly val: Float64Array;

  private constructor(numArms: number, numFeatures: number, features: CostFeatures, coefficients: Float64Array[], minCost: number, maxCost: number) {
    this.numArms = numArms;
    this.numFeatures = numFeatures;
    this.features = features;
    this.coefficients = coefficients;
    this.minCost = minCost;
    this.maxCost = maxCost;
    this.idx = new Int32Array(features.maxNonZero);
    this.val = new Float64Array(features.maxNonZero);
  }

  /** Fits the model on logged rows (at least one). */
  static fit(rows: readonly CostRow[], options: RidgeCostModelOptions): RidgeCostModel {
    const K = options.numArms;
    if (!Number.isInteger(K) || K < 1) throw new OpeInputError("numArms", null, `must be a positive integer, got ${K}`);
    const lambda = options.lambda ?? 1;
    if (!(lambda > 0) || !Number.isFinite(lambda)) throw new OpeInputError("lambda", null, `must be a positive number, got ${lambda}`);
    const map = options.featureMap ?? "bins";
    if (map !== "linear" && map !== "bins") throw new OpeInputError("featureMap", null, `must be "linear" or "bins", got ${JSON.stringify(map)}`);
    const numBins = options.numBins ?? 16;
    if (!Number.isInteger(numBins) || numBins < 1) throw new OpeInputError("numBins", null, `must be a positive integer, got ${numBins}`);
    if (rows.length === 0) throw new OpeInputError("rows", null, "is empty: a cost model needs at least one logged row");
    const d = rows[0].observation.length;
    const features = CostFeatures.fit(rows, d, map, numBins);
    const p = features.size;
    const minRows = options.minRowsPerAction ?? 2 * (d + 1);

    let costSum = 0;
    let minCost = Infinity;
    let maxCost = -Infinity;
    for (const r of rows) {
      costSum += r.cost;
      if (r.cost < minCost) minCost = r.cost;
      if (r.cost > maxCost) maxCost = r.cost;
    }
    const overallMean = costSum / rows.length;

    // Normal equations per action: A = ΦᵀΦ + λ·diag(0, 1, ..., 1), b = Φᵀy.
    const A = Array.from({ length: K }, () => new Float64Array(p * p));
    const bvec = Array.from({ length: K }, () => new Float64Array(p));
    const count = new Float64Array(K);
    const sumCost = new Float64Array(K);
    const idx = new Int32Array(features.maxNonZero);
    const val = new Float64Array(features.maxNonZero);
    for (const r of rows) {
      const a = r.action - 1;
      const m = features.encode(r.observation, idx, val);
      const Aa = A[a];
      const ba = bvec[a];
      for (let s = 0; s < m; s++) {
        const i = idx[s];
        const xi = val[s];
        ba[i] += xi * r.cost;
        // Upper triangle only (idx is ascending); mirrored before solving.
        for (let t = s; t < m; t++) Aa[i * p + idx[t]] += xi * val[t];
      }
      count[a]++;
      sumCost[a] += r.cost;
    }
    const coefficients: Float64Array[] = [];
    for (let a = 0; a < K; a++) {
      const beta = new Float64Array(p);
      if (count[a] >= minRows) {
        const Aa = A[a];
        for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) Aa[i * p + j] = Aa[j * p + i];
        for (let i = 1; i < p; i++) Aa[i * p + i] += lambda;
        solveSpd(Aa, bvec[a], beta, p);
      } else {
        // Too few rows for a regression: mean cost shrunk toward the overall mean (one pseudo-row).
        beta[0] = (sumCost[a] + overallMean) / (count[a] + 1);
      }
      coefficients.push(beta);
    }
    return new RidgeCostModel(K, d, features, coefficients, minCost, maxCost);
  }

  /** Predicted cost of every action (index a-1 for action a). */
  predictCosts(context: ArrayLike<number>): Float64Array {
    const d = this.numFeatures;
    if (context.length !== d) throw new OpeInputError("observation", null, `has ${context.length} features; the cost model was fitted on ${d}`);
    const m = this.features.encode(context, this.idx, this.val);
    const out = new Float64Array(this.numArms);
    for (let a = 0; a < this.numArms; a++) {
      const beta = this.coefficients[a];
      let v = 0;
      for (let s = 0; s < m; s++) v += beta[this.idx[s]] * this.val[s];
      out[a] = Math.min(this.maxCost, Math.max(this.minCost, v));
    }
    return out;
  }
}

/** Solves A β = b for a symmetric positive definite p×p matrix A (row-major) by Cholesky. */
function solveSpd(A: Float64Array, b: Float64Array, out: Float64Array, p: number): void {
  const L = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * p + j];
      for (let k = 0; k < j; k++) s -= L[i * p + k] * L[j * p + k];
      if (i === j) L[i * p + i] = Math.sqrt(Math.max(s, 1e-12));
      else L[i * p + j] = s / L[j * p + j];
    }
  }
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * p + k] * y[k];
    y[i] = s / L[i * p + i];
  }
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < p; k++) s -= L[k * p + i] * out[k];
    out[i] = s / L[i * p + i];
  }
}

export interface CrossFitOptions extends RidgeCostModelOptions {
  /** Number of folds (default 5; 1 = fit and predict on all rows, no cross-fitting). */
  folds?: number;
  /** Per-row keys deciding the folds (default: the row index); numbers are used as 32-bit hashes. */
  keys?: readonly (string | number)[];
}

/**
 * Cross-fitted cost predictions: for each row, the predicted cost of every action from a
 * RidgeCostModel fitted on the rows of the other folds.
 */
export function crossFitCostPredictions(rows: readonly CostRow[], options: CrossFitOptions): Float64Array[] {
  const folds = options.folds ?? 5;
  if (!Number.isInteger(folds) || folds < 1) throw new OpeInputError("folds", null, `must be a positive integer, got ${folds}`);
  if (folds === 1 || rows.length < 2 * folds) {
    const model = RidgeCostModel.fit(rows, options);
    return rows.map((r) => model.predictCosts(r.observation));
  }
  const fold = rows.map((_r, i) => {
    const k = options.keys?.[i] ?? String(i);
    return (typeof k === "number" ? fmix32((k ^ 0x5eed) >>> 0) : hash32(k, 0x5eed)) % folds;
  });
  const out: Float64Array[] = new Array(rows.length);
  for (let f = 0; f < folds; f++) {
    const train = rows.filter((_r, i) => fold[i] !== f);
    if (train.length === 0) continue;
    const model = RidgeCostModel.fit(train, options);
    for (let i = 0; i < rows.length; i++) if (fold[i] === f) out[i] = model.predictCosts(rows[i].observation);
  }
  // A fold holding every row (tiny data) has no other folds: fall back to the in-sample model.
  if (out.some((x) => x === undefined)) {
    const model = RidgeCostModel.fit(rows, options);
    for (let i = 0; i < rows.length; i++) if (out[i] === undefined) out[i] = model.predictCosts(rows[i].observation);
  }
  return out;
}
