/**
 * Endpoint benchmark (loopback, the load generator on the same 2 cores):
 *  1. autocannon (its own process) against POST /invocations: requests/s, p99 latency, errors;
 *  2. the Predictor (SageMaker Runtime client) from one process: requests/s;
 *  3. 20 deploys during load: failed requests (autocannon + SDK) and the model ids seen.
 * Medians of `--runs` (default 3) runs of `--seconds` (default 4) each.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ExperimentManager, loadConfig } from "@cbkit/common";

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

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
