/**
 * The Athena join text, run unchanged on DuckDB (with macros standing in for the few Trino
 * functions) over data-capture fixtures, gives the same rows and counts as the local join over the
 * same decisions written as the local decision log.
 *
 * And every statement the kit sends to Athena, read by a real Athena/Trino SQL parser (sqlglot's
 * Athena dialect, from .venv): it must parse, call only functions Trino has, and — transpiled by
 * sqlglot to DuckDB, without the kit's shims — give the same rows as the shim path.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { readJoinedRecords, type JoinedRecord } from "@cbkit/common";
import type { JoinRequest } from "@cbkit/common/platform";
import { LocalObjectStore, runLocalJoin } from "@cbkit/common/local";
import {
  DUCKDB_TRINO_SHIMS,
  athenaJoinQueries,
  athenaTableNames,
  createDatabaseSql,
  createDecisionsTableSql,
  createJoinedIdsTableSql,
  createRewardsTableSql,
  decisionsRelationSql,
  dropTableSql,
  joinedIdsRelationSql,
  rewardsRelationSql,
} from "@cbkit/common/sagemaker";
import { T0, batchCaptureLine, captureLine, hourOf, makeDecisions, makeRewards, probeLine } from "./athena-fixtures";
import { pythonToolOrSkip } from "../python-tools";
import { findProjectRoot } from "@cbkit/common/config";
import { spawnSync } from "node:child_process";

const EXP = "exp-athena";
const BUCKET = "cbkit-athena-bucket";
const DB = "cbkit_test";

const sqlPath = (p: string) => `'${p.replace(/'/g, "''")}'`;

const TEST = "test/sagemaker/athena-sql.test.ts";
const sqlglot = pythonToolOrSkip(TEST, "sqlglot");

/**
 * Functions the kit calls that sqlglot does not model (it reads them as anonymous calls); each must
 * be a documented Trino function. None today: sqlglot models every function the kit calls, so any
 * anonymous call (a DuckDB-only name, a typo) fails the test.
 */
const TRINO_FUNCTIONS_SQLGLOT_DOES_NOT_MODEL = new Set<string>([]);

interface DialectReading { name: string; ok: boolean; error?: string; kind?: string; functions?: string[]; duckdb?: string; athena?: string }

/** Reads statements with sqlglot's Athena dialect (test/sagemaker/athena_dialect.py). */
function readAsAthena(statements: { name: string; sql: string }[]): DialectReading[] {
  const r = spawnSync(sqlglot.python!, [path.join(findProjectRoot(), "test", "sagemaker", "athena_dialect.py")], { input: JSON.stringify(statements), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`athena_dialect.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as DialectReading[];
}

/** Every statement the kit sends to Athena, for one experiment (DDL, the join's four queries with and without a window). */
function statementsSentToAthena(): { name: string; sql: string }[] {
  const t = athenaTableNames(EXP);
  const out = [
    { name: "create database", sql: createDatabaseSql(DB) },
    { name: "create decisions table", sql: createDecisionsTableSql({ database: DB, table: t.decisions, captureLocation: `s3://${BUCKET}/${EXP}/inference_data/${EXP}/AllTraffic`, firstHour: "2026/11/28/10" }) },
    { name: "create rewards table", sql: createRewardsTableSql({ database: DB, table: t.rewards, rewardsLocation: `s3://${BUCKET}/${EXP}/rewards_data` }) },
    { name: "create joined-ids table", sql: createJoinedIdsTableSql({ database: DB, table: t.joinedIds, joinedIdsLocation: `s3://${BUCKET}/${EXP}/joined_ids` }) },
    { name: "drop decisions table", sql: dropTableSql(DB, t.decisions) },
  ];
  for (const window of [undefined, { start: T0 + 15 * 60, end: T0 + 70 * 60 }]) {
    const q = athenaJoinQueries({
      decisions: decisionsRelationSql({ database: DB, table: t.decisions, window }),
      rewards: rewardsRelationSql({ database: DB, table: t.rewards, rewardsUri: `s3://${BUCKET}/${EXP}/rewards_data/batch-1` }),
      // With a window: also leave out the ids of an earlier join (the "$path" filter); without: none.
      joinedIds: joinedIdsRelationSql({ database: DB, table: t.joinedIds, joinedIdsUris: window ? [`s3://${BUCKET}/${EXP}/joined_ids/join_1`] : [] }),
      ratio: 0.7,
      window,
      defaultReward: window ? 0 : null,
    });
    for (const [k, sql] of Object.entries(q)) out.push({ name: `join ${k}${window ? " (window, default reward)" : ""}`, sql });
  }
  return out;
}

describe("every statement the kit sends to Athena, read by sqlglot's Athena dialect", { skip: sqlglot.skip }, () => {
  it("parses (Hive DDL, Trino queries) and calls only Trino functions", () => {
    const readings = readAsAthena(statementsSentToAthena());
    for (const r of readings) {
      assert.ok(r.ok, `${r.name}: sqlglot's Athena dialect rejects it: ${r.error}`);
      const unknown = (r.functions ?? []).filter((f) => !TRINO_FUNCTIONS_SQLGLOT_DOES_NOT_MODEL.has(f));
      assert.deepEqual(unknown, [], `${r.name} calls functions Trino does not have: ${unknown.join(", ")}`);
    }
    assert.deepEqual(readings.map((r) => r.kind), ["Create", "Create", "Create", "Create", "Drop", ...Array(10).fill("Select")]);
    // The DDL's Athena-only parts survive the round trip (sqlglot read them, not skipped them).
    const decisionsDdl = readings[1].athena ?? "";
    for (const part of ["org.openx.data.jsonserde.JsonSerDe", "'projection.dt.format'='yyyy/MM/dd/HH'", "PARTITIONED BY"]) {
      assert.ok(decisionsDdl.replace(/\s*=\s*/g, "=").includes(part), `the decisions table DDL lost ${part}: ${decisionsDdl}`);
    }
  });

  it("the check can fail: a broken statement and a DuckDB-only function are caught", () => {
    const [broken, duckdbOnly] = readAsAthena([
      { name: "broken", sql: "SELECT (1 FROM t" },
      { name: "duckdb only", sql: "SELECT list_extract(a, 1), epoch(t) FROM x" },
    ]);
    assert.equal(broken.ok, false);
    assert.deepEqual((duckdbOnly.functions ?? []).filter((f) => !TRINO_FUNCTIONS_SQLGLOT_DOES_NOT_MODEL.has(f)), ["epoch", "list_extract"]);
  });
});

async function collect(reader: AsyncIterable<JoinedRecord>): Promise<JoinedRecord[]> {
  const out: JoinedRecord[] = [];
  for await (const r of reader) out.push(r);
  return out;
}

describe("Athena join SQL on DuckDB equals the local join", () => {
  let tmp: string;
  let store: LocalObjectStore;
  let instance: DuckDBInstance;
  let c: DuckDBConnection;
  /** The same tables on an engine without the Trino shims, for sqlglot's DuckDB transpilation. */
  let bareInstance: DuckDBInstance;
  let bare: DuckDBConnection;
  const tables = athenaTableNames(EXP);
  const decisions = makeDecisions(80);
  const rewards = makeRewards(decisions);
  const otherBatch = decisions.slice(0, 10).map((d) => ({ event_id: d.event_id, reward: 1, timestamp: d.timestamp + 1 }));
  // A hand-written batch: valid rewards for decisions 60..69, and rows no engine may join: a reward
  // "NaN", text, null, outside [0, 1], and timestamps of −1e20 (it would win "earliest") or in
  // milliseconds, each for an event that also has a valid, later reward.
  const badBatch: Record<string, unknown>[] = [
    ...decisions.slice(60, 70).map((d) => ({ event_id: d.event_id, reward: 1, timestamp: d.timestamp + 7 })),
    { event_id: decisions[60].event_id, reward: "NaN", timestamp: decisions[60].timestamp + 1 },
    { event_id: decisions[61].event_id, reward: "abc", timestamp: decisions[61].timestamp + 1 },
    { event_id: decisions[62].event_id, reward: null, timestamp: decisions[62].timestamp + 1 },
    { event_id: decisions[63].event_id, reward: 7, timestamp: decisions[63].timestamp + 1 },
    { event_id: decisions[64].event_id, reward: 0, timestamp: -1e20 },
    { event_id: decisions[65].event_id, reward: 0, timestamp: decisions[65].timestamp * 1000 },
  ];

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-athena-sql-"));
    // Local side: the endpoint's decision log (two files) and two rewards batches.
    store = new LocalObjectStore(path.join(tmp, "bucket"));
    const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
    await store.put(store.uriOf(`${EXP}/inference_data/decisions-0.jsonl`), jsonl(decisions.slice(0, 40)));
    await store.put(store.uriOf(`${EXP}/inference_data/decisions-1.jsonl`), jsonl(decisions.slice(40)));
    await store.put(store.uriOf(`${EXP}/rewards_data/batch-1/rewards-1.jsonl`), jsonl(rewards));
    await store.put(store.uriOf(`${EXP}/rewards_data/batch-0/rewards-0.jsonl`), jsonl(otherBatch));
    await store.put(store.uriOf(`${EXP}/rewards_data/batch-bad/rewards-bad.jsonl`), jsonl(badBatch));

    // SageMaker side: data-capture files per hour folder, one base64 body, a model-id probe, and
    // two getActions calls of 10 decisions each captured as ONE record per call: one as JSON text
    // (jsonlines listed in CaptureContentTypeHeader), one base64 (not listed).
    const capture = path.join(tmp, "s3", EXP, "inference_data", EXP, "AllTraffic");
    const byHour = new Map<string, string[]>();
    const add = (t: number, record: unknown) => byHour.set(hourOf(t), [...(byHour.get(hourOf(t)) ?? []), JSON.stringify(record)]);
    const batches = [
      { from: 30, base64: false },
      { from: 50, base64: true },
    ];
    decisions.forEach((d, i) => {
      const batch = batches.find((b) => i >= b.from && i < b.from + 10);
      if (batch && i === batch.from) add(d.timestamp, batchCaptureLine(decisions.slice(i, i + 10), { base64: batch.base64 }));
      if (!batch) add(d.timestamp, captureLine(d, { base64: i === 7 }));
      if (i === 20) add(d.timestamp, probeLine(d.timestamp));
    });
    assert.equal([...byHour.values()].flat().length, 81 - 20 + 2 + 1, "one capture record per call: 61 single calls, 2 batch calls, 1 probe");
    for (const [hour, lines] of byHour) {
      fs.mkdirSync(path.join(capture, hour), { recursive: true });
      fs.writeFileSync(path.join(capture, hour, `${EXP}-capture.jsonl`), lines.join("\n") + "\n");
    }

    instance = await DuckDBInstance.create(":memory:");
    c = await instance.connect();
    for (const shim of DUCKDB_TRINO_SHIMS) await c.run(shim);
    bareInstance = await DuckDBInstance.create(":memory:");
    bare = await bareInstance.connect();
    await c.run(`CREATE SCHEMA ${DB}`);
    await bare.run(`CREATE SCHEMA ${DB}`);
    const s3Root = path.join(tmp, "s3") + path.sep;
    const body = "STRUCT(observedContentType VARCHAR, mode VARCHAR, data VARCHAR, encoding VARCHAR)";
    // What the Glue table exposes: the JSON columns, Athena's "$path" (an s3:// URI) and the dt partition.
    const decisionsTable = `CREATE TABLE ${DB}.${tables.decisions} AS
      SELECT captureData AS capturedata, eventMetadata AS eventmetadata, eventVersion AS eventversion,
             replace(filename, ${sqlPath(s3Root)}, 's3://${BUCKET}/') AS "$path",
             regexp_extract(filename, '(\\d{4}/\\d{2}/\\d{2}/\\d{2})/', 1) AS dt
      FROM read_json(${sqlPath(path.join(capture, "**", "*.jsonl"))}, format = 'newline_delimited', filename = true,
        columns = {captureData: 'STRUCT(endpointInput ${body}, endpointOutput ${body})',
                   eventMetadata: 'STRUCT(eventId VARCHAR, inferenceId VARCHAR, inferenceTime VARCHAR)', eventVersion: 'VARCHAR'})`;
    const bucketRoot = path.join(tmp, "bucket") + path.sep;
    // The JSON SerDe gives a double column NULL for a value it can not read as a number.
    const rewardsTable = `CREATE TABLE ${DB}.${tables.rewards} AS
      SELECT event_id, TRY_CAST(reward AS DOUBLE) AS reward, TRY_CAST("timestamp" AS DOUBLE) AS "timestamp",
             replace(filename, ${sqlPath(bucketRoot)}, 's3://${BUCKET}/') AS "$path"
      FROM read_json(${sqlPath(path.join(bucketRoot, EXP, "rewards_data", "**", "*.jsonl"))}, format = 'newline_delimited', filename = true,
        columns = {event_id: 'VARCHAR', reward: 'VARCHAR', "timestamp": 'VARCHAR'})`;
    for (const conn of [c, bare]) {
      await conn.run(decisionsTable);
      await conn.run(rewardsTable);
      // No earlier join yet (tests that need one load the table from joined_ids/).
      await conn.run(`CREATE TABLE ${DB}.${tables.joinedIds} (event_id VARCHAR, "$path" VARCHAR)`);
    }
  });

  /** The joined-ids table as Glue would expose it: the id CSVs under joined_ids/, with "$path". */
  async function loadJoinedIdsTable(): Promise<void> {
    const bucketRoot = path.join(tmp, "bucket") + path.sep;
    await c.run(`CREATE OR REPLACE TABLE ${DB}.${tables.joinedIds} AS
      SELECT event_id, replace(filename, ${sqlPath(bucketRoot)}, 's3://${BUCKET}/') AS "$path"
      FROM read_csv(${sqlPath(path.join(bucketRoot, EXP, "joined_ids", "**", "*.csv"))}, header = true, filename = true, columns = {event_id: 'VARCHAR'})`);
  }

  after(() => {
    c?.closeSync();
    instance?.closeSync();
    bare?.closeSync();
    bareInstance?.closeSync();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const rewardTimes = { earliest: Date.UTC(2000, 0, 1) / 1000, latest: T0 + 365 * 86400 };

  async function compare(
    window: { start: number; end: number } | undefined,
    missingReward: JoinRequest["missingReward"],
    options: { batch?: string; joinId?: string; joinedBefore?: string[] } = {},
  ) {
    const joinId = options.joinId ?? `join-${window ? "w" : "all"}`;
    const batch = options.batch ?? "batch-1";
    const joinedBefore = (options.joinedBefore ?? []).map((id) => `${EXP}/joined_ids/${id}`);
    const request: JoinRequest = {
      experimentId: EXP,
      joinJobId: joinId,
      decisionsUri: store.uriOf(`${EXP}/inference_data`),
      rewardsUri: store.uriOf(`${EXP}/rewards_data/${batch}`),
      ratio: 0.7,
      window: window ? { start: new Date(window.start * 1000).toISOString(), end: new Date(window.end * 1000).toISOString() } : undefined,
      missingReward,
      outputTrainUri: store.uriOf(`${EXP}/joined_data/${joinId}/train`),
      outputEvalUri: store.uriOf(`${EXP}/joined_data/${joinId}/eval`),
      rewardRange: { minReward: 0, maxReward: 1 },
      rewardTimes,
      joinedIdsUris: joinedBefore.map((key) => store.uriOf(key)),
      outputJoinedIdsUri: store.uriOf(`${EXP}/joined_ids/${joinId}`),
    };
    const local = await runLocalJoin(store, request, { tempDir: path.join(tmp, "duck-tmp") });
    const localTrain = await collect(readJoinedRecords(store.pathOf(request.outputTrainUri)));
    const localEval = await collect(readJoinedRecords(store.pathOf(request.outputEvalUri)));

    await loadJoinedIdsTable();
    const queries = athenaJoinQueries({
      decisions: decisionsRelationSql({ database: DB, table: tables.decisions, window }),
      rewards: rewardsRelationSql({ database: DB, table: tables.rewards, rewardsUri: `s3://${BUCKET}/${EXP}/rewards_data/${batch}` }),
      ratio: 0.7,
      window,
      defaultReward: missingReward === "drop" ? null : missingReward.defaultReward,
      rewardRange: request.rewardRange,
      rewardTimes,
      joinedIds: joinedIdsRelationSql({ database: DB, table: tables.joinedIds, joinedIdsUris: joinedBefore.map((key) => `s3://${BUCKET}/${key}`) }),
    });
    const rows = async (sql: string): Promise<JoinedRecord[]> =>
      (await c.runAndReadAll(sql)).getRowObjectsJS().map((r) => ({
        reward: Number(r.reward),
        event_id: String(r.event_id),
        action: Number(r.action),
        action_prob: Number(r.action_prob),
        model_id: String(r.model_id),
        observation: JSON.parse(String(r.observation)) as number[],
        sample_prob: Number(r.sample_prob),
      }));
    const athenaTrain = await rows(queries.train);
    const athenaEval = await rows(queries.eval);
    const least = options.batch === undefined && options.joinedBefore === undefined ? { train: 10, eval: 5 } : { train: 0, eval: 0 };
    assert.ok(localTrain.length > least.train && localEval.length > least.eval, `both splits hold rows (${localTrain.length}/${localEval.length})`);
    // The same rows (file order is each engine's own: Athena's is by time, DuckDB's is unordered).
    const byId = (rs: JoinedRecord[]) => [...rs].sort((a, b) => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0));
    assert.deepEqual(byId(athenaTrain), byId(localTrain));
    assert.deepEqual(byId(athenaEval), byId(localEval));

    const counts = (await c.runAndReadAll(queries.counts)).getRowObjectsJS()[0];
    // Unreadable lines of the local decision log are counted by the local loader, not the shared SQL.
    const { malformedDecisions: _localOnly, ...localShared } = local.counts;
    const splits = (await c.runAndReadAll(queries.splitCounts)).getRowObjectsJS();
    const n = (s: string) => Number(splits.find((r) => r.split === s)?.n ?? 0);
    assert.deepEqual(
      {
        decisions: Number(counts.decisions),
        duplicateDecisions: Number(counts.duplicate_decisions),
        rewards: Number(counts.rewards),
        duplicateRewards: Number(counts.duplicate_rewards),
        unmatchedRewards: Number(counts.unmatched_rewards),
        missingRewards: Number(counts.missing_rewards),
        train: n("train"),
        eval: n("eval"),
        invalidRewards: Number(counts.invalid_rewards),
        invalidRewardTimes: Number(counts.invalid_reward_times),
        alreadyJoined: Number(counts.already_joined),
      },
      localShared,
    );
    assert.equal(local.counts.malformedDecisions, 0, "the local decision log has no torn line");
    // The ids the join wrote are exactly the rows it joined (what the next join leaves out).
    const ids = (await c.runAndReadAll(queries.ids)).getRowObjectsJS().map((r) => String(r.event_id));
    assert.deepEqual(ids, [...localTrain, ...localEval].map((r) => r.event_id).sort());
    return { counts: local.counts, rows: [...localTrain, ...localEval] };
  }

  it("joins all history, dropping decisions without a reward", async () => {
    const { counts } = await compare(undefined, "drop");
    assert.equal(counts.decisions, 81, "80 decisions (20 of them in two JSON-lines records) + 1 duplicate delivery; the model-id probe is not a decision");
    assert.equal(counts.duplicateDecisions, 1);
    assert.equal(counts.duplicateRewards, 3);
    assert.equal(counts.unmatchedRewards, 1);
  });

  it("joins a window, giving decisions without a reward the default", async () => {
    const { counts } = await compare({ start: T0 + 15 * 60, end: T0 + 70 * 60 }, { defaultReward: 0 });
    assert.ok(counts.missingRewards > 0);
    assert.ok(counts.decisions < 81);
  });

  it("sqlglot's DuckDB transpilation of the Athena queries (no shims) gives the shim path's rows and counts", { skip: sqlglot.skip }, async () => {
    const queries = statementsSentToAthena().filter((q) => q.name.startsWith("join "));
    const readings = readAsAthena(queries);
    const canonical = async (conn: DuckDBConnection, sql: string) =>
      (await conn.runAndReadAll(sql)).getRowObjectsJS().map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))).sort();
    for (const [i, q] of queries.entries()) {
      const r = readings[i];
      assert.ok(r.ok && r.duckdb, `${q.name}: ${r.error}`);
      const viaShims = await canonical(c, q.sql);
      const viaSqlglot = await canonical(bare, r.duckdb!);
      assert.ok(viaShims.length > 0, `${q.name} gives rows`);
      assert.deepEqual(viaSqlglot, viaShims, `${q.name}: sqlglot's transpilation and the shims disagree`);
    }
  });

  it("leaves out and counts rewards that are not a number in the range or have an insane timestamp; −1e20 does not win 'earliest'", async () => {
    const { counts, rows } = await compare(undefined, "drop", { batch: "batch-bad", joinId: "join-bad" });
    assert.equal(counts.rewards, 16);
    assert.equal(counts.invalidRewards, 4, "NaN, text, null and 7");
    assert.equal(counts.invalidRewardTimes, 2, "−1e20 and a time in milliseconds");
    assert.equal(counts.train + counts.eval, 10);
    assert.deepEqual(rows.filter((r) => r.reward !== 1), [], "every joined reward is the valid, later one");
  });

  it("leaves out the events of earlier successful joins, in both engines, and counts them", async () => {
    const first = await compare(undefined, "drop", { joinId: "join-first" });
    const window = { start: T0, end: T0 + 90 * 60 };
    const second = await compare(window, { defaultReward: 0 }, { joinId: "join-second", joinedBefore: ["join-first"] });
    assert.equal(second.counts.alreadyJoined, first.counts.train + first.counts.eval, "every row of the first join is left out and counted");
    const firstIds = new Set(first.rows.map((r) => r.event_id));
    assert.ok(second.rows.length > 0 && second.rows.every((r) => !firstIds.has(r.event_id)), "no event joins twice");
  });
});
