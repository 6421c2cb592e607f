/**
 * The cost model's sufficient statistics (RidgeStats) and the cross-fitting's fold statistics
 * (FoldSets): what pass 1 of an evaluation adds every row to. Only arrays and arithmetic, so the
 * same code runs in the evaluating thread or in a worker thread (ope/worker.ts) with the same
 * sums, bit for bit.
 */
import { fmix32, hash32 } from "../util/random";

/** RidgeStats as plain arrays. */
export interface RidgeStatsParts {
  p: number;
  A: Float64Array[];
  b: Float64Array[];
  count: Float64Array;
  sumCost: Float64Array;
}

/**
 * Sufficient statistics of the per-action regressions: ΦᵀΦ (its upper triangle, packed row by
 * row), Φᵀy, row counts and cost sums, per action (created when the action first appears). They
 * add and subtract, so cross-fitting builds each fold's training statistics as (all rows) − (the
 * fold) instead of re-reading the other folds.
 */
export class RidgeStats {
  readonly A: Float64Array[] = [];
  readonly b: Float64Array[] = [];
  count: Float64Array = new Float64Array(0);
  sumCost: Float64Array = new Float64Array(0);
  private readonly p: number;
  /** Packed index of (i, j), j ≥ i: rowStart[i] + j. */
  readonly rowStart: Int32Array;

  /** Statistics of p features (φ's size) for numArms actions (more are added as they appear). */
  constructor(numArms: number, p: number) {
    this.p = p;
    this.rowStart = new Int32Array(p);
    for (let i = 0, off = 0; i < p; off += p - i, i++) this.rowStart[i] = off - i;
    if (numArms > 0) this.arm(numArms - 1);
  }

  /** The sums as plain arrays (to send to another thread). */
  toParts(): RidgeStatsParts {
    return { p: this.p, A: this.A, b: this.b, count: this.count, sumCost: this.sumCost };
  }

  static fromParts(parts: RidgeStatsParts): RidgeStats {
    const s = new RidgeStats(0, parts.p);
    s.A.push(...parts.A);
    s.b.push(...parts.b);
    s.count = parts.count;
    s.sumCost = parts.sumCost;
    return s;
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

  push(idx: ArrayLike<number>, val: ArrayLike<number>, at: number, m: number, action: number, cost: number, into: RidgeStats): void {
    this.m = m;
    const to = this.n * m;
    for (let s = 0; s < m; s++) {
      this.idx[to + s] = idx[at + s];
      this.val[to + s] = val[at + s];
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

/** One fold assignment's statistics: per fold, the sums, the number of rows and the cost range. */
export interface FoldSet {
  seedWord: number;
  stats: RidgeStats[];
  minCost: Float64Array;
  maxCost: Float64Array;
  size: Float64Array;
}

/** What a worker sends back: the fold sets as plain arrays. */
export interface FoldSetParts {
  seedWord: number;
  stats: RidgeStatsParts[];
  minCost: Float64Array;
  maxCost: Float64Array;
  size: Float64Array;
}

/** The fold of a row key under a fold assignment's seed word. */
export function foldOf(key: string | number, seedWord: number, folds: number): number {
  return (typeof key === "number" ? fmix32((key ^ seedWord) >>> 0) : hash32(key, seedWord)) % folds;
}

/**
 * The statistics of every fold of every fold assignment (one per seed word): each encoded row
 * goes to its fold in each assignment, in row order.
 */
export class FoldSets {
  readonly sets: FoldSet[];
  private readonly pending: PendingRows[][];

  constructor(readonly p: number, maxNonZero: number, numArms: number, readonly folds: number, seedWords: number[]) {
    this.sets = seedWords.map((seedWord) => ({
      seedWord,
      stats: Array.from({ length: folds }, () => new RidgeStats(numArms, p)),
      minCost: new Float64Array(folds).fill(Infinity),
      maxCost: new Float64Array(folds).fill(-Infinity),
      size: new Float64Array(folds),
    }));
    this.pending = seedWords.map(() => Array.from({ length: folds }, () => new PendingRows(maxNonZero)));
  }

  /** Adds the row encoded as (idx[at + s], val[at + s]), s < m. */
  add(idx: ArrayLike<number>, val: ArrayLike<number>, at: number, m: number, action: number, cost: number, key: string | number): void {
    for (let r = 0; r < this.sets.length; r++) {
      const set = this.sets[r];
      const f = foldOf(key, set.seedWord, this.folds);
      this.pending[r][f].push(idx, val, at, m, action, cost, set.stats[f]);
      set.size[f]++;
      if (cost < set.minCost[f]) set.minCost[f] = cost;
      if (cost > set.maxCost[f]) set.maxCost[f] = cost;
    }
  }

  /** Adds every pending row: call before reading the statistics. */
  flush(): this {
    this.pending.forEach((row, r) => row.forEach((p, f) => p.flush(this.sets[r].stats[f])));
    return this;
  }

  toParts(): FoldSetParts[] {
    return this.flush().sets.map((s) => ({ ...s, stats: s.stats.map((x) => x.toParts()) }));
  }

  static setsFromParts(parts: FoldSetParts[]): FoldSet[] {
    return parts.map((s) => ({ ...s, stats: s.stats.map(RidgeStats.fromParts) }));
  }
}
