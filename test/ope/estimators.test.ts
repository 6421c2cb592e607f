import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluatePolicy, IPS, SNIPS, DM, DR, SNDR, ESTIMATORS } from "@cbkit/common";
import { evaluateModelOnRecords, formatEstimateTable, normalQuantile, RidgeCostModel, ESTIMATOR_NAMES, OpeAccumulator } from "@cbkit/common/ope";
import { EXPECTED, FIXTURE, FIXTURE_COST_MODEL, FIXTURE_MODEL, FIXTURE_PMFS, SYNTH_MODEL, rec, syntheticLog } from "./fixtures";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} is not ${b} (±${tol})`);

test("each estimator matches the hand-computed value on the 4-row fixture (model target)", async () => {
  const r = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 200 });
  close(r.ips.value, EXPECTED.ips);
  close(r.snips.value, EXPECTED.snips);
  close(r.dm.value, EXPECTED.dm);
  close(r.dr.value, EXPECTED.dr);
  close(r.sndr.value, EXPECTED.sndr);
  for (const e of ESTIMATOR_NAMES) {
    assert.equal(r[e].n, 4);
    assert.equal(r[e].estimator, e);
    close(r[e].effectiveSampleSize, EXPECTED.ess, 1e-9);
    close(r[e].meanWeight, 16 / 3 / 4);
    close(r[e].maxWeight, 2);
    assert.equal(r[e].biased, e === "dm");
  }
});

test("per-row pmfs give the same values as the model", async () => {
  const a = await evaluatePolicy(FIXTURE, { pmfs: FIXTURE_PMFS }, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 0 });
  close(a.ips.value, EXPECTED.ips);
  close(a.sndr.value, EXPECTED.sndr);
});

test("per-row actions: a deterministic target", async () => {
  // Target actions [1, 1, 2, 2]: π(a|x) of the logged actions = [1, 0, 0, 1], w = [2, 0, 0, 4/3].
  // IPS = (2·0 + 0 + 0 + 4/3·0) / 4 = 0. DM with the fixture costs: ĉ(x, target) = [0.2, 0.2, 0.4, 0.1]
  // -> 0.9 / 4 = 0.225. DR = DM + (2·(0 − 0.2) + 4/3·(0 − 0.1)) / 4 = 0.225 + (−0.4 − 0.13333…) / 4 = 0.091666…
  const r = await evaluatePolicy(FIXTURE, { actions: [1, 1, 2, 2] }, { rewardModel: FIXTURE_COST_MODEL, estimators: [IPS, DM, DR], bootstrapSamples: 0 });
  close(r.ips.value, 0);
  close(r.dm.value, 0.225);
  close(r.dr.value, 0.225 + (-0.4 - 0.4 / 3) / 4);
  assert.deepEqual(Object.keys(r).sort(), ["dm", "dr", "ips"]);
});

test("the normal interval of IPS is the hand-computed delta-method one", async () => {
  // w·c = [0, 0.4, 2, 0]: mean 0.6, sample variance ((0.36 + 0.04 + 1.96 + 0.36) / 3) = 0.906666…,
  // se = sqrt(0.906666… / 4) = 0.476095…, z(0.975) = 1.959964 -> 0.6 ± 0.933128…
  // A wide reward range, so the interval is not clipped to the possible costs [0, 1].
  const r = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { estimators: [IPS], bootstrapSamples: 0, minReward: -10, maxReward: 10 });
  const se = Math.sqrt(2.72 / 3 / 4);
  close(r.ips.standardError, se, 1e-12);
  close(r.ips.normalCi.lower, 0.6 - 1.959963984540054 * se, 1e-8);
  close(r.ips.normalCi.upper, 0.6 + 1.959963984540054 * se, 1e-8);
  assert.equal(r.ips.ci.method, "normal"); // no bootstrap samples -> the normal interval is primary
  assert.equal(r.ips.bootstrapCi, null);
});

test("the normal interval of SNIPS is the hand-computed delta-method one", async () => {
  // SNIPS = 0.45 with Σw/n = 4/3. Its influence per row is ψ = w·(c − 0.45) / (4/3):
  //   row0 1.6·(−0.45)/(4/3) = −0.54; row1 0.4·0.55/(4/3) = 0.165; row2 2·0.55/(4/3) = 0.825; row3 (4/3)·(−0.45)/(4/3) = −0.45
  // Σψ² = 0.2916 + 0.027225 + 0.680625 + 0.2025 = 1.20195; sample variance 1.20195 / 3 = 0.40065;
  // se = sqrt(0.40065 / 4) = 0.3164846…
  const r = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { estimators: [SNIPS], bootstrapSamples: 0 });
  close(r.snips.standardError, Math.sqrt(0.40065 / 4), 1e-12);
});

test("normalQuantile matches known values", () => {
  close(normalQuantile(0.975), 1.959963984540054, 5e-9); // Acklam: relative error < 1.2e-9
  close(normalQuantile(0.5), 0, 1e-12);
  close(normalQuantile(0.05), -1.6448536269514722, 5e-9);
  close(normalQuantile(0.995), 2.5758293035489004, 5e-9);
});

test("the accumulators compute the same values from scored samples", () => {
  // Samples of the fixture: (cost, propensity, π(a|x), direct cost, ĉ(x, a)).
  const samples = [
    { cost: 0, propensity: 0.5, targetProb: 0.8, directCost: 0.28, predictedCost: 0.2 },
    { cost: 1, propensity: 0.5, targetProb: 0.2, directCost: 0.28, predictedCost: 0.6 },
    { cost: 1, propensity: 0.25, targetProb: 0.5, directCost: 0.4, predictedCost: 0.4 },
    { cost: 0, propensity: 0.75, targetProb: 1, directCost: 0.1, predictedCost: 0.1 },
  ];
  const accs = ESTIMATORS.map((e) => new OpeAccumulator(e));
  for (const s of samples) for (const a of accs) a.add(s);
  const [ips, snips, dm, dr, sndr] = accs.map((a) => a.result().value);
  close(ips, EXPECTED.ips);
  close(snips, EXPECTED.snips);
  close(dm, EXPECTED.dm);
  close(dr, EXPECTED.dr);
  close(sndr, EXPECTED.sndr);
});

test("SNIPS equals IPS when the importance weights average exactly 1", async () => {
  // Uniform logging over K = 2 (p = 1/2) and a deterministic target that matches the logged action on
  // exactly half the rows: w = 2 on matches, 0 otherwise, so Σw = n and Σwc/Σw = Σwc/n.
  const log = [rec(1, 0.5, 0, [0]), rec(2, 0.5, 1, [1]), rec(1, 0.5, 1, [2]), rec(2, 0.5, 0, [3])];
  // Matches on rows 0 and 3 (costs 1 and 1): IPS = (2·1 + 2·1) / 4 = 1.
  const r = await evaluatePolicy(log, { actions: [1, 1, 2, 2] }, { estimators: [IPS, SNIPS], bootstrapSamples: 0 });
  close(r.ips.meanWeight, 1);
  close(r.ips.value, 1);
  close(r.snips.value, r.ips.value);
});

test("DR equals DM (and the truth) when the cost model is exact", async () => {
  // syntheticLog's cost is deterministic given (x, a): 0 for the right action, 1 otherwise.
  const exact = { predictCosts: (x: number[]) => (x[0] > 0 ? [0, 1, 1] : [1, 0, 1]) };
  const r = await evaluatePolicy(syntheticLog(300), SYNTH_MODEL, { rewardModel: exact, bootstrapSamples: 0 });
  close(r.dr.value, r.dm.value);
  close(r.sndr.value, r.dm.value);
  close(r.dm.value, 0.1); // the target errs with probability 0.05 + 0.05 in every context
});

test("a model target uses its full pmf, so the value is deterministic (defect D-3)", async () => {
  const log = syntheticLog(500);
  const a = await evaluatePolicy(log, SYNTH_MODEL, { seed: 1, bootstrapSamples: 20 });
  const b = await evaluatePolicy(log, SYNTH_MODEL, { seed: 2, bootstrapSamples: 20 });
  const a2 = await evaluatePolicy(log, SYNTH_MODEL, { seed: 1, bootstrapSamples: 20 });
  for (const e of ESTIMATOR_NAMES) assert.equal(a[e].value, a2[e].value, `${e}: the same seed gives the same value`);
  // IPS and SNIPS use no cost model: the seed moves only their intervals. DM, DR and SNDR use the
  // cross-fitted cost model, whose folds are seeded: another seed, another (close) value.
  for (const e of ["ips", "snips"] as const) assert.equal(a[e].value, b[e].value);
  for (const e of ["dm", "dr", "sndr"] as const) {
    assert.notEqual(a[e].value, b[e].value, `${e}: the folds depend on the seed`);
    assert.ok(Math.abs(a[e].value - b[e].value) < a[e].standardError, `${e}: the fold choice moves the value by less than its standard error`);
  }
  // IPS by hand on the log: mean of π(a|x)/(1/3)·cost.
  let s = 0;
  for (const r of log) s += (SYNTH_MODEL.predictPmf(r.observation)[r.action - 1] * 3) * (1 - r.reward);
  close(a.ips.value, s / log.length, 1e-12);
});

test("a model that reuses one output buffer is still scored row by row", async () => {
  const buf = new Float64Array(2);
  const reusing = { predictPmf: (x: number[]) => (buf.set(FIXTURE_PMFS[x[0]]), buf) };
  const r = await evaluatePolicy(FIXTURE, reusing, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 0 });
  close(r.ips.value, EXPECTED.ips);
  close(r.dr.value, EXPECTED.dr);
});

test("async iterables are accepted", async () => {
  async function* gen() {
    for (const r of FIXTURE) yield r;
  }
  const r = await evaluatePolicy(gen(), FIXTURE_MODEL, { estimators: [IPS], bootstrapSamples: 0 });
  close(r.ips.value, EXPECTED.ips);
});

test("evaluateModelOnRecords runs DR by default and agrees with evaluatePolicy", async () => {
  const log = syntheticLog(400);
  const one = await evaluateModelOnRecords(SYNTH_MODEL, log, { seed: 3, bootstrapSamples: 100 });
  const all = await evaluatePolicy(log, SYNTH_MODEL, { seed: 3, bootstrapSamples: 100 });
  assert.equal(one.estimator, "dr");
  assert.deepEqual(one, all.dr);
  const ips = await evaluateModelOnRecords(SYNTH_MODEL, log, { estimator: IPS, bootstrapSamples: 0 });
  assert.equal(ips.value, all.ips.value);
});

test("the default cross-fitted ridge cost model gives DR close to the truth", async () => {
  // Truth: the target's expected cost is 0.1 in every context. Five independent logs: DR is close
  // every time and its 95 % interval holds the truth in at least 4 of 5 (a 0.98 chance when calibrated).
  let hits = 0;
  for (let k = 1; k <= 5; k++) {
    const r = await evaluatePolicy(syntheticLog(2000, 1000 + k), SYNTH_MODEL, { seed: k, bootstrapSamples: 200, estimators: [IPS, DR] });
    assert.ok(Math.abs(r.dr.value - 0.1) < 0.01, `dr = ${r.dr.value}`);
    assert.ok(Math.abs(r.ips.value - 0.1) < 0.03, `ips = ${r.ips.value}`);
    if (r.dr.ci.lower <= 0.1 && 0.1 <= r.dr.ci.upper) hits++;
  }
  assert.ok(hits >= 4, `${hits} of 5 DR intervals hold the truth`);
});

test("RidgeCostModel recovers a linear cost and falls back to means for rare actions", () => {
  // Action 1: cost = 0.5 + 0.2·x0 − 0.1·x1 exactly; action 2: three rows (below 2·(d+1) = 6) with costs 0, 1, 1.
  const rows = [] as { observation: number[]; action: number; cost: number }[];
  for (let i = 0; i < 50; i++) {
    const x = [Math.sin(i), Math.cos(3 * i)];
    rows.push({ observation: x, action: 1, cost: 0.5 + 0.2 * x[0] - 0.1 * x[1] });
  }
  rows.push({ observation: [0, 0], action: 2, cost: 0 }, { observation: [1, 1], action: 2, cost: 1 }, { observation: [2, 2], action: 2, cost: 1 });
  const m = RidgeCostModel.fit(rows, { numArms: 3, lambda: 1e-9, featureMap: "linear" });
  const c = m.predictCosts([0.3, -0.2]);
  close(c[0], 0.5 + 0.06 + 0.02, 1e-6);
  // Action 2: (0 + 1 + 1 + overall mean) / (3 + 1); action 3 never logged: the overall mean.
  const overall = rows.reduce((s, r) => s + r.cost, 0) / rows.length;
  close(c[1], (2 + overall) / 4, 1e-12);
  close(c[2], overall, 1e-12);
});

test("the bins feature map fits a step that a straight line can not", () => {
  // Cost of action 1 is 0 inside the box 0.2 ≤ x0 < 0.6, else 1 (the shuttle's classes are boxes).
  const rows = [] as { observation: number[]; action: number; cost: number }[];
  for (let i = 0; i < 400; i++) {
    const x0 = i / 400;
    rows.push({ observation: [x0], action: 1, cost: x0 >= 0.2 && x0 < 0.6 ? 0 : 1 });
  }
  const bins = RidgeCostModel.fit(rows, { numArms: 1, featureMap: "bins", numBins: 20, lambda: 1e-6 });
  const line = RidgeCostModel.fit(rows, { numArms: 1, featureMap: "linear", lambda: 1e-6 });
  const err = (m: RidgeCostModel) => rows.reduce((s, r) => s + Math.abs(m.predictCosts(r.observation)[0] - r.cost), 0) / rows.length;
  assert.ok(err(bins) < 0.02, `bins error ${err(bins)}`);
  assert.ok(err(line) > 0.3, `linear error ${err(line)}`);
});

test("every interval contains its value", async () => {
  const r = await evaluatePolicy(syntheticLog(600), SYNTH_MODEL, { seed: 5, bootstrapSamples: 300 });
  for (const e of ESTIMATOR_NAMES) {
    const x = r[e];
    assert.equal(x.ci.method, "bootstrap");
    assert.ok(x.ci.lower <= x.value && x.value <= x.ci.upper, `${e} bootstrap`);
    assert.ok(x.normalCi.lower <= x.value && x.value <= x.normalCi.upper, `${e} normal`);
    assert.ok(x.ci.upper > x.ci.lower, `${e} interval has width`);
    assert.equal(x.confidence, 0.95);
  }
  const narrow = await evaluatePolicy(syntheticLog(600), SYNTH_MODEL, { seed: 5, bootstrapSamples: 300, confidence: 0.5, estimators: [DR] });
  assert.ok(narrow.dr.ci.upper - narrow.dr.ci.lower < r.dr.ci.upper - r.dr.ci.lower);
});

test("formatEstimateTable prints one line per estimator and flags DM", async () => {
  const r = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 50 });
  const text = formatEstimateTable(r);
  const lines = text.trim().split("\n");
  // header, rule, 5 estimators, the cost note, one warning (4 rows: ESS 3.3 < 100) printed once
  assert.equal(lines.length, 2 + 5 + 1 + 1);
  assert.match(lines[2], /^ips\s+0\.6000/);
  assert.match(text, /dm .*biased/);
  assert.match(text, /smaller is better/);
  assert.match(lines[8], /^warning: effective sample size 3\.3 of 4 rows is below 100/);
});

test("warnings: small effective sample size and a mean weight far from 1", async () => {
  const small = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 0 });
  assert.equal(small.ips.warnings.length, 1);
  assert.deepEqual(small.dm.warnings, []); // DM does not use the weights
  const good = await evaluatePolicy(syntheticLog(2000), SYNTH_MODEL, { bootstrapSamples: 0, estimators: [DR] });
  assert.deepEqual(good.dr.warnings, []);
  // Logged mostly with action 3 (p = 0.9), which the target almost never picks: the other actions'
  // weights are 0.9/0.05 = 18, Σw is far from n and the ESS is small.
  const skewed = syntheticLog(2000).map((r, i) => ({ ...r, action: i % 20 === 0 ? 1 + (i % 40 === 0 ? 1 : 0) : 3, action_prob: i % 20 === 0 ? 0.05 : 0.9 }));
  const bad = await evaluatePolicy(skewed, SYNTH_MODEL, { bootstrapSamples: 0, estimators: [IPS] });
  assert.equal(bad.ips.warnings.length, 2, bad.ips.warnings.join(" | "));
  assert.match(bad.ips.warnings[1], /mean importance weight/);
});
