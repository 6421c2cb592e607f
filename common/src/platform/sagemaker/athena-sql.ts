/**
 * The Athena side of the join: table definitions over the data-capture decision log and the
 * rewards files, and the two input relations the shared join SQL (`common/src/join/sql.ts`)
 * expects. The join logic itself (dedupe, window, missing rewards, hash split) is that shared SQL,
 * word for word, so Athena and local DuckDB compute the same rows.
 *
 * Only Trino functions are used here; the tests run the very same text on DuckDB after defining
 * macros of the same names (`DUCKDB_TRINO_SHIMS`).
 */
import { JOINED_OUTPUT_COLUMNS, joinCountsSql, joinedRowsSql, type JoinSqlOptions } from "../../join/sql";
import { hash32 } from "../../util/random";

/** A value as a single-quoted SQL string literal. */
export function sqlString(value: string): string {
  if (/[\u0000-\u001f]/.test(value)) throw new Error(`refusing a control character in an SQL literal: ${JSON.stringify(value)}`);
  return `'${value.replace(/'/g, "''")}'`;
}

const IDENT = /^[a-z][a-z0-9_]{0,127}$/;

/** A Glue/Athena name: lower-case letters, digits and underscores. */
export function athenaIdentifier(name: string, what: string): string {
  if (!IDENT.test(name)) throw new Error(`${what} '${name}' must be lower-case letters, digits and '_' (starting with a letter)`);
  return name;
}

/**
 * The experiment's table names. Experiment ids may hold '-' and upper case, which Glue does not
 * take; a hash of the exact id keeps two ids that map to the same text apart.
 */
export function athenaTableNames(experimentId: string): { decisions: string; rewards: string; joinedIds: string } {
  const base = experimentId.toLowerCase().replace(/[^a-z0-9]+/g, "_").slice(0, 80);
  const tag = hash32(experimentId, 0).toString(16).padStart(8, "0");
  return { decisions: `cbkit_decisions_${base}_${tag}`, rewards: `cbkit_rewards_${base}_${tag}`, joinedIds: `cbkit_joined_ids_${base}_${tag}` };
}

/** `s3://b/k` (no trailing slash) -> `s3://b/k/`. */
const folder = (uri: string) => (uri.endsWith("/") ? uri : `${uri}/`);

/** The hour folder SageMaker's data capture writes into, `yyyy/MM/dd/HH` (UTC). */
export function captureHour(date: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${date.getUTCFullYear()}/${p(date.getUTCMonth() + 1)}/${p(date.getUTCDate())}/${p(date.getUTCHours())}`;
}

export function createDatabaseSql(database: string): string {
  return `CREATE DATABASE IF NOT EXISTS \`${athenaIdentifier(database, "sagemaker.athena_database")}\``;
}

/**
 * The decision-log table over SageMaker data capture: files
 * `{capturePrefix}/{endpoint}/{variant}/yyyy/MM/dd/HH/*.jsonl`, one JSON object per request with
 * the request and response bodies as text. Partition projection on the hour folder lets a windowed
 * join read only the hours it needs (no ADD PARTITION, no Glue partition permissions).
 */
export function createDecisionsTableSql(o: {
  database: string;
  table: string;
  /** `s3://bucket/{exp}/inference_data/{endpoint}/{variant}` */
  captureLocation: string;
  /** First hour with data, `yyyy/MM/dd/HH`. */
  firstHour: string;
}): string {
  if (!/^\d{4}\/\d{2}\/\d{2}\/\d{2}$/.test(o.firstHour)) throw new Error(`firstHour must be yyyy/MM/dd/HH, got ${o.firstHour}`);
  const body = "struct<observedcontenttype:string,mode:string,data:string,encoding:string>";
  const location = folder(o.captureLocation);
  return `CREATE EXTERNAL TABLE IF NOT EXISTS \`${athenaIdentifier(o.database, "database")}\`.\`${athenaIdentifier(o.table, "table")}\` (
  \`capturedata\` struct<endpointinput:${body},endpointoutput:${body}>,
  \`eventmetadata\` struct<eventid:string,inferenceid:string,inferencetime:string>,
  \`eventversion\` string
)
PARTITIONED BY (\`dt\` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
LOCATION ${sqlString(location)}
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy/MM/dd/HH',
  'projection.dt.range' = ${sqlString(`${o.firstHour},NOW`)},
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'HOURS',
  'storage.location.template' = ${sqlString(`${location}\${dt}/`)}
)`;
}

/** The rewards table over every batch folder; a join reads one batch by `"$path"` (no re-pointing, D-5). */
export function createRewardsTableSql(o: { database: string; table: string; rewardsLocation: string }): string {
  return `CREATE EXTERNAL TABLE IF NOT EXISTS \`${athenaIdentifier(o.database, "database")}\`.\`${athenaIdentifier(o.table, "table")}\` (
  \`event_id\` string,
  \`reward\` double,
  \`timestamp\` double
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
LOCATION ${sqlString(folder(o.rewardsLocation))}`;
}

/**
 * The table of event ids already joined: the CSV each successful join leaves under
 * `{exp}/joined_ids/{join}/` (Athena's own result file of the ids query: a quoted header `event_id`,
 * one quoted id per line). A join reads the folders of the successful joins only, by `"$path"`.
 */
export function createJoinedIdsTableSql(o: { database: string; table: string; joinedIdsLocation: string }): string {
  return `CREATE EXTERNAL TABLE IF NOT EXISTS \`${athenaIdentifier(o.database, "database")}\`.\`${athenaIdentifier(o.table, "table")}\` (
  \`event_id\` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '"')
LOCATION ${sqlString(folder(o.joinedIdsLocation))}
TBLPROPERTIES ('skip.header.line.count' = '1')`;
}

/** A condition on `"$path"`: the object lies under the folder of `uri` (LIKE's wildcards in it escaped). */
function underFolderSql(uri: string): string {
  return `"$path" LIKE ${sqlString(folder(uri).replace(/([%_\\])/g, "\\$1") + "%")} ESCAPE '\\'`;
}

/** The `joinedIds` relation of the shared join: the ids in the folders of the earlier successful joins (none: an empty relation). */
export function joinedIdsRelationSql(o: { database: string; table: string; joinedIdsUris: readonly string[] }): string {
  if (o.joinedIdsUris.length === 0) return "(SELECT CAST(NULL AS VARCHAR) AS event_id WHERE 1 = 0)";
  const paths = o.joinedIdsUris.map(underFolderSql);
  return `(SELECT event_id FROM ${qualified(o.database, o.table)}
  WHERE ${paths.join("\n     OR ")})`;
}

export function dropTableSql(database: string, table: string): string {
  return `DROP TABLE IF EXISTS \`${athenaIdentifier(database, "database")}\`.\`${athenaIdentifier(table, "table")}\``;
}

const qualified = (database: string, table: string) =>
  `"${athenaIdentifier(database, "database")}"."${athenaIdentifier(table, "table")}"`;

/** A captured body as text: bodies of content types listed in CaptureContentTypeHeader are stored as text, others base64. */
const bodyText = (side: "endpointinput" | "endpointoutput") =>
  `CASE WHEN capturedata.${side}.encoding = 'BASE64' THEN from_utf8(from_base64(capturedata.${side}.data)) ELSE capturedata.${side}.data END`;

/**
 * A captured body as an array of JSON texts: the non-blank lines of an `application/jsonlines`
 * body (one decision each, a batch), or the whole body of any other content type.
 */
const bodyLines = (side: "endpointinput" | "endpointoutput") =>
  `CASE WHEN lower(capturedata.${side}.observedcontenttype) LIKE 'application/jsonlines%' ` +
  `THEN filter(split(${bodyText(side)}, chr(10)), l -> trim(l) <> '') ELSE ARRAY[${bodyText(side)}] END`;

/**
 * The `decisions` relation of the shared join (a parenthesised subquery without alias: the shared
 * SQL adds its own): one row per decision, columns event_id, action, action_prob, model_id,
 * observation (JSON text), sample_prob, "timestamp", source. SageMaker captures one record per
 * InvokeEndpoint call, so a JSON-lines batch is split into its lines: response line n is the
 * decision for request line n. The response carries everything but the observation, which comes
 * from the request. The capture's InferenceId stands in for a missing event_id only for a single
 * (non-batch) request. With a window, only the hour folders around it are read (one hour of slack
 * each side for clock skew).
 */
export function decisionsRelationSql(o: { database: string; table: string; window?: { start: number; end: number } }): string {
  const hours = o.window
    ? `\n      WHERE dt >= ${sqlString(captureHour(new Date((o.window.start - 3600) * 1000)))} AND dt <= ${sqlString(captureHour(new Date((o.window.end + 3600) * 1000)))}`
    : "";
  return `(SELECT * FROM (
  SELECT
    COALESCE(json_extract_scalar(x.body, '$.event_id'), CASE WHEN NOT x.is_batch THEN NULLIF(x.inference_id, '') END) AS event_id,
    CAST(json_extract_scalar(x.body, '$.action') AS INTEGER) AS action,
    CAST(json_extract_scalar(x.body, '$.action_prob') AS DOUBLE) AS action_prob,
    json_extract_scalar(x.body, '$.model_id') AS model_id,
    COALESCE(json_format(json_extract(x.request, '$.observation')), json_format(json_extract(x.body, '$.observation'))) AS observation,
    CAST(json_extract_scalar(x.body, '$.sample_prob') AS DOUBLE) AS sample_prob,
    COALESCE(CAST(json_extract_scalar(x.body, '$.timestamp') AS DOUBLE), to_unixtime(from_iso8601_timestamp(x.inference_time))) AS "timestamp",
    x.source
  FROM (
    SELECT a.body, element_at(c.requests, a.n) AS request, c.is_batch, c.inference_id, c.inference_time, c.source
    FROM (
      SELECT ${bodyLines("endpointoutput")} AS bodies, ${bodyLines("endpointinput")} AS requests,
             COALESCE(lower(capturedata.endpointoutput.observedcontenttype) LIKE 'application/jsonlines%', false) AS is_batch,
             eventmetadata.inferenceid AS inference_id, eventmetadata.inferencetime AS inference_time, "$path" AS source
      FROM ${qualified(o.database, o.table)}${hours}
    ) c
    CROSS JOIN UNNEST(c.bodies) WITH ORDINALITY AS a(body, n)
  ) x
) captured WHERE event_id IS NOT NULL AND action IS NOT NULL)`;
}

/** The `rewards` relation of the shared join: the files of one rewards batch (by `"$path"`). */
export function rewardsRelationSql(o: { database: string; table: string; rewardsUri: string }): string {
  return `(SELECT CAST(event_id AS VARCHAR) AS event_id, CAST(reward AS DOUBLE) AS reward, CAST("timestamp" AS DOUBLE) AS "timestamp", "$path" AS source
  FROM ${qualified(o.database, o.table)}
  WHERE ${underFolderSql(o.rewardsUri)})`;
}

export interface AthenaJoinSql {
  counts: string;
  splitCounts: string;
  train: string;
  eval: string;
  /** The event ids this join joins (both splits), for the joined-ids table. */
  ids: string;
}

/** The five queries of one join: counts, rows per split, each split's rows in file order, and the joined ids. */
export function athenaJoinQueries(options: JoinSqlOptions): AthenaJoinSql {
  const rows = joinedRowsSql(options);
  const columns = JOINED_OUTPUT_COLUMNS.map((c) => `"${c}"`).join(", ");
  const split = (name: "train" | "eval") =>
    `SELECT ${columns} FROM (${rows}) j WHERE split = '${name}' ORDER BY "timestamp", event_id`;
  return {
    counts: joinCountsSql(options),
    splitCounts: `SELECT split, COUNT(*) AS n FROM (${rows}) j GROUP BY split`,
    train: split("train"),
    eval: split("eval"),
    ids: `SELECT event_id FROM (${rows}) j ORDER BY event_id`,
  };
}

/**
 * DuckDB macros with the names and meaning of the Trino functions used above, so the tests can run
 * the Athena text unchanged on the embedded engine.
 */
export const DUCKDB_TRINO_SHIMS: string[] = [
  "CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
  "CREATE OR REPLACE MACRO json_format(j) AS CAST(j AS VARCHAR)",
  "CREATE OR REPLACE MACRO from_utf8(b) AS decode(b)",
  "CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
  "CREATE OR REPLACE MACRO to_unixtime(t) AS epoch(t)",
  // Trino's element_at on arrays (NULL past the end); DuckDB's own element_at takes maps only.
  "CREATE OR REPLACE MACRO element_at(a, i) AS list_extract(a, i)",
];
