/**
 * Request limits of a real serve process: decisions per batch (413 before parsing), slow clients
 * (a JSON 408 while others are served), oversize bodies (413 without keeping the body), and where
 * the limits come from (argv, env, defaults; bad values refused at start naming the key).
 */
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { serveOptionsFromArgs, countJsonLines, servingLimitsEnvironment } from "@cbkit/common/container";
import { OBS, batchOf, post, rawConnection, rawJson, serveRefusal, startServe, tempDir, trainedModel, type Serving } from "./helpers";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const tmp = tempDir("endpoint-limits");
let modelDir = "";
let ep: Serving;
const TIMEOUT_SECONDS = 2;

before(async () => {
  modelDir = await trainedModel(path.join(tmp, "model"), "limits-model-1");
  ep = await startServe(modelDir, ["--max-decisions-per-request", "50", "--request-timeout-seconds", String(TIMEOUT_SECONDS)]);
});

after(async () => {
  await ep?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("a batch at the cap is answered; one line more gets a 413 naming the limit, the count and the config key, before any line is parsed", async () => {
  const ok = await post(ep.url, batchOf(50), "application/jsonlines");
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.text.trim().split("\n").length, 50);

  // Blank lines are not decisions: 50 objects among blank lines still pass.
  const spaced = await post(ep.url, "\n" + batchOf(50).replace(/\n/g, "\n \r\n"), "application/jsonlines");
  assert.equal(spaced.status, 200, spaced.text);

  // Line 51 is not even JSON: the count refuses the batch before parsing reaches it.
  const over = await post(ep.url, batchOf(50) + "{not json\n", "application/jsonlines");
  assert.equal(over.status, 413, over.text);
  assert.equal(over.json.error, "TooManyDecisions");
  assert.equal(over.json.limit, 50);
  assert.equal(over.json.count, 51);
  assert.equal(over.json.config_key, "endpoint.max_decisions_per_request");
  assert.match(String(over.json.message), /51 decisions; at most 50 .*endpoint\.max_decisions_per_request.*MAX_DECISIONS_PER_REQUEST.*split/);
  assert.equal(over.headers["x-amzn-errortype"], "TooManyDecisions");

  // Under the cap, the same bad line is found by parsing and named by its line number (blank lines counted).
  const bad = await post(ep.url, `${JSON.stringify({ observation: OBS })}\n\n{not json\n`, "application/jsonlines");
  assert.equal(bad.status, 400);
  assert.match(String(bad.json.message), /^line 3 is not valid JSON/);

  const empty = await post(ep.url, "\n \n", "application/jsonlines");
  assert.equal(empty.status, 400);
  assert.match(String(empty.json.message), /no lines/);
});

test("through the SDK, an over-cap batch fails with the error name TooManyDecisions and the server's message", async () => {
  const client = new SageMakerRuntimeClient({ region: "us-east-1", endpoint: ep.url, credentials: { accessKeyId: "x", secretAccessKey: "y" } });
  try {
    await assert.rejects(
      client.send(new InvokeEndpointCommand({ EndpointName: "ep-test", ContentType: "application/jsonlines", Body: batchOf(51) })),
      (err: Error) => err.name === "TooManyDecisions" && /51 decisions; at most 50 .*endpoint\.max_decisions_per_request/.test(err.message),
    );
  } finally {
    client.destroy();
  }
});

test("countJsonLines counts non-blank lines on the bytes", () => {
  assert.equal(countJsonLines(Buffer.from("")), 0);
  assert.equal(countJsonLines(Buffer.from("{}")), 1);
  assert.equal(countJsonLines(Buffer.from("{}\n{}\n")), 2);
  assert.equal(countJsonLines(Buffer.from("\n \t\r\n{}\r\n  {}  \n\n")), 2);
});

test("a client that does not send its whole request in time gets a JSON 408; others are served meanwhile", async () => {
  // Body promised, a tenth sent, then nothing.
  const slowBody = rawConnection(ep.port);
  slowBody.socket.write(`POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"observ`);
  // Headers never finished.
  const slowHeaders = rawConnection(ep.port);
  slowHeaders.socket.write(`POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Ty`);
  const t0 = Date.now();
  let firstRefusalAt = Infinity;
  for (const c of [slowBody, slowHeaders]) c.socket.once("data", () => (firstRefusalAt = Math.min(firstRefusalAt, Date.now())));

  // While both hang, other clients are answered, before either slow one is refused.
  for (let i = 0; i < 5; i++) {
    const r = await post(ep.url, JSON.stringify({ observation: OBS }));
    assert.equal(r.status, 200);
  }
  const othersDoneAt = Date.now();

  await Promise.all([slowBody.closed, slowHeaders.closed]);
  assert.ok(othersDoneAt < firstRefusalAt, `others were answered ${othersDoneAt - t0} ms in, the slow clients refused ${firstRefusalAt - t0} ms in`);
  const waited = Date.now() - t0;
  assert.ok(waited >= TIMEOUT_SECONDS * 1000 - 100 && waited < TIMEOUT_SECONDS * 1000 + 3000, `time-out after ${waited} ms, expected about ${TIMEOUT_SECONDS} s`);
  for (const c of [slowBody, slowHeaders]) {
    const response = c.received();
    assert.match(response, /^HTTP\/1\.1 408 /);
    const body = rawJson(response);
    assert.equal(body.error, "RequestTimeout");
    assert.equal(body.limit_seconds, TIMEOUT_SECONDS);
    assert.equal(body.config_key, "endpoint.request_timeout_seconds");
    assert.match(String(body.message), new RegExp(`within ${TIMEOUT_SECONDS} s .*endpoint\\.request_timeout_seconds.*REQUEST_TIMEOUT_SECONDS`));
  }
  const after = await post(ep.url, JSON.stringify({ observation: OBS }));
  assert.equal(after.status, 200);
});

test("malformed HTTP and oversize headers get a JSON error, not a bare status line", async () => {
  const c = rawConnection(ep.port);
  c.socket.write("NOT-A-METHOD / HTTP/1.1\r\nHost: x\r\n\r\n");
  await c.closed;
  assert.match(c.received(), /^HTTP\/1\.1 400 /);
  assert.match(String(rawJson(c.received()).message), /malformed HTTP request.*well-formed/);

  const big = rawConnection(ep.port);
  big.socket.write(`POST /invocations HTTP/1.1\r\nHost: x\r\nX-Padding: ${"p".repeat(64 * 1024)}\r\n\r\n`);
  await big.closed;
  assert.match(big.received(), /^HTTP\/1\.1 431 /);
  const body = rawJson(big.received());
  assert.match(String(body.message), /request headers exceed \d+ bytes: send smaller headers/);
  assert.equal(typeof body.limit_bytes, "number");
});

test("an oversize body is refused without being kept: at once by Content-Length, else as soon as 6 MB have arrived, and the connection is cut", async () => {
  // Declared 1 GB, nothing sent: the 413 comes before any body byte.
  const declared = rawConnection(ep.port);
  declared.socket.write(`POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n`);
  for (let i = 0; i < 100 && !declared.received().includes("}"); i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(declared.received(), /^HTTP\/1\.1 413 /);
  const body = rawJson(declared.received());
  assert.equal(body.limit_bytes, 6 * 1024 * 1024);
  assert.match(String(body.message), /1000000000 bytes .*6 MB limit.*send smaller requests/);
  declared.socket.destroy();

  // Chunked (no length): the client streams 1 MB chunks; the 413 arrives after about 6 MB, and the
  // server cuts the connection once 12 MB in all were read, long before the client's 200 MB.
  const streamed = rawConnection(ep.port);
  streamed.socket.write(`POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/jsonlines\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  let sent = 0;
  let cut = false;
  streamed.closed.then(() => (cut = true));
  while (!cut && sent < 200 * chunk.length) {
    streamed.socket.write(`${chunk.length.toString(16)}\r\n`);
    streamed.socket.write(chunk);
    const ok = streamed.socket.write("\r\n");
    sent += chunk.length;
    if (!ok) await Promise.race([new Promise((r) => streamed.socket.once("drain", r)), streamed.closed]);
  }
  await streamed.closed;
  assert.ok(sent < 60 * chunk.length, `the server read ${sent / chunk.length} MB before cutting the connection`);
  assert.match(streamed.received(), /^HTTP\/1\.1 413 /);
  assert.match(String(rawJson(streamed.received()).message), /more than 6291456 bytes/);

  // Exactly 6 MB is allowed.
  const request = JSON.stringify({ observation: OBS, event_id: "exactly-6-mb" });
  const full = await post(ep.url, request + " ".repeat(6 * 1024 * 1024 - request.length));
  assert.equal(full.status, 200, full.text);
  assert.equal(full.json.event_id, "exactly-6-mb");

  // A body just over the limit with its length declared is drained, so the client reads the 413 cleanly.
  const r = await post(ep.url, " ".repeat(6 * 1024 * 1024 + 10));
  assert.equal(r.status, 413);
  const health = await fetch(`${ep.url}/health`);
  assert.equal(health.status, 200, "the server is still up");
});

test("the limits come from argv (which wins), env, or the defaults; bad values stop the start naming the key", async () => {
  const base = ["--model-dir", "/m"];
  const defaults = serveOptionsFromArgs(base, {});
  assert.equal(defaults.maxDecisionsPerRequest, 10000);
  assert.equal(defaults.requestTimeoutSeconds, 30);
  const fromEnv = serveOptionsFromArgs(base, { MAX_DECISIONS_PER_REQUEST: "7", REQUEST_TIMEOUT_SECONDS: "2.5" });
  assert.equal(fromEnv.maxDecisionsPerRequest, 7);
  assert.equal(fromEnv.requestTimeoutSeconds, 2.5);
  const argvWins = serveOptionsFromArgs([...base, "--max-decisions-per-request", "9"], { MAX_DECISIONS_PER_REQUEST: "7" });
  assert.equal(argvWins.maxDecisionsPerRequest, 9);
  assert.throws(() => serveOptionsFromArgs(base, { MAX_DECISIONS_PER_REQUEST: "1.5" }), /env MAX_DECISIONS_PER_REQUEST must be an integer in \[1, 1000000\], got '1.5'.*endpoint\.max_decisions_per_request/);
  assert.throws(() => serveOptionsFromArgs([...base, "--request-timeout-seconds", "0"], {}), /--request-timeout-seconds must be a number in \[0.01, 3600\], got '0'.*endpoint\.request_timeout_seconds/);
  // A positive integer is not enough: the cap has a sane bound (a 6 MB body holds far fewer decisions).
  assert.equal(serveOptionsFromArgs(base, { MAX_DECISIONS_PER_REQUEST: "1000000" }).maxDecisionsPerRequest, 1_000_000);
  for (const raw of ["1000001", "1e12", "Infinity"]) {
    assert.throws(
      () => serveOptionsFromArgs(base, { MAX_DECISIONS_PER_REQUEST: raw }),
      new RegExp(`^Error: env MAX_DECISIONS_PER_REQUEST must be an integer in \\[1, 1000000\\], got '${raw}': give a value in that range \\(endpoint\\.max_decisions_per_request in config\\.yaml`),
    );
  }
  assert.throws(() => serveOptionsFromArgs([...base, "--max-decisions-per-request", "1e12"], {}), /^Error: --max-decisions-per-request must be an integer in \[1, 1000000\], got '1e12'/);
  assert.throws(() => serveOptionsFromArgs(base, { REQUEST_TIMEOUT_SECONDS: "1e300" }), /^Error: env REQUEST_TIMEOUT_SECONDS must be a number in \[0.01, 3600\], got '1e300'/);
  // What hosting passes from config.yaml's endpoint section.
  assert.deepEqual(servingLimitsEnvironment({ maxDecisionsPerRequest: 10000, requestTimeoutSeconds: 30 }), {
    MAX_DECISIONS_PER_REQUEST: "10000",
    REQUEST_TIMEOUT_SECONDS: "30",
  });

  // The real process: a bad env value is refused at start; a good one is applied.
  const refused = await serveRefusal(["--model-dir", modelDir], { MAX_DECISIONS_PER_REQUEST: "many" });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /cannot start the endpoint: env MAX_DECISIONS_PER_REQUEST must be an integer in \[1, 1000000\], got 'many'/);
  const huge = await serveRefusal(["--model-dir", modelDir], { MAX_DECISIONS_PER_REQUEST: "1000000000000" });
  assert.equal(huge.code, 1);
  assert.match(huge.stderr, /cannot start the endpoint: env MAX_DECISIONS_PER_REQUEST must be an integer in \[1, 1000000\], got '1000000000000'/);
  const small = await startServe(modelDir, [], { MAX_DECISIONS_PER_REQUEST: "3" });
  try {
    assert.equal((await post(small.url, batchOf(3), "application/jsonlines")).status, 200);
    const over = await post(small.url, batchOf(4), "application/jsonlines");
    assert.equal(over.status, 413);
    assert.equal(over.json.limit, 3);
    const health = (await (await fetch(`${small.url}/health`)).json()) as Record<string, unknown>;
    assert.equal(health.max_decisions_per_request, 3);
    assert.equal(health.request_timeout_seconds, 30);
  } finally {
    await small.stop();
  }
});
