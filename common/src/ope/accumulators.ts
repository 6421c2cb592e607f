/**
 * Streaming, mergeable estimators. Every estimator here is a smooth function f of the means of a
 * few per-row quantities u(row) (for IPS just w·c; for SNIPS w·c and w; ...: each estimator's
 * definition in estimators.ts), so one accumulator class, built from an estimator object, serves
 * them all:
 *
 *  - point value   f(ū), from compensated sums of u;
 *  - normal CI     f(ū) ± z·se with se² = ∇f(ū)ᵀ Cov(u) ∇f(ū) / n (the delta method), from
 *                  compensated sums of the products u_j·u_k;
 *  - bootstrap CI  the online (Poisson) bootstrap: replicate b gives each row a Poisson(1) count
 *                  k_b and keeps Σ k_b·u and Σ k_b; its value is f(Σ k_b u / Σ k_b). The
 *                  percentile interval of the replicate values is the bootstrap interval.
 *
 * All state is sums, so `merge` is exact: rows with a `key` get counts that depend only on
 * (seed, key), hence any split of the rows across workers, merged, equals one pass.
 */
import { Rng, hash32 } from "../util/random";
import { OpeInputError } from "./errors";
import { ESTIMATORS, estimatorNamed, isEstimator } from "./estimators";
import type { Estimator, EstimatorDefinition, EstimatorName, IntervalMethod } from "./estimators";
import type { OpeEstimate } from "./score";
import { BootstrapSums } from "./bootstrap-sums";
import { WorkerChannel } from "./worker-channel";
import { kahanAdd, kahanMerge, kahanValue, keyedPoissonCounts, normalQuantile, sortedQuantile, streamPoissonCounts } from "./stats";
import type { AccumulatorOptions, OpeInterval, OpeSample } from "./types";

const DEFAULT_BOOTSTRAP_SAMPLES = 1000;
/** Propensities and target probabilities may exceed 1 by this much (float rounding). */
const PROB_TOLERANCE = 1e-9;

/** The serialisable state of an accumulator, for shipping partial results between processes. */
export interface AccumulatorState {
  estimator: EstimatorName;
  /** A DifferenceAccumulator's state. */
  paired?: boolean;
  seed: number | string;
  bootstrapSamples: number;
  confidence: number;
  n: number;
  maxWeight: number;
  sums: number[];
  replicates: number[];
}

/** Checks the options shared by accumulators and evaluatePolicy; returns them with defaults. */
export function resolveAccumulatorOptions(o: AccumulatorOptions = {}): Required<AccumulatorOptions> {
  const seed = o.seed ?? 1;
  if (typeof seed === "number" && !Number.isFinite(seed)) throw new OpeInputError("seed", null, `must be a finite number or a string, got ${seed}`);
  const bootstrapSamples = o.bootstrapSamples ?? DEFAULT_BOOTSTRAP_SAMPLES;
  if (!Number.isInteger(bootstrapSamples) || bootstrapSamples < 0 || bootstrapSamples > 100000) {
    throw new OpeInputError("bootstrapSamples", null, `must be an integer in [0, 100000] (0 = normal interval only), got ${bootstrapSamples}`);
  }
  const confidence = o.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) throw new OpeInputError("confidence", null, `must be in (0, 1), for example 0.95; got ${confidence}`);
  return { seed, bootstrapSamples, confidence };
}

/**
 * The streaming, mergeable accumulator of one estimator (see the file comment):
 * `new OpeAccumulator(DR, { seed })`, then `add` rows, `merge` partial accumulators, `result()`.
 */
export class OpeAccumulator {
  /** The estimator (an object of the registry, estimators.ts). */
  readonly estimator: Estimator<EstimatorName>;
  /** Number of rows added (or merged in). */
  n = 0;
  readonly seed: number | string;
  readonly bootstrapSamples: number;
  readonly confidence: number;
  protected readonly definition: EstimatorDefinition;

  private readonly dim: number;
  /** Compensated sums: u_j (dim), u_j·u_k for j ≤ k (dim(dim+1)/2), Σw, Σw². */
  private sums: Float64Array;
  /**
   * Per replicate: Σ k·u_j (dim) then Σ k. Plain sums: their rounding (~1e-13 relative) is far
   * below the bootstrap's Monte-Carlo error, and they halve the per-row cost.
   */
  private replicates: Float64Array;
  private maxWeight = 0;
  private readonly seedWord: number;
  private readonly stream: Rng;
  private readonly u: Float64Array;
  private readonly counts: Uint8Array;

  constructor(estimator: Estimator<EstimatorName>, options?: AccumulatorOptions) {
    if (!isEstimator(estimator)) {
      const names = ESTIMATORS.map((e) => e.name.toUpperCase()).join(", ");
      throw new OpeInputError("estimator", null, `must be one of the registry's estimators (${names}); got ${typeof estimator === "string" ? `the name ${JSON.stringify(estimator)}: resolve a name with estimatorNamed()` : String(estimator)}`);
    }
    const o = resolveAccumulatorOptions(options);
    this.estimator = estimator;
    const definition = this.definitionOf(estimator);
    this.definition = definition;
    this.seed = o.seed;
    this.bootstrapSamples = o.bootstrapSamples;
    this.confidence = o.confidence;
    const dim = definition.dim;
    this.dim = dim;
    this.sums = new Float64Array(2 * (dim + (dim * (dim + 1)) / 2 + 2));
    this.replicates = new Float64Array(o.bootstrapSamples * (dim + 1));
    this.seedWord = hash32(String(o.seed), 0x0badcafe);
    this.stream = Rng.derive(o.seed, "ope-bootstrap-stream");
    this.u = new Float64Array(dim);
    this.counts = new Uint8Array(o.bootstrapSamples);
  }

  /** True for a DifferenceAccumulator (target − baseline). */
  get paired(): boolean {
    return false;
  }

  /** The per-row definition this accumulator sums: the estimator's own (a DifferenceAccumulator: its paired difference). */
  protected definitionOf(estimator: Estimator<EstimatorName>): EstimatorDefinition {
    return estimator;
  }

  /**
   * Adds one scored row; throws OpeInputError naming the field when it is invalid.
   * `sharedCounts` (internal): the row's Poisson counts when a caller feeds several accumulators
   * with the same seed, so they are drawn once (they would be identical anyway).
   */
  add(s: OpeSample, sharedCounts?: Uint8Array): this {
    const u = this.addPoint(s);
    const B = this.bootstrapSamples;
    if (B > 0) {
      let counts = this.counts;
      if (sharedCounts && sharedCounts.length === B) counts = sharedCounts;
      else this.drawCounts(s, counts);
      const d = this.dim;
      const reps = this.replicates;
      for (let b = 0; b < B; b++) {
        const c = counts[b];
        if (c === 0) continue;
        const base = b * (d + 1);
        for (let j = 0; j < d; j++) reps[base + j] += c * u[j];
        reps[base + d] += c;
      }
    }
    return this;
  }

  /** @internal The seed word of the keyed Poisson counts. */
  get bootstrapSeedWord(): number {
    return this.seedWord;
  }

  /** @internal The row's Poisson counts: keyed by s.key, else the next of this accumulator's stream. */
  drawCounts(s: OpeSample, out: Uint8Array): void {
    if (s.key !== undefined) keyedPoissonCounts(this.seedWord, s.key, out);
    else streamPoissonCounts(this.stream, out);
  }

  /**
   * @internal Checks a row and adds it to the point sums (everything but the bootstrap); returns
   * its quantities u (a buffer reused by the next row).
   */
  addPoint(s: OpeSample): Float64Array {
    const row = this.n;
    checkFinite(s.cost, "cost", row, "(1 − reward) must be a finite number");
    const p = s.propensity;
    if (!Number.isFinite(p) || p <= 0 || p > 1 + PROB_TOLERANCE) {
      throw new OpeInputError("propensity", row, `(action_prob) must be in (0, 1], got ${p}; a logged action needs the probability it was chosen with`);
    }
    const t = s.targetProb;
    if (!Number.isFinite(t) || t < 0 || t > 1 + PROB_TOLERANCE) {
      throw new OpeInputError("targetProb", row, `must be a probability in [0, 1], got ${t}`);
    }
    if (this.estimator.needsCostModel) {
      checkFinite(s.directCost, "directCost", row, `must be a finite number (the ${this.estimator.name} estimator needs a cost model's predictions)`);
      checkFinite(s.predictedCost, "predictedCost", row, `must be a finite number (the ${this.estimator.name} estimator needs a cost model's predictions)`);
    }
    const w = t / p;
    const u = this.u;
    this.definition.features(s, w, u, 0);
    const d = this.dim;
    const sums = this.sums;
    let k = 0;
    for (let j = 0; j < d; j++) kahanAdd(sums, k++, u[j]);
    for (let j = 0; j < d; j++) for (let l = j; l < d; l++) kahanAdd(sums, k++, u[j] * u[l]);
    kahanAdd(sums, k++, w);
    kahanAdd(sums, k, w * w);
    if (w > this.maxWeight) this.maxWeight = w;
    this.n++;
    return u;
  }

  /**
   * @internal Sets the bootstrap sums from shared ones (AccumulatorGroup): replicate b's sum of
   * this estimator's quantity j is shared[b·stride + map[j]], its count sum shared[b·stride + stride − 1].
   */
  setReplicates(shared: Float64Array, stride: number, map: Int32Array): void {
    const d = this.dim, reps = this.replicates;
    for (let b = 0; b < this.bootstrapSamples; b++) {
      const base = b * (d + 1), from = b * stride;
      for (let j = 0; j < d; j++) reps[base + j] = shared[from + map[j]];
      reps[base + d] = shared[from + stride - 1];
    }
  }

  /** @internal The Poisson counts this accumulator would draw for a row with this key. */
  countsFor(key: string | number, out: Uint8Array): Uint8Array {
    keyedPoissonCounts(this.seedWord, key, out);
    return out;
  }

  /** Adds every row of `other` (same estimator, seed, bootstrap size and confidence) into this one. */
  merge(other: OpeAccumulator): this {
    if (other.estimator !== this.estimator || other.paired !== this.paired) {
      const kind = (a: OpeAccumulator) => `${a.estimator.name}${a.paired ? " difference" : ""}`;
      throw new OpeInputError("other", null, `is a ${kind(other)} accumulator; merge needs ${kind(this)}`);
    }
    if (other.bootstrapSamples !== this.bootstrapSamples || String(other.seed) !== String(this.seed) || other.confidence !== this.confidence) {
      throw new OpeInputError("other", null, "was built with another seed, bootstrapSamples or confidence; create every partial accumulator with the same options");
    }
    kahanMerge(this.sums, other.sums);
    for (let i = 0; i < this.replicates.length; i++) this.replicates[i] += other.replicates[i];
    this.n += other.n;
    this.maxWeight = Math.max(this.maxWeight, other.maxWeight);
    return this;
  }

  /** The estimate from the rows so far (value NaN when there are none). */
  result(): OpeEstimate {
    const d = this.dim;
    const n = this.n;
    const m = new Float64Array(d);
    for (let j = 0; j < d; j++) m[j] = kahanValue(this.sums, j) / n;
    const value = n > 0 ? this.definition.value(m, 0) : Number.NaN;

    // Delta method: se² = gᵀ C g / n with C the sample covariance of u.
    let se = Number.NaN;
    if (n > 1) {
      const g = new Float64Array(d);
      this.definition.gradient(m, g, 0);
      let q = 0;
      let k = d;
      for (let j = 0; j < d; j++) {
        for (let l = j; l < d; l++) {
          const cov = ((kahanValue(this.sums, k++) - n * m[j] * m[l]) / (n - 1));
          q += (j === l ? 1 : 2) * g[j] * g[l] * cov;
        }
      }
      se = Math.sqrt(Math.max(0, q) / n);
    }
    const alpha = 1 - this.confidence;
    const z = normalQuantile(1 - alpha / 2);
    const normalCi: OpeInterval = { lower: value - z * se, upper: value + z * se, method: "normal" };

    let bootstrapCi: OpeInterval | null = null;
    const B = this.bootstrapSamples;
    if (B > 0) {
      const values: number[] = [];
      const mb = new Float64Array(d);
      for (let b = 0; b < B; b++) {
        const base = b * (d + 1);
        const kb = this.replicates[base + d];
        if (kb <= 0) continue;
        for (let j = 0; j < d; j++) mb[j] = this.replicates[base + j] / kb;
        const v = this.definition.value(mb, 0);
        if (Number.isFinite(v)) values.push(v);
      }
      values.sort((a, b) => a - b);
      // With fewer than half the replicates usable the interval means nothing: report NaN.
      const ok = values.length >= Math.max(2, B / 2);
      bootstrapCi = {
        lower: ok ? sortedQuantile(values, alpha / 2) : Number.NaN,
        upper: ok ? sortedQuantile(values, 1 - alpha / 2) : Number.NaN,
        method: "bootstrap",
      };
    }
    const sw = kahanValue(this.sums, d + (d * (d + 1)) / 2);
    const sw2 = kahanValue(this.sums, d + (d * (d + 1)) / 2 + 1);
    const ess = sw2 > 0 ? (sw * sw) / sw2 : 0;
    const meanWeight = n > 0 ? sw / n : Number.NaN;
    const computed: Record<IntervalMethod, OpeInterval | null> = { bootstrap: bootstrapCi, normal: normalCi };
    // The estimator's interval methods in order of preference: the first one computed is `ci`.
    const ci = this.estimator.intervals.map((m) => computed[m]).find((i) => i !== null) ?? normalCi;
    return {
      estimator: this.estimator.name,
      value,
      ci,
      normalCi,
      bootstrapCi,
      standardError: se,
      confidence: this.confidence,
      n,
      effectiveSampleSize: ess,
      meanWeight,
      maxWeight: this.maxWeight,
      biased: this.estimator.biased,
      warnings: n > 0 && this.estimator.usesWeights ? weightWarnings(n, ess, meanWeight) : [],
      range: null,
      clipped: [],
    };
  }

  /** A plain-JSON snapshot (for sending partial results between processes); see restoreAccumulator. */
  toState(): AccumulatorState {
    return {
      estimator: this.estimator.name,
      paired: this.paired,
      seed: this.seed,
      bootstrapSamples: this.bootstrapSamples,
      confidence: this.confidence,
      n: this.n,
      maxWeight: this.maxWeight,
      sums: Array.from(this.sums),
      replicates: Array.from(this.replicates),
    };
  }

  /** Loads a snapshot's sums into this (fresh, same-options) accumulator. */
  protected loadState(s: AccumulatorState): this {
    if (s.sums.length !== this.sums.length || s.replicates.length !== this.replicates.length) {
      throw new OpeInputError("state", null, "has sums of the wrong size for this estimator and bootstrapSamples");
    }
    this.sums = Float64Array.from(s.sums);
    this.replicates = Float64Array.from(s.replicates);
    this.n = s.n;
    this.maxWeight = s.maxWeight;
    return this;
  }

  /** Rebuilds an accumulator from `toState()` output. */
  static fromState(s: AccumulatorState): OpeAccumulator {
    const o = { seed: s.seed, bootstrapSamples: s.bootstrapSamples, confidence: s.confidence };
    const estimator = estimatorNamed(s.estimator, "state.estimator");
    return (s.paired ? new DifferenceAccumulator(estimator, o) : new OpeAccumulator(estimator, o)).loadState(s);
  }
}

/**
 * @internal Accumulators of several estimators built with the same options and fed the same rows
 * (evaluatePolicy): each row's bootstrap counts are drawn once, and a quantity several estimators
 * share (w·c, w, ĉ_π: `quantities` in estimators.ts) is summed once per replicate for all of
 * them. `finish()` hands every accumulator exactly the sums it would have built alone.
 */
export class AccumulatorGroup {
  private readonly maps: Int32Array[];
  private readonly q: number;
  private readonly u: Float64Array;
  private readonly sums: BootstrapSums;
  private readonly counts: Uint8Array;
  private worker: WorkerSums | null = null;

  /**
   * `inWorker`: the bootstrap sums are added in a worker thread while this thread scores the
   * next rows (for many rows; every row then needs a number key). Then `await drain()` now and
   * then (it waits while the worker is behind) and `await finish()` at the end.
   */
  constructor(readonly accs: OpeAccumulator[], inWorker = false) {
    const names: string[] = [];
    this.maps = accs.map((acc) => {
      const def = acc.estimator;
      const own = def.quantities ?? Array.from({ length: def.dim }, (_, j) => `${def.name}#${j}`);
      return Int32Array.from(own, (name) => {
        const at = names.indexOf(name);
        return at >= 0 ? at : names.push(name) - 1;
      });
    });
    this.q = names.length;
    this.u = new Float64Array(this.q);
    const B = accs[0].bootstrapSamples;
    for (const a of accs) {
      if (a.paired || a.bootstrapSamples !== B || String(a.seed) !== String(accs[0].seed)) throw new Error("AccumulatorGroup needs unpaired accumulators built with the same options");
    }
    // With a worker, the worker sums every replicate (this thread scores the rows meanwhile).
    const mine = inWorker && B > 0 ? 0 : B;
    this.sums = new BootstrapSums(0, mine, this.q, accs[0].bootstrapSeedWord);
    this.counts = new Uint8Array(mine);
    if (mine < B) this.worker = WorkerSums.start(mine, B, this.q, accs[0].bootstrapSeedWord);
  }

  add(s: OpeSample): void {
    const u = this.u;
    for (let j = 0; j < this.accs.length; j++) {
      const own = this.accs[j].addPoint(s);
      const map = this.maps[j];
      for (let k = 0; k < map.length; k++) u[map[k]] = own[k];
    }
    if (this.worker !== null) {
      if (typeof s.key !== "number") throw new Error("AccumulatorGroup in a worker needs number keys");
      this.worker.add(s.key, u);
    }
    if (this.counts.length === 0) return;
    this.accs[0].drawCounts(s, this.counts);
    this.sums.addCounts(this.counts, u, 0);
  }

  /** Waits while the worker is far behind (bounded memory); nothing to wait for without one. */
  async drain(): Promise<void> {
    if (this.worker !== null) await this.worker.drain();
  }

  /** Gives every accumulator its bootstrap sums; call once, after the last row. */
  async finish(): Promise<void> {
    let reps = this.sums.reps;
    if (this.worker !== null) {
      const theirs = await this.worker.finish();
      reps = new Float64Array(reps.length + theirs.length);
      reps.set(this.sums.reps);
      reps.set(theirs, this.sums.reps.length);
    }
    if (reps.length === 0) return;
    this.accs.forEach((a, j) => a.setReplicates(reps, this.sums.stride, this.maps[j]));
  }
}

/** The evaluating thread's side of a worker adding rows to BootstrapSums (ope/worker.ts). */
class WorkerSums {
  private static readonly BATCH = 2048;
  private readonly channel: WorkerChannel<Float64Array>;
  private keys: Uint32Array;
  private u: Float64Array;
  private n = 0;

  private constructor(channel: WorkerChannel<Float64Array>, private readonly q: number) {
    this.channel = channel;
    this.keys = new Uint32Array(WorkerSums.BATCH);
    this.u = new Float64Array(WorkerSums.BATCH * q);
  }

  /** A worker summing replicates [from, to). */
  static start(from: number, to: number, quantities: number, seedWord: number): WorkerSums {
    return new WorkerSums(WorkerChannel.open<Float64Array>({ type: "bootstrap", from, to, quantities, seedWord }), quantities);
  }

  add(key: number, u: Float64Array): void {
    const at = this.n * this.q;
    for (let j = 0; j < this.q; j++) this.u[at + j] = u[j];
    this.keys[this.n++] = key;
    if (this.n === WorkerSums.BATCH) this.send();
  }

  private send(): void {
    if (this.n === 0) return;
    this.channel.send({ type: "rows", n: this.n, keys: this.keys, u: this.u }, [this.keys.buffer as ArrayBuffer, this.u.buffer as ArrayBuffer]);
    this.keys = new Uint32Array(WorkerSums.BATCH);
    this.u = new Float64Array(WorkerSums.BATCH * this.q);
    this.n = 0;
  }

  drain(): Promise<void> {
    return this.channel.drain();
  }

  finish(): Promise<Float64Array> {
    this.send();
    return this.channel.finish();
  }
}

/** Below this effective sample size the intervals stop being trustworthy (measured on shuttle). */
export const MIN_RELIABLE_ESS = 100;

function weightWarnings(n: number, ess: number, meanWeight: number): string[] {
  const out: string[] = [];
  if (ess < MIN_RELIABLE_ESS) {
    out.push(
      `effective sample size ${ess.toFixed(1)} of ${n} rows is below ${MIN_RELIABLE_ESS}: the estimate rests on a few heavily ` +
        "weighted rows and its interval is unreliable (log with more exploration, or evaluate on more data)",
    );
  }
  if (n >= 30 && Math.abs(meanWeight - 1) > 0.3) {
    out.push(`mean importance weight ${meanWeight.toFixed(2)} is far from 1: the target often chooses actions the logging policy rarely tried`);
  }
  return out;
}

function checkFinite(x: number | undefined, field: string, row: number, problem: string): void {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new OpeInputError(field, row, `${problem}, got ${x}`);
}

/** A row scored against a target and a baseline policy (for paired differences). */
export interface PairedOpeSample extends OpeSample {
  /** Probability the baseline policy gives the logged action. */
  baselineTargetProb: number;
  /** Σ_a π_baseline(a|x) ĉ(x, a) (DM, DR, SNDR). */
  baselineDirectCost?: number;
}

/** Turns an estimator into the estimator of (its value for the target) − (its value for the baseline). */
function differenceOf(def: EstimatorDefinition): EstimatorDefinition {
  const d = def.dim;
  const base: OpeSample = { cost: 0, propensity: 1, targetProb: 0 };
  return {
    dim: 2 * d,
    features: (s, w, out, o) => {
      const ps = s as PairedOpeSample;
      def.features(s, w, out, o);
      base.cost = s.cost;
      base.propensity = s.propensity;
      base.targetProb = ps.baselineTargetProb;
      base.directCost = ps.baselineDirectCost;
      base.predictedCost = s.predictedCost;
      def.features(base, ps.baselineTargetProb / s.propensity, out, o + d);
    },
    value: (m, o) => def.value(m, o) - def.value(m, o + d),
    gradient: (m, out, o) => {
      def.gradient(m, out, o);
      def.gradient(m, out, o + d);
      for (let j = 0; j < d; j++) out[o + d + j] = -out[o + d + j];
    },
  };
}

/**
 * The paired difference target − baseline of one estimator on the same logged rows (negative:
 * the target is cheaper). Both policies are scored on every row, so the interval accounts for
 * their correlation — much tighter than comparing two separate intervals. Weight diagnostics
 * (ESS, mean and max weight) describe the target's weights.
 */
export class DifferenceAccumulator extends OpeAccumulator {
  override get paired(): boolean {
    return true;
  }

  protected override definitionOf(estimator: Estimator<EstimatorName>): EstimatorDefinition {
    return differenceOf(estimator);
  }

  /** Adds one row scored against both policies. */
  override add(s: PairedOpeSample, sharedCounts?: Uint8Array): this {
    const t = s.baselineTargetProb;
    if (typeof t !== "number" || !Number.isFinite(t) || t < 0 || t > 1 + PROB_TOLERANCE) {
      throw new OpeInputError("baselineTargetProb", this.n, `must be a probability in [0, 1], got ${t}`);
    }
    if (this.estimator.needsCostModel) checkFinite(s.baselineDirectCost, "baselineDirectCost", this.n, `must be a finite number (the ${this.estimator.name} estimator needs a cost model's predictions)`);
    return super.add(s, sharedCounts);
  }
}
