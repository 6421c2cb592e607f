/**
 * Estimates stay in the possible range of costs (issue 11 item 6) and the cross-fitting folds
 * depend on the seed (issue 10 item 10).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { OpeInputError, comparePolicies, evaluatePolicy, IPS, SNIPS, DR } from "@cbkit/common";
import { ESTIMATOR_NAMES, PolicyEvaluationStream, crossFitCostPredictions, formatEstimateTable } from "@cbkit/common/ope";
import { FIXTURE, FIXTURE_MODEL, rec, syntheticLog, SYNTH_MODEL } from "./fixtures";

test("every estimate and interval is clipped to [1 − max_reward, 1 − min_reward], and the result says what was clipped", async () => {
  // The fixture's IPS normal interval is 0.6 ± 0.93: far outside the possible costs [0, 1].
  const r = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { bootstrapSamples: 200 });
  for (const e of ESTIMATOR_NAMES) {
    const x = r[e];
    assert.deepEqual(x.range, { lower: 0, upper: 1 });
    for (const v of [x.value, x.ci.lower, x.ci.upper, x.normalCi.lower, x.normalCi.upper, x.bootstrapCi!.lower, x.bootstrapCi!.upper]) {
      assert.ok(v >= 0 && v <= 1, `${e}: ${v} outside [0, 1]`);
    }
  }
  assert.deepEqual(r.ips.clipped.filter((c) => c.startsWith("normalCi")), ["normalCi.lower", "normalCi.upper"]);
  assert.equal(r.ips.normalCi.lower, 0);
  assert.equal(r.ips.normalCi.upper, 1);
  assert.equal(r.ips.value, 0.6, "a point estimate inside the range is untouched");
  assert.match(formatEstimateTable(r), /ips .*clipped to \[0\.0000, 1\.0000\]/);
  // Another reward range moves the bounds: rewards in [0, 10] give costs in [−9, 1].
  const wide = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { estimators: [IPS], bootstrapSamples: 0, minReward: 0, maxReward: 10 });
  assert.deepEqual(wide.ips.range, { lower: -9, upper: 1 });
  assert.ok(wide.ips.normalCi.lower < 0);
  assert.deepEqual(wide.ips.clipped, ["normalCi.upper", "ci.upper"], "ci is the normal interval without bootstrap");
});

test("a point estimate outside the range (IPS with large weights) is clipped too", async () => {
  // One row, cost 1, target weight 1/0.1 = 10: IPS = 10, impossible for an average cost in [0, 1].
  const log = [rec(1, 0.1, 0, [0]), rec(2, 0.9, 1, [1])];
  const r = await evaluatePolicy(log, { actions: [1, 1] }, { estimators: [IPS], bootstrapSamples: 0, numArms: 2 });
  assert.equal(r.ips.value, 1);
  assert.ok(r.ips.clipped.includes("value"));
});

test("rewards outside the range are refused, naming the row, the value and the keys", async () => {
  const log = [rec(1, 0.5, 1, [0]), rec(2, 0.5, 7, [1], "odd-one")];
  await assert.rejects(evaluatePolicy(log, FIXTURE_MODEL), (e: Error) => {
    assert.ok(e instanceof OpeInputError);
    assert.equal(e.row, 1);
    assert.match(e.message, /row 1: reward is 7, outside the possible rewards \[0, 1\] \(min_reward \/ max_reward: config\.yaml workflow\.min_reward \/ workflow\.max_reward\) \(event_id odd-one\)/);
    return true;
  });
  assert.throws(() => new PolicyEvaluationStream({ target: FIXTURE_MODEL }).add(log[1]), /reward is 7, outside/);
  await assert.rejects(evaluatePolicy(FIXTURE, FIXTURE_MODEL, { minReward: 2, maxReward: 1 }), /workflow\.max_reward is 1, not above workflow\.min_reward \(2\); expected workflow\.min_reward < workflow\.max_reward/);
});

test("paired differences are clipped to ± the width of the cost range", async () => {
  const c = await comparePolicies(FIXTURE, FIXTURE_MODEL, { actions: [2, 1, 2, 1] }, { bootstrapSamples: 0 });
  for (const e of ESTIMATOR_NAMES) {
    assert.deepEqual(c.difference[e].range, { lower: -1, upper: 1 });
    // (SNIPS is NaN here: the baseline never puts weight on a logged action.)
    assert.ok(!(c.difference[e].normalCi.lower < -1) && !(c.difference[e].normalCi.upper > 1), e);
  }
  assert.ok(c.difference.ips.clipped.includes("normalCi.upper"), "the IPS difference's interval reached past +1");
});

test("the cross-fitting folds depend on the seed: same seed same predictions, another seed other folds", () => {
  const rows = syntheticLog(400).map((r) => ({ observation: r.observation, action: r.action, cost: 1 - r.reward }));
  const keys = syntheticLog(400).map((r) => r.event_id);
  const a = crossFitCostPredictions(rows, { numArms: 3, keys, seed: 1 });
  const b = crossFitCostPredictions(rows, { numArms: 3, keys, seed: 1 });
  const c = crossFitCostPredictions(rows, { numArms: 3, keys, seed: 2 });
  assert.deepEqual(a, b);
  const differ = a.filter((p, i) => p.some((v, j) => v !== c[i][j])).length;
  assert.ok(differ > 200, `another seed reassigns the folds (${differ} of 400 rows predicted differently)`);
});

test("DR across fold seeds moves by a fraction of its standard error, less with averaged fold assignments", async () => {
  const log = syntheticLog(2000, 11);
  const spread = async (repeats?: number) => {
    const values: number[] = [];
    let se = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const r = await evaluatePolicy(log, SYNTH_MODEL, { estimators: [DR], seed, bootstrapSamples: 0, ridge: repeats ? { repeats } : undefined });
      values.push(r.dr.value);
      se = r.dr.standardError;
    }
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)) / se;
  };
  const single = await spread(1);
  const averaged = await spread(); // the default: DEFAULT_FOLD_REPEATS assignments
  assert.ok(single > 0 && averaged > 0, "the seed changes the folds");
  assert.ok(single < 0.6, `one assignment: sd across fold seeds ${single.toFixed(3)} of the standard error`);
  assert.ok(averaged < 0.8 * single, `averaged: ${averaged.toFixed(3)} vs one assignment ${single.toFixed(3)} of the standard error`);
});
