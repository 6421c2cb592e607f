/**
 * The workshop's display helpers outside a kernel (plain node): the numbers they keep and the
 * figures they draw. The notebooks show them in Jupyter (workshop.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  InferenceMonitor,
  LoopDashboard,
  Progress,
  barFigure,
  compareCosts,
  costFigure,
  distinctDecimals,
  formatScore,
  linesFigure,
  loadConfig,
  loopSummaryRows,
  pmfFigure,
  type LoopResult,
  gateReason,
  loopResult,
  loopSettings,
} from "@cbkit/common";
import { clipInterval, formatDifference, loopScoresFigure, progressHtml, rewardChartFigure, rollingMean } from "@cbkit/common/display";
import { scoreFixture } from "../ope/fixtures";
import { inspect } from "node:util";
import { formatCell, showConfig } from "@cbkit/common/display";
import { ExperimentHasModelsError, StatlogSimApp } from "@cbkit/sim_app";
import { estimateVersusLive } from "@cbkit/sim_app/workshop";

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
  challenger: { value: score, ci: { lower: score - 0.1, upper: score + 0.1 } },
  champion: { value: 0.25, ci: { lower: 0.15, upper: 0.35 } },
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
  assert.match(lines[1], /loop 2: mean reward 1\.000, challenger 0\.300 vs 0\.250 \(difference \+0\.050\) -> not deployed/);
  assert.equal(d.rewards.length, 12);
  assert.equal(d.meanReward(), 8 / 12);
  assert.equal(d.meanReward(2, 3), 6 / 8);
  assert.equal(d.deployCount, 2);
  const rolling = rollingMean(d.rewards, 2).filter((v): v is number => v !== null);
  assert.equal(d.meanRollingReward(), rolling.reduce((a, b) => a + b, 0) / rolling.length);
  const rows = loopSummaryRows(d.loops);
  assert.deepEqual(rows.map((r) => r.decision), ["deployed", "kept champion", "deployed"]);
  assert.equal(rows[0].challenger_cost, "0.200 [0.100, 0.300]");
  assert.equal(rows[0].difference, "-0.050");
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

test("cost intervals are clipped to the possible costs ([0, 1] unless the score records its range) wherever they are shown", () => {
  assert.deepEqual(clipInterval({ value: 0.24, ci: { lower: -0.11, upper: 0.56 } }), { score: 0.24, lower: 0, upper: 0.56 });
  assert.deepEqual(clipInterval({ value: 0.9, ci: { lower: 0.7, upper: 1.2 } }), { score: 0.9, lower: 0.7, upper: 1 });
  assert.deepEqual(clipInterval({ value: 0.5 }), { score: 0.5, lower: 0.5, upper: 0.5 }, "no interval: the point");
  // A configured reward range (max_reward 10: costs in [-9, 1]) is the score's recorded range.
  const wide = { value: -3, ci: { lower: -9.5, upper: 2 }, range: { lower: -9, upper: 1 } };
  assert.deepEqual(clipInterval(wide), { score: -3, lower: -9, upper: 1 });
  assert.equal(formatScore(wide), "-3.000 [-9.000, 1.000]");
  assert.equal(formatScore({ value: 0.2411, ci: { lower: -0.1109, upper: 0.5631 } }), "0.241 [0.000, 0.563]");
  // The dashboard's table and chart and the cost figure, from an older score reaching below 0.
  const l: LoopResult = { ...loop(1, [1, 1], true, 0.05), challenger: { value: 0.05, ci: { lower: -0.02, upper: 0.1 } } };
  assert.equal(loopSummaryRows([l])[0].challenger_cost, "0.050 [0.000, 0.100]");
  const bars = (loopScoresFigure([l]).data[0] as { error_y: { arrayminus: number[] } }).error_y.arrayminus;
  assert.ok(Math.abs(bars[0] - 0.05) < 1e-12, `error bar reaches 0, not -0.02 (${bars[0]})`);
  const fig = costFigure([{ label: "m", value: 0.1, ci: { lower: -0.3, upper: 1.4 } }], "t");
  const e = (fig.data[0] as { error_y: { array: number[]; arrayminus: number[] } }).error_y;
  assert.ok(Math.abs(e.arrayminus[0] - 0.1) < 1e-12 && Math.abs(e.array[0] - 0.9) < 1e-12, JSON.stringify(e));
});

test("two costs that round equal get more digits, and their difference never reads -0.000", () => {
  assert.equal(distinctDecimals([0.0121, 0.0124]), 4);
  assert.equal(distinctDecimals([0.0123, 0.0127]), 3, "0.012 vs 0.013 already differ");
  assert.equal(distinctDecimals([0.051, 0.185]), 3);
  assert.equal(distinctDecimals([0.2, 0.2]), 3, "equal numbers need no more digits");
  assert.equal(distinctDecimals([0.0004, 0]), 4, "-0.000 and 0.000 count as equal");
  assert.equal(formatDifference(-0.0004), "-0.0004");
  assert.equal(formatDifference(0.05), "+0.050");
  assert.equal(formatDifference(0), "0.000");
  assert.equal(compareCosts(0.01214, 0.01236), "0.0121 vs 0.0124 (difference -0.0002)");
  const rows = loopSummaryRows([
    { ...loop(1, [1], false), challenger: { value: 0.01214, ci: { lower: 0.009, upper: 0.016 } }, champion: { value: 0.01236, ci: { lower: 0.009, upper: 0.017 } } },
  ]);
  assert.equal(rows[0].challenger_cost, "0.0121 [0.0090, 0.0160]");
  assert.equal(rows[0].champion_cost, "0.0124 [0.0090, 0.0170]");
  assert.equal(rows[0].difference, "-0.0002");
});

test("figures: bars with a log axis, a pmf with the chosen action marked, lines per series", () => {
  const bars = barFigure(["a", "b"], [{ name: "x", values: [1, 10] }, { name: "y", values: [2, 20] }], { title: "T", yTitle: "n", logY: true });
  assert.equal(bars.data.length, 2);
  assert.deepEqual((bars.layout as { yaxis: { type: string } }).yaxis.type, "log");
  const pmf = pmfFigure([0.994, 0.001, 0.005], 1);
  assert.deepEqual((pmf.data[0] as { marker: { color: string[] } }).marker.color, ["#2e7d32", "#90a4ae", "#90a4ae"]);
  const lines = linesFigure([{ name: "egreedy", y: [0.5, 0.9] }], { title: "t", xTitle: "loop", yTitle: "r" });
  assert.deepEqual((lines.data[0] as { x: number[] }).x, [1, 2]);
});

test("loopSettings reads the gate and the join ratio from the config, and names a bad value", () => {
  const config = loadConfig();
  const s = loopSettings(config);
  assert.equal(s.gate, config.workflow.deploy_gate);
  assert.equal(s.ratio, config.workflow.join_ratio);
  assert.equal(s.concurrency, 4, "4 requests in flight by default (the join sorts by event id, so a seed still reproduces the run)");
  assert.equal(s.eventIdPrefix, `s${config.seed}`);
  const point = loopSettings({ ...config, workflow: { ...config.workflow, deploy_gate: "point", join_ratio: 0.85 } });
  assert.deepEqual([point.gate, point.ratio], ["point", 0.85]);
  assert.throws(() => loopSettings(config, { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
  assert.throws(() => loopSettings(config, { gateOn: "all" as "latest" }), /gateOn must be holdout or latest/);
});

test("gateReason says why, with the digits that tell the costs apart; loopResult feeds the dashboard", () => {
  const s = (value: number, lower: number, upper: number) => scoreFixture(value, lower, upper);
  assert.equal(gateReason("point", s(0.01214, 0, 1), s(0.01236, 0, 1)), "challenger cost 0.0121 <= champion 0.0124 (difference -0.0002)");
  assert.match(gateReason("ci", s(0.070, 0.031, 0.130), s(0.074, 0.044, 0.104)), /^challenger upper bound 0\.130 >= champion cost 0\.074 \(costs 0\.070 vs 0\.074, difference -0\.004\)$/);
  assert.match(gateReason("always", s(1, 1, 1), s(0, 0, 0)), /every challenger/);
  const row = {
    loop: 3, meanReward: 0.5, rewards: [1, 0], championId: "old", champion: s(0.2, 0.1, 0.3), challengerId: "new", challenger: s(0.1, 0.05, 0.15),
    deployed: true, hostedModelId: "new", joined: { train: 1, eval: 1 }, seconds: 1,
  };
  const r = loopResult(row, "old");
  assert.deepEqual([r.loop, r.servedModelId, r.trainedModelId, r.deployed], [3, "old", "new", true]);
  assert.equal(r.challenger, row.challenger, "the dashboard draws the loop's score itself");
  assert.deepEqual([r.challenger?.value, r.challenger?.ci?.lower, r.challenger?.ci?.upper], [0.1, 0.05, 0.15]);
});

test("estimateVersusLive: the served batch's cost 1 − mean reward, inside or outside the clipped interval", () => {
  const score = { value: 0.21, ci: { lower: -0.1, upper: 0.566 } };
  const r = estimateVersusLive(score, 0.76);
  assert.equal(r.estimate, "0.210 [0.000, 0.566]");
  assert.ok(Math.abs(r.liveCost - 0.24) < 1e-12);
  assert.equal(r.inside, true);
  assert.equal(r.text, "estimated 0.210 [0.000, 0.566]; served 1 − 0.760 = 0.240: inside the interval");
  assert.match(estimateVersusLive(score, 0.3).text, /= 0\.700: above the interval$/);
  assert.match(estimateVersusLive({ value: 0.5, ci: { lower: 0.4, upper: 0.6 } }, 0.9).text, /below the interval$/);
  assert.throws(() => estimateVersusLive(score, 1.5), /meanReward must be in \[0, 1\]/);
});

test("ExperimentHasModelsError prints as its message alone in a kernel (no stack trace)", () => {
  const e = new ExperimentHasModelsError("experiment \"x\" already has 1 model(s)\n  1. Carry on\n  2. Start afresh");
  assert.equal(inspect(e), e.message);
  assert.ok(e instanceof Error);
  assert.equal(e.name, "ExperimentHasModelsError");
});

test("formatCell shows floating-point noise as 0, and keeps small real values", () => {
  assert.equal(formatCell(1.3877787807814457e-16), "0");
  assert.equal(formatCell(-2e-13), "0");
  assert.equal(formatCell(0.001 / 7), "0.0001429");
  assert.equal(formatCell(3e-9), "3.000e-9");
  assert.equal(formatCell(0.2103), "0.2103");
});

test("StatlogSimApp.getReward: named fields; rewardOnly keeps {event_id, reward}, the positional form still works", () => {
  const app = new StatlogSimApp({ config: loadConfig(), seed: 3 });
  const u = app.chooseRandomUser();
  const truth = app.labels[u.userId];
  const d = { action: truth, eventId: "e1", modelId: "m", actionProb: 0.9, sampleProb: 0.5 };
  assert.equal(app.getReward({ ...d, userId: u.userId, rewardOnly: true }), 1);
  assert.deepEqual(app.rewardsBuffer, [{ reward: 1, event_id: "e1" }]);
  assert.equal(app.joinedDataBuffer.length, 0);
  assert.equal(app.getReward({ ...d, eventId: "e2", userId: u.userId }), 1);
  assert.equal(app.joinedDataBuffer.length, 1, "default: the whole joined record");
  assert.equal(app.getReward(u.userId, truth, "e3", "m", 0.9, 0.5, false), 1);
  assert.equal(app.rewardsBuffer.length, 2, "the original's positional form with localMode false");
});

test("showConfig with sections shows only those keys", () => {
  const { lines } = quiet(() => showConfig(loadConfig(), { sections: ["algor", "workflow.deploy_gate"] }));
  const text = lines.join("\n");
  assert.match(text, /algor\.algorithms_parameters\.epsilon/);
  assert.match(text, /workflow\.deploy_gate/);
  assert.doesNotMatch(text, /resource\.|sagemaker\.|workflow\.join_ratio|iam_role/);
});
