import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluatePolicy, ESTIMATORS, IPS, SNDR } from "@cbkit/common";
import { OpeAccumulator, PolicyEvaluationStream, ESTIMATOR_NAMES, RidgeCostModel, type OpeSample } from "@cbkit/common/ope";
import { SYNTH_MODEL, syntheticLog } from "./fixtures";

function samples(n: number): OpeSample[] {
  return syntheticLog(n).map((r) => {
    const pmf = SYNTH_MODEL.predictPmf(r.observation);
    return { cost: 1 - r.reward, propensity: r.action_prob, targetProb: pmf[r.action - 1], directCost: 0.2, predictedCost: 0.3, key: r.event_id };
  });
}

test("merging partial accumulators equals one pass (value, both intervals), in any order", () => {
  const all = samples(900);
  for (const e of ESTIMATORS) {
    const one = new OpeAccumulator(e, { seed: 11, bootstrapSamples: 100 });
    for (const s of all) one.add(s);
    const parts = [all.slice(0, 100), all.slice(100, 650), all.slice(650)].map((chunk) => {
      const a = new OpeAccumulator(e, { seed: 11, bootstrapSamples: 100 });
      for (const s of chunk) a.add(s);
      return a;
    });
    const merged = parts[2].merge(parts[0]).merge(parts[1]);
    const x = one.result();
    const y = merged.result();
    assert.equal(y.n, x.n);
    for (const k of ["value", "standardError", "effectiveSampleSize"] as const) assert.ok(Math.abs(x[k] - y[k]) < 1e-12, `${e.name}.${k}`);
    assert.ok(Math.abs(x.ci.lower - y.ci.lower) < 1e-12 && Math.abs(x.ci.upper - y.ci.upper) < 1e-12, `${e.name} bootstrap interval`);
  }
});

test("an accumulator survives a JSON round trip of its state", () => {
  const a = new OpeAccumulator(SNDR, { seed: "w", bootstrapSamples: 64 });
  for (const s of samples(200)) a.add(s);
  const b = OpeAccumulator.fromState(JSON.parse(JSON.stringify(a.toState())));
  assert.deepEqual(b.result(), a.result());
});

test("the bootstrap is deterministic by seed and changes with it", async () => {
  const log = syntheticLog(500);
  const a = await evaluatePolicy(log, SYNTH_MODEL, { seed: 42, bootstrapSamples: 100 });
  const b = await evaluatePolicy(log, SYNTH_MODEL, { seed: 42, bootstrapSamples: 100 });
  const c = await evaluatePolicy(log, SYNTH_MODEL, { seed: 43, bootstrapSamples: 100 });
  for (const e of ESTIMATOR_NAMES) {
    assert.deepEqual(a[e], b[e]);
    assert.notDeepEqual(a[e].ci, c[e].ci);
    // The cross-fitting folds are seeded too: only the estimators without a cost model keep their value.
    if (e === "ips" || e === "snips") assert.equal(a[e].value, c[e].value);
  }
  // Rows without keys use the accumulator's own seeded stream: still deterministic.
  const run = () => {
    const acc = new OpeAccumulator(IPS, { seed: 9, bootstrapSamples: 100 });
    for (const s of samples(300)) acc.add({ ...s, key: undefined });
    return acc.result();
  };
  assert.deepEqual(run(), run());
});

test("PolicyEvaluationStream: batches, workers and evaluatePolicy agree", async () => {
  const log = syntheticLog(800);
  const cm = RidgeCostModel.fit(syntheticLog(500, 99).map((r) => ({ observation: r.observation, action: r.action, cost: 1 - r.reward })), { numArms: 3 });
  const opts = { target: SYNTH_MODEL, rewardModel: cm, seed: 4, bootstrapSamples: 150, estimators: ESTIMATORS };
  const live = new PolicyEvaluationStream(opts);
  const seen: number[] = [];
  for (let i = 0; i < log.length; i += 200) {
    await live.addAll(log.slice(i, i + 200));
    seen.push(live.result().dr.n); // a dashboard would redraw here
  }
  assert.deepEqual(seen, [200, 400, 600, 800]);
  const w1 = new PolicyEvaluationStream(opts);
  const w2 = new PolicyEvaluationStream(opts);
  log.forEach((r, i) => (i % 2 ? w1 : w2).add(r));
  const merged = w1.merge(w2).result();
  const batch = await evaluatePolicy(log, SYNTH_MODEL, { rewardModel: cm, seed: 4, bootstrapSamples: 150 });
  for (const e of ESTIMATOR_NAMES) {
    const x = live.result()[e];
    assert.ok(Math.abs(x.value - merged[e].value) < 1e-12, e);
    assert.ok(Math.abs(x.ci.lower - merged[e].ci.lower) < 1e-12, e);
    assert.ok(Math.abs(x.value - batch[e].value) < 1e-12, e);
    assert.ok(Math.abs(x.ci.upper - batch[e].ci.upper) < 1e-12, e);
  }
});

test("an empty accumulator reports NaN instead of throwing (a dashboard before its first batch)", () => {
  const r = new PolicyEvaluationStream({ target: SYNTH_MODEL }).result();
  assert.deepEqual(Object.keys(r), ["ips", "snips"]);
  assert.ok(Number.isNaN(r.ips.value));
  assert.equal(r.ips.n, 0);
});

test("evaluatePolicy on many rows (worker threads add the fold and bootstrap sums) equals the same evaluation in one thread", async () => {
  // 110,000 rows: past COST_FIT_ROWS, where the fold statistics go to a worker, and past the
  // bootstrap's worker threshold. The one-thread run is a child process with CBKIT_EVALUATION_THREADS=1.
  const { spawnSync } = await import("node:child_process");
  const script = `
    const { evaluatePolicy } = require(${JSON.stringify(require.resolve("@cbkit/common"))});
    const { Rng } = require(${JSON.stringify(require.resolve("@cbkit/common/util"))});
    const rng = new Rng("threads");
    const records = Array.from({ length: 110000 }, (_, i) => {
      const x = [rng.normal(), rng.normal(), rng.normal()];
      const a = 1 + rng.int(3);
      return { reward: a === (x[0] > 0 ? 1 : 2) ? 1 : 0, event_id: "t" + i, action: a, action_prob: 1 / 3, model_id: "m", observation: x, sample_prob: 0 };
    });
    const target = { predictPmf: (x) => (x[0] > 0 ? [0.8, 0.1, 0.1] : [0.1, 0.8, 0.1]) };
    evaluatePolicy(records, target, { seed: 7, bootstrapSamples: 100 }).then((r) => process.stdout.write(JSON.stringify(r)));`;
  const run = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const threads = run({});
  const single = run({ CBKIT_EVALUATION_THREADS: "1" });
  assert.ok(threads.length > 100);
  assert.equal(threads, single, "every estimate and interval, every digit");
});
