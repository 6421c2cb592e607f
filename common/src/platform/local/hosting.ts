/**
 * Local hosting: the endpoint is a detached child process (`container/serve.js`) bound to
 * 127.0.0.1 on a free port. It writes `<workspace>/endpoints/<name>.json` (pid, port, model id,
 * admin token) once it listens, so any later manager, notebook or process finds it again. Its
 * output goes to `<workspace>/endpoints/<name>.log`.
 *
 * A deploy to a running endpoint either hot-swaps the model through the admin route (new model
 * loaded fully, then swapped in; `softDeployment` true) or restarts blue/green (false): a new
 * process on a new port, the state file switched to it once it answers, then the old one stopped.
 *
 * A pid alone does not name our process (pids are reused after a crash or a reboot), and what the
 * operating system says about a process (command line, start time) is neither portable nor proof.
 * Every server started is recorded in `<workspace>/endpoints/<name>.processes.json` with two random
 * per-start tokens: an admin token (what the manager shows the endpoint) and an identity token (what
 * the endpoint shows back). A process is ours only when that file names its pid AND the process at
 * the recorded URL answers `GET /admin/identity` with that pid, this endpoint's name and the
 * recorded identity token. Nothing else is ever signalled: a state naming anything else is stale,
 * and its files are removed without a signal. The same check on every recorded process finds
 * servers a killed manager left behind (the old one of an interrupted blue/green deploy): they are
 * stopped by the next deploy, the next manager, or clean-up.
 *
 * The endpoints folder is 0700 and its files 0600: they hold the tokens (on Windows, the user
 * profile's permissions apply instead).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { servingLimitsEnvironment } from "../../container/contract";
import { entryPointScript } from "../../container/entry-points";
import type { EndpointState } from "../../container/serve";
import type { DeployRequest, EndpointDescription, Hosting, RuntimeClientSettings } from "../types";
import { objectLayout, safeSegment } from "../layout";
import type { LocalObjectStore } from "./objectStore";
import { pathToFileURL } from "node:url";
import { pidAlive } from "../../util/process";
import { showValue } from "../../util/show";
import { PRIVATE_FILE, writePrivateFile } from "../../util/private-file";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small HTTP request to the endpoint (no keep-alive, short timeout). */
export function httpJson(
  url: string,
  method: "GET" | "POST",
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 2000,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      url,
      {
        method,
        agent: false,
        timeout: timeoutMs,
        headers: { ...(text ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          try {
            resolve({ status: res.statusCode ?? 0, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {} });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: { raw } });
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`request to ${url} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    if (text) req.write(text);
    req.end();
  });
}

/** What the state file of an endpoint says about its process. */
export type EndpointProcessStatus = "none" | "ours" | "stale";

/** A server started for an endpoint, as recorded when it was started. */
export interface RecordedProcess {
  /** Shown by the manager to the endpoint (header x-cbkit-admin-token). */
  adminToken: string;
  /** Shown by the endpoint to the manager (GET /admin/identity): proves the process is this start. */
  identityToken: string;
  /** Where it listens, once known (it picks a free port). */
  url: string | null;
  startedAt: string;
}

const SERVE_SCRIPT = entryPointScript("serve");
const PRIVATE_DIR = 0o700;

/**
 * The file URI of the decision-log folder ("" for none). Built by `pathToFileURL`, never as
 * `file://${dir}`, which is malformed for a Windows path (`C:\...`). `windows` is for tests.
 */
export function decisionLogUriOf(dir: string | null, windows = process.platform === "win32"): string {
  return dir ? pathToFileURL(dir, { windows }).href : "";
}

export class LocalHosting implements Hosting {
  constructor(
    private readonly store: LocalObjectStore,
    private readonly endpointsDir: string,
    private readonly startTimeoutMs = 20000,
  ) {
    fs.mkdirSync(endpointsDir, { recursive: true, mode: PRIVATE_DIR });
    // A folder made by an older version (or another umask) is narrowed too: it holds the tokens.
    fs.chmodSync(endpointsDir, PRIVATE_DIR);
  }

  stateFile(name: string): string {
    return path.join(this.endpointsDir, `${safeSegment(name, "endpoint name")}.json`);
  }

  logFile(name: string): string {
    return path.join(this.endpointsDir, `${safeSegment(name, "endpoint name")}.log`);
  }

  /** pid -> tokens and URL of every server started for this endpoint that may still run. */
  processesFile(name: string): string {
    return path.join(this.endpointsDir, `${safeSegment(name, "endpoint name")}.processes.json`);
  }

  readState(name: string): EndpointState | null {
    try {
      return JSON.parse(fs.readFileSync(this.stateFile(name), "utf8")) as EndpointState;
    } catch {
      return null;
    }
  }

  readProcesses(name: string): Record<string, RecordedProcess> {
    try {
      const all = JSON.parse(fs.readFileSync(this.processesFile(name), "utf8")) as Record<string, Partial<RecordedProcess>>;
      // Entries of older versions (start tokens, no identity token) can prove nothing: left out.
      return Object.fromEntries(
        Object.entries(all).filter(([, r]) => typeof r?.identityToken === "string" && typeof r.adminToken === "string"),
      ) as Record<string, RecordedProcess>;
    } catch {
      return {};
    }
  }

  /** Changes the record of this endpoint's processes; entries whose pid is gone are dropped. */
  private updateProcesses(name: string, change: (all: Record<string, RecordedProcess>) => void): void {
    const all = this.readProcesses(name);
    for (const pid of Object.keys(all)) if (!pidAlive(Number(pid))) delete all[pid];
    change(all);
    writePrivateFile(this.processesFile(name), JSON.stringify(all, null, 2));
  }

  /**
   * Whether `pid` is a server of this endpoint: recorded, and the process at its recorded URL (or
   * at the URL of the state file when that names the pid) answers with the pid, this endpoint's
   * name and the recorded identity token.
   */
  async isEndpointProcess(name: string, pid: number): Promise<boolean> {
    const recorded = this.readProcesses(name)[String(pid)];
    if (!recorded || !pidAlive(pid)) return false;
    const st = this.readState(name);
    const url = recorded.url ?? (st?.pid === pid ? st.url : null);
    if (!url) return false;
    try {
      const r = await httpJson(`${url}/admin/identity`, "GET", undefined, { "x-cbkit-admin-token": recorded.adminToken }, 2000);
      return r.status === 200 && r.body.pid === pid && r.body.endpoint_name === name && r.body.identity_token === recorded.identityToken;
    } catch {
      return false; // nothing answers there: not a live server of ours
    }
  }

  /** "ours" when the state file names a live server of this endpoint, "stale" when it names anything else. */
  async processStatus(name: string): Promise<{ status: EndpointProcessStatus; state: EndpointState | null }> {
    const st = this.readState(name);
    if (!st) return { status: "none", state: null };
    return { status: (await this.isEndpointProcess(name, st.pid)) ? "ours" : "stale", state: st };
  }

  /** Every recorded server of this endpoint that proves to be ours, the current one included. */
  async liveProcesses(name: string): Promise<number[]> {
    const pids = Object.keys(this.readProcesses(name)).map(Number);
    const ours = await Promise.all(pids.map((pid) => this.isEndpointProcess(name, pid)));
    return pids.filter((_, i) => ours[i]);
  }

  /**
   * Stops every server of this endpoint that the state file does not name (a killed manager's
   * blue/green deploy leaves the old one running, still holding its port). Only processes that
   * prove to be ours are signalled. Call it only while no other manager deploys this endpoint.
   */
  async reapOrphans(name: string): Promise<number[]> {
    return (await this.reap(name)).orphans;
  }

  /** reapOrphans, and what the state file names: one identity check of every recorded server tells both. */
  private async reap(name: string): Promise<{ orphans: number[]; status: EndpointProcessStatus; state: EndpointState | null }> {
    const state = this.readState(name);
    const live = await this.liveProcesses(name);
    const orphans = live.filter((pid) => pid !== state?.pid);
    for (const pid of orphans) await this.stopEndpointProcess(name, pid);
    return { orphans, status: !state ? "none" : live.includes(state.pid) ? "ours" : "stale", state };
  }

  private describeState(st: EndpointState, modelId: string): EndpointDescription {
    return {
      endpointName: st.endpointName,
      status: "InService",
      modelId,
      url: st.url,
      arn: `local:${st.endpointName}`,
      pid: st.pid,
      decisionLogUri: decisionLogUriOf(st.decisionLogDir),
    };
  }

  private async ping(st: EndpointState): Promise<EndpointDescription | null> {
    try {
      const r = await httpJson(`${st.url}/ping`, "GET");
      return r.status === 200 ? this.describeState(st, String(r.body.model_id)) : null;
    } catch {
      return null;
    }
  }

  async describe(endpointName: string): Promise<EndpointDescription | null> {
    const { status, state } = await this.processStatus(endpointName);
    return status === "ours" && state ? this.ping(state) : null;
  }

  /** The folder every model this endpoint may load lies in: its experiment's training jobs. */
  modelRoot(experimentId: string): string {
    return this.store.pathOf(this.store.uriOf(objectLayout.trainingJobsRootPrefix(experimentId)));
  }

  async deploy(request: DeployRequest): Promise<EndpointDescription> {
    if (typeof request.softDeployment !== "boolean") {
      throw new Error(
        `DeployRequest.softDeployment must be true or false, got ${showValue(request.softDeployment)}: ` +
          `pass the config's soft_deployment (its default, false, is the config schema's)`,
      );
    }
    const modelDir = this.store.pathOf(request.modelArtifactUri);
    if (!fs.existsSync(modelDir)) throw new Error(`model artifact ${request.modelArtifactUri} does not exist`);
    const name = request.endpointName;
    // A deploy owns the endpoint (the hosting step): servers a killed deploy left behind go first.
    const { status, state: st } = await this.reap(name);
    const running = status === "ours" && st ? await this.ping(st) : null;
    const adminToken = st ? this.readProcesses(name)[String(st.pid)]?.adminToken : undefined;
    if (running && st && request.softDeployment && adminToken) {
      const r = await httpJson(`${st.url}/admin/deploy`, "POST", { model_dir: modelDir }, { "x-cbkit-admin-token": adminToken }, 30000);
      if (r.status !== 200) throw new Error(`endpoint ${name} refused the new model: ${String(r.body.message ?? r.status)}`);
      return this.describeState(st, String(r.body.model_id));
    }
    if (running && st) {
      // Blue/green: the new server takes over the state file once it listens; clients that follow
      // the state move to it; then the old server finishes its requests in flight and stops.
      const next = await this.launch(request, modelDir, st);
      await this.stopEndpointProcess(name, st.pid);
      return next;
    }
    // A server that holds the state file but does not answer is stopped; stale state is dropped.
    if (status === "ours" && st) await this.stopEndpointProcess(name, st.pid);
    fs.rmSync(this.stateFile(name), { force: true });
    return this.launch(request, modelDir, null);
  }

  /** Starts a server and waits until the state file names it and it answers. */
  private async launch(request: DeployRequest, modelDir: string, previous: EndpointState | null): Promise<EndpointDescription> {
    const name = request.endpointName;
    const decisionLogDir = this.store.pathOf(this.store.uriOf(objectLayout.decisionLogPrefix(request.experimentId)));
    const out = fs.openSync(this.logFile(name), "a", PRIVATE_FILE);
    const limits = request.limits ? servingLimitsEnvironment(request.limits) : {};
    const tokens = { adminToken: randomBytes(16).toString("hex"), identityToken: randomBytes(16).toString("hex") };
    const child = spawn(
      process.execPath,
      [
        SERVE_SCRIPT,
        "--port", "0",
        "--host", "127.0.0.1",
        "--model-dir", modelDir,
        "--model-root", this.modelRoot(request.experimentId),
        "--endpoint-name", name,
        "--seed", String(request.seed),
        "--decision-log-dir", decisionLogDir,
        "--state-file", this.stateFile(name),
      ],
      {
        detached: true,
        stdio: ["ignore", out, out],
        env: { ...process.env, ...limits, CBKIT_ADMIN_TOKEN: tokens.adminToken, CBKIT_IDENTITY_TOKEN: tokens.identityToken },
      },
    );
    fs.closeSync(out);
    let exited: number | null = null;
    child.on("exit", (code) => (exited = code ?? -1));
    child.unref();
    const pid = child.pid;
    // Recorded before it can write the state file: a manager killed from here on leaves a record.
    if (pid) this.updateProcesses(name, (all) => (all[String(pid)] = { ...tokens, url: null, startedAt: new Date().toISOString() }));
    const deadline = Date.now() + this.startTimeoutMs;
    let recordedUrl: string | null = null;
    while (Date.now() < deadline && exited === null) {
      const st = this.readState(name);
      if (st && st.pid === pid) {
        // Its URL is recorded once known (not again at every poll while it does not answer yet),
        // so it is found again after the state file moves on.
        if (st.url !== recordedUrl) {
          this.updateProcesses(name, (all) => {
            if (all[String(pid)]) all[String(pid)].url = st.url;
          });
          recordedUrl = st.url;
        }
        const d = await this.ping(st);
        if (d) return d;
      }
      await sleep(20);
    }
    if (pid && exited === null) await this.stopEndpointProcess(name, pid);
    // Blue/green: the old server still runs; point the state back at it.
    if (previous && (await this.isEndpointProcess(name, previous.pid)) && this.readState(name)?.pid !== previous.pid) {
      writePrivateFile(this.stateFile(name), JSON.stringify(previous, null, 2));
    }
    const tail = fs.existsSync(this.logFile(name)) ? fs.readFileSync(this.logFile(name), "utf8").split("\n").slice(-15).join("\n") : "";
    throw new Error(`endpoint ${name} did not start (${exited !== null ? `exit code ${exited}` : "timeout"}); log ${this.logFile(name)}:\n${tail}`);
  }

  /**
   * Stops a server of this endpoint: SIGTERM, then SIGKILL, each only after the process proved
   * again to be ours (Windows has no SIGTERM: Node ends the process at once there).
   */
  private async stopEndpointProcess(name: string, pid: number): Promise<void> {
    if (!(await this.isEndpointProcess(name, pid))) return;
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return; // exited in between
    }
    for (let i = 0; i < 150 && pidAlive(pid); i++) await sleep(20);
    // Still there after 3 s: it proved itself a moment ago and a pid is not reused while it lives.
    if (pidAlive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* exited in between */
      }
      for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(20);
    }
    this.updateProcesses(name, (all) => {
      if (!pidAlive(pid)) delete all[String(pid)];
    });
  }

  /**
   * Stops the endpoint and every other server of it that proves to be ours (orphans of a killed
   * manager); true when one of them was running. A state file naming a process that is not ours
   * (a reused pid) is removed without signalling anything.
   */
  async delete(endpointName: string): Promise<boolean> {
    const st = this.readState(endpointName);
    const live = await this.liveProcesses(endpointName);
    for (const pid of live) await this.stopEndpointProcess(endpointName, pid);
    if (st) fs.rmSync(this.stateFile(endpointName), { force: true });
    return live.length > 0;
  }

  async runtimeClientSettings(endpointName: string): Promise<RuntimeClientSettings> {
    const { status, state: st } = await this.processStatus(endpointName);
    if (!st) throw new Error(`no local endpoint '${endpointName}' is running: deploy a model first`);
    if (status === "stale") {
      throw new Error(`local endpoint '${endpointName}' is gone (its state names pid ${st.pid}, which is not its server any more): deploy a model again`);
    }
    return { region: "us-east-1", endpoint: st.url, credentials: { accessKeyId: "local", secretAccessKey: "local" }, unsigned: true };
  }
}
