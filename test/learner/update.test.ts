import { test } from "node:test";
import assert from "node:assert/strict";
import { CbLearner } from "@cbkit/common";

// One example by hand (see the equations in common/src/learner/gd.ts): features x = 2 (named "1")
// and the constant 1, label (cost) y = 1, mtr importance weight h = 1/p = 2, η = 0.5.
//   p = 0 (all weights 0), g = 2(p − y) = −2, h g² = 8
//   G_1 = 8·4 = 32, N_1 = 2, r_1 = 1/(√32·2);  G_c = 8, N_c = 1, r_c = 1/√8
//   S = h·(4/4 + 1/1) = 4, H = 2, m = √(H/S) = √0.5
//   u = m (4 r_1 + r_c) = √0.5 · √0.5 = 0.5;  s = η h = 1
//   Δ = (y − p)(1 − e^{−2 s u})/u = 2(1 − e^{−1})
//   w_1 = m Δ x r_1,  w_c = m Δ r_c,  new prediction = u Δ = 1 − e^{−1}
test("one update matches the documented equations", () => {
  const l = CbLearner.create({ numArms: 3, explorationPolicy: "egreedy", epsilon: 0, cbType: "mtr" });
  l.learn([2], 1, 1, 0.5);
  // mtr's importance weight is 1/(p·K), as VW 9's cb_adf: h = 1/(0.5 · 3).
  const h = 1 / (0.5 * 3);
  const m = Math.sqrt(0.5); // √(H/S) with H = h, S = h · (2²/2² + 1²/1²)
  const r1 = 1 / (Math.sqrt(16 * h) * 2), rc = 1 / Math.sqrt(4 * h); // G_1 = h·g²·x² = 16h, G_c = 4h
  const u = m * (4 * r1 + rc);
  const delta = (1 - Math.exp(-2 * 0.5 * h * u)) / u;
  const w1 = m * delta * 2 * r1, wc = m * delta * rc;
  const costs = l.predictCosts([2]);
  assert.ok(Math.abs(costs[0] - (2 * w1 + wc)) < 1e-12, `prediction ${costs[0]}`);
  assert.ok(Math.abs(costs[0] - (1 - Math.exp(-m * Math.sqrt(h)))) < 1e-12);
  assert.equal(costs[1], 0);
  assert.equal(costs[2], 0);
  // The two weights separately: a context with feature "1" = 1 predicts w_1 + w_c.
  assert.ok(Math.abs(l.predictCosts([1])[0] - (w1 + wc)) < 1e-12);
  assert.equal(l.examplesSeen, 1);
});

test("importance invariance: one update with weight 2 moves less than y − p and never overshoots", () => {
  const l = CbLearner.create({ numArms: 2, explorationPolicy: "egreedy", epsilon: 0, cbType: "mtr" });
  l.learn([1, -1], 2, 1, 0.001); // weight 1000
  const p = l.predictCosts([1, -1])[1];
  assert.ok(p > 0.99 && p <= 1 + 1e-12, `prediction ${p}`);
});

test("ips trains every action: c/p for the taken one, 0 for the others", () => {
  const l = CbLearner.create({ numArms: 3, explorationPolicy: "egreedy", epsilon: 0, cbType: "ips" });
  for (let i = 0; i < 200; i++) l.learn([1], 2, 0.5, 0.5);
  const c = l.predictCosts([1]);
  assert.ok(Math.abs(c[1] - 1) < 0.05, `taken action learns c/p = 1, got ${c[1]}`);
  assert.ok(Math.abs(c[0]) < 1e-9 && Math.abs(c[2]) < 1e-9);
});

test("dr learns the taken action's cost and leaves others at the scorer's prediction", () => {
  const l = CbLearner.create({ numArms: 3, explorationPolicy: "egreedy", epsilon: 0, cbType: "dr" });
  for (let i = 0; i < 300; i++) l.learn([1], 3, 0.25, 1);
  const c = l.predictCosts([1]);
  assert.ok(Math.abs(c[2] - 0.25) < 0.02, `got ${c[2]}`);
  assert.ok(Math.abs(c[0]) < 1e-9 && Math.abs(c[1]) < 1e-9);
  assert.equal(Array.from(l.predictPmf([1])).indexOf(1), 0, "the greedy action is the cheapest (the first untried action, score 0)");
});

test("normalized updates are scale free: scaling a feature by 1000 gives the same predictions", () => {
  const a = CbLearner.create({ numArms: 2, explorationPolicy: "egreedy", epsilon: 0 });
  const b = CbLearner.create({ numArms: 2, explorationPolicy: "egreedy", epsilon: 0 });
  const xs = [0.3, -1.2, 0.7, 2.0, -0.4, 1.1];
  for (let i = 0; i < 60; i++) {
    const x = xs[i % xs.length];
    const cost = x > 0 ? 0 : 1;
    a.learn([x], 1, cost, 0.5);
    b.learn([x * 1000], 1, cost, 0.5);
  }
  for (const x of xs) assert.ok(Math.abs(a.predictCosts([x])[0] - b.predictCosts([x * 1000])[0]) < 1e-9);
});

test("named features hash like vectors: {\"1\": v} equals [v]", () => {
  const a = CbLearner.create({ numArms: 2, explorationPolicy: "egreedy", epsilon: 0 });
  const b = CbLearner.create({ numArms: 2, explorationPolicy: "egreedy", epsilon: 0 });
  a.learn([0.5, 2], 1, 1, 0.5);
  b.learn({ "1": 0.5, "2": 2 }, 1, 1, 0.5);
  assert.deepEqual(Array.from(a.predictCosts([0.5, 2])), Array.from(b.predictCosts({ "1": 0.5, "2": 2 })));
  b.learn({ age: 3, "2": 1 }, 2, 1, 0.5);
  assert.ok(b.predictCosts({ age: 3 })[1] > 0, "a new named feature gets its own weight");
});

test("first: decisions logged with probability 1 are counted but not learned from (VW)", () => {
  const l = CbLearner.create({ numArms: 2, explorationPolicy: "first", tau: 1 });
  l.learn([1], 2, 1, 1);
  assert.equal(l.examplesSeen, 1);
  assert.deepEqual(Array.from(l.predictCosts([1])), [0, 0]);
  l.learn([1], 2, 1, 0.5);
  assert.ok(l.predictCosts([1])[1] > 0);
});
