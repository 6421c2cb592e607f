/**
 * The sums of the online (Poisson) bootstrap for a group of estimators (AccumulatorGroup): per
 * replicate b, Σ c_b·u_j over the rows for each of Q quantities u, and Σ c_b, where c_b is the
 * row's Poisson(1) count keyed by (seed, row key). The same code runs in the evaluating thread or
 * in a worker thread (worker.ts): the sums are the same, bit for bit, either way.
 */
import { keyedPoissonCounts } from "./stats";

export class BootstrapSums {
  /** Sums per replicate: quantities (padded to 5 when 2..5 of them) then the count. */
  readonly stride: number;
  /** The sums of replicates from .. to − 1 (replicate b at (b − from)·stride). */
  readonly reps: Float64Array;
  private readonly counts: Uint8Array;

  /** The sums of replicates [from, to) (two threads may share the replicates of one bootstrap). */
  constructor(readonly from: number, readonly to: number, readonly quantities: number, private readonly seedWord: number) {
    this.stride = quantities === 1 ? 2 : quantities <= 5 ? 6 : quantities + 1;
    this.reps = new Float64Array((to - from) * this.stride);
    this.counts = new Uint8Array(to);
  }

  /** Adds a row with this key and quantities u[at, at + Q). */
  addKeyed(key: string | number, u: ArrayLike<number>, at: number): void {
    keyedPoissonCounts(this.seedWord, key, this.counts); // the first `to` counts of the row's stream
    this.addCounts(this.counts, u, at);
  }

  /** Adds a row with these counts (of every replicate from 0) and quantities u[at, at + Q). */
  addCounts(counts: Uint8Array, u: ArrayLike<number>, at: number): void {
    // Replicates with a zero count are not skipped: adding c·u = ±0 leaves a sum that started at
    // +0 unchanged (it is never −0), and the loop without a branch is twice as fast.
    const B = this.to, Q = this.quantities, reps = this.reps;
    if (Q === 1) {
      const u0 = u[at];
      for (let b = this.from, base = 0; b < B; b++, base += 2) {
        const c = counts[b];
        reps[base] += c * u0;
        reps[base + 1] += c;
      }
    } else if (Q <= 5) {
      // Unused slots of the 5 (u = 0) are summed too and never read.
      const u0 = u[at], u1 = Q > 1 ? u[at + 1] : 0, u2 = Q > 2 ? u[at + 2] : 0, u3 = Q > 3 ? u[at + 3] : 0, u4 = Q > 4 ? u[at + 4] : 0;
      for (let b = this.from, base = 0; b < B; b++, base += 6) {
        const c = counts[b];
        reps[base] += c * u0;
        reps[base + 1] += c * u1;
        reps[base + 2] += c * u2;
        reps[base + 3] += c * u3;
        reps[base + 4] += c * u4;
        reps[base + 5] += c;
      }
    } else {
      const stride = this.stride;
      for (let b = this.from, base = 0; b < B; b++, base += stride) {
        const c = counts[b];
        for (let j = 0; j < Q; j++) reps[base + j] += c * u[at + j];
        reps[base + Q] += c;
      }
    }
  }
}

