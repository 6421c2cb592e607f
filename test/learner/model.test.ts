import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, ModelFormatError, loadModel, saveModel } from "@cbkit/common";
import { MODEL_FORMAT_VERSION } from "@cbkit/common/learner";
import { ALL_CONFIGS, label, syntheticRecords } from "./helpers";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-model-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
const first = syntheticRecords(150, 1);
const second = syntheticRecords(150, 2);
const probes = syntheticRecords(40, 3).map((r) => r.observation);

function pmfs(l: CbLearner): number[][] {
  return probes.map((x) => Array.from(l.predictPmf(x)).concat(Array.from(l.predictCosts(x))));
}

for (const o of ALL_CONFIGS) {
  test(`warm start equals uninterrupted training (bit-identical): ${label(o)}`, async () => {
    const whole = CbLearner.create(o);
    await whole.train(first);
    await whole.train(second);
    const part = CbLearner.create(o);
    await part.train(first);
    const dir = path.join(tmp, label(o).replace(/[^a-z0-9]+/gi, "_"));
    await saveModel(part, dir, { modelId: "m1", parentModelId: null });
    const { learner, metadata } = await loadModel(dir);
    assert.deepEqual(pmfs(learner), pmfs(part), "a loaded model predicts exactly as the saved one");
    assert.equal(metadata.examplesSeen, 150);
    await learner.train(second);
    assert.deepEqual(pmfs(learner), pmfs(whole));
    assert.equal(learner.examplesSeen, whole.examplesSeen);
  });
}

test("the artifact records format, algorithm, feature map, arms, examples, ids and weights", async () => {
  const l = CbLearner.create({ numArms: 4, explorationPolicy: "egreedy", epsilon: 0.01, featureMap: "bins", numBins: 4 });
  await l.train(first);
  const dir = path.join(tmp, "meta");
  await saveModel(l, dir, { modelId: "model-2", parentModelId: "model-1" });
  const m = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
  assert.equal(m.format, "cbkit-cb-model");
  assert.equal(m.formatVersion, MODEL_FORMAT_VERSION);
  assert.equal(m.modelId, "model-2");
  assert.equal(m.parentModelId, "model-1");
  assert.equal(m.numArms, 4);
  assert.equal(m.examplesSeen, 150);
  assert.equal(m.algorithm.explorationPolicy, "egreedy");
  assert.equal(m.algorithm.options.epsilon, 0.01);
  assert.match(m.algorithm.vwArguments, /--cb_explore 4 --epsilon 0.01/);
  assert.equal(m.featureMap.kind, "bins");
  assert.equal(m.featureMap.numFeatures, 3);
  assert.equal(m.featureMap.binEdges["1"].length, 3, "fitted bin edges are saved");
  assert.equal(fs.statSync(path.join(dir, "weights.bin")).size, m.weights.bytes);
});

async function savedDir(name: string): Promise<string> {
  const l = CbLearner.create({ numArms: 4, explorationPolicy: "egreedy", epsilon: 0.1 });
  await l.train(first);
  const dir = path.join(tmp, name);
  await saveModel(l, dir, { modelId: name, parentModelId: null });
  return dir;
}

test("a corrupt weights file is refused with the reason", async () => {
  const dir = await savedDir("corrupt");
  const f = path.join(dir, "weights.bin");
  const b = fs.readFileSync(f);
  b[b.length - 3] ^= 0xff;
  fs.writeFileSync(f, b);
  await assert.rejects(loadModel(dir), (e: Error) => e instanceof ModelFormatError && /corrupt.*SHA-256/.test(e.message));
});

test("a truncated weights file is refused", async () => {
  const dir = await savedDir("truncated");
  const f = path.join(dir, "weights.bin");
  fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 100));
  await assert.rejects(loadModel(dir), /has 100 bytes/);
});

test("an incompatible version, bad JSON, bad options and a missing folder are refused", async () => {
  const dir = await savedDir("version");
  const mf = path.join(dir, "model.json");
  const m = JSON.parse(fs.readFileSync(mf, "utf8"));
  fs.writeFileSync(mf, JSON.stringify({ ...m, formatVersion: 99 }));
  await assert.rejects(loadModel(dir), /format version 99 is not supported/);
  fs.writeFileSync(mf, JSON.stringify({ ...m, algorithm: { ...m.algorithm, options: { ...m.algorithm.options, epsilon: 7 } } }));
  await assert.rejects(loadModel(dir), /epsilon/);
  fs.writeFileSync(mf, JSON.stringify({ ...m, format: "vw" }));
  await assert.rejects(loadModel(dir), /not a cbkit-cb-model file/);
  fs.writeFileSync(mf, "{not json");
  await assert.rejects(loadModel(dir), /not valid JSON/);
  await assert.rejects(loadModel(path.join(tmp, "nope")), /model.json is missing/);
});

test("saveModel checks the ids", async () => {
  const l = CbLearner.create({ numArms: 2, explorationPolicy: "egreedy" });
  await assert.rejects(saveModel(l, path.join(tmp, "x"), { modelId: "", parentModelId: null }), /modelId/);
});

test("determinism by seed: the same seed and data give the same model; bagging depends on the seed", async () => {
  const o = { numArms: 4, explorationPolicy: "bag" as const, numPolicies: 4 };
  const a = CbLearner.create({ ...o, seed: 5 }), b = CbLearner.create({ ...o, seed: 5 }), c = CbLearner.create({ ...o, seed: 6 });
  for (const l of [a, b, c]) await l.train(first);
  assert.deepEqual(pmfs(a), pmfs(b));
  assert.notDeepEqual(pmfs(a), pmfs(c));
});
