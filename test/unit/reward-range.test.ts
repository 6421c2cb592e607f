/**
 * One rule for the reward range and one for the join ratio (issue 14, item 3): data/rewards.ts and
 * data/split.ts own them, and config.yaml, ingest, training, evaluation, the training and
 * evaluation jobs and the CLI all refuse the same values with the same words.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  CbLearner,
  ConfigError,
  InvalidUsageError,
  RewardRangeError,
  evaluatePolicy,
  loadConfig,
  type ExperimentManager,
  type JoinedRecord,
} from "@cbkit/common";
import { CONFIG_SCHEMA, findProjectRoot } from "@cbkit/common/config";
import { MAX_MAGNITUDE, SPLIT_RATIO_BOUNDS, rewardProblem, splitOf, splitRatioProblem } from "@cbkit/common/data";
import { jobPaths, rewardRangeHyperparameters } from "@cbkit/common/container";
import { checkOptions } from "@cbkit/common/join";
import { main as bandits } from "@cbkit/sim_app/cli";
import { manager, syntheticJoined, tempWorkspace, testConfig } from "../manager/helpers";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-reward-range-"));
const ws = tempWorkspace("reward-range");
const opened: ExperimentManager[] = [];
after(async () => {
  for (const m of opened) await m.close().catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(ws, { recursive: true, force: true });
});

const shipped = fs.readFileSync(path.join(findProjectRoot(), "config.yaml"), "utf8");

/** loadConfig on the shipped config.yaml with workflow keys replaced; the ConfigError's issues, or null when it loads. */
function loadWith(values: Record<string, string>): ConfigError | null {
  let text = shipped;
  for (const [key, value] of Object.entries(values)) {
    const re = new RegExp(`^(\\s*)${key}:.*$`, "m");
    assert.match(text, re);
    text = text.replace(re, (_m, indent: string) => `${indent}${key}: ${value}`);
  }
  const file = path.join(tmp, `config-${Object.values(values).join("_").replace(/[^\w.-]/g, "")}.yaml`);
  fs.writeFileSync(file, text);
  try {
    loadConfig(file);
    return null;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e;
  }
}

function record(i: number, reward: number): JoinedRecord {
  return { reward, event_id: `e${i}`, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "m", observation: Array.from({ length: 9 }, (_, j) => Math.sin(i + j)), sample_prob: 0.5 };
}

test("loadConfig refuses an empty or a reversed reward range and ends beyond the numeric contract, naming the key", () => {
  for (const [min, max] of [["1", "1"], ["0.5", "0.5"], ["2", "1"]]) {
    const e = loadWith({ min_reward: min, max_reward: max });
    assert.ok(e, `[${min}, ${max}] is refused`);
    const issue = e.issues.find((i) => i.path === "workflow.max_reward");
    assert.ok(issue, e.message);
    assert.match(e.message, new RegExp(`workflow\\.max_reward \\(line \\d+\\): found ${max}, not above workflow\\.min_reward \\(${min}\\); expected workflow\\.min_reward < workflow\\.max_reward`));
  }
  for (const [key, value] of [["min_reward", "-1e308"], ["max_reward", "1e308"], ["max_reward", String(MAX_MAGNITUDE * 2)]]) {
    const e = loadWith({ [key]: value });
    assert.ok(e, `${key}: ${value} is refused`);
    assert.ok(e.issues.some((i) => i.path === `workflow.${key}` && /numeric contract/.test(i.expected)), e.message);
  }
  assert.equal(loadWith({ min_reward: "-1", max_reward: "2" }), null, "a wider range loads");
  assert.equal(loadWith({ min_reward: String(-MAX_MAGNITUDE), max_reward: String(MAX_MAGNITUDE) }), null, "the contract's own ends load");
});

test("training, evaluation, the jobs and the CLI refuse the range config.yaml refuses, with one text", async () => {
  const records = [record(1, 1), record(2, 0)];
  const same = /reward range: workflow\.max_reward is 1, not above workflow\.min_reward \(1\); expected workflow\.min_reward < workflow\.max_reward/;
  const refusals: [string, () => Promise<unknown>][] = [
    ["learner", () => CbLearner.create({ numArms: 7, explorationPolicy: "egreedy" }).train(records, { minReward: 1, maxReward: 1 })],
    ["evaluation", () => evaluatePolicy(records, { actions: [1, 2] }, { numArms: 7, minReward: 1, maxReward: 1 })],
    ["jobs' hyperparameters", async () => rewardRangeHyperparameters({ min_reward: "1", max_reward: "1" })],
  ];
  for (const [who, run] of refusals) {
    await assert.rejects(run(), (e: unknown) => {
      assert.ok(e instanceof RewardRangeError, `${who}: expected RewardRangeError, got ${e}`);
      assert.equal(e.key, "workflow.max_reward");
      assert.match(e.message, same, who);
      return true;
    });
  }
  // The CLI says the same, and where each end came from.
  const data = path.join(tmp, "two.jsonl");
  fs.writeFileSync(data, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const err: string[] = [];
  const code = await bandits(["train", "--data", data, "--out", path.join(tmp, "m"), "--no-config", "--min-reward", "1", "--max-reward", "1"], () => undefined, (s) => err.push(s));
  assert.equal(code, 2, err.join("\n"));
  assert.match(err.join("\n"), same);
  assert.match(err.join("\n"), /in effect: min_reward 1 \(flag --min-reward\), max_reward 1 \(flag --max-reward\)/);
  // The job itself fails before it reads any data.
  const root = path.join(tmp, "job");
  const paths = jobPaths(root);
  fs.mkdirSync(path.dirname(paths.hyperparameters), { recursive: true });
  fs.writeFileSync(paths.hyperparameters, JSON.stringify({ model_id: "m-1", num_arms: "7", min_reward: "1", max_reward: "1" }));
  const { trainJob } = await import("@cbkit/common/container");
  await assert.rejects(trainJob(paths, () => undefined), same);
});

test("a reward outside the range gets the same words at ingest, in training, in evaluation and from the CLI", async () => {
  const words = rewardProblem(7, { minReward: 0, maxReward: 1 });
  assert.equal(words, "is 7, outside the possible rewards [0, 1] (min_reward / max_reward: config.yaml workflow.min_reward / workflow.max_reward)");
  const escaped = words!.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const bad = [record(1, 1), record(2, 7)];

  const m = await manager(testConfig(ws), "rr-ingest");
  opened.push(m);
  await assert.rejects(m.ingestRewards([{ event_id: "a", reward: 7 }]), (e: unknown) => e instanceof InvalidUsageError && e.message === `reward 0: field 'reward' ${words}`);
  await assert.rejects(CbLearner.create({ numArms: 7, explorationPolicy: "egreedy" }).train(bad, { minReward: 0, maxReward: 1 }), new RegExp(`row 2 \\(event_id e2\\): reward: ${escaped}`));
  await assert.rejects(evaluatePolicy(bad, { actions: [1, 2] }, { numArms: 7 }), new RegExp(`row 1: reward ${escaped} \\(event_id e2\\)`));
  const data = path.join(tmp, "seven.jsonl");
  fs.writeFileSync(data, bad.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const err: string[] = [];
  assert.equal(await bandits(["train", "--data", data, "--out", path.join(tmp, "m7"), "--no-config"], () => undefined, (s) => err.push(s)), 1);
  assert.match(err.join("\n"), new RegExp(`seven\\.jsonl:2: reward: ${escaped}`), "the file and line, as for CSV");
});

test("the join ratio: config.yaml, the manager, the SQL join and splitOf accept exactly (0, 1)", async () => {
  const m = await manager(testConfig(ws), "rr-ratio");
  opened.push(m);
  const joined = syntheticJoined(40);
  for (const ratio of [-0.1, 0, 1e-9, 0.5, 1 - 1e-9, 1, 1.5, Number.NaN]) {
    const allowed = ratio > 0 && ratio < 1;
    assert.equal(splitRatioProblem(ratio) === null, allowed, `rule for ${ratio}`);
    const config = Number.isNaN(ratio) ? null : loadWith({ join_ratio: String(ratio) });
    if (!Number.isNaN(ratio)) {
      assert.equal(config === null, allowed, `config.yaml with join_ratio ${ratio}`);
      if (!allowed) assert.ok(config!.issues.some((i) => i.path === "workflow.join_ratio" && /in \(0, 1\)/.test(i.expected) && /split empty/.test(i.expected)), config!.message);
    }
    const sql = () => checkOptions({ decisions: "d", rewards: "r", ratio });
    const split = () => splitOf("event-1", ratio);
    if (allowed) {
      sql();
      split();
    } else {
      assert.throws(sql, /ratio must be a number strictly between 0 and 1 \(config\.yaml workflow\.join_ratio\)/);
      assert.throws(split, /ratio must be a number strictly between 0 and 1/);
      await assert.rejects(m.ingestJoinedData(joined, ratio), (e: unknown) => e instanceof InvalidUsageError && /^ratio must be a number strictly between 0 and 1 \(config\.yaml workflow\.join_ratio\)/.test(e.message));
      await assert.rejects(m.join(m.platform.objects.uriOf("rr-ratio/rewards_data/b"), { ratio }), /ratio must be a number strictly between 0 and 1/);
    }
  }
});

test("the config schema's join_ratio and reward bounds come from data/", () => {
  const workflow = CONFIG_SCHEMA.fields.workflow.fields;
  assert.deepEqual([workflow.join_ratio.exclusiveMin, workflow.join_ratio.exclusiveMax], [SPLIT_RATIO_BOUNDS.exclusiveMin, SPLIT_RATIO_BOUNDS.exclusiveMax]);
  for (const key of ["min_reward", "max_reward"] as const) assert.deepEqual([workflow[key].min, workflow[key].max], [-MAX_MAGNITUDE, MAX_MAGNITUDE]);
  assert.equal(splitRatioProblem(loadConfig().workflow.join_ratio), null, "the shipped ratio keeps the rule");
});
