/**
 * Local hosting: the endpoint is a detached child process (`container/serve.js`) bound to
 * 127.0.0.1 on a free port. It writes `<workspace>/endpoints/<name>.json` (pid, port, model id,
 * admin token) once it listens, so any later manager, notebook or process finds it again. A deploy
 * to a running endpoint is a blue/green hot swap through its admin route (new model loaded fully,
 * then swapped in); a deploy without one starts a new process. Its output goes to
 * `<workspace>/endpoints/<name>.log`.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import type { EndpointState } from "../../container/serve";
import type { DeployRequest, EndpointDescription, Hosting, RuntimeClientSettings } from "../types";
import { safeSegment } from "./layout";
import type { LocalObjectStore } from "./objectStore";
import { pidAlive } from "../../util/process";

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

  readState(name: string): EndpointState | null {
    try {
      return JSON.parse(fs.readFileSync(this.stateFile(name), "utf8")) as EndpointState;
    } catch {
      return null;
    }
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

  async describe(endpointName: string): Promise<EndpointDescription | null> {
    const st = this.readState(endpointName);
    if (!st || !pidAlive(st.pid)) return null;
    try {
      const r = await httpJson(`${st.url}/ping`, "GET");
      if (r.status !== 200) return null;
      return this.describeState(st, String(r.body.model_id));
    } catch {
      return null;
    }
  }

  async deploy(request: DeployRequest): Promise<EndpointDescription> {
    const modelDir = this.store.pathOf(request.modelArtifactUri);
    if (!fs.existsSync(modelDir)) throw new Error(`model artifact ${request.modelArtifactUri} does not exist`);
    const running = await this.describe(request.endpointName);
    const st = this.readState(request.endpointName);
    if (running && st?.adminToken) {
      const r = await httpJson(`${st.url}/admin/deploy`, "POST", { model_dir: modelDir }, { "x-cbkit-admin-token": st.adminToken }, 30000);
      if (r.status !== 200) throw new Error(`endpoint ${request.endpointName} refused the new model: ${String(r.body.message ?? r.status)}`);
      return this.describeState(st, String(r.body.model_id));
    }
    return this.start(request, modelDir);
  }

  private async start(request: DeployRequest, modelDir: string): Promise<EndpointDescription> {
    const name = request.endpointName;
    const stale = this.readState(name);
    if (stale && pidAlive(stale.pid)) {
      // A process that holds the state file but does not answer: stop it before replacing it.
      await this.stopPid(stale.pid);
    }
    fs.rmSync(this.stateFile(name), { force: true });
    const decisionLogDir = this.store.pathOf(this.store.uriOf(`${safeSegment(request.experimentId, "experiment id")}/inference_data`));
    const script = path.resolve(__dirname, "..", "..", "container", "serve.js");
    const out = fs.openSync(this.logFile(name), "a");
    const token = randomBytes(16).toString("hex");
    const child = spawn(
      process.execPath,
      [
        script,
        "--port", "0",
        "--host", "127.0.0.1",
        "--model-dir", modelDir,
        "--endpoint-name", name,
        "--seed", String(request.seed),
        "--decision-log-dir", decisionLogDir,
        "--state-file", this.stateFile(name),
      ],
      { detached: true, stdio: ["ignore", out, out], env: { ...process.env, CBKIT_ADMIN_TOKEN: token } },
    );
    fs.closeSync(out);
    let exited: number | null = null;
    child.on("exit", (code) => (exited = code ?? -1));
    child.unref();
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (exited !== null) break;
      const st = this.readState(name);
      if (st && st.pid === child.pid) {
        const d = await this.describe(name);
        if (d) return d;
      }
      await sleep(20);
    }
    if (child.pid && exited === null) await this.stopPid(child.pid);
    const tail = fs.existsSync(this.logFile(name)) ? fs.readFileSync(this.logFile(name), "utf8").split("\n").slice(-15).join("\n") : "";
    throw new Error(`endpoint ${name} did not start (${exited !== null ? `exit code ${exited}` : "timeout"}); log ${this.logFile(name)}:\n${tail}`);
  }

  private async stopPid(pid: number): Promise<void> {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return;
    }
    for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(20);
    if (pidAlive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
      for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(20);
    }
  }

  async delete(endpointName: string): Promise<boolean> {
    const st = this.readState(endpointName);
    if (!st) return false;
    const alive = pidAlive(st.pid);
    if (alive) await this.stopPid(st.pid);
    fs.rmSync(this.stateFile(endpointName), { force: true });
    return alive;
  }

  async runtimeClientSettings(endpointName: string): Promise<RuntimeClientSettings> {
    const st = this.readState(endpointName);
    if (!st) throw new Error(`no local endpoint '${endpointName}' is running: deploy a model first`);
    return { region: "us-east-1", endpoint: st.url, credentials: { accessKeyId: "local", secretAccessKey: "local" }, unsigned: true };
  }
}
