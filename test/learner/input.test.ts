import { test } from "node:test";
import assert from "node:assert/strict";
import { CbLearner, JoinedRecord, LearnerError, learnerOptionsFromParameters } from "@cbkit/common";

function learner(): CbLearner {
  const l = CbLearner.create({ numArms: 3, explorationPolicy: "egreedy", epsilon: 0.1 });
  l.learn([0.1, 0.2], 1, 0, 0.5); // fixes the dimension at 2
  return l;
}

function throwsField(fn: () => unknown, field: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LearnerError, `expected a LearnerError, got ${String(e)}`);
    if (typeof field === "string") assert.equal(e.field, field);
    else assert.match(e.field, field);
    return true;
  });
}

test("a wrong feature count names the context and both counts", () => {
  const l = learner();
  throwsField(() => l.learn([1, 2, 3], 1, 0, 0.5), "context");
  assert.throws(() => l.predictPmf([1]), /has 1 features, the model expects 2/);
});

test("NaN and infinite features name the feature", () => {
  const l = learner();
  throwsField(() => l.learn([1, NaN], 1, 0, 0.5), "context[1]");
  throwsField(() => l.predictPmf([Infinity, 1]), "context[0]");
  throwsField(() => l.predictPmf({ a: 1, b: -Infinity }), "context.b");
});

test("actions out of range, bad probabilities and non-finite costs name the field", () => {
  const l = learner();
  for (const a of [0, 4, 1.5, NaN]) throwsField(() => l.learn([1, 2], a, 0, 0.5), "action");
  for (const p of [0, -0.1, 1.01, NaN]) throwsField(() => l.learn([1, 2], 1, 0, p), "probability");
  for (const c of [NaN, Infinity]) throwsField(() => l.learn([1, 2], 1, c, 0.5), "cost");
  throwsField(() => l.chooseAction([1, 2], ""), "eventId");
  assert.equal(l.examplesSeen, 1, "nothing was learned from bad input");
});

const good = (i: number): JoinedRecord => ({ reward: 1, event_id: `g${i}`, action: 1, action_prob: 0.5, model_id: "m", observation: [0.1 * i, 1], sample_prob: 0.1 });

test("train skips malformed rows, counts them and reports the first few reasons", async () => {
  const rows: JoinedRecord[] = [
    good(1),
    { ...good(3), observation: [1, NaN] },
    { ...good(4), action: 0 },
    { ...good(5), action_prob: 0 },
    { ...good(6), reward: NaN },
    { ...good(7), action_prob: 2 },
    good(8),
  ];
  const l = CbLearner.create({ numArms: 3, explorationPolicy: "egreedy" });
  const r = await l.train(rows);
  assert.equal(r.used, 2);
  assert.equal(r.skipped, 5);
  assert.equal(r.reasons.length, 5);
  assert.match(r.reasons[0], /row 2 \(event_id g3\): observation\[1\]: must be a finite number/);
  assert.match(r.reasons[1], /action: must be an integer 1\.\.3/);
  assert.match(r.reasons[2], /action_prob: must be in \(0, 1\]/);
  assert.match(r.reasons[3], /reward: must be a finite number/);
  assert.equal(l.examplesSeen, 2);
  // strict: the first malformed row fails training, naming it.
  await assert.rejects(CbLearner.create({ numArms: 3, explorationPolicy: "egreedy" }).train(rows, { strict: true }), /row 2 \(event_id g3\): observation\[1\].*strict mode/);
});

test("rows that do not fit the config fail training, naming the row, the value, the expected value and the config key", async () => {
  const fresh = () => CbLearner.create({ numArms: 3, explorationPolicy: "egreedy", numFeatures: 2 });
  await assert.rejects(fresh().train([good(1), { ...good(2), observation: [1, 2, 3] }]), (e: Error) => {
    assert.equal(e.name, "ConfigMismatchError");
    assert.match(e.message, /row 2 \(event_id g2\): observation: has 3 features, the model expects 2 \(num_features: config\.yaml algor\.algorithms_parameters\.num_features\)/);
    return true;
  });
  await assert.rejects(fresh().train([good(1), { ...good(2), action: 9 }]), /row 2 \(event_id g2\): action: is 9, beyond the model's 3 actions \(num_arms: config\.yaml algor\.algorithms_parameters\.num_arms\)/);
  await assert.rejects(fresh().train([{ ...good(1), reward: 7 }], { minReward: 0, maxReward: 1 }), /row 1 \(event_id g1\): reward: is 7, outside the possible rewards \[0, 1\] \(min_reward \/ max_reward: config\.yaml workflow\.min_reward \/ workflow\.max_reward\)/);
  // Without a numFeatures option the first row fixes the count, and a later row with another count still fails (never dropped).
  await assert.rejects(CbLearner.create({ numArms: 3, explorationPolicy: "egreedy" }).train([good(1), { ...good(2), observation: [1] }]), /has 1 features, the model expects 2/);
  // A reward inside a wider range is fine.
  assert.equal((await fresh().train([{ ...good(1), reward: 5 }], { minReward: -10, maxReward: 10 })).used, 1);
});

test("numFeatures fixes the feature count before any data: an untrained model refuses other counts", async () => {
  const l = CbLearner.create({ numArms: 3, explorationPolicy: "egreedy", numFeatures: 9 });
  assert.equal(l.numFeatures, 9);
  assert.throws(() => l.predictPmf([1, 2]), /context: has 2 features, the model expects 9 \(num_features: config\.yaml algor\.algorithms_parameters\.num_features\)/);
  assert.equal(l.predictPmf(new Array(9).fill(0.5)).length, 3);
  const fromParams = CbLearner.create(learnerOptionsFromParameters({ num_arms: "7" }));
  assert.equal(fromParams.numFeatures, 9, "hyperparameters without num_features get the config's default 9");
  assert.equal(CbLearner.create(learnerOptionsFromParameters({ num_arms: "7", num_features: "4" })).numFeatures, 4);
  assert.throws(() => learnerOptionsFromParameters({ num_arms: 7, num_features: "0" }), /num_features: must be null or an integer/);
});

test("train accepts async iterables", async () => {
  async function* gen(): AsyncGenerator<JoinedRecord> {
    for (let i = 0; i < 5; i++) yield { reward: 0, event_id: `a${i}`, action: 2, action_prob: 0.25, model_id: "m", observation: [i], sample_prob: 0 };
  }
  const r = await CbLearner.create({ numArms: 2, explorationPolicy: "egreedy" }).train(gen());
  assert.deepEqual(r, { used: 5, skipped: 0, reasons: [] });
});

test("learner options are validated with the option's name", () => {
  throwsField(() => CbLearner.create({ numArms: 1, explorationPolicy: "egreedy" }), "numArms");
  throwsField(() => CbLearner.create({ numArms: 3, explorationPolicy: "greedy" as never }), "explorationPolicy");
  throwsField(() => CbLearner.create({ numArms: 3, explorationPolicy: "egreedy", epsilon: 2 }), "epsilon");
  throwsField(() => CbLearner.create({ numArms: 4, explorationPolicy: "egreedy", minProbability: 0.25 }), "minProbability");
  throwsField(() => CbLearner.create({ numArms: 4, explorationPolicy: "egreedy", bits: 40 }), "bits");
});

test("learnerOptionsFromParameters reads config values and SageMaker strings, naming bad parameters", () => {
  const o = learnerOptionsFromParameters({ exploration_policy: "Bag", num_policies: "5", num_arms: "7", epsilon: "0.001", cfa_type: "dr", feature_map: "bins", min_probability: 0.001 }, 3);
  assert.deepEqual(o, { numArms: 7, explorationPolicy: "bag", numPolicies: 5, epsilon: 0.001, featureMap: "bins", minProbability: 0.001, seed: 3, numFeatures: 9 });
  throwsField(() => learnerOptionsFromParameters({ num_arms: 0 }), "num_arms");
  throwsField(() => learnerOptionsFromParameters({ num_arms: 7, exploration_policy: "thompson" }), "exploration_policy");
  throwsField(() => learnerOptionsFromParameters({ num_arms: 7, epsilon: "lots" }), "epsilon");
  throwsField(() => learnerOptionsFromParameters({ num_arms: 7, epsilon: 1.5 }), "epsilon");
  throwsField(() => learnerOptionsFromParameters({ num_arms: 7, num_policies: 2.5 }), "num_policies");
});
