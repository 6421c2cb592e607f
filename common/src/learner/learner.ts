/**
 * CbLearner: VW-style contextual bandit with a fixed set of K actions (`--cb_explore K`).
 *
 * Reduction: bandit feedback (action, cost, probability) becomes regression targets for K
 * per-action cost regressors (VW's cost-sensitive one-against-all); the greedy action is the one
 * with the smallest predicted cost. The cost estimator is the option `cbType`:
 *  - dr  (VW legacy --cb default): a second set of K regressors (the "scorer") learns the observed
 *        cost of the taken action with importance weight 1/p; every action's target is the
 *        scorer's prediction ĉ_a, plus (c − ĉ_a)/p for the taken action (doubly robust).
 *  - ips: target c/p for the taken action and 0 for every other action.
 *  - mtr (VW 9's default, its cb_adf reduction): only the taken action's regressor learns, target
 *        c with importance weight 1/(p·K) — VW scales 1/p by the events seen over the actions
 *        offered, which is 1/K with K actions on every event.
 * Exploration (option `explorationPolicy`) turns the regressors' scores into a pmf.
 */
import type { JoinedColumns } from "../data/joinedFiles";
import { JoinedRecord } from "../data/records";
import { hash32, hashUnit, sampleIndex } from "../util/random";
import { argmin, egreedyPmf, floorPmf, normalizePmf, poisson1FromUniform, softmaxPmf, squarecbPmf } from "./explore";
import { EncodedExample, FeatureMap, FeatureMapState, checkContext, isVector } from "./features";
import { GdLearner, GdState, WeightStore } from "./gd";
import { ConfigMismatchError, Context, LearnerError, LearnerOptions, NUM_ARMS_KEY, ResolvedLearnerOptions, resolveLearnerOptions } from "./options";

export interface TrainReport {
  /** Rows learned from. */
  used: number;
  /** Rows skipped as invalid (including rows the file reader could not parse). */
  skipped: number;
  /** The first few reasons, each naming the row and the field. */
  reasons: string[];
}

export interface ChosenAction {
  /** 1-based action. */
  action: number;
  /** Probability of that action under the pmf. */
  actionProb: number;
  pmf: Float64Array;
}

/** How many reasons a TrainReport keeps. */
export const MAX_REASONS = 5;

/** Where the reward range comes from in config.yaml. */
export const REWARD_RANGE_KEYS = "workflow.min_reward / workflow.max_reward";

export interface TrainOptions {
  /**
   * Any skipped row fails training (a LearnerError naming the row) instead of being counted in
   * the report. Rows that do not fit the configuration fail training in any case.
   */
  strict?: boolean;
  /**
   * The possible rewards (config workflow.min_reward / max_reward, hyperparameters
   * `min_reward` / `max_reward`); a reward outside fails training. Unchecked when absent.
   */
  minReward?: number;
  maxReward?: number;
}

/** Everything besides the options that a saved model must restore. */
export interface LearnerState {
  examplesSeen: number;
  gd: GdState;
  featureMap: FeatureMapState;
}

export class CbLearner {
  readonly numArms: number;
  readonly options: ResolvedLearnerOptions;
  /** Examples learned so far (continues across save/load). */
  examplesSeen = 0;

  /** @internal */ readonly gd: GdLearner;
  /** @internal */ readonly featureMap: FeatureMap;
  private readonly ex = new EncodedExample();
  private readonly k: number;
  /** Column blocks (of K) per cb learner: 2 with a dr scorer, else 1. */
  private readonly perCb: number;
  private readonly numCb: number;
  private readonly numCover: number;
  private readonly seedWord: number;
  private readonly scores: Float64Array;
  private readonly scratch: Float64Array;
  private readonly costs: Float64Array;
  private readonly coverPreds: Int32Array;
  private colCtx = new Float64Array(0);

  private constructor(options: ResolvedLearnerOptions, store: WeightStore | null, state: LearnerState | null) {
    this.options = options;
    this.numArms = this.k = options.numArms;
    const policy = options.explorationPolicy;
    this.perCb = options.cbType === "dr" ? 2 : 1;
    this.numCb = policy === "bag" ? options.numPolicies : 1;
    this.numCover = policy === "cover" ? options.numPolicies - 1 : 0;
    const width = (this.numCb * this.perCb + this.numCover) * this.k;
    this.seedWord = hash32(String(options.seed), 0x6c62);
    const st = store ?? new WeightStore(width);
    if (st.width !== width) throw new LearnerError("weights", `have ${st.width} columns per row, the options need ${width}`);
    this.gd = new GdLearner(st, options.learningRate, options.powerT);
    const fm: FeatureMapState = state?.featureMap ?? {
      kind: options.featureMap,
      bits: options.bits,
      numBins: options.numBins,
      binning: options.binning,
      binEdges: null,
      numFeatures: options.numFeatures,
    };
    if (options.numFeatures !== null) {
      if (fm.numFeatures === null) fm.numFeatures = options.numFeatures;
      else if (fm.numFeatures !== options.numFeatures) {
        throw new ConfigMismatchError("numFeatures", `is ${options.numFeatures} in the options but the saved feature map has ${fm.numFeatures} features`);
      }
    }
    this.featureMap = new FeatureMap(fm, st);
    if (state) {
      this.examplesSeen = state.examplesSeen;
      Object.assign(this.gd.state, state.gd);
    }
    this.scores = new Float64Array(this.k);
    this.scratch = new Float64Array(this.k);
    this.costs = new Float64Array(this.k);
    this.coverPreds = new Int32Array(Math.max(1, this.numCover + 1));
  }

  static create(options: LearnerOptions): CbLearner {
    return new CbLearner(resolveLearnerOptions(options), null, null);
  }

  /** @internal Rebuilds a learner from saved parts (model loading). */
  static restore(options: LearnerOptions, store: WeightStore, state: LearnerState): CbLearner {
    return new CbLearner(resolveLearnerOptions(options), store, state);
  }

  /** Snapshot of the non-weight learning state (for saving). */
  get state(): LearnerState {
    return {
      examplesSeen: this.examplesSeen,
      gd: { ...this.gd.state },
      featureMap: JSON.parse(JSON.stringify(this.featureMap.state)) as FeatureMapState,
    };
  }

  /** Number of features of vector contexts (the numFeatures option, else fixed by the first example), or null. */
  get numFeatures(): number | null {
    return this.featureMap.state.numFeatures;
  }

  /** VW command-line equivalent of the options (informational, stored in the model). */
  get vwArguments(): string {
    return vwArgumentsOf(this.options);
  }

  /**
   * One line that says what this model is: the VW arguments plus what VW's arguments can not
   * express (the feature map with its bins, the feature count, the probability floor).
   */
  get description(): string {
    return describeLearner(this.options, this.featureMap.state, this.examplesSeen);
  }

  // ---------------------------------------------------------------- input checks

  private checkCtx(context: Context, field = "context"): void {
    checkContext(context, this.featureMap.state.numFeatures, field);
  }

  private fixDim(context: Context): void {
    if (this.featureMap.state.numFeatures === null && isVector(context)) this.featureMap.state.numFeatures = context.length;
  }

  /** Throws LearnerError naming the field if (action, cost, probability) is not a valid label. */
  checkLabel(action: number, cost: number, probability: number): void {
    if (typeof action !== "number" || !Number.isInteger(action) || action < 1) {
      throw new LearnerError("action", `must be an integer 1..${this.k} (1-based), got ${String(action)}`);
    }
    if (action > this.k) throw this.actionMismatch("action", action);
    if (typeof cost !== "number" || !Number.isFinite(cost)) throw new LearnerError("cost", `must be a finite number, got ${String(cost)}`);
    if (typeof probability !== "number" || !(probability > 0 && probability <= 1)) {
      throw new LearnerError("probability", `must be in (0, 1], got ${String(probability)}`);
    }
  }

  // ---------------------------------------------------------------- prediction

  /** The exploration pmf for a context (a fresh array of K probabilities summing to 1). */
  predictPmf(context: Context): Float64Array {
    const out = new Float64Array(this.k);
    this.predictPmfInto(context, out);
    return out;
  }

  /** Like predictPmf, writing into `out` (length >= K) without allocating. */
  predictPmfInto(context: Context, out: Float64Array): void {
    this.checkCtx(context);
    this.featureMap.encode(context, this.ex);
    this.pmfOf(this.ex, out);
  }

  /** Predicted cost of every action under the (first) policy (for inspection). */
  predictCosts(context: Context): Float64Array {
    this.checkCtx(context);
    this.featureMap.encode(context, this.ex);
    const out = new Float64Array(this.k);
    this.gd.predictMany(this.ex, 0, this.k, out);
    return out;
  }

  /**
   * Samples an action from the pmf with a uniform number derived from (seed, eventId), so replaying
   * an event gives the same action with the same model.
   */
  chooseAction(context: Context, eventId: string): ChosenAction {
    if (typeof eventId !== "string" || eventId === "") throw new LearnerError("eventId", `must be a non-empty string, got ${JSON.stringify(eventId)}`);
    const pmf = this.predictPmf(context);
    const i = sampleIndex(pmf, hashUnit(eventId, this.seedWord));
    return { action: i + 1, actionProb: pmf[i], pmf };
  }

  private pmfOf(ex: EncodedExample, out: Float64Array): void {
    const o = this.options, k = this.k, s = this.scores;
    const t = this.examplesSeen;
    switch (o.explorationPolicy) {
      case "egreedy":
        this.gd.predictMany(ex, 0, k, s);
        egreedyPmf(argmin(s, k), k, o.epsilon, out);
        break;
      case "first":
        if (t < o.tau) out.fill(1 / k, 0, k);
        else {
          this.gd.predictMany(ex, 0, k, s);
          egreedyPmf(argmin(s, k), k, 0, out);
        }
        break;
      case "softmax":
        this.gd.predictMany(ex, 0, k, s);
        softmaxPmf(s, k, o.lambda, out);
        break;
      case "squarecb":
        this.gd.predictMany(ex, 0, k, s);
        squarecbPmf(s, k, o.gammaScale * Math.pow(t + 1, o.gammaExponent), out);
        break;
      case "bag": {
        out.fill(0, 0, k);
        const m = this.numCb, share = 1 / m;
        for (let b = 0; b < m; b++) {
          this.gd.predictMany(ex, b * this.perCb * k, k, s);
          out[argmin(s, k)] += share;
        }
        break;
      }
      case "cover":
        this.coverPmf(ex, t, out);
        break;
    }
    if (o.minProbability > 0) floorPmf(out, k, o.minProbability);
    normalizePmf(out, k);
  }

  private coverCol(j: number): number {
    return (this.numCb * this.perCb + j) * this.k;
  }

  /** Online cover's floor μ = min(1/K, 1/√(tK)) after t examples (1/K at t = 0). */
  private coverMinProb(t: number): number {
    return Math.min(1 / this.k, 1 / Math.sqrt(t * this.k));
  }

  /**
   * Online cover's pmf: each of the M policies (the cb learner and M − 1 cover learners) puts 1/M
   * on its greedy action; actions that some policy chose get at least μ (VW floors only the
   * support; actions no policy chose keep 0 unless minProbability is set). Fills `preds` with each
   * policy's greedy action.
   */
  private coverPmf(ex: EncodedExample, t: number, out: Float64Array, preds?: Int32Array): void {
    const k = this.k, s = this.scores, m = this.numCover + 1, share = 1 / m;
    out.fill(0, 0, k);
    for (let j = 0; j < m; j++) {
      this.gd.predictMany(ex, j === 0 ? 0 : this.coverCol(j - 1), k, s);
      const a = argmin(s, k);
      out[a] += share;
      if (preds) preds[j] = a;
    }
    floorPmf(out, k, this.coverMinProb(t), false);
  }

  // ---------------------------------------------------------------- learning

  /** Learns from one logged decision: context, 1-based action, cost (1 − reward), its probability. */
  learn(context: Context, action: number, cost: number, probability: number): void {
    this.checkCtx(context);
    this.checkLabel(action, cost, probability);
    this.fixDim(context);
    this.featureMap.encode(context, this.ex);
    this.learnEncoded(this.ex, action - 1, cost, probability);
  }

  private learnEncoded(ex: EncodedExample, a: number, cost: number, p: number): void {
    const o = this.options;
    const t = this.examplesSeen;
    if (o.explorationPolicy === "bag") {
      for (let b = 0; b < this.numCb; b++) {
        const count = poisson1FromUniform(hashUnit(`${t}/${b}`, this.seedWord));
        for (let c = 0; c < count; c++) this.cbLearn(b, ex, a, cost, p);
      }
    } else if (o.explorationPolicy === "cover") {
      this.coverLearn(ex, a, cost, p, t);
    } else if (o.explorationPolicy === "first" && p >= 1) {
      // VW's explore-first learns only from explored decisions: after tau the policy exploits,
      // and its own greedy decisions (probability 1) are counted but not learned from.
    } else {
      this.cbLearn(0, ex, a, cost, p);
    }
    this.examplesSeen = t + 1;
  }

  /** One update of cb learner `b` (its policy regressors, and its scorer for dr). */
  private cbLearn(b: number, ex: EncodedExample, a: number, cost: number, p: number): void {
    const k = this.k, gd = this.gd;
    const pol = b * this.perCb * k;
    switch (this.options.cbType) {
      case "mtr":
        // VW's cb_adf mtr: weight 1/p × (events / actions offered) = 1/(p·K) for a fixed K.
        gd.update(ex, pol + a, cost, 1 / (p * k));
        break;
      case "ips":
        for (let j = 0; j < k; j++) gd.update(ex, pol + j, j === a ? cost / p : 0, 1);
        break;
      case "dr": {
        const sc = pol + k, c = this.costs;
        gd.predictMany(ex, sc, k, c);
        for (let j = 0; j < k; j++) c[j] = gd.clamp(c[j]);
        gd.update(ex, sc + a, cost, 1 / p); // VW's legacy scorer learns with weight 1/p
        c[a] += (cost - c[a]) / p;
        for (let j = 0; j < k; j++) gd.update(ex, pol + j, c[j], 1);
        break;
      }
    }
  }

  /** Cost estimates of every action for the cover learners (after the cb learner's update). */
  private estimateCosts(ex: EncodedExample, a: number, cost: number, p: number, out: Float64Array): void {
    const k = this.k, gd = this.gd;
    if (this.options.cbType === "ips") {
      out.fill(0, 0, k);
      out[a] = cost / p;
      return;
    }
    gd.predictMany(ex, this.options.cbType === "dr" ? k : 0, k, out);
    for (let j = 0; j < k; j++) out[j] = gd.clamp(out[j]);
    out[a] += (cost - out[a]) / p;
  }

  /**
   * Online cover (VW's legacy --cover): the first policy is the cb learner itself; cover learner
   * j ≥ 1 learns the pseudo-costs ĉ_a + 1 − ψ μ ν / max(P_a, μ), where ĉ are the doubly robust
   * cost estimates, P_a the probability the earlier policies (by their greedy actions before this
   * update) put on a, and ν = μK plus the mass assigned so far — so later policies are pulled
   * towards actions the cover neglects.
   */
  private coverLearn(ex: EncodedExample, a: number, cost: number, p: number, t: number): void {
    const k = this.k, gd = this.gd, probs = this.scratch, c = this.costs;
    const m = this.numCover + 1, share = 1 / m;
    const preds = this.coverPreds;
    this.coverPmf(ex, t, probs, preds);
    this.cbLearn(0, ex, a, cost, p);
    this.estimateCosts(ex, a, cost, p, c);
    const mu = this.coverMinProb(t), psi = this.options.psi;
    let norm = mu * k;
    probs.fill(0);
    for (let j = 0; j < m; j++) {
      if (j > 0) {
        const col = this.coverCol(j - 1);
        for (let x = 0; x < k; x++) gd.update(ex, col + x, c[x] + 1 - (psi * mu * norm) / Math.max(probs[x], mu), 1);
      }
      const pj = probs[preds[j]];
      norm += pj < mu ? Math.max(0, share - (mu - pj)) : share;
      probs[preds[j]] += share;
    }
  }

  private actionMismatch(field: string, action: number): ConfigMismatchError {
    return new ConfigMismatchError(field, `is ${action}, beyond the model's ${this.k} actions (num_arms: config.yaml ${NUM_ARMS_KEY}); the data's actions must be the app's`);
  }

  /**
   * Trains on joined records (cost = 1 − reward). Malformed rows (a non-finite number, a
   * probability outside (0, 1], an action below 1, ...) are skipped and counted, the report lists
   * the first few reasons, and `strict` turns any skip into an error. Rows that do not fit the
   * configuration — an action beyond numArms, another feature count than the model's, a reward
   * outside [minReward, maxReward] — throw a ConfigMismatchError naming the row and the config key.
   * With the bins feature map and no bins fitted yet, the bins are fitted on this first batch's
   * contexts before learning (then frozen).
   */
  async train(records: Iterable<JoinedRecord> | AsyncIterable<JoinedRecord>, options: TrainOptions = {}): Promise<TrainReport> {
    const report: TrainReport = { used: 0, skipped: 0, reasons: [] };
    this.rewardRange = checkRewardRange(options);
    const strict = options.strict === true;
    const fail = (row: number, r: JoinedRecord | undefined, e: unknown) => {
      const id = r && typeof r === "object" && "event_id" in r ? ` (event_id ${String(r.event_id)})` : "";
      rowFailure(report, `row ${row}${id}`, e, strict);
    };
    const buffer: JoinedRecord[] | null = this.featureMap.needsBins ? [] : null;
    let row = 0;
    const handle = (r: JoinedRecord) => {
      row++;
      try {
        this.checkRecord(r);
      } catch (e) {
        fail(row, r, e);
        return;
      }
      this.fixDim(r.observation);
      if (buffer) buffer.push(r);
      else this.learnRecord(r);
      report.used++;
    };
    const batched = records as unknown as { batches?: () => AsyncIterable<JoinedRecord[]>; columnBatches?: () => AsyncIterable<JoinedColumns> };
    if (typeof batched.columnBatches === "function") {
      if (this.featureMap.needsBins) {
        // Fit the bins on this whole first batch, then learn (the columns are kept meanwhile).
        const all: JoinedColumns[] = [];
        for await (const cols of batched.columnBatches()) all.push(cols);
        this.featureMap.fitBinsByName(this.validColumnValues(all));
        for (const c of all) this.trainColumns(c, report, strict);
      } else {
        for await (const cols of batched.columnBatches()) this.trainColumns(cols, report, strict);
      }
    } else if (typeof batched.batches === "function") {
      for await (const batch of batched.batches()) for (let i = 0; i < batch.length; i++) handle(batch[i]);
    } else if (Symbol.asyncIterator in (records as object)) {
      for await (const r of records as AsyncIterable<JoinedRecord>) handle(r);
    } else {
      for (const r of records as Iterable<JoinedRecord>) handle(r);
    }
    if (buffer) {
      this.featureMap.fitBins(buffer.map((r) => r.observation));
      for (const r of buffer) this.learnRecord(r);
    }
    const extra = records as unknown as { malformed?: number; malformedReasons?: string[] };
    if (typeof extra.malformed === "number" && extra.malformed > 0) {
      if (strict) throw new LearnerError("data", `${extra.malformed} row(s) could not be read (${(extra.malformedReasons ?? []).join("; ")}); strict mode fails on any skipped row`);
      report.skipped += extra.malformed;
      for (const r of extra.malformedReasons ?? []) if (report.reasons.length < MAX_REASONS) report.reasons.push(r);
    }
    return report;
  }

  /** Why row i of a column batch is invalid (checked like a record), or null; `ctx` gets its observation. */
  private columnRowError(c: JoinedColumns, i: number, ctx: Float64Array): LearnerError | null {
    const action = c.action[i], prob = c.actionProb[i], reward = c.reward[i];
    try {
      checkContext(ctx, this.featureMap.state.numFeatures, "observation");
      this.checkReward(reward);
      if (!Number.isInteger(action) || action < 1) throw new LearnerError("action", `must be an integer 1..${this.k} (1-based), got ${action}`);
      if (action > this.k) throw this.actionMismatch("action", action);
      if (!(prob > 0 && prob <= 1)) throw new LearnerError("action_prob", `must be in (0, 1], got ${prob}`);
    } catch (e) {
      return e as LearnerError;
    }
    return null;
  }

  /** The reward range of the current train() call (null: unchecked). */
  private rewardRange: [number, number] | null = null;

  private checkReward(reward: unknown): void {
    if (typeof reward !== "number" || !Number.isFinite(reward)) throw new LearnerError("reward", `must be a finite number, got ${String(reward)}`);
    const range = this.rewardRange;
    if (range !== null && (reward < range[0] || reward > range[1])) {
      throw new ConfigMismatchError(
        "reward",
        `is ${reward}, outside the possible rewards [${range[0]}, ${range[1]}] (min_reward / max_reward: config.yaml ${REWARD_RANGE_KEYS}); ` +
          `its cost 1 − reward = ${1 - reward} would be impossible`,
      );
    }
  }

  private rowContext(c: JoinedColumns, i: number): Float64Array {
    const o0 = c.offsets[i], d = c.offsets[i + 1] - o0;
    let ctx = this.colCtx;
    if (ctx.length !== d) ctx = this.colCtx = new Float64Array(d);
    for (let j = 0; j < d; j++) ctx[j] = c.obs[o0 + j];
    return ctx;
  }

  /** Values of each feature over the valid rows of column batches (fixing the dimension like learning would), for fitting bins. */
  private validColumnValues(all: JoinedColumns[]): Map<string, number[]> {
    const cols: number[][] = [];
    for (const c of all) {
      for (let i = 0; i < c.n; i++) {
        const ctx = this.rowContext(c, i);
        const err = this.columnRowError(c, i, ctx);
        if (err instanceof ConfigMismatchError) throw rowError(`${c.file ? `${c.file}:` : "row "}${c.line[i]}`, err);
        if (err !== null) continue;
        this.fixDim(ctx);
        for (let j = 0; j < ctx.length; j++) (cols[j] ??= []).push(ctx[j]);
      }
    }
    return new Map(cols.map((v, j) => [String(j + 1), v]));
  }

  /** Learns from a column batch (no record objects); rows are checked like records. */
  private trainColumns(c: JoinedColumns, report: TrainReport, strict: boolean): void {
    for (let i = 0; i < c.n; i++) {
      const ctx = this.rowContext(c, i);
      const err = this.columnRowError(c, i, ctx);
      if (err !== null) {
        rowFailure(report, `${c.file ? `${c.file}:` : "row "}${c.line[i]}`, err, strict);
        continue;
      }
      this.fixDim(ctx);
      this.featureMap.encode(ctx, this.ex);
      this.learnEncoded(this.ex, c.action[i] - 1, 1 - c.reward[i], c.actionProb[i]);
      report.used++;
    }
  }

  private checkRecord(r: JoinedRecord): void {
    if (r === null || typeof r !== "object") throw new LearnerError("record", "must be an object");
    if (!Array.isArray(r.observation) && !ArrayBuffer.isView(r.observation)) {
      throw new LearnerError("observation", `must be an array of numbers, got ${typeof r.observation}`);
    }
    this.checkCtx(r.observation, "observation");
    this.checkReward(r.reward);
    if (typeof r.action !== "number" || !Number.isInteger(r.action) || r.action < 1) {
      throw new LearnerError("action", `must be an integer 1..${this.k} (1-based), got ${String(r.action)}`);
    }
    if (r.action > this.k) throw this.actionMismatch("action", r.action);
    if (typeof r.action_prob !== "number" || !(r.action_prob > 0 && r.action_prob <= 1)) {
      throw new LearnerError("action_prob", `must be in (0, 1], got ${String(r.action_prob)}`);
    }
  }

  private learnRecord(r: JoinedRecord): void {
    this.featureMap.encode(r.observation, this.ex);
    this.learnEncoded(this.ex, r.action - 1, 1 - r.reward, r.action_prob);
  }
}

/** Checks a train() call's reward range; null when none was given. */
function checkRewardRange(o: TrainOptions): [number, number] | null {
  if (o.minReward === undefined && o.maxReward === undefined) return null;
  const lo = o.minReward ?? 0, hi = o.maxReward ?? 1;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) {
    throw new LearnerError("min_reward", `and max_reward must be finite with min_reward <= max_reward, got [${lo}, ${hi}] (config.yaml ${REWARD_RANGE_KEYS})`);
  }
  return [lo, hi];
}

/** The error of a row, with where it is (`file:line` or `row n (event_id x)`) in front. */
function rowError(where: string, e: unknown): LearnerError {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof ConfigMismatchError) return new ConfigMismatchError(where, message);
  return new LearnerError(where, `${message} (strict mode fails on any skipped row)`);
}

/** A bad row: rethrown when it does not fit the config or in strict mode, else counted in the report. */
function rowFailure(report: TrainReport, where: string, e: unknown, strict: boolean): void {
  if (e instanceof ConfigMismatchError || strict) throw rowError(where, e);
  if (!(e instanceof LearnerError)) throw e;
  report.skipped++;
  if (report.reasons.length < MAX_REASONS) report.reasons.push(`${where}: ${e.message}`);
}

/** The model's one-line description (see CbLearner.description). */
export function describeLearner(o: ResolvedLearnerOptions, fm: FeatureMapState, examplesSeen: number): string {
  const parts = [vwArgumentsOf(o)];
  const map = fm.kind === "bins"
    ? `bins: ${fm.numBins} per feature, ${fm.binning} edges${fm.binEdges === null ? " (fitted on the first training batch)" : ""}`
    : fm.kind === "quadratic" ? "quadratic (every feature pair)" : "linear";
  parts.push(`features: ${fm.numFeatures ?? "any number of"} (${map})`);
  parts.push(`probability floor ${o.minProbability > 0 ? o.minProbability : "off (0)"}`);
  parts.push(`seed ${o.seed}`, `${examplesSeen} examples seen`);
  return parts.join("; ");
}

/** VW command-line equivalent of the options. */
export function vwArgumentsOf(o: ResolvedLearnerOptions): string {
  const parts = [`--cb_explore ${o.numArms}`];
  switch (o.explorationPolicy) {
    case "egreedy": parts.push(`--epsilon ${o.epsilon}`); break;
    case "bag": parts.push(`--bag ${o.numPolicies}`); break;
    case "cover": parts.push(`--cover ${o.numPolicies} --psi ${o.psi}`); break;
    case "first": parts.push(`--first ${o.tau}`); break;
    case "softmax": parts.push(`--softmax --lambda ${o.lambda}`); break;
    case "squarecb": parts.push(`--squarecb --gamma_scale ${o.gammaScale} --gamma_exponent ${o.gammaExponent}`); break;
  }
  parts.push(`--cb_type ${o.cbType}`, `-b ${o.bits}`, `-l ${o.learningRate}`, `--power_t ${o.powerT}`);
  if (o.featureMap === "quadratic") parts.push("-q ::");
  return parts.join(" ");
}
