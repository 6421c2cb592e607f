/**
 * `npm run data` (scripts/data.js): a present file is checked, not downloaded; a corrupt one gets
 * an error naming it and the fix; a missing one is downloaded (here from a local HTTP server
 * serving the real file compressed as UCI ships it, with `compress`, or gzipped), decompressed,
 * checked and written. The UCI address itself cannot be reached from the test machine.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { after, before, test } from "node:test";
import { defaultShuttleDataFile, findProjectRoot } from "@cbkit/common/config";
import { missingTool } from "../python-tools";

interface DataScript {
  SHUTTLE_SHA256: string;
  SHUTTLE_URL: string;
  sha256(b: Buffer): string;
  uncompressZ(b: Buffer): Buffer;
  ensureShuttleData(o: { file: string; url?: string; expectedSha256?: string; log?: (s: string) => void }): Promise<"present" | "downloaded">;
}
const projectRoot = findProjectRoot();
const script = path.join(projectRoot, "scripts", "data.js");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const data = require(script) as DataScript;
const realFile = defaultShuttleDataFile(projectRoot);
const original = fs.readFileSync(realFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-data-"));

/** The real file compressed with Unix `compress -b bits` (as UCI ships it), or a skip message. */
function compressed(bits = 16): Buffer | string {
  const r = spawnSync("compress", ["-c", "-b", String(bits)], { input: original, maxBuffer: 1 << 26 });
  if (r.error || r.status !== 0) return missingTool("test/setup/data.test.ts", "Unix compress", "install ncompress (Debian: apt-get install ncompress; macOS: brew install ncompress)");
  return r.stdout;
}

/** A local server: /shuttle.trn.Z, /shuttle.trn.gz, /moved (a redirect) and /wrong (another file, gzipped). */
let server: http.Server;
let base = "";
before(async () => {
  const z = compressed();
  const routes: Record<string, Buffer> = { "/shuttle.trn.gz": zlib.gzipSync(original), "/wrong": zlib.gzipSync(original.subarray(0, 1000)) };
  if (typeof z !== "string") routes["/shuttle.trn.Z"] = z;
  server = http.createServer((req, res) => {
    if (req.url === "/moved") return res.writeHead(302, { location: "/shuttle.trn.gz" }).end();
    const body = routes[req.url ?? ""];
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function runScript(args: string[]) {
  return spawnSync(process.execPath, [script, ...args], { cwd: projectRoot, encoding: "utf8", timeout: 60_000 });
}

test("the script's checksum is the shuttle file's, and the URL is UCI's over HTTPS", () => {
  assert.equal(data.sha256(original), data.SHUTTLE_SHA256);
  assert.match(data.SHUTTLE_URL, /^https:\/\/archive\.ics\.uci\.edu\/.*shuttle\.trn\.Z$/);
});

test("with no --file it checks the file the kit reads (../shared/data/shuttle.trn here) and downloads nothing", () => {
  const r = runScript([]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `data: ${realFile} is present and its SHA-256 matches`);
});

test("a present, correct copy is checked and left as it is", () => {
  const file = path.join(tmp, "present", "shuttle.trn");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(realFile, file);
  const mtime = fs.statSync(file).mtimeMs;
  const r = runScript(["--file", file, "--url", "http://127.0.0.1:9/never-asked"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /is present and its SHA-256 matches/);
  assert.equal(fs.statSync(file).mtimeMs, mtime);
});

test("a corrupt copy fails with its path, both checksums and the fix", () => {
  const file = path.join(tmp, "corrupt", "shuttle.trn");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const bad = Buffer.from(original);
  bad[100] = bad[100] === 0x31 ? 0x32 : 0x31; // one digit changed
  fs.writeFileSync(file, bad);
  const r = runScript(["--file", file]);
  assert.equal(r.status, 1);
  assert.ok(r.stderr.includes(`${file} is not the Statlog (Shuttle) training file`), r.stderr);
  assert.ok(r.stderr.includes(data.sha256(bad)) && r.stderr.includes(data.SHUTTLE_SHA256), "both checksums named");
  assert.match(r.stderr, /Delete it and run `npm run data` again/);
  assert.ok(fs.readFileSync(file).equals(bad), "a file that fails the check is not touched");
});

test("the .Z decoder reads compress's output for every code width UCI could have used (10 to 16 bits)", (t) => {
  for (const bits of [10, 12, 14, 16]) {
    const z = compressed(bits);
    if (typeof z === "string") return t.skip(z);
    assert.equal(data.sha256(data.uncompressZ(z)), data.SHUTTLE_SHA256, `compress -b ${bits}`);
  }
  assert.throws(() => data.uncompressZ(Buffer.from("plain text")), /not a \.Z file/);
});

test("a missing file is downloaded as UCI ships it (.Z), checked and written, folders included", async (t) => {
  if (typeof compressed() === "string") return t.skip(compressed() as string);
  const file = path.join(tmp, "fresh", "shared", "data", "shuttle.trn");
  const lines: string[] = [];
  assert.equal(await data.ensureShuttleData({ file, url: `${base}/shuttle.trn.Z`, log: (s) => lines.push(s) }), "downloaded");
  assert.ok(fs.readFileSync(file).equals(original));
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ["shuttle.trn"], "no partial file left");
  assert.match(lines.join("\n"), /missing; downloading .*shuttle\.trn\.Z[\s\S]*wrote .* \(1153518 bytes, SHA-256 checked\)/);
  // A second run finds it.
  assert.equal(await data.ensureShuttleData({ file, url: `${base}/shuttle.trn.Z`, log: () => {} }), "present");
});

test("a gzipped download behind a redirect is decompressed with zlib", async () => {
  const file = path.join(tmp, "gz", "shuttle.trn");
  assert.equal(await data.ensureShuttleData({ file, url: `${base}/moved`, log: () => {} }), "downloaded");
  assert.ok(fs.readFileSync(file).equals(original));
});

test("a download with the wrong content, an HTTP error or no server writes nothing and says what to do", async () => {
  const file = path.join(tmp, "bad-download", "shuttle.trn");
  await assert.rejects(data.ensureShuttleData({ file, url: `${base}/wrong`, log: () => {} }), (e: Error) => {
    assert.match(e.message, /is not the expected shuttle\.trn \(SHA-256 [0-9a-f]{64}, expected 87b24ee9/);
    assert.ok(e.message.includes(`nothing was written to ${file}`));
    return true;
  });
  await assert.rejects(data.ensureShuttleData({ file, url: `${base}/gone`, log: () => {} }), /could not download .*\/gone \(.*HTTP 404\)/);
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(data.ensureShuttleData({ file, url: `http://127.0.0.1:${port}/x`, log: () => {} }), /could not download .*ECONNREFUSED.*save it as .*shuttle\.trn, then run `npm run data` again/);
  assert.ok(!fs.existsSync(path.dirname(file)) || fs.readdirSync(path.dirname(file)).length === 0);
});
