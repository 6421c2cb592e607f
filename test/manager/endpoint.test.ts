/**
 * The endpoint process over real HTTP: the InvokeEndpoint protocol through the SDK, bad requests
 * (4xx naming the problem, server stays up), deterministic actions, and deploys under load.
 */
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import type { ExperimentManager } from "@cbkit/common";
import { splitValueOf } from "@cbkit/common/data";
import { manager, syntheticJoined, tempWorkspace, testConfig, underLoad } from "./helpers";

const ws = tempWorkspace("endpoint");
const config = testConfig(ws);
let m: ExperimentManager;
let url = "";
const models: string[] = [];

before(async () => {
  m = await manager(config, "ep-1");
  await m.ingestJoinedData(syntheticJoined(200), 0.8);
  for (let i = 0; i < 3; i++) {
    const rec = i === 0 ? await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData }) : await m.trainNextModel();
    models.push(rec.model_id);
  }
  url = (await m.deployModel({ modelId: models[0] })).url;
});

after(async () => {
  await m.cleanResource();
  await m.close();
  fs.rmSync(ws, { recursive: true, force: true });
});

function raw(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, headers: { "Content-Type": "application/json", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const obs = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9];

test("bad requests get a 4xx JSON error naming the problem and the server stays up", async () => {
  const cases: [string, string, string | Buffer | undefined, number, RegExp, Record<string, string>?][] = [
    ["POST", "/invocations", "{not json", 400, /not valid JSON/],
    ["POST", "/invocations", JSON.stringify({ observation: [1, 2, 3] }), 400, /3 features, the model expects 9/],
    ["POST", "/invocations", JSON.stringify({ observation: [1, 2, 3, 4, "NaN", 6, 7, 8, 9] }), 400, /observation\[4\] must be a finite number/],
    ["POST", "/invocations", JSON.stringify({ observation: [1, 2, 3, 4, null, 6, 7, 8, 9] }), 400, /observation\[4\]/],
    ["POST", "/invocations", JSON.stringify({ obs: obs }), 400, /'observation' is missing/],
    ["POST", "/invocations", JSON.stringify([1, 2]), 400, /JSON object/],
    ["POST", "/invocations", "", 400, /empty/],
    ["POST", "/invocations", JSON.stringify({ observation: obs }), 415, /content type 'text\/csv'/, { "Content-Type": "text/csv" }],
    ["POST", "/invocations", Buffer.alloc(6 * 1024 * 1024 + 10, 32), 413, /6 MB/],
    ["GET", "/nowhere", undefined, 404, /unknown route GET \/nowhere/],
    ["GET", "/invocations", undefined, 405, /POST only/],
    ["POST", "/endpoints/other/invocations", JSON.stringify({ observation: obs }), 404, /this endpoint is 'ep-1'/],
    ["POST", "/admin/deploy", JSON.stringify({ model_dir: "/tmp" }), 403, /admin token/],
  ];
  for (const [method, path, body, status, pattern, headers] of cases) {
    const r = await raw(method, path, body, headers);
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.json)}`);
    assert.match(String(r.json.message), pattern);
  }
  const ping = await raw("GET", "/ping");
  assert.equal(ping.status, 200);
  assert.equal(ping.json.model_id, models[0]);
  // Through the SDK, a bad request surfaces as an error carrying the server's message.
  await assert.rejects(m.predictor.getAction([1, 2]), /2 features, the model expects 9/);
});

test("the InvokeEndpoint route speaks the SDK's protocol; actions are deterministic per event id", async () => {
  const client = new SageMakerRuntimeClient({ region: "us-east-1", endpoint: url, credentials: { accessKeyId: "x", secretAccessKey: "y" } });
  const send = async (eventId: string) => {
    const out = await client.send(
      new InvokeEndpointCommand({ EndpointName: "ep-1", ContentType: "application/json", Body: JSON.stringify({ observation: obs }), InferenceId: eventId }),
    );
    return JSON.parse(new TextDecoder().decode(out.Body)) as Record<string, unknown>;
  };
  const a = await send("evt-42");
  const b = await send("evt-42");
  assert.equal(a.event_id, "evt-42");
  assert.equal(a.action, b.action);
  assert.equal(a.sample_prob, splitValueOf("evt-42"));
  for (const k of ["action", "action_prob", "action_probs", "event_id", "model_id", "sample_prob", "timestamp"]) assert.ok(k in a, k);
  client.destroy();
  const g = await m.predictor.getAction(obs);
  assert.match(g.eventId, /^[0-9a-f-]{36}$/, "generated event ids are UUIDs");
});

test("deploys under load: no failed request, every response names the old or the new model", async () => {
  const { errors, count, seen } = await underLoad(m, obs, async () => {
    for (let i = 0; i < 4; i++) {
      await m.deployModel({ modelId: models[(i + 1) % models.length] });
      await new Promise((r) => setTimeout(r, 30));
    }
  });
  assert.deepEqual(errors, []);
  assert.ok(count > 50, `only ${count} requests`);
  for (const id of seen) assert.ok(models.includes(id), `unknown model id ${id}`);
  assert.ok(seen.size >= 2, "the swaps were seen by the clients");
});

test("a JSON-lines batch is answered line by line, each decision logged; a bad line rejects the batch naming it", async () => {
  const results = await m.predictor.getActions([obs, obs, obs], { eventIds: ["b-1", "b-2", "b-1"] });
  assert.equal(results.length, 3);
  assert.deepEqual(results.map((r) => r.eventId), ["b-1", "b-2", "b-1"]);
  assert.equal(results[0].action, results[2].action, "same event id, same action");
  const bad = await raw("POST", "/invocations", `${JSON.stringify({ observation: obs })}\n${JSON.stringify({ observation: [1] })}\n`, {
    "Content-Type": "application/jsonlines",
  });
  assert.equal(bad.status, 400);
  assert.match(String(bad.json.message), /^line 2: field 'observation' has 1 features/);
});
