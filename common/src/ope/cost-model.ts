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
 * key and a seed, and each row's predictions come from a model fitted on the other folds, so a
 * row never scores itself — the condition under which DR keeps its guarantees with a flexible
 * model. Everything is deterministic: the same keys and seed give the same folds.
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

interface ResolvedRidgeOptions {
  numArms: number;
  lambda: number;
  featureMap: CostFeatureMap;
  numBins: number;
  minRowsPerAction?: number;
}

function resolveRidgeOptions(options: RidgeCostModelOptions): ResolvedRidgeOptions {
  const K = options.numArms;
  if (!Number.isInteger(K) || K < 1) throw new OpeInputError("numArms", null, `must be a positive integer, got ${K}`);
  const lambda = options.lambda ?? 1;
  if (!(lambda > 0) || !Number.isFinite(lambda)) throw new OpeInputError("lambda", null, `must be a positive number, got ${lambda}`);
  const featureMap = options.featureMap ?? "bins";
  if (featureMap !== "linear" && featureMap !== "bins") throw new OpeInputError("featureMap", null, `must be "linear" or "bins", got ${JSON.stringify(featureMap)}`);
  const numBins = options.numBins ?? 16;
  if (!Number.isInteger(numBins) || numBins < 1) throw new OpeInputError("numBins", null, `must be a positive integer, got ${numBins}`);
  return { numArms: K, lambda, featureMap, numBins, minRowsPerAction: options.minRowsPerAction };
}

/** Smallest and largest cost among the rows that pass `keep` (the clipping range of predictions). */
function costRange(rows: readonly CostRow[], keep: (i: number) => boolean): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < rows.length; i++) {
    if (!keep(i)) continue;
    const c = rows[i].cost;
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  return [lo, hi];
}

/**
 * Sufficient statistics of the per-action regressions: ΦᵀΦ (upper triangle), Φᵀy, row counts
 * and cost sums. They add and subtract, so cross-fitting builds each fold's training statistics
 * as (all rows) − (the fold) instead of re-reading the other folds.
 */
class RidgeStats {
  readonly A: Float64Array[];
  readonly b: Float64Array[];
  readonly count: Float64Array;
  readonly sumCost: Float64Array;
  private readonly p: number;
  private readonly idx: Int32Array;
  private readonly val: Float64Array;

  constructor(readonly numArms: number, private readonly features: CostFeatures) {
    const p = (this.p = features.size);
    this.A = Array.from({ length: numArms }, () => new Float64Array(p * p));
    this.b = Array.from({ length: numArms }, () => new Float64Array(p));
    this.count = new Float64Array(numArms);
    this.sumCost = new Float64Array(numArms);
    this.idx = new Int32Array(features.maxNonZero);
    this.val = new Float64Array(features.maxNonZero);
  }

  add(r: CostRow): void {
    const a = r.action - 1;
    const p = this.p;
    const idx = this.idx;
    const val = this.val;
    const m = this.features.encode(r.observation, idx, val);
    const Aa = this.A[a];
    const ba = this.b[a];
    for (let s = 0; s < m; s++) {
      const i = idx[s];
      const xi = val[s];
      ba[i] += xi * r.cost;
      // Upper triangle only (idx is ascending); mirrored before solving.
      for (let t = s; t < m; t++) Aa[i * p + idx[t]] += xi * val[t];
    }
    this.count[a]++;
    this.sumCost[a] += r.cost;
  }

  /** this += sign · other (same features). */
  addScaled(other: RidgeStats, sign: 1 | -1): this {
    for (let a = 0; a < this.numArms; a++) {
      const A = this.A[a];
      const oA = other.A[a];
      for (let i = 0; i < A.length; i++) A[i] += sign * oA[i];
      const b = this.b[a];
      const ob = other.b[a];
      for (let i = 0; i < b.length; i++) b[i] += sign * ob[i];
      this.count[a] += sign * other.count[a];
      this.sumCost[a] += sign * other.sumCost[a];
    }
    return this;
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
    const o = resolveRidgeOptions(options);
    if (rows.length === 0) throw new OpeInputError("rows", null, "is empty: a cost model needs at least one logged row");
    const d = rows[0].observation.length;
    const features = CostFeatures.fit(rows, d, o.featureMap, o.numBins);
    const stats = new RidgeStats(o.numArms, features);
    for (const r of rows) stats.add(r);
    const range = costRange(rows, () => true);
    return RidgeCostModel.fromStats(stats, features, d, o, range);
  }

  /** @internal Solves the per-action ridge regressions from their sufficient statistics. */
  static fromStats(stats: RidgeStats, features: CostFeatures, d: number, o: ResolvedRidgeOptions, range: [number, number]): RidgeCostModel {
    const K = o.numArms;
    const p = features.size;
    const minRows = o.minRowsPerAction ?? 2 * (d + 1);
    let n = 0;
    let costSum = 0;
    for (let a = 0; a < K; a++) {
      n += stats.count[a];
      costSum += stats.sumCost[a];
    }
    const overallMean = n > 0 ? costSum / n : 0;
    const coefficients: Float64Array[] = [];
    const A = new Float64Array(p * p);
    for (let a = 0; a < K; a++) {
      const beta = new Float64Array(p);
      if (stats.count[a] >= minRows) {
        // A = ΦᵀΦ + λ·diag(0, 1, ..., 1) from the stored upper triangle.
        const U = stats.A[a];
        for (let i = 0; i < p; i++) for (let j = i; j < p; j++) A[i * p + j] = A[j * p + i] = U[i * p + j];
        for (let i = 1; i < p; i++) A[i * p + i] += o.lambda;
        solveSpd(A, stats.b[a], beta, p);
      } else {
        // Too few rows for a regression: mean cost shrunk toward the overall mean (one pseudo-row).
        beta[0] = (stats.sumCost[a] + overallMean) / (stats.count[a] + 1);
      }
      coefficients.push(beta);
    }
    return new RidgeCostModel(K, d, features, coefficients, range[0], range[1]);
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
  /**
   * Seed of the fold assignment (default 1): a row's fold is a hash of (its key, the seed), so
   * another seed gives another cross-fitting split (see docs/ope.md for how much DR moves).
   */
  seed?: number | string;
  /**
   * Number of independent fold assignments whose predictions are averaged (default 1). Each
   * row's prediction still comes only from models that never saw it; averaging over R splits
   * shrinks the estimate's dependence on the split by about √R.
   */
  repeats?: number;
}

/**
 * Cross-fitted cost predictions: for each row, the predicted cost of every action from a
 * RidgeCostModel fitted on the rows of the other folds (averaged over `repeats` seeded fold
 * assignments). The feature map (standardisation and bin edges) is fitted once on all rows'
 * contexts — it never sees a cost, so sharing it leaks no outcome — and each fold's regression
 * statistics are (all rows) − (the fold).
 */
export function crossFitCostPredictions(rows: readonly CostRow[], options: CrossFitOptions): Float64Array[] {
  const folds = options.folds ?? 5;
  if (!Number.isInteger(folds) || folds < 1) throw new OpeInputError("folds", null, `must be a positive integer, got ${folds}`);
  const repeats = options.repeats ?? 1;
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 100) throw new OpeInputError("repeats", null, `must be an integer 1..100, got ${repeats}`);
  if (folds === 1 || rows.length < 2 * folds) {
    const model = RidgeCostModel.fit(rows, options);
    return rows.map((r) => model.predictCosts(r.observation));
  }
  const o = resolveRidgeOptions(options);
  const d = rows[0].observation.length;
  const features = CostFeatures.fit(rows, d, o.featureMap, o.numBins);
  const out = crossFitOnce(rows, options, o, features, d, folds, String(options.seed ?? 1));
  for (let r = 1; r < repeats; r++) {
    const more = crossFitOnce(rows, options, o, features, d, folds, `${options.seed ?? 1}/${r}`);
    for (let i = 0; i < rows.length; i++) for (let a = 0; a < out[i].length; a++) out[i][a] += more[i][a];
  }
  if (repeats > 1) for (const p of out) for (let a = 0; a < p.length; a++) p[a] /= repeats;
  return out;
}

/** One seeded fold assignment's cross-fitted predictions. */
function crossFitOnce(rows: readonly CostRow[], options: CrossFitOptions, o: ReturnType<typeof resolveRidgeOptions>, features: CostFeatures, d: number, folds: number, seed: string): Float64Array[] {
  const seedWord = hash32(seed, 0x5eed);
  const fold = rows.map((_r, i) => {
    const k = options.keys?.[i] ?? String(i);
    return (typeof k === "number" ? fmix32((k ^ seedWord) >>> 0) : hash32(k, seedWord)) % folds;
  });
  const perFold = Array.from({ length: folds }, () => new RidgeStats(o.numArms, features));
  rows.forEach((r, i) => perFold[fold[i]].add(r));
  const total = new RidgeStats(o.numArms, features);
  for (const f of perFold) total.addScaled(f, 1);
  const out: Float64Array[] = new Array(rows.length);
  const foldSize = new Array<number>(folds).fill(0);
  for (const f of fold) foldSize[f]++;
  for (let f = 0; f < folds; f++) {
    if (foldSize[f] === 0) continue;
    // A fold holding every row (tiny data) has no other folds: fall back to the in-sample model.
    const inSample = foldSize[f] === rows.length;
    const train = inSample ? total : new RidgeStats(o.numArms, features).addScaled(total, 1).addScaled(perFold[f], -1);
    const model = RidgeCostModel.fromStats(train, features, d, o, costRange(rows, (i) => inSample || fold[i] !== f));
    for (let i = 0; i < rows.length; i++) if (fold[i] === f) out[i] = model.predictCosts(rows[i].observation);
  }
  return out;
}
