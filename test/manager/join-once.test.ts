/**
 * A decision joins once per experiment, whatever is re-run: re-joining the same rewards joins
 * nothing twice (the holdout never holds an event id twice, so the deploy gate never compares
 * models on duplicated data), `ingestJoinedData` refuses duplicates within a call and leaves out
 * events joined before, and a join killed after copying its holdout leaves no duplicate behind.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { InvalidUsageError, JoiningError, readJoinedRecords, type ExperimentManager, type JoinedRecord } from "@cbkit/common";
import { splitValueOf } from "@cbkit/common/data";
import { manager, syntheticJoined, tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("join-once");
const opened: ExperimentManager[] = [];
after(async () => {
  for (const m of opened) await m.close().catch(() => undefined);
  fs.rmSync(ws, { recursive: true, force: true });
});

const T0 = Date.now() / 1000 - 3600;
const decision = (id: string, i: number) => ({
  event_id: id,
  action: (i % 7) + 1,
  action_prob: 1 / 7,
  action_probs: Array(7).fill(1 / 7),
  model_id: "m-a",
  observation: Array.from({ length: 9 }, (_, j) => ((i + j) % 5) / 5),
  sample_prob: splitValueOf(id),
  timestamp: T0 + i,
  type: "actions",
});

async function open(id: string): Promise<{ m: ExperimentManager; logs: string[] }> {
  const logs: string[] = [];
  const m = await manager(testConfig(ws), id, { log: (s) => logs.push(s) });
  opened.push(m);
  return { m, logs };
}

/** Writes decisions into the experiment's decision log, as the endpoint would. */
async function logDecisions(m: ExperimentManager, file: string, ids: string[], first = 0): Promise<void> {
  const text = ids.map((id, i) => JSON.stringify(decision(id, first + i))).join("\n") + "\n";
  await m.platform.objects.put(m.platform.objects.uriOf(`${m.experimentId}/inference_data/2026/01/01/00/${file}`), text);
}

async function records(m: ExperimentManager, uri: string): Promise<JoinedRecord[]> {
  const out: JoinedRecord[] = [];
  if ((await m.platform.objects.list(uri)).length === 0) return out;
  for await (const r of readJoinedRecords(fileURLToPath(uri))) out.push(r);
  return out;
}

/** The holdout's event ids; fails when one is there twice. */
async function holdoutIds(m: ExperimentManager): Promise<string[]> {
  const ids = (await records(m, m.holdoutDataUri)).map((r) => r.event_id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.deepEqual(twice, [], "no event id is in the holdout twice");
  return ids;
}

const rewardsFor = (ids: string[]) => ids.map((id, i) => ({ event_id: id, reward: i % 2 }));

test("re-joining the same rewards joins nothing twice; a later join leaves out the events joined before and says so", async () => {
  const { m, logs } = await open("jo-rejoin");
  const ids = Array.from({ length: 300 }, (_, i) => `d-${i}`);
  await logDecisions(m, "a.jsonl", ids);
  const first = await m.ingestRewards(rewardsFor(ids.slice(0, 217)));
  const j1 = await m.join(first);
  assert.equal((j1.counts?.train ?? 0) + (j1.counts?.eval ?? 0), 217);
  assert.equal(j1.counts?.alreadyJoined, 0);
  const holdout1 = await holdoutIds(m);
  assert.equal(holdout1.length, j1.counts?.eval);

  // The same rewards again (a re-run cell): nothing new, so the join fails saying so; the holdout stays.
  await assert.rejects(m.join(first), (e: unknown) => e instanceof JoiningError && /already joined 217/.test(e.message) && /every rewarded decision was joined before/.test(e.message));
  const failed = (await m.listJoinJobs()).find((j) => j.current_state === "FAILED");
  assert.equal(failed?.counts?.alreadyJoined, 217, "the failed join record counts what it left out");
  assert.deepEqual((await holdoutIds(m)).sort(), [...holdout1].sort(), "the holdout is unchanged (n stays, the interval does not narrow)");
  assert.equal(m.lastJoinedJobId, j1.join_job_id);

  // 50 old events again plus 60 new ones: only the new ones join; the log says what was left out.
  const second = await m.ingestRewards(rewardsFor([...ids.slice(0, 50), ...ids.slice(217, 277)]));
  const j3 = await m.join(second);
  assert.equal((j3.counts?.train ?? 0) + (j3.counts?.eval ?? 0), 60);
  assert.equal(j3.counts?.alreadyJoined, 50);
  assert.ok(logs.some((l) => l.startsWith(`WARNING: join ${j3.join_job_id}: 50 decision(s) left out: an earlier successful join`)), logs.join("\n"));
  const joined3 = [...(await records(m, j3.output_joined_train_data_s3_path)), ...(await records(m, j3.output_joined_eval_data_s3_path))];
  assert.ok(joined3.every((r) => ids.indexOf(r.event_id) >= 217), "only new events in the new join");
  assert.equal((await holdoutIds(m)).length, (j1.counts?.eval ?? 0) + (j3.counts?.eval ?? 0));
});

test("a join killed after copying its holdout: the copy is removed before the next join, so no event is in the holdout twice", async () => {
  const { m, logs } = await open("jo-killed");
  const ids = Array.from({ length: 120 }, (_, i) => `k-${i}`);
  await logDecisions(m, "a.jsonl", ids);
  const rewards = await m.ingestRewards(rewardsFor(ids));
  // What a join killed between copying its eval split to the holdout and saying SUCCEEDED leaves:
  // a holdout folder of a join that never succeeded, holding events that have not joined.
  const killedJoin = `${m.experimentId}-join-0000000000ab`;
  const strayRows = ids.filter((id) => splitValueOf(id) > 0.8).map((id, i) => `"${i % 2}","${id}","1","0.14285714285714285","m-a","[0, 0.2]","${splitValueOf(id)}"`);
  await m.platform.objects.put(
    `${m.holdoutDataUri}/${killedJoin}/part-00000.csv`,
    ['"reward","event_id","action","action_prob","model_id","observation","sample_prob"', ...strayRows].join("\n") + "\n",
  );
  const j = await m.join(rewards);
  assert.equal((j.counts?.train ?? 0) + (j.counts?.eval ?? 0), 120, "the killed join's events join now");
  assert.ok(logs.some((l) => l.includes(`removed the holdout copies of 1 join(s) that did not succeed (${killedJoin})`)), logs.join("\n"));
  assert.equal((await holdoutIds(m)).length, j.counts?.eval);
});

test("ingestJoinedData: duplicates within a call are refused naming both; events joined before are left out and counted; nothing new is refused before a step starts", async () => {
  const { m, logs } = await open("jo-ingest");
  const recs = syntheticJoined(200, "i");
  await assert.rejects(
    m.ingestJoinedData([...recs.slice(0, 10), { ...recs[3], reward: 1 - recs[3].reward }], 0.8),
    (e: unknown) => e instanceof InvalidUsageError && /^joined record 10: field 'event_id' "i-3" is also joined record 3's: a decision joins once/.test(e.message),
  );
  assert.equal((await m.listJoinJobs()).length, 0, "refused before any step");

  const j1 = await m.ingestJoinedData(recs.slice(0, 100), 0.8);
  assert.equal((j1.counts?.train ?? 0) + (j1.counts?.eval ?? 0), 100);
  const j2 = await m.ingestJoinedData(recs.slice(50, 200), 0.8);
  assert.equal(j2.counts?.alreadyJoined, 50);
  assert.equal((j2.counts?.train ?? 0) + (j2.counts?.eval ?? 0), 100);
  assert.ok(logs.some((l) => l.startsWith(`WARNING: join ${j2.join_job_id}: 50 decision(s) left out`)));
  const joins = (await m.listJoinJobs()).length;
  await assert.rejects(m.ingestJoinedData(recs.slice(0, 150), 0.8), (e: unknown) => e instanceof JoiningError && /all 150 records were joined before/.test(e.message));
  assert.equal((await m.listJoinJobs()).length, joins, "nothing new: no join job was started");
  assert.equal((await holdoutIds(m)).length, (j1.counts?.eval ?? 0) + (j2.counts?.eval ?? 0));

  // The SQL join knows the events ingested on the client side too: one rule for both paths.
  await logDecisions(m, "b.jsonl", [...recs.slice(0, 30).map((r) => r.event_id), ...Array.from({ length: 40 }, (_, i) => `new-${i}`)]);
  const j3 = await m.join(await m.ingestRewards(rewardsFor([...recs.slice(0, 30).map((r) => r.event_id), ...Array.from({ length: 40 }, (_, i) => `new-${i}`)])));
  assert.equal(j3.counts?.alreadyJoined, 30);
  assert.equal((j3.counts?.train ?? 0) + (j3.counts?.eval ?? 0), 40);
  await holdoutIds(m);
});
