/**
 * Serving entry point: the endpoint process. Hosting contract (`GET /ping`, `POST /invocations`)
 * plus the SageMaker Runtime InvokeEndpoint route (`POST /endpoints/<name>/invocations`), so the
 * AWS SDK's `SageMakerRuntimeClient` talks to it directly (endpoint override) in local mode.
 *
 * Request (application/json): `{"observation": [..], "event_id"?: "..."}` (`request_type`
 * "observation" by default, or "model_id"). A batch is `application/jsonlines`: one such object
 * per line, answered line by line (all lines are validated first; one bad line rejects the batch,
 * naming the line). Response: action (1-based), action_prob, action_probs (the pmf), event_id,
 * model_id, sample_prob (= the split hash of the event id), timestamp (epoch seconds). The action
 * is drawn from the pmf with u = hash(event id, seed), so the same event id and model give the
 * same action.
 *
 * Event ids: `event_id` in the body (SageMaker forwards the body as is). For a single request the
 * `X-Amzn-SageMaker-Inference-Id` header is a fallback; when both are present and differ, the
 * body wins. A batch line without `event_id` gets a generated one (the header names one decision,
 * not a batch). Either way the id must be 1–64 printable ASCII characters, not starting with a
 * space (SageMaker's InferenceId rule, so data capture can carry it); none given: a UUID.
 *
 * Guarantees:
 * - every answered decision is in the decision log (written whole before the response is sent),
 *   so even SIGKILL loses none; a batch the log can not take whole (a full disk) is cut back out of
 *   the file and answered 503 with the path, the free space and what to free: nothing answered
 *   that is not logged, no half line left (decision-log.ts). A torn last line that a crash left is
 *   moved aside when the next endpoint starts;
 * - blue/green: `POST /admin/deploy` (local admin token) loads the new model completely, then swaps
 *   one reference; a request reads that reference once, so it is served wholly by one model, and
 *   its response names it;
 * - bounded work per request: a body over 6 MB gets a 413 as soon as that is known (Content-Length
 *   or the bytes so far), nothing more is kept, and after 6 MB more of discarded bytes the
 *   connection is cut; a batch of more than `max decisions` lines gets a 413 after counting its
 *   newlines, before any line is parsed; a client that has not sent its whole request (headers and
 *   body) within the request time-out gets a 408 while others are served meanwhile;
 * - every refusal is a 4xx JSON body `{error, message, ...}` whose message names the field or the
 *   limit and the fix (limits also as fields: `limit`, `count`, `config_key`, ...); the server
 *   stays up. A wrong feature count names the count the model expects.
 *
 * Options (argv wins over env): --port/PORT (default 8080; 0 = any free port), --host/HOST
 * (default 127.0.0.1), --model-dir/MODEL_DIR (default /opt/ml/model),
 * --endpoint-name/ENDPOINT_NAME, --seed/SEED, --decision-log-dir/DECISION_LOG_DIR (none: no log,
 * e.g. SageMaker data capture), --state-file/STATE_FILE (written once listening: pid, port, model
 * id), --max-decisions-per-request/MAX_DECISIONS_PER_REQUEST (config
 * endpoint.max_decisions_per_request, default 10000, an integer in [1, 1000000]),
 * --request-timeout-seconds/REQUEST_TIMEOUT_SECONDS (config endpoint.request_timeout_seconds,
 * default 30, in [0.01, 3600]; a limit outside its range stops the start naming it), env
 * CBKIT_ADMIN_TOKEN (enables the admin routes), CBKIT_IDENTITY_TOKEN (what GET /admin/identity
 * answers), --model-root/MODEL_ROOT (the only folder /admin/deploy loads models from).
 *
 * Admin routes (header x-cbkit-admin-token, local mode): `GET /admin/identity` answers the
 * endpoint name, pid and identity token, so local hosting signals a process only once it proved to
 * be the one it started; `POST /admin/deploy` hot-swaps a model from inside the model root only
 * (its real path, links resolved, is checked and then loaded), else 403.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import type { Duplex } from "node:stream";
import { randomUUID } from "node:crypto";
import { numberProblem } from "../data/numbers";
import { splitValueOf } from "../data/split";
import { checkEventId } from "../data/records";
import { CbLearner, loadModel } from "../learner";
import { hash32, hashUnit, sampleIndex } from "../util/random";
import { SERVING_LIMITS } from "./contract";
import { DecisionLog, DecisionLogError, repairTornLogs } from "./decision-log";
import { asDiskFull, isOutOfSpace } from "../util/disk";
import { writePrivateFile } from "../util/private-file";

/** InvokeEndpoint's payload limit, kept in local mode too. */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;
/**
 * After refusing an oversize body, up to this many bytes in all are read and thrown away (never
 * kept), so a client still sending can read the 413; a client that goes on is cut off.
 */
export const MAX_READ_BYTES = 2 * MAX_BODY_BYTES;

export interface ServeOptions {
  port: number;
  host: string;
  modelDir: string;
  endpointName: string;
  seed: number;
  decisionLogDir?: string;
  stateFile?: string;
  adminToken?: string;
  /** Answered by GET /admin/identity: proves this process is the start its manager recorded. */
  identityToken?: string;
  /** The folder /admin/deploy may load models from (the experiment's training jobs); none: no hot swap. */
  modelRoot?: string;
  /** Most decisions (JSON lines) one request may carry; default SERVING_LIMITS' 10000. */
  maxDecisionsPerRequest?: number;
  /** Seconds a client has to send its whole request (headers and body); default 30. */
  requestTimeoutSeconds?: number;
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
}

/** A refusal: status, error code (also the SDK's error name) and a message naming the field and the fix. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra fields of the JSON body (the limit, the count, the config key). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const validation = (message: string) => new HttpError(400, "ValidationError", message);

async function loadServingModel(dir: string): Promise<LoadedModel> {
  const { learner, metadata } = await loadModel(dir);
  if (learner.numFeatures === null) {
    // Models saved before num_features was fixed at creation: nothing to check the count against.
    process.stderr.write(`warning: model ${metadata.modelId} does not fix its feature count; any count is accepted (train it again to fix it from num_features)\n`);
  }
  return { learner, modelId: metadata.modelId, numFeatures: learner.numFeatures, loadedAt: new Date().toISOString() };
}

function errorBody(err: HttpError): Record<string, unknown> {
  return { error: err.code, message: err.message, ...err.details };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...extra });
  res.end(text);
}

function sendError(res: http.ServerResponse, err: HttpError): void {
  // The SDK maps `x-amzn-ErrorType` to the thrown error's name and `message` to its message.
  sendJson(res, err.status, errorBody(err), { "x-amzn-ErrorType": err.code });
}

/** An error written straight to a socket (no request object: time-outs and malformed HTTP). */
function rawErrorResponse(err: HttpError): string {
  const text = JSON.stringify(errorBody(err));
  return (
    `HTTP/1.1 ${err.status} ${http.STATUS_CODES[err.status] ?? ""}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\nx-amzn-ErrorType: ${err.code}\r\nConnection: close\r\n\r\n${text}`
  );
}

function bodyTooLarge(size: string): HttpError {
  return new HttpError(
    413,
    "PayloadTooLarge",
    `request body ${size} exceeds the 6 MB limit (${MAX_BODY_BYTES} bytes, InvokeEndpoint's limit): send smaller requests (split a JSON-lines batch into several)`,
    { limit_bytes: MAX_BODY_BYTES },
  );
}

/**
 * The body, at most MAX_BODY_BYTES. Oversize (by Content-Length, or once the bytes read pass the
 * limit) rejects at once and keeps nothing; the rest is read and dropped up to MAX_READ_BYTES in
 * all, then the connection is cut.
 */
function readBody(req: http.IncomingMessage, done: (err: unknown, body?: Buffer) => void): void {
  // A callback, not a promise: one fewer allocation and microtask on every request.
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  const refuse = (err: HttpError) => {
    refused = true;
    chunks.length = 0;
    done(err);
  };
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) refuse(bodyTooLarge(`of ${declared} bytes (Content-Length)`));
  req.on("data", (c: Buffer) => {
    size += c.length;
    if (refused) {
      if (size > MAX_READ_BYTES) req.socket.destroy();
    } else if (size > MAX_BODY_BYTES) {
      refuse(bodyTooLarge(`of more than ${MAX_BODY_BYTES} bytes`));
    } else {
      chunks.push(c);
    }
  });
  req.on("end", () => {
    if (!refused) done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
  req.on("error", (err) => {
    if (!refused) done(err);
  });
}

/** JSON whitespace other than the newline: a line of only these is blank. */
const isJsonSpace = (byte: number) => byte === 0x20 || byte === 0x09 || byte === 0x0d;

/** Non-blank lines of a JSON-lines body, counted on the bytes (nothing decoded or parsed). */
export function countJsonLines(body: Buffer): number {
  let count = 0;
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    for (let i = start; i < end; i++) {
      if (!isJsonSpace(body[i])) {
        count++;
        break;
      }
    }
    start = end + 1;
  }
  return count;
}

/** The non-blank lines of a JSON-lines body with their 1-based line numbers. */
function jsonLines(body: Buffer): { text: string; lineNo: number }[] {
  const out: { text: string; lineNo: number }[] = [];
  body.toString("utf8").split("\n").forEach((text, i) => {
    for (let c = 0; c < text.length; c++) {
      if (!isJsonSpace(text.charCodeAt(c))) {
        out.push({ text, lineNo: i + 1 });
        return;
      }
    }
  });
  return out;
}

function checkObservation(obs: unknown, numFeatures: number | null): number[] {
  const expected = numFeatures === null ? "numbers" : `${numFeatures} numbers`;
  if (obs === undefined) throw validation(`field 'observation' is missing: send {"observation": [${expected}]}`);
  if (!Array.isArray(obs)) throw validation(`field 'observation' must be an array of ${expected}, got ${obs === null ? "null" : typeof obs}`);
  if (obs.length === 0) throw validation(`field 'observation' is empty: send an array of ${expected}`);
  if (numFeatures !== null && obs.length !== numFeatures) {
    throw validation(
      `field 'observation' has ${obs.length} features, the model expects ${numFeatures} (algor.algorithms_parameters.num_features in config.yaml): send ${numFeatures} numbers`,
    );
  }
  for (let i = 0; i < obs.length; i++) {
    // The numeric contract (data/numbers.ts): a decision logged with 1e308 would poison every
    // later evaluation that reads it, so it is refused here, before it is logged.
    const problem = numberProblem(obs[i]);
    if (problem !== null) throw validation(`observation[${i}] ${problem}`);
  }
  return obs as number[];
}

/** The event id of one request: the body's `event_id`, else the header's, else a new UUID; checked. */
function eventIdOf(bodyId: unknown, headerId: string | undefined, line: string): string {
  const check = (id: unknown, field: string) => {
    try {
      return checkEventId(id, field);
    } catch (err) {
      throw validation(`${line}${(err as Error).message} (or leave it out and the endpoint makes one)`);
    }
  };
  if (bodyId !== undefined && bodyId !== null) return check(bodyId, "event_id");
  if (headerId !== undefined && headerId !== "") return check(headerId, "X-Amzn-SageMaker-Inference-Id");
  return randomUUID();
}

/** A request_type for an error message: a string as is (cut), anything else by its type (never rendered: it may nest 100,000 deep). */
function describeRequestType(type: unknown): string {
  if (typeof type === "string") return `'${type.length > 40 ? `${type.slice(0, 40)}...` : type}'`;
  return `of type ${type === null ? "null" : Array.isArray(type) ? "array" : typeof type} (it must be a string)`;
}

/**
 * The real path (links resolved) of a model folder the endpoint may load, or why it may not: it
 * must lie inside the model root once links are resolved (a link inside the root to a folder
 * outside it counts as outside). The model is then loaded from this real path, never from the path
 * as given: a link swapped between the check and the load would lead the load elsewhere.
 */
export function modelInsideRoot(modelDir: string, modelRoot: string | undefined): { realDir: string } | { problem: string } {
  const rule = "the endpoint loads models only from its own experiment's model folder";
  if (!modelRoot) return { problem: `this endpoint has no model root (--model-root): hot swap is off; ${rule}` };
  let real: string;
  let root: string;
  try {
    root = fs.realpathSync(modelRoot);
    real = fs.realpathSync(modelDir);
  } catch (err) {
    return { problem: `cannot resolve ${modelDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ${rule} (${modelRoot})` };
  }
  if (real === root || real.startsWith(root + path.sep)) return { realDir: real };
  return { problem: `model_dir ${modelDir}${real !== path.resolve(modelDir) ? ` (really ${real})` : ""} is outside ${root}: ${rule}` };
}

type ServingLimit = (typeof SERVING_LIMITS)[keyof typeof SERVING_LIMITS];

/** A serving limit within its range; the error names where it came from (flag or env var), the value and the fix. */
function checkedLimit(value: number, shown: string, source: string, limit: ServingLimit): number {
  if (!(value >= limit.min && value <= limit.max) || (limit.integer && !Number.isInteger(value))) {
    throw new Error(
      `${source} must be ${limit.integer ? "an integer" : "a number"} in [${limit.min}, ${limit.max}], got '${shown}': ` +
        `give a value in that range (${limit.configKey} in config.yaml sets it; default ${limit.default})`,
    );
  }
  return value;
}

export interface RunningServer {
  server: http.Server;
  state: () => EndpointState;
  /** Loads a model fully, then swaps it in. */
  swap(modelDir: string): Promise<string>;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const decisionsLimit = SERVING_LIMITS.maxDecisionsPerRequest;
  const timeoutLimit = SERVING_LIMITS.requestTimeoutSeconds;
  const fromOptions = (value: number | undefined, limit: ServingLimit) =>
    value === undefined ? limit.default : checkedLimit(value, String(value), `--${limit.flag}`, limit);
  const maxDecisions = fromOptions(options.maxDecisionsPerRequest, decisionsLimit);
  const timeoutSeconds = fromOptions(options.requestTimeoutSeconds, timeoutLimit);
  let startDir = options.modelDir;
  if (options.modelRoot) {
    const inside = modelInsideRoot(options.modelDir, options.modelRoot);
    if ("problem" in inside) throw new Error(inside.problem);
    startDir = inside.realDir;
  }
  let current = await loadServingModel(startDir);
  let currentDir = startDir;
  const actionSeed = hash32(`action/${options.seed}`, 0x5eed);
  if (options.decisionLogDir) for (const warning of repairTornLogs(options.decisionLogDir)) process.stderr.write(`warning: ${warning}\n`);
  const log = options.decisionLogDir ? new DecisionLog(options.decisionLogDir) : null;
  /** A log that can not take a write is a 503 for every request of it: nothing of them is answered. */
  const logRefusal = (err: unknown): unknown =>
    err instanceof DecisionLogError
      ? new HttpError(503, "ServiceUnavailable", `${err.message} (nothing of this request was logged or answered: send it again later)`, { decision_log: err.file })
      : err;
  /**
   * Group commit: the decisions of every request handled in one turn of the event loop are
   * written to the log in one write (at setImmediate, after the turn's reads), and only then are
   * those requests answered, so every answered decision is logged first (one write per turn, not
   * per request, is what makes the log cheap under load).
   */
  let group: { text: string; answer: () => void; fail: (err: unknown) => void }[] = [];
  const commitGroup = (): void => {
    const pending = group;
    group = [];
    try {
      (log as DecisionLog).append(pending.length === 1 ? pending[0].text : pending.map((p) => p.text).join(""), Date.now());
    } catch (err) {
      const refusal = logRefusal(err);
      for (const p of pending) p.fail(refusal);
      return;
    }
    for (const p of pending) p.answer();
  };
  /** Logs `text` (whole lines), then calls `answer`; `fail` gets the refusal when the log can not take it. */
  const logThenAnswer = (text: string, answer: () => void, fail: (err: unknown) => void): void => {
    if (!log) return answer();
    if (group.length === 0) setImmediate(commitGroup);
    group.push({ text, answer, fail });
  };
  const startedAt = new Date().toISOString();
  let updatedAt = startedAt;
  let served = 0;
  let swapping: Promise<string> = Promise.resolve("");
  const invokePath = `/endpoints/${options.endpointName}/invocations`;
  /** Sockets whose current request was answered before it was fully received (e.g. a 413). */
  const answeredEarly = new WeakSet<object>();

  const swap = (modelDir: string): Promise<string> => {
    const next = swapping.then(async () => {
      const loaded = await loadServingModel(modelDir); // fully loaded before anyone sees it
      const before = { current, currentDir, updatedAt };
      current = loaded;
      currentDir = modelDir;
      updatedAt = new Date().toISOString();
      try {
        writeState();
      } catch (err) {
        // The state file names the model served: a swap it can not record (a full disk) is undone.
        ({ current, currentDir, updatedAt } = before);
        throw asDiskFull(err, options.stateFile ?? "", "the endpoint's state file");
      }
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
    };
  };

  const writeState = (): void => {
    if (!options.stateFile) return;
    fs.mkdirSync(path.dirname(options.stateFile), { recursive: true });
    writePrivateFile(options.stateFile, JSON.stringify(state(), null, 2));
  };

  /** One decision: validated, drawn, not yet logged. `line` names the batch line in errors. */
  const decide = (msg: unknown, model: LoadedModel, headerEventId: string | undefined, now: number, line: string) => {
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      throw validation(`${line}must be a JSON object like {"observation": [numbers]}`);
    }
    const m = msg as Record<string, unknown>;
    const type = m.request_type ?? "observation";
    if (type !== "observation") throw validation(`${line}request_type ${describeRequestType(type)} is not supported: use "observation" or "model_id"`);
    let obs: number[];
    try {
      obs = checkObservation(m.observation, model.numFeatures);
    } catch (err) {
      throw validation(line + (err as Error).message);
    }
    const eventId = eventIdOf(m.event_id, headerEventId, line);
    let pmf: Float64Array;
    try {
      pmf = model.learner.predictPmf(obs);
    } catch (err) {
      throw validation(line + (err as Error).message);
    }
    const a = sampleIndex(pmf, hashUnit(eventId, actionSeed));
    return {
      event_id: eventId,
      action: a + 1,
      action_prob: pmf[a],
      action_probs: pmf,
      model_id: model.modelId,
      observation: obs,
      sample_prob: splitValueOf(eventId),
      timestamp: now / 1000,
    };
  };

  /**
   * A decision as its decision-log line and its answer, each exactly the JSON.stringify of the
   * record (log: event_id, action, action_prob, action_probs, model_id, observation, sample_prob,
   * timestamp, type "actions"; answer: the same without observation and type, action first),
   * built from the parts so that the pmf is formatted once. Every number here is finite
   * (observation: checkObservation), where a number's JSON is its String.
   */
  const decisionTexts = (d: ReturnType<typeof decide>): { log: string; answer: string } => {
    const id = JSON.stringify(d.event_id);
    const modelId = JSON.stringify(d.model_id);
    const probs = `[${d.action_probs.join(",")}]`;
    const head = `"action":${d.action},"action_prob":${d.action_prob},"action_probs":${probs}`;
    const tail = `"sample_prob":${d.sample_prob},"timestamp":${d.timestamp}`;
    return {
      log: `{"event_id":${id},${head},"model_id":${modelId},"observation":[${d.observation.join(",")}],${tail},"type":"actions"}`,
      answer: `{${head},"event_id":${id},"model_id":${modelId},${tail}}`,
    };
  };

  const parse = (text: string, what: string): unknown => {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw validation(`${what} is not valid JSON: ${(err as Error).message}`);
    }
  };

  const tooManyDecisions = (count: number) =>
    new HttpError(
      413,
      "TooManyDecisions",
      `the batch has ${count} decisions; at most ${maxDecisions} are allowed per request (${decisionsLimit.configKey} in config.yaml, ` +
        `env ${decisionsLimit.env}): split it into requests of at most ${maxDecisions} lines`,
      { limit: maxDecisions, count, config_key: decisionsLimit.configKey },
    );

  const invoke = (body: Buffer, req: http.IncomingMessage, res: http.ServerResponse, fail: (err: unknown) => void): void => {
    const ct = String(req.headers["content-type"] ?? "application/json").split(";")[0].trim().toLowerCase();
    if (ct !== "application/json" && ct !== "application/jsonlines") {
      throw new HttpError(415, "UnsupportedMediaType", `content type '${ct}' is not supported: send application/json (or application/jsonlines for a batch)`);
    }
    if (body.length === 0) throw validation(`request body is empty: send {"observation": [numbers]}`);
    const model = current; // one read: the whole request is served by this model
    const now = Date.now();
    if (ct === "application/jsonlines") {
      // A batch: counted on the bytes first, then one request object per line, all validated
      // before any is logged or answered.
      const count = countJsonLines(body);
      if (count > maxDecisions) throw tooManyDecisions(count);
      if (count === 0) throw validation(`the batch has no lines: send one {"observation": [numbers]} object per line`);
      const decisions = jsonLines(body).map(({ text, lineNo }) => decide(parse(text, `line ${lineNo}`), model, undefined, now, `line ${lineNo}: `));
      const texts = decisions.map(decisionTexts);
      logThenAnswer(texts.map((t) => t.log).join("\n") + "\n", () => {
        served += decisions.length;
        const text = texts.map((t) => t.answer).join("\n") + "\n";
        res.writeHead(200, { "Content-Type": "application/jsonlines", "Content-Length": Buffer.byteLength(text) });
        res.end(text);
      }, fail);
      return;
    }
    const msg = parse(body.toString("utf8"), "request body");
    if (msg !== null && typeof msg === "object" && (msg as Record<string, unknown>).request_type === "model_id") {
      sendJson(res, 200, { model_id: model.modelId });
      return;
    }
    const header = req.headers["x-amzn-sagemaker-inference-id"];
    const d = decide(msg, model, typeof header === "string" ? header : undefined, now, "");
    const texts = decisionTexts(d);
    logThenAnswer(texts.log + "\n", () => {
      served++;
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(texts.answer) });
      res.end(texts.answer);
    }, fail);
  };

  const checkAdmin = (req: http.IncomingMessage): void => {
    if (!options.adminToken || req.headers["x-cbkit-admin-token"] !== options.adminToken) {
      throw new HttpError(403, "Forbidden", "admin routes need the endpoint's admin token (header x-cbkit-admin-token)");
    }
  };

  const admin = async (body: Buffer, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    checkAdmin(req);
    const msg = parse(body.toString("utf8"), "request body") as { model_dir?: unknown } | null;
    if (typeof msg?.model_dir !== "string") throw validation(`field 'model_dir' must be a folder path: send {"model_dir": "/path/to/model"}`);
    const inside = modelInsideRoot(msg.model_dir, options.modelRoot);
    if ("problem" in inside) throw new HttpError(403, "ModelOutsideExperiment", inside.problem, { model_root: options.modelRoot ?? null });
    try {
      const modelId = await swap(inside.realDir);
      sendJson(res, 200, { model_id: modelId });
    } catch (err) {
      if (isOutOfSpace(err)) throw new HttpError(503, "ServiceUnavailable", `the model was not swapped in: ${(err as Error).message}`);
      throw new HttpError(400, "ModelLoadError", `cannot load the model in ${msg.model_dir}: ${(err as Error).message}`);
    }
  };

  // Node enforces the time-out (headers and body both within it) and reports it as a clientError.
  const timeoutMs = Math.max(1, Math.round(timeoutSeconds * 1000));
  const server = http.createServer(
    { requestTimeout: timeoutMs, headersTimeout: timeoutMs, connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(timeoutMs / 4))) },
    (req, res) => {
      const url = req.url ?? "/";
      const query = url.indexOf("?");
      const route = query < 0 ? url : url.slice(0, query);
      // Only a refusal (or a GET route) can answer before the request is in — an invocation answers
      // once its whole body was read — so only then is the socket marked, for clientError to close.
      const markIfEarly = () => {
        if (req.complete) return;
        answeredEarly.add(req.socket);
        req.once("end", () => answeredEarly.delete(req.socket));
      };
      const fail = (err: unknown) => {
        if (res.headersSent) return;
        markIfEarly();
        if (err instanceof HttpError) sendError(res, err);
        else sendError(res, new HttpError(500, "InternalFailure", (err as Error)?.message ?? String(err)));
      };
      if (req.method === "GET" && route === "/ping") {
        markIfEarly();
        sendJson(res, 200, { status: "Healthy", model_id: current.modelId });
        req.resume();
        return;
      }
      if (req.method === "GET" && route === "/health") {
        markIfEarly();
        const cpu = process.cpuUsage();
        sendJson(res, 200, {
          status: "Healthy",
          model_id: current.modelId,
          num_features: current.numFeatures,
          served,
          started_at: startedAt,
          updated_at: updatedAt,
          pid: process.pid,
          cpu_ms: (cpu.user + cpu.system) / 1000,
          rss_bytes: process.memoryUsage.rss(),
          max_decisions_per_request: maxDecisions,
          request_timeout_seconds: timeoutSeconds,
        });
        req.resume();
        return;
      }
      if (req.method === "GET" && route === "/admin/identity") {
        req.resume();
        try {
          checkAdmin(req);
          sendJson(res, 200, { endpoint_name: options.endpointName, pid: process.pid, identity_token: options.identityToken ?? null, started_at: startedAt, model_id: current.modelId });
        } catch (err) {
          fail(err);
        }
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
      readBody(req, (err, body) => {
        if (err) return fail(err);
        try {
          if (isInvoke) invoke(body as Buffer, req, res, fail);
          else admin(body as Buffer, req, res).catch(fail);
        } catch (e) {
          fail(e);
        }
      });
    },
  );
  server.keepAliveTimeout = 65000;
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Already answered (e.g. a 413 while the body still arrives), reset or gone: just close.
    if (answeredEarly.has(socket) || !socket.writable || err.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    let refusal: HttpError;
    if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      refusal = new HttpError(
        408,
        "RequestTimeout",
        `the request was not received completely within ${timeoutSeconds} s (${timeoutLimit.configKey} in config.yaml, env ${timeoutLimit.env}): ` +
          `send the whole request within the limit, or raise it`,
        { limit_seconds: timeoutSeconds, config_key: timeoutLimit.configKey },
      );
    } else if (err.code === "HPE_HEADER_OVERFLOW") {
      refusal = new HttpError(431, "RequestHeaderFieldsTooLarge", `the request headers exceed ${http.maxHeaderSize} bytes: send smaller headers`, {
        limit_bytes: http.maxHeaderSize,
      });
    } else {
      refusal = new HttpError(400, "BadRequest", `malformed HTTP request (${err.code ?? err.message}): send a well-formed HTTP/1.1 request`);
    }
    socket.end(rawErrorResponse(refusal), () => socket.destroy());
  });

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

/** A serving limit from argv (wins) or env, else its default; checked against its range. */
function limitFromArgs(argv: string[], env: NodeJS.ProcessEnv, limit: ServingLimit): number {
  const fromArgv = arg(argv, limit.flag);
  const raw = fromArgv ?? env[limit.env];
  if (raw === undefined || raw.trim() === "") return limit.default;
  return checkedLimit(Number(raw), raw, fromArgv !== undefined ? `--${limit.flag}` : `env ${limit.env}`, limit);
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
    identityToken: env.CBKIT_IDENTITY_TOKEN,
    modelRoot: arg(argv, "model-root") ?? env.MODEL_ROOT,
    maxDecisionsPerRequest: limitFromArgs(argv, env, SERVING_LIMITS.maxDecisionsPerRequest),
    requestTimeoutSeconds: limitFromArgs(argv, env, SERVING_LIMITS.requestTimeoutSeconds),
  };
}

if (require.main === module) {
  const cannotStart = (err: unknown): never => {
    process.stderr.write(`cannot start the endpoint: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  };
  let options: ServeOptions;
  try {
    options = serveOptionsFromArgs();
  } catch (err) {
    options = cannotStart(err);
  }
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
    cannotStart,
  );
}
