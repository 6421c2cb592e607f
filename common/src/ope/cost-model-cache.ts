/**
 * Fitted cross-fitted cost models kept for reuse within one process. The default cost model of
 * DM/DR/SNDR depends only on the logged rows, the seed and the cost-model settings — not on the
 * policy scored — so when the loop scores the challenger and then the champion on the same
 * holdout data with the same seed, the second evaluation takes the first one's fitted model
 * instead of fitting the same one again (26 × K ridge solves). The key is a content fingerprint of
 * the rows as read (what the model is fitted on, in order) plus every setting; only the last
 * MAX_ENTRIES models are kept (each holds coefficients only: a few hundred KB).
 */
import { createHash, type Hash } from "node:crypto";
import type { CrossFittedCosts } from "./cost-model";

/** How many fitted models are kept (the most recently used). */
const MAX_ENTRIES = 4;

/** A bounded, most-recently-used map from (data fingerprint, settings) to a finished CrossFittedCosts. */
export class FittedCostModels {
  private readonly entries = new Map<string, CrossFittedCosts>();
  /** Lookups that found a model, and lookups that did not (for tests and profiling). */
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries = MAX_ENTRIES) {}

  /** The model fitted for this key, or undefined (counted as a hit or a miss). */
  get(key: string): CrossFittedCosts | undefined {
    const model = this.entries.get(key);
    if (model === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, model);
    return model;
  }

  set(key: string, model: CrossFittedCosts): void {
    this.entries.delete(key);
    this.entries.set(key, model);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Forgets every model and resets the counts. */
  clear(): void {
    this.entries.clear();
    this.hits = 0;
    this.misses = 0;
  }
}

/** The process's fitted cost models, shared by every evaluatePolicy call. */
export const fittedCostModels = new FittedCostModels();

/**
 * Fingerprint of the rows a cost model is fitted on, fed in order: each row's context, logged
 * action, cost and fold key. Two inputs get the same fingerprint only if every one of these is the
 * same, bit for bit (SHA-256 of the exact bytes).
 */
export class RowsFingerprint {
  private readonly hash: Hash = createHash("sha256");
  private readonly scalars = new Float64Array(4);

  /** Adds a row whose context is obs[from, to). */
  add(obs: Float64Array, from: number, to: number, action: number, cost: number, key: number): void {
    const s = this.scalars;
    s[0] = to - from;
    s[1] = action;
    s[2] = cost;
    s[3] = key;
    this.hash.update(new Uint8Array(s.buffer));
    this.hash.update(new Uint8Array(obs.buffer, obs.byteOffset + from * 8, (to - from) * 8));
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}
