/** Shared set-up of the endpoint tests: model folders and a real serve process on a free port. */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, learnerOptionsFromParameters, saveModel, type JoinedRecord } from "@cbkit/common";

export const SERVE_SCRIPT = path.join(path.dirname(require.resolve("@cbkit/common")), "container", "serve.js");
export const OBS = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9];

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cbkit-${label}-`));
}

/** A 7-action model trained on `rows` synthetic 9-feature records. */
export async function trainedModel(dir: string, modelId: string, rows = 200): Promise<string> {
  const learner = CbLearner.create({ numArms: 7, explorationPolicy: "egreedy", epsilon: 0.1, seed: 1 });
  const records: JoinedRecord[] = Array.from({ length: rows }, (_, i) => ({
    reward: i % 3 === 0 ? 1 : 0,
    event_id: `r-${i}`,
    action: (i % 7) + 1,
    action_prob: 1 / 7,
    model_id: "w",
    observation: OBS.map((v, j) => v * ((i + j) % 5)),
    sample_prob: (i % 100) / 100,
  }));
  await learner.train(records);
  await saveModel(learner, dir, { modelId, parentModelId: null });
  return dir;
}

/** A model with no training data, made from config-style parameters (the way the first model is made). */
export async function untrainedModel(dir: string, modelId: string, numFeatures: number): Promise<{ dir: string }> {
  const learner = CbLearner.create(learnerOptionsFromParameters({ num_arms: 7, exploration_policy: "egreedy", epsilon: 0.1, num_features: numFeatures }, 1));
  await saveModel(learner, dir, { modelId, parentModelId: null });
  return { dir };
}

export interface Serving {
  url: string;
  port: number;
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Starts `serve.js` as its own process and waits for its "serving model ... on <url>" line. */
export function startServe(modelDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<Serving> {
  const child = spawn(process.execPath, [SERVE_SCRIPT, "--port", "0", "--model-dir", modelDir, "--endpoint-name", "ep-test", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`serve did not start in 15 s: ${err}`));
    }, 15000);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/[\d.]+:(\d+))/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], port: Number(m[2]), child, stderr: () => err, stop });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with code ${code}: ${err}`));
    });
  });
}

/** Runs serve.js expecting it to refuse to start; resolves with its exit code and stderr. */
export function serveRefusal(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVE_SCRIPT, "--port", "0", ...args], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => resolve({ code, stderr: err }));
  });
}

export interface JsonReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

/** One HTTP request with fetch; the body parsed as JSON when it is one. */
export async function post(url: string, body: string, contentType = "application/json", headers: Record<string, string> = {}): Promise<JsonReply> {
  const r = await fetch(`${url}/invocations`, { method: "POST", body, headers: { "Content-Type": contentType, ...headers } });
  const text = await r.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* JSON lines or empty */
  }
  return { status: r.status, headers: Object.fromEntries(r.headers.entries()), text, json };
}

/** A raw TCP connection to the server, collecting everything it answers. */
export function rawConnection(port: number): { socket: net.Socket; received: () => string; closed: Promise<void> } {
  const socket = net.connect(port, "127.0.0.1");
  let data = "";
  socket.on("data", (d: Buffer) => (data += d.toString("latin1")));
  socket.on("error", () => undefined); // resets are expected in some tests; `closed` still settles
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  return { socket, received: () => data, closed };
}

/** The JSON body of a raw HTTP response. */
export function rawJson(response: string): Record<string, unknown> {
  const i = response.indexOf("\r\n\r\n");
  return JSON.parse(response.slice(i + 4)) as Record<string, unknown>;
}

export const batchOf = (n: number, line: (i: number) => unknown = () => ({ observation: OBS })): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify(line(i))).join("\n") + "\n";
