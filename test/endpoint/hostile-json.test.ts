/**
 * Hostile JSON in a request field (issue 16.11): a request_type nested 100,000 deep is a 400 that
 * names the field, not a 500 from rendering it; the endpoint stays up.
 */
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { OBS, post, startServe, tempDir, trainedModel, type Serving } from "./helpers";

const tmp = tempDir("endpoint-hostile-json");
let ep: Serving;

before(async () => {
  ep = await startServe(await trainedModel(path.join(tmp, "model"), "hostile-model-1"));
});

after(async () => {
  await ep?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
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
