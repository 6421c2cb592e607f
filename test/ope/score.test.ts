/**
 * The score's JSON (score.json, stored records): a round trip keeps every field, NaN included;
 * the previous version's score shape reads into today's; a malformed one is refused by name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { OpeInputError, DR, evaluatePolicy } from "@cbkit/common";
import { OpeAccumulator, parseScore, scoreFromJson } from "@cbkit/common/ope";
import { FIXTURE, FIXTURE_COST_MODEL, FIXTURE_MODEL, PREVIOUS_VERSION_SCORE, PREVIOUS_VERSION_SCORE_TODAY } from "./fixtures";

test("a score survives its JSON: every field, and the NaNs JSON writes as null", async () => {
  const r = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 50 });
  for (const e of Object.values(r)) assert.deepEqual(parseScore(JSON.stringify(e, null, 2), "score.json"), e);
  // One row: no standard error, so the normal interval is NaN too.
  const one = new OpeAccumulator(DR, { bootstrapSamples: 0 }).add({ cost: 1, propensity: 0.5, targetProb: 0.5, directCost: 0.2, predictedCost: 0.3 }).result();
  assert.ok(Number.isNaN(one.standardError));
  const text = JSON.stringify(one);
  assert.match(text, /"standardError":null/);
  assert.deepEqual(parseScore(text, "score.json"), one);
});

test("the previous version's score {score, ci, n, estimator, details} reads into today's shape", () => {
  assert.deepEqual(scoreFromJson(PREVIOUS_VERSION_SCORE, "old"), PREVIOUS_VERSION_SCORE_TODAY);
  // Without details (the shape it promised at least): the rest comes from the estimator and the interval.
  const bare = scoreFromJson({ score: 0.2, ci: { lower: 0.1, upper: 0.3, method: "normal" }, n: 10, estimator: "dm" }, "old");
  assert.deepEqual([bare.value, bare.normalCi, bare.bootstrapCi, bare.biased, bare.range, bare.clipped, bare.warnings], [0.2, bare.ci, null, true, null, [], []]);
  assert.ok(Number.isNaN(bare.effectiveSampleSize));
});

test("a malformed score is refused, naming where it came from and what is wrong", () => {
  const refused = (json: unknown, re: RegExp) =>
    assert.throws(() => scoreFromJson(json, "s3://b/score.json"), (e: unknown) => e instanceof OpeInputError && e.field === "s3://b/score.json" && re.test(e.message));
  refused({ score: "n.a." }, /lacks a finite score \(value\), n, estimator or ci/);
  refused([1], /is not a score object/);
  refused({ ...PREVIOUS_VERSION_SCORE_TODAY, normalCi: undefined }, /lacks normalCi/);
  refused({ ...PREVIOUS_VERSION_SCORE_TODAY, biased: "no" }, /lacks the boolean biased/);
  refused({ ...PREVIOUS_VERSION_SCORE_TODAY, meanWeight: "1" }, /lacks the number meanWeight/);
  assert.throws(() => scoreFromJson({ ...PREVIOUS_VERSION_SCORE_TODAY, estimator: "ipw" }, "x.json"), /x\.json: estimator is "ipw", not an estimator \(did you mean ips\?\)/);
  assert.throws(() => parseScore("{", "score.json"), (e: unknown) => e instanceof OpeInputError && /score\.json is not JSON/.test(e.message));
});
