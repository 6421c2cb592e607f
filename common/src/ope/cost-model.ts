/**
 * The default cost (reward) model of DM, DR and SNDR: one ridge regression per action of the
 * observed cost on the context, ĉ(x, a) = β_a · [1, z(x)], where z standardises each feature
 * with the training rows' mean and standard deviation, the intercept is not penalised, and the
 * penalty λ applies to the standardised slopes (so it means the same for any feature scale).
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
import { hash32 } from "../util/random";
import { OpeInputError } from "./errors";
import type { CostModel } from "./types";

/** One training row of a cost model. */
export interface CostRow {
  observation: ArrayLike<number>;
  /** Logged action, 1-based. */
  action: number;
  cost: number;
}

export interface RidgeCostModelOptions {
  numArms: number;
  /** Ridge penalty on the standardised slopes (default 1). */
  lambda?: number;
  /** Below this many rows an action uses its (shrunk) mean cost instead of a regression (default 2·(d+1)). */
  minRowsPerAction?: number;
}

/** Per-action ridge regression of cost on the context (see the file comment). */
export class RidgeCostModel implements CostModel {
  readonly numArms: number;
  readonly numFeatures: number;
  /** Per action: intercept then slopes on standardised features (d+1 numbers). */
  readonly coefficients: Float64Array[];
  private readonly mean: Float64Array;
  private readonly scale: Float64Array;
  private readonly minCost: number;
  private readonly maxCost: number;

  private constructor(numArms: number, mean: Float64Array, scale: Float64Array, coefficients: Float64Array[], minCost: number, maxCost: number) {
    this.numArms = numArms;
    this.numFeatures = mean.length;
    this.mean = mean;
    this.scale = scale;
    this.coefficients = coefficients;
    this.minCost = minCost;
    this.maxCost = maxCost;
  }

  /** Fits the model on logged rows (at least one). */
  static fit(rows: readonly CostRow[], options: RidgeCostModelOptions): RidgeCostModel {
    const K = options.numArms;
    if (!Number.isInteger(K) || K < 1) throw new OpeInputError("numArms", null, `must be a positive integer, got ${K}`);
    const lambda = options.lambda ?? 1;
    if (!(lambda > 0) || !Number.isFinite(lambda)) throw new OpeInputError("lambda", null, `must be a positive number, got ${lambda}`);
    if (rows.length === 0) throw new OpeInputError("rows", null, "is empty: a cost model needs at least one logged row");
    const d = rows[0].observation.length;
    const p = d + 1;
    const minRows = options.minRowsPerAction ?? 2 * p;

    // Feature standardisation over all training rows.
    const mean = new Float64Array(d);
    const sq = new Float64Array(d);
    let costSum = 0;
    let minCost = Infinity;
    let maxCost = -Infinity;
    for (const r of rows) {
      for (let j = 0; j < d; j++) mean[j] += r.observation[j];
      costSum += r.cost;
      if (r.cost < minCost) minCost = r.cost;
      if (r.cost > maxCost) maxCost = r.cost;
    }
    for (let j = 0; j < d; j++) mean[j] /= rows.length;
    for (const r of rows) for (let j = 0; j < d; j++) sq[j] += (r.observation[j] - mean[j]) ** 2;
    const scale = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const sd = Math.sqrt(sq[j] / rows.length);
      scale[j] = sd > 0 ? sd : 1;
    }
    const overallMean = costSum / rows.length;

    // Normal equations per action: A = XᵀX + λ·diag(0, 1, ..., 1), b = Xᵀy.
    const A = Array.from({ length: K }, () => new Float64Array(p * p));
    const bvec = Array.from({ length: K }, () => new Float64Array(p));
    const count = new Float64Array(K);
    const sumCost = new Float64Array(K);
    const x = new Float64Array(p);
    x[0] = 1;
    for (const r of rows) {
      const a = r.action - 1;
      for (let j = 0; j < d; j++) x[j + 1] = (r.observation[j] - mean[j]) / scale[j];
      const Aa = A[a];
      const ba = bvec[a];
      for (let i = 0; i < p; i++) {
        ba[i] += x[i] * r.cost;
        for (let j = i; j < p; j++) Aa[i * p + j] += x[i] * x[j];
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
    return new RidgeCostModel(K, mean, scale, coefficients, minCost, maxCost);
  }

  /** Predicted cost of every action (index a-1 for action a). */
  predictCosts(context: ArrayLike<number>): Float64Array {
    const d = this.numFeatures;
    if (context.length !== d) throw new OpeInputError("observation", null, `has ${context.length} features; the cost model was fitted on ${d}`);
    const out = new Float64Array(this.numArms);
    for (let a = 0; a < this.numArms; a++) {
      const beta = this.coefficients[a];
      let v = beta[0];
      for (let j = 0; j < d; j++) v += beta[j + 1] * ((context[j] - this.mean[j]) / this.scale[j]);
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
  /** Per-row keys deciding the folds (default: the row index). */
  keys?: readonly string[];
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
  const fold = rows.map((_r, i) => hash32(options.keys?.[i] ?? String(i), 0x5eed) % folds);
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
