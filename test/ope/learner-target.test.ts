import { test } from "node:test";
import assert from "node:assert/strict";
import { CbLearner, evaluatePolicy, DR } from "@cbkit/common";
import { evaluateModelOnRecords } from "@cbkit/common/ope";
import { syntheticLog } from "./fixtures";

test("a CbLearner is evaluated through its full pmf (contract: predictPmf)", async () => {
  const learner = CbLearner.create({ numArms: 3, explorationPolicy: "egreedy", epsilon: 0.1, seed: 1 });
  for (const r of syntheticLog(1500, 5)) learner.learn(r.observation, r.action, 1 - r.reward, r.action_prob);
  const log = syntheticLog(1000, 77);
  // Truth on this log's contexts: 1 − mean π(right action | x).
  let truth = 0;
  for (const r of log) truth += 1 - learner.predictPmf(r.observation)[r.observation[0] > 0 ? 0 : 1];
  truth /= log.length;
  const est = await evaluateModelOnRecords(learner, log, { seed: 1, bootstrapSamples: 200 });
  assert.equal(est.estimator, "dr");
  assert.ok(Math.abs(est.value - truth) < 0.05, `dr ${est.value} vs truth ${truth}`);
  const again = await evaluatePolicy(log, learner, { seed: 1, bootstrapSamples: 200, estimators: [DR] });
  assert.deepEqual(again.dr, est); // no sampling anywhere: the same call gives the same estimate (D-3)
});
