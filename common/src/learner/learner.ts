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
 * Exploration (option `explorationPolicy`) turns the regressors' scores into a pmf; each policy's
 * pmf, learn hook and weight columns are its entry in the registry (policies.ts).
 */
import type { JoinedColumns } from "../data/joinedFiles";
import { JoinedRecord } from "../data/records";
import { keepsNumberContract, numberProblem } from "../data/numbers";
import { costOfReward, rewardProblem, rewardRangeOf, type RewardBounds } from "../data/rewards";
import { hash32, hashUnit, sampleIndex } from "../util/random";
import { floorPmf, normalizePmf } from "./explore";
import { BIN_FIT_ROWS, EncodedExample, FeatureMap, FeatureMapState, checkContext, isVector } from "./features";
import { GdLearner, GdState, WeightStore } from "./gd";
import { ConfigMismatchError, Context, LearnerError, LearnerOptions, NUM_ARMS_KEY, ResolvedLearnerOptions, resolveLearnerOptions } from "./options";
import { ExplorationPolicySpec, PolicyModel, policyOf, vwArgumentsOf, weightLayout } from "./policies";
import { showValue } from "../util/show";

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

export interface TrainOptions {
  /**
   * Any skipped row fails training (a LearnerError naming the row) instead of being counted in
   * the report. Rows that do not fit the configuration fail training in any case.
   */
  strict?: boolean;
  /**
   * The possible rewards (config workflow.min_reward / max_reward, hyperparameters
   * `min_reward` / `max_reward`); a reward outside fails training. Unchecked when both are absent.
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
  private readonly policy: ExplorationPolicySpec;
  /** The regressors as the policy's pmf and learn hook see them. */
  private readonly model: CbRegressors;
  private colCtx = new Float64Array(0);

  private constructor(options: ResolvedLearnerOptions, store: WeightStore | null, state: LearnerState | null) {
    this.options = options;
    this.numArms = this.k = options.numArms;
    this.policy = policyOf(options.explorationPolicy);
    const layout = weightLayout(options);
    const width = layout.columns;
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
    this.model = new CbRegressors(this.gd, options, layout.blocksPerCbLearner, layout.cbLearners, hash32(String(options.seed), 0x6c62), layout.cbLearners + layout.extraBlocks);
  }

  static create(options: LearnerOptions): CbLearner {
    return new CbLearner(resolveLearnerOptions(options), null, null);
  }

  /** @internal Rebuilds a learner from saved parts (model loading). */
  static restore(options: LearnerOptions, store: WeightStore, state: LearnerState): CbLearner {
    return new CbLearner(resolveLearnerOptions(options), store, state);
  }

  /**
   * A learner on these weights and this learning state with other options of the same weight
   * layout (the next model of a line with config.yaml's tunable settings; see nextModelOptions).
   */
  withOptions(options: LearnerOptions): CbLearner {
    return new CbLearner(resolveLearnerOptions(options), this.gd.store, this.state);
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
    if (typeof eventId !== "string" || eventId === "") throw new LearnerError("eventId", `must be a non-empty string, got ${showValue(eventId)}`);
    const pmf = this.predictPmf(context);
    const i = this.sampleAction(pmf, eventId);
    return { action: i + 1, actionProb: pmf[i], pmf };
  }

  /** The 0-based action chooseAction draws from this pmf for this event id. */
  sampleAction(pmf: ArrayLike<number>, eventId: string): number {
    return sampleIndex(pmf, hashUnit(eventId, this.model.seedWord));
  }

  /**
   * Scores every row of a column batch (a reader's chunk): `onRow(i, pmf)` gets the pmf of row
   * i's observation in a buffer reused for the next row — the scoring core of `bandits predict`
   * and of offline evaluation, with no object per row. A row whose observation does not fit the
   * model throws a LearnerError (a ConfigMismatchError for another feature count) naming its
   * file and line.
   */
  predictColumns(c: JoinedColumns, onRow: (i: number, pmf: Float64Array) => void): void {
    const pmf = new Float64Array(this.k);
    for (let i = 0; i < c.n; i++) {
      const ctx = this.rowContext(c, i);
      try {
        this.checkCtx(ctx, "observation");
      } catch (e) {
        throw rowError(`${c.file ? `${c.file}:` : "row "}${c.line[i]}`, e, false);
      }
      this.featureMap.encode(ctx, this.ex);
      this.pmfOf(this.ex, pmf);
      onRow(i, pmf);
    }
  }

  private pmfOf(ex: EncodedExample, out: Float64Array): void {
    const o = this.options, k = this.k;
    this.policy.pmf(this.model, ex, this.examplesSeen, out);
    if (o.minProbability > 0) floorPmf(out, k, o.minProbability);
    normalizePmf(out, k);
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
    const t = this.examplesSeen;
    this.policy.learn(this.model, ex, t, a, cost, p);
    this.examplesSeen = t + 1;
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
   * With the bins feature map and no bins fitted yet, the bins are fitted on the contexts of this
   * first batch's first BIN_FIT_ROWS (100,000) valid rows before learning (then frozen); those rows
   * are held meanwhile, the rest streams.
   */
  async train(records: Iterable<JoinedRecord> | AsyncIterable<JoinedRecord>, options: TrainOptions = {}): Promise<TrainReport> {
    const report: TrainReport = { used: 0, skipped: 0, reasons: [] };
    this.rewardRange = options.minReward === undefined && options.maxReward === undefined ? null : rewardRangeOf(options);
    const strict = options.strict === true;
    const fail = (row: number, r: JoinedRecord | undefined, e: unknown) => {
      const id = r && typeof r === "object" && "event_id" in r ? ` (event_id ${String(r.event_id)})` : "";
      rowFailure(report, `row ${row}${id}`, e, strict);
    };
    // Bins not fitted yet: the first BIN_FIT_ROWS valid rows are held, the bins fitted on them,
    // then they are learned from, and the rest streams.
    let held: JoinedRecord[] | null = this.featureMap.needsBins ? [] : null;
    const fitHeld = () => {
      const rows = held as JoinedRecord[];
      held = null;
      this.featureMap.fitBins(rows.map((r) => r.observation));
      for (const r of rows) this.learnRecord(r);
    };
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
      if (held !== null) {
        held.push(r);
        if (held.length >= BIN_FIT_ROWS) fitHeld();
      } else this.learnRecord(r);
      report.used++;
    };
    const batched = records as unknown as { batches?: () => AsyncIterable<JoinedRecord[]>; columnBatches?: () => AsyncIterable<JoinedColumns> };
    if (typeof batched.columnBatches === "function") {
      const sample = this.featureMap.needsBins ? new BinSample(BIN_FIT_ROWS) : null;
      const waiting: JoinedColumns[] = [];
      for await (const cols of batched.columnBatches()) {
        if (sample === null || sample.full) {
          this.trainColumns(cols, report, strict);
          continue;
        }
        waiting.push(compactColumns(cols));
        this.sampleColumnValues(cols, sample);
        if (sample.full) this.fitAndTrainWaiting(sample, waiting, report, strict);
      }
      if (sample !== null && !sample.full) this.fitAndTrainWaiting(sample, waiting, report, strict);
    } else if (typeof batched.batches === "function") {
      for await (const batch of batched.batches()) for (let i = 0; i < batch.length; i++) handle(batch[i]);
    } else if (Symbol.asyncIterator in (records as object)) {
      for await (const r of records as AsyncIterable<JoinedRecord>) handle(r);
    } else {
      for (const r of records as Iterable<JoinedRecord>) handle(r);
    }
    if (held !== null) fitHeld();
    const extra = records as unknown as { malformed?: number; malformedReasons?: string[] };
    if (typeof extra.malformed === "number" && extra.malformed > 0) {
      if (strict) throw new LearnerError("data", `${extra.malformed} row(s) could not be read (${(extra.malformedReasons ?? []).join("; ")}); strict mode fails on any skipped row`);
      report.skipped += extra.malformed;
      for (const r of extra.malformedReasons ?? []) if (report.reasons.length < MAX_REASONS) report.reasons.push(r);
    }
    return report;
  }

  /** Fits the bins on the sample, then learns from the column batches held meanwhile. */
  private fitAndTrainWaiting(sample: BinSample, waiting: JoinedColumns[], report: TrainReport, strict: boolean): void {
    this.featureMap.fitBinsByName(sample.byName());
    sample.full = true;
    for (const c of waiting.splice(0)) this.trainColumns(c, report, strict);
  }

  /** Why row i of a column batch is invalid (checked like a record), or null; `ctx` gets its observation. */
  private columnRowError(c: JoinedColumns, i: number, ctx: Float64Array): LearnerError | null {
    const action = c.action[i], prob = c.actionProb[i], reward = c.reward[i];
    if (this.rowIsValid(ctx, action, prob, reward)) return null;
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

  /**
   * The checks of columnRowError without a call that can throw: true for a row they all accept
   * (nearly every row), false to let columnRowError find and word the problem.
   */
  private rowIsValid(ctx: Float64Array, action: number, prob: number, reward: number): boolean {
    const dim = this.featureMap.state.numFeatures;
    if (ctx.length === 0 || (dim !== null && ctx.length !== dim)) return false;
    for (let j = 0; j < ctx.length; j++) if (!keepsNumberContract(ctx[j])) return false;
    if (!keepsNumberContract(reward)) return false;
    const range = this.rewardRange;
    if (range !== null && !(reward >= range.minReward && reward <= range.maxReward)) return false;
    return Number.isInteger(action) && action >= 1 && action <= this.k && prob > 0 && prob <= 1;
  }

  /** The reward range of the current train() call (null: unchecked). */
  private rewardRange: RewardBounds | null = null;

  private checkReward(reward: unknown): void {
    const contract = numberProblem(reward);
    if (contract !== null) throw new LearnerError("reward", contract);
    const problem = this.rewardRange === null ? null : rewardProblem(reward, this.rewardRange);
    if (problem !== null) throw new ConfigMismatchError("reward", problem);
  }

  private rowContext(c: JoinedColumns, i: number): Float64Array {
    const o0 = c.offsets[i], d = c.offsets[i + 1] - o0;
    let ctx = this.colCtx;
    if (ctx.length !== d) ctx = this.colCtx = new Float64Array(d);
    for (let j = 0; j < d; j++) ctx[j] = c.obs[o0 + j];
    return ctx;
  }

  /** Adds the valid rows of a column batch to the bins' sample until it is full (fixing the dimension like learning would). */
  private sampleColumnValues(c: JoinedColumns, sample: BinSample): void {
    for (let i = 0; i < c.n && !sample.full; i++) {
      const ctx = this.rowContext(c, i);
      const err = this.columnRowError(c, i, ctx);
      if (err instanceof ConfigMismatchError) throw rowError(`${c.file ? `${c.file}:` : "row "}${c.line[i]}`, err);
      if (err !== null) continue;
      this.fixDim(ctx);
      sample.add(ctx);
    }
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
      this.learnEncoded(this.ex, c.action[i] - 1, costOfReward(c.reward[i]), c.actionProb[i]);
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
    this.learnEncoded(this.ex, r.action - 1, costOfReward(r.reward), r.action_prob);
  }
}

/** The contexts the bins are fitted on: each feature's values over the first `limit` valid rows. */
class BinSample {
  private readonly values: Float64Array[] = [];
  private rows = 0;
  /** No more rows wanted (the limit is reached, or the bins are fitted). */
  full = false;
  constructor(private readonly limit: number) {}

  add(ctx: ArrayLike<number>): void {
    for (let j = 0; j < ctx.length; j++) (this.values[j] ??= new Float64Array(this.limit))[this.rows] = ctx[j];
    if (++this.rows >= this.limit) this.full = true;
  }

  byName(): Map<string, Float64Array> {
    return new Map(this.values.map((v, j) => [String(j + 1), v.subarray(0, this.rows)]));
  }
}

/** A column batch in arrays of its own size (a reader's batch is a view of larger, growing arrays). */
function compactColumns(c: JoinedColumns): JoinedColumns {
  return { ...c, reward: c.reward.slice(), action: c.action.slice(), actionProb: c.actionProb.slice(), offsets: c.offsets.slice(), obs: c.obs.slice(), line: c.line.slice() };
}

/** The error of a row, with where it is (`file:line` or `row n (event_id x)`) in front. */
function rowError(where: string, e: unknown, strict = true): LearnerError {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof ConfigMismatchError) return new ConfigMismatchError(where, message);
  return new LearnerError(where, strict ? `${message} (strict mode fails on any skipped row)` : message);
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

/**
 * The cost regressors of the cb reduction, as a policy's pmf and learn hook use them: cb learner b
 * owns `blocksPerCbLearner` blocks of K columns (its cost regressors, then dr's scorer), and the
 * policy's own blocks follow the cb learners.
 */
class CbRegressors implements PolicyModel {
  readonly k: number;
  readonly scores: Float64Array;
  readonly probs: Float64Array;
  readonly costs: Float64Array;
  readonly preds: Int32Array;

  constructor(
    readonly gd: GdLearner,
    readonly options: ResolvedLearnerOptions,
    private readonly blocksPerCbLearner: number,
    private readonly cbLearners: number,
    readonly seedWord: number,
    members: number,
  ) {
    this.k = options.numArms;
    this.scores = new Float64Array(this.k);
    this.probs = new Float64Array(this.k);
    this.costs = new Float64Array(this.k);
    this.preds = new Int32Array(Math.max(1, members));
  }

  cbColumn(b: number): number {
    return b * this.blocksPerCbLearner * this.k;
  }

  extraColumn(j: number): number {
    return (this.cbLearners * this.blocksPerCbLearner + j) * this.k;
  }

  cbLearn(b: number, ex: EncodedExample, a: number, cost: number, p: number): void {
    const k = this.k, gd = this.gd;
    const pol = this.cbColumn(b);
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

  estimateCosts(ex: EncodedExample, a: number, cost: number, p: number, out: Float64Array): void {
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
}
