/**
 * The training and evaluation containers with bad input (issue 10 items 5, 6, 7; issue 11 item 6):
 * a fresh model fixes its feature count from num_features, data that does not fit the config
 * fails the job naming config.yaml's key, 0 records never give a Completed job, and evaluation
 * scores are clipped to the possible costs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JoinedRecord, loadModel, type OpeEstimate } from "@cbkit/common";
import { findProjectRoot } from "@cbkit/common/config";
import { JOINED_CSV_HEADER, writeJoinedCsv } from "@cbkit/common/data";
import { parseScore } from "@cbkit/common/ope";
import { Rng } from "@cbkit/common/util";
import { jobPaths, trainJob, evaluateJob } from "@cbkit/common/container";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-container-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
let jobs = 0;

const HP = { num_arms: "7", num_features: "9", exploration_policy: "egreedy", epsilon: "0.05", seed: "1" };

function rec(i: number, dim = 9): JoinedRecord {
  const rng = new Rng(i);
  const observation = Array.from({ length: dim }, () => rng.normal());
  const action = rng.int(7) + 1;
  return { reward: observation[0] > 0 === action <= 3 ? 1 : 0, event_id: `e${i}`, action, action_prob: 1 / 7, model_id: "m", observation, sample_prob: 0.5 };
}

/** A job root with hyperparameters and channels (records written as CSV, or raw file text). */
async function job(hp: Record<string, string>, channels: Partial<Record<"training" | "evaluation", JoinedRecord[] | string>>, pretrained?: string) {
  const root = path.join(tmp, `job-${++jobs}`);
  const paths = jobPaths(root);
  fs.mkdirSync(path.dirname(paths.hyperparameters), { recursive: true });
  fs.writeFileSync(paths.hyperparameters, JSON.stringify({ model_id: `model-${jobs}`, ...hp }));
  for (const [name, data] of Object.entries(channels)) {
    const dir = paths.channel(name as "training");
    fs.mkdirSync(dir, { recursive: true });
    if (typeof data === "string") fs.writeFileSync(path.join(dir, "data.csv"), data);
    else await writeJoinedCsv(path.join(dir, "data.csv"), data);
  }
  if (pretrained) fs.cpSync(pretrained, paths.channel("pretrained_model"), { recursive: true });
  const lines: string[] = [];
  return { paths, lines, log: (l: string) => lines.push(l) };
}

test("a fresh model without data fixes its feature count from num_features and refuses other counts", async () => {
  const j = await job(HP, {});
  await trainJob(j.paths, j.log);
  const { learner } = await loadModel(j.paths.modelDir);
  assert.equal(learner.numFeatures, 9);
  assert.throws(() => learner.predictPmf([1, 2, 3]), /context: has 3 features, the model expects 9 \(num_features: config\.yaml algor\.algorithms_parameters\.num_features\)/);
  // The next training (warm start from it) refuses rows with another count instead of dropping them.
  const next = await job(HP, { training: [rec(1, 5), rec(2, 5)] }, j.paths.modelDir);
  await assert.rejects(trainJob(next.paths, next.log), /data\.csv:2: observation: has 5 features, the model expects 9 \(num_features: config\.yaml algor\.algorithms_parameters\.num_features\)/);
  assert.ok(!fs.existsSync(path.join(next.paths.modelDir, "model.json")), "no model saved");
});

test("a training file mixing feature counts fails the job instead of training on the first count", async () => {
  const j = await job(HP, { training: [rec(1), rec(2), rec(3, 5)] });
  await assert.rejects(trainJob(j.paths, j.log), /data\.csv:4: observation: has 5 features, the model expects 9/);
});

test("an action beyond num_arms fails the job naming config.yaml's num_arms", async () => {
  const j = await job({ ...HP, num_arms: "5" }, { training: [rec(1), { ...rec(2), action: 7 }] });
  await assert.rejects(trainJob(j.paths, j.log), /action: is 7, beyond the model's 5 actions \(num_arms: config\.yaml algor\.algorithms_parameters\.num_arms\)/);
});

test("a warm start whose parent model has another shape than the config fails naming the key", async () => {
  const first = await job(HP, { training: Array.from({ length: 50 }, (_, i) => rec(i)) });
  await trainJob(first.paths, first.log);
  const arms = await job({ ...HP, num_arms: "6" }, { training: [rec(1)] }, first.paths.modelDir);
  await assert.rejects(trainJob(arms.paths, arms.log), /parent model model-\d+ has 7 actions but num_arms is 6 \(config\.yaml algor\.algorithms_parameters\.num_arms\)/);
  const feats = await job({ ...HP, num_features: "4" }, { training: [rec(1)] }, first.paths.modelDir);
  await assert.rejects(trainJob(feats.paths, feats.log), /parent model model-\d+ has 9 features but num_features is 4 \(config\.yaml algor\.algorithms_parameters\.num_features\)/);
});

test("a reward outside [min_reward, max_reward] fails the job naming the record and the keys", async () => {
  const j = await job(HP, { training: [rec(1), { ...rec(2), reward: 7 }] });
  await assert.rejects(trainJob(j.paths, j.log), /data\.csv:3: reward: is 7, outside the possible rewards \[0, 1\] \(min_reward \/ max_reward: config\.yaml workflow\.min_reward \/ workflow\.max_reward\)/);
  const wide = await job({ ...HP, min_reward: "-1", max_reward: "10" }, { training: [rec(1), { ...rec(2), reward: 7 }] });
  assert.equal((await trainJob(wide.paths, wide.log)).used, 2);
});

test("0 records never give a model: empty channel, empty file, header only, every row skipped", async () => {
  const cases: [string | undefined, RegExp][] = [
    [undefined, /training channel .* is empty/],
    ["", /gave 0 records to train on: no usable record: .*data\.csv is empty/],
    [JOINED_CSV_HEADER + "\n", /data\.csv has a header but no rows/],
    [JOINED_CSV_HEADER + '\n"1","e","2","0","m","[1,2,3,4,5,6,7,8,9]","0.5"\n', /all 1 row\(s\) skipped.*action_prob must be in \(0, 1\]/],
  ];
  for (const [text, re] of cases) {
    const j = await job(HP, {});
    fs.mkdirSync(j.paths.channel("training"), { recursive: true });
    if (text !== undefined) fs.writeFileSync(path.join(j.paths.channel("training"), "data.csv"), text);
    await assert.rejects(trainJob(j.paths, j.log), re);
    assert.ok(!fs.existsSync(path.join(j.paths.modelDir, "model.json")));
  }
});

test("skipped rows are logged loudly; hyperparameter strict=true fails on them", async () => {
  const text = JOINED_CSV_HEADER + "\n" + '"1","e","2","0","m","[1,2,3,4,5,6,7,8,9]","0.5"\n';
  const loose = await job(HP, { training: text });
  await writeJoinedCsv(path.join(loose.paths.channel("training"), "more.csv"), [rec(1), rec(2)]);
  const out = await trainJob(loose.paths, loose.log);
  assert.equal(out.used, 2);
  assert.equal(out.skipped, 1);
  assert.ok(loose.lines.some((l) => /WARNING: skipped 1 malformed row/.test(l)), loose.lines.join("\n"));
  assert.ok(loose.lines.some((l) => /skipped .*data\.csv:2: action_prob must be in \(0, 1\]/.test(l)));
  const strict = await job({ ...HP, strict: "true" }, { training: text });
  await assert.rejects(trainJob(strict.paths, strict.log), /data\.csv:2: action_prob must be in \(0, 1\].*strict mode/);
  const bad = await job({ ...HP, strict: "maybe" }, { training: text });
  await assert.rejects(trainJob(bad.paths, bad.log), /hyperparameter 'strict' must be true or false, got 'maybe'/);
});

test("the evaluation's score.json is its estimate, and rows it skipped are among the score's warnings", async () => {
  const model = await job(HP, { training: Array.from({ length: 100 }, (_, i) => rec(i)) });
  await trainJob(model.paths, model.log);
  const text = JOINED_CSV_HEADER + "\n" + '"1","e","2","0","m","[1,2,3,4,5,6,7,8,9]","0.5"\n';
  const j = await job({ cfa_type: "dr", seed: "1" }, { evaluation: text }, model.paths.modelDir);
  await writeJoinedCsv(path.join(j.paths.channel("evaluation"), "more.csv"), Array.from({ length: 40 }, (_, i) => rec(500 + i)));
  const score = await evaluateJob(j.paths, j.log);
  assert.equal(score.n, 40);
  assert.match(score.warnings[score.warnings.length - 1], /^1 malformed row\(s\) of the evaluation data were skipped/);
  assert.deepEqual(parseScore(fs.readFileSync(path.join(j.paths.modelDir, "score.json"), "utf8"), "score.json"), score);
});

test("the training process exits 1 and writes output/failure when the data does not fit (a real process)", async () => {
  const j = await job({ ...HP, num_arms: "3" }, { training: [rec(1), { ...rec(2), action: 6 }] });
  const script = path.join(findProjectRoot(), "common", "dist", "container", "train.js");
  const r = spawnSync(process.execPath, [script, "--root", j.paths.root], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(fs.readFileSync(j.paths.failureFile, "utf8"), /ConfigMismatchError: .*action: is 6, beyond the model's 3 actions \(num_arms: config\.yaml algor\.algorithms_parameters\.num_arms\)/);
});

test("evaluation clips the score and its interval to the possible costs and says so", async () => {
  // A target that always picks the action rarely logged: a few large weights push IPS's interval past 1.
  const model = await job(HP, { training: Array.from({ length: 300 }, (_, i) => rec(i)) });
  await trainJob(model.paths, model.log);
  const logged = Array.from({ length: 60 }, (_, i) => ({ ...rec(1000 + i), reward: 0, action_prob: 0.02 }));
  const j = await job({ cfa_type: "ips", seed: "1" }, { evaluation: logged }, model.paths.modelDir);
  const score: OpeEstimate = await evaluateJob(j.paths, j.log);
  assert.ok(score.value <= 1 && score.ci.upper <= 1 && score.ci.lower >= 0, JSON.stringify(score));
  assert.deepEqual(score.range, { lower: 0, upper: 1 });
  assert.ok(score.clipped.length > 0, "the result says what was clipped");
  assert.ok(j.lines.some((l) => /clipped to the possible costs \[0, 1\]/.test(l)), j.lines.join("\n"));
  // A reward outside the range is refused, naming the row and the keys.
  const bad = await job({ cfa_type: "dr" }, { evaluation: [rec(1), { ...rec(2), reward: 3 }] }, model.paths.modelDir);
  await assert.rejects(evaluateJob(bad.paths, bad.log), /row 1: reward is 3, outside the possible rewards \[0, 1\] \(min_reward \/ max_reward: config\.yaml workflow\.min_reward \/ workflow\.max_reward\) \(event_id e2\)/);
});

// ---------------------------------------------------------------- issue 14 item 9: a retrained model and the config's settings

/** A first model trained on 50 records with HP plus `hp`; returns its folder. */
async function firstModel(hp: Record<string, string> = {}): Promise<string> {
  const first = await job({ ...HP, ...hp }, { training: Array.from({ length: 50 }, (_, i) => rec(i)) });
  await trainJob(first.paths, first.log);
  return first.paths.modelDir;
}

test("retraining applies the config's tunable settings (epsilon, the policy's own parameters, learning rate) to the next model", async () => {
  const parent = await firstModel();
  const next = await job({ ...HP, epsilon: "0.2", learning_rate: "0.25", power_t: "0.4", min_probability: "0.01" }, { training: [rec(100), rec(101)] }, parent);
  await trainJob(next.paths, next.log);
  const { learner } = await loadModel(next.paths.modelDir);
  assert.equal(learner.options.epsilon, 0.2, "epsilon changed in config.yaml reaches the retrained model");
  assert.equal(learner.options.learningRate, 0.25);
  assert.equal(learner.options.powerT, 0.4);
  assert.equal(learner.options.minProbability, 0.01);
  assert.equal(learner.examplesSeen, 52, "and it continues the parent's learning");
  assert.ok(next.lines.some((l) => /epsilon 0\.05 -> 0\.2/.test(l)), `the job log says what changed: ${next.lines.join("\n")}`);
  // A policy with the same weight layout (one cb learner) may replace egreedy on the next model.
  const soft = await job({ ...HP, exploration_policy: "softmax", lambda: "5" }, { training: [rec(102)] }, parent);
  await trainJob(soft.paths, soft.log);
  const s = (await loadModel(soft.paths.modelDir)).learner;
  assert.equal(s.options.explorationPolicy, "softmax");
  assert.equal(s.options.lambda, 5);
  assert.match(s.vwArguments, /--softmax --lambda 5/);
});

test("retraining with the same settings continues the parent exactly; a setting not given keeps the parent's value", async () => {
  const parent = await firstModel({ epsilon: "0.1" });
  const data = Array.from({ length: 30 }, (_, i) => rec(200 + i));
  const a = await job({ ...HP, epsilon: "0.1" }, { training: data }, parent);
  await trainJob(a.paths, a.log);
  const { epsilon: _omitted, ...withoutEpsilon } = HP;
  const b = await job(withoutEpsilon, { training: data }, parent);
  await trainJob(b.paths, b.log);
  const direct = (await loadModel(parent)).learner;
  await direct.train(data);
  const probe = rec(999).observation;
  for (const dir of [a.paths.modelDir, b.paths.modelDir]) {
    const { learner } = await loadModel(dir);
    assert.equal(learner.options.epsilon, 0.1);
    assert.deepEqual([...learner.predictPmf(probe)], [...direct.predictPmf(probe)], "bit-identical to training the loaded parent");
  }
});

test("retraining refuses a changed weight-layout setting, naming the key, both values and how to start a new model line", async () => {
  const parent = await firstModel();
  const cases: [Record<string, string>, RegExp][] = [
    [{ exploration_policy: "bag", num_policies: "3" }, /has exploration_policy egreedy but exploration_policy is bag \(config\.yaml algor\.algorithms_parameters\.exploration_policy\)/],
    [{ bits: "20" }, /has bits 18 but bits is 20 \(config\.yaml algor\.algorithms_parameters\.bits\)/],
    [{ feature_map: "bins" }, /has feature_map linear but feature_map is bins \(config\.yaml algor\.algorithms_parameters\.feature_map\)/],
    [{ cb_type: "dr" }, /has cb_type mtr but cb_type is dr/],
  ];
  for (const [hp, re] of cases) {
    const j = await job({ ...HP, ...hp }, { training: [rec(1)] }, parent);
    await assert.rejects(trainJob(j.paths, j.log), (e: Error) => {
      assert.match(e.message, re);
      assert.match(e.message, /initializeFirstModel\(\)/, "says how to start a new model line");
      assert.match(e.message, /new experiment id/);
      return true;
    });
    assert.ok(!fs.existsSync(path.join(j.paths.modelDir, "model.json")), "no model saved");
  }
  const bag = await firstModel({ exploration_policy: "bag", num_policies: "3" });
  const more = await job({ ...HP, exploration_policy: "bag", num_policies: "5" }, { training: [rec(1)] }, bag);
  await assert.rejects(trainJob(more.paths, more.log), /has num_policies 3 but num_policies is 5 \(config\.yaml algor\.algorithms_parameters\.num_policies\)/);
});
