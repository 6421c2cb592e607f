/**
 * What a real serve process makes of the request fields: event ids (body, header fallback, the
 * InferenceId rule), hostile JSON in request_type (issue 16.11: a 400 naming the field, never a
 * 500 from rendering it), and the feature count of a model that has never seen data.
 */
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { OBS, batchOf, post, startServe, tempDir, trainedModel, untrainedModel, type Serving } from "./helpers";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const tmp = tempDir("endpoint-requests");
let ep: Serving;

before(async () => {
  ep = await startServe(await trainedModel(path.join(tmp, "model"), "requests-model-1"));
});

after(async () => {
  await ep?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const one = (body: Record<string, unknown>, headers: Record<string, string> = {}) => post(ep.url, JSON.stringify({ observation: OBS, ...body }), "application/json", headers);
const HEADER = "X-Amzn-SageMaker-Inference-Id";

test("event_id in the body is used; 64 printable ASCII characters pass, anything else is a 400 naming the field and the rule", async () => {
  const longest = "e".repeat(63) + "~";
  const ok = await one({ event_id: longest });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.event_id, longest);
  assert.equal((await one({ event_id: "with inner spaces ok" })).json.event_id, "with inner spaces ok");

  const refused: [unknown, RegExp][] = [
    ["e".repeat(65), /field 'event_id' has 65 characters; at most 64 .*InferenceId/],
    ["", /field 'event_id' must be a non-empty string/],
    [42, /field 'event_id' must be a non-empty string/],
    [" leading-space", /field 'event_id' must be printable ASCII and must not start with a space/],
    ["tab\there", /printable ASCII/],
    ["caf\u00e9", /printable ASCII/],
  ];
  for (const [id, pattern] of refused) {
    const r = await one({ event_id: id });
    assert.equal(r.status, 400, `${JSON.stringify(id)}: ${r.text}`);
    assert.match(String(r.json.message), pattern);
    assert.match(String(r.json.message), /leave it out and the endpoint makes one/);
  }
  const generated = await one({});
  assert.match(String(generated.json.event_id), /^[0-9a-f-]{36}$/);
  assert.match(String((await one({ event_id: null })).json.event_id), /^[0-9a-f-]{36}$/, "null counts as absent");
});

test("a batch line with a bad event_id rejects the batch naming the line", async () => {
  const body = batchOf(3, (i) => ({ observation: OBS, event_id: i === 1 ? "x".repeat(70) : `b-${i}` }));
  const r = await post(ep.url, body, "application/jsonlines");
  assert.equal(r.status, 400);
  assert.match(String(r.json.message), /^line 2: field 'event_id' has 70 characters/);
  const good = await post(ep.url, batchOf(2, (i) => ({ observation: OBS, event_id: `b-${i}` })), "application/jsonlines");
  assert.deepEqual(good.text.trim().split("\n").map((l) => (JSON.parse(l) as { event_id: string }).event_id), ["b-0", "b-1"]);
});

test("the InferenceId header is the fallback: used alone, checked by the same rule, and the body wins when both differ", async () => {
  const headerOnly = await one({}, { [HEADER]: "from-header" });
  assert.equal(headerOnly.json.event_id, "from-header");
  const both = await one({ event_id: "from-body" }, { [HEADER]: "from-header" });
  assert.equal(both.json.event_id, "from-body");
  // The action follows the event id that won: the same as asking with the body's id alone.
  assert.equal(both.json.action, (await one({ event_id: "from-body" })).json.action);
  const tooLong = await one({}, { [HEADER]: "h".repeat(65) });
  assert.equal(tooLong.status, 400);
  assert.match(String(tooLong.json.message), /field 'X-Amzn-SageMaker-Inference-Id' has 65 characters/);

  // Through the SDK: InferenceId travels as that header; a body event_id overrides it.
  const client = new SageMakerRuntimeClient({ region: "us-east-1", endpoint: ep.url, credentials: { accessKeyId: "x", secretAccessKey: "y" } });
  try {
    const invoke = async (body: unknown, inferenceId: string) => {
      const out = await client.send(new InvokeEndpointCommand({ EndpointName: "ep-test", ContentType: "application/json", Body: JSON.stringify(body), InferenceId: inferenceId }));
      return JSON.parse(new TextDecoder().decode(out.Body)) as Record<string, unknown>;
    };
    assert.equal((await invoke({ observation: OBS }, "sdk-id")).event_id, "sdk-id");
    assert.equal((await invoke({ observation: OBS, event_id: "body-id" }, "sdk-id")).event_id, "body-id");
  } finally {
    client.destroy();
  }
});

test("a model made with num_features and no data refuses other feature counts with a 400 naming the expected count", async () => {
  const { dir } = await untrainedModel(path.join(tmp, "untrained"), "requests-model-0", 9);
  const fresh = await startServe(dir);
  try {
    const ok = await post(fresh.url, JSON.stringify({ observation: OBS }));
    assert.equal(ok.status, 200, ok.text);
    assert.equal((ok.json.action_probs as number[]).length, 7);
    for (const count of [1, 8, 10]) {
      const r = await post(fresh.url, JSON.stringify({ observation: Array.from({ length: count }, () => 0.5) }));
      assert.equal(r.status, 400, `${count} features: ${r.text}`);
      assert.match(String(r.json.message), new RegExp(`field 'observation' has ${count} features, the model expects 9 \\(algor\\.algorithms_parameters\\.num_features in config\\.yaml\\): send 9 numbers`));
    }
    const batch = await post(fresh.url, `${JSON.stringify({ observation: OBS })}\n${JSON.stringify({ observation: [1, 2] })}\n`, "application/jsonlines");
    assert.equal(batch.status, 400);
    assert.match(String(batch.json.message), /^line 2: field 'observation' has 2 features, the model expects 9/);
    const health = (await (await fetch(`${fresh.url}/health`)).json()) as Record<string, unknown>;
    assert.equal(health.num_features, 9);
  } finally {
    await fresh.stop();
  }
});

test("a trained model refuses other feature counts the same way, and every error names a fix", async () => {
  const r = await post(ep.url, JSON.stringify({ observation: [1, 2, 3] }));
  assert.equal(r.status, 400);
  assert.match(String(r.json.message), /3 features, the model expects 9 .*send 9 numbers/);
  const missing = await post(ep.url, JSON.stringify({ obs: OBS }));
  assert.match(String(missing.json.message), /field 'observation' is missing: send \{"observation": \[9 numbers\]\}/);
  const empty = await post(ep.url, JSON.stringify({ observation: [] }));
  assert.match(String(empty.json.message), /field 'observation' is empty: send an array of 9 numbers/);
});

test("a model saved without a feature count (older models) is served with a warning that names the model and the fix", async () => {
  const dir = path.join(tmp, "legacy");
  await untrainedModel(dir, "requests-model-legacy", 9);
  const file = path.join(dir, "model.json");
  // Models saved before num_features existed have neither the option nor a fixed count.
  const meta = JSON.parse(fs.readFileSync(file, "utf8")) as {
    featureMap: { numFeatures: number | null };
    algorithm: { options: { numFeatures?: number | null } };
  };
  meta.featureMap.numFeatures = null;
  delete meta.algorithm.options.numFeatures;
  fs.writeFileSync(file, JSON.stringify(meta, null, 2));
  const legacy = await startServe(dir);
  try {
    assert.equal((await post(legacy.url, JSON.stringify({ observation: OBS }))).status, 200);
    const health = (await (await fetch(`${legacy.url}/health`)).json()) as Record<string, unknown>;
    assert.equal(health.num_features, null);
    for (let i = 0; i < 50 && !legacy.stderr().includes("warning"); i++) await new Promise((r) => setTimeout(r, 20)); // stderr is its own pipe
    assert.match(legacy.stderr(), /model requests-model-legacy does not fix its feature count; any count is accepted \(train it again/);
  } finally {
    await legacy.stop();
  }
});

test("features beyond the numeric contract (1e308, -2e9) are a 400 naming the field and the bound", async () => {
  const r = await one({ observation: OBS.map((v, i) => (i === 3 ? 1e308 : v)), event_id: "poison-1" });
  assert.equal(r.status, 400, r.text);
  assert.match(String(r.json.message), /^observation\[3\] must be a finite number within ±1e9 \(the kit's numeric contract\), got 1e\+308/);
  const batch = await post(ep.url, batchOf(2, (i) => ({ observation: OBS.map((v, j) => (i === 1 && j === 0 ? -2e9 : v)) })), "application/jsonlines");
  assert.equal(batch.status, 400);
  assert.match(String(batch.json.message), /^line 2: observation\[0\] must be a finite number within ±1e9 .*got -2000000000/);
  assert.equal((await one({ observation: OBS.map(() => 1e9) })).status, 200, "the bound itself is allowed");
});

const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

test("request_type nested 100,000 deep, as a single request and as a batch line, is a 400 naming the field", async () => {
  const body = `{"observation": ${JSON.stringify(OBS)}, "request_type": ${deep(100_000)}}`;
  const single = await post(ep.url, body);
  assert.equal(single.status, 400, single.text.slice(0, 300));
  assert.match(String(single.json.message), /request_type (of type array \(it must be a string\)|.*not valid JSON)/);
  const batch = await post(ep.url, `${JSON.stringify({ observation: OBS })}\n${body}\n`, "application/jsonlines");
  assert.equal(batch.status, 400, batch.text.slice(0, 300));
  assert.match(String(batch.json.message), /^line 2: /);
  // Still serving.
  const ok = await post(ep.url, JSON.stringify({ observation: OBS }));
  assert.equal(ok.status, 200);
});

test("a request_type object or number is named by its type; a long string is cut", async () => {
  for (const [value, shown] of [[{ a: 1 }, "of type object"], [7, "of type number"], ["x".repeat(500), `'${"x".repeat(40)}...'`]] as const) {
    const r = await post(ep.url, JSON.stringify({ observation: OBS, request_type: value }));
    assert.equal(r.status, 400);
    assert.ok(String(r.json.message).includes(`request_type ${shown}`), String(r.json.message));
  }
});
