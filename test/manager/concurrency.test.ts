/**
 * Two managers on one experiment cannot corrupt it: record writes are compare-and-set on a
 * version; the loser of a race gets ConflictError (or WorkflowInProgressError when it arrives
 * after the winner started); several processes share the DuckDB file.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { ConflictError, WorkflowInProgressError, type ExperimentManager } from "@cbkit/common";
import { DuckDbRecordStore } from "@cbkit/common/local";
import { processStartId } from "@cbkit/common/util";
import { manager, stuckTraining, syntheticJoined, tempWorkspace, testConfig, waitFor } from "./helpers";

const ws = tempWorkspace("conc");
const config = testConfig(ws);
const opened: ExperimentManager[] = [];
after(async () => {
  for (const m of opened) await m.close().catch(() => undefined);
  fs.rmSync(ws, { recursive: true, force: true });
});

test("a stale version is refused with ConflictError naming the versions", async () => {
  const store = new DuckDbRecordStore(path.join(ws, "stale.duckdb"));
  const rec = { experiment_id: "x" } as never;
  const c = await store.create("experiment", "x", "x", rec);
  assert.equal(c.version, 1);
  const u = await store.update("experiment", "x", "x", rec, 1);
  assert.equal(u.version, 2);
  await assert.rejects(store.update("experiment", "x", "x", rec, 1), (err: unknown) => {
    assert.ok(err instanceof ConflictError);
    assert.equal(err.expectedVersion, 1);
    assert.equal(err.actualVersion, 2);
    assert.match(err.message, /expected version 1, found 2/);
    return true;
  });
  assert.equal((await store.create("experiment", "x", "x", rec)).created, false);
  await store.close();
});

test("two managers training at once: one wins, the other gets a clear error, the record stays consistent", async () => {
  const a = await manager(config, "conc-1");
  const b = await manager(config, "conc-1");
  opened.push(a, b);
  await a.ingestJoinedData(syntheticJoined(120), 0.8);
  await a.initializeFirstModel({ inputDataUri: a.lastJoinedJobTrainData });
  const results = await Promise.allSettled([a.trainNextModel(), b.trainNextModel()]);
  const won = results.filter((r) => r.status === "fulfilled");
  const lost = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
  assert.ok(lost[0].reason instanceof ConflictError || lost[0].reason instanceof WorkflowInProgressError, String(lost[0].reason));
  assert.match(String(lost[0].reason.message), /another manager|in progress/);
  const winner = (won[0] as PromiseFulfilledResult<{ model_id: string }>).value.model_id;
  await a.refresh();
  await b.refresh();
  assert.deepEqual(a.toJSON(), b.toJSON());
  assert.equal(a.toJSON().training_workflow_metadata.training_state, "TRAINED");
  assert.equal(a.lastTrainedModelId, winner);
  // Work on different workflows by the two managers merges without conflict.
  await Promise.all([b.evaluateModel(), a.ingestJoinedData(syntheticJoined(100, "t"), 0.8)]);
  await a.refresh();
  assert.equal(a.toJSON().evaluation_workflow_metadata.evaluation_state, "EVALUATED");
  assert.equal(a.toJSON().joining_workflow_metadata.joining_state, "SUCCEEDED");
});

test("several processes share the record file (open, write, close, retry on the lock)", async () => {
  const file = path.join(ws, "shared.duckdb");
  const script = `
    const { DuckDbRecordStore } = require("@cbkit/common/local");
    const s = new DuckDbRecordStore(process.argv[1]);
    (async () => { for (let i = 0; i < 10; i++) await s.metrics.put("p", "m", i); await s.close(); })()
      .catch((e) => { console.error(e.message); process.exit(1); });`;
  const runs = Array.from({ length: 3 }, () =>
    new Promise<number>((resolve) => spawn(process.execPath, ["-e", script, file], { stdio: "inherit" }).on("exit", (c) => resolve(c ?? 1))),
  );
  const local = new DuckDbRecordStore(file);
  for (let i = 0; i < 10; i++) await local.metrics.put("p", "m", i);
  assert.deepEqual(await Promise.all(runs), [0, 0, 0]);
  assert.equal((await local.metrics.get("p", "m")).length, 40);
  await local.close();
});

/** A manager of experiment `id` with one trained model. */
async function trainedManager(id: string): Promise<ExperimentManager> {
  const m = await manager(config, id);
  opened.push(m);
  await m.ingestJoinedData(syntheticJoined(120), 0.8);
  await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData });
  return m;
}

const inProgress = (err: unknown) => err instanceof WorkflowInProgressError && /in progress .* by pid/.test(err.message);

test("an in-progress step of a live owner is refused; one whose owner died is taken over", async () => {
  const m = await trainedManager("conc-own");
  const stuck = (pid: number, id: string) => stuckTraining(m, id, { owner: { host: os.hostname(), pid, started_at: new Date().toISOString() } });
  await stuck(process.ppid, "conc-own-model-live");
  await assert.rejects(m.trainNextModel(), inProgress);
  await stuck(2 ** 22 + 12345, "conc-own-model-dead");
  const next = await m.trainNextModel();
  assert.equal(m.toJSON().training_workflow_metadata.training_state, "TRAINED");
  assert.equal(m.lastTrainedModelId, next.model_id);
});

test("a reused pid is told from a live owner by the start id the owner recorded for itself, never by comparing clocks", async () => {
  const m = await trainedManager("conc-start");
  // A real live process stands in for the owning manager.
  const owner = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  try {
    const pid = owner.pid as number;
    await waitFor(() => processStartId(pid) !== null);
    // Its step says it started a minute before the process did by the OS's clock now: the wall
    // clock was stepped forward since (NTP, a resumed VM). The owner lives: its step is refused.
    await stuckTraining(m, "conc-start-model-live", { owner: { host: os.hostname(), pid, started_at: new Date(Date.now() - 60_000).toISOString(), process_start: processStartId(pid) } });
    await assert.rejects(m.trainNextModel(), inProgress);
    assert.equal((await m.getModelRecord("conc-start-model-live")).train_state, "InProgress");
    // The same live pid recorded with another process's start id: the owner died and its pid was
    // reused (even if the clock, stepped back since, dates the new process before the step).
    // Proven gone: taken over.
    await stuckTraining(m, "conc-start-model-reused", { owner: { host: os.hostname(), pid, started_at: new Date().toISOString(), process_start: processStartId(process.pid) } });
    const next = await m.trainNextModel();
    assert.equal((await m.getModelRecord("conc-start-model-reused")).train_state, "Abandoned");
    assert.equal(m.lastTrainedModelId, next.model_id);
  } finally {
    owner.kill("SIGKILL");
  }
});
