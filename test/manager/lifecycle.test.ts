/**
 * Processes and clean-up (issues 10.3, 10.8, 9.6): stale endpoint state never gets an unrelated
 * process killed; steps of a killed manager are closed as ABANDONED; clean-up removes what the
 * experiment left on disk; hot swap and blue/green restarts lose no request.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { EvaluationJobError, HostingError, JoiningError, TrainingJobError, type ExperimentManager } from "@cbkit/common";
import type { JobRunner } from "@cbkit/common/platform";
import { createLocalPlatform, LocalHosting } from "@cbkit/common/local";
import { registerExperimentFile } from "@cbkit/common/experiment";
import { cleanedUpAfter, manager, pidAlive, stuckTraining, syntheticJoined, tempWorkspace, testConfig, underLoad, waitFor } from "./helpers";

const ws = tempWorkspace("lifecycle");
const config = testConfig(ws);
const { opened, children } = cleanedUpAfter(ws);

async function open(id: string, cfg = config): Promise<ExperimentManager> {
  const m = await manager(cfg, id);
  opened.push(m);
  return m;
}

/** A real process that has nothing to do with the kit. */
function unrelatedProcess(): ChildProcess {
  const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  children.push(c);
  return c;
}

const endpointsDir = path.join(ws, "endpoints");
const obs = syntheticJoined(1)[0].observation;

async function trained(id: string, models = 1, cfg = config): Promise<{ m: ExperimentManager; ids: string[] }> {
  const m = await open(id, cfg);
  await m.ingestJoinedData(syntheticJoined(120), 0.8);
  const ids = [(await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData })).model_id];
  while (ids.length < models) ids.push((await m.trainNextModel()).model_id);
  return { m, ids };
}

/** Replaces the pid in an endpoint's state file (what a crash followed by pid reuse leaves behind). */
function pointStateAt(name: string, pid: number): void {
  const file = path.join(endpointsDir, `${name}.json`);
  const st = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  fs.writeFileSync(file, JSON.stringify({ ...st, pid, url: "http://127.0.0.1:9" }));
}

/** A local platform whose job stops are recorded in `stopped` instead of made. */
function platformRecordingStops(): { platform: ReturnType<typeof createLocalPlatform>; stopped: string[] } {
  const platform = createLocalPlatform({ workspace: ws });
  const stopped: string[] = [];
  (platform.jobs as JobRunner).stop = async (jobName) => void stopped.push(jobName);
  return { platform, stopped };
}

test("a stale pid in the endpoint state is never signalled: cleanResource and deployModel leave that process alive", async () => {
  const { m, ids } = await trained("lc-stale");
  const d = await m.deployModel({ modelId: ids[0] });
  // The endpoint dies (SIGKILL: no clean-up), its pid is taken by an unrelated process.
  process.kill(d.pid as number, "SIGKILL");
  await waitFor(() => !pidAlive(d.pid as number));
  const other = unrelatedProcess();
  pointStateAt("lc-stale", other.pid as number);

  assert.equal(await m.describeEndpoint(), null, "the unrelated process is not reported as the endpoint");
  await assert.rejects(m.platform.hosting.runtimeClientSettings("lc-stale"), /local endpoint 'lc-stale' is gone \(its state names pid \d+, which is not its server any more\): deploy a model again/);
  const report = await m.cleanResource();
  assert.equal(report.endpointDeleted, false);
  assert.match(report.removed.join("; "), new RegExp(`stale endpoint state lc-stale \\(pid ${other.pid} is not its server any more; nothing was signalled\\)`));
  assert.ok(pidAlive(other.pid as number), "the unrelated process survived cleanResource");
  assert.equal(fs.existsSync(path.join(endpointsDir, "lc-stale.json")), false, "the stale state is gone");

  // Same through deployModel: stale state is dropped and a new endpoint starts.
  const again = await m.deployModel({ modelId: ids[0] });
  pointStateAt("lc-stale", other.pid as number);
  process.kill(again.pid as number, "SIGKILL");
  await waitFor(() => !pidAlive(again.pid as number));
  const third = await m.deployModel({ modelId: ids[0] });
  assert.ok(pidAlive(other.pid as number), "the unrelated process survived deployModel");
  assert.notEqual(third.pid, other.pid);
  assert.equal((await m.predictor.getAction(obs)).modelId, ids[0]);
  other.kill("SIGKILL");
});

test("a serve.js process of this endpoint that does not answer its recorded identity token (a reused pid) is not signalled either", async () => {
  const { m, ids } = await trained("lc-token");
  const d = await m.deployModel({ modelId: ids[0] });
  const hosting = m.platform.hosting as LocalHosting;
  assert.equal((await hosting.processStatus("lc-token")).status, "ours");
  // Record another identity token for the live server's pid: now it answers as a different process.
  const file = hosting.processesFile("lc-token");
  const recorded = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, { identityToken: string }>;
  recorded[String(d.pid)].identityToken += "0";
  fs.writeFileSync(file, JSON.stringify(recorded));
  assert.equal((await hosting.processStatus("lc-token")).status, "stale");
  await m.cleanResource();
  assert.ok(pidAlive(d.pid as number), "not our process by its identity token: left alone");
  process.kill(d.pid as number, "SIGTERM");
  await waitFor(() => !pidAlive(d.pid as number));
});

test("steps of a killed manager are closed as ABANDONED when the next manager loads the experiment", async () => {
  const { m } = await trained("lc-abandon");
  // Another process starts a training and a join, then is killed while both run. Its platform's
  // job runner and join never finish, so the kill lands mid-step.
  const script = `
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    const { ExperimentManager, loadConfig } = require("@cbkit/common");
    const { createLocalPlatform } = require("@cbkit/common/local");
    const c = loadConfig(); c.workspace = ${JSON.stringify(ws)};
    const platform = createLocalPlatform({ workspace: c.workspace });
    const never = () => new Promise(() => {});
    platform.jobs.runTraining = never;
    platform.join = never;
    ExperimentManager.create(c, "lc-abandon", { log: () => {}, platform }).then(async (m) => {
      const rewards = await m.ingestRewards([{ event_id: "s-1", reward: 1 }]);
      m.trainNextModel();
      m.join(rewards);
      const started = setInterval(async () => {
        const s = await m.refresh();
        if (s.training_workflow_metadata.training_state === "TRAINING" && s.joining_workflow_metadata.joining_state === "RUNNING") {
          clearInterval(started);
          await m.platform.records.close();
          process.stdout.write("running\\n");
        }
      }, 20);
    });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"], cwd: process.cwd() });
  children.push(child);
  await new Promise<void>((resolve) => child.stdout?.on("data", (d: Buffer) => d.toString().includes("running") && resolve()));
  child.kill("SIGKILL");
  await waitFor(() => !pidAlive(child.pid as number));

  // The platform is asked to stop the orphaned job (SageMaker: StopTrainingJob); local jobs died with their process.
  const { platform, stopped } = platformRecordingStops();
  const later = await manager(config, "lc-abandon", { platform });
  opened.push(later);
  const s = later.toJSON();
  assert.deepEqual(stopped, [s.training_workflow_metadata.next_model_to_train_id]);
  assert.equal(s.training_workflow_metadata.training_state, "ABANDONED");
  assert.equal(s.joining_workflow_metadata.joining_state, "ABANDONED");
  const model = await later.getModelRecord(s.training_workflow_metadata.next_model_to_train_id as string);
  assert.equal(model.train_state, "Abandoned");
  assert.match(model.failure_reason ?? "", new RegExp(`^abandoned: its owner \\(pid ${child.pid} on .*\\) is gone$`));
  const join = (await later.listJoinJobs()).find((j) => j.join_job_id === s.joining_workflow_metadata.next_join_job_id);
  assert.equal(join?.current_state, "ABANDONED");
  // The last good results stand, and the workflows go on.
  assert.equal(later.lastTrainedModelId, m.lastTrainedModelId);
  const next = await later.trainNextModel();
  assert.equal(later.toJSON().training_workflow_metadata.training_state, "TRAINED");
  assert.equal(later.lastTrainedModelId, next.model_id);
});

test("cleanResource({deleteData}) removes the experiment's objects, endpoint log, failed job folders, downloads and reports — not another's", async () => {
  const { m, ids } = await trained("lc-clean");
  const neighbour = (await trained("lc-clean-b")).m;
  await m.deployModel({ modelId: ids[0] });
  await m.evaluateModel();
  const download = await m.downloadHistoricalData();
  // A file an application wrote for the experiment (npm start's report) and registered with it.
  const report = path.join(ws, "reports", "lc-clean.html");
  fs.mkdirSync(path.dirname(report), { recursive: true });
  fs.writeFileSync(report, "<html></html>");
  registerExperimentFile(config, "lc-clean", report);
  const neighboursReport = path.join(ws, "reports", "lc-clean-b.html");
  fs.writeFileSync(neighboursReport, "<html></html>");
  registerExperimentFile(config, "lc-clean-b", neighboursReport);
  // Failed jobs keep their folders: one for each experiment.
  const broken = testConfig(ws, { algor: { ...config.algor, algorithms_parameters: { ...config.algor.algorithms_parameters, num_arms: 0 } } });
  for (const id of ["lc-clean", "lc-clean-b"]) {
    const b = await open(id, broken);
    await assert.rejects(b.initializeFirstModel({ inputDataUri: b.lastJoinedJobTrainData }));
  }
  const jobs = () => fs.readdirSync(path.join(ws, "jobs"));
  assert.equal(jobs().filter((j) => j.startsWith("lc-clean-model-")).length, 1);
  assert.equal(jobs().filter((j) => j.startsWith("lc-clean-b-model-")).length, 1);

  const r = await m.cleanResource({ deleteData: true });
  assert.equal(r.endpointDeleted, true);
  for (const gone of [download, report, path.join(endpointsDir, "lc-clean.log"), path.join(endpointsDir, "lc-clean.json"), path.join(ws, "bucket", "lc-clean")]) {
    assert.equal(fs.existsSync(gone), false, `${gone} was removed`);
  }
  assert.deepEqual(jobs().filter((j) => j.startsWith("lc-clean-model-")), []);
  assert.equal(jobs().filter((j) => j.startsWith("lc-clean-b-model-")).length, 1, "the neighbour's job folder stays");
  assert.ok(fs.existsSync(path.join(ws, "bucket", "lc-clean-b", "joined_data")), "the neighbour's data stays");
  assert.ok(fs.existsSync(neighboursReport), "the neighbour's report stays");
  assert.ok(r.removed.includes(report), "the report is listed as removed");
  assert.ok(neighbour.lastTrainedModelId);
});

test("cleanResource({deleteData}) is refused while a live process runs a step of the experiment", async () => {
  const { m } = await trained("lc-busy");
  const live = unrelatedProcess(); // stands for the training process: alive, same host
  await stuckTraining(m, "lc-busy-model-000000000000", { owner: { host: os.hostname(), pid: live.pid, started_at: new Date().toISOString() } });
  await assert.rejects(m.cleanResource({ deleteData: true }), /would delete the data of training 'lc-busy-model-000000000000', which is running \(pid \d+/);
  assert.ok(fs.existsSync(path.join(ws, "bucket", "lc-busy")), "nothing was deleted");
  live.kill("SIGKILL");
  await waitFor(() => !pidAlive(live.pid as number));
  await m.cleanResource({ deleteData: true });
  assert.equal(fs.existsSync(path.join(ws, "bucket", "lc-busy")), false);
});


test("soft_deployment false restarts blue/green: new process and port, old one stopped, no request lost", async () => {
  const cfg = testConfig(ws, { soft_deployment: false });
  const { m, ids } = await trained("lc-bluegreen", 3, cfg);
  const first = await m.deployModel({ modelId: ids[0] });
  const pids = [first.pid as number];
  const urls = [first.url];
  const load = await underLoad(m, obs, async () => {
    for (const id of [ids[1], ids[2], ids[0]]) {
      const d = await m.deployModel({ modelId: id });
      assert.equal(d.modelId, id);
      assert.ok(!pids.includes(d.pid as number), "a new process serves each deploy");
      assert.ok(!urls.includes(d.url), "on a new port");
      await waitFor(() => !pidAlive(pids[pids.length - 1]), 5000);
      pids.push(d.pid as number);
      urls.push(d.url);
    }
  });
  assert.deepEqual(load.errors, []);
  assert.ok(load.count > 50, `only ${load.count} requests`);
  assert.ok(load.seen.size >= 2, "the clients followed the switches");
  const state = JSON.parse(fs.readFileSync(path.join(endpointsDir, "lc-bluegreen.json"), "utf8")) as { pid: number; url: string };
  assert.equal(pidAlive(pids[2]), false, "the previous server was stopped");
  assert.deepEqual([state.pid, state.url], [pids[3], urls[3]]);
  assert.equal((await m.predictor.getAction(obs)).modelId, ids[0]);
  // A new server that cannot start leaves the old one serving, and the state pointing at it.
  const artifact = path.join(ws, "bucket", "lc-bluegreen", "training_jobs", ids[1], "output", "model");
  for (const f of fs.readdirSync(artifact)) fs.writeFileSync(path.join(artifact, f), "{broken");
  await assert.rejects(m.deployModel({ modelId: ids[1] }), /deploying .* failed: endpoint lc-bluegreen did not start \(exit code 1\)/);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(endpointsDir, "lc-bluegreen.json"), "utf8")), state);
  assert.equal((await m.predictor.getAction(obs)).modelId, ids[0]);
  // The request limits of the config reach the server process as environment variables.
  const env = fs.readFileSync(`/proc/${state.pid}/environ`, "utf8").split("\0");
  assert.ok(env.includes(`MAX_DECISIONS_PER_REQUEST=${cfg.endpoint.max_decisions_per_request}`), "MAX_DECISIONS_PER_REQUEST");
  assert.ok(env.includes(`REQUEST_TIMEOUT_SECONDS=${cfg.endpoint.request_timeout_seconds}`), "REQUEST_TIMEOUT_SECONDS");
});

test("soft_deployment true hot-swaps into the running process: same pid and URL, no request lost", async () => {
  const { m, ids } = await trained("lc-hotswap", 2, testConfig(ws, { soft_deployment: true }));
  const first = await m.deployModel({ modelId: ids[0] });
  const load = await underLoad(m, obs, async () => {
    for (const id of [ids[1], ids[0], ids[1]]) {
      const d = await m.deployModel({ modelId: id });
      assert.deepEqual([d.pid, d.url, d.modelId], [first.pid, first.url, id]);
    }
  });
  assert.deepEqual(load.errors, []);
  assert.ok(load.count > 50, `only ${load.count} requests`);
  assert.ok(load.seen.size === 2);
});

test("soft_deployment has one default, the config schema's: the platform refuses a deploy request that leaves it out", async () => {
  const { m, ids } = await trained("lc-softdefault", 2);
  await m.deployModel({ modelId: ids[0] });
  const artifact = (await m.getModelRecord(ids[1])).s3_model_output_path as string;
  // A caller of the platform that leaves the flag out (the platform used to take that as true: a hot swap).
  const request = { experimentId: "lc-softdefault", endpointName: "lc-softdefault", modelId: ids[1], modelArtifactUri: artifact, seed: config.seed };
  await assert.rejects(
    m.platform.hosting.deploy(request as Parameters<typeof m.platform.hosting.deploy>[0]),
    /^Error: DeployRequest\.softDeployment must be true or false, got undefined: pass the config's soft_deployment/,
  );
  assert.equal((await m.describeEndpoint())?.modelId, ids[0], "the running model still serves");
});

test("a step of an owner on another host is left alone on load; when too old, the next step takes it over without stopping its job", async () => {
  const { m } = await trained("lc-remote");
  const stuckId = "lc-remote-model-000000000000";
  await stuckTraining(m, stuckId, { owner: { host: "another-host", pid: 4242, started_at: new Date(Date.now() - 2 * 3600_000).toISOString() } });
  const { platform, stopped } = platformRecordingStops();
  const later = await manager(config, "lc-remote", { platform });
  opened.push(later);
  assert.equal(later.toJSON().training_workflow_metadata.training_state, "TRAINING", "may still run on the other host: not closed on load");
  const next = await later.trainNextModel();
  const closed = await later.getModelRecord(stuckId);
  assert.equal(closed.train_state, "Abandoned");
  assert.match(closed.failure_reason ?? "", /^abandoned: taken over after the step timed out; its owner \(pid 4242 on another-host, .*\) may still run$/);
  assert.deepEqual(stopped, [], "its job is not stopped: the owner may still wait for it");
  assert.equal(later.lastTrainedModelId, next.model_id);
});

test("a first model without data whose owner is dead is closed on load without a stop: no job ran for it", async () => {
  const { m } = await trained("lc-nojob");
  const stuckId = "lc-nojob-model-000000000000";
  // Owned by this process, which does not run it: a dead owner (what a killed kernel leaves).
  await stuckTraining(m, stuckId, {
    input_model_id: null,
    input_data_s3_prefix: null,
    owners: { training: { host: os.hostname(), pid: process.pid, started_at: new Date().toISOString() } },
  });
  const { platform, stopped } = platformRecordingStops();
  const later = await manager(config, "lc-nojob", { platform });
  opened.push(later);
  assert.equal(later.toJSON().training_workflow_metadata.training_state, "ABANDONED");
  assert.equal((await later.getModelRecord(stuckId)).train_state, "Abandoned");
  assert.deepEqual(stopped, [], "SageMaker knows no such job: a stop would only fail");
});

test("a step whose owner is not recorded yet is not closed on load, and one workflow's owner survives another's end", async () => {
  const { m, ids } = await trained("lc-gap");
  const records = m.platform.records;
  // Another process has published a training step but not yet created its model record.
  const pendingId = "lc-gap-model-zzzzzzzzzzzz";
  const exp = (await records.get("experiment", "lc-gap", "lc-gap"))!;
  await records.update("experiment", "lc-gap", "lc-gap", {
    ...exp.value,
    training_workflow_metadata: { ...exp.value.training_workflow_metadata, training_state: "PENDING", next_model_to_train_id: pendingId },
  }, exp.version);
  const second = await open("lc-gap");
  assert.equal(second.toJSON().training_workflow_metadata.training_state, "PENDING", "no owner yet is no proof of death: left alone on load");

  // A deployment in progress in another live process: the evaluation of the same model ends
  // meanwhile, and the deployment's owner must still be there afterwards.
  const live = unrelatedProcess();
  await waitFor(() => pidAlive(live.pid as number));
  const hostingOwner = { host: os.hostname(), pid: live.pid as number, started_at: new Date(Date.now() + 5000).toISOString() };
  const rec = (await records.get("model", "lc-gap", ids[0]))!;
  await records.update("model", "lc-gap", ids[0], { ...rec.value, owners: { hosting: hostingOwner } } as never, rec.version);
  await second.evaluateModel({ modelId: ids[0] });
  const after = (await records.get("model", "lc-gap", ids[0]))!.value as { owners?: Record<string, unknown> };
  assert.deepEqual(after.owners?.hosting, hostingOwner, "the evaluation cleared only its own owner");
  assert.equal(after.owners?.evaluation, null);
});

test("a failed step of every workflow ends FAILED with its owner cleared (a failed deploy used to keep the model's hosting owner)", async () => {
  const { m, ids } = await trained("lc-failed");
  type Owned = { owners?: Record<string, unknown>; owner?: unknown };
  const owners = async () => ((await m.getModelRecord(ids[0])) as Owned).owners;
  // A model artifact no process can load fails the deploy, the evaluation and the next training.
  const artifact = path.join(ws, "bucket", "lc-failed", "training_jobs", ids[0], "output", "model");
  for (const f of fs.readdirSync(artifact)) fs.writeFileSync(path.join(artifact, f), "{broken");

  await assert.rejects(m.deployModel({ modelId: ids[0] }), (err: Error) => err instanceof HostingError && /^deploying .* failed: endpoint lc-failed did not start/.test(err.message));
  assert.equal(m.toJSON().hosting_workflow_metadata.hosting_state, "FAILED");
  assert.equal((await owners())?.hosting, null, "the failed deploy cleared the model's hosting owner");

  await assert.rejects(m.evaluateModel({ modelId: ids[0] }), EvaluationJobError);
  assert.equal(m.toJSON().evaluation_workflow_metadata.evaluation_state, "FAILED");
  assert.equal((await owners())?.evaluation, null);

  await assert.rejects(m.trainNextModel({ inputModelId: ids[0] }), TrainingJobError);
  assert.equal(m.toJSON().training_workflow_metadata.training_state, "FAILED");
  const failedModel = (await m.listModels()).find((r) => r.train_state === "Failed") as Owned | undefined;
  assert.equal(failedModel?.owners?.training, null);

  // No decision was ever logged: the SQL join has nothing to join.
  const rewards = await m.ingestRewards([{ event_id: "never-decided", reward: 1 }]);
  await assert.rejects(m.join(rewards), (err: Error) => err instanceof JoiningError && /no decisions to join/.test(err.message));
  assert.equal(m.toJSON().joining_workflow_metadata.joining_state, "FAILED");
  const failedJoin = (await m.listJoinJobs()).find((j) => j.current_state === "FAILED") as Owned | undefined;
  assert.ok(failedJoin, "the join job is recorded as FAILED");
  assert.equal(failedJoin.owner, null);
});

test("registerExperimentFile takes only paths inside the workspace; clean-up removes each registered file once", async () => {
  const outside = path.join(os.tmpdir(), "not-in-the-workspace.html");
  assert.throws(() => registerExperimentFile(config, "lc-files", outside), /not inside the workspace .*clean-up removes only files inside it/);
  assert.throws(() => registerExperimentFile(config, "lc-files", ws), /not inside the workspace/);
  assert.throws(() => registerExperimentFile(config, "bad id!", path.join(ws, "x")), /experiment id "bad id!" is not valid/);
  const { m } = await trained("lc-files");
  const folder = path.join(ws, "exports", "lc-files");
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, "a.csv"), "x\n");
  registerExperimentFile(config, "lc-files", folder);
  registerExperimentFile(config, "lc-files", folder);
  const r = await m.cleanResource({ deleteData: true });
  assert.equal(r.removed.filter((p) => p === folder).length, 1);
  assert.equal(fs.existsSync(folder), false);
  assert.deepEqual((await m.cleanResource({ deleteData: true })).removed.filter((p) => p === folder), [], "the list went too");
});
