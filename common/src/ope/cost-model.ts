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
    return CostFeatures.fitOn(rows.length, d, (i, j) => rows[i].observation[j], map, numBins);
  }

  /** Fits on n rows whose feature j of row i is at(i, j). */
  static fitOn(n: number, d: number, at: (i: number, j: number) => number, map: CostFeatureMap, numBins: number): CostFeatures {
    const mean = new Float64Array(d);
    const sq = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += at(i, j);
    for (let j = 0; j < d; j++) mean[j] /= n;
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sq[j] += (at(i, j) - mean[j]) ** 2;
    const scale = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const sd = Math.sqrt(sq[j] / n);
      scale[j] = sd > 0 ? sd : 1;
    }
    const edges: Float64Array[] = [];
    for (let j = 0; j < d; j++) {
      if (map !== "bins" || numBins < 2) {
        edges.push(new Float64Array(0));
        continue;
      }
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = at(i, j);
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
    return this.encodeAt(x, 0, idx, val);
  }

  /** encode of the context x[from, from + d). */
  encodeAt(x: ArrayLike<number>, from: number, idx: Int32Array, val: Float64Array): number {
    idx[0] = 0;
    val[0] = 1;
    let m = 1;
    const d = this.mean.length;
    for (let j = 0; j < d; j++) {
      idx[m] = 1 + j;
      val[m++] = (x[from + j] - this.mean[j]) / this.scale[j];
    }
    let base = 1 + d;
    for (let j = 0; j < d; j++) {
      const e = this.edges[j];
      if (e.length === 0) continue;
      const xj = x[from + j];
      // b = the number of edges ≤ xj (edges ascending)
      let b = 0, hi = e.length;
      while (b < hi) {
        const mid = (b + hi) >>> 1;
        if (xj >= e[mid]) b = mid + 1;
        else hi = mid;
      }
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
 * Sufficient statistics of the per-action regressions: ΦᵀΦ (its upper triangle, packed row by
 * row), Φᵀy, row counts and cost sums, per action (created when the action first appears). They
 * add and subtract, so cross-fitting builds each fold's training statistics as (all rows) − (the
 * fold) instead of re-reading the other folds.
 */
class RidgeStats {
  readonly A: Float64Array[] = [];
  readonly b: Float64Array[] = [];
  count = new Float64Array(0);
  sumCost = new Float64Array(0);
  private readonly p: number;
  /** Packed index of (i, j), j ≥ i: rowStart[i] + j. */
  readonly rowStart: Int32Array;
  private readonly idx: Int32Array;
  private readonly val: Float64Array;

  constructor(numArms: number, private readonly features: CostFeatures) {
    const p = (this.p = features.size);
    this.rowStart = new Int32Array(p);
    for (let i = 0, off = 0; i < p; off += p - i, i++) this.rowStart[i] = off - i;
    this.idx = new Int32Array(features.maxNonZero);
    this.val = new Float64Array(features.maxNonZero);
    if (numArms > 0) this.arm(numArms - 1);
  }

  /** Number of actions with statistics (the largest action seen). */
  get numArms(): number {
    return this.A.length;
  }

  /** Makes room for 0-based action a (and every one below it). */
  arm(a: number): void {
    const p = this.p;
    while (this.A.length <= a) {
      this.A.push(new Float64Array((p * (p + 1)) / 2));
      this.b.push(new Float64Array(p));
    }
    if (this.count.length <= a) {
      const c = new Float64Array(a + 1), s = new Float64Array(a + 1);
      c.set(this.count);
      s.set(this.sumCost);
      this.count = c;
      this.sumCost = s;
    }
  }

  add(r: CostRow): void {
    this.addRow(r.observation, 0, r.action, r.cost);
  }

  /** Adds the row whose features are obs[from, from + d). */
  addRow(obs: ArrayLike<number>, from: number, action: number, cost: number): void {
    const m = this.features.encodeAt(obs, from, this.idx, this.val);
    this.addEncoded(this.idx, this.val, m, action, cost);
  }

  /** Adds a row already encoded by the features: φ's non-zero entries (idx[s], val[s]), s < m. */
  addEncoded(idx: Int32Array, val: Float64Array, m: number, action: number, cost: number, at = 0): void {
    const a = action - 1;
    if (a >= this.A.length) this.arm(a);
    const Aa = this.A[a];
    const ba = this.b[a];
    const rowStart = this.rowStart;
    const end = at + m;
    for (let s = at; s < end; s++) {
      const i = idx[s];
      const xi = val[s];
      ba[i] += xi * cost;
      // Upper triangle only (idx is ascending); mirrored before solving.
      const row = rowStart[i];
      for (let t = s; t < end; t++) Aa[row + idx[t]] += xi * val[t];
    }
    this.count[a]++;
    this.sumCost[a] += cost;
  }

  /** this += sign · other (same features). */
  addScaled(other: RidgeStats, sign: 1 | -1): this {
    if (other.numArms > 0) this.arm(other.numArms - 1);
    for (let a = 0; a < other.numArms; a++) {
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
  private readonly byFeature: Float64Array;
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
    // The same coefficients by feature: entry j·K + a is β_a[j], so a feature's K weights are adjacent.
    this.byFeature = new Float64Array(features.size * numArms);
    for (let a = 0; a < numArms; a++) for (let j = 0; j < features.size; j++) this.byFeature[j * numArms + a] = coefficients[a][j];
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
    for (let a = 0; a < Math.min(K, stats.numArms); a++) {
      n += stats.count[a];
      costSum += stats.sumCost[a];
    }
    const overallMean = n > 0 ? costSum / n : 0;
    const coefficients: Float64Array[] = [];
    const A = new Float64Array(p * p);
    for (let a = 0; a < K; a++) {
      const beta = new Float64Array(p);
      const count = a < stats.numArms ? stats.count[a] : 0;
      if (count >= minRows) {
        // A = ΦᵀΦ + λ·diag(0, 1, ..., 1) from the stored upper triangle.
        const U = stats.A[a];
        const rowStart = stats.rowStart;
        for (let i = 0; i < p; i++) for (let j = i; j < p; j++) A[i * p + j] = A[j * p + i] = U[rowStart[i] + j];
        for (let i = 1; i < p; i++) A[i * p + i] += o.lambda;
        solveSpd(A, stats.b[a], beta, p);
      } else {
        // Too few rows for a regression: mean cost shrunk toward the overall mean (one pseudo-row).
        beta[0] = ((a < stats.numArms ? stats.sumCost[a] : 0) + overallMean) / (count + 1);
      }
      coefficients.push(beta);
    }
    return new RidgeCostModel(K, d, features, coefficients, range[0], range[1]);
  }

  /** Predicted cost of every action (index a-1 for action a). */
  predictCosts(context: ArrayLike<number>): Float64Array {
    const d = this.numFeatures;
    if (context.length !== d) throw new OpeInputError("observation", null, `has ${context.length} features; the cost model was fitted on ${d}`);
    return this.predictCostsAt(context, 0, new Float64Array(this.numArms));
  }

  /** predictCosts of the context x[from, from + numFeatures), into out. */
  predictCostsAt(x: ArrayLike<number>, from: number, out: Float64Array): Float64Array {
    const m = this.features.encodeAt(x, from, this.idx, this.val);
    return this.predictEncoded(this.idx, this.val, m, out);
  }

  /** predictCosts of a context already encoded by this model's features. */
  predictEncoded(idx: Int32Array, val: Float64Array, m: number, out: Float64Array): Float64Array {
    const K = this.numArms, w = this.byFeature;
    for (let a = 0; a < K; a++) out[a] = 0;
    // Σ_s β_a[idx[s]]·val[s] for every action, the terms added in the order of s as before.
    for (let s = 0; s < m; s++) {
      const base = idx[s] * K, x = val[s];
      for (let a = 0; a < K; a++) out[a] += w[base + a] * x;
    }
    for (let a = 0; a < K; a++) out[a] = Math.min(this.maxCost, Math.max(this.minCost, out[a]));
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
 * Rows the cost model's feature map (standardisation and bin edges) is fitted on: the first
 * COST_FIT_ROWS rows, all of them when there are fewer — as in every workshop evaluation — so
 * cross-fitting holds at most that many rows however many it is given.
 */
export const COST_FIT_ROWS = 100_000;

/**
 * Cross-fitted cost predictions: for each row, the predicted cost of every action from a
 * RidgeCostModel fitted on the rows of the other folds (averaged over `repeats` seeded fold
 * assignments). The feature map (standardisation and bin edges) is fitted once on the rows'
 * contexts (the first COST_FIT_ROWS) — it never sees a cost, so sharing it leaks no outcome — and
 * each fold's regression statistics are (all rows) − (the fold).
 */
export function crossFitCostPredictions(rows: readonly CostRow[], options: CrossFitOptions): Float64Array[] {
  const cf = new CrossFittedCosts(options);
  const keys = options.keys;
  const keyOf = (i: number) => keys?.[i] ?? String(i);
  rows.forEach((r, i) => cf.add(r.observation, 0, r.observation.length, r.action, r.cost, keyOf(i)));
  cf.finish();
  return rows.map((r, i) => cf.predict(r.observation, 0, keyOf(i), new Float64Array(cf.numArms)));
}

/** One fold assignment: each fold's statistics and cost range, then its fitted models. */
interface FoldSet {
  seedWord: number;
  stats: RidgeStats[];
  /** Rows on their way into stats[f], added a batch at a time (see PendingRows). */
  pending: PendingRows[];
  minCost: Float64Array;
  maxCost: Float64Array;
  size: Float64Array;
  models: (RidgeCostModel | null)[];
}

/**
 * Encoded rows waiting to be added to one fold's statistics. Adding a few hundred rows to one
 * statistic at a time keeps its matrices in the cache (each row of each fold set would otherwise
 * touch a different 100 KB matrix); the rows go in in their order, so the sums are the same.
 */
class PendingRows {
  private static readonly ROWS = 256;
  private readonly idx: Int32Array;
  private readonly val: Float64Array;
  private readonly action = new Int32Array(PendingRows.ROWS);
  private readonly cost = new Float64Array(PendingRows.ROWS);
  private n = 0;
  private m = 0;

  constructor(maxNonZero: number) {
    this.idx = new Int32Array(PendingRows.ROWS * maxNonZero);
    this.val = new Float64Array(PendingRows.ROWS * maxNonZero);
  }

  push(idx: Int32Array, val: Float64Array, m: number, action: number, cost: number, into: RidgeStats): void {
    this.m = m;
    const at = this.n * m;
    for (let s = 0; s < m; s++) {
      this.idx[at + s] = idx[s];
      this.val[at + s] = val[s];
    }
    this.action[this.n] = action;
    this.cost[this.n++] = cost;
    if (this.n === PendingRows.ROWS) this.flush(into);
  }

  /** Adds the rows, one action's at a time (each action has its own matrix; within it, row order). */
  flush(into: RidgeStats): void {
    const n = this.n, action = this.action;
    let lo = Infinity, hi = -Infinity;
    for (let r = 0; r < n; r++) {
      if (action[r] < lo) lo = action[r];
      if (action[r] > hi) hi = action[r];
    }
    for (let a = lo; a <= hi; a++) {
      for (let r = 0; r < n; r++) if (action[r] === a) into.addEncoded(this.idx, this.val, this.m, a, this.cost[r], r * this.m);
    }
    this.n = 0;
  }
}

/**
 * crossFitCostPredictions in two passes over the rows, holding statistics, not rows: `add` every
 * row (pass 1), `finish`, then `predict` each row again by its key (pass 2). The rows before the
 * feature map is fitted (the first COST_FIT_ROWS) are held; then every row streams into each fold
 * assignment's statistics in order, so the predictions equal the in-memory computation's.
 */
export class CrossFittedCosts {
  private o: ResolvedRidgeOptions;
  private readonly folds: number;
  private readonly repeats: number;
  private readonly seed: string;
  private readonly sampleRows: number;
  private features: CostFeatures | null = null;
  private d = -1;
  private n = 0;
  /** The held rows: contexts (n × d), actions, costs, keys. */
  private held: { obs: number[]; action: number[]; cost: number[]; key: (string | number)[] } | null = { obs: [], action: [], cost: [], key: [] };
  private sets: FoldSet[] = [];
  /** Fewer than 2 rows per fold, or one fold: one model fitted on every row scores them all. */
  private inSample: RidgeCostModel | null = null;
  private finished = false;
  private acc: Float64Array;
  private idx = new Int32Array(0);
  private val = new Float64Array(0);

  constructor(options: CrossFitOptions, sampleRows = COST_FIT_ROWS) {
    const folds = options.folds ?? 5;
    if (!Number.isInteger(folds) || folds < 1 || folds > 1000) throw new OpeInputError("folds", null, `must be an integer 1..1000, got ${folds}`);
    const repeats = options.repeats ?? 1;
    if (!Number.isInteger(repeats) || repeats < 1 || repeats > 100) throw new OpeInputError("repeats", null, `must be an integer 1..100, got ${repeats}`);
    this.o = resolveRidgeOptions(options);
    this.folds = folds;
    this.repeats = repeats;
    this.seed = String(options.seed ?? 1);
    this.sampleRows = Math.max(sampleRows, 2 * folds);
    this.acc = new Float64Array(this.o.numArms);
  }

  get numArms(): number {
    return this.o.numArms;
  }

  /** Adds a row whose context is obs[from, to) (pass 1). */
  add(obs: ArrayLike<number>, from: number, to: number, action: number, cost: number, key: string | number): void {
    if (this.finished) throw new Error("CrossFittedCosts.add after finish");
    if (this.d < 0) this.d = to - from;
    this.n++;
    const h = this.held;
    if (h !== null) {
      for (let j = from; j < to; j++) h.obs.push(obs[j]);
      h.action.push(action);
      h.cost.push(cost);
      h.key.push(key);
      if (h.action.length >= this.sampleRows) this.fitFeatures();
      return;
    }
    this.addToSets(obs, from, action, cost, key);
  }

  /** Fits the feature map on the held rows, then streams them into the fold statistics. */
  private fitFeatures(): void {
    const h = this.held as NonNullable<CrossFittedCosts["held"]>;
    const d = this.d, n = h.action.length;
    this.features = CostFeatures.fitOn(n, d, (i, j) => h.obs[i * d + j], this.o.featureMap, this.o.numBins);
    this.idx = new Int32Array(this.features.maxNonZero);
    this.val = new Float64Array(this.features.maxNonZero);
    for (let r = 0; r < this.repeats; r++) {
      const seed = r === 0 ? this.seed : `${this.seed}/${r}`;
      this.sets.push({
        seedWord: hash32(seed, 0x5eed),
        stats: Array.from({ length: this.folds }, () => new RidgeStats(this.o.numArms, this.features as CostFeatures)),
        pending: Array.from({ length: this.folds }, () => new PendingRows((this.features as CostFeatures).maxNonZero)),
        minCost: new Float64Array(this.folds).fill(Infinity),
        maxCost: new Float64Array(this.folds).fill(-Infinity),
        size: new Float64Array(this.folds),
        models: [],
      });
    }
    this.held = null;
    for (let i = 0; i < n; i++) this.addToSets(h.obs, i * d, h.action[i], h.cost[i], h.key[i]);
    // Tiny data: one model fitted on every row (in row order) scores every row.
    if (this.folds === 1 || n < 2 * this.folds) {
      if (this.n === n) {
        const all = new RidgeStats(this.o.numArms, this.features);
        for (let i = 0; i < n; i++) all.addRow(h.obs, i * d, h.action[i], h.cost[i]);
        let lo = Infinity, hi = -Infinity;
        for (const c of h.cost) {
          if (c < lo) lo = c;
          if (c > hi) hi = c;
        }
        this.inSample = RidgeCostModel.fromStats(all, this.features, d, this.o, [lo, hi]);
      }
    }
  }

  private foldOf(key: string | number, seedWord: number): number {
    return (typeof key === "number" ? fmix32((key ^ seedWord) >>> 0) : hash32(key, seedWord)) % this.folds;
  }

  private addToSets(obs: ArrayLike<number>, from: number, action: number, cost: number, key: string | number): void {
    const idx = this.idx, val = this.val;
    const m = (this.features as CostFeatures).encodeAt(obs, from, idx, val); // once for every fold set
    for (const set of this.sets) {
      const f = this.foldOf(key, set.seedWord);
      set.pending[f].push(idx, val, m, action, cost, set.stats[f]);
      set.size[f]++;
      if (cost < set.minCost[f]) set.minCost[f] = cost;
      if (cost > set.maxCost[f]) set.maxCost[f] = cost;
    }
  }

  /**
   * Ends pass 1: fits every fold's model (at least one row must have been added). `numArms`: the
   * number of actions when it was only known once every row was seen.
   */
  finish(numArms = this.o.numArms): void {
    if (this.n === 0) throw new OpeInputError("rows", null, "is empty: a cost model needs at least one logged row");
    if (numArms !== this.o.numArms) {
      this.o = { ...this.o, numArms };
      this.acc = new Float64Array(numArms);
    }
    if (this.held !== null) this.fitFeatures();
    this.finished = true;
    const features = this.features as CostFeatures;
    if (this.folds === 1 || this.n < 2 * this.folds) {
      if (this.inSample === null) {
        // More rows than were held with one fold: its statistics are every row's.
        const set = this.sets[0];
        set.pending[0].flush(set.stats[0]);
        const all = new RidgeStats(this.o.numArms, features).addScaled(set.stats[0], 1);
        this.inSample = RidgeCostModel.fromStats(all, features, this.d, this.o, [set.minCost[0], set.maxCost[0]]);
      }
      this.sets = [];
      return;
    }
    for (const set of this.sets) {
      set.pending.forEach((p, f) => p.flush(set.stats[f]));
      const total = new RidgeStats(this.o.numArms, features);
      for (const f of set.stats) total.addScaled(f, 1);
      for (let f = 0; f < this.folds; f++) {
        if (set.size[f] === 0) {
          set.models.push(null);
          continue;
        }
        // A fold holding every row (tiny data) has no other folds: fall back to the in-sample model.
        const inSample = set.size[f] === this.n;
        const train = inSample ? total : new RidgeStats(this.o.numArms, features).addScaled(total, 1).addScaled(set.stats[f], -1);
        let lo = Infinity, hi = -Infinity;
        for (let g = 0; g < this.folds; g++) {
          if (!inSample && g === f) continue;
          if (set.minCost[g] < lo) lo = set.minCost[g];
          if (set.maxCost[g] > hi) hi = set.maxCost[g];
        }
        set.models.push(RidgeCostModel.fromStats(train, features, this.d, this.o, [lo, hi]));
      }
      set.stats = []; // the models are all that pass 2 needs
    }
  }

  /** Pass 2: the cross-fitted predicted cost of every action for the row (context obs[from, from + d)) with this key, into out. */
  predict(obs: ArrayLike<number>, from: number, key: string | number, out: Float64Array): Float64Array {
    if (!this.finished) throw new Error("CrossFittedCosts.predict before finish");
    if (this.inSample !== null) return this.inSample.predictCostsAt(obs, from, out);
    const K = this.o.numArms;
    const acc = this.acc;
    const m = (this.features as CostFeatures).encodeAt(obs, from, this.idx, this.val); // every model shares the features
    for (let r = 0; r < this.sets.length; r++) {
      const set = this.sets[r];
      const model = set.models[this.foldOf(key, set.seedWord)] as RidgeCostModel;
      model.predictEncoded(this.idx, this.val, m, r === 0 ? out : acc);
      if (r > 0) for (let a = 0; a < K; a++) out[a] += acc[a];
    }
    if (this.repeats > 1) for (let a = 0; a < K; a++) out[a] /= this.repeats;
    return out;
  }
}
