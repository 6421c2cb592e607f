/**
 * The fitted cost model is reused across evaluations of the same rows with the same seed and
 * settings (ope/cost-model-cache.ts): the estimates are bit-identical to fitting it again, and a
 * changed row, seed or cost-model setting fits a new one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { evaluatePolicy, readJoinedRecords, type JoinedRecord } from "@cbkit/common";
import { fittedCostModels, type EvaluatePolicyOptions } from "@cbkit/common/ope";
import { syntheticLog } from "./fixtures";

const LOG = syntheticLog(600, 11);
/** Two different target policies over K = 3 actions. */
const SHARP = { predictPmf: (x: number[]) => (x[0] > 0 ? [0.8, 0.1, 0.1] : [0.1, 0.8, 0.1]) };
const FLAT = { predictPmf: (x: number[]) => (x[1] > 0 ? [0.4, 0.3, 0.3] : [0.3, 0.3, 0.4]) };

/** The records written as JSON lines into a fresh folder (as a job's input channel). */
function writeChannel(records: JoinedRecord[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-reuse-"));
  fs.writeFileSync(path.join(dir, "part-0.jsonl"), records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return dir;
}

/** The estimates of one evaluation of the folder's records, with a new cost model or a reused one. */
async function evaluate(dir: string, policy: typeof SHARP, options: EvaluatePolicyOptions = {}, reuse = true) {
  if (!reuse) fittedCostModels.clear();
  return evaluatePolicy(readJoinedRecords(dir), policy, { seed: 3, ...options });
}

test("a second policy on the same rows reuses the fitted cost model, with bit-identical estimates", async () => {
  // Two folders with the same bytes: the local job copies its inputs to a folder of its own.
  const first = writeChannel(LOG), second = writeChannel(LOG);
  try {
    const fresh = [await evaluate(first, SHARP, {}, false), await evaluate(second, FLAT, {}, false)];
    fittedCostModels.clear();
    const sharp = await evaluate(first, SHARP);
    const flat = await evaluate(second, FLAT);
    assert.deepEqual({ hits: fittedCostModels.hits, misses: fittedCostModels.misses }, { hits: 1, misses: 1 });
    assert.deepEqual([sharp, flat], fresh);
    // The estimates differ between the policies (so the comparison above could fail).
    assert.notEqual(sharp.dr.value, flat.dr.value);
    // Records given in memory read the same rows: the same model again.
    const inMemory = await evaluatePolicy(LOG, SHARP, { seed: 3 });
    assert.equal(fittedCostModels.hits, 2);
    assert.deepEqual(inMemory, sharp);
  } finally {
    fs.rmSync(first, { recursive: true, force: true });
    fs.rmSync(second, { recursive: true, force: true });
  }
});

test("a changed row, seed or cost-model setting fits a new cost model", async () => {
  const base = writeChannel(LOG);
  const changed = LOG.map((r, i) => (i === 417 ? { ...r, observation: [r.observation[0] + 1e-9, r.observation[1]] } : r));
  const other = writeChannel(changed);
  const cases: [string, string, EvaluatePolicyOptions][] = [
    ["one observation", other, {}],
    ["the seed", base, { seed: 4 }],
    ["lambda", base, { ridge: { lambda: 2 } }],
    ["the feature map", base, { ridge: { featureMap: "linear" } }],
    ["the bins", base, { ridge: { numBins: 8 } }],
    ["the folds", base, { ridge: { folds: 4 } }],
    ["the repeats", base, { ridge: { repeats: 2 } }],
    ["the number of actions", base, { numArms: 4 }],
  ];
  try {
    for (const [what, dir, options] of cases) {
      const target = options.numArms === 4 ? { predictPmf: (x: number[]) => [...SHARP.predictPmf(x), 0] } : SHARP;
      fittedCostModels.clear();
      await evaluate(base, SHARP);
      const changedResult = await evaluate(dir, target, options);
      assert.deepEqual({ hits: fittedCostModels.hits, misses: fittedCostModels.misses }, { hits: 0, misses: 2 }, `changing ${what} must fit a new cost model`);
      assert.deepEqual(changedResult, await evaluate(dir, target, options, false), what);
    }
    // The same options again do hit (so the misses above are the changes' doing).
    fittedCostModels.clear();
    await evaluate(base, SHARP, { ridge: { lambda: 2 } });
    await evaluate(base, FLAT, { ridge: { lambda: 2 } });
    assert.equal(fittedCostModels.hits, 1);
    // Seven more fitted models: only the last 4 are kept.
    for (const [, dir, options] of cases) if (options.numArms === undefined) await evaluate(dir, SHARP, options);
    assert.equal(fittedCostModels.size, 4);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
    fs.rmSync(other, { recursive: true, force: true });
  }
});
