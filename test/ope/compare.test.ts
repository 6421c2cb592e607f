import { test } from "node:test";
import assert from "node:assert/strict";
import { comparePolicies, evaluatePolicy, OpeInputError, IPS, DR, SNDR } from "@cbkit/common";
import { formatComparisonTable, DifferenceAccumulator, OpeAccumulator, ESTIMATOR_NAMES } from "@cbkit/common/ope";
import { EXPECTED, FIXTURE, FIXTURE_COST_MODEL, FIXTURE_MODEL, SYNTH_MODEL, syntheticLog } from "./fixtures";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} is not ${b} (±${tol})`);

test("comparePolicies: each policy's values and their differences by hand", async () => {
  // Baseline = per-row actions [1, 1, 2, 2] (see estimators.test.ts): w_B = [2, 0, 0, 4/3], Σw_B = 10/3.
  //   IPS_B = 0 (both matched rows have cost 0); SNIPS_B = 0
  //   DM_B  = (0.2 + 0.2 + 0.4 + 0.1) / 4 = 0.225
  //   DR_B  = 0.225 + (2·(0 − 0.2) + 4/3·(0 − 0.1)) / 4 = 0.225 − 0.13333… = 0.091666…
  //   SNDR_B = 0.225 + (−0.4 − 0.13333…) / (10/3) = 0.225 − 0.16 = 0.065
  const r = await comparePolicies(FIXTURE, FIXTURE_MODEL, { actions: [1, 1, 2, 2] }, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 100 });
  const base = { ips: 0, snips: 0, dm: 0.225, dr: 0.225 - (0.4 + 0.4 / 3) / 4, sndr: 0.065 };
  for (const e of ESTIMATOR_NAMES) {
    close(r.target[e].value, EXPECTED[e]);
    close(r.baseline[e].value, base[e]);
    close(r.difference[e].value, EXPECTED[e] - base[e]);
    assert.equal(r.difference[e].biased, e === "dm");
  }
  // The target's and baseline's results are exactly what evaluatePolicy gives.
  const alone = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 100 });
  assert.deepEqual(r.target, alone);
});

test("a policy compared with itself differs by exactly 0", async () => {
  const r = await comparePolicies(syntheticLog(300), SYNTH_MODEL, SYNTH_MODEL, { bootstrapSamples: 50 });
  for (const e of ESTIMATOR_NAMES) {
    assert.equal(r.difference[e].value, 0);
    assert.equal(r.difference[e].ci.lower, 0);
    assert.equal(r.difference[e].ci.upper, 0);
  }
});

test("the paired interval of a difference is narrower than comparing two separate intervals", async () => {
  // Baseline: 85 % on the right action, 10 % on the other main one, 5 % on the third. Truth: the
  // target costs 0.1 and the baseline 0.15 everywhere, so the difference is −0.05.
  const baseline = { predictPmf: (x: number[]) => (x[0] > 0 ? [0.85, 0.1, 0.05] : [0.1, 0.85, 0.05]) };
  const r = await comparePolicies(syntheticLog(2000), SYNTH_MODEL, baseline, { seed: 3, bootstrapSamples: 300, estimators: [IPS, DR] });
  const width = (x: { ci: { lower: number; upper: number } }) => x.ci.upper - x.ci.lower;
  for (const e of ["ips", "dr"] as const) {
    // Unpaired: the two intervals' half-widths combined as if the estimates were independent.
    const unpaired = Math.hypot(width(r.target[e]), width(r.baseline[e]));
    // Measured: IPS 0.0062 vs 0.0118; DR 0.0008 vs 0.0174 (the shared cost model cancels out).
    assert.ok(width(r.difference[e]) < (e === "dr" ? 0.2 : 0.75) * unpaired, `${e}: paired width ${width(r.difference[e])} vs unpaired ${unpaired}`);
    // (Coverage is a property of many draws: over 60 logs the DR difference interval held −0.05 in 56.)
    assert.ok(Math.abs(r.difference[e].value + 0.05) < 0.005, `${e} difference ${r.difference[e].value} is not near −0.05`);
    assert.ok(r.difference[e].ci.upper < 0, `${e}: the target is detected as better`);
  }
});

test("difference accumulators merge, survive a JSON round trip and refuse plain ones", () => {
  const rows = syntheticLog(400).map((r) => {
    const p = SYNTH_MODEL.predictPmf(r.observation);
    return { cost: 1 - r.reward, propensity: r.action_prob, targetProb: p[r.action - 1], baselineTargetProb: 1 / 3, directCost: 0.2, predictedCost: 0.3, baselineDirectCost: 0.5, key: r.event_id };
  });
  const one = new DifferenceAccumulator(SNDR, { seed: 2, bootstrapSamples: 80 });
  const a = new DifferenceAccumulator(SNDR, { seed: 2, bootstrapSamples: 80 });
  const b = new DifferenceAccumulator(SNDR, { seed: 2, bootstrapSamples: 80 });
  rows.forEach((s, i) => (one.add(s), (i < 150 ? a : b).add(s)));
  const merged = a.merge(b).result();
  close(merged.value, one.result().value);
  close(merged.ci.lower, one.result().ci.lower);
  const back = OpeAccumulator.fromState(JSON.parse(JSON.stringify(one.toState())));
  assert.ok(back instanceof DifferenceAccumulator);
  assert.deepEqual(back.result(), one.result());
  assert.throws(() => one.merge(new OpeAccumulator(SNDR, { seed: 2, bootstrapSamples: 80 })), (e: unknown) => e instanceof OpeInputError && /is a sndr accumulator; merge needs sndr difference/.test(e.message));
  assert.throws(() => one.add({ ...rows[0], baselineTargetProb: 1.5 }), (e: unknown) => e instanceof OpeInputError && e.field === "baselineTargetProb");
  assert.throws(() => one.add({ ...rows[0], baselineDirectCost: undefined }), (e: unknown) => e instanceof OpeInputError && e.field === "baselineDirectCost");
});

test("a bad baseline is refused with its own field name", async () => {
  const reject = (p: Promise<unknown>, field: string, row: number | null) =>
    assert.rejects(p, (e: unknown) => e instanceof OpeInputError && e.field === field && e.row === row);
  await reject(comparePolicies(FIXTURE, FIXTURE_MODEL, { actions: [1, 2] }), "baseline.actions", null);
  await reject(comparePolicies(FIXTURE, FIXTURE_MODEL, { actions: [1, 2, 3, 1] }), "baseline.actions", 2);
  await reject(comparePolicies(FIXTURE, FIXTURE_MODEL, { predictPmf: () => [0.5, 0.6] }), "baseline pmf", 0);
  await reject(comparePolicies(FIXTURE, FIXTURE_MODEL, { pmfs: [[1, 0], [1, 0], [1, 0], [1]] }), "baseline.pmfs", 3);
  await reject(comparePolicies(FIXTURE, FIXTURE_MODEL, {} as never), "baseline", null);
});

test("formatComparisonTable gives each policy's cost, the difference and a verdict", async () => {
  const baseline = { predictPmf: (x: number[]) => (x[0] > 0 ? [0.85, 0.1, 0.05] : [0.1, 0.85, 0.05]) };
  const r = await comparePolicies(syntheticLog(2000), SYNTH_MODEL, baseline, { seed: 3, bootstrapSamples: 100, estimators: [IPS, DR] });
  const text = formatComparisonTable(r, { target: "challenger", baseline: "champion" });
  const lines = text.trim().split("\n");
  assert.match(lines[0], /challenger cost\s+champion cost\s+difference challenger − champion/);
  assert.match(lines[2], /^ips .* -0\.05\d\d \[.*\] 95%\s+challenger is better$/);
  assert.match(lines[3], /^dr .*challenger is better$/);
  assert.match(text, /negative difference favours challenger/);
  const same = await comparePolicies(syntheticLog(300), SYNTH_MODEL, SYNTH_MODEL, { bootstrapSamples: 50, estimators: [DR] });
  assert.match(formatComparisonTable(same), /dr .*no clear difference/);
});
