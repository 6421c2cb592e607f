/**
 * Kill and resume: a new manager (in this process or another) resumes the experiment exactly; a
 * SIGKILLed endpoint loses no answered decision; a later manager redeploys.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ExperimentManager } from "@cbkit/common";
import { manager, pidAlive, readDecisionLog, syntheticJoined, tempWorkspace, testConfig, waitFor } from "./helpers";

const ws = tempWorkspace("resume");
const config = testConfig(ws);
const opened: ExperimentManager[] = [];
after(async () => {
  for (const m of opened) await m.cleanResource().catch(() => undefined);
  for (const m of opened) await m.close().catch(() => undefined);
  fs.rmSync(ws, { recursive: true, force: true });
});

test("a new manager, and a manager in another process, resume exactly where the last stopped", async () => {
  const a = await manager(config, "res-1");
  opened.push(a);
  await a.ingestJoinedData(syntheticJoined(120), 0.8);
  await a.initializeFirstModel({ inputDataUri: a.lastJoinedJobTrainData });
  await a.evaluateModel();
  const state = a.toJSON();
  await a.close();

  const b = await manager(config, "res-1");
  opened.push(b);
  assert.deepEqual(b.toJSON(), state);
  assert.equal(b.lastTrainedModelId, a.lastTrainedModelId);
  assert.equal(b.lastJoinedJobTrainData, a.lastJoinedJobTrainData);
  assert.deepEqual(await b.getEvalScore(), await a.getEvalScore());
  await b.close();

  // Another process (a second notebook / a restarted kernel) sees the same record.
  const script = `
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    const { ExperimentManager, loadConfig } = require("@cbkit/common");
    const c = loadConfig(); c.workspace = ${JSON.stringify(ws)};
    ExperimentManager.create(c, "res-1", { log: () => {} }).then(async (m) => {
      const next = await m.trainNextModel();
      process.stdout.write(JSON.stringify({ before: m.toJSON(), next: next.model_id }));
      await m.close();
    });`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", cwd: process.cwd() });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { next: string };
  const c = await manager(config, "res-1");
  opened.push(c);
  assert.equal(c.lastTrainedModelId, out.next, "the other process's training is visible here");
  assert.equal((await c.getModelRecord(out.next)).input_model_id, state.training_workflow_metadata.last_trained_model_id);
});

test("SIGKILL of the endpoint loses no answered decision; a later manager finds it gone and redeploys", async () => {
  const m = await manager(config, "res-kill");
  opened.push(m);
  await m.ingestJoinedData(syntheticJoined(120), 0.8);
  const model = await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData });
  const d = await m.deployModel({ modelId: model.model_id });
  const answered: string[] = [];
  const obs = syntheticJoined(1)[0].observation;
  let stop = false;
  const workers = Array.from({ length: 4 }, async () => {
    while (!stop) {
      try {
        answered.push((await m.predictor.getAction(obs)).eventId);
      } catch {
        return; // the endpoint is gone
      }
    }
  });
  await waitFor(() => answered.length >= 200, 20000);
  process.kill(d.pid as number, "SIGKILL");
  stop = true;
  await Promise.all(workers);
  await waitFor(() => !pidAlive(d.pid as number));
  const logged = new Set(readDecisionLog(fileURLToPath(m.platform.objects.uriOf("res-kill/inference_data"))).map((r) => r.event_id));
  const lost = answered.filter((id) => !logged.has(id));
  assert.equal(lost.length, 0, `${lost.length} answered decisions missing from the log`);

  const later = await manager(config, "res-kill");
  opened.push(later);
  assert.equal(await later.describeEndpoint(), null, "the dead endpoint is not reported as running");
  const again = await later.deployModel({ modelId: later.lastHostedModelId as string });
  assert.notEqual(again.pid, d.pid);
  assert.equal((await later.predictor.getAction(obs)).modelId, model.model_id);
  // The first manager's predictor finds the new endpoint too (it moved to another port).
  assert.equal((await m.predictor.getAction(obs)).modelId, model.model_id);
});
