import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "@cbkit/common";
import { findProjectRoot } from "@cbkit/common/config";
import { WARM_START_MODEL_ID, JOINED_RECORD_COLUMNS, SPLIT_SEED } from "@cbkit/common/data";
import { hashUnit } from "@cbkit/common/util";
import { StatlogSimApp, loadStatlogData, resolveShuttleDataFile, prepareStatlogWarmStartData, evaluateHistoricalData } from "@cbkit/sim_app";
import { loadShuttleData } from "@cbkit/sim_app/statlog";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-sim-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("the default data file is ../shared/data/shuttle.trn beside the project root", () => {
  const root = findProjectRoot();
  assert.ok(fs.existsSync(path.join(root, "package.json")));
  assert.equal(resolveShuttleDataFile(), path.resolve(root, "..", "shared", "data", "shuttle.trn"));
  assert.equal(resolveShuttleDataFile({ data_file: "x/y.trn", path: "/tmp/cfg/config.yaml" }), "/tmp/cfg/x/y.trn");
  assert.equal(resolveShuttleDataFile({ data_file: null }), resolveShuttleDataFile());
});

test("the raw file has 43,500 rows with the original's class counts", () => {
  const raw = loadShuttleData();
  assert.equal(raw.numRows, 43500);
  const counts = [0, 0, 0, 0, 0, 0, 0];
  for (const l of raw.labels) counts[l - 1]++;
  assert.deepEqual(counts, [34108, 37, 132, 6748, 2458, 6, 11]);
  assert.equal(loadShuttleData(), raw, "parsed once per path");
});

test("the class filter keeps 43,483 rows and drops classes 6 and 7", () => {
  const d = loadStatlogData();
  assert.equal(d.numRows, 43483);
  assert.deepEqual(d.droppedClasses, [6, 7]);
  assert.deepEqual(d.classCountsAfter, [34108, 37, 132, 6748, 2458, 0, 0]);
  for (const l of d.labels) assert.ok(l >= 1 && l <= 5);
});

test("each feature has mean 0 and population std 1 within 1e-9", () => {
  const d = loadStatlogData();
  const n = d.numRows, nf = d.numFeatures;
  assert.equal(nf, 9);
  for (let j = 0; j < nf; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d.contexts[i * nf + j];
    const mean = s / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (d.contexts[i * nf + j] - mean) ** 2;
    assert.ok(Math.abs(mean) < 1e-9, `feature ${j + 1} mean ${mean}`);
    assert.ok(Math.abs(Math.sqrt(ss / n) - 1) < 1e-9, `feature ${j + 1} std ${Math.sqrt(ss / n)}`);
  }
});

test("a constant feature keeps std 1 (zero std replaced) and becomes all zeros", () => {
  const dir = fs.mkdtempSync(path.join(tmp, "t-"));
  const f = path.join(dir, "const.trn");
  fs.writeFileSync(f, "5 1 2 3 4 5 6 7 8 1\n5 2 3 4 5 6 7 8 9 1\n5 3 4 5 6 7 8 9 10 4\n");
  const d = loadStatlogData(f);
  assert.equal(d.stds[0], 1);
  for (let i = 0; i < d.numRows; i++) assert.equal(d.contexts[i * 9], 0);
});

test("reward is 1 exactly when the 1-based action is the true class", () => {
  const app = new StatlogSimApp({ seed: 3 });
  assert.equal(app.numActions, 7);
  for (let u = 0; u < 200; u++) {
    for (let a = 1; a <= 7; a++) assert.equal(app.rewardOf(u, a), app.labels[u] === a ? 1 : 0);
  }
  assert.throws(() => app.rewardOf(0, 0), /action must be an integer 1\.\.7/);
  assert.throws(() => app.rewardOf(0, 8), /action/);
  assert.throws(() => app.rewardOf(-1, 1), /userId/);
  assert.equal(app.oracleReward, 1);
  assert.ok(Math.abs(app.majorityReward - 34108 / 43483) < 1e-12);
});

test("getReward fills the joined buffer in local mode and the rewards buffer otherwise", () => {
  const app = new StatlogSimApp({ seed: 1 });
  const { userId, context } = app.chooseRandomUser();
  const truth = app.labels[userId];
  const r = app.getReward(userId, truth, "ev-1", "model-a", 0.9, 0.3);
  assert.equal(r, 1);
  assert.equal(app.joinedDataBuffer.length, 1);
  const rec = app.joinedDataBuffer[0];
  assert.deepEqual(Object.keys(rec), [...JOINED_RECORD_COLUMNS]);
  assert.deepEqual(rec, { reward: 1, event_id: "ev-1", action: truth, action_prob: 0.9, model_id: "model-a", observation: context, sample_prob: 0.3 });
  const wrong = (truth % 7) + 1;
  assert.equal(app.getReward({ userId, action: wrong, eventId: "ev-2", modelId: "m", actionProb: 0.1, sampleProb: 0.5, localMode: false }), 0);
  assert.deepEqual(app.rewardsBuffer, [{ reward: 0, event_id: "ev-2" }]);
  assert.equal(app.joinedDataBuffer.length, 1);
  assert.throws(() => app.getReward(userId, 1, 123 as unknown as string, "m", 1, 0), /eventId must be a non-empty string/);
  app.clearBuffer();
  assert.equal(app.joinedDataBuffer.length + app.rewardsBuffer.length, 0);
});

test("one seed gives one sequence of users, another seed another", () => {
  const seq = (seed: number | string) => {
    const app = new StatlogSimApp({ seed });
    return Array.from({ length: 50 }, () => app.chooseRandomUser().userId);
  };
  assert.deepEqual(seq(7), seq(7));
  assert.deepEqual(seq("abc"), seq("abc"));
  assert.notDeepEqual(seq(7), seq(8));
  const fromConfig = new StatlogSimApp({ config: { data_file: null, seed: 7 } });
  assert.equal(fromConfig.seed, 7);
  assert.equal(new StatlogSimApp({ config: loadConfig() }).seed, 1, "a loaded Config is accepted");
  assert.deepEqual(Array.from({ length: 50 }, () => fromConfig.chooseRandomUser().userId), seq(7));
  const app = new StatlogSimApp({ seed: 7 });
  const u = app.chooseRandomUser();
  assert.deepEqual(u.context, Array.from(app.contexts[u.userId]));
});

test("warm-start data: shape, uniform logging probabilities, unique ids, deterministic", () => {
  const recs = prepareStatlogWarmStartData(null, 700, 5);
  assert.equal(recs.length, 700);
  const ids = new Set<string>();
  const actionCounts = new Array(7).fill(0);
  for (const r of recs) {
    assert.deepEqual(Object.keys(r), [...JOINED_RECORD_COLUMNS]);
    assert.equal(r.action_prob, 1 / 7);
    assert.equal(r.model_id, WARM_START_MODEL_ID);
    assert.equal(typeof r.event_id, "string");
    assert.match(r.event_id, /^warm-start-5-\d+$/);
    assert.equal(r.sample_prob, hashUnit(r.event_id, SPLIT_SEED), "sample_prob is the split value");
    assert.equal(r.observation.length, 9);
    assert.ok(r.reward === 0 || r.reward === 1);
    ids.add(r.event_id);
    actionCounts[r.action - 1]++;
  }
  assert.equal(ids.size, 700);
  for (const c of actionCounts) assert.ok(c > 60 && c < 140, `action counts ${actionCounts}`);
  assert.deepEqual(prepareStatlogWarmStartData({ batchSize: 20, seed: 5 }), recs.slice(0, 20));
  assert.notDeepEqual(prepareStatlogWarmStartData(null, 20, 6).map((r) => r.action), recs.slice(0, 20).map((r) => r.action));
  // Uniform random logging earns ≈ 1/7 on average.
  const big = prepareStatlogWarmStartData(null, 20000, 1);
  assert.ok(Math.abs(evaluateHistoricalData(big) - 6 / 7) < 0.01);
});

test("evaluateHistoricalData reads records, the original's quoted CSV and JSON lines", () => {
  assert.equal(evaluateHistoricalData([{ reward: 1 }, { reward: 0 }, { reward: 0 }, { reward: 0 }]), 0.75);
  const dir = fs.mkdtempSync(path.join(tmp, "t-"));
  const csv = path.join(dir, "joined.csv");
  fs.writeFileSync(
    csv,
    '"reward","event_id","action","action_prob","model_id","observation","sample_prob"\n' +
      '"1","e1","2","0.142857","not-apply-to-warm-start","[0.1, -0.2, 0.3]","0.5"\n' +
      '"0","e2","3","0.142857","not-apply-to-warm-start","[0.1, -0.2, 0.3]","0.7"\n',
  );
  assert.equal(evaluateHistoricalData(csv), 0.5);
  const jl = path.join(dir, "joined.jsonl");
  fs.writeFileSync(jl, '{"reward":1,"event_id":"a"}\n{"reward":1,"event_id":"b"}\n');
  assert.equal(evaluateHistoricalData(jl), 0);
  assert.throws(() => evaluateHistoricalData([]), /no records/);
});

test("a missing data file says where to put it and where to get it", () => {
  const missing = path.join(os.tmpdir(), "no-such-dir-cbkit", "shuttle.trn");
  assert.throws(() => loadShuttleData(missing), (e: Error) => {
    assert.match(e.message, /not found: .*no-such-dir-cbkit/);
    assert.match(e.message, /\.\.\/shared\/data\/shuttle\.trn/);
    assert.match(e.message, /data_file in config\.yaml/);
    assert.match(e.message, /UCI Statlog \(Shuttle\)/);
    assert.match(e.message, /sha256/);
    return true;
  });
  assert.throws(() => new StatlogSimApp({ dataFile: missing }), /not found/);
});

test("malformed lines name the file and the line", () => {
  const dir = fs.mkdtempSync(path.join(tmp, "t-"));
  const good = "50 21 77 0 28 0 27 48 22 1\n";
  const cases: [string, RegExp][] = [
    [good + "50 21 77 0 28 0 27 48 1\n", /bad1\.trn:2: expected 10 .*found 9/],
    [good + good + "50 21 x7 0 28 0 27 48 22 1\n", /bad2\.trn:3: column 3 is not a number: "x7"/],
    [good + "50 21 77 0 28 0 27 48 22 8\n", /bad3\.trn:2: the class label .* 1\.\.7, found "8"/],
    [good + "50 21 77 0 28 0 27 48 22 1.5\n", /bad4\.trn:2: the class label/],
  ];
  cases.forEach(([text, re], i) => {
    const f = path.join(dir, `bad${i + 1}.trn`);
    fs.writeFileSync(f, text);
    assert.throws(() => loadShuttleData(f), re);
  });
});
