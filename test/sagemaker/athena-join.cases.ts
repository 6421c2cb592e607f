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
import { BUCKET, DUMMY_CREDENTIALS, REGION, fakeClock, testSettings, type S3Emulator, STORAGE_EMULATORS } from "./helpers";

const EXP = "exp-aj";

interface FakeQuery {
  sql: string;
  output: string;
  database?: string;
  workgroup?: string;
  polls: number;
}

for (const emulator of STORAGE_EMULATORS) describe(`AthenaJoiner (Athena mocked, S3 on ${emulator.name})`, { skip: emulator.skip }, () => {
  let s3: S3Emulator;
  let store: S3ObjectStore;
  const client = new AthenaClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
  const athena = mockClient(client);
  const decisions = makeDecisions(10).slice(0, 10);
  const hour = captureHour(new Date());
  const captureKey = (name: string) => `${EXP}/inference_data/${EXP}/AllTraffic/${hour}/${name}`;
  let queries: FakeQuery[] = [];

  /** A fake Athena: remembers queries, succeeds after one RUNNING poll, writes split CSVs like Athena. */
  function fakeAthena(
    options: {
      fail?: RegExp;
      stuck?: RegExp;
      counts?: { train: number; eval: number };
      /** Rows per GetQueryResults page (Athena pages long results; the header comes on the first page only). */
      pageSize?: number;
      /** A workgroup that overrides client-side settings writes every result here instead. */
      workgroupLocation?: string;
    } = {},
  ) {
    queries = [];
    athena.on(StartQueryExecutionCommand).callsFake(async (input) => {
      const id = `q${queries.length + 1}`;
      queries.push({ sql: input.QueryString, output: input.ResultConfiguration.OutputLocation, database: input.QueryExecutionContext?.Database, workgroup: input.WorkGroup, polls: 0 });
      if (/^SELECT "reward"|^SELECT event_id FROM/.test(input.QueryString)) {
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
      return { QueryExecution: { Status: { State: state }, ResultConfiguration: { OutputLocation: `${options.workgroupLocation ?? q.output}${QueryExecutionId}.csv` } } };
    });
    athena.on(GetQueryResultsCommand).callsFake(async ({ QueryExecutionId, NextToken }) => {
      const q = queries[Number(QueryExecutionId.slice(1)) - 1];
      const table = (rows: string[][]) => {
        const from = Number(NextToken ?? 0);
        const to = options.pageSize ? from + options.pageSize : rows.length;
        return {
          ResultSet: { Rows: rows.slice(from, to).map((r) => ({ Data: r.map((v) => ({ VarCharValue: v })) })) },
          NextToken: to < rows.length ? String(to) : undefined,
        };
      };
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
    s3 = await emulator.s3();
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
    const result = await joiner().join({ ...request("j1"), joinedIdsUris: [store.uriOf(`${EXP}/joined_ids/j0`)], outputJoinedIdsUri: store.uriOf(`${EXP}/joined_ids/j1`) }, rewardsLocation());
    const names = athenaTableNames(EXP);
    assert.equal(queries.length, 9);
    assert.match(queries[0].sql, /^CREATE DATABASE IF NOT EXISTS `cbkit_test`$/);
    assert.match(queries[1].sql, new RegExp(`CREATE EXTERNAL TABLE IF NOT EXISTS \`cbkit_test\`\\.\`${names.decisions}\``));
    assert.ok(queries[1].sql.includes(`LOCATION 's3://${BUCKET}/${EXP}/inference_data/${EXP}/AllTraffic/'`));
    assert.ok(queries[1].sql.includes(`'projection.dt.range' = '${hour},NOW'`), "projection starts at the first captured hour");
    assert.ok(queries[1].sql.includes(`'storage.location.template' = 's3://${BUCKET}/${EXP}/inference_data/${EXP}/AllTraffic/\${dt}/'`));
    assert.ok(queries[2].sql.includes(`LOCATION 's3://${BUCKET}/${EXP}/rewards_data/'`));
    // The ids of earlier joins: one table over joined_ids/, read by "$path" (only the successful joins' folders).
    assert.match(queries[3].sql, new RegExp(`CREATE EXTERNAL TABLE IF NOT EXISTS \`cbkit_test\`\\.\`${names.joinedIds}\``));
    assert.ok(queries[3].sql.includes(`LOCATION 's3://${BUCKET}/${EXP}/joined_ids/'`) && queries[3].sql.includes("'skip.header.line.count' = '1'"));
    for (const q of queries.slice(0, 6)) assert.equal(q.output, `s3://${BUCKET}/${EXP}/athena_query_results/`);
    assert.deepEqual(queries.slice(6).map((q) => q.output), [
      `s3://${BUCKET}/${EXP}/joined_data/j1/train/`,
      `s3://${BUCKET}/${EXP}/joined_data/j1/eval/`,
      `s3://${BUCKET}/${EXP}/joined_ids/j1/`,
    ]);
    assert.ok(queries.every((q) => q.database === "cbkit_test" && q.workgroup === "primary"));
    assert.ok(queries[6].sql.includes(`"$path" LIKE 's3://cbkit-test-bucket/exp-aj/rewards\\_data/batch-1/%' ESCAPE '\\'`));
    assert.ok(queries[6].sql.includes(`"$path" LIKE 's3://cbkit-test-bucket/exp-aj/joined\\_ids/j0/%' ESCAPE '\\'`), "the earlier join's ids are left out");
    assert.match(queries[6].sql, /WHERE split = 'train' ORDER BY "timestamp", event_id$/);
    assert.match(queries[8].sql, /^SELECT event_id FROM \(/);
    assert.deepEqual(result.counts, {
      decisions: 10, duplicateDecisions: 0, rewards: 10, duplicateRewards: 0, unmatchedRewards: 0, missingRewards: 0, train: 7, eval: 3,
      invalidRewards: 0, invalidRewardTimes: 0, alreadyJoined: 0,
    });
    assert.deepEqual(result.queryIds, ["q5", "q6", "q7", "q8", "q9"]);
    assert.deepEqual((await store.list(result.outputTrainUri)).map((o) => o.key.split("/").pop()), ["q7.csv"]);
    assert.deepEqual((await store.list(result.outputEvalUri)).map((o) => o.key.split("/").pop()), ["q8.csv"]);
    assert.deepEqual((await store.list(store.uriOf(`${EXP}/joined_ids/j1`))).map((o) => o.key.split("/").pop()), ["q9.csv"]);
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

  it("reads every page of a query's results: GetQueryResults is called again with each NextToken (issue 16.15)", async () => {
    fakeAthena({ pageSize: 1 });
    const result = await joiner().join(request("j7"), rewardsLocation());
    // The counts (header + 1 row) and the split sizes (header + 2 rows) each came one row per page.
    assert.deepEqual(result.counts, { decisions: 10, duplicateDecisions: 0, rewards: 10, duplicateRewards: 0, unmatchedRewards: 0, missingRewards: 0, train: 7, eval: 3, invalidRewards: 0, invalidRewardTimes: 0, alreadyJoined: 0 });
    const tokens = (id: string) => athena.commandCalls(GetQueryResultsCommand).filter((c) => c.args[0].input.QueryExecutionId === id).map((c) => c.args[0].input.NextToken);
    assert.deepEqual(tokens(result.queryIds[0]), [undefined, "1"]);
    assert.deepEqual(tokens(result.queryIds[1]), [undefined, "1", "2"]);
    // readRows itself: the header of the first page names the columns of every later page.
    assert.deepEqual(await joiner().readRows(result.queryIds[1]), [
      { split: "train", n: "7" },
      { split: "eval", n: "3" },
    ]);
  });

  it("stops at the first query when the workgroup writes results to its own location (issue 16.15)", async () => {
    fakeAthena({ workgroupLocation: "s3://workgroup-results/athena/" });
    await assert.rejects(
      joiner().join(request("j8"), rewardsLocation()),
      (e: Error) =>
        e.message.startsWith(`Athena wrote s3://workgroup-results/athena/q1.csv instead of under s3://${BUCKET}/${EXP}/athena_query_results/: workgroup primary overrides`) &&
        /sagemaker\.athena_workgroup/.test(e.message),
    );
    assert.equal(queries.length, 1, "nothing ran after the first query, so no split went to the workgroup's location");
    assert.deepEqual(await store.list(store.uriOf(`${EXP}/joined_data/j8`)), []);
  });

  it("drops its tables", async () => {
    fakeAthena();
    const dropped = await joiner().dropTables(EXP);
    const names = athenaTableNames(EXP);
    assert.deepEqual(dropped, [`cbkit_test.${names.decisions}`, `cbkit_test.${names.rewards}`, `cbkit_test.${names.joinedIds}`]);
    assert.deepEqual(
      queries.map((q) => q.sql),
      [names.decisions, names.rewards, names.joinedIds].map((t) => `DROP TABLE IF EXISTS \`cbkit_test\`.\`${t}\``),
    );
  });
});
