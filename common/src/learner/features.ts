/**
 * Feature maps: how a context becomes a sparse list of (weight row, value) pairs.
 *
 * Semantics are VW's hashing trick: every feature has a name (vector feature i is named
 * String(i + 1), like `1:v1 2:v2 ...` in VW text), the name is hashed with murmur3 (`hash32`) into
 * b bits, and features whose hashes collide share a weight. A constant feature (bias) is always
 * present. Storage is compact: a hashed index gets a row in the weight store the first time it is
 * used, so 2^b only bounds the number of distinct weights (memory grows with the features seen).
 *
 * Vector contexts take a precomputed, allocation-free path: the rows of every feature (and of every
 * bin or pair) are looked up once per dimension and reused.
 */
import { numberProblem } from "../data/numbers";
import { hash32 } from "../util/random";
import { ConfigMismatchError, LearnerError, NUM_FEATURES_KEY } from "./errors";

/** How contexts become features: the raw values, every pairwise product too, or one-hot bins. */
export const FEATURE_MAPS = ["linear", "quadratic", "bins"] as const;
export type FeatureMapKind = (typeof FEATURE_MAPS)[number];
/**
 * How the bins map places its edges, fitted once on the first training batch and then frozen:
 * `gaussian` = mean + std · Φ⁻¹(k/numBins) per feature (robust with few rows), `quantile` =
 * empirical quantiles of the batch.
 */
export const BINNINGS = ["gaussian", "quantile"] as const;
export type BinningKind = (typeof BINNINGS)[number];

/**
 * The bins are fitted on the contexts of the first BIN_FIT_ROWS valid rows of the first training
 * batch (all of it when it is smaller, as every workshop batch is), so training holds at most that
 * many rows however large its file is.
 */
export const BIN_FIT_ROWS = 100_000;

/** A context: a numeric vector (feature i is named String(i + 1), as in VW text) or named features. */
export type Context = ArrayLike<number> | Record<string, number>;

/** Seed of the feature-name hash (fixed: it is part of the model's meaning). */
export const FEATURE_HASH_SEED = 0;
/** Name of the constant feature. */
export const CONSTANT_FEATURE = "Constant";

/** Maps hashed indices to compact rows; implemented by the weight store. */
export interface RowAllocator {
  rowOf(hashIndex: number): number;
}

/** A reusable encoded example: rows[i] has value vals[i] for i < n. */
export class EncodedExample {
  rows = new Int32Array(64);
  vals = new Float64Array(64);
  n = 0;
  push(row: number, val: number): void {
    if (this.n === this.rows.length) {
      const r = new Int32Array(this.n * 2);
      r.set(this.rows);
      this.rows = r;
      const v = new Float64Array(this.n * 2);
      v.set(this.vals);
      this.vals = v;
    }
    this.rows[this.n] = row;
    this.vals[this.n++] = val;
  }
}

/** Fitted state of a feature map (saved in the model). */
export interface FeatureMapState {
  kind: FeatureMapKind;
  bits: number;
  numBins: number;
  /** bins: how edges are fitted on the first training batch (see BinningKind). */
  binning: BinningKind;
  /** bins: sorted inner bin edges per feature name (value v falls in bin #edges below or equal v). */
  binEdges: Record<string, number[]> | null;
  /** Vector contexts: the feature count, from the numFeatures option or else the first example (null until then). */
  numFeatures: number | null;
}

/**
 * Quantile bin edges of one feature from sample values: up to numBins − 1 distinct inner edges,
 * each halfway between neighbouring distinct values so that ties never straddle an edge.
 */
export function quantileEdges(values: ArrayLike<number>, numBins: number): number[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const edges: number[] = [];
  if (n === 0) return edges;
  for (let k = 1; k < numBins; k++) {
    const i = Math.floor((k * n) / numBins);
    if (i <= 0 || i >= n) continue;
    const lo = sorted[i - 1], hi = sorted[i];
    if (hi === lo) continue; // inside a run of equal values: no edge here
    const e = (lo + hi) / 2;
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  return edges;
}

/**
 * Number of edges <= v: the bin index 0..edges.length. A binary search whose steps depend only
 * on the number of edges, not on v: the comparison is added, not branched on, so there is no
 * mispredicted jump per step (it ran for every feature of every example).
 */
export function binOf(edges: ArrayLike<number>, v: number): number {
  let n = edges.length;
  if (n === 0) return 0;
  let base = 0;
  while (n > 1) {
    const half = n >>> 1;
    base += half * +(edges[base + half - 1] <= v);
    n -= half;
  }
  return base + +(edges[base] <= v);
}

interface VectorPlan {
  dim: number;
  constRow: number;
  linRows: Int32Array;
  /** quadratic: rows of pairs (i <= j), in order. */
  quadRows: Int32Array;
  /** bins: per feature, the rows of its bins; edges per feature. */
  binRows: Int32Array[];
  edges: Float64Array[];
}

export class FeatureMap {
  readonly mask: number;
  private plan: VectorPlan | null = null;
  private nameRows = new Map<string, number>();

  constructor(readonly state: FeatureMapState, private readonly store: RowAllocator) {
    this.mask = state.bits >= 31 ? 0xffffffff : (1 << state.bits) - 1;
  }

  /** The hashed weight index of a feature name. */
  indexOf(name: string): number {
    return (hash32(name, FEATURE_HASH_SEED) & this.mask) >>> 0;
  }

  private rowOfName(name: string): number {
    let r = this.nameRows.get(name);
    if (r === undefined) {
      r = this.store.rowOf(this.indexOf(name));
      this.nameRows.set(name, r);
    }
    return r;
  }

  get needsBins(): boolean {
    return this.state.kind === "bins" && this.state.binEdges === null;
  }

  /** Fits quantile bins on sample contexts (bins map only); later calls keep the first fit. */
  fitBins(contexts: Context[]): void {
    if (this.state.kind !== "bins" || this.state.binEdges !== null) return;
    const byName = new Map<string, number[]>();
    for (const c of contexts) {
      forEachFeature(c, (name, v) => {
        let a = byName.get(name);
        if (!a) byName.set(name, (a = []));
        a.push(v);
      });
    }
    this.fitBinsByName(byName);
  }

  /** Fits the bins from the sample values of each feature (bins map only; the first fit stays). */
  fitBinsByName(byName: Map<string, ArrayLike<number>>): void {
    if (this.state.kind !== "bins" || this.state.binEdges !== null) return;
    const edges: Record<string, number[]> = {};
    for (const [name, vals] of byName) {
      edges[name] = this.state.binning === "quantile" ? quantileEdges(vals, this.state.numBins) : gaussianEdgesOf(vals, this.state.numBins);
    }
    this.state.binEdges = edges;
    this.plan = null;
  }

  /**
   * The bin edges, frozen at first use. Without a training batch to fit on, every feature gets
   * standard-normal edges (right for z-scored inputs such as the shuttle's).
   */
  private ensureBins(): Record<string, number[]> {
    if (this.state.binEdges === null) this.state.binEdges = {};
    return this.state.binEdges;
  }

  private edgesOf(name: string): number[] {
    const all = this.ensureBins();
    let e = all[name];
    if (e === undefined) e = all[name] = gaussianEdges(0, 1, this.state.numBins);
    return e;
  }

  private buildPlan(dim: number): VectorPlan {
    const linRows = new Int32Array(dim);
    for (let i = 0; i < dim; i++) linRows[i] = this.rowOfName(String(i + 1));
    const constRow = this.rowOfName(CONSTANT_FEATURE);
    let quadRows = new Int32Array(0);
    if (this.state.kind === "quadratic") {
      quadRows = new Int32Array((dim * (dim + 1)) / 2);
      let q = 0;
      for (let i = 0; i < dim; i++) for (let j = i; j < dim; j++) quadRows[q++] = this.rowOfName(`${i + 1}^${j + 1}`);
    }
    const binRows: Int32Array[] = [];
    const edges: Float64Array[] = [];
    if (this.state.kind === "bins") {
      for (let i = 0; i < dim; i++) {
        const e = Float64Array.from(this.edgesOf(String(i + 1)));
        edges.push(e);
        const rows = new Int32Array(e.length + 1);
        for (let k = 0; k <= e.length; k++) rows[k] = this.rowOfName(`${i + 1}#${k}`);
        binRows.push(rows);
      }
    }
    return { dim, constRow, linRows, quadRows, binRows, edges };
  }

  /**
   * Encodes a validated context into `out` (cleared first). Zero-valued features are left out, as
   * VW's parser does; they would change neither predictions nor weights.
   */
  encode(context: Context, out: EncodedExample): void {
    out.n = 0;
    if (isVector(context)) {
      const dim = context.length;
      let p = this.plan;
      if (p === null || p.dim !== dim) p = this.plan = this.buildPlan(dim);
      const lin = p.linRows;
      for (let i = 0; i < dim; i++) {
        const v = context[i];
        if (v !== 0) out.push(lin[i], v);
      }
      if (this.state.kind === "quadratic") {
        const q = p.quadRows;
        let k = 0;
        for (let i = 0; i < dim; i++) {
          const vi = context[i];
          for (let j = i; j < dim; j++, k++) {
            const v = vi * context[j];
            if (v !== 0) out.push(q[k], v);
          }
        }
      } else if (this.state.kind === "bins") {
        for (let i = 0; i < dim; i++) out.push(p.binRows[i][binOf(p.edges[i], context[i])], 1);
      }
      out.push(p.constRow, 1);
      return;
    }
    const names = Object.keys(context);
    for (const name of names) {
      const v = context[name];
      if (v !== 0) out.push(this.rowOfName(name), v);
    }
    if (this.state.kind === "quadratic") {
      for (let i = 0; i < names.length; i++) {
        for (let j = i; j < names.length; j++) {
          const v = context[names[i]] * context[names[j]];
          if (v !== 0) out.push(this.rowOfName(`${names[i]}^${names[j]}`), v);
        }
      }
    } else if (this.state.kind === "bins") {
      for (const name of names) out.push(this.rowOfName(`${name}#${binOf(this.edgesOf(name), context[name])}`), 1);
    }
    out.push(this.rowOfName(CONSTANT_FEATURE), 1);
  }
}

export function isVector(c: Context): c is ArrayLike<number> {
  return typeof (c as ArrayLike<number>).length === "number" && !isPlainRecord(c);
}

function isPlainRecord(c: unknown): boolean {
  return c !== null && typeof c === "object" && !Array.isArray(c) && !ArrayBuffer.isView(c) && Object.getPrototypeOf(c) === Object.prototype && typeof (c as { length?: unknown }).length !== "number";
}

/** Calls fn(name, value) for every feature of a context (vector feature i is named String(i+1)). */
export function forEachFeature(c: Context, fn: (name: string, v: number) => void): void {
  if (isVector(c)) for (let i = 0; i < c.length; i++) fn(String(i + 1), c[i]);
  else for (const k of Object.keys(c)) fn(k, c[k]);
}

/**
 * Validates a context: a vector of `expectedDim` finite numbers (when known) or a record of finite
 * numbers. Throws LearnerError naming the field (ConfigMismatchError for another feature count).
 */
export function checkContext(c: Context, expectedDim: number | null, field = "context"): void {
  if (c === null || typeof c !== "object") throw new LearnerError(field, `must be an array of numbers or an object of named numbers, got ${c === null ? "null" : typeof c}`);
  if (isVector(c)) {
    if (expectedDim !== null && c.length !== expectedDim) {
      throw new ConfigMismatchError(field, `has ${c.length} features, the model expects ${expectedDim} (num_features: config.yaml ${NUM_FEATURES_KEY})`);
    }
    if (c.length === 0) throw new LearnerError(field, "is empty: give at least one feature");
    for (let i = 0; i < c.length; i++) {
      const problem = numberProblem(c[i]);
      if (problem !== null) throw new LearnerError(`${field}[${i}]`, problem);
    }
    return;
  }
  for (const k of Object.keys(c)) {
    const problem = numberProblem((c as Record<string, unknown>)[k]);
    if (problem !== null) throw new LearnerError(`${field}.${k}`, problem);
  }
}

/** Inner edges mean + std · Φ⁻¹(k / numBins), k = 1..numBins − 1 (equal-mass bins of a normal). */
export function gaussianEdges(mean: number, std: number, numBins: number): number[] {
  const out: number[] = [];
  for (let k = 1; k < numBins; k++) out.push(mean + std * normalQuantile(k / numBins));
  return out;
}

/** Gaussian edges with the sample's mean and population std (a zero std counts as 1). */
export function gaussianEdgesOf(values: ArrayLike<number>, numBins: number): number[] {
  const n = values.length;
  if (n === 0) return gaussianEdges(0, 1, numBins);
  let m = 0;
  for (let i = 0; i < n; i++) m += values[i];
  m /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - m) * (values[i] - m);
  const sd = Math.sqrt(ss / n);
  return gaussianEdges(m, sd > 0 ? sd : 1, numBins);
}

/** Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5, r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}
