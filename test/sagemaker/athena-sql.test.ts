/**
 * The Athena join text, run unchanged on DuckDB (with macros standing in for the few Trino
 * functions) over data-capture fixtures, gives the same rows and counts as the local join over the
 * same decisions written as the local decision log.
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
import { DUCKDB_TRINO_SHIMS, athenaJoinQueries, athenaTableNames, decisionsRelationSql, rewardsRelationSql } from "@cbkit/common/sagemaker";
import { T0, batchCaptureLine, captureLine, hourOf, makeDecisions, makeRewards, probeLine } from "./athena-fixtures";

const EXP = "exp-athena";
const BUCKET = "cbkit-athena-bucket";
const DB = "cbkit_test";

const sqlPath = (p: string) => `'${p.replace(/'/g, "''")}'`;

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
  const tables = athenaTableNames(EXP);
  const decisions = makeDecisions(80);
  const rewards = makeRewards(decisions);
  const otherBatch = decisions.slice(0, 10).map((d) => ({ event_id: d.event_id, reward: 1, timestamp: d.timestamp + 1 }));

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-athena-sql-"));
    // Local side: the endpoint's decision log (two files) and two rewards batches.
    store = new LocalObjectStore(path.join(tmp, "bucket"));
    const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
    await store.put(store.uriOf(`${EXP}/inference_data/decisions-0.jsonl`), jsonl(decisions.slice(0, 40)));
    await store.put(store.uriOf(`${EXP}/inference_data/decisions-1.jsonl`), jsonl(decisions.slice(40)));
    await store.put(store.uriOf(`${EXP}/rewards_data/batch-1/rewards-1.jsonl`), jsonl(rewards));
    await store.put(store.uriOf(`${EXP}/rewards_data/batch-0/rewards-0.jsonl`), jsonl(otherBatch));

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
    await c.run(`CREATE SCHEMA ${DB}`);
    const s3Root = path.join(tmp, "s3") + path.sep;
    const body = "STRUCT(observedContentType VARCHAR, mode VARCHAR, data VARCHAR, encoding VARCHAR)";
    // What the Glue table exposes: the JSON columns, Athena's "$path" (an s3:// URI) and the dt partition.
    await c.run(`CREATE TABLE ${DB}.${tables.decisions} AS
      SELECT captureData AS capturedata, eventMetadata AS eventmetadata, eventVersion AS eventversion,
             replace(filename, ${sqlPath(s3Root)}, 's3://${BUCKET}/') AS "$path",
             regexp_extract(filename, '(\\d{4}/\\d{2}/\\d{2}/\\d{2})/', 1) AS dt
      FROM read_json(${sqlPath(path.join(capture, "**", "*.jsonl"))}, format = 'newline_delimited', filename = true,
        columns = {captureData: 'STRUCT(endpointInput ${body}, endpointOutput ${body})',
                   eventMetadata: 'STRUCT(eventId VARCHAR, inferenceId VARCHAR, inferenceTime VARCHAR)', eventVersion: 'VARCHAR'})`);
    const bucketRoot = path.join(tmp, "bucket") + path.sep;
    await c.run(`CREATE TABLE ${DB}.${tables.rewards} AS
      SELECT event_id, reward, "timestamp", replace(filename, ${sqlPath(bucketRoot)}, 's3://${BUCKET}/') AS "$path"
      FROM read_json(${sqlPath(path.join(bucketRoot, EXP, "rewards_data", "**", "*.jsonl"))}, format = 'newline_delimited', filename = true,
        columns = {event_id: 'VARCHAR', reward: 'DOUBLE', "timestamp": 'DOUBLE'})`);
  });

  after(() => {
    c?.closeSync();
    instance?.closeSync();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function compare(window: { start: number; end: number } | undefined, missingReward: JoinRequest["missingReward"]) {
    const joinId = `join-${window ? "w" : "all"}`;
    const request: JoinRequest = {
      experimentId: EXP,
      joinJobId: joinId,
      decisionsUri: store.uriOf(`${EXP}/inference_data`),
      rewardsUri: store.uriOf(`${EXP}/rewards_data/batch-1`),
      ratio: 0.7,
      window: window ? { start: new Date(window.start * 1000).toISOString(), end: new Date(window.end * 1000).toISOString() } : undefined,
      missingReward,
      outputTrainUri: store.uriOf(`${EXP}/joined_data/${joinId}/train`),
      outputEvalUri: store.uriOf(`${EXP}/joined_data/${joinId}/eval`),
    };
    const local = await runLocalJoin(store, request, { tempDir: path.join(tmp, "duck-tmp") });
    const localTrain = await collect(readJoinedRecords(store.pathOf(request.outputTrainUri)));
    const localEval = await collect(readJoinedRecords(store.pathOf(request.outputEvalUri)));

    const queries = athenaJoinQueries({
      decisions: decisionsRelationSql({ database: DB, table: tables.decisions, window }),
      rewards: rewardsRelationSql({ database: DB, table: tables.rewards, rewardsUri: `s3://${BUCKET}/${EXP}/rewards_data/batch-1` }),
      ratio: 0.7,
      window,
      defaultReward: missingReward === "drop" ? null : missingReward.defaultReward,
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
    assert.ok(localTrain.length > 10 && localEval.length > 5, `both splits hold rows (${localTrain.length}/${localEval.length})`);
    // The same rows (file order is each engine's own: Athena's is by time, DuckDB's is unordered).
    const byId = (rs: JoinedRecord[]) => [...rs].sort((a, b) => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0));
    assert.deepEqual(byId(athenaTrain), byId(localTrain));
    assert.deepEqual(byId(athenaEval), byId(localEval));

    const counts = (await c.runAndReadAll(queries.counts)).getRowObjectsJS()[0];
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
      },
      local.counts,
    );
    return local.counts;
  }

  it("joins all history, dropping decisions without a reward", async () => {
    const counts = await compare(undefined, "drop");
    assert.equal(counts.decisions, 81, "80 decisions (20 of them in two JSON-lines records) + 1 duplicate delivery; the model-id probe is not a decision");
    assert.equal(counts.duplicateDecisions, 1);
    assert.equal(counts.duplicateRewards, 3);
    assert.equal(counts.unmatchedRewards, 1);
  });

  it("joins a window, giving decisions without a reward the default", async () => {
    const counts = await compare({ start: T0 + 15 * 60, end: T0 + 70 * 60 }, { defaultReward: 0 });
    assert.ok(counts.missingRewards > 0);
    assert.ok(counts.decisions < 81);
  });
});
