/**
 * Endpoint benchmark (loopback; the load generator shares the 2 cores), each figure beside its
 * baseline from the same run:
 *  1. throughput: autocannon (its own process, 32 connections) against POST /invocations of the
 *     endpoint (serve.ts with a decision log, as hosted) and of a bare Node.js HTTP server answering
 *     a fixed JSON body (bench/lib/bare-server.ts), each as one process and as 2 node:cluster
 *     workers sharing a port, runs interleaved: requests/s, p50/p99, the endpoint's share of the
 *     bare server (target ≥ 0.6), its p99 against the bare server's (≤ 2×, what a 0.6 share
 *     allows in queueing), and how a second worker scales it;
 *  2. the Predictor (SageMaker Runtime client) from one process: requests/s, beside a plain SDK
 *     client (its own HTTP handler) calling the bare server (target: at least its rate);
 *  3. 20 deploys during load: failed requests (autocannon + SDK) and the model ids seen;
 *  4. batch limits (serve started directly, one process per case): the latency of the largest
 *     batch a request may carry, the longest /ping wait during it, and the endpoint's peak RSS
 *     under four such requests at once, with the default cap (10000 decisions) beside a cap set
 *     out of reach (the "before": a 6 MB body of ~110k decisions is accepted), and what four
 *     6 MB batches cost the capped endpoint (refused with 413 after counting lines).
 * Medians of `--runs` (default 3) runs of `--seconds` (default 4) each. `--batches-only` runs 4
 * only, `--throughput-only` 1 only. Figures go to bench-output/endpoint.json; a missed target
 * exits 1.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { CbLearner, ExperimentManager, loadConfig, saveModel, type JoinedRecord } from "@cbkit/common";
import { BenchResults, median } from "./lib/results";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg("runs", 3);
const SECONDS = arg("seconds", 4);
const OBS = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9];
const results = new BenchResults("endpoint");

interface Cannon {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  total: number;
}

function autocannon(url: string, seconds: number, connections = 32): Promise<Cannon> {
  const bin = require.resolve("autocannon/autocannon.js");
  const args = [bin, "-c", String(connections), "-d", String(seconds), "-m", "POST", "-H", "Content-Type=application/json",
    "-b", JSON.stringify({ observation: OBS }), "--json", "-n", `${url}/invocations`];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", () => {
      try {
        const j = JSON.parse(out) as { requests: { average: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number; "2xx": number; timeouts: number };
        resolve({ rps: j.requests.average, p50: j.latency.p50, p99: j.latency.p99, errors: j.errors + j.timeouts, non2xx: j.non2xx, total: j["2xx"] + j.non2xx });
      } catch (err) {
        reject(new Error(`autocannon output not JSON: ${out.slice(0, 200)}`));
      }
    });
  });
}

async function sdkLoad(m: ExperimentManager, seconds: number, concurrency = 32, ids?: Set<string>) {
  const p = m.predictor;
  return callLoad(seconds, concurrency, async () => {
    const r = await p.getAction(OBS);
    ids?.add(r.modelId);
  });
}

/**
 * The SDK client's ceiling on this machine: a plain SageMakerRuntimeClient (the SDK's own HTTP
 * handler, as a user would make one) sending InvokeEndpoint to the bare server, which does no
 * work. The Predictor against the real endpoint is compared with it.
 */
function plainSdkLoad(url: string, seconds: number, concurrency = 32) {
  const client = new SageMakerRuntimeClient({ endpoint: url, region: "us-east-1", credentials: { accessKeyId: "bench", secretAccessKey: "bench" } });
  const body = JSON.stringify({ observation: OBS });
  return callLoad(seconds, concurrency, async () => {
    const res = await client.send(new InvokeEndpointCommand({ EndpointName: "bench", Body: body, ContentType: "application/json" }));
    JSON.parse(Buffer.from(res.Body as Uint8Array).toString("utf8"));
  });
}

/** `concurrency` callers repeating `call` for `seconds`: successful calls per second. */
async function callLoad(seconds: number, concurrency: number, call: () => Promise<unknown>) {
  const end = Date.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        try {
          await call();
          ok++;
        } catch {
          failed++;
        }
      }
    }),
  );
  return { rps: ok / seconds, ok, failed };
}

async function main() {
  console.log(`endpoint benchmark: ${RUNS} runs × ${SECONDS} s, medians (cpus: ${os.cpus().length}, load avg ${os.loadavg()[0].toFixed(1)})`);
  const only = (what: string) => !process.argv.some((a) => a.endsWith("-only")) || process.argv.includes(`--${what}-only`);
  const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-bench-endpoint-model-"));
  try {
    await trainBenchModel(modelDir);
    if (only("throughput")) await throughput(modelDir);
    if (only("sdk")) await loadScenarios();
    if (only("batches")) await batchLimits(modelDir);
  } finally {
    fs.rmSync(modelDir, { recursive: true, force: true });
    results.save();
  }
}

// ------------------------------------------------------------------ 1. throughput beside a bare server

const BUILD_LIB = path.join(__dirname, "lib");

interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a bench server script and waits for its `listening on URL` line. */
function startServer(script: string, args: string[]): Promise<ServerProcess> {
  const child = spawn(process.execPath, [path.join(BUILD_LIB, script), ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const onExit = (code: number | null) => reject(new Error(`${script} exited with ${code} before listening: ${out}`));
    child.once("exit", onExit);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      child.off("exit", onExit);
      resolve({
        url: m[1],
        child,
        stop: () => new Promise<void>((r) => (child.exitCode !== null ? r() : (child.once("exit", () => r()), child.kill("SIGTERM")))),
      });
    });
  });
}

async function throughput(modelDir: string): Promise<void> {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-bench-endpoint-log-"));
  const servers: ServerProcess[] = [];
  try {
    const endpoint = (workers: number) => startServer("cluster-serve.js", ["--workers", String(workers), "--model-dir", modelDir, "--decision-log-dir", logDir]);
    const bare = (workers: number) => startServer("bare-server.js", ["--workers", String(workers)]);
    const cases = [
      { name: "bare server, 1 process", start: () => bare(1) },
      { name: "endpoint, 1 process", start: () => endpoint(1) },
      { name: "bare server, 2 workers", start: () => bare(2) },
      { name: "endpoint, 2 workers", start: () => endpoint(2) },
    ];
    const urls: string[] = [];
    for (const c of cases) {
      const server = await c.start();
      servers.push(server);
      urls.push(server.url);
      await autocannon(server.url, 1); // warm-up
    }
    const runs: Cannon[][] = cases.map(() => []);
    let cpuMs = 0, served = 0;
    const health = async () => (await (await fetch(`${urls[1]}/health`)).json()) as { served: number; cpu_ms: number };
    for (let r = 0; r < RUNS; r++) {
      for (let i = 0; i < cases.length; i++) {
        const h0 = i === 1 ? await health() : null;
        runs[i].push(await autocannon(urls[i], SECONDS));
        if (h0) {
          const h1 = await health();
          cpuMs += h1.cpu_ms - h0.cpu_ms;
          served += h1.served - h0.served;
        }
      }
    }
    const med = (i: number, k: keyof Cannon) => median(runs[i].map((c) => c[k]));
    const each = (i: number, k: keyof Cannon) => runs[i].map((c) => c[k]);
    console.log(`\nthroughput: autocannon, 32 connections, POST /invocations, ${RUNS} interleaved runs × ${SECONDS} s (load avg ${os.loadavg()[0].toFixed(1)})`);
    for (const [i, b] of [[1, 0], [3, 2]] as const) {
      const bareName = cases[b].name;
      results.add({ name: `${cases[i].name}: requests/s`, value: med(i, "rps"), unit: "req/s", runs: each(i, "rps"),
        baseline: { name: bareName, value: med(b, "rps") }, target: i === 1 ? { op: ">=", value: 0.6, on: "ratio" } : undefined });
      results.add({ name: `${cases[i].name}: p50 latency`, value: med(i, "p50"), unit: "ms", baseline: { name: bareName, value: med(b, "p50") } });
      results.add({ name: `${cases[i].name}: p99 latency`, value: med(i, "p99"), unit: "ms", runs: each(i, "p99"),
        baseline: { name: bareName, value: med(b, "p99") }, target: i === 1 ? { op: "<=", value: 2, on: "ratio" } : undefined });
    }
    results.add({ name: "endpoint: 2 workers over 1 process, requests/s", value: med(3, "rps"), unit: "req/s", baseline: { name: "endpoint, 1 process", value: med(1, "rps") } });
    results.add({ name: "bare server: 2 workers over 1 process, requests/s", value: med(2, "rps"), unit: "req/s", baseline: { name: "bare server, 1 process", value: med(0, "rps") } });
    results.add({ name: "endpoint CPU per request (1 process)", value: (cpuMs * 1000) / Math.max(1, served), unit: "µs" });
    const failed = runs.flat().reduce((s, c) => s + c.errors + c.non2xx, 0);
    results.add({ name: "autocannon errors + non-2xx (all runs)", value: failed, unit: "", target: { op: "==", value: 0, on: "value" } });
    console.log(`runs: ${cases.map((c, i) => `${c.name} ${each(i, "rps").map((x) => x.toFixed(0)).join("/")} req/s`).join("; ")}`);
  } finally {
    for (const s of servers) await s.stop();
    fs.rmSync(logDir, { recursive: true, force: true });
  }
}

async function loadScenarios() {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-bench-endpoint-"));
  const config = loadConfig();
  config.workspace = ws;
  const m = await ExperimentManager.create(config, "bench-ep", { log: () => undefined });
  let bare: ServerProcess | null = null;
  try {
    const rows = Array.from({ length: 300 }, (_, i) => ({
      reward: i % 3 === 0 ? 1 : 0, event_id: `w${i}`, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "w",
      observation: OBS.map((v, j) => v * ((i + j) % 5)), sample_prob: (i % 100) / 100,
    }));
    await m.ingestJoinedData(rows, 0.8);
    const models = [(await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData })).model_id];
    models.push((await m.trainNextModel()).model_id);
    const url = (await m.deployModel({ modelId: models[0] })).url;
    const sdk: number[] = [];
    const plainSdk: number[] = [];
    const clientUs: number[] = [];
    bare = await startServer("bare-server.js", ["--workers", "1"]);
    for (let r = 0; r < RUNS; r++) {
      plainSdk.push((await plainSdkLoad(bare.url, SECONDS)).rps);
      const c0 = process.cpuUsage();
      const res = await sdkLoad(m, SECONDS);
      const c1 = process.cpuUsage(c0);
      sdk.push(res.rps);
      clientUs.push((c1.user + c1.system) / Math.max(1, res.ok));
    }
    await bare.stop();
    bare = null;

    // 20 deploys (alternating two models) while autocannon and the SDK load the endpoint.
    const ids = new Set<string>();
    const loadSeconds = 8;
    const load = Promise.all([autocannon(url, loadSeconds, 16), sdkLoad(m, loadSeconds, 8, ids)]);
    const t0 = Date.now();
    let deploys = 0;
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 20; i++) {
      await m.deployModel({ modelId: models[(i + 1) % 2] });
      deploys++;
    }
    const deploySeconds = (Date.now() - t0) / 1000;
    const [cannonDuring, sdkDuring] = await load;
    const unknown = [...ids].filter((id) => !models.includes(id));

    console.log(`\nSageMaker Runtime client and deploys under load (load avg ${os.loadavg()[0].toFixed(1)})`);
    // The Predictor and the endpoint together keep up with a plain SDK client calling a server that does nothing.
    results.add({ name: "SDK client (Predictor) from one process, requests/s", value: median(sdk), unit: "req/s", runs: sdk,
      baseline: { name: "plain SDK client vs bare server", value: median(plainSdk) }, target: { op: ">=", value: 1, on: "ratio" } });
    results.add({ name: "SDK client CPU per request", value: median(clientUs), unit: "µs" });
    results.add({ name: `failed requests during ${deploys} deploys`, value: cannonDuring.errors + cannonDuring.non2xx + sdkDuring.failed, unit: "",
      target: { op: "==", value: 0, on: "value" }, note: `${cannonDuring.total + sdkDuring.ok} requests served in ${deploySeconds.toFixed(1)} s` });
    results.add({ name: "model ids seen during deploys not old/new", value: unknown.length, unit: "", target: { op: "==", value: 0, on: "value" } });
  } finally {
    await bare?.stop();
    await m.cleanResource({ deleteData: true });
    await m.close();
    fs.rmSync(ws, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ 4. batch limits

const SERVE_SCRIPT = path.join(path.dirname(require.resolve("@cbkit/common")), "container", "serve.js");
const DEFAULT_CAP = 10000;
const ONE_LINE = JSON.stringify({ observation: OBS }) + "\n";
/** As many decisions as fit a 6 MB body (the issue's 110k). */
const FULL_BODY_LINES = Math.floor((6 * 1024 * 1024) / Buffer.byteLength(ONE_LINE));

interface Serve {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

function startServe(modelDir: string, cap: number): Promise<Serve> {
  const child = spawn(process.execPath, [SERVE_SCRIPT, "--port", "0", "--model-dir", modelDir, "--max-decisions-per-request", String(cap)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/\S+) /.exec(out);
      if (m) {
        resolve({
          url: m[1],
          pid: child.pid as number,
          stop: () => new Promise<void>((r) => (child.once("exit", () => r()), child.kill("SIGTERM"))),
        });
      }
    });
  });
}

/** Peak resident memory of a process so far (Linux), in MB; NaN elsewhere. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function postBatch(url: string, body: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(`${url}/invocations`, { method: "POST", body, headers: { "Content-Type": "application/jsonlines" } });
  await r.arrayBuffer();
  return { status: r.status, ms: performance.now() - t0 };
}

/** The longest /ping round trip (pings one after another) while `work` runs: how long the endpoint stalls. */
async function longestPingDuring(url: string, work: Promise<unknown>): Promise<number> {
  let done = false;
  void work.finally(() => (done = true));
  let longest = 0;
  while (!done) {
    const t0 = performance.now();
    await (await fetch(`${url}/ping`)).arrayBuffer();
    longest = Math.max(longest, performance.now() - t0);
  }
  return longest;
}

interface BatchCase {
  decisions: number;
  status: number;
  latencyMs: number;
  /** Endpoint CPU time per request (less dependent on the machine's other load than latency). */
  cpuMs: number;
  pingMs: number;
  peakMb: number;
}

/** One fresh endpoint: the median latency of `decisions`-line batches, then four at once for the peak RSS. */
async function batchCase(modelDir: string, cap: number, decisions: number): Promise<BatchCase> {
  const body = ONE_LINE.repeat(decisions);
  const serve = await startServe(modelDir, cap);
  try {
    const cpuMs = async () => ((await (await fetch(`${serve.url}/health`)).json()) as { cpu_ms: number }).cpu_ms;
    const latencies: number[] = [];
    let status = 0;
    const cpu0 = await cpuMs();
    for (let i = 0; i < 5; i++) {
      const r = await postBatch(serve.url, body);
      status = r.status;
      latencies.push(r.ms);
    }
    const cpuPerRequest = ((await cpuMs()) - cpu0) / 5;
    const pingMs = await longestPingDuring(serve.url, postBatch(serve.url, body));
    const four = await Promise.all(Array.from({ length: 4 }, () => postBatch(serve.url, body)));
    if (four.some((r) => r.status !== status)) throw new Error(`four at once answered ${four.map((r) => r.status).join(", ")}`);
    return { decisions, status, latencyMs: median(latencies), cpuMs: cpuPerRequest, pingMs, peakMb: peakRssMb(serve.pid) };
  } finally {
    await serve.stop();
  }
}

/** A model trained on 300 rows of OBS-like contexts, saved to `dir` (the endpoint's model). */
async function trainBenchModel(dir: string): Promise<void> {
  const learner = CbLearner.create({ numArms: 7, explorationPolicy: "egreedy", epsilon: 0.1, seed: 1 });
  const rows: JoinedRecord[] = Array.from({ length: 300 }, (_, i) => ({
    reward: i % 3 === 0 ? 1 : 0, event_id: `w${i}`, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "w",
    observation: OBS.map((v, j) => v * ((i + j) % 5)), sample_prob: (i % 100) / 100,
  }));
  await learner.train(rows);
  await saveModel(learner, dir, { modelId: "bench-endpoint-model-1", parentModelId: null });
}

async function batchLimits(dir: string) {
  const before = await batchCase(dir, FULL_BODY_LINES, FULL_BODY_LINES); // no effective cap: a 6 MB body is one batch
  const after = await batchCase(dir, DEFAULT_CAP, DEFAULT_CAP);
  const refused = await batchCase(dir, DEFAULT_CAP, FULL_BODY_LINES);

  const col = (x: string) => x.padStart(18);
  const row = (what: string, a: string, b: string, c: string) => console.log(`${what.padEnd(46)}${col(a)}${col(b)}${col(c)}`);
  console.log(`\nbatch limits (one endpoint process per column; a 6 MB body holds ${FULL_BODY_LINES} decisions; load avg ${os.loadavg()[0].toFixed(1)})`);
  row("", "before: no cap", `cap ${DEFAULT_CAP}`, `cap ${DEFAULT_CAP}, 6 MB`);
  row("decisions per request", String(before.decisions), String(after.decisions), String(refused.decisions));
  row("answer", String(before.status), String(after.status), String(refused.status));
  row("latency of one request (ms, median of 5)", before.latencyMs.toFixed(0), after.latencyMs.toFixed(0), refused.latencyMs.toFixed(0));
  row("endpoint CPU per request (ms, mean of 5)", before.cpuMs.toFixed(0), after.cpuMs.toFixed(0), refused.cpuMs.toFixed(0));
  row("longest /ping wait during it (ms)", before.pingMs.toFixed(0), after.pingMs.toFixed(0), refused.pingMs.toFixed(0));
  row("peak RSS with 4 such requests at once (MB)", before.peakMb.toFixed(0), after.peakMb.toFixed(0), refused.peakMb.toFixed(0));
  const uncapped = { name: "no cap (6 MB accepted)" };
  results.add({ name: "6 MB batch, cap 10000: answer", value: refused.status, unit: "", target: { op: "==", value: 413, on: "value" } });
  results.add({ name: "6 MB batch, cap 10000: latency of the refusal", value: refused.latencyMs, unit: "ms", baseline: { ...uncapped, value: before.latencyMs } });
  // The cap bounds memory: four refused 6 MB bodies peak at most half of what four accepted ones do.
  results.add({ name: "6 MB batch × 4 at once, cap 10000: peak RSS", value: refused.peakMb, unit: "MB", baseline: { ...uncapped, value: before.peakMb }, target: { op: "<=", value: 0.5, on: "ratio" } });
  results.add({ name: `batch at the cap (${DEFAULT_CAP} decisions): latency`, value: after.latencyMs, unit: "ms" });
  results.add({ name: `batch at the cap × 4 at once: peak RSS`, value: after.peakMb, unit: "MB" });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
