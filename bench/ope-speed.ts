/**
 * Throughput of off-policy evaluation on this machine (single thread): evaluatePolicy over
 * shuttle-shaped logs (9 features, 7 actions, uniform logging), with and without the bootstrap,
 * and the streaming accumulators on pre-scored rows (what a live dashboard or a worker pays per row).
 *
 * Usage: node build/bench/ope-speed.js [--rows 20000]
 */
import { DR, IPS, evaluatePolicy, type JoinedRecord } from "@cbkit/common";
import { OpeAccumulator, type OpeSample } from "@cbkit/common/ope";
import { Rng } from "@cbkit/common/util";

function parseRows(argv: string[]): number {
  const i = argv.indexOf("--rows");
  return i >= 0 ? Number(argv[i + 1]) : 20000;
}

function syntheticShuttleLog(n: number): JoinedRecord[] {
  const rng = new Rng("ope-speed");
  const out: JoinedRecord[] = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: 9 }, () => rng.normal());
    const label = x[0] > 0.8 ? 4 : x[1] > 1.2 ? 5 : 1;
    const a = 1 + rng.int(7);
    out.push({ reward: a === label ? 1 : 0, event_id: `e${i}`, action: a, action_prob: 1 / 7, model_id: "m", observation: x, sample_prob: 0.5 });
  }
  return out;
}

/** A fixed linear-argmax policy with 5 % exploration, cheap enough not to dominate the timing. */
const target = {
  predictPmf(x: number[]): Float64Array {
    const best = x[0] > 0.8 ? 3 : x[1] > 1.2 ? 4 : 0;
    const pmf = new Float64Array(7).fill(0.05 / 7);
    pmf[best] += 0.95;
    return pmf;
  },
};

async function timeIt(label: string, n: number, run: () => Promise<unknown> | unknown): Promise<void> {
  await run(); // warm-up (JIT)
  const t0 = process.hrtime.bigint();
  await run();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${label.padEnd(58)} ${(n / s).toFixed(0).padStart(10)} rows/s  (${s.toFixed(2)} s)`);
}

async function main(): Promise<void> {
  const n = parseRows(process.argv.slice(2));
  const log = syntheticShuttleLog(n);
  console.log(`OPE throughput, ${n} rows × 9 features × 7 actions, single thread\n`);
  await timeIt("evaluatePolicy, 5 estimators, 1000 bootstrap replicates", n, () => evaluatePolicy(log, target, { seed: 1 }));
  await timeIt("evaluatePolicy, 5 estimators, normal intervals only", n, () => evaluatePolicy(log, target, { seed: 1, bootstrapSamples: 0 }));
  await timeIt("evaluatePolicy, dr only, 1000 bootstrap replicates", n, () => evaluatePolicy(log, target, { seed: 1, estimators: [DR] }));
  await timeIt("evaluatePolicy, ips only, normal intervals only", n, () => evaluatePolicy(log, target, { seed: 1, estimators: [IPS], bootstrapSamples: 0 }));
  const samples: OpeSample[] = log.map((r, i) => ({ cost: 1 - r.reward, propensity: r.action_prob, targetProb: target.predictPmf(r.observation)[r.action - 1], directCost: 0.2, predictedCost: 0.3, key: i }));
  await timeIt("OpeAccumulator(DR).add, 1000 bootstrap replicates", n, () => {
    const acc = new OpeAccumulator(DR, { seed: 1 });
    for (const s of samples) acc.add(s);
    return acc.result();
  });
  await timeIt("OpeAccumulator(DR).add, normal interval only", n, () => {
    const acc = new OpeAccumulator(DR, { seed: 1, bootstrapSamples: 0 });
    for (const s of samples) acc.add(s);
    return acc.result();
  });
  console.log(`\npeak resident memory ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
