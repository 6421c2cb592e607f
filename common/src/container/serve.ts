/**
 * Serving entry point: the endpoint process. Hosting contract (`GET /ping`, `POST /invocations`)
 * plus the SageMaker Runtime InvokeEndpoint route (`POST /endpoints/<name>/invocations`), so the
 * AWS SDK's `SageMakerRuntimeClient` talks to it directly (endpoint override) in local mode.
 *
 * Request (application/json): `{"observation": [..], "event_id"?: "..."}` (`request_type`
 * "observation" by default, or "model_id"); the event id may also come in the
 * `X-Amzn-SageMaker-Inference-Id` header, else one is generated. A batch is
 * `application/jsonlines`: one such object per line, answered line by line (all lines are
 * validated first; one bad line rejects the batch, naming the line). Response: action (1-based),
 * action_prob, action_probs (the pmf), event_id, model_id, sample_prob (= the split hash of the
 * event id), timestamp (epoch seconds). The action is drawn from the pmf with u = hash(event id,
 * seed), so the same event id and model give the same action.
 *
 * Guarantees:
 * - every answered decision is in the decision log (`fs.writeSync` before the response is sent),
 *   so even SIGKILL loses none;
 * - blue/green: `POST /admin/deploy` (local admin token) loads the new model completely, then swaps
 *   one reference; a request reads that reference once, so it is served wholly by one model, and
 *   its response names it;
 * - bad requests (malformed JSON, wrong feature count, non-numbers, body > 6 MB, unknown route)
 *   get a 4xx JSON error naming the problem; the server stays up.
 *
 * Options (argv or env): --port/PORT (default 8080; 0 = any free port), --host/HOST (default
 * 127.0.0.1), --model-dir/MODEL_DIR (default /opt/ml/model), --endpoint-name/ENDPOINT_NAME,
 * --seed/SEED, --decision-log-dir/DECISION_LOG_DIR (none: no log, e.g. SageMaker data capture),
 * --state-file/STATE_FILE (written once listening: pid, port, model id), env CBKIT_ADMIN_TOKEN
 * (enables /admin/deploy).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import { splitValueOf } from "../data/split";
import { CbLearner, loadModel } from "../learner";
import { hash32, hashUnit, sampleIndex } from "../util/random";

export const MAX_BODY_BYTES = 6 * 1024 * 1024;

export interface ServeOptions {
  port: number;
  host: string;
  modelDir: string;
  endpointName: string;
  seed: number;
  decisionLogDir?: string;
  stateFile?: string;
  adminToken?: string;
}

interface LoadedModel {
  learner: CbLearner;
  modelId: string;
  numFeatures: number | null;
  loadedAt: string;
}

export interface EndpointState {
  pid: number;
  host: string;
  port: number;
  url: string;
  endpointName: string;
  modelId: string;
  modelDir: string;
  seed: number;
  decisionLogDir: string | null;
  startedAt: string;
  updatedAt: string;
  adminToken?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function loadServingModel(dir: string): Promise<LoadedModel> {
  const { learner, metadata } = await loadModel(dir);
  return { learner, modelId: metadata.modelId, numFeatures: learner.numFeatures, loadedAt: new Date().toISOString() };
}

/** Appends decisions as JSON lines, one file per hour folder (`YYYY/MM/DD/HH/`), synchronously. */
class DecisionLog {
  private fd: number | null = null;
  private hour = -1;
  private readonly tag = `${Date.now()}-${process.pid}`;

  constructor(private readonly dir: string) {}

  append(line: string, nowMs: number): void {
    const hour = Math.floor(nowMs / 3600000);
    if (hour !== this.hour || this.fd === null) this.rotate(hour);
    fs.writeSync(this.fd as number, line);
  }

  private rotate(hour: number): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    const d = new Date(hour * 3600000);
    const p2 = (n: number) => String(n).padStart(2, "0");
    const folder = path.join(this.dir, String(d.getUTCFullYear()), p2(d.getUTCMonth() + 1), p2(d.getUTCDate()), p2(d.getUTCHours()));
    fs.mkdirSync(folder, { recursive: true });
    this.fd = fs.openSync(path.join(folder, `decisions-${this.tag}.jsonl`), "a");
    this.hour = hour;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...extra });
  res.end(text);
}

function sendError(res: http.ServerResponse, err: HttpError): void {
  // The SDK maps `x-amzn-ErrorType` to the thrown error's name and `message` to its message.
  sendJson(res, err.status, { error: err.code, message: err.message }, { "x-amzn-ErrorType": err.code });
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      reject(new HttpError(413, "PayloadTooLarge", `request body of ${declared} bytes exceeds the 6 MB limit`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(new HttpError(413, "PayloadTooLarge", `request body exceeds the 6 MB limit`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

function checkObservation(obs: unknown, numFeatures: number | null): number[] {
  if (obs === undefined) throw new HttpError(400, "ValidationError", "field 'observation' is missing: send {\"observation\": [numbers]}");
  if (!Array.isArray(obs)) throw new HttpError(400, "ValidationError", `field 'observation' must be an array of numbers, got ${obs === null ? "null" : typeof obs}`);
  if (obs.length === 0) throw new HttpError(400, "ValidationError", "field 'observation' is empty");
  if (numFeatures !== null && obs.length !== numFeatures) {
    throw new HttpError(400, "ValidationError", `field 'observation' has ${obs.length} features, the model expects ${numFeatures}`);
  }
  for (let i = 0; i < obs.length; i++) {
    const v = obs[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new HttpError(400, "ValidationError", `observation[${i}] must be a finite number, got ${JSON.stringify(v) ?? String(v)}`);
    }
  }
  return obs as number[];
}

export interface RunningServer {
  server: http.Server;
  state: () => EndpointState;
  /** Loads a model fully, then swaps it in. */
  swap(modelDir: string): Promise<string>;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  let current = await loadServingModel(options.modelDir);
  let currentDir = options.modelDir;
  const actionSeed = hash32(`action/${options.seed}`, 0x5eed);
  const log = options.decisionLogDir ? new DecisionLog(options.decisionLogDir) : null;
  const startedAt = new Date().toISOString();
  let updatedAt = startedAt;
  let served = 0;
  let swapping: Promise<string> = Promise.resolve("");
  const invokePath = `/endpoints/${options.endpointName}/invocations`;

  const swap = (modelDir: string): Promise<string> => {
    const next = swapping.then(async () => {
      const loaded = await loadServingModel(modelDir); // fully loaded before anyone sees it
      current = loaded;
      currentDir = modelDir;
      updatedAt = new Date().toISOString();
      writeState();
      return loaded.modelId;
    });
    swapping = next.catch(() => "");
    return next;
  };

  const state = (): EndpointState => {
    const addr = server.address();
    const port = typeof addr === "object" && addr ? addr.port : options.port;
    return {
      pid: process.pid,
      host: options.host,
      port,
      url: `http://${options.host}:${port}`,
      endpointName: options.endpointName,
      modelId: current.modelId,
      modelDir: currentDir,
      seed: options.seed,
      decisionLogDir: options.decisionLogDir ?? null,
      startedAt,
      updatedAt,
      ...(options.adminToken ? { adminToken: options.adminToken } : {}),
    };
  };

  const writeState = (): void => {
    if (!options.stateFile) return;
    const tmp = `${options.stateFile}.tmp-${process.pid}`;
    fs.mkdirSync(path.dirname(options.stateFile), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(state(), null, 2));
    fs.renameSync(tmp, options.stateFile);
  };

  /** One decision: validated, drawn, not yet logged. `line` names the batch line in errors. */
  const decide = (msg: unknown, model: LoadedModel, headerEventId: unknown, now: number, line: string) => {
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      throw new HttpError(400, "ValidationError", `${line}must be a JSON object like {"observation": [numbers]}`);
    }
    const m = msg as Record<string, unknown>;
    const type = m.request_type ?? "observation";
    if (type !== "observation") throw new HttpError(400, "ValidationError", `${line}request_type '${String(type)}' is not supported: use "observation" or "model_id"`);
    let obs: number[];
    try {
      obs = checkObservation(m.observation, model.numFeatures);
    } catch (err) {
      throw new HttpError(400, "ValidationError", line + (err as Error).message);
    }
    let eventId: string;
    const given = m.event_id ?? headerEventId;
    if (given === undefined || given === null || given === "") eventId = randomUUID();
    else if ((typeof given === "string" || typeof given === "number") && String(given).length <= 256) eventId = String(given);
    else throw new HttpError(400, "ValidationError", `${line}field 'event_id' must be a string of at most 256 characters`);
    let pmf: Float64Array;
    try {
      pmf = model.learner.predictPmf(obs);
    } catch (err) {
      throw new HttpError(400, "ValidationError", line + (err as Error).message);
    }
    const a = sampleIndex(pmf, hashUnit(eventId, actionSeed));
    return {
      event_id: eventId,
      action: a + 1,
      action_prob: pmf[a],
      action_probs: Array.from(pmf),
      model_id: model.modelId,
      observation: obs,
      sample_prob: splitValueOf(eventId),
      timestamp: now / 1000,
      type: "actions" as const,
    };
  };

  const answer = (d: ReturnType<typeof decide>) => ({
    action: d.action,
    action_prob: d.action_prob,
    action_probs: d.action_probs,
    event_id: d.event_id,
    model_id: d.model_id,
    sample_prob: d.sample_prob,
    timestamp: d.timestamp,
  });

  const parse = (text: string, what: string): unknown => {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, "ValidationError", `${what} is not valid JSON: ${(err as Error).message}`);
    }
  };

  const invoke = (body: Buffer, req: http.IncomingMessage, res: http.ServerResponse): void => {
    const ct = String(req.headers["content-type"] ?? "application/json").split(";")[0].trim().toLowerCase();
    if (ct !== "application/json" && ct !== "application/jsonlines") {
      throw new HttpError(415, "UnsupportedMediaType", `content type '${ct}' is not supported: send application/json (or application/jsonlines for a batch)`);
    }
    if (body.length === 0) throw new HttpError(400, "ValidationError", "request body is empty: send {\"observation\": [numbers]}");
    const model = current; // one read: the whole request is served by this model
    const now = Date.now();
    if (ct === "application/jsonlines") {
      // A batch: one request object per line, all validated before any is logged or answered.
      const lines = body.toString("utf8").split("\n").filter((l) => l.trim() !== "");
      const decisions = lines.map((l, i) => decide(parse(l, `line ${i + 1}`), model, undefined, now, `line ${i + 1}: `));
      if (log) log.append(decisions.map((d) => JSON.stringify(d)).join("\n") + "\n", now);
      served += decisions.length;
      const text = decisions.map((d) => JSON.stringify(answer(d))).join("\n") + "\n";
      res.writeHead(200, { "Content-Type": "application/jsonlines", "Content-Length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const msg = parse(body.toString("utf8"), "request body");
    if (msg !== null && typeof msg === "object" && (msg as Record<string, unknown>).request_type === "model_id") {
      sendJson(res, 200, { model_id: model.modelId });
      return;
    }
    const d = decide(msg, model, req.headers["x-amzn-sagemaker-inference-id"], now, "");
    if (log) log.append(JSON.stringify(d) + "\n", now);
    served++;
    sendJson(res, 200, answer(d));
  };

  const admin = async (body: Buffer, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (!options.adminToken || req.headers["x-cbkit-admin-token"] !== options.adminToken) {
      throw new HttpError(403, "Forbidden", "admin routes need the endpoint's admin token");
    }
    let msg: { model_dir?: unknown };
    try {
      msg = JSON.parse(body.toString("utf8")) as { model_dir?: unknown };
    } catch (err) {
      throw new HttpError(400, "ValidationError", `request body is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof msg.model_dir !== "string") throw new HttpError(400, "ValidationError", "field 'model_dir' must be a folder path");
    try {
      const modelId = await swap(msg.model_dir);
      sendJson(res, 200, { model_id: modelId });
    } catch (err) {
      throw new HttpError(400, "ModelLoadError", `cannot load the model in ${msg.model_dir}: ${(err as Error).message}`);
    }
  };

  const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    const route = url.split("?")[0];
    const fail = (err: unknown) => {
      if (res.headersSent) return;
      if (err instanceof HttpError) sendError(res, err);
      else sendError(res, new HttpError(500, "InternalFailure", (err as Error)?.message ?? String(err)));
    };
    if (req.method === "GET" && route === "/ping") {
      sendJson(res, 200, { status: "Healthy", model_id: current.modelId });
      req.resume();
      return;
    }
    if (req.method === "GET" && route === "/health") {
      const cpu = process.cpuUsage();
      sendJson(res, 200, {
        status: "Healthy",
        model_id: current.modelId,
        served,
        started_at: startedAt,
        updated_at: updatedAt,
        pid: process.pid,
        cpu_ms: (cpu.user + cpu.system) / 1000,
      });
      req.resume();
      return;
    }
    const isInvoke = route === "/invocations" || route === invokePath;
    const isAdmin = route === "/admin/deploy";
    if (!isInvoke && !isAdmin) {
      req.resume();
      const hint = route.startsWith("/endpoints/") ? ` (this endpoint is '${options.endpointName}')` : "";
      fail(new HttpError(404, "NotFound", `unknown route ${req.method} ${route}${hint}: use POST /invocations or POST ${invokePath}`));
      return;
    }
    if (req.method !== "POST") {
      req.resume();
      fail(new HttpError(405, "MethodNotAllowed", `${route} accepts POST only`));
      return;
    }
    readBody(req).then((body) => (isInvoke ? invoke(body, req, res) : admin(body, req, res))).catch(fail);
  });
  server.keepAliveTimeout = 65000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  writeState();

  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      // Finish requests in flight (up to 2 s), then cut what is left.
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
    log?.close();
  };
  return { server, state, swap, close };
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function serveOptionsFromArgs(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const port = Number(arg(argv, "port") ?? env.PORT ?? env.SAGEMAKER_BIND_TO_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer in 0..65535, got ${arg(argv, "port") ?? env.PORT}`);
  const seed = Number(arg(argv, "seed") ?? env.SEED ?? 1);
  if (!Number.isFinite(seed)) throw new Error(`--seed must be a number`);
  return {
    port,
    host: arg(argv, "host") ?? env.HOST ?? "127.0.0.1",
    modelDir: arg(argv, "model-dir") ?? env.MODEL_DIR ?? "/opt/ml/model",
    endpointName: arg(argv, "endpoint-name") ?? env.ENDPOINT_NAME ?? "local",
    seed,
    decisionLogDir: arg(argv, "decision-log-dir") ?? env.DECISION_LOG_DIR,
    stateFile: arg(argv, "state-file") ?? env.STATE_FILE,
    adminToken: env.CBKIT_ADMIN_TOKEN,
  };
}

if (require.main === module) {
  const options = serveOptionsFromArgs();
  startServer(options).then(
    (running) => {
      const st = running.state();
      process.stdout.write(`serving model ${st.modelId} on ${st.url} (pid ${process.pid})\n`);
      const stop = () => {
        running.close().finally(() => {
          // Remove the state file only if it is still ours (a newer endpoint may have replaced it).
          try {
            if (options.stateFile && (JSON.parse(fs.readFileSync(options.stateFile, "utf8")) as EndpointState).pid === process.pid) {
              fs.unlinkSync(options.stateFile);
            }
          } catch {
            /* already gone */
          }
          process.exit(0);
        });
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    },
    (err: unknown) => {
      process.stderr.write(`cannot start the endpoint: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
