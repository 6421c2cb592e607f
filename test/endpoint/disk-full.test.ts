/**
 * The decision log on a full disk, with a real serve process and a real 2 MB file system: a
 * decision is answered only once its log line is written whole; a batch the disk can not take is
 * a 503 naming the path, the free space and what to free, and leaves no half line; once space is
 * freed the endpoint logs and answers again. A torn last line that a killed endpoint left is
 * moved aside when the next endpoint starts.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { OBS, post, startServe, tempDir, trainedModel } from "./helpers";
import { mountSmallDisk } from "../setup/small-disk";

const tmp = tempDir("endpoint-disk-full");
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Every .jsonl file under a folder with its text. */
function logFiles(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".jsonl")) out.push({ file: p, text: fs.readFileSync(p, "utf8") });
    }
  };
  walk(dir);
  return out;
}

/** The event ids in the log; fails on a line that is not whole JSON or a file that does not end in a newline. */
function loggedIds(dir: string): string[] {
  const ids: string[] = [];
  for (const { file, text } of logFiles(dir)) {
    assert.ok(text === "" || text.endsWith("\n"), `${file} ends in a half line: ${JSON.stringify(text.slice(-60))}`);
    for (const line of text.split("\n")) if (line) ids.push((JSON.parse(line) as { event_id: string }).event_id);
  }
  return ids;
}

const batch = (tag: string, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ observation: OBS, event_id: `${tag}-${i}` })).join("\n") + "\n";

test("a full disk: nothing is answered that is not logged whole, a 503 says where and what to free, and freeing space recovers", async (t) => {
  const disk = mountSmallDisk("endpoint decision log on a full disk", 2 * 1024 * 1024);
  if ("skip" in disk) return t.skip(disk.skip);
  const logDir = path.join(disk.dir, "log");
  const ep = await startServe(await trainedModel(path.join(tmp, "model"), "disk-model-1"), ["--decision-log-dir", logDir]);
  try {
    // Room for a few batches only: the disk fills while the endpoint serves.
    disk.fill(48 * 1024);
    const answered: string[] = [];
    const refused: { ids: string[]; json: Record<string, unknown> }[] = [];
    let refusedInARow = 0;
    for (let b = 0; b < 400 && refusedInARow < 5; b++) {
      const r = await post(ep.url, batch(`b${b}`, 40), "application/jsonlines");
      if (r.status === 200) {
        refusedInARow = 0;
        for (const line of r.text.trim().split("\n")) answered.push((JSON.parse(line) as { event_id: string }).event_id);
      } else {
        refusedInARow++;
        refused.push({ ids: Array.from({ length: 40 }, (_, i) => `b${b}-${i}`), json: r.json });
        assert.equal(r.status, 503, `a batch the log can not take is a 503, not ${r.status}: ${r.text}`);
      }
    }
    assert.ok(answered.length > 0, "some batches fitted");
    assert.ok(refused.length >= 5, "the disk filled up");
    const message = String(refused[0].json.message);
    assert.equal(refused[0].json.error, "ServiceUnavailable");
    assert.match(message, new RegExp(`no space left to write ${logDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/.*decisions-.*\\.jsonl`), message);
    assert.match(message, /\(\d+(\.\d)? (bytes|KB) free on its disk\)/);
    assert.match(message, /What to do: free space .*cleanResource\(\{ deleteData: true \}\)/);
    assert.match(message, /nothing of this request was logged or answered/);
    assert.match(String(refused[0].json.decision_log), /decisions-.*\.jsonl$/);
    // Logged == answered: no answered decision is missing, no refused one was logged, no half line.
    assert.deepEqual([...loggedIds(logDir)].sort(), [...answered].sort());

    disk.free();
    const again = await post(ep.url, batch("after", 40), "application/jsonlines");
    assert.equal(again.status, 200, again.text);
    const ids = loggedIds(logDir);
    assert.deepEqual(ids.sort(), [...answered, ...Array.from({ length: 40 }, (_, i) => `after-${i}`)].sort(), "the log goes on whole after space was freed");
  } finally {
    await ep.stop();
    disk.unmount();
  }
});

test("a torn last line left by a killed endpoint is moved aside when the next endpoint starts; the whole lines stay", async () => {
  const logDir = path.join(tmp, "torn-log");
  const folder = path.join(logDir, "2026", "01", "02", "03");
  fs.mkdirSync(folder, { recursive: true });
  // The pid of a process that has exited: the writer of this file is gone.
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  const file = path.join(folder, `decisions-1700000000000-${dead.stdout}.jsonl`);
  const whole = [0, 1].map((i) => JSON.stringify({ event_id: `w-${i}`, action: 1 })).join("\n") + "\n";
  const torn = '{"event_id":"torn-1","action":3,"action_pr';
  fs.writeFileSync(file, whole + torn);
  const ep = await startServe(await trainedModel(path.join(tmp, "model-torn"), "torn-model-1"), ["--decision-log-dir", logDir]);
  try {
    assert.match(ep.stderr(), new RegExp(`warning: decision log .*decisions-1700000000000-${dead.stdout}\\.jsonl ended in a torn line \\(${torn.length} bytes`));
    assert.equal(fs.readFileSync(file, "utf8"), whole);
    assert.equal(fs.readFileSync(`${file}.torn`, "utf8"), torn);
    const r = await post(ep.url, JSON.stringify({ observation: OBS, event_id: "new-1" }));
    assert.equal(r.status, 200);
    assert.deepEqual(loggedIds(logDir).sort(), ["new-1", "w-0", "w-1"]);
  } finally {
    await ep.stop();
  }
});

test("a hot swap the full disk can not record in the state file is undone: a 503, and the old model goes on serving", async (t) => {
  const disk = mountSmallDisk("endpoint hot swap on a full disk", 1024 * 1024);
  if ("skip" in disk) return t.skip(disk.skip);
  const stateFile = path.join(disk.dir, "endpoints", "ep-test.json");
  const oldModel = await trainedModel(path.join(tmp, "swap-old"), "swap-model-1");
  const newModel = await trainedModel(path.join(tmp, "swap-new"), "swap-model-2");
  // Hot swap loads only from the model root (the experiment's model folder in local hosting).
  const ep = await startServe(oldModel, ["--state-file", stateFile, "--model-root", tmp], { CBKIT_ADMIN_TOKEN: "t0ken" });
  try {
    disk.fill(0);
    const r = await fetch(`${ep.url}/admin/deploy`, { method: "POST", body: JSON.stringify({ model_dir: newModel }), headers: { "x-cbkit-admin-token": "t0ken" } });
    const body = (await r.json()) as { error: string; message: string };
    assert.equal(r.status, 503, JSON.stringify(body));
    assert.match(body.message, /the model was not swapped in: the endpoint's state file: no space left to write .*ep-test\.json/);
    const ping = (await (await fetch(`${ep.url}/ping`)).json()) as { model_id: string };
    assert.equal(ping.model_id, "swap-model-1", "the old model serves, as the state file says");
    assert.equal((JSON.parse(fs.readFileSync(stateFile, "utf8")) as { modelId: string }).modelId, "swap-model-1");
    disk.free();
    const again = await fetch(`${ep.url}/admin/deploy`, { method: "POST", body: JSON.stringify({ model_dir: newModel }), headers: { "x-cbkit-admin-token": "t0ken" } });
    assert.equal(again.status, 200);
  } finally {
    await ep.stop();
    disk.unmount();
  }
});
