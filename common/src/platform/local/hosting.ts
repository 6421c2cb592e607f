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
 * A pid alone does not name our process (pids are reused after a crash or a reboot). When a
 * server is started, its start token (`util/process.ts`) is recorded in
 * `<workspace>/endpoints/<name>.processes.json`; nothing is signalled unless the pid still has that
 * start token and runs `serve.js` with this endpoint's state file. Otherwise the state is stale: the
 * endpoint is gone, and its files are removed without a signal.
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
import { isSameProcess, pidAlive, processCommandText, processStartTimeMs, processStartToken } from "../../util/process";

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

interface RecordedProcess {
  startToken: string;
  startedAt: string;
}

const SERVE_SCRIPT = entryPointScript("serve");

export class LocalHosting implements Hosting {
  constructor(
    private readonly store: LocalObjectStore,
    private readonly endpointsDir: string,
    private readonly startTimeoutMs = 20000,
  ) {
    fs.mkdirSync(endpointsDir, { recursive: true });
  }

  stateFile(name: string): string {
    return path.join(this.endpointsDir, `${safeSegment(name, "endpoint name")}.json`);
  }

  logFile(name: string): string {
    return path.join(this.endpointsDir, `${safeSegment(name, "endpoint name")}.log`);
  }

  /** pid -> start token of every server process started for this endpoint. */
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

  private readProcesses(name: string): Record<string, RecordedProcess> {
    try {
      return JSON.parse(fs.readFileSync(this.processesFile(name), "utf8")) as Record<string, RecordedProcess>;
    } catch {
      return {};
    }
  }

  /** Records a just-started server (before it can write the state file), dropping dead entries. */
  private recordProcess(name: string, pid: number): void {
    const token = processStartToken(pid);
    if (!token) return;
    const kept: Record<string, RecordedProcess> = {};
    for (const [p, r] of Object.entries(this.readProcesses(name))) {
      if (isSameProcess(Number(p), r.startToken)) kept[p] = r;
    }
    kept[String(pid)] = { startToken: token, startedAt: new Date().toISOString() };
    const tmp = `${this.processesFile(name)}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(kept, null, 2));
    fs.renameSync(tmp, this.processesFile(name));
  }

  /**
   * Whether `pid` is a server of this endpoint: it runs serve.js with this endpoint's state file,
   * and it has the start token recorded when it was started. (A server started before tokens were
   * recorded is accepted when it started no later than the `startedAt` it wrote into its state.)
   */
  isEndpointProcess(name: string, pid: number, stateStartedAt?: string): boolean {
    // As one string: `ps` (macOS) gives no argument boundaries, and paths may hold spaces.
    const command = processCommandText(pid);
    const runsServe = command?.includes(`${path.sep}container${path.sep}serve.js `);
    if (!command || !runsServe || !command.includes(`--state-file ${this.stateFile(name)}`)) return false;
    const recorded = this.readProcesses(name)[String(pid)];
    if (recorded) return isSameProcess(pid, recorded.startToken);
    const started = processStartTimeMs(pid);
    return started !== null && stateStartedAt !== undefined && started <= Date.parse(stateStartedAt) + 1000;
  }

  /** "ours" when the state file names a live server of this endpoint, "stale" when it names anything else. */
  processStatus(name: string): { status: EndpointProcessStatus; state: EndpointState | null } {
    const st = this.readState(name);
    if (!st) return { status: "none", state: null };
    return { status: this.isEndpointProcess(name, st.pid, st.startedAt) ? "ours" : "stale", state: st };
  }

  private describeState(st: EndpointState, modelId: string): EndpointDescription {
    return {
      endpointName: st.endpointName,
      status: "InService",
      modelId,
      url: st.url,
      arn: `local:${st.endpointName}`,
      pid: st.pid,
      decisionLogUri: st.decisionLogDir ? new URL(`file://${st.decisionLogDir}`).href : "",
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
    const { status, state } = this.processStatus(endpointName);
    return status === "ours" && state ? this.ping(state) : null;
  }

  async deploy(request: DeployRequest): Promise<EndpointDescription> {
    if (typeof request.softDeployment !== "boolean") {
      throw new Error(
        `DeployRequest.softDeployment must be true or false, got ${JSON.stringify(request.softDeployment)}: ` +
          `pass the config's soft_deployment (its default, false, is the config schema's)`,
      );
    }
    const modelDir = this.store.pathOf(request.modelArtifactUri);
    if (!fs.existsSync(modelDir)) throw new Error(`model artifact ${request.modelArtifactUri} does not exist`);
    const name = request.endpointName;
    const { status, state: st } = this.processStatus(name);
    const running = status === "ours" && st ? await this.ping(st) : null;
    if (running && st && request.softDeployment && st.adminToken) {
      const r = await httpJson(`${st.url}/admin/deploy`, "POST", { model_dir: modelDir }, { "x-cbkit-admin-token": st.adminToken }, 30000);
      if (r.status !== 200) throw new Error(`endpoint ${name} refused the new model: ${String(r.body.message ?? r.status)}`);
      return this.describeState(st, String(r.body.model_id));
    }
    if (running && st) {
      // Blue/green: the new server takes over the state file once it listens; clients that follow
      // the state move to it; then the old server finishes its requests in flight and stops.
      const next = await this.launch(request, modelDir, st);
      await this.stopEndpointProcess(name, st.pid, st.startedAt);
      return next;
    }
    // A server that holds the state file but does not answer is stopped; stale state is dropped.
    if (status === "ours" && st) await this.stopEndpointProcess(name, st.pid, st.startedAt);
    fs.rmSync(this.stateFile(name), { force: true });
    return this.launch(request, modelDir, null);
  }

  /** Starts a server and waits until the state file names it and it answers. */
  private async launch(request: DeployRequest, modelDir: string, previous: EndpointState | null): Promise<EndpointDescription> {
    const name = request.endpointName;
    const decisionLogDir = this.store.pathOf(this.store.uriOf(objectLayout.decisionLogPrefix(request.experimentId)));
    const out = fs.openSync(this.logFile(name), "a");
    const limits = request.limits ? servingLimitsEnvironment(request.limits) : {};
    const child = spawn(
      process.execPath,
      [
        SERVE_SCRIPT,
        "--port", "0",
        "--host", "127.0.0.1",
        "--model-dir", modelDir,
        "--endpoint-name", name,
        "--seed", String(request.seed),
        "--decision-log-dir", decisionLogDir,
        "--state-file", this.stateFile(name),
      ],
      {
        detached: true,
        stdio: ["ignore", out, out],
        env: { ...process.env, ...limits, CBKIT_ADMIN_TOKEN: randomBytes(16).toString("hex") },
      },
    );
    fs.closeSync(out);
    let exited: number | null = null;
    child.on("exit", (code) => (exited = code ?? -1));
    child.unref();
    if (child.pid) this.recordProcess(name, child.pid);
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline && exited === null) {
      const st = this.readState(name);
      if (st && st.pid === child.pid) {
        const d = await this.ping(st);
        if (d) return d;
      }
      await sleep(20);
    }
    if (child.pid && exited === null) await this.stopEndpointProcess(name, child.pid);
    // Blue/green: the old server still runs; point the state back at it.
    if (previous && this.isEndpointProcess(name, previous.pid, previous.startedAt) && this.readState(name)?.pid !== previous.pid) {
      const tmp = `${this.stateFile(name)}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, JSON.stringify(previous, null, 2));
      fs.renameSync(tmp, this.stateFile(name));
    }
    const tail = fs.existsSync(this.logFile(name)) ? fs.readFileSync(this.logFile(name), "utf8").split("\n").slice(-15).join("\n") : "";
    throw new Error(`endpoint ${name} did not start (${exited !== null ? `exit code ${exited}` : "timeout"}); log ${this.logFile(name)}:\n${tail}`);
  }

  /** SIGTERM (then SIGKILL) to a server of this endpoint, re-identified before every signal. */
  private async stopEndpointProcess(name: string, pid: number, stateStartedAt?: string): Promise<void> {
    const signal = (sig: NodeJS.Signals): boolean => {
      if (!this.isEndpointProcess(name, pid, stateStartedAt)) return false;
      try {
        process.kill(pid, sig);
        return true;
      } catch {
        return false; // exited in between
      }
    };
    if (!signal("SIGTERM")) return;
    for (let i = 0; i < 150 && pidAlive(pid); i++) await sleep(20);
    if (pidAlive(pid) && signal("SIGKILL")) {
      for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(20);
    }
  }

  /**
   * Stops the endpoint; true when a server of this endpoint was running. A state file naming a
   * process that is not our server (a reused pid) is removed without signalling anything.
   */
  async delete(endpointName: string): Promise<boolean> {
    const { status, state } = this.processStatus(endpointName);
    if (status === "none" || !state) return false;
    if (status === "ours") await this.stopEndpointProcess(endpointName, state.pid, state.startedAt);
    fs.rmSync(this.stateFile(endpointName), { force: true });
    return status === "ours";
  }

  async runtimeClientSettings(endpointName: string): Promise<RuntimeClientSettings> {
    const { status, state: st } = this.processStatus(endpointName);
    if (!st) throw new Error(`no local endpoint '${endpointName}' is running: deploy a model first`);
    if (status === "stale") {
      throw new Error(`local endpoint '${endpointName}' is gone (its state names pid ${st.pid}, which is not its server any more): deploy a model again`);
    }
    return { region: "us-east-1", endpoint: st.url, credentials: { accessKeyId: "local", secretAccessKey: "local" }, unsigned: true };
  }
}
