/**
 * Endpoint benchmark (loopback, the load generator on the same 2 cores):
 *  1. autocannon (its own process) against POST /invocations: requests/s, p99 latency, errors;
 *  2. the Predictor (SageMaker Runtime client) from one process: requests/s;
 *  3. 20 deploys during load: failed requests (autocannon + SDK) and the model ids seen;
 *  4. batch limits (serve started directly, one process per case): the latency of the largest
 *     batch a request may carry, the longest /ping wait during it, and the endpoint's peak RSS
 *     under four such requests at once, with the default cap (10000 decisions) beside a cap set
 *     out of reach (the "before": a 6 MB body of ~110k decisions is accepted), and what four
 *     6 MB batches cost the capped endpoint (refused with 413 after counting lines).
 * Medians of `--runs` (default 3) runs of `--seconds` (default 4) each. `--batches-only` runs 4 only.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, ExperimentManager, loadConfig, saveModel, type JoinedRecord } from "@cbkit/common";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg("runs", 3);
const SECONDS = arg("seconds", 4);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const OBS = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9];

interface Cannon {
  rps: number;
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
        const j = JSON.parse(out) as { requests: { average: number }; latency: { p99: number }; errors: number; non2xx: number; "2xx": number; timeouts: number };
        resolve({ rps: j.requests.average, p99: j.latency.p99, errors: j.errors + j.timeouts, non2xx: j.non2xx, total: j["2xx"] + j.non2xx });
      } catch (err) {
        reject(new Error(`autocannon output not JSON: ${out.slice(0, 200)}`));
      }
    });
  });
}

async function sdkLoad(m: ExperimentManager, seconds: number, concurrency = 32, ids?: Set<string>) {
  const p = m.predictor;
  const end = Date.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        try {
          const r = await p.getAction(OBS);
          ids?.add(r.modelId);
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
  if (!process.argv.includes("--batches-only")) await loadScenarios();
  await batchLimits();
}

async function loadScenarios() {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-bench-endpoint-"));
  const config = loadConfig();
  config.workspace = ws;
  const m = await ExperimentManager.create(config, "bench-ep", { log: () => undefined });
  try {
    const rows = Array.from({ length: 300 }, (_, i) => ({
      reward: i % 3 === 0 ? 1 : 0, event_id: `w${i}`, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "w",
      observation: OBS.map((v, j) => v * ((i + j) % 5)), sample_prob: (i % 100) / 100,
    }));
    await m.ingestJoinedData(rows, 0.8);
    const models = [(await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData })).model_id];
    models.push((await m.trainNextModel()).model_id);
    const url = (await m.deployModel({ modelId: models[0] })).url;
    await autocannon(url, 1); // warm-up

    // Server CPU per request (from /health), a measure that depends less on other load than rps.
    const health = async () => {
      const r = await fetch(`${url}/health`);
      return (await r.json()) as { served: number; cpu_ms: number };
    };
    const cannon: Cannon[] = [];
    const serverUs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const h0 = await health();
      cannon.push(await autocannon(url, SECONDS));
      const h1 = await health();
      serverUs.push(((h1.cpu_ms - h0.cpu_ms) * 1000) / Math.max(1, h1.served - h0.served));
    }
    const sdk: number[] = [];
    const clientUs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const c0 = process.cpuUsage();
      const res = await sdkLoad(m, SECONDS);
      const c1 = process.cpuUsage(c0);
      sdk.push(res.rps);
      clientUs.push((c1.user + c1.system) / Math.max(1, res.ok));
    }

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

    const med = (k: keyof Cannon) => median(cannon.map((c) => c[k]));
    const line = (what: string, value: string, target: string, ok: boolean) =>
      console.log(`${what.padEnd(44)} ${value.padStart(14)}   target ${target.padEnd(12)} ${ok ? "ok" : "MISSED"}`);
    console.log(`endpoint benchmark: ${RUNS} runs × ${SECONDS} s, medians (cpus: ${os.cpus().length}, load avg ${os.loadavg()[0].toFixed(1)})`);
    line("autocannon requests/s (32 connections)", med("rps").toFixed(0), ">= 8000", med("rps") >= 8000);
    line("autocannon p99 latency (ms)", med("p99").toFixed(1), "< 10", med("p99") < 10);
    line("autocannon errors + non-2xx (all runs)", String(cannon.reduce((s, c) => s + c.errors + c.non2xx, 0)), "0", cannon.every((c) => c.errors + c.non2xx === 0));
    line("endpoint CPU per request (µs)", median(serverUs).toFixed(0), "", true);
    line("  (one core's capacity, requests/s)", (1e6 / median(serverUs)).toFixed(0), "", true);
    line("SDK client from one process, requests/s", median(sdk).toFixed(0), ">= 2000", median(sdk) >= 2000);
    line("SDK client CPU per request (µs)", median(clientUs).toFixed(0), "", true);
    line("  (one core's capacity, requests/s)", (1e6 / median(clientUs)).toFixed(0), "", true);
    line(`failed requests during ${deploys} deploys (${deploySeconds.toFixed(1)} s)`, String(cannonDuring.errors + cannonDuring.non2xx + sdkDuring.failed), "0",
      cannonDuring.errors + cannonDuring.non2xx + sdkDuring.failed === 0);
    line("requests served during the deploys", String(cannonDuring.total + sdkDuring.ok), "", true);
    line("model ids seen during deploys not old/new", String(unknown.length), "0", unknown.length === 0);
    console.log(`runs: autocannon rps ${cannon.map((c) => c.rps.toFixed(0)).join(", ")}; p99 ${cannon.map((c) => c.p99).join(", ")} ms; sdk rps ${sdk.map((x) => x.toFixed(0)).join(", ")}`);
  } finally {
    await m.cleanResource();
    await m.close();
    fs.rmSync(ws, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ 4. batch limits

const SERVE_SCRIPT = path.join(path.dirname(require.resolve("@cbkit/common")), "container", "serve.js");
const DEFAULT_CAP = 10000;
const ONE_LINE = JSON.stringify({ observation: OBS }) + "\n";
/** As many decisions as fit a 6 MB body (the 110k). */
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

async function batchLimits() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-bench-batches-"));
  try {
    const learner = CbLearner.create({ numArms: 7, explorationPolicy: "egreedy", epsilon: 0.1, seed: 1 });
    const rows: JoinedRecord[] = Array.from({ length: 300 }, (_, i) => ({
      reward: i % 3 === 0 ? 1 : 0, event_id: `w${i}`, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "w",
      observation: OBS.map((v, j) => v * ((i + j) % 5)), sample_prob: (i % 100) / 100,
    }));
    await learner.train(rows);
    await saveModel(learner, dir, { modelId: "bench-batches-model-1", parentModelId: null });

    const before = await batchCase(dir, 1e9, FULL_BODY_LINES); // no effective cap: a 6 MB body is one batch
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
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
