/**
 * Small numeric helpers of the estimators: compensated (Neumaier) sums stored in flat arrays so
 * that thousands of bootstrap replicates stay cheap, the normal quantile, percentiles, and the
 * Poisson(1) draws of the online bootstrap.
 */
import { Rng, fmix32, hash32 } from "../util/random";

/**
 * Neumaier summation over pairs of slots: `s[2i]` holds sum i, `s[2i+1]` its running
 * compensation (the low-order bits lost so far). The sum's value is s[2i] + s[2i+1].
 */
export function kahanAdd(s: Float64Array, i: number, x: number): void {
  const j = 2 * i;
  const sum = s[j];
  const t = sum + x;
  s[j + 1] += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
  s[j] = t;
}

/** Adds every compensated sum of `b` into `a` (same layout). */
export function kahanMerge(a: Float64Array, b: Float64Array): void {
  for (let i = 0; i < a.length / 2; i++) {
    kahanAdd(a, i, b[2 * i]);
    kahanAdd(a, i, b[2 * i + 1]);
  }
}

/** The value of compensated sum i. */
export function kahanValue(s: Float64Array, i: number): number {
  return s[2 * i] + s[2 * i + 1];
}

/**
 * The standard normal quantile Φ⁻¹(p): Acklam's rational approximation (relative error below
 * 1.2e-9, far finer than any interval needs).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  return x;
}

/** The q-quantile of sorted values, interpolating linearly between order statistics. */
export function sortedQuantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** Cumulative Poisson(1) probabilities P(K ≤ k), k = 0..15 (beyond that the mass is < 1e-13). */
const POISSON1_CDF: Float64Array = (() => {
  const cdf = new Float64Array(16);
  let term = Math.exp(-1);
  let acc = 0;
  for (let k = 0; k < cdf.length; k++) {
    acc += term;
    cdf[k] = acc;
    term /= k + 1;
  }
  return cdf;
})();

/** A Poisson(1) count from one uniform u in [0, 1) by inverting the cumulative distribution. */
export function poisson1FromUniform(u: number): number {
  let k = 0;
  while (k < POISSON1_CDF.length - 1 && u >= POISSON1_CDF[k]) k++;
  return k;
}

/**
 * Fills `out` with the row's Poisson(1) bootstrap counts, one per replicate: a function of the
 * seed word and the row's key only, so any partition of the rows gives the same replicates.
 */
export function keyedPoissonCounts(seedWord: number, key: string | number, out: Uint8Array): void {
  // Exactly `new Rng(rowSeed)` then poisson1FromUniform(nextUint32() / 2^32) per replicate (the
  // hot loop of the bootstrap): the generator's state in locals, the count from a table.
  const rowSeed = typeof key === "number" ? fmix32((key ^ seedWord) >>> 0) : hash32(key, seedWord);
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = fmix32((rowSeed ^ 0) + 0x6d2b79f5);
  for (let i = 0; i < 12; i++) {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
  }
  const table = POISSON1_TABLE, th = POISSON1_THRESHOLDS;
  for (let r = 0; r < out.length; r++) {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    let k = table[t >>> (32 - POISSON1_TABLE_BITS)];
    if (k === 255) k = poisson1OfUint32(t >>> 0, th);
    out[r] = k;
  }
}

/** poisson1FromUniform(x / 2^32) with the thresholds POISSON1_CDF · 2^32 (both sides of each comparison exact). */
function poisson1OfUint32(x: number, th: Float64Array): number {
  let k = 0;
  while (k < th.length - 1 && x >= th[k]) k++;
  return k;
}

const POISSON1_THRESHOLDS: Float64Array = POISSON1_CDF.map((p) => p * 4294967296);
const POISSON1_TABLE_BITS = 11;
/**
 * The count of every uniform whose top 11 bits are i, or 255 where a threshold falls inside that
 * range (7 of 2048): one table read instead of a chain of unpredictable comparisons.
 */
const POISSON1_TABLE: Uint8Array = (() => {
  const t = new Uint8Array(1 << POISSON1_TABLE_BITS);
  const width = 2 ** (32 - POISSON1_TABLE_BITS);
  for (let i = 0; i < t.length; i++) {
    const lo = poisson1OfUint32(i * width, POISSON1_THRESHOLDS), hi = poisson1OfUint32((i + 1) * width - 1, POISSON1_THRESHOLDS);
    t[i] = lo === hi ? lo : 255;
  }
  return t;
})();

/** Fills `out` with Poisson(1) counts drawn from a running stream (rows without a key). */
export function streamPoissonCounts(rng: Rng, out: Uint8Array): void {
  for (let b = 0; b < out.length; b++) out[b] = poisson1FromUniform(rng.nextUint32() / 4294967296);
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Mixes a number's 64 bits into a 32-bit hash state (MurmurHash3-style round). */
export function mixNumber(h: number, x: number): number {
  f64[0] = x;
  for (let i = 0; i < 2; i++) {
    let k = Math.imul(u32[i], 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return h;
}
