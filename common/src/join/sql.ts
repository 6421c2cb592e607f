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
 * - Split: `sample_prob <= ratio` -> train, else eval; the endpoint writes sample_prob as the hash of
 *   the event id (`splitValueOf`), so the split is deterministic; the ratio follows data/split.ts's
 *   rule (strictly between 0 and 1).
 */
import { checkSplitRatio } from "../data/split";

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
}

/** A finite number as an SQL literal (the only values inlined into the text; ids never are). */
export function sqlNumber(x: number, what: string): string {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new RangeError(`${what} must be a finite number, got ${x}`);
  const s = String(x);
  return s.includes("e") || s.includes(".") ? s : `${s}.0`;
}

export function checkOptions(o: JoinSqlOptions): void {
  checkSplitRatio(o.ratio);
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
 * One row of counts from the windowed decisions `dIn`, de-duplicated `d`, raw rewards `rIn`
 * and de-duplicated `r` (relation names): decisions, duplicate_decisions, rewards,
 * duplicate_rewards, unmatched_rewards, missing_rewards.
 */
export function countsFromSql(dIn: string, d: string, rIn: string, r: string): string {
  return `SELECT
  (SELECT COUNT(*) FROM ${dIn}) AS decisions,
  (SELECT COUNT(*) FROM ${dIn}) - (SELECT COUNT(*) FROM ${d}) AS duplicate_decisions,
  (SELECT COUNT(*) FROM ${rIn}) AS rewards,
  (SELECT COUNT(*) FROM ${rIn}) - (SELECT COUNT(*) FROM ${r}) AS duplicate_rewards,
  (SELECT COUNT(*) FROM ${r} ru LEFT JOIN ${d} du ON ru.event_id = du.event_id WHERE du.event_id IS NULL) AS unmatched_rewards,
  (SELECT COUNT(*) FROM ${d} dm LEFT JOIN ${r} rm ON dm.event_id = rm.event_id WHERE rm.event_id IS NULL) AS missing_rewards`;
}

/** The common table expressions: windowed `d_in`, de-duplicated decisions `d` and rewards `r`. */
function ctes(o: JoinSqlOptions): string {
  return `WITH d_in AS (
  ${windowedDecisionsSql(o)}
), d AS (
  ${dedupDecisionsSql("d_in")}
), r AS (
  ${dedupRewardsSql(o.rewards)}
)`;
}

/**
 * The joined rows as one statement (for Athena): columns JOINED_OUTPUT_COLUMNS plus `split`
 * ('train'|'eval') and "timestamp", one row per decision that joins.
 */
export function joinedRowsSql(o: JoinSqlOptions): string {
  checkOptions(o);
  return `${ctes(o)}
${joinDedupedSql("d", "r", o)}`;
}

/** The counts as one statement (for Athena). */
export function joinCountsSql(o: JoinSqlOptions): string {
  checkOptions(o);
  return `${ctes(o)}
${countsFromSql("d_in", "d", o.rewards, "r")}`;
}

/**
 * The same join as a sequence of statements that materialise each step once (for an engine with
 * temporary tables, like DuckDB): run them in order, then read `joined` and `counts`. The
 * de-duplication steps are skipped (replaced by views of the input) when the caller has counted
 * no duplicate ids — same result, without sorting every row.
 */
export function stagedJoinStatements(o: JoinSqlOptions, duplicates: { decisions: boolean; rewards: boolean } = { decisions: true, rewards: true }): string[] {
  checkOptions(o);
  return [
    duplicates.decisions
      ? `CREATE TEMP TABLE d AS ${dedupDecisionsSql("d_in")}`
      : `CREATE TEMP VIEW d AS SELECT event_id, action, action_prob, model_id, observation, sample_prob, "timestamp" FROM d_in`,
    duplicates.rewards ? `CREATE TEMP TABLE r AS ${dedupRewardsSql(o.rewards)}` : `CREATE TEMP VIEW r AS SELECT event_id, reward FROM ${o.rewards}`,
    `CREATE TEMP TABLE joined AS ${joinDedupedSql("d", "r", o)}`,
    `CREATE TEMP TABLE counts AS ${countsFromSql("d_in", "d", o.rewards, "r")}`,
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
