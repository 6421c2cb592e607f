/**
 * Links in the local bucket (issue 16.8): downloadHistoricalData and evaluateHistoricalData never
 * read through a symbolic link out of the experiment's folder: a link met inside a folder is
 * skipped with a warning, a URI or path that passes through one is refused naming the rule.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ExperimentManager } from "@cbkit/common";
import { LocalObjectStore } from "@cbkit/common/local";
import { manager, syntheticJoined, tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("symlinks");
const config = testConfig(ws);
const outside = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-outside-"));
const secret = path.join(outside, "passwd");
fs.writeFileSync(secret, "root:x:0:0:stands for /etc/passwd\n");
const opened: ExperimentManager[] = [];
after(async () => {
  for (const m of opened) await m.close().catch(() => undefined);
  fs.rmSync(ws, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

async function withJoin(id: string): Promise<ExperimentManager> {
  const m = await manager(config, id);
  opened.push(m);
  await m.ingestJoinedData(syntheticJoined(60, id), 0.5);
  return m;
}

/** Runs `fn` and returns what it wrote to stderr (the store's warnings) besides its result. */
async function capturingStderr<T>(fn: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = "";
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), stderr };
  } finally {
    process.stderr.write = write;
  }
}

const filesUnder = (dir: string): string[] =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);

test("a link to a file outside, placed in the rewards or eval folder, is skipped with a warning, never copied", async () => {
  const m = await withJoin("sl-a");
  const evalDir = fileURLToPath(m.lastJoinedJobEvalData);
  fs.symlinkSync(secret, path.join(evalDir, "zz-passwd.jsonl"));
  const { value: dir, stderr } = await capturingStderr(() => m.downloadHistoricalData());
  assert.ok(!filesUnder(dir).includes("zz-passwd.jsonl"), "the link's target was not copied");
  assert.ok(filesUnder(dir).length > 0, "the real data was copied");
  assert.match(stderr, /skipped .*zz-passwd\.jsonl: a symbolic link in the local bucket is never followed/);
  const before = await m.evaluateHistoricalData(m.lastJoinedJobEvalData);
  assert.ok(before.n > 0);

  const rewards = await m.ingestRewards([{ event_id: "sl-a-0", reward: 1 }]);
  fs.symlinkSync(secret, path.join(fileURLToPath(rewards), "passwd"));
  const copied = await capturingStderr(() => m.downloadHistoricalData({ dataUri: rewards }));
  assert.ok(!filesUnder(copied.value).includes("passwd"));
  assert.match(copied.stderr, /skipped .*passwd: a symbolic link/);
  // The link itself as the URI: refused, naming the rule.
  await assert.rejects(
    m.downloadHistoricalData({ dataUri: `${rewards}/passwd` }),
    /passes through a symbolic link .* the local bucket does not follow links out of an object's folder; remove the link/,
  );
});

test("a link to another experiment's folder is refused by URI and by path, and skipped inside a folder", async () => {
  const a = await withJoin("sl-b");
  const other = await withJoin("sl-c");
  const theirs = fileURLToPath(other.lastJoinedJobEvalData);
  const link = path.join(ws, "bucket", "sl-b", "joined_data", "stolen");
  fs.symlinkSync(theirs, link);
  const rule = /passes through a symbolic link|outside this experiment's data/;
  await assert.rejects(a.evaluateHistoricalData(pathToFileURL(link).href), rule);
  await assert.rejects(a.evaluateHistoricalData(link), rule);
  await assert.rejects(a.downloadHistoricalData({ dataUri: pathToFileURL(link).href }), rule);
  // A link outside the bucket that leads into another experiment's folder: checked where it leads.
  const outsideLink = path.join(outside, "looks-local");
  fs.symlinkSync(theirs, outsideLink);
  await assert.rejects(a.evaluateHistoricalData(outsideLink), /outside this experiment's data/);
  // Inside a folder being read: skipped.
  const evalDir = fileURLToPath(a.lastJoinedJobEvalData);
  fs.symlinkSync(theirs, path.join(evalDir, "more"));
  const own = await capturingStderr(() => a.evaluateHistoricalData(a.lastJoinedJobEvalData));
  assert.match(own.stderr, /skipped .*more: a symbolic link/);
  const theirsScore = await other.evaluateHistoricalData(other.lastJoinedJobEvalData);
  fs.rmSync(path.join(evalDir, "more"));
  const clean = await a.evaluateHistoricalData(a.lastJoinedJobEvalData);
  assert.equal(own.value.n, clean.n, `only its own records were read (the other experiment has ${theirsScore.n})`);
});

test("the object store refuses a path through a linked folder, and reports skipped links through its warn callback", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-store-"));
  try {
    const warnings: string[] = [];
    const store = new LocalObjectStore(root, (w) => warnings.push(w));
    await store.put(store.uriOf("exp/data/a.jsonl"), "{}\n");
    fs.symlinkSync(outside, path.join(root, "exp", "linked"));
    assert.throws(() => store.pathOf(store.uriOf("exp/linked/passwd")), /passes through a symbolic link/);
    await assert.rejects(store.get(store.uriOf("exp/linked/passwd")), /passes through a symbolic link/);
    const listed = await store.list(store.uriOf("exp"));
    assert.deepEqual(listed.map((o) => o.key), ["exp/data/a.jsonl"]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /exp.linked: a symbolic link in the local bucket is never followed/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
