import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mockClient } from "aws-sdk-client-mock";
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import {
  AthenaJoiner,
  AthenaQueryError,
  DecisionsNotVisibleError,
  S3ObjectStore,
  WaitTimeoutError,
  athenaTableNames,
  captureHour,
} from "@cbkit/common/sagemaker";
import type { JoinRequest } from "@cbkit/common/platform";
import { batchCaptureLine, captureLine, makeDecisions } from "./athena-fixtures";
import { BUCKET, DUMMY_CREDENTIALS, REGION, fakeClock, startS3, testSettings, type S3Emulator } from "./helpers";

const EXP = "exp-aj";

interface FakeQuery {
  sql: string;
  output: string;
  database?: string;
  workgroup?: string;
  polls: number;
}

describe("AthenaJoiner (Athena mocked, S3 on s3rver)", () => {
  let s3: S3Emulator;
  let store: S3ObjectStore;
  const client = new AthenaClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
  const athena = mockClient(client);
  const decisions = makeDecisions(10).slice(0, 10);
  const hour = captureHour(new Date());
  const captureKey = (name: string) => `${EXP}/inference_data/${EXP}/AllTraffic/${hour}/${name}`;
  let queries: FakeQuery[] = [];

  /** A fake Athena: remembers queries, succeeds after one RUNNING poll, writes split CSVs like Athena. */
  function fakeAthena(options: { fail?: RegExp; stuck?: RegExp; counts?: { train: number; eval: number } } = {}) {
    queries = [];
    athena.on(StartQueryExecutionCommand).callsFake(async (input) => {
      const id = `q${queries.length + 1}`;
      queries.push({ sql: input.QueryString, output: input.ResultConfiguration.OutputLocation, database: input.QueryExecutionContext?.Database, workgroup: input.WorkGroup, polls: 0 });
      if (/^SELECT "reward"/.test(input.QueryString)) {
        await store.put(`${input.ResultConfiguration.OutputLocation}${id}.csv`, '"reward","event_id"\n"1.0","ev-0000"\n');
        await store.put(`${input.ResultConfiguration.OutputLocation}${id}.csv.metadata`, "binary");
      }
      return { QueryExecutionId: id };
    });
    athena.on(GetQueryExecutionCommand).callsFake(async ({ QueryExecutionId }) => {
      const q = queries[Number(QueryExecutionId.slice(1)) - 1];
      q.polls++;
      if (options.fail?.test(q.sql)) return { QueryExecution: { Status: { State: "FAILED", StateChangeReason: "SYNTAX_ERROR: line 3:5: Column 'dt' cannot be resolved" } } };
      const state = options.stuck?.test(q.sql) || q.polls === 1 ? "RUNNING" : "SUCCEEDED";
      return { QueryExecution: { Status: { State: state }, ResultConfiguration: { OutputLocation: `${q.output}${QueryExecutionId}.csv` } } };
    });
    athena.on(GetQueryResultsCommand).callsFake(async ({ QueryExecutionId }) => {
      const q = queries[Number(QueryExecutionId.slice(1)) - 1];
      const table = (rows: string[][]) => ({ ResultSet: { Rows: rows.map((r) => ({ Data: r.map((v) => ({ VarCharValue: v })) })) } });
      if (/AS unmatched_rewards/.test(q.sql))
        return table([
          ["decisions", "duplicate_decisions", "rewards", "duplicate_rewards", "unmatched_rewards", "missing_rewards"],
          ["10", "0", "10", "0", "0", "0"],
        ]);
      const c = options.counts ?? { train: 7, eval: 3 };
      return table([["split", "n"], ...(c.train ? [["train", String(c.train)]] : []), ...(c.eval ? [["eval", String(c.eval)]] : [])]);
    });
    athena.on(StopQueryExecutionCommand).resolves({});
  }

  const request = (joinId: string, batch = "batch-1"): JoinRequest => ({
    experimentId: EXP,
    joinJobId: joinId,
    decisionsUri: store.uriOf(`${EXP}/inference_data`),
    rewardsUri: store.uriOf(`${EXP}/rewards_data/${batch}`),
    ratio: 0.8,
    missingReward: "drop",
    outputTrainUri: store.uriOf(`${EXP}/joined_data/${joinId}/train`),
    outputEvalUri: store.uriOf(`${EXP}/joined_data/${joinId}/eval`),
  });
  const rewardsLocation = () => store.uriOf(`${EXP}/rewards_data`);
  const joiner = (clock = fakeClock()) => new AthenaJoiner(client, store, testSettings(), clock);
  const lines = (ds: typeof decisions) => ds.map((d) => JSON.stringify(captureLine(d))).join("\n") + "\n";

  before(async () => {
    s3 = await startS3();
    store = new S3ObjectStore(s3.client, BUCKET, REGION);
    await store.put(store.uriOf(captureKey("a.jsonl")), lines(decisions.slice(0, 9)));
    const rewards = (ids: string[]) => ids.map((id) => JSON.stringify({ event_id: id, reward: 1 })).join("\n") + "\n";
    await store.put(store.uriOf(`${EXP}/rewards_data/batch-1/rewards.jsonl`), rewards(decisions.slice(0, 9).map((d) => d.event_id)));
    await store.put(store.uriOf(`${EXP}/rewards_data/batch-2/rewards.jsonl`), rewards(decisions.map((d) => d.event_id)));
    await store.put(store.uriOf(`${EXP}/rewards_data/batch-3/rewards.jsonl`), rewards(["never-decided"]));
  });
  after(async () => s3.stop());
  beforeEach(() => athena.reset());

  it("creates the tables once, runs the shared join and leaves only Athena's CSV under each split", async () => {
    fakeAthena();
    // A re-run must not keep stale files.
    await store.put(store.uriOf(`${EXP}/joined_data/j1/train/old.csv`), "stale");
    const result = await joiner().join(request("j1"), rewardsLocation());
    const names = athenaTableNames(EXP);
    assert.equal(queries.length, 7);
    assert.match(queries[0].sql, /^CREATE DATABASE IF NOT EXISTS `cbkit_test`$/);
    assert.match(queries[1].sql, new RegExp(`CREATE EXTERNAL TABLE IF NOT EXISTS \`cbkit_test\`\\.\`${names.decisions}\``));
    assert.ok(queries[1].sql.includes(`LOCATION 's3://${BUCKET}/${EXP}/inference_data/${EXP}/AllTraffic/'`));
    assert.ok(queries[1].sql.includes(`'projection.dt.range' = '${hour},NOW'`), "projection starts at the first captured hour");
    assert.ok(queries[1].sql.includes(`'storage.location.template' = 's3://${BUCKET}/${EXP}/inference_data/${EXP}/AllTraffic/\${dt}/'`));
    assert.ok(queries[2].sql.includes(`LOCATION 's3://${BUCKET}/${EXP}/rewards_data/'`));
    for (const q of queries.slice(0, 5)) assert.equal(q.output, `s3://${BUCKET}/${EXP}/athena_query_results/`);
    assert.deepEqual(queries.slice(5).map((q) => q.output), [`s3://${BUCKET}/${EXP}/joined_data/j1/train/`, `s3://${BUCKET}/${EXP}/joined_data/j1/eval/`]);
    assert.ok(queries.every((q) => q.database === "cbkit_test" && q.workgroup === "primary"));
    assert.ok(queries[5].sql.includes(`"$path" LIKE 's3://cbkit-test-bucket/exp-aj/rewards\\_data/batch-1/%' ESCAPE '\\'`));
    assert.match(queries[5].sql, /WHERE split = 'train' ORDER BY "timestamp", event_id$/);
    assert.deepEqual(result.counts, { decisions: 10, duplicateDecisions: 0, rewards: 10, duplicateRewards: 0, unmatchedRewards: 0, missingRewards: 0, train: 7, eval: 3 });
    assert.deepEqual(result.queryIds, ["q4", "q5", "q6", "q7"]);
    assert.deepEqual((await store.list(result.outputTrainUri)).map((o) => o.key.split("/").pop()), ["q6.csv"]);
    assert.deepEqual((await store.list(result.outputEvalUri)).map((o) => o.key.split("/").pop()), ["q7.csv"]);
  });

  it("waits for late decisions by polling the capture log, not by sleeping a fixed time (D-4)", async () => {
    fakeAthena();
    const clock = fakeClock();
    let sleeps = 0;
    const lateClock = {
      now: clock.now,
      sleep: async (ms: number) => {
        if (++sleeps === 2) await store.put(store.uriOf(captureKey("b.jsonl")), lines(decisions.slice(9)));
        await clock.sleep(ms);
      },
    };
    const j = new AthenaJoiner(client, store, testSettings(), lateClock);
    await j.join(request("j2", "batch-2"), rewardsLocation());
    assert.ok(sleeps >= 2, "polled until the late decision arrived");
    assert.ok(clock.sleeps.every((ms) => ms <= 30_000));
  });

  it("counts every decision of a JSON-lines batch captured as one record, text or base64", async () => {
    fakeAthena();
    const batch = makeDecisions(40, 9).slice(0, 40).map((d) => ({ ...d, event_id: `jl-${d.event_id}` }));
    await store.put(store.uriOf(captureKey("batch-text.jsonl")), JSON.stringify(batchCaptureLine(batch.slice(0, 20))) + "\n");
    await store.put(store.uriOf(captureKey("batch-b64.jsonl")), JSON.stringify(batchCaptureLine(batch.slice(20), { base64: true })) + "\n");
    await store.put(store.uriOf(`${EXP}/rewards_data/batch-jl/rewards.jsonl`), batch.map((d) => JSON.stringify({ event_id: d.event_id, reward: 1 })).join("\n") + "\n");
    const clock = fakeClock();
    const j = joiner(clock);
    const r = request("j-jl", "batch-jl");
    const waited = await j.waitForDecisions(j.captureLocation(r.decisionsUri, EXP), r.rewardsUri);
    assert.equal(waited.expected, 40);
    assert.deepEqual(clock.sleeps, [], "all 40 decisions were found in the 2 records on the first look");
    await j.join(r, rewardsLocation());
  });

  it("fails with the missing event ids when decisions never show up, before any query", async () => {
    fakeAthena();
    await assert.rejects(
      joiner().join(request("j3", "batch-3"), rewardsLocation()),
      (e: Error) => e instanceof DecisionsNotVisibleError && e.missing[0] === "never-decided" && /decision_wait_seconds/.test(e.message),
    );
    assert.equal(queries.length, 0);
  });

  it("surfaces a failed query's reason", async () => {
    fakeAthena({ fail: /GROUP BY split/ });
    await assert.rejects(
      joiner().join(request("j4"), rewardsLocation()),
      (e: Error) => e instanceof AthenaQueryError && /FAILED/.test(e.message) && /Column 'dt' cannot be resolved/.test(e.message),
    );
  });

  it("stops a query that exceeds its timeout", async () => {
    fakeAthena({ stuck: /AS unmatched_rewards/ });
    await assert.rejects(joiner().join(request("j5"), rewardsLocation()), WaitTimeoutError);
    assert.equal(athena.commandCalls(StopQueryExecutionCommand).length, 1);
  });

  it("refuses an empty split before writing any split", async () => {
    fakeAthena({ counts: { train: 9, eval: 0 } });
    await assert.rejects(joiner().join(request("j6"), rewardsLocation()), /the eval split is empty \(train 9, eval 0/);
    assert.ok(!queries.some((q) => /^SELECT "reward"/.test(q.sql)));
  });

  it("drops its tables", async () => {
    fakeAthena();
    const dropped = await joiner().dropTables(EXP);
    const names = athenaTableNames(EXP);
    assert.deepEqual(dropped, [`cbkit_test.${names.decisions}`, `cbkit_test.${names.rewards}`]);
    assert.deepEqual(queries.map((q) => q.sql), [`DROP TABLE IF EXISTS \`cbkit_test\`.\`${names.decisions}\``, `DROP TABLE IF EXISTS \`cbkit_test\`.\`${names.rewards}\``]);
  });
});
