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
 *   the event id (`splitValueOf`), so the split is deterministic.
 */

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

function checkOptions(o: JoinSqlOptions): void {
  if (!(o.ratio >= 0 && o.ratio <= 1)) throw new RangeError(`ratio must be in [0, 1], got ${o.ratio}`);
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

/** The common table expressions: windowed, de-duplicated decisions `d` and rewards `r`. */
function ctes(o: JoinSqlOptions): string {
  const where = o.window
    ? `WHERE "timestamp" >= ${sqlNumber(o.window.start, "window start")} AND "timestamp" <= ${sqlNumber(o.window.end, "window end")}`
    : "";
  return `WITH d_in AS (
  SELECT event_id, action, action_prob, model_id, observation, sample_prob, "timestamp", source
  FROM ${o.decisions} ${where}
), d_ranked AS (
  SELECT d_in.*, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY "timestamp" ASC, source ASC) AS rn FROM d_in
), d AS (
  SELECT event_id, action, action_prob, model_id, observation, sample_prob, "timestamp" FROM d_ranked WHERE rn = 1
), r_ranked AS (
  SELECT event_id, reward,
         ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY "timestamp" ASC NULLS LAST, source ASC, reward ASC) AS rn
  FROM ${o.rewards}
), r AS (
  SELECT event_id, reward FROM r_ranked WHERE rn = 1
)`;
}

/**
 * The joined rows, columns JOINED_OUTPUT_COLUMNS plus `split` ('train'|'eval') and "timestamp"
 * (for ordering), one row per decision that joins.
 */
export function joinedRowsSql(o: JoinSqlOptions): string {
  checkOptions(o);
  const withDefault = o.defaultReward != null;
  const reward = withDefault ? `COALESCE(r.reward, ${sqlNumber(o.defaultReward as number, "default reward")})` : "r.reward";
  return `${ctes(o)}
SELECT CAST(${reward} AS DOUBLE) AS reward, d.event_id, d.action, d.action_prob, d.model_id, d.observation, d.sample_prob,
       CASE WHEN d.sample_prob <= ${sqlNumber(o.ratio, "ratio")} THEN 'train' ELSE 'eval' END AS split, d."timestamp"
FROM d ${withDefault ? "LEFT" : "INNER"} JOIN r ON d.event_id = r.event_id`;
}

/** One row of counts: decisions, duplicate_decisions, rewards, duplicate_rewards, unmatched_rewards, missing_rewards. */
export function joinCountsSql(o: JoinSqlOptions): string {
  checkOptions(o);
  return `${ctes(o)}
SELECT
  (SELECT COUNT(*) FROM d_in) AS decisions,
  (SELECT COUNT(*) FROM d_in) - (SELECT COUNT(*) FROM d) AS duplicate_decisions,
  (SELECT COUNT(*) FROM r_ranked) AS rewards,
  (SELECT COUNT(*) FROM r_ranked) - (SELECT COUNT(*) FROM r) AS duplicate_rewards,
  (SELECT COUNT(*) FROM r LEFT JOIN d ON r.event_id = d.event_id WHERE d.event_id IS NULL) AS unmatched_rewards,
  (SELECT COUNT(*) FROM d LEFT JOIN r ON d.event_id = r.event_id WHERE r.event_id IS NULL) AS missing_rewards`;
}
