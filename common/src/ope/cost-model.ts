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
import { hash32 } from "../util/random";
import { FoldSet, FoldSetParts, FoldSets, RidgeStats, foldOf } from "./fold-stats";
import { WorkerChannel, type WorkerMessage } from "./worker-channel";
import { OpeInputError } from "./errors";
import type { CostModel } from "./types";
import { showValue } from "../util/show";

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
  if (featureMap !== "linear" && featureMap !== "bins") throw new OpeInputError("featureMap", null, `must be "linear" or "bins", got ${showValue(featureMap)}`);
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
    const stats = statsOfRows(features, o.numArms, rows.length, (i) => rows[i].observation, () => 0, (i) => rows[i].action, (i) => rows[i].cost);
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

/** RidgeStats of n rows (row i: context ctx(i)[from(i), ...), its action and cost), added in order. */
function statsOfRows(features: CostFeatures, numArms: number, n: number, ctx: (i: number) => ArrayLike<number>, from: (i: number) => number, action: (i: number) => number, cost: (i: number) => number): RidgeStats {
  const stats = new RidgeStats(numArms, features.size);
  const idx = new Int32Array(features.maxNonZero), val = new Float64Array(features.maxNonZero);
  for (let i = 0; i < n; i++) {
    const m = features.encodeAt(ctx(i), from(i), idx, val);
    stats.addEncoded(idx, val, m, action(i), cost(i));
  }
  return stats;
}

/** One fold assignment's statistics with its fitted models (null for an empty fold). */
type FittedFoldSet = FoldSet & { models: (RidgeCostModel | null)[] };

/**
 * crossFitCostPredictions in two passes over the rows, holding statistics, not rows: `add` every
 * row (pass 1), `finish`, then `predict` each row again by its key (pass 2). The rows before the
 * feature map is fitted (the first COST_FIT_ROWS) are held; then every row streams into each fold
 * assignment's statistics in order, so the predictions equal the in-memory computation's. With
 * `inWorker` (number keys only), the statistics past the held rows are added in a worker thread
 * while this one reads on (`await drain()` now and then, `await finishAsync()`): the same sums.
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
  /** The held rows: contexts (n × d, allocated at the first row), actions, costs, keys. */
  private held: { n: number; obs: Float64Array; action: Int32Array; cost: Float64Array; key: (string | number)[] } | null = null;
  private local: FoldSets | null = null;
  private worker: WorkerFolds | null = null;
  private sets: FittedFoldSet[] = [];
  /** Fewer than 2 rows per fold, or one fold: one model fitted on every row scores them all. */
  private inSample: RidgeCostModel | null = null;
  /** Its statistics, when every row was held (added in row order, as RidgeCostModel.fit adds them). */
  private allRows: { stats: RidgeStats; range: [number, number] } | null = null;
  private finished = false;
  private acc: Float64Array;
  private idx = new Int32Array(0);
  private val = new Float64Array(0);

  constructor(options: CrossFitOptions, sampleRows = COST_FIT_ROWS, private readonly inWorker = false) {
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

  /**
   * Every setting the fitted model depends on besides the rows, finished with `numArms` actions:
   * with the same rows, two instances with the same key fit the same models (fittedCostModels' key).
   */
  settingsKey(numArms: number): string {
    const o = this.o;
    return JSON.stringify([numArms, o.numArms, o.lambda, o.featureMap, o.numBins, o.minRowsPerAction ?? null, this.folds, this.repeats, this.seed, this.sampleRows]);
  }

  /** Adds a row whose context is obs[from, to) (pass 1). */
  add(obs: ArrayLike<number>, from: number, to: number, action: number, cost: number, key: string | number): void {
    if (this.finished) throw new Error("CrossFittedCosts.add after finish");
    if (this.d < 0) {
      this.d = to - from;
      this.held = { n: 0, obs: new Float64Array(16 * this.d), action: new Int32Array(16), cost: new Float64Array(16), key: [] };
    }
    this.n++;
    const h = this.held;
    if (h !== null) {
      const i = h.n++;
      if (i === h.action.length) this.growHeld(h, Math.min(this.sampleRows, 2 * i));
      h.obs.set(typeof (obs as Float64Array).subarray === "function" ? (obs as Float64Array).subarray(from, to) : Array.prototype.slice.call(obs, from, to), i * this.d);
      h.action[i] = action;
      h.cost[i] = cost;
      h.key.push(key);
      if (h.n >= this.sampleRows) this.fitFeatures(true);
      return;
    }
    this.addToSets(obs, from, action, cost, key);
  }

  private growHeld(h: NonNullable<CrossFittedCosts["held"]>, rows: number): void {
    const obs = new Float64Array(rows * this.d), action = new Int32Array(rows), cost = new Float64Array(rows);
    obs.set(h.obs);
    action.set(h.action);
    cost.set(h.cost);
    h.obs = obs;
    h.action = action;
    h.cost = cost;
  }

  /** Fits the feature map on the held rows, then streams them into the fold statistics (in a worker when `many` rows come and it is allowed). */
  private fitFeatures(many: boolean): void {
    const h = this.held as NonNullable<CrossFittedCosts["held"]>;
    const d = this.d, n = h.n;
    const features = (this.features = CostFeatures.fitOn(n, d, (i, j) => h.obs[i * d + j], this.o.featureMap, this.o.numBins));
    this.idx = new Int32Array(features.maxNonZero);
    this.val = new Float64Array(features.maxNonZero);
    const seedWords = Array.from({ length: this.repeats }, (_, r) => hash32(r === 0 ? this.seed : `${this.seed}/${r}`, 0x5eed));
    // With a worker, this thread keeps the first 40 % of the fold assignments (it also reads and
    // encodes the rows) and the worker the others: the two threads then take about as long.
    const split = many && this.inWorker && this.repeats > 1 && h.key.every((k) => typeof k === "number") ? Math.max(1, Math.floor(this.repeats * 0.4)) : seedWords.length;
    this.local = new FoldSets(features.size, features.maxNonZero, this.o.numArms, this.folds, seedWords.slice(0, split));
    if (split < seedWords.length) this.worker = WorkerFolds.start(features.size, features.maxNonZero, this.o.numArms, this.folds, seedWords.slice(split));
    this.held = null;
    for (let i = 0; i < n; i++) this.addToSets(h.obs, i * d, h.action[i], h.cost[i], h.key[i]);
    // Tiny data: one model fitted on every row (in row order) scores every row.
    if ((this.folds === 1 || n < 2 * this.folds) && this.n === n) {
      const stats = statsOfRows(features, this.o.numArms, n, () => h.obs, (i) => i * d, (i) => h.action[i], (i) => h.cost[i]);
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i < n; i++) {
        if (h.cost[i] < lo) lo = h.cost[i];
        if (h.cost[i] > hi) hi = h.cost[i];
      }
      this.allRows = { stats, range: [lo, hi] };
    }
  }

  private addToSets(obs: ArrayLike<number>, from: number, action: number, cost: number, key: string | number): void {
    const m = (this.features as CostFeatures).encodeAt(obs, from, this.idx, this.val); // once for every fold set
    (this.local as FoldSets).add(this.idx, this.val, 0, m, action, cost, key);
    if (this.worker !== null) this.worker.add(this.idx, this.val, m, action, cost, key as number);
  }

  /** Waits while the worker is far behind (bounded memory); nothing to wait for without one. */
  async drain(): Promise<void> {
    if (this.worker !== null) await this.worker.drain();
  }

  /** finish, with the worker's statistics when one was used. */
  async finishAsync(numArms = this.o.numArms): Promise<void> {
    this.setNumArms(numArms);
    if (this.worker !== null) {
      const sets = await this.worker.finish();
      this.worker = null;
      this.finishWith([...(this.local as FoldSets).flush().sets, ...sets], numArms);
      this.local = null;
    } else this.finish(numArms);
  }

  /**
   * Ends pass 1: fits every fold's model (at least one row must have been added). `numArms`: the
   * number of actions when it was only known once every row was seen.
   */
  finish(numArms = this.o.numArms): void {
    if (this.n === 0) throw new OpeInputError("rows", null, "is empty: a cost model needs at least one logged row");
    this.setNumArms(numArms);
    if (this.held !== null && this.held.n > 0) this.fitFeatures(false);
    if (this.worker !== null) throw new Error("CrossFittedCosts: a worker adds the statistics; call finishAsync");
    this.finishWith((this.local as FoldSets).flush().sets, numArms);
    this.local = null;
  }

  /** The number of actions, when it was only known once every row was seen. */
  private setNumArms(numArms: number): void {
    if (numArms === this.o.numArms) return;
    this.o = { ...this.o, numArms };
    this.acc = new Float64Array(numArms);
  }

  private finishWith(foldSets: FoldSet[], numArms: number): void {
    this.setNumArms(numArms);
    this.finished = true;
    const features = this.features as CostFeatures;
    const p = features.size;
    if (this.folds === 1 || this.n < 2 * this.folds) {
      if (this.allRows !== null) this.inSample = RidgeCostModel.fromStats(this.allRows.stats, features, this.d, this.o, this.allRows.range);
      else {
        // More rows than were held with one fold: its statistics are every row's.
        const set = foldSets[0];
        const all = new RidgeStats(this.o.numArms, p).addScaled(set.stats[0], 1);
        this.inSample = RidgeCostModel.fromStats(all, features, this.d, this.o, [set.minCost[0], set.maxCost[0]]);
      }
      return;
    }
    for (const set of foldSets) {
      const total = new RidgeStats(this.o.numArms, p);
      for (const f of set.stats) total.addScaled(f, 1);
      const models: (RidgeCostModel | null)[] = [];
      for (let f = 0; f < this.folds; f++) {
        if (set.size[f] === 0) {
          models.push(null);
          continue;
        }
        // A fold holding every row (tiny data) has no other folds: fall back to the in-sample model.
        const inSample = set.size[f] === this.n;
        const train = inSample ? total : new RidgeStats(this.o.numArms, p).addScaled(total, 1).addScaled(set.stats[f], -1);
        let lo = Infinity, hi = -Infinity;
        for (let g = 0; g < this.folds; g++) {
          if (!inSample && g === f) continue;
          if (set.minCost[g] < lo) lo = set.minCost[g];
          if (set.maxCost[g] > hi) hi = set.maxCost[g];
        }
        models.push(RidgeCostModel.fromStats(train, features, this.d, this.o, [lo, hi]));
      }
      // The models are all that pass 2 needs.
      this.sets.push({ seedWord: set.seedWord, stats: [], minCost: set.minCost, maxCost: set.maxCost, size: set.size, models });
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
      const model = set.models[foldOf(key, set.seedWord, this.folds)] as RidgeCostModel;
      model.predictEncoded(this.idx, this.val, m, r === 0 ? out : acc);
      if (r > 0) for (let a = 0; a < K; a++) out[a] += acc[a];
    }
    if (this.repeats > 1) for (let a = 0; a < K; a++) out[a] /= this.repeats;
    return out;
  }
}

/** The evaluating thread's side of a worker adding rows to FoldSets (ope/worker.ts). */
class WorkerFolds {
  private static readonly BATCH = 1024;
  private readonly channel: WorkerChannel<FoldSetParts[]>;
  private idx: Int32Array;
  private val: Float64Array;
  private rows: Float64Array;
  private n = 0;
  private m = 0;

  private constructor(channel: WorkerChannel<FoldSetParts[]>, private readonly maxNonZero: number) {
    this.channel = channel;
    this.idx = new Int32Array(WorkerFolds.BATCH * maxNonZero);
    this.val = new Float64Array(WorkerFolds.BATCH * maxNonZero);
    this.rows = new Float64Array(WorkerFolds.BATCH * 3);
  }

  static start(p: number, maxNonZero: number, numArms: number, folds: number, seedWords: number[]): WorkerFolds {
    const msg: WorkerMessage = { type: "folds", p, maxNonZero, numArms, folds, seedWords };
    return new WorkerFolds(WorkerChannel.open(msg), maxNonZero);
  }

  add(idx: Int32Array, val: Float64Array, m: number, action: number, cost: number, key: number): void {
    this.m = m;
    const at = this.n * m;
    for (let s = 0; s < m; s++) {
      this.idx[at + s] = idx[s];
      this.val[at + s] = val[s];
    }
    const r = this.n * 3;
    this.rows[r] = action;
    this.rows[r + 1] = cost;
    this.rows[r + 2] = key;
    if (++this.n === WorkerFolds.BATCH) this.send();
  }

  private send(): void {
    if (this.n === 0) return;
    const msg: WorkerMessage = { type: "fold-rows", n: this.n, m: this.m, idx: this.idx, val: this.val, rows: this.rows };
    this.channel.send(msg, [this.idx.buffer as ArrayBuffer, this.val.buffer as ArrayBuffer, this.rows.buffer as ArrayBuffer]);
    this.idx = new Int32Array(WorkerFolds.BATCH * this.maxNonZero);
    this.val = new Float64Array(WorkerFolds.BATCH * this.maxNonZero);
    this.rows = new Float64Array(WorkerFolds.BATCH * 3);
    this.n = 0;
  }

  drain(): Promise<void> {
    return this.channel.drain();
  }

  async finish(): Promise<FoldSet[]> {
    this.send();
    return FoldSets.setsFromParts(await this.channel.finish());
  }
}
