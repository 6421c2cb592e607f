/**
 * Bad training files (issue 10 item 6): the CSV / JSON-lines reader and the VW-text reader skip
 * the same bad rows and report them the same way; `strict` turns any skip into an error; a file
 * without records (empty, header only, columns missing) is named with its problem.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DataFileError, JoinedRecord, readJoinedRecords } from "@cbkit/common";
import { JOINED_CSV_HEADER, joinedCsvLine, readVwTextRecords } from "@cbkit/common/data";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-data-bad-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

const good = (i: number): JoinedRecord => ({ reward: i % 2, event_id: `e${i}`, action: (i % 3) + 1, action_prob: 0.25, model_id: "m", observation: [i / 10, -1, 2], sample_prob: 0.5 });

/** The same logical rows, some bad, as CSV and as VW text (cost = 1 − reward). */
const ROWS: { csv: string; vw: string }[] = [
  { csv: joinedCsvLine(good(1)), vw: "2:0:0.25 | 1:0.1 2:-1 3:2" },
  { csv: '"1","e2","0","0.25","m","[0.1, 0.2, 0.3]","0.5"', vw: "0:0:0.25 | 1:0.1 2:0.2 3:0.3" }, // action 0
  { csv: '"1","e3","2","0","m","[0.1, 0.2, 0.3]","0.5"', vw: "2:0:0 | 1:0.1 2:0.2 3:0.3" }, // probability 0
  { csv: '"1","e4","2","1.5","m","[0.1, 0.2, 0.3]","0.5"', vw: "2:0:1.5 | 1:0.1 2:0.2 3:0.3" }, // probability above 1
  { csv: '"1","e5","2.5","0.5","m","[0.1, 0.2, 0.3]","0.5"', vw: "2.5:0:0.5 | 1:0.1 2:0.2 3:0.3" }, // fractional action
  { csv: '"x","e6","2","0.5","m","[0.1, 0.2, 0.3]","0.5"', vw: "2:x:0.5 | 1:0.1 2:0.2 3:0.3" }, // reward / cost not a number
  { csv: '"1","e7","2","0.5","m","[]","0.5"', vw: "2:0:0.5 |" }, // no features
  { csv: joinedCsvLine(good(8)), vw: "3:1:0.25 | 1:0.8 2:-1 3:2" },
];

function writeBoth(name: string): { csv: string; vw: string } {
  const csv = path.join(tmp, `${name}.csv`);
  const vw = path.join(tmp, `${name}.vw`);
  fs.writeFileSync(csv, [JOINED_CSV_HEADER, ...ROWS.map((r) => r.csv)].join("\n") + "\n");
  fs.writeFileSync(vw, ROWS.map((r) => r.vw).join("\n") + "\n");
  return { csv, vw };
}

async function readAll(file: string, strict = false) {
  const reader = readJoinedRecords(file, { strict });
  const rows: JoinedRecord[] = [];
  for await (const r of reader) rows.push(r);
  return { rows, reader };
}

test("the CSV and VW-text readers skip the same bad rows and count them with file:line reasons", async () => {
  const f = writeBoth("same");
  const { rows, reader } = await readAll(f.csv);
  const vw = readVwTextRecords(f.vw);
  assert.deepEqual(rows.map((r) => r.event_id), ["e1", "e8"]);
  assert.equal(vw.records.length, 2);
  assert.equal(reader.malformed, 6);
  assert.equal(vw.skipped, 6);
  // The same lines are named (CSV lines are one further down: the header).
  assert.deepEqual(reader.malformedReasons.map((r) => Number(/\.csv:(\d+):/.exec(r)?.[1]) - 1), [2, 3, 4, 5, 6]);
  assert.deepEqual(vw.reasons.map((r) => Number(/\.vw:(\d+):/.exec(r)?.[1])), [2, 3, 4, 5, 6]);
  assert.match(reader.malformedReasons[0], /action must be a 1-based integer, got 0/);
  assert.match(reader.malformedReasons[1], /action_prob must be in \(0, 1\]/);
  assert.match(vw.reasons[1], /probability: must be in \(0, 1\]/);
  // The records read agree (reward = 1 − cost).
  assert.deepEqual(vw.records.map((r) => [r.reward, r.action, r.action_prob, r.observation]), rows.map((r) => [r.reward, r.action, r.action_prob, r.observation]));
});

test("strict: the first bad row of either reader throws a DataFileError naming the file and line", async () => {
  const f = writeBoth("strict");
  await assert.rejects(readAll(f.csv, true), (e: Error) => {
    assert.ok(e instanceof DataFileError);
    assert.equal(e.line, 3);
    assert.match(e.message, /strict\.csv:3: action must be a 1-based integer, got 0 \(strict mode fails on any skipped row\)/);
    return true;
  });
  assert.throws(() => readVwTextRecords(f.vw, "vw-", { strict: true }), /strict\.vw:2: action: must be a 1-based integer.*strict mode/);
  // The column fast path of training is strict too.
  const reader = readJoinedRecords(f.csv, { strict: true });
  await assert.rejects((async () => { for await (const _ of reader.columnBatches()) void _; })(), /strict\.csv:3:/);
});

test("a file without records says why: empty, header only, every row skipped", async () => {
  const empty = path.join(tmp, "empty.csv");
  fs.writeFileSync(empty, "");
  const headerOnly = path.join(tmp, "header-only.csv");
  fs.writeFileSync(headerOnly, JOINED_CSV_HEADER + "\n");
  const allBad = path.join(tmp, "all-bad.jsonl");
  fs.writeFileSync(allBad, '{"reward": 1, "action": 1, "action_prob": 0, "observation": [1]}\nnot json\n');
  const emptyDir = path.join(tmp, "no-files");
  fs.mkdirSync(emptyDir);
  for (const [p, re] of [
    [empty, /empty\.csv is empty/],
    [headerOnly, /header-only\.csv has a header but no rows/],
    [allBad, /all-bad\.jsonl: all 2 row\(s\) skipped \(first reasons: .*all-bad\.jsonl:1: action_prob must be in \(0, 1\].*all-bad\.jsonl:2: not valid JSON/],
    [emptyDir, /no-files holds no joined-data file/],
  ] as [string, RegExp][]) {
    const { rows, reader } = await readAll(p);
    assert.equal(rows.length, 0);
    assert.match(reader.whyNoRecords(), re);
  }
});

test("a CSV header without the needed columns is an error naming the file and the missing columns", async () => {
  const f = path.join(tmp, "columns.csv");
  fs.writeFileSync(f, "reward,event_id,action,model_id\n1,e,2,m\n");
  for (const strict of [false, true]) {
    await assert.rejects(readAll(f, strict), (e: Error) => {
      assert.ok(e instanceof DataFileError);
      assert.match(e.message, /columns\.csv:1: the CSV header lacks observation, action_prob \(found: reward, event_id, action, model_id\)/);
      return true;
    });
  }
});
