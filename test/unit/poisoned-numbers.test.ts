/**
 * Poisoned numbers (issue 16 item 2): the numeric contract (data/numbers.ts: finite, within ±1e9)
 * holds in config.yaml, in the learner's row check (training skips and names such rows, the CLI
 * too) and in model files: a model with a NaN or infinite weight is never saved, and one on disk
 * is never loaded.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, ConfigError, LearnerError, ModelFormatError, loadConfig, loadModel, saveModel, type JoinedRecord } from "@cbkit/common";
import { JOINED_CSV_HEADER, joinedCsvLine } from "@cbkit/common/data";
import { findProjectRoot } from "@cbkit/common/config";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-poisoned-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
const CLI = path.join(findProjectRoot(), "sim_app", "dist", "cli", "bandits.js");

const rec = (i: number, poison?: number): JoinedRecord => ({
  reward: i % 3 === 0 ? 1 : 0,
  event_id: `p${i}`,
  action: (i % 7) + 1,
  action_prob: 1 / 7,
  model_id: "m",
  observation: Array.from({ length: 9 }, (_, j) => (poison !== undefined && j === 2 ? poison : Math.sin(i + j))),
  sample_prob: 0.5,
});

const learner = () => CbLearner.create({ numArms: 7, explorationPolicy: "egreedy", epsilon: 0.1, seed: 1, numFeatures: 9 });

test("training skips a row with a feature of 1e308 or a reward of 1e12, naming the row and the contract; the model stays finite and loads", async () => {
  const l = learner();
  const rows = [...Array.from({ length: 30 }, (_, i) => rec(i)), rec(30, 1e308), rec(31, -2e9), { ...rec(32), reward: 1e12 }];
  const report = await l.train(rows);
  assert.equal(report.used, 30);
  assert.equal(report.skipped, 3);
  assert.match(report.reasons[0], /row 31 \(event_id p30\): observation\[2\]: must be a finite number within ±1e9 \(the kit's numeric contract\), got 1e\+308/);
  assert.match(report.reasons[1], /observation\[2\]: must be a finite number within ±1e9 .*got -2000000000/);
  assert.match(report.reasons[2], /reward: must be a finite number within ±1e9 .*got 1000000000000/);
  await saveModel(l, path.join(tmp, "finite"), { modelId: "finite", parentModelId: null });
  const { learner: back } = await loadModel(path.join(tmp, "finite"));
  assert.ok(Array.from(back.predictPmf(rec(1).observation)).every(Number.isFinite));
});

test("a learner with a NaN weight is not saved: the error names the count, the cell and the cause", async () => {
  const l = learner();
  await l.train(Array.from({ length: 20 }, (_, i) => rec(i)));
  l.gd.store.w[5] = Number.NaN;
  l.gd.store.g[7] = Number.POSITIVE_INFINITY;
  const dir = path.join(tmp, "nan-save");
  await assert.rejects(
    saveModel(l, dir, { modelId: "nan-model", parentModelId: null }),
    (e: unknown) => e instanceof LearnerError && /model nan-model was not saved: 2 of its numbers are not finite \(the weight of row \d+, column \d+ is NaN\).*Training overflowed/.test(e.message),
  );
  assert.ok(!fs.existsSync(path.join(dir, "model.json")), "nothing saved");
});

test("a model file whose weights hold NaN (checksum intact) is refused on load, naming the file and the cell", async () => {
  const l = learner();
  await l.train(Array.from({ length: 20 }, (_, i) => rec(i)));
  const dir = path.join(tmp, "nan-load");
  await saveModel(l, dir, { modelId: "tampered", parentModelId: null });
  // Write a NaN into the last weight cell, and a matching checksum, as a buggy writer would.
  const weights = fs.readFileSync(path.join(dir, "weights.bin"));
  const meta = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8")) as { weights: { rows: number; width: number; sha256: string } };
  const head = Math.ceil((meta.weights.rows * 4) / 8) * 8;
  weights.writeDoubleLE(Number.NaN, head);
  meta.weights.sha256 = createHash("sha256").update(weights).digest("hex");
  fs.writeFileSync(path.join(dir, "weights.bin"), weights);
  fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(meta));
  await assert.rejects(
    loadModel(dir),
    (e: unknown) => e instanceof ModelFormatError && /weights\.bin holds 1 numbers that are not finite \(the weight of row 0, column 0 is NaN\).*train it again/.test(e.message),
  );
});

test("bandits train on data with features of 1e308: those rows are skipped and named, the model loads; all such rows: exit 1, no model", async () => {
  const mixed = path.join(tmp, "mixed.csv");
  fs.writeFileSync(mixed, [JOINED_CSV_HEADER, ...Array.from({ length: 40 }, (_, i) => joinedCsvLine(rec(i, i % 4 === 0 ? 1e308 : undefined)))].join("\n") + "\n");
  const out = path.join(tmp, "cli-mixed");
  const r = spawnSync(process.execPath, [CLI, "train", "--data", mixed, "--out", out, "--no-config"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /WARNING: skipped 10 row\(s\).*mixed\.csv:2: observation\[2\] must be a finite number within ±1e9/s);
  const { learner: back } = await loadModel(out);
  assert.ok(Array.from(back.predictPmf(rec(1).observation)).every(Number.isFinite));

  const poisoned = path.join(tmp, "poisoned.csv");
  fs.writeFileSync(poisoned, [JOINED_CSV_HEADER, ...Array.from({ length: 10 }, (_, i) => joinedCsvLine(rec(i, 1e308)))].join("\n") + "\n");
  const none = path.join(tmp, "cli-poisoned");
  const bad = spawnSync(process.execPath, [CLI, "train", "--data", poisoned, "--out", none, "--no-config"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /all 10 .*skipped|0 records to train on/);
  assert.ok(!fs.existsSync(path.join(none, "model.json")), "no model written");
});

test("config.yaml: every number keeps the contract (1e308, .inf), integers stay exact, and default_reward lies in the reward range", () => {
  const base = fs.readFileSync(path.join(findProjectRoot(), "config.yaml"), "utf8");
  const write = (name: string, text: string) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const refused = (file: string, key: string, pattern: RegExp) => {
    assert.throws(() => loadConfig(file), (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === key && pattern.test(i.expected)));
  };
  refused(write("lr.yaml", base.replace(/^(\s+)epsilon: .*$/m, "$1epsilon: 0.001\n$1learning_rate: 1e308")), "algor.algorithms_parameters.learning_rate", /every number in config\.yaml is a finite number within ±1e9 \(the kit's numeric contract\)/);
  refused(write("inf.yaml", base.replace(/^(\s+)epsilon: .*$/m, "$1epsilon: .inf")), "algor.algorithms_parameters.epsilon", /within ±1e9/);
  refused(write("seed.yaml", base.replace(/^seed: .*$/m, "seed: 1e300")), "seed", /an exact integer \(at most 9007199254740991 in size\)/);
  refused(write("default.yaml", base.replace(/^(\s+)default_reward: .*$/m, "$1default_reward: 7")), "workflow.default_reward", /a reward in \[0, 1\] or null: it is 7, outside the possible rewards/);
  // A seed that is a real epoch time stays allowed: integers are exact, not bounded by 1e9.
  assert.equal(loadConfig(write("epoch-seed.yaml", base.replace(/^seed: .*$/m, "seed: 1712345678"))).seed, 1712345678);
});
