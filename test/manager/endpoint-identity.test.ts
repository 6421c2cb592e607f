/**
 * Endpoint processes by their own identity (issues 16.5, 16.6, 16.7, 18.13), against real
 * processes: only a process that the records name AND that answers the recorded identity token is
 * ever signalled; a manager killed mid blue/green deploy or mid hot swap leaves nothing that the
 * next manager or clean-up does not find; token files are private; hot swap loads models from the
 * experiment's own model folder only.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import type { ExperimentManager } from "@cbkit/common";
import { createLocalPlatform, type LocalHosting } from "@cbkit/common/local";
import { cleanedUpAfter, manager, pidAlive, syntheticJoined, tempWorkspace, testConfig, waitFor } from "./helpers";

const ws = tempWorkspace("identity");
const blueGreen = testConfig(ws, { soft_deployment: false });
const hotSwap = testConfig(ws, { soft_deployment: true });
const endpointsDir = path.join(ws, "endpoints");
const obs = syntheticJoined(1)[0].observation;
const { opened, children } = cleanedUpAfter(ws);

async function trained(id: string, cfg: typeof blueGreen, models = 2): Promise<{ m: ExperimentManager; ids: string[] }> {
  const m = await manager(cfg, id);
  opened.push(m);
  await m.ingestJoinedData(syntheticJoined(120), 0.8);
  const ids = [(await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData })).model_id];
  while (ids.length < models) ids.push((await m.trainNextModel()).model_id);
  return { m, ids };
}

/** A real process that is not the kit's endpoint; `argv` makes its command line look like one. */
function decoy(argv: string[] = []): ChildProcess {
  const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "--", ...argv], { stdio: "ignore" });
  children.push(c);
  return c;
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, Record<string, unknown>>;

/**
 * Runs a manager in a child process that deploys `modelId` and is SIGKILLed at `killAt`:
 * "before-stop" once the new blue/green server answers (before the old one is stopped),
 * "after-swap" once the endpoint hot-swapped the model (before the records say so).
 */
async function killManagerMidDeploy(id: string, modelId: string, softDeployment: boolean, killAt: "before-stop" | "after-swap"): Promise<void> {
  const script = `
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    const { ExperimentManager, loadConfig } = require("@cbkit/common");
    const c = loadConfig(); c.workspace = ${JSON.stringify(ws)}; c.soft_deployment = ${softDeployment};
    const never = () => new Promise(() => {});
    ExperimentManager.create(c, ${JSON.stringify(id)}, { log: () => {} }).then(async (m) => {
      const hosting = m.platform.hosting;
      const reached = async () => {
        await m.platform.records.close(); // the file lock is released before the kill, as a crash's would be
        process.stdout.write("reached\\n");
        return never();
      };
      if (${JSON.stringify(killAt)} === "before-stop") {
        // The new server answers; the old one is about to be stopped: the kill lands here.
        hosting.stopEndpointProcess = reached;
      } else {
        const deploy = hosting.deploy.bind(hosting);
        hosting.deploy = async (r) => { await deploy(r); return reached(); };
      }
      await m.deployModel({ modelId: ${JSON.stringify(modelId)} });
    });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"], cwd: process.cwd() });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => d.toString().includes("reached") && resolve());
    child.on("exit", (code) => reject(new Error(`the manager process exited (${code}) before the kill point`)));
  });
  child.kill("SIGKILL");
  await waitFor(() => !pidAlive(child.pid as number));
}

const statePid = (id: string) => readJson(path.join(endpointsDir, `${id}.json`)).pid as unknown as number;

test("a manager killed mid blue/green deploy: the next manager stops the old server and its records name the new model", async () => {
  const { m, ids } = await trained("id-bg", blueGreen);
  const old = await m.deployModel({ modelId: ids[0] });
  await killManagerMidDeploy("id-bg", ids[1], false, "before-stop");
  const next = statePid("id-bg");
  assert.notEqual(next, old.pid, "the new server took over the state file");
  assert.ok(pidAlive(old.pid as number) && pidAlive(next), "both servers run after the kill");
  assert.equal((await m.refresh()).hosting_workflow_metadata.hosting_state, "DEPLOYING");

  const resumed = await manager(blueGreen, "id-bg");
  opened.push(resumed);
  await waitFor(() => !pidAlive(old.pid as number));
  assert.ok(pidAlive(next), "the current server is kept");
  const hm = resumed.toJSON().hosting_workflow_metadata;
  assert.equal(hm.hosting_state, "DEPLOYED");
  assert.equal(hm.last_hosted_model_id, ids[1], "the records name the model the endpoint says it serves");
  assert.equal(hm.next_model_to_host_id, null);
  assert.equal((await resumed.predictor.getAction(obs)).modelId, ids[1]);
  assert.deepEqual(Object.keys(readJson(path.join(endpointsDir, "id-bg.processes.json"))), [String(next)]);
});

test("cleanResource after a manager was killed mid blue/green deploy stops both servers, the orphan holding its port too", async () => {
  const { m, ids } = await trained("id-bg-clean", blueGreen);
  const old = await m.deployModel({ modelId: ids[0] });
  await killManagerMidDeploy("id-bg-clean", ids[1], false, "before-stop");
  const next = statePid("id-bg-clean");
  // Clean-up straight on the platform: no manager load (which reconciles first) in between.
  const platform = createLocalPlatform({ workspace: ws });
  try {
    const report = await platform.cleanup("id-bg-clean");
    assert.equal(report.endpointDeleted, true);
  } finally {
    await platform.close();
  }
  await waitFor(() => !pidAlive(old.pid as number) && !pidAlive(next));
  const port = Number(new URL(old.url).port);
  await new Promise<void>((resolve, reject) => {
    const s = http.createServer().listen(port, "127.0.0.1", () => s.close(() => resolve()));
    s.on("error", reject);
  });
});

test("a manager killed mid hot swap: the next step of a manager already open makes the records name the model the endpoint serves", async () => {
  const { m, ids } = await trained("id-hot", hotSwap);
  const d = await m.deployModel({ modelId: ids[0] });
  await killManagerMidDeploy("id-hot", ids[1], true, "after-swap");
  const stale = (await m.refresh()).hosting_workflow_metadata;
  assert.equal(stale.hosting_state, "DEPLOYING");
  assert.equal(stale.last_hosted_model_id, ids[0], "the killed manager never recorded the swap");

  // Any step of this (still open) manager settles it first; a training here.
  await m.trainNextModel();
  const hm = m.toJSON().hosting_workflow_metadata;
  assert.equal(hm.hosting_state, "DEPLOYED");
  assert.equal(hm.last_hosted_model_id, ids[1]);
  assert.equal(hm.next_model_to_host_id, null);
  assert.equal((await m.describeEndpoint())?.pid, d.pid, "the same server, hot-swapped");
  assert.equal((await m.predictor.getAction(obs)).modelId, ids[1]);
});

test("a deploy checks each recorded server's identity once; a launch writes the processes file only when it changes", async () => {
  const { m, ids } = await trained("id-once", hotSwap);
  const d = await m.deployModel({ modelId: ids[0] });
  const hosting = m.platform.hosting as LocalHosting;
  const request = async (modelId: string, softDeployment: boolean) => ({
    experimentId: "id-once",
    endpointName: "id-once",
    modelId,
    modelArtifactUri: (await m.getModelRecord(modelId)).s3_model_output_path as string,
    seed: hotSwap.seed,
    softDeployment,
  });
  // The real methods, counted.
  const checked: number[] = [];
  const isEndpointProcess = hosting.isEndpointProcess.bind(hosting);
  hosting.isEndpointProcess = (name, pid) => {
    checked.push(pid);
    return isEndpointProcess(name, pid);
  };
  const readState = hosting.readState.bind(hosting);
  let held = 0;
  const processesWrites: string[] = [];
  const watcher = fs.watch(endpointsDir, (_event, file) => file === "id-once.processes.json" && processesWrites.push(String(file)));
  try {
    // A hot swap: the running server proves itself once (it used to twice: orphans, then status).
    await hosting.deploy(await request(ids[1], true));
    assert.deepEqual(checked, [d.pid]);

    // Blue/green, where the new server does not answer its first 10 polls (its state names a URL
    // where nothing listens yet): its URL is written when it changes, not at every poll.
    const nowhere = await new Promise<string>((resolve) => {
      const s = http.createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(`http://127.0.0.1:${port}`));
      });
    });
    hosting.readState = (name) => {
      const st = readState(name);
      if (st && st.pid !== d.pid && held < 10) {
        held++;
        return { ...st, url: nowhere };
      }
      return st;
    };
    checked.length = 0;
    processesWrites.length = 0;
    const next = await hosting.deploy(await request(ids[0], false));
    assert.notEqual(next.pid, d.pid);
    assert.equal(held, 10, "the new server's first polls found it not answering");
    // The old server: once before the deploy, once again right before its signal.
    assert.deepEqual(checked, [d.pid, d.pid]);
    await new Promise((r) => setTimeout(r, 200)); // the last file events
    // Its record at the start, its URL twice (nowhere, then where it listens), the old one's removal.
    assert.ok(processesWrites.length <= 4, `the processes file was written ${processesWrites.length} times`);
    assert.equal(readJson(hosting.processesFile("id-once"))[String(next.pid)].url, next.url);
  } finally {
    watcher.close();
    hosting.isEndpointProcess = isEndpointProcess;
    hosting.readState = readState;
  }
});

test("a decoy with the endpoint's command line, and a recorded pid reused by another process, are never signalled", async () => {
  const { m, ids } = await trained("id-decoy", blueGreen, 1);
  const hosting = m.platform.hosting as LocalHosting;
  const d = await m.deployModel({ modelId: ids[0] });
  const stateFile = hosting.stateFile("id-decoy");
  const recorded = readJson(hosting.processesFile("id-decoy"))[String(d.pid)];
  process.kill(d.pid as number, "SIGKILL"); // a crash: the state and the record stay behind
  await waitFor(() => !pidAlive(d.pid as number));

  // Its command line looks like the endpoint's, it started after the state: the old start-time fallback took it.
  const lookAlike = decoy([path.join("common", "dist", "container", "serve.js"), "--state-file", stateFile]);
  // The record's pid is reused by another process; the state names it too.
  const reused = decoy();
  const st = readJson(stateFile);
  fs.writeFileSync(stateFile, JSON.stringify({ ...st, pid: lookAlike.pid, startedAt: new Date(Date.now() + 3600_000).toISOString() }));
  fs.writeFileSync(hosting.processesFile("id-decoy"), JSON.stringify({ [String(reused.pid)]: recorded }));
  assert.equal((await hosting.processStatus("id-decoy")).status, "stale");
  assert.deepEqual(await hosting.liveProcesses("id-decoy"), []);

  const report = await m.cleanResource();
  assert.equal(report.endpointDeleted, false);
  const again = await m.deployModel({ modelId: ids[0] });
  assert.equal((await m.predictor.getAction(obs)).modelId, ids[0]);
  await m.cleanResource();
  await waitFor(() => !pidAlive(again.pid as number));
  assert.ok(pidAlive(lookAlike.pid as number), "the look-alike survived clean-up and deploy");
  assert.ok(pidAlive(reused.pid as number), "the process holding a recorded pid survived clean-up and deploy");
});

test("a process at the recorded URL and pid that answers without the recorded identity token is not ours", async () => {
  const { m } = await trained("id-impostor", blueGreen, 1);
  const hosting = m.platform.hosting as LocalHosting;
  // An impostor answers the identity route with its own pid and the endpoint's name, but it cannot know the token.
  const script = `require("http").createServer((q, s) => s.end(JSON.stringify({ pid: process.pid, endpoint_name: "id-impostor", identity_token: "guess" })))
    .listen(0, "127.0.0.1", function () { process.stdout.write(String(this.address().port) + "\\n"); });`;
  const impostor = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(impostor);
  const port = await new Promise<string>((resolve) => impostor.stdout?.once("data", (b: Buffer) => resolve(b.toString().trim())));
  const url = `http://127.0.0.1:${port}`;
  fs.writeFileSync(hosting.stateFile("id-impostor"), JSON.stringify({ pid: impostor.pid, url, endpointName: "id-impostor", startedAt: new Date().toISOString() }));
  fs.writeFileSync(
    hosting.processesFile("id-impostor"),
    JSON.stringify({ [String(impostor.pid)]: { adminToken: "a".repeat(32), identityToken: "b".repeat(32), url, startedAt: new Date().toISOString() } }),
  );
  assert.equal(await hosting.isEndpointProcess("id-impostor", impostor.pid as number), false);
  await m.cleanResource();
  assert.ok(pidAlive(impostor.pid as number), "the impostor was not signalled");
});

test("the endpoints folder is 0700 and the files holding tokens 0600; the identity route needs the admin token", async () => {
  const { m, ids } = await trained("id-modes", hotSwap, 1);
  const d = await m.deployModel({ modelId: ids[0] });
  const hosting = m.platform.hosting as LocalHosting;
  const mode = (p: string) => fs.statSync(p).mode & 0o777;
  assert.equal(mode(endpointsDir), 0o700);
  assert.equal(mode(hosting.processesFile("id-modes")), 0o600);
  assert.equal(mode(hosting.stateFile("id-modes")), 0o600);
  assert.equal(mode(hosting.logFile("id-modes")), 0o600);
  assert.equal(readJson(hosting.stateFile("id-modes")).adminToken, undefined, "the state file holds no token");
  const r = await fetch(`${d.url}/admin/identity`);
  assert.equal(r.status, 403);
  assert.match(((await r.json()) as { message: string }).message, /admin routes need the endpoint's admin token/);
});

test("/admin/deploy loads models only from its own experiment's model folder (403 naming the rule)", async () => {
  const { m, ids } = await trained("id-own", hotSwap, 1);
  const other = await trained("id-other", hotSwap, 1);
  const d = await m.deployModel({ modelId: ids[0] });
  const hosting = m.platform.hosting as LocalHosting;
  const adminToken = String(readJson(hosting.processesFile("id-own"))[String(d.pid)].adminToken);
  const swap = async (modelDir: string) => {
    const r = await fetch(`${d.url}/admin/deploy`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-cbkit-admin-token": adminToken },
      body: JSON.stringify({ model_dir: modelDir }),
    });
    return { status: r.status, body: (await r.json()) as { error: string; message: string; model_id?: string } };
  };
  const ownRoot = path.join(ws, "bucket", "id-own", "training_jobs");
  const otherModel = path.join(ws, "bucket", "id-other", "training_jobs", other.ids[0], "output", "model");
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-foreign-model-"));
  fs.cpSync(otherModel, outside, { recursive: true });
  // A link inside the experiment's model folder that leads out of it counts as outside.
  const link = path.join(ownRoot, "linked-model");
  fs.symlinkSync(otherModel, link);
  try {
    for (const dir of [otherModel, outside, link, path.join(ownRoot, "..", "..", "id-other", "training_jobs", other.ids[0], "output", "model")]) {
      const r = await swap(dir);
      assert.equal(r.status, 403, dir);
      assert.equal(r.body.error, "ModelOutsideExperiment");
      assert.match(r.body.message, /the endpoint loads models only from its own experiment's model folder/);
    }
    assert.equal((await m.predictor.getAction(obs)).modelId, ids[0], "still serving its own model");
    const own = await swap(path.join(ownRoot, ids[0], "output", "model"));
    assert.equal(own.status, 200);
  } finally {
    fs.rmSync(outside, { recursive: true, force: true });
    fs.rmSync(link, { force: true });
  }
});
