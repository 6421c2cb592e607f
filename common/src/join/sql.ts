/**
 * The join of decisions with rewards, written once as SQL that both engines run: DuckDB in local
 * mode and Athena (Trino) in SageMaker mode. Only portable constructs are used (CTEs, ROW_NUMBER
 * windows, LEFT/INNER JOIN, COALESCE, CASE, double-quoted identifiers); each engine supplies the two
 * input relations under the names it likes (`decisions`, `rewards` options), with these columns:
 *
 *   decisions: event_id VARCHAR, action INTEGER, action_prob DOUBLE, model_id VARCHAR,
 *              observation VARCHAR (JSON array text), sample_prob DOUBLE, "timestamp" DOUBLE
 *              (epoch seconds), source VARCHAR (file the row came from)
 *   rewards:   event_id VARCHAR, reward DOUBLE, "timestamp" DOUBLE (nullable), source VARCHAR
 *
 * Rules (stated on every join record):
 * - Duplicate decisions (same event id logged twice): the earliest (timestamp, then source) is kept.
 * - Duplicate rewards: DUPLICATE_REWARD_RULE.
 * - Observation window: only decisions with start <= timestamp <= end (epoch seconds) join.
 * - Decisions without a reward: left out (INNER JOIN), or given `defaultReward` (LEFT JOIN); the
 *   default is only accepted together with a window, otherwise every historic decision would get it.
 * - Rewards whose event has no decision (in the window) are counted as unmatched and left out.
 * - Invalid rewards are left out and counted before anything else: a reward
 *   that is not a number inside the reward range (NULL, NaN, ±Infinity, text, 7 for [0, 1], an
 *   unreadable line), or whose timestamp lies outside the sane window of event times (data/time.ts).
 * - A decision joins once per experiment: decisions whose event id is in the
 *   `joinedIds` relation (the ids of the experiment's earlier successful joins) are left out and
 *   the rows they would have given are counted as already joined, so re-running a join never
 *   duplicates training or holdout data.
 * - Split: `sample_prob <= ratio` -> train, else eval; the endpoint writes sample_prob as the hash of
 *   the event id (`splitValueOf`), so the split is deterministic; the ratio follows data/split.ts's
 *   rule (strictly between 0 and 1).
 */
import { DEFAULT_REWARD_RANGE, rewardRangeOf, type RewardBounds } from "../data/rewards";
import { checkSplitRatio } from "../data/split";
import { eventTimeWindow } from "../data/time";

export const DUPLICATE_REWARD_RULE =
  "earliest reward per event wins (smallest timestamp; rewards without one count as latest; ties: file name, then lower reward)";
export const DUPLICATE_DECISION_RULE = "earliest decision per event id is kept (smallest timestamp; ties: file name)";

/** Output columns of the joined files, in the original's order. */
export const JOINED_OUTPUT_COLUMNS = ["reward", "event_id", "action", "action_prob", "model_id", "observation", "sample_prob"] as const;

export interface JoinSqlOptions {
  /** Relation (table name or parenthesised subquery) of decisions. */
  decisions: string;
  /** Relation of rewards. */
  rewards: string;
  ratio: number;
  /** Epoch seconds, inclusive. */
  window?: { start: number; end: number };
  /** null/undefined: decisions without a reward are left out. */
  defaultReward?: number | null;
  /** The possible rewards; others are invalid (default: data/rewards.ts's default range). */
  rewardRange?: RewardBounds;
  /**
   * Epoch seconds a reward timestamp must lie in (default: data/time.ts's window at the time of
   * the call; an engine that builds several statements resolves it once and passes it to each).
   */
  rewardTimes?: { earliest: number; latest: number };
  /** Relation (column event_id) of the event ids earlier joins already joined; none: nothing was joined before. */
  joinedIds?: string;
}

/** The checked reward range and timestamp window of a join (defaults applied). */
function rewardRules(o: JoinSqlOptions): { range: RewardBounds; times: { earliest: number; latest: number } } {
  const range = rewardRangeOf(o.rewardRange ?? DEFAULT_REWARD_RANGE);
  const times = o.rewardTimes ?? eventTimeWindow();
  if (!(times.earliest <= times.latest)) throw new RangeError(`reward time window ${times.earliest} .. ${times.latest} is empty`);
  return { range, times };
}

/** 1 when a reward row's value is a number in the range, else 0 (NULL, NaN, ±Infinity, out of range; NaN compares false in Trino and above every number in DuckDB). */
function validRewardValueSql(o: JoinSqlOptions): string {
  const { range } = rewardRules(o);
  return `CASE WHEN event_id IS NOT NULL AND reward >= ${sqlNumber(range.minReward, "min_reward")} AND reward <= ${sqlNumber(range.maxReward, "max_reward")} THEN 1 ELSE 0 END`;
}

/** 1 when a reward row's timestamp is absent or inside the window, else 0. */
function validRewardTimeSql(o: JoinSqlOptions): string {
  const { times } = rewardRules(o);
  return `CASE WHEN "timestamp" IS NULL OR ("timestamp" >= ${sqlNumber(times.earliest, "earliest reward time")} AND "timestamp" <= ${sqlNumber(times.latest, "latest reward time")}) THEN 1 ELSE 0 END`;
}

/** The valid rewards of the input relation (same columns). */
export function validRewardsSql(o: JoinSqlOptions): string {
  return `SELECT event_id, reward, "timestamp", source FROM ${o.rewards} WHERE ${validRewardValueSql(o)} = 1 AND ${validRewardTimeSql(o)} = 1`;
}

/** The ids of `joinedIds` as a subquery for IN / NOT IN (NULLs removed: NOT IN with a NULL matches nothing). */
function joinedIdsSubquery(o: JoinSqlOptions): string {
  return `(SELECT event_id FROM ${o.joinedIds} WHERE event_id IS NOT NULL)`;
}

/** De-duplicated decisions `d` not joined before (all of `d` when there is no `joinedIds`). */
function newDecisionsSql(d: string, o: JoinSqlOptions): string {
  return o.joinedIds ? `SELECT * FROM ${d} WHERE event_id NOT IN ${joinedIdsSubquery(o)}` : `SELECT * FROM ${d}`;
}

/** De-duplicated decisions `d` joined before (none when there is no `joinedIds`). */
function oldDecisionsSql(d: string, o: JoinSqlOptions): string {
  return o.joinedIds ? `SELECT * FROM ${d} WHERE event_id IN ${joinedIdsSubquery(o)}` : `SELECT * FROM ${d} WHERE 1 = 0`;
}

/** A finite number as an SQL literal (the only values inlined into the text; ids never are). */
export function sqlNumber(x: number, what: string): string {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new RangeError(`${what} must be a finite number, got ${x}`);
  const s = String(x);
  return s.includes("e") || s.includes(".") ? s : `${s}.0`;
}

export function checkOptions(o: JoinSqlOptions): void {
  checkSplitRatio(o.ratio);
  rewardRules(o);
  if (o.window && !(o.window.start <= o.window.end)) {
    throw new RangeError(`observation window start (${o.window.start}) must not be after its end (${o.window.end})`);
  }
  if (o.defaultReward != null && !o.window) {
    throw new Error(
      "a default reward for decisions without a reward needs an observation window (obsTimeWindow); " +
        "without one every historic decision would be joined with the default",
    );
  }
}

function windowWhere(o: Pick<JoinSqlOptions, "window">): string {
  return o.window
    ? `WHERE "timestamp" >= ${sqlNumber(o.window.start, "window start")} AND "timestamp" <= ${sqlNumber(o.window.end, "window end")}`
    : "";
}

/** Decisions inside the window (all columns the join needs plus source). */
export function windowedDecisionsSql(o: Pick<JoinSqlOptions, "decisions" | "window">): string {
  return `SELECT event_id, action, action_prob, model_id, observation, sample_prob, "timestamp", source FROM ${o.decisions} ${windowWhere(o)}`;
}

/** One decision per event id: the earliest (DUPLICATE_DECISION_RULE). `input` = windowed decisions. */
export function dedupDecisionsSql(input: string): string {
  return `SELECT event_id, action, action_prob, model_id, observation, sample_prob, "timestamp" FROM (
  SELECT x.*, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY "timestamp" ASC, source ASC) AS rn FROM ${input} x
) ranked WHERE rn = 1`;
}

/** One reward per event id (DUPLICATE_REWARD_RULE). */
export function dedupRewardsSql(rewards: string): string {
  return `SELECT event_id, reward FROM (
  SELECT x.event_id, x.reward,
         ROW_NUMBER() OVER (PARTITION BY x.event_id ORDER BY x."timestamp" ASC NULLS LAST, x.source ASC, x.reward ASC) AS rn
  FROM ${rewards} x
) ranked WHERE rn = 1`;
}

/**
 * The joined rows of de-duplicated decisions `d` and rewards `r` (relation names): columns
 * JOINED_OUTPUT_COLUMNS plus `split` ('train'|'eval') and "timestamp".
 */
export function joinDedupedSql(d: string, r: string, o: Pick<JoinSqlOptions, "ratio" | "defaultReward">): string {
  const withDefault = o.defaultReward != null;
  const reward = withDefault ? `COALESCE(rw.reward, ${sqlNumber(o.defaultReward as number, "default reward")})` : "rw.reward";
  return `SELECT CAST(${reward} AS DOUBLE) AS reward, dc.event_id, dc.action, dc.action_prob, dc.model_id, dc.observation, dc.sample_prob,
       CASE WHEN dc.sample_prob <= ${sqlNumber(o.ratio, "ratio")} THEN 'train' ELSE 'eval' END AS split, dc."timestamp"
FROM ${d} dc ${withDefault ? "LEFT" : "INNER"} JOIN ${r} rw ON dc.event_id = rw.event_id`;
}

/**
 * One row of counts from the windowed decisions `dIn`, de-duplicated `d`, de-duplicated decisions
 * not joined before `dNew`, raw rewards `rIn`, valid rewards `rOk` and de-duplicated `r` (relation
 * names): decisions, duplicate_decisions, rewards, invalid_rewards, invalid_reward_times,
 * duplicate_rewards, unmatched_rewards, already_joined, missing_rewards.
 */
export function countsFromSql(rel: { dIn: string; d: string; dNew: string; rIn: string; rOk: string; r: string }, o: JoinSqlOptions): string {
  const { dIn, d, dNew, rIn, rOk, r } = rel;
  return `SELECT
  (SELECT COUNT(*) FROM ${dIn}) AS decisions,
  (SELECT COUNT(*) FROM ${dIn}) - (SELECT COUNT(*) FROM ${d}) AS duplicate_decisions,
  (SELECT COUNT(*) FROM ${rIn}) AS rewards,
  (SELECT COUNT(*) FROM ${rIn} WHERE ${validRewardValueSql(o)} = 0) AS invalid_rewards,
  (SELECT COUNT(*) FROM ${rIn} WHERE ${validRewardValueSql(o)} = 1 AND ${validRewardTimeSql(o)} = 0) AS invalid_reward_times,
  (SELECT COUNT(*) FROM ${rOk}) - (SELECT COUNT(*) FROM ${r}) AS duplicate_rewards,
  (SELECT COUNT(*) FROM ${r} ru LEFT JOIN ${d} du ON ru.event_id = du.event_id WHERE du.event_id IS NULL) AS unmatched_rewards,
  (SELECT COUNT(*) FROM (${joinDedupedSql(`(${oldDecisionsSql(d, o)})`, r, o)}) aj) AS already_joined,
  (SELECT COUNT(*) FROM ${dNew} dm LEFT JOIN ${r} rm ON dm.event_id = rm.event_id WHERE rm.event_id IS NULL) AS missing_rewards`;
}

/**
 * The common table expressions: windowed `d_in`, de-duplicated decisions `d`, those not joined
 * before `d_new`, valid rewards `r_ok` and de-duplicated rewards `r`.
 */
function ctes(o: JoinSqlOptions): string {
  return `WITH d_in AS (
  ${windowedDecisionsSql(o)}
), d AS (
  ${dedupDecisionsSql("d_in")}
), d_new AS (
  ${newDecisionsSql("d", o)}
), r_ok AS (
  ${validRewardsSql(o)}
), r AS (
  ${dedupRewardsSql("r_ok")}
)`;
}

const CTE_RELATIONS = { dIn: "d_in", d: "d", dNew: "d_new", rIn: "", rOk: "r_ok", r: "r" };

/**
 * The joined rows as one statement (for Athena): columns JOINED_OUTPUT_COLUMNS plus `split`
 * ('train'|'eval') and "timestamp", one row per decision that joins.
 */
export function joinedRowsSql(o: JoinSqlOptions): string {
  checkOptions(o);
  return `${ctes(o)}
${joinDedupedSql("d_new", "r", o)}`;
}

/** The counts as one statement (for Athena). */
export function joinCountsSql(o: JoinSqlOptions): string {
  checkOptions(o);
  return `${ctes(o)}
${countsFromSql({ ...CTE_RELATIONS, rIn: o.rewards }, o)}`;
}

/**
 * The same join as a sequence of statements that materialise each step once (for an engine with
 * temporary tables, like DuckDB): run them in order, then read `joined` and `counts`. The
 * de-duplication steps are skipped (replaced by views of the input) when the caller has counted
 * no duplicate ids (among the decisions of the window, among the valid rewards) — same result,
 * without sorting every row.
 */
export function stagedJoinStatements(o: JoinSqlOptions, duplicates: { decisions: boolean; rewards: boolean } = { decisions: true, rewards: true }): string[] {
  checkOptions(o);
  return [
    duplicates.decisions
      ? `CREATE TEMP TABLE d AS ${dedupDecisionsSql("d_in")}`
      : `CREATE TEMP VIEW d AS SELECT event_id, action, action_prob, model_id, observation, sample_prob, "timestamp" FROM d_in`,
    `CREATE TEMP VIEW d_new AS ${newDecisionsSql("d", o)}`,
    `CREATE TEMP VIEW r_ok AS ${validRewardsSql(o)}`,
    duplicates.rewards ? `CREATE TEMP TABLE r AS ${dedupRewardsSql("r_ok")}` : `CREATE TEMP VIEW r AS SELECT event_id, reward FROM r_ok`,
    `CREATE TEMP TABLE joined AS ${joinDedupedSql("d_new", "r", o)}`,
    `CREATE TEMP TABLE counts AS ${countsFromSql({ ...CTE_RELATIONS, rIn: o.rewards }, o)}`,
  ];
}

/** The statement that defines the windowed decisions `d_in` (a view), run before the others. */
export function windowedDecisionsViewSql(o: JoinSqlOptions): string {
  checkOptions(o);
  return `CREATE TEMP VIEW d_in AS ${windowedDecisionsSql(o)}`;
}

/** Counts ids that occur more than once in a relation: `SELECT ... AS duplicates`. */
export function duplicateIdsSql(relation: string): string {
  return `SELECT COUNT(*) - COUNT(DISTINCT event_id) AS duplicates FROM ${relation}`;
}
