/**
 * Rows that must not poison the loop (issue 16 items 1, 2, 4): torn lines in the decision log,
 * hand-written rewards that are not numbers or carry an impossible time, features of 1e308 (at the
 * endpoint, at ingest, in an old holdout), training that skips rows, and a parent model with a NaN
 * weight. Each is refused with the field and the bound, or left out with a count and a warning.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidUsageError, JoiningError, TrainingJobError, type ExperimentManager } from "@cbkit/common";
import { splitValueOf } from "@cbkit/common/data";
import { manager, syntheticJoined, tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("bad-rows");
const opened: ExperimentManager[] = [];
after(async () => {
  for (const m of opened) await m.close().catch(() => undefined);
  fs.rmSync(ws, { recursive: true, force: true });
});

async function open(id: string): Promise<{ m: ExperimentManager; logs: string[] }> {
  const logs: string[] = [];
  const m = await manager(testConfig(ws), id, { log: (s) => logs.push(s) });
  opened.push(m);
  return { m, logs };
}

const T0 = Date.now() / 1000 - 3600;
const decisionLine = (id: string, i: number) =>
  JSON.stringify({
    event_id: id,
    action: (i % 7) + 1,
    action_prob: 1 / 7,
    model_id: "m-a",
    observation: Array.from({ length: 9 }, (_, j) => ((i + j) % 5) / 5),
    sample_prob: splitValueOf(id),
    timestamp: T0 + i,
    type: "actions",
  });
const HEADER = '"reward","event_id","action","action_prob","model_id","observation","sample_prob"';
const csvRow = (r: { reward: number; event_id: string; action: number; action_prob: number; observation: number[] }) =>
  `"${r.reward}","${r.event_id}","${r.action}","${r.action_prob}","m","[${r.observation.join(", ")}]","0.5"`;

test("torn lines in the decision log (a crash, a full disk) are left out with a count and a warning naming the file; the join goes on", async () => {
  const { m, logs } = await open("br-torn");
  const ids = Array.from({ length: 60 }, (_, i) => `t-${i}`);
  const lines = ids.map(decisionLine);
  // Line 11 is a half line with the next decision glued to it (an old endpoint appended after a
  // short write); the file ends in a half line (killed mid-write).
  const text = [...lines.slice(0, 10), '{"event_id":"t-10","action":3,"act' + lines[11], ...lines.slice(12)].join("\n") + "\n" + '{"event_id":"t-99","act';
  await m.platform.objects.put(m.platform.objects.uriOf(`${m.experimentId}/inference_data/2026/01/01/00/decisions-1-1.jsonl`), text);
  const j = await m.join(await m.ingestRewards(ids.map((id, i) => ({ event_id: id, reward: i % 2 }))));
  assert.equal(j.counts?.malformedDecisions, 2);
  assert.equal((j.counts?.train ?? 0) + (j.counts?.eval ?? 0), 58, "every whole line joins; t-10 and t-11 were lost in the torn line");
  assert.ok(logs.some((l) => /^WARNING: join .*: decision log .*inference_data\/2026\/01\/01\/00\/decisions-1-1\.jsonl: 2 unreadable line\(s\) left out \(a line torn by a crash or a full disk/.test(l)), logs.join("\n"));
});

test("a rewards file with NaN, text, 7 and impossible timestamps: those rows are left out and counted, and −1e20 never wins 'earliest'", async () => {
  const { m, logs } = await open("br-rewards");
  const ids = Array.from({ length: 40 }, (_, i) => `r-${i}`);
  await m.platform.objects.put(m.platform.objects.uriOf(`${m.experimentId}/inference_data/a.jsonl`), ids.map(decisionLine).join("\n") + "\n");
  const later = T0 + 100;
  const rows = [
    ...ids.map((id) => JSON.stringify({ event_id: id, reward: 1, timestamp: later })),
    JSON.stringify({ event_id: "r-0", reward: "NaN", timestamp: T0 }),
    '{"event_id": "r-1", "reward": NaN, "timestamp": ' + T0 + "}",
    JSON.stringify({ event_id: "r-2", reward: "abc", timestamp: T0 }),
    JSON.stringify({ event_id: "r-3", reward: 7, timestamp: T0 }),
    JSON.stringify({ event_id: "r-4", reward: 0, timestamp: -1e20 }),
    JSON.stringify({ event_id: "r-5", reward: 0, timestamp: T0 * 1000 }),
  ];
  // A hand-written file in the rewards folder, next to nothing the kit wrote.
  const folder = m.platform.objects.uriOf(`${m.experimentId}/rewards_data/by-hand`);
  await m.platform.objects.put(`${folder}/rewards.jsonl`, rows.join("\n") + "\n");
  const j = await m.join(folder);
  assert.equal(j.counts?.invalidRewards, 4, "NaN (twice), text, 7");
  assert.equal(j.counts?.invalidRewardTimes, 2, "−1e20 and milliseconds");
  assert.equal((j.counts?.train ?? 0) + (j.counts?.eval ?? 0), 40);
  const joined = [j.output_joined_train_data_s3_path, j.output_joined_eval_data_s3_path]
    .flatMap((uri) => fs.readdirSync(fileURLToPath(uri)).map((f) => fs.readFileSync(path.join(fileURLToPath(uri), f), "utf8")))
    .join("\n");
  const rewards = joined.split("\n").filter((l) => l.startsWith('"') && !l.startsWith('"reward"')).map((l) => l.split(",")[0]);
  assert.deepEqual([...new Set(rewards)], ['"1.0"'], "no invalid reward reached the joined data: every joined reward is the valid 1");
  assert.match(joined, /"1\.0","r-4"/, "the valid, later reward of r-4 won, not the one stamped −1e20");
  assert.ok(logs.some((l) => /WARNING: join .*: 4 reward row\(s\) left out: the reward is not a number in \[min_reward, max_reward\]/.test(l)));
  assert.ok(logs.some((l) => /WARNING: join .*: 2 reward row\(s\) left out: the timestamp is not epoch seconds between 2000-01-01 and one day after now/.test(l)));
  // Every reward invalid: the join fails saying why, instead of joining nothing quietly.
  const bad = m.platform.objects.uriOf(`${m.experimentId}/rewards_data/all-bad`);
  await m.platform.objects.put(`${bad}/rewards.jsonl`, ids.map((id) => JSON.stringify({ event_id: id, reward: "NaN" })).join("\n") + "\n");
  await assert.rejects(m.join(bad), (e: unknown) => e instanceof JoiningError && /invalid rewards 40/.test(e.message));
});

test("ingestRewards refuses a timestamp before 2000, in milliseconds, or NaN, naming the field and the rule", async () => {
  const { m } = await open("br-times");
  const refused = async (timestamp: number, pattern: RegExp) =>
    assert.rejects(m.ingestRewards([{ event_id: "a", reward: 1, timestamp }]), (e: unknown) => e instanceof InvalidUsageError && pattern.test(e.message));
  await refused(-1e20, /^reward 0: field 'timestamp' must be epoch seconds between 2000-01-01 and one day after now, got -100000000000000000000/);
  await refused(Date.now(), /got \d+ \(it looks like milliseconds: divide by 1000\)/);
  await refused(Number.NaN, /field 'timestamp' must be epoch seconds .*got NaN/);
  await refused(946684799, /field 'timestamp'/);
  assert.match(await m.ingestRewards([{ event_id: "a", reward: 1, timestamp: Date.now() / 1000 }]), /rewards_data/);
});

test("features of 1e308: ingestJoinedData refuses them naming the field and the bound; an old holdout holding them is evaluated without them, saying so", async () => {
  const { m } = await open("br-poison");
  const recs = syntheticJoined(200, "p");
  await assert.rejects(
    m.ingestJoinedData([...recs.slice(0, 5), { ...recs[5], observation: recs[5].observation.map((v, j) => (j === 4 ? 1e308 : v)) }], 0.8),
    (e: unknown) => e instanceof InvalidUsageError && /^joined record 5: field 'observation\[4\]' must be a finite number within ±1e9 \(the kit's numeric contract\), got 1e\+308/.test(e.message),
  );
  await m.ingestJoinedData(recs, 0.8);
  await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData });
  // An old kit logged ten such decisions and joined them into the holdout (it keeps them for good).
  const poisoned = syntheticJoined(10, "old").map((r) => ({ ...r, observation: r.observation.map(() => 1e308) }));
  await m.platform.objects.put(`${m.holdoutDataUri}/${m.experimentId}-join-0000000000zz/part-00000.csv`, [HEADER, ...poisoned.map(csvRow)].join("\n") + "\n");
  const score = await m.evaluateModel({ inputDataUri: m.holdoutDataUri });
  assert.ok(Number.isFinite(score.value) && Number.isFinite(score.ci.lower) && Number.isFinite(score.ci.upper), JSON.stringify(score));
  assert.ok(score.warnings.some((w) => /10/.test(w) && /skipped/i.test(w)), `the score says rows were skipped: ${score.warnings.join("; ")}`);
});

test("training that skips rows says so in the model record and the log; skipping every row fails the job; a NaN parent never gives a Completed model", async () => {
  const { m, logs } = await open("br-train");
  await m.initializeFirstModel();
  const good = syntheticJoined(30, "g");
  const badRows = [
    csvRow({ ...good[0], event_id: "b-1", observation: good[0].observation.map(() => 1e308) }),
    csvRow({ ...good[1], event_id: "b-2", action_prob: 0 }),
    `"NaN","b-3","1","0.5","m","[${good[2].observation.join(", ")}]","0.5"`,
  ];
  const upload = (name: string, lines: string[]) => {
    const uri = m.platform.objects.uriOf(`${m.experimentId}/uploads/${name}`);
    return m.platform.objects.put(`${uri}/data.csv`, [HEADER, ...lines].join("\n") + "\n").then(() => uri);
  };
  const mixed = await upload("mixed", [...good.map(csvRow), ...badRows]);
  const model = await m.trainNextModel({ inputDataUri: mixed });
  assert.equal(model.train_state, "Completed");
  assert.equal(model.training_rows?.used, 30);
  assert.equal(model.training_rows?.skipped, 3);
  assert.match(model.training_rows?.first_skipped.join("\n") ?? "", /observation\[0\] must be a finite number within ±1e9/);
  assert.ok(logs.some((l) => l.startsWith(`WARNING: training ${model.model_id} skipped 3 of 33 row(s)`)), logs.join("\n"));

  const allBad = await upload("all-bad", badRows);
  await assert.rejects(m.trainNextModel({ inputDataUri: allBad }), (e: unknown) => e instanceof TrainingJobError && /0 records to train on/.test(e.message));

  // A parent whose weights hold NaN (as an overflowing older kit left it, checksum intact).
  const dir = fileURLToPath(model.s3_model_output_path as string);
  const weights = fs.readFileSync(path.join(dir, "weights.bin"));
  const meta = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8")) as { weights: { rows: number; sha256: string } };
  weights.writeDoubleLE(Number.NaN, Math.ceil((meta.weights.rows * 4) / 8) * 8);
  meta.weights.sha256 = createHash("sha256").update(weights).digest("hex");
  fs.writeFileSync(path.join(dir, "weights.bin"), weights);
  fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(meta));
  await assert.rejects(
    m.trainNextModel({ inputDataUri: mixed, inputModelId: model.model_id }),
    (e: unknown) => e instanceof TrainingJobError && /numbers that are not finite/.test(e.message),
  );
  const last = (await m.listModels()).at(-1);
  assert.equal(last?.input_model_id, model.model_id);
  assert.equal(last?.train_state, "Failed", "never Completed");
  assert.match(last?.failure_reason ?? "", /weights\.bin holds 1 numbers that are not finite/);
});
