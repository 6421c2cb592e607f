/** The headless workshop (npm start) in small: loops through the endpoint, gating, report. */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ExperimentManager, gatePasses } from "@cbkit/common";
import { plotlyBundle, rollingMean } from "@cbkit/common/display";
import { runWorkshop } from "@cbkit/sim_app";
import { renderReport, writeWorkshopReport } from "@cbkit/sim_app/workshop";
import { tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("workshop");
after(() => fs.rmSync(ws, { recursive: true, force: true }));

test("the gate rules", () => {
  const s = (value: number, lower: number, upper: number) => ({ value, ci: { lower, upper, method: "bootstrap" as const } });
  assert.equal(gatePasses("ci", s(0.1, 0.05, 0.15), s(0.2, 0.18, 0.22)), true);
  assert.equal(gatePasses("ci", s(0.1, 0.05, 0.25), s(0.2, 0.18, 0.22)), false, "not better beyond its own uncertainty");
  assert.equal(gatePasses("point", s(0.2, 0, 1), s(0.2, 0, 1)), true, "the original's <=");
  assert.equal(gatePasses("always", s(0.9, 0.8, 1), s(0.1, 0, 0.2)), true);
  assert.deepEqual(rollingMean([1, 0, 1, 1], 2), [null, 0.5, 0.5, 1]);
});

test("two short loops through the endpoint end with the endpoint stopped and a self-contained report", async () => {
  const config = testConfig(ws);
  const r = await runWorkshop({ config, loops: 2, batchSize: 150, warmStart: 200, seed: 7, experimentId: "ws-test" });
  assert.equal(r.loops.length, 2);
  assert.equal(r.rewards.length, 300);
  for (const row of r.loops) {
    assert.equal(row.joined.train + row.joined.eval, 150);
    assert.equal(row.deployed, gatePasses("ci", row.challenger, row.champion));
    // npm start's breakdown: every step timed, together no more than the loop.
    const steps = Object.values(row.steps ?? {});
    assert.equal(steps.length, 6, "requests, reward, join, train, evaluate, deploy");
    assert.ok(steps.every((x) => x >= 0));
    assert.ok(steps.reduce((a, b) => a + b, 0) <= row.seconds + 1e-9, `steps ${steps.join(", ")} within ${row.seconds} s`);
  }
  assert.ok(r.startSeconds > 0 && r.startSeconds < r.seconds);
  assert.equal(fs.existsSync(path.join(ws, "endpoints", "ws-test.json")), false, "the endpoint was stopped");
  const html = renderReport(r);
  assert.ok(html.includes(plotlyBundle().code), "plotly.js is inlined");
  assert.doesNotMatch(html, /<script src=/, "no CDN");
  assert.match(html, /Rolling mean reward/);

  // npm start writes the report to its default file; notebook 4's clean-up (a new manager, as in
  // another process) removes it with the experiment's data, though the manager knows no app path.
  const report = writeWorkshopReport(r, config);
  assert.equal(report, path.join(ws, "reports", "ws-test.html"));
  assert.ok(fs.existsSync(report));
  const kept = writeWorkshopReport(r, config, path.join(ws, "mine", "ws-test.html"));
  const m = await ExperimentManager.create(config, "ws-test", { log: () => undefined });
  try {
    const cleaned = await m.cleanResource({ deleteData: true });
    assert.ok(cleaned.removed.includes(report), `removed: ${cleaned.removed.join("; ")}`);
    assert.equal(fs.existsSync(report), false, "the report went with the experiment");
    assert.ok(fs.existsSync(kept), "a report file the user chose stays");
    await m.cleanTableRecords();
  } finally {
    await m.close();
  }
});
