import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, JoinedRecord, readJoinedRecords } from "@cbkit/common";
import { numberAt, formatVwExample, joinedRecordToVw, parseVwExample, readVwTextRecords, writeJoinedCsv, writeVwText } from "@cbkit/common/data";
import { Rng } from "@cbkit/common/util";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-data-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

async function all(p: string) {
  const reader = readJoinedRecords(p);
  const rows: JoinedRecord[] = [];
  for await (const r of reader) rows.push(r);
  return { rows, reader };
}

const rec = (i: number): JoinedRecord => ({ reward: i % 2, event_id: `e-${i}`, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "model-1", observation: [i / 3, -0.5, 1e-7, 12345.678], sample_prob: 0.25 });

test("the original's quoted CSV shape reads (Python list observation, float reprs)", async () => {
  const f = path.join(tmp, "local-joined-data-1.csv");
  fs.writeFileSync(f, [
    '"reward","event_id","action","action_prob","model_id","observation","sample_prob"',
    '"0","not-apply-to-warm-start","3","0.14285714285714285","not-apply-to-warm-start","[-0.02674, 0.5101, -0.0597, 0.0, -1.2e-05, 0.25, 0.9, 1.0, -3.0]","0.6394267984578837"',
    '"1","111222333444555666777888999","1","0.999","training-1","[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]","0.1"',
    "",
  ].join("\n"));
  const { rows, reader } = await all(f);
  assert.equal(reader.malformed, 0);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], { reward: 0, event_id: "not-apply-to-warm-start", action: 3, action_prob: 0.14285714285714285, model_id: "not-apply-to-warm-start", observation: [-0.02674, 0.5101, -0.0597, 0, -1.2e-5, 0.25, 0.9, 1, -3], sample_prob: 0.6394267984578837 });
  assert.equal(rows[1].event_id, "111222333444555666777888999", "long integer event ids keep every digit");
  assert.deepEqual(Object.keys(rows[0]), ["reward", "event_id", "action", "action_prob", "model_id", "observation", "sample_prob"]);
});

test("writeJoinedCsv then readJoinedRecords round-trips exactly, with RFC 4180 quoting", async () => {
  const recs = Array.from({ length: 20 }, (_, i) => rec(i));
  recs[3] = { ...recs[3], model_id: 'a "quoted", id' };
  const f = path.join(tmp, "rt.csv");
  assert.equal(await writeJoinedCsv(f, recs), 20);
  const head = fs.readFileSync(f, "utf8").split("\n")[0];
  assert.equal(head, '"reward","event_id","action","action_prob","model_id","observation","sample_prob"');
  const { rows } = await all(f);
  assert.deepEqual(rows, recs);
});

test("a quoted field may span lines", async () => {
  const f = path.join(tmp, "multiline.csv");
  fs.writeFileSync(f, 'reward,event_id,action,action_prob,model_id,observation,sample_prob\n1,"e\nx",2,0.5,m,"[1,\n 2]",0.3\n');
  const { rows } = await all(f);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].event_id, "e\nx");
  assert.deepEqual(rows[0].observation, [1, 2]);
});

test("malformed rows yield nothing and are counted with reasons; train adds them to its report", async () => {
  const f = path.join(tmp, "bad.csv");
  fs.writeFileSync(f, [
    "reward,event_id,action,action_prob,model_id,observation,sample_prob",
    '1,a,1,0.5,m,"[0.1, 0.2]",0.1',
    '1,b,one,0.5,m,"[0.1, 0.2]",0.1',
    '1,c,1,0.5,m,"[0.1, oops]",0.1',
    "1,d,1",
    '0,e,2,0.5,m,"[0.3, 0.4]",0.1',
  ].join("\n"));
  const { rows, reader } = await all(f);
  assert.equal(rows.length, 2);
  assert.equal(reader.malformed, 3);
  assert.match(reader.malformedReasons[0], /bad\.csv:3: action is not a finite number/);
  assert.match(reader.malformedReasons[1], /observation is not a list of numbers/);
  assert.match(reader.malformedReasons[2], /has 3 fields, the header has 7/);
  const report = await CbLearner.create({ numArms: 2, explorationPolicy: "egreedy" }).train(readJoinedRecords(f));
  assert.equal(report.used, 2);
  assert.equal(report.skipped, 3);
  assert.equal(report.reasons.length, 3);
});

test("JSON lines (observation as array or text, numeric event ids) and folders sorted by name", async () => {
  const dir = path.join(tmp, "dir");
  fs.mkdirSync(path.join(dir, "sub"), { recursive: true });
  fs.writeFileSync(path.join(dir, "b.jsonl"), '{"reward": 1, "event_id": 340282366920938463463374607431768211455, "action": 2, "action_prob": 0.5, "model_id": "m", "observation": [1, 2], "sample_prob": 0.5}\n\nnot json\n');
  fs.writeFileSync(path.join(dir, "a.json"), '[{"reward": 0, "event_id": "x", "action": 1, "action_prob": 1, "model_id": "m", "observation": "[3, 4]", "sample_prob": 0}]');
  await writeJoinedCsv(path.join(dir, "sub", "c.csv"), [rec(1)]);
  fs.writeFileSync(path.join(dir, "ignored.txt"), "whatever");
  const { rows, reader } = await all(dir);
  assert.deepEqual(rows.map((r) => r.event_id), ["x", "340282366920938463463374607431768211455", "e-1"]);
  assert.deepEqual(rows[0].observation, [3, 4]);
  assert.equal(reader.malformed, 1);
  assert.match(reader.malformedReasons[0], /b\.jsonl:3: not valid JSON/);
});

test("a JSON line the fast path gives up on after reading the observation reads whole on the general path, and the next line keeps its own observation", async () => {
  const f = path.join(tmp, "late.jsonl");
  fs.writeFileSync(f, [
    '{"observation": [1.5, 2.5], "reward": "1", "action": 2, "action_prob": 0.5}', // a number as text: general path
    '{"observation": [3, 4], "reward": 0, "action": 1, "action_prob": 0.5, "extra": {"nested": 1}}', // a nested object: general path
    '{"observation": [5, 6], "reward": 1, "action": 3, "action_prob": 0.25}',
    '{"observation": [7, "x"], "reward": 1, "action": 3, "action_prob": 0.25}', // bad: skipped and named
    '{"observation": [8, 9], "reward": 0, "action": 4, "action_prob": 0.5}',
  ].join("\n") + "\n");
  const { rows, reader } = await all(f);
  assert.deepEqual(rows.map((r) => r.observation), [[1.5, 2.5], [3, 4], [5, 6], [8, 9]]);
  assert.deepEqual(rows.map((r) => r.reward), [1, 0, 1, 0]);
  assert.equal(reader.malformed, 1);
  assert.match(reader.malformedReasons[0], /late\.jsonl:4: observation/);
});

test("VW text: format, parse and file round trip", () => {
  const r = rec(5);
  const line = joinedRecordToVw(r);
  assert.equal(line, `6:0:${1 / 7} | 1:${5 / 3} 2:-0.5 3:1e-7 4:12345.678`);
  const ex = parseVwExample(line);
  assert.deepEqual(ex.label, { action: 6, cost: 0, probability: 1 / 7 });
  assert.deepEqual(ex.features, r.observation);
  assert.deepEqual(parseVwExample("2 1:1:0.5 | a:1 b"), { label: { action: 1, cost: 1, probability: 0.5 }, evalAction: 2, features: { a: 1, b: 1 } });
  assert.deepEqual(parseVwExample("|user age:3 |item x:1").features, { "user^age": 3, "item^x": 1 });
  assert.equal(formatVwExample({ age: 3 }, null), "| age:3");
  assert.throws(() => parseVwExample("1:0.5 | 1:2"), /label: expected action:cost:probability/);
  assert.throws(() => parseVwExample("1:0:0 | 1:2"), /probability: must be in \(0, 1\]/);
  assert.throws(() => parseVwExample("0:0:0.5 | 1:2"), /action: must be a 1-based integer/);
  assert.throws(() => parseVwExample("1 2 3"), /no '\|'/);
  assert.throws(() => formatVwExample({ "a b": 1 }), /cannot be empty or contain spaces/);
  const recs = Array.from({ length: 10 }, (_, i) => rec(i));
  const f = path.join(tmp, "data.vw");
  writeVwText(f, recs);
  fs.appendFileSync(f, "garbage line\n");
  const back = readVwTextRecords(f);
  assert.equal(back.records.length, 10);
  assert.equal(back.skipped, 1);
  back.records.forEach((b, i) => {
    assert.equal(b.action, recs[i].action);
    assert.equal(b.reward, recs[i].reward);
    assert.equal(b.action_prob, recs[i].action_prob);
    assert.deepEqual(b.observation, recs[i].observation);
  });
});

test("training from a file (column fast path) equals training from the same records in memory", async () => {
  const recs = Array.from({ length: 500 }, (_, i) => ({ ...rec(i), observation: [Math.sin(i), Math.cos(i) * 3, i % 5] }));
  const f = path.join(tmp, "same.csv");
  await writeJoinedCsv(f, recs);
  const a = CbLearner.create({ numArms: 7, explorationPolicy: "bag", numPolicies: 3 });
  await a.train(recs);
  const b = CbLearner.create({ numArms: 7, explorationPolicy: "bag", numPolicies: 3 });
  const report = await b.train(readJoinedRecords(f));
  assert.deepEqual(report, { used: 500, skipped: 0, reasons: [] });
  for (const r of recs.slice(0, 20)) assert.deepEqual(Array.from(b.predictCosts(r.observation)), Array.from(a.predictCosts(r.observation)));
});

test("numberAt (the byte parser of the fast path) equals Number() exactly", () => {
  const rng = new Rng("numbers");
  const texts: string[] = ["0", "1", "-0.0", "0.14285714285714285", "1e-7", "-1.2e-05", " 3 ", "12345.678", "0.000000000000000000001", "9007199254740993", "123456789012345678901234"];
  for (let i = 0; i < 20000; i++) {
    const x = (rng.next() * 2 - 1) * Math.pow(10, rng.int(12) - 6);
    texts.push(String(x), x.toFixed(rng.int(18)), x.toPrecision(1 + rng.int(17)));
  }
  for (const t of texts) {
    const b = Buffer.from(t, "latin1");
    assert.ok(Object.is(numberAt(b, 0, b.length), Number(t)), `${t}: ${numberAt(b, 0, b.length)} vs ${Number(t)}`);
  }
  for (const t of ["", "  ", "abc", "1.2.3", "--1", "NaN", "Infinity"]) {
    const b = Buffer.from(t, "latin1");
    assert.ok(Number.isNaN(numberAt(b, 0, b.length)), t);
  }
});

test("bins fitted from a file equal bins fitted from the same records in memory", async () => {
  const recs = Array.from({ length: 300 }, (_, i) => ({ ...rec(i), observation: [Math.sin(i) * 4, Math.cos(i), (i % 7) - 3] }));
  recs[10] = { ...recs[10], action_prob: 0 }; // skipped by both paths, not used for the bins
  const f = path.join(tmp, "bins.csv");
  await writeJoinedCsv(f, recs);
  const o = { numArms: 7, explorationPolicy: "egreedy" as const, featureMap: "bins" as const, numBins: 8 };
  const a = CbLearner.create(o), b = CbLearner.create(o);
  const ra = await a.train(recs), rb = await b.train(readJoinedRecords(f));
  assert.equal(ra.used, 299);
  assert.equal(rb.used, 299);
  assert.deepEqual(b.state.featureMap, a.state.featureMap);
  for (const r of recs.slice(0, 10)) assert.deepEqual(Array.from(b.predictCosts(r.observation)), Array.from(a.predictCosts(r.observation)));
});
