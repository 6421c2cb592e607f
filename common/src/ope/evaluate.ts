/**
 * Evaluating a target policy on logged joined records: validation, scoring each row against the
 * target's full pmf (the expected cost over its choices — the original sampled one action with an
 * unseeded RNG, defect D-3), the cost model, and the accumulators.
 */
import { ColumnBuilder, type ColumnOptions, type JoinedColumns } from "../data/columns";
import type { JoinedRecord } from "../data/records";
import { costOfReward, costRangeOf, rewardProblem, rewardRangeOf, type RewardBounds } from "../data/rewards";
import { fmix32, hash32 } from "../util/random";
import { didYouMean } from "../util/suggest";
import { mixNumber } from "./stats";
import { OpeInputError } from "./errors";
import { AccumulatorGroup, DifferenceAccumulator, OpeAccumulator, resolveAccumulatorOptions } from "./accumulators";
import type { PairedOpeSample } from "./accumulators";
import { COST_FIT_ROWS, CrossFittedCosts, crossFitCostPredictions } from "./cost-model";
import { RowsFingerprint, fittedCostModels } from "./cost-model-cache";
import type { CostFeatureMap } from "./cost-model";
import { DEFAULT_ESTIMATOR, ESTIMATORS, ESTIMATOR_NAMES, isEstimator } from "./estimators";
import type { Estimator, EstimatorName } from "./estimators";
import { clipEstimate } from "./score";
import type { OpeEstimate, OpeResults } from "./score";
import type { AccumulatorOptions, CostModel, OpeSample, PmfModel, RewardRange, TargetPolicy } from "./types";

/**
 * Fold assignments the default cost model averages (crossFitCostPredictions' `repeats`).
 * Measured on shuttle (bench/ope-folds.ts, 500 rows): with one assignment DR moves by 0.32 of its
 * standard error (median sd) when the seed or the event ids change; averaging 5 cuts that to
 * 0.14, for about 20 % more evaluation time with the bootstrap.
 */
export const DEFAULT_FOLD_REPEATS = 5;

/** How far a pmf's sum may be from 1. */
export const PMF_SUM_TOLERANCE = 1e-6;

/**
 * The reward range checked: [minReward, maxReward] (default [0, 1]); a record outside is refused,
 * and estimates (average cost, 1 − reward) are clipped to [1 − maxReward, 1 − minReward].
 */
function rangeOf(o: RewardRange): Range {
  const bounds = rewardRangeOf(o);
  const costs = costRangeOf(bounds);
  return { ...bounds, costLower: costs.lower, costUpper: costs.upper };
}

type Range = RewardBounds & { costLower: number; costUpper: number };

export interface EvaluatePolicyOptions<E extends EstimatorName = EstimatorName> extends AccumulatorOptions, RewardRange {
  /**
   * Estimators to run, objects of the registry (`[DR, IPS]`; a name from a config or a command line
   * resolves with `estimatorNamed`). Default: every estimator; DR is the one to quote, as in the original.
   */
  estimators?: readonly Estimator<E>[];
  /**
   * A cost model for DM/DR/SNDR (`predictCosts(context)` → expected cost per action). Default: a
   * cross-fitted per-action ridge regression fitted on the records themselves (see cost-model.ts).
   */
  rewardModel?: CostModel;
  /** Number of actions; default: the target pmf's length (or, for per-row actions, the largest action seen). */
  numArms?: number;
  /**
   * Settings of the default cost model: ridge penalty (default 1), feature map ("bins", the
   * default, or "linear"), quantile bins per feature (default 16), cross-fitting folds (default 5),
   * fold assignments averaged (`repeats`, default DEFAULT_FOLD_REPEATS). The folds are a hash of
   * each row's content and `seed`.
   */
  ridge?: { lambda?: number; featureMap?: CostFeatureMap; numBins?: number; folds?: number; repeats?: number };
}

/** A validated logged row with its target pmf. */
interface ScoredRow {
  observation: number[];
  action: number;
  cost: number;
  propensity: number;
  pmf: ArrayLike<number>;
  key: number;
}

/**
 * Logged records to evaluate on: in memory (an array or any iterable), an async iterable, or a
 * source of column batches that can be read more than once — a JoinedRecordReader — which is
 * read streaming, twice, in bounded memory.
 */
export type EvaluationRecords = Iterable<JoinedRecord> | AsyncIterable<JoinedRecord> | ColumnSource;

/** Anything that reads its rows as column batches, again from the start on each call (JoinedRecordReader). */
export interface ColumnSource {
  columnBatches(options: ColumnOptions): AsyncIterable<JoinedColumns>;
}

/**
 * Estimates the average cost of `target` on logged `records` with each requested estimator.
 * Throws OpeInputError (naming the field and the 0-based row) on bad input, and when there are
 * no records. The values are deterministic: only the bootstrap intervals depend on `seed`.
 *
 * How (bounded memory whatever the number of rows): pass 1 checks every row, scores it against
 * the target and adds it to the cost model's cross-fitting statistics; pass 2 scores it again
 * with its cross-fitted cost predictions into the accumulators. A JoinedRecordReader is read
 * twice from its files; records in memory are first turned into compact columns (with the same
 * checks as ever, naming the row).
 */
export async function evaluatePolicy<E extends EstimatorName = EstimatorName>(
  records: EvaluationRecords,
  target: TargetPolicy,
  options: EvaluatePolicyOptions<E> = {},
): Promise<OpeResults<E>> {
  const estimators = resolveEstimators(options.estimators);
  const accOptions = resolveAccumulatorOptions(options);
  const range = rangeOf(options);
  const kind = targetKind(target, "target");
  let K = options.numArms;
  if (K !== undefined && (!Number.isInteger(K) || K < 1)) throw new OpeInputError("numArms", null, `must be a positive integer, got ${K}`);
  const { source, inMemory } = await columnSourceOf(records, range);
  const learner = kind === "model" && typeof (target as ColumnScorer).predictColumns === "function" ? (target as ColumnScorer) : null;
  if (learner !== null && K === undefined) K = learner.numArms;
  const needsCosts = estimators.some((e) => e.needsCostModel);
  let crossFit = needsCosts && !options.rewardModel
    ? new CrossFittedCosts({ ...options.ridge, numArms: K ?? 1, repeats: options.ridge?.repeats ?? DEFAULT_FOLD_REPEATS, seed: accOptions.seed }, COST_FIT_ROWS, workersAllowed())
    : null;

  // Pass 1: check, score, count, and feed the cross-fitting. Each batch is kept with its row keys
  // for pass 2 while they fit in PASS_CACHE_BYTES (records in memory: always), else read again.
  // While the batches are kept, their rows only go into a fingerprint: after pass 1 the cost model
  // is taken from fittedCostModels when the same rows were fitted with the same settings before
  // (cost-model-cache.ts), else fitted from the kept batches. Once the batches no longer fit, the
  // rows stream into the cross-fitting as they are read (no reuse).
  let cache: { c: JoinedColumns; keys: Float64Array }[] | null = [];
  let fingerprint = crossFit !== null ? new RowsFingerprint() : null;
  const addRows = async (fit: CrossFittedCosts, batches: { c: JoinedColumns; keys: Float64Array }[]): Promise<void> => {
    for (const { c, keys } of batches) {
      for (let i = 0; i < c.n; i++) fit.add(c.obs, c.offsets[i], c.offsets[i + 1], c.action[i], costOfReward(c.reward[i]), keys[i]);
      await fit.drain();
    }
  };
  let cachedBytes = 0;
  let n = 0;
  let dim = -1;
  let maxAction = 1;
  let firstBadAction = -1;
  let badActionValue = 0;
  let firstBadTarget = -1;
  for await (const batch of source()) {
    const c = inMemory ? batch : compactColumns(batch);
    dim = checkColumnRows(c, n, dim, range);
    const keys = new Float64Array(c.n);
    for (let i = 0; i < c.n; i++) keys[i] = columnRowKey(c, i);
    if (cache !== null) {
      cachedBytes += inMemory ? keys.byteLength : keys.byteLength + columnBytes(c);
      if (cachedBytes <= PASS_CACHE_BYTES) cache.push({ c: inMemory ? c : { ...c, eventId: undefined }, keys });
      else {
        if (crossFit !== null && fingerprint !== null) await addRows(crossFit, cache);
        fingerprint = null;
        cache = null;
      }
    }
    const rowPmf = (i: number, pmf: ArrayLike<number> | null): void => {
      const g = n + i;
      const action = c.action[i];
      if (kind === "actions") {
        const t = targetActionAt(target, g);
        if (t > maxAction) maxAction = t;
        if (K !== undefined && t > K && firstBadTarget < 0) firstBadTarget = g;
      } else if (pmf !== null) {
        if (K === undefined) K = pmf.length;
        checkPmf(pmf, K, g, kind === "model" ? "target pmf" : "target.pmfs");
      }
      if (action > maxAction) maxAction = action;
      if (K !== undefined && action > K && firstBadAction < 0) {
        firstBadAction = g;
        badActionValue = action;
      }
      if (crossFit !== null) {
        const from = c.offsets[i], to = c.offsets[i + 1];
        if (fingerprint !== null) fingerprint.add(c.obs, from, to, action, costOfReward(c.reward[i]), keys[i]);
        else crossFit.add(c.obs, from, to, action, costOfReward(c.reward[i]), keys[i]);
      }
    };
    if (kind === "model" && learner === null) {
      for (let i = 0; i < c.n; i++) rowPmf(i, predictPmfAt(target as PmfModel, observationAt(c, i), n + i, "target"));
    } else if (kind === "pmfs") {
      const pmfs = (target as { pmfs: ArrayLike<ArrayLike<number>> }).pmfs;
      for (let i = 0; i < c.n; i++) {
        if (n + i >= pmfs.length) throw new OpeInputError("target.pmfs", null, `has ${pmfs.length} entries but there are more records; give one pmf per record`);
        rowPmf(i, pmfs[n + i]);
      }
    } else for (let i = 0; i < c.n; i++) rowPmf(i, null); // a model scored in pass 2, or per-row actions
    n += c.n;
    await crossFit?.drain();
  }
  if (n === 0) throw new OpeInputError("records", null, "has no rows: there is nothing to evaluate (check the evaluation data path and split)");
  if (kind !== "model") {
    const given = kind === "pmfs" ? (target as { pmfs: ArrayLike<unknown> }).pmfs.length : (target as { actions: ArrayLike<number> }).actions.length;
    if (given !== n) throw new OpeInputError(`target.${kind}`, null, `has ${given} entries but there are ${n} records; give exactly one per record`);
  }
  if (kind === "actions" && K === undefined) K = maxAction;
  const numArms = K as number;
  if (firstBadTarget >= 0) throw new OpeInputError("target.actions", firstBadTarget, `is ${targetActionAt(target, firstBadTarget)}, outside 1..${numArms} (numArms)`);
  if (firstBadAction < 0 && maxAction > numArms) {
    // K was only known at the end (per-row actions): find the first logged action beyond it.
    let at = 0;
    for await (const c of source()) {
      for (let i = 0; i < c.n && firstBadAction < 0; i++) {
        if (c.action[i] > numArms) {
          firstBadAction = at + i;
          badActionValue = c.action[i];
        }
      }
      if (firstBadAction >= 0) break;
      at += c.n;
    }
  }
  if (firstBadAction >= 0) throw new OpeInputError("action", firstBadAction, `is ${badActionValue}, outside 1..${numArms} (the target policy's number of actions)`);
  if (crossFit !== null && fingerprint !== null && cache !== null) {
    const key = fingerprint.digest() + crossFit.settingsKey(numArms);
    const fitted = fittedCostModels.get(key);
    if (fitted !== undefined) crossFit = fitted;
    else {
      await addRows(crossFit, cache);
      await crossFit.finishAsync(numArms);
      fittedCostModels.set(key, crossFit);
    }
  } else await crossFit?.finishAsync(numArms);

  // Pass 2: score each row with its cost predictions into the accumulators.
  // Many rows: the bootstrap sums are added in a worker thread while this one scores (same sums).
  const group = new AccumulatorGroup(estimators.map((e) => new OpeAccumulator(e, accOptions)), workersAllowed() && n >= WORKER_ROWS && accOptions.bootstrapSamples > 0);
  const costs = new Float64Array(numArms);
  const oneHotPmf = new Float64Array(numArms);
  let g = 0;
  const again = async function* (): AsyncGenerator<{ c: JoinedColumns; keys: Float64Array }> {
    for await (const c of source()) {
      const keys = new Float64Array(c.n);
      for (let i = 0; i < c.n; i++) keys[i] = columnRowKey(c, i);
      yield { c, keys };
    }
  };
  for await (const { c, keys } of cache ?? again()) {
    const base = g;
    const score = (i: number, pmf: ArrayLike<number>): void => {
      let rowCosts: ArrayLike<number> | null = null;
      if (crossFit !== null) rowCosts = crossFit.predict(c.obs, c.offsets[i], keys[i], costs);
      else if (options.rewardModel) rowCosts = predictCostsAt(options.rewardModel, observationAt(c, i), numArms, base + i);
      group.add(sampleOf(c, i, pmf, rowCosts, keys[i]));
    };
    if (learner !== null) {
      try {
        learner.predictColumns(c, (i, pmf) => {
          checkPmf(pmf, numArms, base + i, "target pmf");
          score(i, pmf);
        });
      } catch (e) {
        if (e instanceof OpeInputError) throw e;
        throw new OpeInputError("target.predictPmf", null, `failed on ${(e as Error).message}`);
      }
    } else {
      for (let i = 0; i < c.n; i++) {
        let pmf: ArrayLike<number>;
        if (kind === "model") pmf = predictPmfAt(target as PmfModel, observationAt(c, i), base + i, "target");
        else if (kind === "pmfs") pmf = (target as { pmfs: ArrayLike<ArrayLike<number>> }).pmfs[base + i];
        else {
          oneHotPmf.fill(0);
          oneHotPmf[targetActionAt(target, base + i) - 1] = 1;
          pmf = oneHotPmf;
        }
        score(i, pmf);
      }
    }
    g += c.n;
    await group.drain();
  }
  await group.finish();
  return resultsOf(estimators, group.accs, range.costLower, range.costUpper);
}

/** A model that scores column batches itself (CbLearner): the fast path of evaluation. */
interface ColumnScorer extends PmfModel {
  readonly numArms: number;
  predictColumns(c: JoinedColumns, onRow: (i: number, pmf: Float64Array) => void): void;
}

/** From this many rows on, evaluatePolicy adds the bootstrap sums in a worker thread. */
const WORKER_ROWS = 20_000;

/**
 * Whether evaluatePolicy may use worker threads for large inputs (the estimates are the same
 * either way): yes, unless the environment variable CBKIT_EVALUATION_THREADS is 1.
 */
function workersAllowed(): boolean {
  return process.env.CBKIT_EVALUATION_THREADS !== "1";
}

/** Pass 1's batches of a file kept for pass 2 (instead of reading the file again) up to this size. */
const PASS_CACHE_BYTES = 8 << 20;

/** A reader's batch in arrays of its own size (its event ids are dropped once the keys are made). */
function compactColumns(c: JoinedColumns): JoinedColumns {
  return { n: c.n, reward: c.reward.slice(), action: c.action.slice(), actionProb: c.actionProb.slice(), offsets: c.offsets.slice(), obs: c.obs.slice(), line: c.line.slice(), file: c.file, eventId: c.eventId };
}

function columnBytes(c: JoinedColumns): number {
  return c.reward.byteLength * 4 + c.offsets.byteLength + c.obs.byteLength + c.line.byteLength;
}

/** How many rows go into one column batch of records given in memory. */
const MEMORY_BATCH_ROWS = 8192;

/**
 * The records as a re-readable source of column batches with ids: a ColumnSource as it is; records
 * in memory (or an async iterable) checked row by row — the errors name the 0-based row — and
 * stored as compact columns.
 */
async function columnSourceOf(records: EvaluationRecords, range: Range): Promise<{ source: () => AsyncIterable<JoinedColumns>; inMemory: boolean }> {
  if (records !== null && typeof records === "object" && typeof (records as ColumnSource).columnBatches === "function") {
    const src = records as ColumnSource;
    return { source: () => src.columnBatches({ ids: true }), inMemory: false };
  }
  const batches: JoinedColumns[] = [];
  let b = new ColumnBuilder("", true);
  let i = 0;
  let dim = -1;
  const add = (record: JoinedRecord) => {
    const r = checkRecord(record, i, dim, range);
    dim = r.observation.length;
    const o = r.observation;
    for (let j = 0; j < o.length; j++) b.pushObs(o[j]);
    b.endRow(record.reward, r.action, r.propensity, i + 1, String(record.event_id), "", 0);
    i++;
    if (b.n === MEMORY_BATCH_ROWS) {
      batches.push(b.finish());
      b = new ColumnBuilder("", true);
    }
  };
  // Plain arrays and other sync iterables skip the per-row await of `for await`.
  if (typeof (records as Iterable<JoinedRecord>)[Symbol.iterator] === "function") for (const r of records as Iterable<JoinedRecord>) add(r);
  else for await (const r of records as AsyncIterable<JoinedRecord>) add(r);
  if (b.n > 0) batches.push(b.finish());
  return {
    source: async function* () {
      yield* batches;
    },
    inMemory: true,
  };
}

/**
 * The checks of checkRecord that a reader's rows still need (the reader checked the rest): the
 * reward range and one feature count for every row. Returns the feature count.
 */
function checkColumnRows(c: JoinedColumns, first: number, dim: number, range: Range): number {
  for (let i = 0; i < c.n; i++) {
    const reward = c.reward[i];
    if (reward < range.minReward || reward > range.maxReward) {
      const outside = rewardProblem(reward, range) as string;
      const id = c.eventId && c.eventId[i] !== "" ? ` (event_id ${c.eventId[i]})` : "";
      throw new OpeInputError("reward", first + i, `${outside}${id}`);
    }
    const d = c.offsets[i + 1] - c.offsets[i];
    if (dim >= 0 && d !== dim) throw new OpeInputError("observation", first + i, `has ${d} features; earlier rows have ${dim}`);
    dim = d;
  }
  return dim;
}

function observationAt(c: JoinedColumns, i: number): number[] {
  return Array.from(c.obs.subarray(c.offsets[i], c.offsets[i + 1]));
}

function targetActionAt(target: TargetPolicy, i: number): number {
  const actions = (target as { actions: ArrayLike<number> }).actions;
  if (i >= actions.length) throw new OpeInputError("target.actions", null, `has ${actions.length} entries but there are more records; give one action per record`);
  const t = actions[i];
  if (!Number.isInteger(t) || t < 1) throw new OpeInputError("target.actions", i, `must be a 1-based integer action, got ${t}`);
  return t;
}

/** rowKey of row i of a column batch (the same key as the record's). */
function columnRowKey(c: JoinedColumns, i: number): number {
  return keyOfRow(c.eventId ? c.eventId[i] : "", c.action[i], c.actionProb[i], costOfReward(c.reward[i]), c.obs, c.offsets[i], c.offsets[i + 1]);
}

/** toSample of row i of a column batch, with its key (columnRowKey). */
function sampleOf(c: JoinedColumns, i: number, pmf: ArrayLike<number>, costs: ArrayLike<number> | null, key: number): OpeSample {
  const action = c.action[i];
  const s: OpeSample = { cost: costOfReward(c.reward[i]), propensity: c.actionProb[i], targetProb: Math.min(1, Math.max(0, pmf[action - 1])), key };
  if (costs) {
    let direct = 0;
    for (let a = 0; a < pmf.length; a++) direct += pmf[a] * costs[a];
    s.directCost = direct;
    s.predictedCost = costs[action - 1];
  }
  return s;
}

/** What comparePolicies returns: each policy's estimates and the paired differences. */
export interface PolicyComparison<E extends EstimatorName = EstimatorName> {
  target: OpeResults<E>;
  baseline: OpeResults<E>;
  /** target − baseline per estimator (negative: the target is cheaper, i.e. better), with paired intervals. */
  difference: OpeResults<E>;
}

/**
 * Scores a target (e.g. a challenger) and a baseline (e.g. the deployed champion) on the same
 * logged rows, with the same cost model and bootstrap counts, and estimates their difference in
 * average cost with a paired interval: it accounts for the two estimates' correlation, so it is
 * much tighter than comparing two separate intervals. An interval for the difference entirely
 * below 0 says the target is better at the chosen confidence.
 */
export async function comparePolicies<E extends EstimatorName = EstimatorName>(
  records: Iterable<JoinedRecord> | AsyncIterable<JoinedRecord>,
  target: TargetPolicy,
  baseline: TargetPolicy,
  options: EvaluatePolicyOptions<E> = {},
): Promise<PolicyComparison<E>> {
  const estimators = resolveEstimators(options.estimators);
  const accOptions = resolveAccumulatorOptions(options);
  const range = rangeOf(options);
  const { rows, numArms } = await collectRows(records, target, options.numArms, range);
  const basePmfs = baselinePmfs(baseline, rows, numArms);
  const costs = costPredictions(rows, numArms, estimators, options, accOptions.seed);
  const tAccs = estimators.map((e) => new OpeAccumulator(e, accOptions));
  const bAccs = estimators.map((e) => new OpeAccumulator(e, accOptions));
  const dAccs = estimators.map((e) => new DifferenceAccumulator(e, accOptions));
  const counts = new Uint8Array(accOptions.bootstrapSamples);
  for (let i = 0; i < rows.length; i++) {
    const c = costs ? costs[i] : null;
    const t = toSample(rows[i], rows[i].pmf, c);
    const b = toSample(rows[i], basePmfs[i], c);
    const paired: PairedOpeSample = { ...t, baselineTargetProb: b.targetProb, baselineDirectCost: b.directCost };
    // One key per row, one seed: every accumulator would draw the same counts, so draw them once.
    if (counts.length > 0) tAccs[0].countsFor(rows[i].key, counts);
    for (const acc of tAccs) acc.add(t, counts);
    for (const acc of bAccs) acc.add(b, counts);
    for (const acc of dAccs) acc.add(paired, counts);
  }
  const { costLower: lo, costUpper: hi } = range;
  return {
    target: resultsOf(estimators, tAccs, lo, hi),
    baseline: resultsOf(estimators, bAccs, lo, hi),
    difference: resultsOf(estimators, dAccs, lo - hi, hi - lo),
  };
}

/** Each accumulator's estimate, clipped to the possible range [lower, upper]. */
function resultsOf<E extends EstimatorName>(estimators: readonly Estimator<E>[], accs: OpeAccumulator[], lower: number, upper: number): OpeResults<E> {
  const out = {} as OpeResults<E>;
  estimators.forEach((e, j) => (out[e.name] = clipEstimate(accs[j].result(), lower, upper)));
  return out;
}

/** Reads and validates the records, scoring each against the target's pmf. */
async function collectRows(
  records: Iterable<JoinedRecord> | AsyncIterable<JoinedRecord>,
  target: TargetPolicy,
  numArmsOption: number | undefined,
  range: Range,
): Promise<{ rows: ScoredRow[]; numArms: number }> {
  const kind = targetKind(target, "target");
  let K = numArmsOption;
  if (K !== undefined && (!Number.isInteger(K) || K < 1)) throw new OpeInputError("numArms", null, `must be a positive integer, got ${K}`);

  const rows: ScoredRow[] = [];
  let dim = -1;
  const consume = (record: JoinedRecord): void => {
    const i = rows.length;
    const r = checkRecord(record, i, dim, range);
    dim = r.observation.length;
    let pmf: ArrayLike<number>;
    if (kind === "model") {
      pmf = predictPmfAt(target as PmfModel, r.observation, i, "target");
    } else if (kind === "pmfs") {
      const pmfs = (target as { pmfs: ArrayLike<ArrayLike<number>> }).pmfs;
      if (i >= pmfs.length) throw new OpeInputError("target.pmfs", null, `has ${pmfs.length} entries but there are more records; give one pmf per record`);
      pmf = pmfs[i];
    } else {
      const actions = (target as { actions: ArrayLike<number> }).actions;
      if (i >= actions.length) throw new OpeInputError("target.actions", null, `has ${actions.length} entries but there are more records; give one action per record`);
      const t = actions[i];
      if (!Number.isInteger(t) || t < 1) throw new OpeInputError("target.actions", i, `must be a 1-based integer action, got ${t}`);
      pmf = [t]; // placeholder: turned into a one-hot pmf once the number of actions is known
    }
    if (kind !== "actions") {
      if (K === undefined) K = pmf.length;
      checkPmf(pmf, K, i, kind === "model" ? "target pmf" : "target.pmfs");
    }
    rows.push({ ...r, pmf, key: rowKey(record, r) });
  };
  // Plain arrays and other sync iterables skip the per-row await of `for await`.
  if (typeof (records as Iterable<JoinedRecord>)[Symbol.iterator] === "function") for (const record of records as Iterable<JoinedRecord>) consume(record);
  else for await (const record of records as AsyncIterable<JoinedRecord>) consume(record);
  if (rows.length === 0) throw new OpeInputError("records", null, "has no rows: there is nothing to evaluate (check the evaluation data path and split)");
  if (kind !== "model") {
    const given = kind === "pmfs" ? (target as { pmfs: ArrayLike<unknown> }).pmfs.length : (target as { actions: ArrayLike<number> }).actions.length;
    if (given !== rows.length) throw new OpeInputError(`target.${kind}`, null, `has ${given} entries but there are ${rows.length} records; give exactly one per record`);
  }
  if (kind === "actions") {
    if (K === undefined) K = rows.reduce((m, r) => Math.max(m, r.action, (r.pmf as number[])[0]), 1);
    for (let i = 0; i < rows.length; i++) {
      const t = (rows[i].pmf as number[])[0];
      if (t > K) throw new OpeInputError("target.actions", i, `is ${t}, outside 1..${K} (numArms)`);
      rows[i].pmf = oneHot(t, K);
    }
  }
  const numArms = K as number;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].action > numArms) throw new OpeInputError("action", i, `is ${rows[i].action}, outside 1..${numArms} (the target policy's number of actions)`);
  }
  return { rows, numArms };
}

/** The baseline policy's pmf on every collected row, validated like the target's. */
function baselinePmfs(baseline: TargetPolicy, rows: ScoredRow[], K: number): ArrayLike<number>[] {
  const kind = targetKind(baseline, "baseline");
  if (kind === "model") {
    return rows.map((r, i) => {
      const pmf = predictPmfAt(baseline as PmfModel, r.observation, i, "baseline");
      checkPmf(pmf, K, i, "baseline pmf");
      return pmf;
    });
  }
  const list = kind === "pmfs" ? (baseline as { pmfs: ArrayLike<ArrayLike<number>> }).pmfs : (baseline as { actions: ArrayLike<number> }).actions;
  if (list.length !== rows.length) throw new OpeInputError(`baseline.${kind}`, null, `has ${list.length} entries but there are ${rows.length} records; give exactly one per record`);
  return rows.map((_r, i) => {
    if (kind === "pmfs") {
      const pmf = (list as ArrayLike<ArrayLike<number>>)[i];
      checkPmf(pmf, K, i, "baseline.pmfs");
      return pmf;
    }
    const t = (list as ArrayLike<number>)[i];
    if (!Number.isInteger(t) || t < 1 || t > K) throw new OpeInputError("baseline.actions", i, `must be a 1-based integer action in 1..${K}, got ${t}`);
    return oneHot(t, K);
  });
}

function oneHot(action: number, K: number): Float64Array {
  const pmf = new Float64Array(K);
  pmf[action - 1] = 1;
  return pmf;
}

/** Cost predictions for DM, DR and SNDR (null when no requested estimator needs them). */
function costPredictions(rows: ScoredRow[], numArms: number, estimators: readonly Estimator[], options: EvaluatePolicyOptions<EstimatorName>, seed: number | string): ArrayLike<number>[] | null {
  if (!estimators.some((e) => e.needsCostModel)) return null;
  if (options.rewardModel) return rows.map((r, i) => predictCostsAt(options.rewardModel as CostModel, r.observation, numArms, i));
  return crossFitCostPredictions(rows, { numArms, ...options.ridge, repeats: options.ridge?.repeats ?? DEFAULT_FOLD_REPEATS, keys: rows.map((r) => r.key), seed });
}

export interface EvaluateModelOptions extends Omit<EvaluatePolicyOptions, "estimators"> {
  /** The estimator to run (default DR, as in the original). */
  estimator?: Estimator<EstimatorName>;
}

/**
 * The evaluation job's call: one estimate (DR by default) of a model's average cost on logged
 * records, using the model's full pmf. Same errors as evaluatePolicy.
 */
export async function evaluateModelOnRecords(
  learnerLike: PmfModel,
  records: Iterable<JoinedRecord> | AsyncIterable<JoinedRecord>,
  options: EvaluateModelOptions = {},
): Promise<OpeEstimate> {
  const estimator = options.estimator ?? DEFAULT_ESTIMATOR;
  const { estimator: _omit, ...rest } = options;
  const results = await evaluatePolicy(records, learnerLike, { ...rest, estimators: [estimator] });
  return results[estimator.name];
}

export interface PolicyEvaluationStreamOptions<E extends EstimatorName = "ips" | "snips"> extends AccumulatorOptions, RewardRange {
  /** Default: the estimators without a cost model (IPS, SNIPS), every estimator when a rewardModel is given. */
  estimators?: readonly Estimator<E>[];
  /** Used for rows added without an explicit pmf. */
  target?: PmfModel;
  /** Required by dm, dr and sndr: streaming can not cross-fit, so the model must come from elsewhere (e.g. fitted on earlier data). */
  rewardModel?: CostModel;
}

/**
 * Streaming evaluation of joined records, for dashboards that update per batch and workers that
 * aggregate: `add(record)` per row, `merge(other)` across workers, `result()` at any time.
 * Rows are keyed by their content for the bootstrap, so merging partial streams equals one pass.
 * Without `estimators` it runs ips and snips (all five with a rewardModel, though the type then
 * only promises the two: pass `estimators` to have every key typed).
 */
export class PolicyEvaluationStream<E extends EstimatorName = "ips" | "snips"> {
  readonly estimators: readonly Estimator<E>[];
  private readonly accs: OpeAccumulator[];
  private readonly target?: PmfModel;
  private readonly rewardModel?: CostModel;
  private numArms: number | undefined;
  private dim = -1;
  private readonly counts: Uint8Array;
  private readonly range: Range;

  constructor(options: PolicyEvaluationStreamOptions<E> = {}) {
    const defaults = (options.rewardModel ? ESTIMATORS : ESTIMATORS.filter((e) => !e.needsCostModel)) as readonly Estimator[] as readonly Estimator<E>[];
    this.estimators = resolveEstimators(options.estimators ?? defaults);
    for (const e of this.estimators) {
      if (e.needsCostModel && !options.rewardModel) {
        throw new OpeInputError("rewardModel", null, `is required by the ${e.name} estimator when streaming (the default cross-fitted model needs every row first: use evaluatePolicy, or fit a RidgeCostModel on earlier data)`);
      }
    }
    const accOptions = resolveAccumulatorOptions(options);
    this.accs = this.estimators.map((e) => new OpeAccumulator(e, accOptions));
    this.counts = new Uint8Array(accOptions.bootstrapSamples);
    this.target = options.target;
    this.rewardModel = options.rewardModel;
    this.range = rangeOf(options);
  }

  /** Rows added so far (including merged ones). */
  get n(): number {
    return this.accs[0].n;
  }

  /** Adds one record, scored with `pmf` if given, else with the target model's pmf. */
  add(record: JoinedRecord, pmf?: ArrayLike<number>): this {
    const i = this.n;
    const r = checkRecord(record, i, this.dim, this.range);
    this.dim = r.observation.length;
    let p = pmf;
    if (p === undefined) {
      if (!this.target) throw new OpeInputError("pmf", i, "is missing and the stream has no target model; pass the target's pmf or set options.target");
      p = predictPmfAt(this.target, r.observation, i);
    }
    if (this.numArms === undefined) this.numArms = p.length;
    checkPmf(p, this.numArms, i, pmf === undefined ? "target pmf" : "pmf");
    if (r.action > this.numArms) throw new OpeInputError("action", i, `is ${r.action}, outside 1..${this.numArms} (the target policy's number of actions)`);
    const costs = this.rewardModel ? predictCostsAt(this.rewardModel, r.observation, this.numArms, i) : null;
    const s = toSample({ ...r, pmf: p, key: rowKey(record, r) }, p, costs);
    if (this.counts.length > 0) this.accs[0].countsFor(s.key as number, this.counts);
    for (const acc of this.accs) acc.add(s, this.counts);
    return this;
  }

  /** Adds every record of a (sync or async) iterable. */
  async addAll(records: Iterable<JoinedRecord> | AsyncIterable<JoinedRecord>): Promise<this> {
    for await (const r of records as AsyncIterable<JoinedRecord>) this.add(r);
    return this;
  }

  /** Adds the rows of another stream built with the same options. */
  merge(other: PolicyEvaluationStream<E>): this {
    if (other.estimators.map((e) => e.name).join() !== this.estimators.map((e) => e.name).join()) throw new OpeInputError("other", null, "runs other estimators; merge streams built with the same options");
    this.accs.forEach((a, j) => a.merge(other.accs[j]));
    return this;
  }

  /** The estimates so far (values NaN before the first row), clipped to the possible costs. */
  result(): OpeResults<E> {
    return resultsOf(this.estimators, this.accs, this.range.costLower, this.range.costUpper);
  }
}

/** The estimators to run (default: every one), checked and without repeats. */
function resolveEstimators<E extends EstimatorName>(list: readonly Estimator<E>[] | undefined): Estimator<E>[] {
  const choices = ESTIMATORS.map((e) => e.name.toUpperCase()).join(", ");
  const estimators = (list ?? (ESTIMATORS as readonly Estimator[] as readonly Estimator<E>[])).slice();
  if (estimators.length === 0) throw new OpeInputError("estimators", null, `is empty; pass at least one of ${choices}`);
  for (const e of estimators) {
    if (isEstimator(e)) continue;
    const named = typeof e === "string" ? `the name ${JSON.stringify(e)}${didYouMean(e, ESTIMATOR_NAMES)}` : JSON.stringify(e);
    throw new OpeInputError("estimators", null, `contains ${named}; pass the registry's estimator objects (${choices}), and resolve a name from a config or command line with estimatorNamed()`);
  }
  return estimators.filter((e, i) => estimators.indexOf(e) === i);
}

function targetKind(target: TargetPolicy, label: "target" | "baseline"): "model" | "pmfs" | "actions" {
  if (target && typeof (target as PmfModel).predictPmf === "function") return "model";
  if (target && (target as { pmfs?: unknown }).pmfs !== undefined) return "pmfs";
  if (target && (target as { actions?: unknown }).actions !== undefined) return "actions";
  throw new OpeInputError(label, null, "must be a model with predictPmf(context), { pmfs: [...] } or { actions: [...] }");
}

/** Validates a joined record's fields used by OPE; returns them with the cost. */
function checkRecord(record: JoinedRecord, i: number, dim: number, range: Range): { observation: number[]; action: number; cost: number; propensity: number } {
  if (record === null || typeof record !== "object") throw new OpeInputError("record", i, `must be an object, got ${record}`);
  const { reward, action, action_prob: p, observation } = record;
  if (typeof reward !== "number" || !Number.isFinite(reward)) throw new OpeInputError("reward", i, `must be a finite number, got ${reward}`);
  const outside = rewardProblem(reward, range);
  if (outside !== null) throw new OpeInputError("reward", i, `${outside}${record.event_id !== undefined ? ` (event_id ${String(record.event_id)})` : ""}`);
  if (typeof action !== "number" || !Number.isInteger(action) || action < 1) throw new OpeInputError("action", i, `must be a 1-based integer action, got ${action}`);
  if (typeof p !== "number" || !Number.isFinite(p) || p <= 0 || p > 1) {
    throw new OpeInputError("action_prob", i, `must be in (0, 1], got ${p}; it is the probability the logging policy chose the action with`);
  }
  if (!Array.isArray(observation)) throw new OpeInputError("observation", i, `must be an array of numbers, got ${typeof observation}`);
  for (let j = 0; j < observation.length; j++) {
    const v = observation[j];
    if (typeof v !== "number" || !Number.isFinite(v)) throw new OpeInputError(`observation[${j}]`, i, `must be a finite number, got ${v}`);
  }
  if (dim >= 0 && observation.length !== dim) throw new OpeInputError("observation", i, `has ${observation.length} features; earlier rows have ${dim}`);
  return { observation, action, cost: costOfReward(reward), propensity: p };
}

function checkPmf(pmf: ArrayLike<number>, K: number, i: number, field: string): void {
  if (pmf === null || typeof pmf !== "object" || typeof pmf.length !== "number") throw new OpeInputError(field, i, "must be an array of probabilities, one per action");
  if (pmf.length !== K) throw new OpeInputError(field, i, `has ${pmf.length} entries; expected ${K} (one per action)`);
  let sum = 0;
  for (let a = 0; a < K; a++) {
    const v = pmf[a];
    // A hair below 0 is float rounding in the policy's arithmetic (clamped when scoring), not an error.
    if (typeof v !== "number" || !Number.isFinite(v) || v < -1e-12 || v > 1 + PMF_SUM_TOLERANCE) {
      throw new OpeInputError(`${field}[${a}]`, i, `must be a probability in [0, 1], got ${v}`);
    }
    sum += v;
  }
  if (Math.abs(sum - 1) > PMF_SUM_TOLERANCE) throw new OpeInputError(field, i, `sums to ${sum}, not 1 (±${PMF_SUM_TOLERANCE}); normalise the policy's probabilities`);
}

function predictPmfAt(model: PmfModel, observation: number[], i: number, label = "target"): ArrayLike<number> {
  try {
    // A copy: a model may hand back the same buffer on every call.
    return Float64Array.from(model.predictPmf(observation));
  } catch (e) {
    throw new OpeInputError(`${label}.predictPmf`, i, `failed on this row's observation: ${(e as Error).message}`);
  }
}

function predictCostsAt(model: CostModel, observation: number[], K: number, i: number): ArrayLike<number> {
  let c: ArrayLike<number>;
  try {
    c = model.predictCosts(observation);
  } catch (e) {
    throw new OpeInputError("rewardModel.predictCosts", i, `failed on this row's observation: ${(e as Error).message}`);
  }
  if (!c || c.length !== K) throw new OpeInputError("rewardModel.predictCosts", i, `returned ${c?.length} costs; expected ${K} (one per action)`);
  for (let a = 0; a < K; a++) if (!Number.isFinite(c[a])) throw new OpeInputError(`rewardModel.predictCosts[${a}]`, i, `must be a finite cost, got ${c[a]}`);
  return c;
}

/**
 * The bootstrap/fold key of a row: a 32-bit hash of its full content (event id, action,
 * propensity, cost, observation), so the same row gets the same key in any process or split.
 */
function rowKey(record: JoinedRecord, r: { observation: number[]; action: number; cost: number; propensity: number }): number {
  return keyOfRow(String(record.event_id), r.action, r.propensity, r.cost, r.observation, 0, r.observation.length);
}

/** The key of a row from its event id, action, propensity, cost and observation obs[from, to). */
function keyOfRow(eventId: string, action: number, propensity: number, cost: number, obs: ArrayLike<number>, from: number, to: number): number {
  let h = hash32(eventId, 0x0e7a1);
  h = mixNumber(h, action);
  h = mixNumber(h, propensity);
  h = mixNumber(h, cost);
  for (let j = from; j < to; j++) h = mixNumber(h, obs[j]);
  return fmix32(h);
}

function toSample(r: ScoredRow, pmf: ArrayLike<number>, costs: ArrayLike<number> | null): OpeSample {
  const s: OpeSample = { cost: r.cost, propensity: r.propensity, targetProb: Math.min(1, Math.max(0, pmf[r.action - 1])), key: r.key };
  if (costs) {
    let direct = 0;
    for (let a = 0; a < pmf.length; a++) direct += pmf[a] * costs[a];
    s.directCost = direct;
    s.predictedCost = costs[r.action - 1];
  }
  return s;
}
