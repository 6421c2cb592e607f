/**
 * `bandits train` / `evaluate` / `describe` with bad input (issue 10 items 5, 6, 9), run as a real
 * process where the exit code matters.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JoinedRecord } from "@cbkit/common";
import { findProjectRoot } from "@cbkit/common/config";
import { JOINED_CSV_HEADER, joinedCsvLine, writeJoinedCsv } from "@cbkit/common/data";
import { main } from "@cbkit/sim_app/cli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-cli-bad-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
const CLI = path.join(findProjectRoot(), "sim_app", "dist", "cli", "bandits.js");

function bandits(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function capture() {
  const out: string[] = [], err: string[] = [];
  return { out, err, o: (s: string) => out.push(s), e: (s: string) => err.push(s) };
}

const rec = (i: number, dim = 9): JoinedRecord => ({
  reward: i % 3 === 0 ? 1 : 0, event_id: `e${i}`, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "m",
  observation: Array.from({ length: dim }, (_, j) => Math.sin(i + j)), sample_prob: 0.5,
});

test("train refuses an empty, a header-only and a column-missing file: non-zero exit, file and problem named, no model saved", () => {
  const cases: [string, string, RegExp][] = [
    ["empty.csv", "", /empty\.csv is empty/],
    ["header.csv", JOINED_CSV_HEADER + "\n", /header\.csv has a header but no rows/],
    ["columns.csv", "reward,event_id,action\n1,e,2\n", /columns\.csv:1: the CSV header lacks observation, action_prob/],
    ["empty.vw", "\n", /empty\.vw is empty/],
    ["bad.vw", "garbage\n1:0:0 | 1:2\n", /bad\.vw: all 2 line\(s\) skipped/],
  ];
  for (const [name, text, re] of cases) {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    const out = path.join(tmp, `model-${name}`);
    const r = bandits("train", "--data", f, "--out", out);
    assert.notEqual(r.code, 0, `${name}: exit code`);
    assert.match(r.err, re, name);
    assert.ok(!fs.existsSync(out), `${name}: no model saved`);
  }
});

test("train skips malformed rows loudly, and --strict makes any skip an error", async () => {
  const f = path.join(tmp, "some-bad.csv");
  fs.writeFileSync(f, [JOINED_CSV_HEADER, ...Array.from({ length: 20 }, (_, i) => joinedCsvLine(rec(i))), '"1","x","3","0","m","[1,2,3,4,5,6,7,8,9]","0.5"'].join("\n") + "\n");
  const loose = bandits("train", "--data", f, "--out", path.join(tmp, "m-loose"), "--no-config");
  assert.equal(loose.code, 0, loose.err);
  assert.match(loose.out, /WARNING: skipped 1 row\(s\) \(--strict makes this an error\); the first: .*some-bad\.csv:22: action_prob must be in \(0, 1\]/);
  const strict = bandits("train", "--data", f, "--out", path.join(tmp, "m-strict"), "--no-config", "--strict");
  assert.equal(strict.code, 1);
  assert.match(strict.err, /some-bad\.csv:22: action_prob must be in \(0, 1\].*strict mode/);
  assert.ok(!fs.existsSync(path.join(tmp, "m-strict")));
});

test("train refuses another feature count, an action beyond num_arms and a reward outside the range, naming the config key", async () => {
  const five = path.join(tmp, "five-features.csv");
  await writeJoinedCsv(five, [rec(1, 5), rec(2, 5)]);
  let c = capture();
  assert.equal(await main(["train", "--data", five, "--out", path.join(tmp, "m5")], c.o, c.e), 1);
  assert.match(c.err.join("\n"), /five-features\.csv:2: observation: has 5 features, the model expects 9 \(num_features: config\.yaml algor\.algorithms_parameters\.num_features\)/);
  c = capture();
  assert.equal(await main(["train", "--data", five, "--out", path.join(tmp, "m5b"), "--num-features", "5"], c.o, c.e), 0, c.err.join("\n"));
  const arms = path.join(tmp, "arms.csv");
  await writeJoinedCsv(arms, [rec(1), { ...rec(2), action: 9 }]);
  c = capture();
  assert.equal(await main(["train", "--data", arms, "--out", path.join(tmp, "m-arms")], c.o, c.e), 1);
  assert.match(c.err.join("\n"), /arms\.csv:3: action: is 9, beyond the model's 7 actions \(num_arms: config\.yaml algor\.algorithms_parameters\.num_arms\)/);
  const rewards = path.join(tmp, "rewards.csv");
  await writeJoinedCsv(rewards, [rec(1), { ...rec(2), reward: 7 }]);
  c = capture();
  assert.equal(await main(["train", "--data", rewards, "--out", path.join(tmp, "m-r")], c.o, c.e), 1);
  assert.match(c.err.join("\n"), /rewards\.csv:3: reward: is 7, outside the possible rewards \[0, 1\] \(min_reward \/ max_reward: config\.yaml workflow\.min_reward \/ workflow\.max_reward\)/);
  c = capture();
  assert.equal(await main(["train", "--data", rewards, "--out", path.join(tmp, "m-r2"), "--max-reward", "10"], c.o, c.e), 0, c.err.join("\n"));
});

test("train --help prints the settings in effect and where each comes from", async () => {
  const cfg = path.join(tmp, "config.yaml");
  const shipped = fs.readFileSync(path.join(findProjectRoot(), "config.yaml"), "utf8");
  fs.writeFileSync(cfg, shipped.replace(/exploration_policy: *\S+/, "exploration_policy: softmax").replace(/^(\s*)epsilon: *\S+/m, "$1epsilon: 0.2"));
  const c = capture();
  assert.equal(await main(["train", "--help", "--config", cfg, "--num-bins", "8"], c.o, c.e), 0);
  const text = c.out.join("\n");
  assert.match(text, /settings in effect/);
  assert.match(text, new RegExp(`exploration_policy +softmax +config ${cfg.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
  assert.match(text, /epsilon +0\.2 +config /);
  assert.match(text, /num_bins +8 +flag --num-bins/);
  assert.match(text, /num_features +9 +config /);
  assert.match(text, /min_reward +0 +config .*workflow\.min_reward/);
  assert.doesNotMatch(text, /\(default 0\.05\)/, "no hard-coded defaults that may not be the ones used");
  const bare = capture();
  assert.equal(await main(["train", "--help", "--no-config"], bare.o, bare.e), 0);
  assert.match(bare.out.join("\n"), /epsilon +0\.05 +default/);
  assert.match(bare.out.join("\n"), /power_t +0\.5 +default/);
});

test("describe shows the bins and the probability floor of a saved model, and train prints the same description", async () => {
  const data = path.join(tmp, "nine.csv");
  await writeJoinedCsv(data, Array.from({ length: 200 }, (_, i) => rec(i)));
  const t = capture();
  const out = path.join(tmp, "m-bins");
  assert.equal(await main(["train", "--data", data, "--out", out, "--feature-map", "bins", "--num-bins", "4", "--min-probability", "0.01", "--json"], t.o, t.e), 0, t.err.join("\n"));
  const desc = JSON.parse(t.out.join("\n")).description as string;
  assert.match(desc, /bins: 4 per feature, gaussian edges/);
  assert.match(desc, /probability floor 0\.01/);
  assert.match(desc, /features: 9/);
  const d = capture();
  assert.equal(await main(["describe", "--model", out], d.o, d.e), 0, d.err.join("\n"));
  const text = d.out.join("\n");
  assert.match(text, /feature map: bins, 4 per feature, gaussian edges/);
  assert.match(text, /feature 1: edges [-\d.]+, [-\d.]+, [-\d.]+/);
  assert.match(text, /probability floor: 0\.01/);
  assert.match(text, /actions: 7; features: 9/);
  const saved = JSON.parse(fs.readFileSync(path.join(out, "model.json"), "utf8"));
  assert.equal(saved.description, desc, "model.json carries the description");
});
