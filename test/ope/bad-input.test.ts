import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluatePolicy, OpeInputError, IPS, DR, type JoinedRecord } from "@cbkit/common";
import { OpeAccumulator, PolicyEvaluationStream } from "@cbkit/common/ope";
import { FIXTURE, FIXTURE_COST_MODEL, FIXTURE_MODEL, FIXTURE_PMFS, SYNTH_MODEL, rec } from "./fixtures";

/** FIXTURE with row `i` changed. */
function withRow(i: number, change: Partial<JoinedRecord> | Record<string, unknown>): JoinedRecord[] {
  return FIXTURE.map((r, j) => (j === i ? ({ ...r, ...change } as JoinedRecord) : r));
}

async function rejectsWith(p: Promise<unknown>, field: string, row: number | null, message?: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof OpeInputError, `expected OpeInputError, got ${e}`);
    assert.equal(e.field, field);
    assert.equal(e.row, row);
    assert.ok(e.message.includes(field), `message names the field: ${e.message}`);
    if (row !== null) assert.ok(e.message.includes(`row ${row}`), `message names the row: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const run = (records: JoinedRecord[], target: Parameters<typeof evaluatePolicy>[1] = FIXTURE_MODEL) =>
  evaluatePolicy(records, target, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 0 });

test("propensity (action_prob) ≤ 0, > 1, NaN or missing is refused", async () => {
  await rejectsWith(run(withRow(2, { action_prob: 0 })), "action_prob", 2, /\(0, 1\]/);
  await rejectsWith(run(withRow(1, { action_prob: -0.2 })), "action_prob", 1);
  await rejectsWith(run(withRow(3, { action_prob: 1.5 })), "action_prob", 3);
  await rejectsWith(run(withRow(0, { action_prob: Number.NaN })), "action_prob", 0);
  await rejectsWith(run(withRow(0, { action_prob: "0.5" })), "action_prob", 0);
});

test("NaN or missing reward and NaN observations are refused", async () => {
  await rejectsWith(run(withRow(1, { reward: Number.NaN })), "reward", 1);
  await rejectsWith(run(withRow(1, { reward: undefined })), "reward", 1);
  await rejectsWith(run(withRow(2, { observation: [Number.NaN] })), "observation[0]", 2);
  await rejectsWith(run(withRow(2, { observation: "[1]" })), "observation", 2);
  await rejectsWith(run(withRow(3, { observation: [3, 1] })), "observation", 3, /earlier rows have 1/);
});

test("an action out of range or not an integer is refused", async () => {
  await rejectsWith(run(withRow(1, { action: 0 })), "action", 1);
  await rejectsWith(run(withRow(1, { action: 1.5 })), "action", 1);
  await rejectsWith(run(withRow(3, { action: 3 })), "action", 3, /outside 1\.\.2/);
  await rejectsWith(evaluatePolicy(FIXTURE, { actions: [1, 1, 5, 2] }, { numArms: 2 }), "target.actions", 2, /outside 1\.\.2/);
  await rejectsWith(
    evaluatePolicy(FIXTURE, { actions: [1, 1, 2, 2] }, { numArms: 2, estimators: [IPS] }).then(() => evaluatePolicy(withRow(0, { action: 3 }), { actions: [1, 1, 2, 2] }, { numArms: 2, estimators: [IPS] })),
    "action",
    0,
  );
});

test("a target pmf that does not sum to 1, has a bad entry or the wrong length is refused", async () => {
  const pmfs = FIXTURE_PMFS.map((p) => p.slice());
  pmfs[2] = [0.5, 0.4];
  await rejectsWith(run(FIXTURE, { pmfs }), "target.pmfs", 2, /sums to 0\.9/);
  pmfs[2] = [1.2, -0.2];
  await rejectsWith(run(FIXTURE, { pmfs }), "target.pmfs[0]", 2);
  pmfs[2] = [0.5, 0.25, 0.25];
  await rejectsWith(run(FIXTURE, { pmfs }), "target.pmfs", 2, /expected 2/);
  const badModel = { predictPmf: (x: number[]) => (x[0] === 1 ? [0.7, 0.7] : [0.5, 0.5]) };
  await rejectsWith(run(FIXTURE, badModel), "target pmf", 1, /sums to 1\.4/);
  const nanModel = { predictPmf: () => [Number.NaN, 1] };
  await rejectsWith(run(FIXTURE, nanModel), "target pmf[0]", 0);
  const throwing = { predictPmf: () => { throw new Error("wrong feature count"); } };
  await rejectsWith(run(FIXTURE, throwing), "target.predictPmf", 0, /wrong feature count/);
});

test("float rounding in a pmf (a hair below 0 or a sum off by 1e-9) is not an error", async () => {
  const pmfs = [[1 + 1e-10, -1e-17], [0.8, 0.2], [0.5, 0.5 + 1e-9], [0, 1]];
  const r = await evaluatePolicy(FIXTURE, { pmfs }, { estimators: [IPS], bootstrapSamples: 0 });
  assert.ok(Math.abs(r.ips.value - (0 + 0.4 + 2 + 0) / 4) < 1e-8);
});

test("per-row targets must match the records one to one", async () => {
  await rejectsWith(run(FIXTURE, { actions: [1, 2, 1] }), "target.actions", null, /more records/);
  await rejectsWith(run(FIXTURE, { actions: [1, 2, 1, 1, 2] }), "target.actions", null, /5 entries but there are 4/);
  await rejectsWith(run(FIXTURE, { pmfs: FIXTURE_PMFS.slice(0, 2) }), "target.pmfs", null);
  await rejectsWith(run(FIXTURE, { actions: [1, 0, 1, 1] }), "target.actions", 1);
  await rejectsWith(run(FIXTURE, {} as never), "target", null);
});

test("a bad reward model, no records, unknown estimators and bad options are refused", async () => {
  const short = { predictCosts: () => [0.1] };
  await rejectsWith(evaluatePolicy(FIXTURE, FIXTURE_MODEL, { rewardModel: short }), "rewardModel.predictCosts", 0, /expected 2/);
  const nan = { predictCosts: (x: number[]) => (x[0] === 3 ? [0, Number.NaN] : [0, 0]) };
  await rejectsWith(evaluatePolicy(FIXTURE, FIXTURE_MODEL, { rewardModel: nan }), "rewardModel.predictCosts[1]", 3);
  await rejectsWith(evaluatePolicy([], FIXTURE_MODEL), "records", null, /no rows/);
  await rejectsWith(evaluatePolicy(FIXTURE, FIXTURE_MODEL, { estimators: ["ipw" as never] }), "estimators", null);
  await rejectsWith(evaluatePolicy(FIXTURE, FIXTURE_MODEL, { estimators: [] }), "estimators", null);
  await rejectsWith(evaluatePolicy(FIXTURE, FIXTURE_MODEL, { confidence: 95 }), "confidence", null);
  await rejectsWith(evaluatePolicy(FIXTURE, FIXTURE_MODEL, { bootstrapSamples: -1 }), "bootstrapSamples", null);
  await rejectsWith(evaluatePolicy(FIXTURE, FIXTURE_MODEL, { numArms: 0 }), "numArms", null);
});

test("accumulators refuse bad samples and mismatched merges", () => {
  const acc = new OpeAccumulator(DR, { bootstrapSamples: 0 });
  const ok = { cost: 0, propensity: 0.5, targetProb: 0.5, directCost: 0.1, predictedCost: 0.1 };
  acc.add(ok);
  const cases: [Record<string, unknown>, string][] = [
    [{ propensity: 0 }, "propensity"],
    [{ propensity: 1.01 }, "propensity"],
    [{ propensity: Number.NaN }, "propensity"],
    [{ targetProb: -0.1 }, "targetProb"],
    [{ targetProb: 2 }, "targetProb"],
    [{ cost: Number.POSITIVE_INFINITY }, "cost"],
    [{ directCost: undefined }, "directCost"],
    [{ predictedCost: Number.NaN }, "predictedCost"],
  ];
  for (const [change, field] of cases) {
    assert.throws(() => acc.add({ ...ok, ...change } as never), (e: unknown) => e instanceof OpeInputError && e.field === field && e.row === 1);
  }
  assert.equal(acc.n, 1);
  assert.throws(() => acc.merge(new OpeAccumulator(IPS, { bootstrapSamples: 0 })), /ips accumulator/);
  assert.throws(() => acc.merge(new OpeAccumulator(DR, { bootstrapSamples: 10 })), /same options/);
  assert.throws(() => new OpeAccumulator("x" as never), (e: unknown) => e instanceof OpeInputError && e.field === "estimator");
});

test("streaming DM/DR without a reward model, or rows without a target, are refused", () => {
  assert.throws(() => new PolicyEvaluationStream({ estimators: [DR], target: SYNTH_MODEL }), (e: unknown) => e instanceof OpeInputError && e.field === "rewardModel");
  const s = new PolicyEvaluationStream({});
  assert.throws(() => s.add(rec(1, 0.5, 1, [0])), (e: unknown) => e instanceof OpeInputError && e.field === "pmf" && e.row === 0);
  s.add(rec(1, 0.5, 1, [0]), [0.5, 0.5]);
  assert.throws(() => s.add(rec(1, 0.5, 1, [0]), [0.5, 0.25, 0.25]), (e: unknown) => e instanceof OpeInputError && e.field === "pmf" && e.row === 1);
});
