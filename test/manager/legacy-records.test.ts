/**
 * Model records written by the kit's previous version keep loading: their scores had another
 * shape (`{score, ci, n, estimator, details}`), which the record store reads into today's
 * OpeEstimate, so a workspace of the previous version resumes with its scores.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExperimentManager, ModelRecord, OpeEstimate } from "@cbkit/common";
import { DuckDbRecordStore } from "@cbkit/common/local";
import { PREVIOUS_VERSION_SCORE, PREVIOUS_VERSION_SCORE_TODAY } from "../ope/fixtures";
import { manager, syntheticJoined, tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("legacy-records");
const config = testConfig(ws);
const opened: ExperimentManager[] = [];
after(async () => {
  for (const m of opened) await m.cleanResource().catch(() => undefined);
  for (const m of opened) await m.close().catch(() => undefined);
  fs.rmSync(ws, { recursive: true, force: true });
});

/** A score as the previous version's evaluation job wrote it from the same estimate. */
function previousVersionScore(s: OpeEstimate, modelId: string): unknown {
  return {
    score: s.value,
    ci: { lower: s.ci.lower, upper: s.ci.upper, method: s.ci.method },
    n: s.n,
    estimator: s.estimator,
    details: { modelId, effectiveSampleSize: s.effectiveSampleSize, biased: s.biased, normalCi: s.normalCi, range: s.range, clipped: s.clipped, skipped: 0 },
  };
}

test("the local record store reads a model record of the previous version into today's score", async () => {
  const store = new DuckDbRecordStore(path.join(ws, "store-only.duckdb"));
  try {
    // The previous version's store wrote JSON.stringify(record), as today's does: this is its row.
    const old = { model_id: "exp-model-1", eval_scores: { "file:///w/bucket/exp/joined_data/j/eval": PREVIOUS_VERSION_SCORE } };
    await store.create("model", "exp", "exp-model-1", old as unknown as ModelRecord);
    const read = await store.get("model", "exp", "exp-model-1");
    assert.deepEqual(read?.value.eval_scores, { "file:///w/bucket/exp/joined_data/j/eval": PREVIOUS_VERSION_SCORE_TODAY });
    const [listed] = await store.list("model", "exp");
    assert.deepEqual(listed.value.eval_scores["file:///w/bucket/exp/joined_data/j/eval"], PREVIOUS_VERSION_SCORE_TODAY);
  } finally {
    await store.close();
  }
});

test("an experiment whose records the previous version wrote resumes with its scores", async () => {
  const a = await manager(config, "legacy-1");
  opened.push(a);
  await a.ingestJoinedData(syntheticJoined(120), 0.8);
  await a.initializeFirstModel({ inputDataUri: a.lastJoinedJobTrainData });
  const now = await a.evaluateModel();
  const modelId = a.lastTrainedModelId as string;
  await a.close();

  // Turn the stored record into what the previous version stored for the same evaluation.
  const store = new DuckDbRecordStore(path.join(ws, "records.duckdb"));
  try {
    const rec = (await store.get("model", "legacy-1", modelId))!;
    const evalScores = Object.fromEntries(Object.entries(rec.value.eval_scores).map(([uri, s]) => [uri, previousVersionScore(s, modelId)]));
    await store.update("model", "legacy-1", modelId, { ...rec.value, eval_scores: evalScores as unknown as ModelRecord["eval_scores"] }, rec.version);
  } finally {
    await store.close();
  }

  const b = await manager(config, "legacy-1");
  opened.push(b);
  const read = await b.getEvalScore();
  // What the previous version kept reads back unchanged; what it did not keep is NaN.
  const kept = ["estimator", "value", "ci", "normalCi", "bootstrapCi", "n", "effectiveSampleSize", "biased", "range", "clipped"] as const;
  for (const k of kept) assert.deepEqual(read[k], now[k], k);
  assert.ok(Number.isNaN(read.standardError) && Number.isNaN(read.meanWeight) && Number.isNaN(read.maxWeight));
  assert.equal(read.confidence, 0.95);
  const [model] = await b.listModels();
  assert.deepEqual(Object.values(model.eval_scores), [read]);
  // A new evaluation records today's shape beside it.
  const again = await b.evaluateModel();
  assert.deepEqual(again, now, "the same model on the same data scores the same");
});
