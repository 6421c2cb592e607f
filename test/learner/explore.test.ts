import { test } from "node:test";
import assert from "node:assert/strict";
import { CbLearner } from "@cbkit/common";
import { floorPmf, poisson1FromUniform, squarecbPmf } from "@cbkit/common/learner";
import { ALL_CONFIGS, label, syntheticRecords, trained } from "./helpers";

const data = syntheticRecords(400);
const probes = syntheticRecords(50, 99).map((r) => r.observation);

for (const o of ALL_CONFIGS) {
  for (const floor of [0, 0.01]) {
    test(`pmf invariants: ${label(o)} floor=${floor}`, async () => {
      const l = await trained({ ...o, minProbability: floor }, data);
      for (const x of probes) {
        const p = l.predictPmf(x);
        assert.equal(p.length, 4);
        const sum = p.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-12, `sum ${sum}`);
        for (const v of p) assert.ok(v >= floor - 1e-12 && v <= 1 + 1e-12, `probability ${v} below floor ${floor}`);
        assert.deepEqual(Array.from(l.predictPmf(x)), Array.from(p), "the same context gives the same pmf");
        const c1 = l.chooseAction(x, "event-42");
        const c2 = l.chooseAction(x, "event-42");
        assert.deepEqual([c1.action, c1.actionProb], [c2.action, c2.actionProb]);
        assert.equal(c1.actionProb, p[c1.action - 1]);
        assert.ok(c1.action >= 1 && c1.action <= 4);
      }
    });
  }
}

test("an untrained learner gives a valid pmf for every policy", () => {
  for (const o of ALL_CONFIGS) {
    const p = CbLearner.create(o).predictPmf([0.1, 0.2, 0.3]);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12, label(o));
  }
});

test("chooseAction samples according to the pmf over many event ids", async () => {
  const l = await trained({ numArms: 4, explorationPolicy: "egreedy", epsilon: 0.4 }, data);
  const x = probes[0];
  const p = l.predictPmf(x);
  const counts = [0, 0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[l.chooseAction(x, `e${i}`).action - 1]++;
  for (let a = 0; a < 4; a++) assert.ok(Math.abs(counts[a] / n - p[a]) < 0.015, `action ${a + 1}: ${counts[a] / n} vs ${p[a]}`);
});

test("the seed changes sampling; the same seed and event id replay the same action", async () => {
  const x = probes[1];
  const a = CbLearner.create({ numArms: 4, explorationPolicy: "egreedy", epsilon: 1, seed: 1 });
  const b = CbLearner.create({ numArms: 4, explorationPolicy: "egreedy", epsilon: 1, seed: 2 });
  const a2 = CbLearner.create({ numArms: 4, explorationPolicy: "egreedy", epsilon: 1, seed: 1 });
  const ids = Array.from({ length: 50 }, (_, i) => `id-${i}`);
  const seqA = ids.map((id) => a.chooseAction(x, id).action);
  assert.deepEqual(ids.map((id) => a2.chooseAction(x, id).action), seqA);
  assert.notDeepEqual(ids.map((id) => b.chooseAction(x, id).action), seqA);
});

test("egreedy puts 1 − ε + ε/K on the greedy action", () => {
  const l = CbLearner.create({ numArms: 5, explorationPolicy: "egreedy", epsilon: 0.2 });
  const p = l.predictPmf([1, 2]);
  assert.ok(Math.abs(p[0] - (0.8 + 0.04)) < 1e-12);
  for (let a = 1; a < 5; a++) assert.ok(Math.abs(p[a] - 0.04) < 1e-12);
});

test("first explores uniformly for tau examples, then is greedy", async () => {
  const l = CbLearner.create({ numArms: 4, explorationPolicy: "first", tau: 10 });
  assert.deepEqual(Array.from(l.predictPmf([1, 1, 1])), [0.25, 0.25, 0.25, 0.25]);
  await l.train(data.slice(0, 10));
  const p = l.predictPmf([1, 1, 1]);
  assert.equal(Math.max(...p), 1);
});

test("squarecb gives 1/(K + γ·gap) to non-greedy actions", () => {
  const out = new Float64Array(3);
  squarecbPmf([0.5, 0.1, 0.3], 3, 10, out);
  assert.ok(Math.abs(out[0] - 1 / (3 + 10 * 0.4)) < 1e-12);
  assert.ok(Math.abs(out[2] - 1 / (3 + 10 * 0.2)) < 1e-12);
  assert.ok(Math.abs(out[1] - (1 - out[0] - out[2])) < 1e-12);
});

test("floorPmf keeps the sum and raises small entries; cover's variant leaves zeros alone", () => {
  const p = Float64Array.from([0.97, 0.03, 0, 0]);
  floorPmf(p, 4, 0.05);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  for (const v of p) assert.ok(v >= 0.05 - 1e-12);
  const q = Float64Array.from([0.98, 0.02, 0, 0]);
  floorPmf(q, 4, 0.05, false);
  assert.equal(q[2], 0);
  assert.equal(q[3], 0);
  assert.ok(Math.abs(q[1] - 0.05) < 1e-12 && Math.abs(q[0] - 0.95) < 1e-12);
});

test("Poisson(1) draws from uniforms have mean 1 and the right zero mass", () => {
  let sum = 0, zeros = 0;
  const n = 10000;
  for (let i = 0; i < n; i++) {
    const k = poisson1FromUniform((i + 0.5) / n);
    sum += k;
    if (k === 0) zeros++;
  }
  assert.ok(Math.abs(sum / n - 1) < 0.01);
  assert.ok(Math.abs(zeros / n - Math.exp(-1)) < 0.001);
});
