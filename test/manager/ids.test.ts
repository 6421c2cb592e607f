import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InvalidExperimentIdError } from "@cbkit/common";
import {
  MAX_EXPERIMENT_ID_LENGTH,
  modelIdOfEvaluationJob,
  newEvaluationJobId,
  newJoinJobId,
  newModelId,
  validateExperimentId,
} from "@cbkit/common/experiment";

test("experiment ids: allowed characters, no -eval-, short enough for every derived SageMaker name", () => {
  for (const ok of ["a", "bandits-exp-1", "A1--b2", "x".repeat(MAX_EXPERIMENT_ID_LENGTH)]) assert.equal(validateExperimentId(ok), ok);
  for (const bad of ["", "-a", "a-", "a_b", "a.b", "a b", "../x", "a/b", "x-eval-y", "x".repeat(MAX_EXPERIMENT_ID_LENGTH + 1), "a'; DROP TABLE records; --"]) {
    assert.throws(() => validateExperimentId(bad), InvalidExperimentIdError, bad);
  }
  const exp = "x".repeat(MAX_EXPERIMENT_ID_LENGTH);
  const model = newModelId(exp);
  const evalJob = newEvaluationJobId(model);
  assert.ok(evalJob.length <= 63, `${evalJob.length}`);
  assert.ok(newJoinJobId(exp).length <= 63);
  assert.equal(modelIdOfEvaluationJob(evalJob), model);
});

test("derived ids never collide within a second and sort by creation", () => {
  const ids = Array.from({ length: 5000 }, () => newModelId("e"));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
});
