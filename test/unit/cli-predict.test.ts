/**
 * `bandits predict` (issue 17 goal 2): for every context of a data file, the action the model
 * draws for its event id, that action's probability and the full pmf — exactly the model's —
 * streaming through files larger than one read, in CSV or JSON lines, from any input format.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, JoinedRecord, loadModel, saveModel } from "@cbkit/common";
import { findProjectRoot } from "@cbkit/common/config";
import { joinedRecordToVw, writeJoinedCsv } from "@cbkit/common/data";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-cli-predict-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
const CLI = path.join(findProjectRoot(), "sim_app", "dist", "cli", "bandits.js");

function bandits(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const rec = (i: number): JoinedRecord => ({
  reward: i % 3 === 0 ? 1 : 0, event_id: `e,${i}`, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "m",
  observation: Array.from({ length: 9 }, (_, j) => Math.sin(i * 1.7 + j) * (j + 1)), sample_prob: 0.5,
});

async function trainedModel(): Promise<{ dir: string; learner: CbLearner }> {
  const dir = path.join(tmp, "model");
  if (!fs.existsSync(dir)) {
    const l = CbLearner.create({ numArms: 7, explorationPolicy: "softmax", lambda: 4, featureMap: "bins", numFeatures: 9, seed: 3 });
    await l.train(Array.from({ length: 2000 }, (_, i) => rec(i)));
    await saveModel(l, dir, { modelId: "predict-test", parentModelId: null });
  }
  return { dir, learner: (await loadModel(dir)).learner };
}

/** Splits one CSV line of predict's output: event id (maybe quoted), action, probability, "[pmf]". */
function parseCsvLine(line: string): { id: string; action: number; prob: number; pmf: number[] } {
  const m = /^("(?:[^"]|"")*"|[^,]*),(\d+),([^,]+),"\[([^\]]*)\]"$/.exec(line);
  assert.ok(m, `not a prediction line: ${line}`);
  const id = m[1].startsWith('"') ? m[1].slice(1, -1).replace(/""/g, '"') : m[1];
  return { id, action: Number(m[2]), prob: Number(m[3]), pmf: m[4].split(", ").map(Number) };
}

test("predict writes every row's drawn action, its probability and the model's exact pmf (CSV, and JSON lines)", async () => {
  const { dir, learner } = await trainedModel();
  const records = Array.from({ length: 300 }, (_, i) => rec(5000 + i));
  const data = path.join(tmp, "contexts.csv");
  await writeJoinedCsv(data, records);
  const out = path.join(tmp, "pred.csv");
  const r = bandits("predict", "--model", dir, "--data", data, "--out", out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /predicted 300 rows with model predict-test/);
  const lines = fs.readFileSync(out, "utf8").trimEnd().split("\n");
  assert.equal(lines[0], "event_id,action,action_prob,pmf");
  assert.equal(lines.length, 301);
  records.forEach((rec, i) => {
    const p = parseCsvLine(lines[i + 1]);
    const expected = learner.chooseAction(rec.observation, rec.event_id);
    assert.equal(p.id, rec.event_id, "the event id (quoted: it holds a comma)");
    assert.deepEqual(p.pmf, Array.from(expected.pmf), `row ${i}: the pmf, every digit`);
    assert.equal(p.action, expected.action, `row ${i}: the action chooseAction draws for this event id`);
    assert.equal(p.prob, p.pmf[p.action - 1]);
  });
  const jsonl = path.join(tmp, "pred.jsonl");
  const summary = bandits("predict", "--model", dir, "--data", data, "--out", jsonl, "--json");
  assert.equal(summary.code, 0, summary.err);
  assert.deepEqual((({ rows, skipped, format }) => ({ rows, skipped, format }))(JSON.parse(summary.out)), { rows: 300, skipped: 0, format: "jsonl" });
  const objects = fs.readFileSync(jsonl, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(objects.map((o) => [o.event_id, o.action, o.action_prob, o.pmf]), lines.slice(1).map(parseCsvLine).map((p) => [p.id, p.action, p.prob, p.pmf]));
});

test("predict streams: a file of several reads gives every row, to standard output, the summary on standard error", async () => {
  const { dir, learner } = await trainedModel();
  // About 3 MB of VW text: three reads of 1 MB.
  const n = 12_000;
  const vw = path.join(tmp, "many.vw");
  fs.writeFileSync(vw, Array.from({ length: n }, (_, i) => joinedRecordToVw(rec(i))).join("\n") + "\n");
  assert.ok(fs.statSync(vw).size > 2 * (1 << 20));
  const r = bandits("predict", "--model", dir, "--data", vw);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`predicted ${n} rows`));
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines.length, n + 1);
  for (const i of [0, 4095, 4096, n - 1]) {
    const p = parseCsvLine(lines[i + 1]);
    assert.equal(p.id, `vw-${i + 1}`, "VW text rows are named by their line");
    assert.deepEqual(p.pmf, Array.from(learner.predictPmf(rec(i).observation)));
  }
});

test("predict names a row that does not fit the model, and skips unreadable rows loudly (--strict: an error)", async () => {
  const { dir } = await trainedModel();
  const five = path.join(tmp, "five.csv");
  await writeJoinedCsv(five, [rec(1), { ...rec(2), observation: [1, 2, 3, 4, 5] }]);
  const r = bandits("predict", "--model", dir, "--data", five, "--out", path.join(tmp, "p5.csv"));
  assert.equal(r.code, 1);
  assert.match(r.err, /five\.csv:3: observation: has 5 features, the model expects 9/);
  const bad = path.join(tmp, "bad.jsonl");
  fs.writeFileSync(bad, [JSON.stringify(rec(1)), "not json", JSON.stringify(rec(2))].join("\n") + "\n");
  const loose = bandits("predict", "--model", dir, "--data", bad, "--out", path.join(tmp, "pb.csv"));
  assert.equal(loose.code, 0, loose.err);
  assert.match(loose.out, /predicted 2 rows/);
  assert.match(loose.out, /WARNING: skipped 1 row\(s\).*bad\.jsonl:2: not valid JSON/);
  const strict = bandits("predict", "--model", dir, "--data", bad, "--out", path.join(tmp, "ps.csv"), "--strict");
  assert.equal(strict.code, 1);
  assert.match(strict.err, /bad\.jsonl:2: not valid JSON.*strict mode/);
  const none = bandits("predict", "--model", dir, "--data", path.join(tmp, "missing.csv"));
  assert.equal(none.code, 2);
  assert.match(none.err, /--data: .*missing\.csv does not exist/);
});
