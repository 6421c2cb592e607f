/**
 * The base learner: online least-squares regression by gradient descent with VW's default update
 * (adaptive, normalized and importance-invariant all on).
 *
 * Storage: every hashed feature index used so far owns a row of `width` = (regressors × actions)
 * columns; each (row, column) has three numbers: the weight w, the AdaGrad accumulator G (sum of
 * squared gradients) and the normalizer N (largest |x| seen for the feature).
 *
 * One update for an example with features x_i, label y, importance weight h and prediction p
 * (clamped to the range of labels seen so far; nothing changes when p = y):
 *
 *   g   = 2 (p − y)                         gradient of the squared loss w.r.t. p
 *   for each feature i (x_i² floored at 1e-30):
 *     G_i ← G_i + h g² x_i²                  adaptive: per-weight sum of squared gradients
 *     if |x_i| > N_i:                        normalized: a larger scale for feature i appeared,
 *       w_i ← w_i · N_i / |x_i|  (if N_i > 0) rescale the weight as if the new scale were the old
 *       N_i ← |x_i|
 *     r_i = 1 / (√G_i · N_i)                 the feature's rate (power_t 0.5 gives the square root)
 *   S  ← S + h Σ_i x_i² / N_i²               global: weighted sum of normalized squared norms
 *   H  ← H + h                               global: total importance weight
 *   m  = √(H / S)                            global multiplier: average normalized norm → 1
 *   u  = m Σ_i x_i² r_i                      how far the prediction moves per unit of update
 *   s  = η h                                 η = learning rate (0.5)
 *   Δ  = (y − p) (1 − e^{−2 s u}) / u        importance-invariant step: the closed form of
 *                                            applying the gradient step h times in the limit of
 *                                            infinitely small steps; never overshoots y
 *        (= 2 (y − p) s when s u < 1e-6, the first-order expansion)
 *   w_i ← w_i + m Δ x_i r_i                  so the new prediction is p + u Δ
 *
 * With power_t ≠ 0.5 the rate is G_i^(−power_t) / N_i^(2·power_t) and m = (H / S)^power_t.
 */

import type { RowAllocator } from "./features";
import { EncodedExample } from "./features";

const X2_MIN = 1e-30;

export interface GdState {
  /** Total importance weight H and normalized norm sum S of the global multiplier. */
  totalWeight: number;
  sumNormX: number;
  /** Range of labels seen (predictions are clamped into it for the update). */
  minLabel: number;
  maxLabel: number;
}

/**
 * The weight rows: row r (hashed index rowHash[r]) owns columns [r·width, (r + 1)·width) of w, G
 * and N. Rows are added as features are first met; the arrays grow by half when full, so they
 * hold at most 1.5× the rows in use. The hashed index → row lookup is an open-addressing table of
 * two Int32Arrays (8–16 bytes per row), not a Map.
 */
export class WeightStore implements RowAllocator {
  /** Hashed index of each row. */
  rowHash: Int32Array;
  w: Float64Array;
  g: Float64Array;
  n: Float64Array;
  numRows = 0;
  /** Open addressing: slot → hashed index (−1: empty) and → row. */
  private slotHash: Int32Array;
  private slotRow: Int32Array;
  private mask: number;

  constructor(readonly width: number, capacity = 64) {
    this.rowHash = new Int32Array(capacity);
    this.w = new Float64Array(capacity * width);
    this.g = new Float64Array(capacity * width);
    this.n = new Float64Array(capacity * width);
    const slots = tableSize(capacity);
    this.slotHash = new Int32Array(slots).fill(-1);
    this.slotRow = new Int32Array(slots);
    this.mask = slots - 1;
  }

  /** The row of a hashed index, added (zero weights) if new. */
  rowOf(hashIndex: number): number {
    const mask = this.mask, sh = this.slotHash;
    let i = Math.imul(hashIndex, 0x9e3779b1) >>> 0 & mask;
    for (;;) {
      const h = sh[i];
      if (h === hashIndex) return this.slotRow[i];
      if (h === -1) break;
      i = (i + 1) & mask;
    }
    const r = this.numRows++;
    if (r >= this.rowHash.length) this.grow(Math.max(64, Math.ceil(this.rowHash.length * 1.5)));
    this.rowHash[r] = hashIndex;
    if (this.numRows * 2 > sh.length) this.rehash(tableSize(this.numRows));
    else {
      sh[i] = hashIndex;
      this.slotRow[i] = r;
    }
    return r;
  }

  private rehash(slots: number): void {
    this.slotHash = new Int32Array(slots).fill(-1);
    this.slotRow = new Int32Array(slots);
    this.mask = slots - 1;
    for (let r = 0; r < this.numRows; r++) {
      let i = Math.imul(this.rowHash[r], 0x9e3779b1) >>> 0 & this.mask;
      while (this.slotHash[i] !== -1) {
        if (this.slotHash[i] === this.rowHash[r]) throw new Error(`weight row for hashed index ${this.rowHash[r]} appears twice`);
        i = (i + 1) & this.mask;
      }
      this.slotHash[i] = this.rowHash[r];
      this.slotRow[i] = r;
    }
  }

  private grow(capacity: number): void {
    const rh = new Int32Array(capacity);
    rh.set(this.rowHash.subarray(0, this.numRows));
    this.rowHash = rh;
    for (const k of ["w", "g", "n"] as const) {
      const a = new Float64Array(capacity * this.width);
      a.set(this[k].subarray(0, this.numRows * this.width));
      this[k] = a;
    }
  }

  /**
   * A store over saved rows, using the given arrays as they are (no copy; model loading passes
   * views of the file it read). A hashed index saved twice is refused.
   */
  static fromArrays(width: number, rowHash: Int32Array, w: Float64Array, g: Float64Array, n: Float64Array): WeightStore {
    const s = new WeightStore(width, 0);
    s.rowHash = rowHash;
    s.w = w;
    s.g = g;
    s.n = n;
    s.numRows = rowHash.length;
    s.rehash(tableSize(rowHash.length));
    return s;
  }
}

/** Slots of the lookup table for this many rows: a power of two, at most half full. */
function tableSize(rows: number): number {
  let size = 16;
  while (size < rows * 2) size *= 2;
  return size;
}

export class GdLearner {
  readonly state: GdState = { totalWeight: 0, sumNormX: 0, minLabel: 0, maxLabel: 0 };
  private readonly rate: Float64Array[] = [new Float64Array(64)];
  private readonly sqrtRate: boolean;

  constructor(public store: WeightStore, readonly learningRate: number, readonly powerT: number) {
    this.sqrtRate = powerT === 0.5;
  }

  /** Raw linear score of column `col`. */
  predict(ex: EncodedExample, col: number): number {
    const w = this.store.w, width = this.store.width, rows = ex.rows, vals = ex.vals;
    let s = 0;
    for (let i = 0; i < ex.n; i++) s += w[rows[i] * width + col] * vals[i];
    return s;
  }

  /** Raw scores of `count` consecutive columns starting at `col0` into out[0..count). */
  predictMany(ex: EncodedExample, col0: number, count: number, out: Float64Array): void {
    const w = this.store.w, width = this.store.width, rows = ex.rows, vals = ex.vals;
    for (let a = 0; a < count; a++) out[a] = 0;
    for (let i = 0; i < ex.n; i++) {
      const base = rows[i] * width + col0;
      const v = vals[i];
      for (let a = 0; a < count; a++) out[a] += w[base + a] * v;
    }
  }

  clamp(p: number): number {
    const st = this.state;
    return p < st.minLabel ? st.minLabel : p > st.maxLabel ? st.maxLabel : p;
  }

  /**
   * One importance-weighted update of column `col` towards `label` (see the equations above).
   * Returns the clamped prediction before the update.
   */
  update(ex: EncodedExample, col: number, label: number, weight: number): number {
    const st = this.state;
    if (label < st.minLabel) st.minLabel = label;
    if (label > st.maxLabel) st.maxLabel = label;
    const store = this.store, width = store.width, W = store.w, G = store.g, N = store.n;
    const rows = ex.rows, vals = ex.vals, n = ex.n;
    let raw = 0;
    for (let i = 0; i < n; i++) raw += W[rows[i] * width + col] * vals[i];
    const p = raw < st.minLabel ? st.minLabel : raw > st.maxLabel ? st.maxLabel : raw;
    if (p === label || !(weight > 0)) return p;
    let rate = this.rate[0];
    if (rate.length < n) rate = this.rate[0] = new Float64Array(n * 2);
    const grad = 2 * (p - label);
    const g2 = grad * grad * weight;
    let normX = 0;
    let ppu = 0;
    if (this.sqrtRate) {
      for (let i = 0; i < n; i++) {
        const j = rows[i] * width + col;
        const x = vals[i];
        let x2 = x * x;
        if (x2 < X2_MIN) x2 = X2_MIN;
        const gj = (G[j] += g2 * x2);
        const ax = x < 0 ? -x : x;
        let nj = N[j];
        if (ax > nj) {
          if (nj > 0) W[j] *= nj / ax;
          N[j] = nj = ax > 1e-15 ? ax : 1e-15;
        }
        const inv = 1 / nj;
        const xn2 = x2 * inv * inv;
        normX += xn2;
        const r = inv / Math.sqrt(gj);
        rate[i] = r;
        ppu += x2 * r;
      }
    } else {
      const pt = this.powerT;
      for (let i = 0; i < n; i++) {
        const j = rows[i] * width + col;
        const x = vals[i];
        let x2 = x * x;
        if (x2 < X2_MIN) x2 = X2_MIN;
        const gj = (G[j] += g2 * x2);
        const ax = x < 0 ? -x : x;
        let nj = N[j];
        if (ax > nj) {
          if (nj > 0) W[j] *= Math.pow(nj / ax, 2 * pt);
          N[j] = nj = ax > 1e-15 ? ax : 1e-15;
        }
        normX += x2 / (nj * nj);
        const r = Math.pow(gj, -pt) * Math.pow(nj * nj, -pt);
        rate[i] = r;
        ppu += x2 * r;
      }
    }
    st.totalWeight += weight;
    st.sumNormX += weight * normX;
    const ratio = st.totalWeight / st.sumNormX;
    const m = this.sqrtRate ? Math.sqrt(ratio) : Math.pow(ratio, this.powerT);
    ppu *= m;
    const s = this.learningRate * weight;
    const delta = s * ppu < 1e-6 ? 2 * (label - p) * s : ((label - p) * (1 - Math.exp(-2 * s * ppu))) / ppu;
    const step = m * delta;
    for (let i = 0; i < n; i++) W[rows[i] * width + col] += step * vals[i] * rate[i];
    return p;
  }
}
