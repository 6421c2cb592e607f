/**
 * The SQL join on DuckDB: duplicates, late and missing rewards, the observation window, the
 * deterministic split, empty splits, and the joined CSV readable by readJoinedRecords.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { readJoinedRecords, type JoinedRecord } from "@cbkit/common";
import { splitOf, splitValueOf } from "@cbkit/common/data";
import type { JoinRequest } from "@cbkit/common/platform";
import { createLocalPlatform } from "@cbkit/common/local";
import { manager, tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("join");
const platform = createLocalPlatform({ workspace: ws });
after(async () => {
  await platform.close();
  fs.rmSync(ws, { recursive: true, force: true });
});

const T0 = 1_700_000_000; // epoch seconds
function decision(id: string, t: number, extra: Record<string, unknown> = {}) {
  return {
    event_id: id,
    action: 2,
    action_prob: 0.9,
    action_probs: [0.05, 0.9, 0.05],
    model_id: "exp-model-a",
    observation: [0.5, -1.25e-7, 3],
    sample_prob: splitValueOf(id),
    timestamp: t,
    type: "actions",
    ...extra,
  };
}
const lines = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

let counter = 0;
async function runJoin(
  decisions: Record<string, unknown[]>,
  rewards: Record<string, unknown[]>,
  options: Partial<JoinRequest> = {},
) {
  const exp = `j${++counter}`;
  for (const [file, rows] of Object.entries(decisions)) await platform.objects.put(platform.objects.uriOf(`${exp}/inference_data/${file}`), lines(rows));
  for (const [file, rows] of Object.entries(rewards)) await platform.objects.put(platform.objects.uriOf(`${exp}/rewards_data/b/${file}`), lines(rows));
  const result = await platform.join({
    experimentId: exp,
    joinJobId: `${exp}-join-1`,
    decisionsUri: platform.objects.uriOf(`${exp}/inference_data`),
    rewardsUri: platform.objects.uriOf(`${exp}/rewards_data/b`),
    ratio: 0.5,
    missingReward: "drop",
    outputTrainUri: platform.objects.uriOf(`${exp}/joined_data/${exp}-join-1/train`),
    outputEvalUri: platform.objects.uriOf(`${exp}/joined_data/${exp}-join-1/eval`),
    ...options,
  });
  const read = async (uri: string) => {
    const out: JoinedRecord[] = [];
    for await (const r of readJoinedRecords(platform.objects.pathOf(uri))) out.push(r);
    return out;
  };
  return { ...result, train: await read(result.outputTrainUri), eval: await read(result.outputEvalUri) };
}

/** Event ids that land in train (ratio 0.5) and eval, so both splits are non-empty. */
const ids = Array.from({ length: 40 }, (_, i) => `e${i}`);

test("each decision joins its reward; the split is the event-id hash; the CSV is the original's shape", async () => {
  const r = await runJoin({ "2023/11/14/22/a.jsonl": ids.map((id, i) => decision(id, T0 + i)) }, { "r.jsonl": ids.map((id, i) => ({ event_id: id, reward: i % 2, timestamp: T0 + 100 })) });
  assert.equal(r.counts.decisions, 40);
  assert.equal(r.counts.train + r.counts.eval, 40);
  for (const row of r.train) assert.equal(splitOf(row.event_id, 0.5), "train");
  for (const row of r.eval) assert.equal(splitOf(row.event_id, 0.5), "eval");
  const e7 = [...r.train, ...r.eval].find((x) => x.event_id === "e7") as JoinedRecord;
  assert.deepEqual(e7, { reward: 1, event_id: "e7", action: 2, action_prob: 0.9, model_id: "exp-model-a", observation: [0.5, -1.25e-7, 3], sample_prob: splitValueOf("e7") });
  const header = fs.readFileSync(path.join(platform.objects.pathOf(r.outputTrainUri), "part-00000.csv"), "utf8").split("\n")[0];
  assert.equal(header, '"reward","event_id","action","action_prob","model_id","observation","sample_prob"');
  // Same inputs, same split (deterministic, unlike the original's random sample_prob).
  // Decisions logged in another order (as concurrent requests arrive) give the same files in the
  // same order: sorted by event id, because the learner trains online in file order.
  const shuffled = ids.map((id, i) => decision(id, T0 + i)).reverse();
  const again = await runJoin({ "x.jsonl": shuffled }, { "r.jsonl": ids.map((id) => ({ event_id: id, reward: 1 })) });
  const sorted = (xs: string[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  assert.deepEqual(again.train.map((x) => x.event_id), sorted(r.train.map((x) => x.event_id)));
  assert.deepEqual(r.train.map((x) => x.event_id), sorted(r.train.map((x) => x.event_id)));
});

test("duplicate rewards: the earliest wins (no timestamp counts as latest); duplicate decisions: the earliest is kept", async () => {
  const r = await runJoin(
    { "a.jsonl": [...ids.map((id, i) => decision(id, T0 + i)), decision("e3", T0 + 500, { action: 5 })] },
    {
      "r1.jsonl": [...ids.map((id) => ({ event_id: id, reward: 0, timestamp: T0 + 200 })), { event_id: "e1", reward: 1 }],
      "r2.jsonl": [{ event_id: "e1", reward: 1, timestamp: T0 + 300 }, { event_id: "e2", reward: 1, timestamp: T0 + 100 }],
    },
  );
  const all = [...r.train, ...r.eval];
  assert.equal(all.length, 40);
  assert.equal(all.find((x) => x.event_id === "e1")?.reward, 0, "the earliest reward for e1 (t+200) wins");
  assert.equal(all.find((x) => x.event_id === "e2")?.reward, 1, "the t+100 reward for e2 wins");
  assert.equal(all.find((x) => x.event_id === "e3")?.action, 2, "the first logged decision of e3 is kept");
  assert.equal(r.counts.duplicateRewards, 3);
  assert.equal(r.counts.duplicateDecisions, 1);
});

test("late rewards join their old decisions; missing rewards are left out or get the default inside a window", async () => {
  const old = ids.map((id, i) => decision(id, T0 + i));
  const recent = ids.map((id, i) => decision(`n${i}`, T0 + 7200 + i));
  const rewards = [
    ...ids.map((id) => ({ event_id: id, reward: 1 })), // late: rewards for the old batch
    ...recent.slice(0, 30).map((d) => ({ event_id: d.event_id, reward: 1 })), // 10 recent decisions lack a reward
    { event_id: "ghost", reward: 1 },
  ];
  const all = await runJoin({ "old.jsonl": old, "new.jsonl": recent }, { "r.jsonl": rewards });
  assert.equal(all.counts.train + all.counts.eval, 70, "old decisions join their late rewards, missing ones are dropped");
  assert.equal(all.counts.missingRewards, 10);
  assert.equal(all.counts.unmatchedRewards, 1);

  const window = { start: new Date((T0 + 3600) * 1000).toISOString(), end: new Date((T0 + 10800) * 1000).toISOString() };
  const windowed = await runJoin({ "old.jsonl": old, "new.jsonl": recent }, { "r.jsonl": rewards }, { window });
  assert.equal(windowed.counts.decisions, 40, "only the decisions inside the window");
  assert.equal(windowed.counts.train + windowed.counts.eval, 30);
  assert.equal(windowed.counts.unmatchedRewards, 41, "rewards of decisions outside the window do not match");

  const withDefault = await runJoin({ "old.jsonl": old, "new.jsonl": recent }, { "r.jsonl": rewards }, { window, missingReward: { defaultReward: 0 } });
  const rows = [...withDefault.train, ...withDefault.eval];
  assert.equal(rows.length, 40);
  assert.equal(rows.filter((x) => x.reward === 0).length, 10);
  await assert.rejects(runJoin({ "a.jsonl": old }, { "r.jsonl": rewards }, { missingReward: { defaultReward: 0 } }), /needs an observation window/);
});

test("an empty split is an error before anything is written, naming the counts", async () => {
  await assert.rejects(
    runJoin({ "a.jsonl": ids.map((id, i) => decision(id, T0 + i)) }, { "r.jsonl": [{ event_id: "e1", reward: 1 }] }),
    /split is empty \(train \d, eval \d, decisions 40, rewards 1/,
  );
  await assert.rejects(runJoin({}, { "r.jsonl": [{ event_id: "e1", reward: 1 }] }), /no decisions to join/);
});

test("ingestJoinedData accepts the Python sample's records (numeric event ids, observation as JSON text)", async () => {
  const m = await manager(testConfig(ws), "py-1");
  const records = Array.from({ length: 60 }, (_, i) => ({
    reward: i % 2,
    event_id: 9007199254740000 + i, // a Python int arrives as a JS number (exact up to 2^53)
    action: (i % 7) + 1,
    action_prob: 1 / 7,
    model_id: "not-apply-to-warm-start",
    observation: JSON.stringify([0.1 * i, 0.2, -0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
    sample_prob: (i % 10) / 10 + 0.05,
  }));
  const j = await m.ingestJoinedData(records, 0.8);
  assert.equal(j.counts?.train, 48);
  assert.equal(j.counts?.eval, 12);
  await assert.rejects(m.ingestJoinedData([{ ...records[0], action_prob: 0 }, ...records], 0.8), /joined record 0: field 'action_prob' must be in \(0, 1\]/);
  // A 128-bit id arrives as a lossy JS number: ids that differ in Python collide here, refused as duplicates (a decision joins once).
  const lossy = records.map((r, i) => ({ ...r, event_id: 123456789012345678901234567890 + i }));
  await assert.rejects(m.ingestJoinedData(lossy, 0.8), /joined record 1: field 'event_id' "1\.2345678901234568e\+29" is also joined record 0's \(given as a number beyond 2\^53.*pass event ids as strings\)/);
  await m.close();
});
