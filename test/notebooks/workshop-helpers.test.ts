/**
 * The workshop's display helpers outside a kernel (plain node): the numbers they keep and the
 * figures they draw. The notebooks show them in Jupyter (workshop.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { InferenceMonitor, LoopDashboard, Progress, loopScoresFigure, loopSummaryRows, progressHtml, rewardChartFigure, rollingMean, type LoopResult } from "@cbkit/common";

/** Runs fn with console.log captured. */
function quiet<T>(fn: () => T): { value: T; lines: string[] } {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
  try {
    return { value: fn(), lines };
  } finally {
    console.log = log;
  }
}

test("rollingMean leaves the first window-1 values empty, then averages the last window", () => {
  assert.deepEqual(rollingMean([1, 0, 1, 1], 2), [null, 0.5, 0.5, 1]);
  assert.deepEqual(rollingMean([1, 1], 3), [null, null]);
  assert.throws(() => rollingMean([1], 0), /window must be an integer >= 1/);
});

const loop = (n: number, rewards: number[], deployed: boolean, score = 0.2): LoopResult => ({
  loop: n,
  rewards,
  deployed,
  challenger: { score, ci: { lower: score - 0.1, upper: score + 0.1 } },
  champion: { score: 0.25, ci: { lower: 0.15, upper: 0.35 } },
  servedModelId: `m${n - 1}`,
  trainedModelId: `m${n}`,
});

test("LoopDashboard keeps every loop's rewards and reports means per loop range", () => {
  const { value: d, lines } = quiet(() => {
    const d = new LoopDashboard({ totalLoops: 3, batchSize: 4, window: 2, majorityReward: 0.784 });
    d.add(loop(1, [0, 0, 1, 1], true));
    d.add(loop(2, [1, 1, 1, 1], false, 0.3));
    d.add(loop(3, [1, 0, 1, 0], true));
    return d;
  });
  assert.equal(lines.length, 3, "one text line per loop outside a kernel");
  assert.match(lines[1], /loop 2: mean reward 1\.000, challenger 0\.3000 vs champion 0\.2500 -> not deployed/);
  assert.equal(d.rewards.length, 12);
  assert.equal(d.meanReward(), 8 / 12);
  assert.equal(d.meanReward(2, 3), 6 / 8);
  assert.equal(d.deployCount, 2);
  const rolling = rollingMean(d.rewards, 2).filter((v): v is number => v !== null);
  assert.equal(d.meanRollingReward(), rolling.reduce((a, b) => a + b, 0) / rolling.length);
  const rows = loopSummaryRows(d.loops);
  assert.deepEqual(rows.map((r) => r.decision), ["deployed", "kept champion", "deployed"]);
  assert.equal(rows[0].challenger_cost, "0.200 [0.100, 0.300]");
});

test("the reward chart has the bandit, oracle and majority lines and a marker per loop", () => {
  const loops = [loop(1, [0, 1, 1, 1], true), loop(2, [1, 1, 1, 1], false)];
  const f = rewardChartFigure(loops, { window: 2, majorityReward: 0.784, batchSize: 4 });
  const names = f.data.map((t) => (t as { name: string }).name);
  assert.deepEqual(names, ["bandit (rolling mean, window 2)", "oracle (1.00)", "always class 1 (0.784)", "new model deployed", "not deployed (champion kept)"]);
  const bandit = f.data[0] as { x: number[]; y: (number | null)[] };
  assert.deepEqual(bandit.y, [null, 0.5, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual((f.data[3] as { x: number[] }).x, [4], "deploy marker at the end of loop 1");
  assert.deepEqual((f.data[4] as { x: number[] }).x, [8], "not-deployed marker at the end of loop 2");
  const scores = loopScoresFigure(loops);
  const challenger = scores.data[0] as { y: number[]; error_y: { array: number[]; arrayminus: number[] } };
  assert.deepEqual(challenger.y, [0.2, 0.2]);
  assert.ok(Math.abs(challenger.error_y.array[0] - 0.1) < 1e-12 && Math.abs(challenger.error_y.arrayminus[0] - 0.1) < 1e-12, "interval as error bars");
});

test("InferenceMonitor counts requests, errors, models and switches", () => {
  const { value: s, lines } = quiet(() => {
    const m = new InferenceMonitor();
    assert.equal(m.elapsed, 0, "the clock starts with the first request");
    m.success("a", 2);
    m.success("a", 4);
    m.event("deploy");
    m.success("b", 1);
    m.failure(new Error("boom"));
    m.success("b", 3);
    return m.finish();
  });
  assert.equal(s.requests, 5);
  assert.equal(s.errors, 1);
  assert.deepEqual(s.byModel.map((x) => [x.modelId, x.requests]), [["a", 2], ["b", 2]]);
  assert.equal(s.switches, 1);
  assert.deepEqual(s.errorKinds, [{ message: "boom", count: 1 }]);
  assert.equal(s.latencyMs.p50, 2);
  assert.equal(s.latencyMs.max, 4);
  assert.deepEqual(s.events.map((e) => e.label), ["deploy"]);
  assert.equal(lines.length, 1, "one status line when finished outside a kernel");
  assert.match(lines[0], /5 requests .* 1 errors, models: a 2, b 2/);
});

test("Progress prints one line when it finishes outside a kernel; its HTML shows count and bar", () => {
  const { value: secs, lines } = quiet(() => {
    const p = new Progress(10, { label: "batch 1" });
    for (let i = 0; i < 10; i++) p.tick();
    return p.finish("mean reward 0.9");
  });
  assert.ok(secs >= 0);
  assert.deepEqual(lines.length, 1);
  assert.match(lines[0], /^batch 1: 10\/10 interactions in [\d.]+ s — mean reward 0\.9$/);
  const html = progressHtml({ label: "loop <1>", done: 5, total: 10, elapsedMs: 1000 });
  assert.match(html, /width:50%/);
  assert.match(html, /loop &lt;1&gt;/, "the label is escaped");
  assert.throws(() => new Progress(-1), /total must be a number >= 0/);
});
