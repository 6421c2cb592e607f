/**
 * Learner speed, single thread, shuttle contexts (9 features × 7 actions): learn and predict rates
 * in memory, and a whole training job from a file of 1,000,000 joined records (written to a temp
 * folder first), for linear egreedy (target: learn ≥ 1,000,000/s, predict ≥ 2,000,000/s, file
 * training ≥ 450,000 records/s), VW-legacy dr, bag, cover and the shipped configuration; peak memory.
 * Rates are medians of repeated runs; wall-clock and per-CPU-second rates are both printed because
 * the 2-core machine is shared (per CPU second = what one free core would do).
 *
 * Usage: node build/bench/learner-speed.js [--records N] [--quick]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, JoinedRecord, LearnerOptions, readJoinedRecords, saveModel } from "@cbkit/common";
import { JOINED_CSV_HEADER, joinedCsvLine } from "@cbkit/common/data";
import { Rng } from "@cbkit/common/util";
import { BenchResults } from "./lib/results";
import { loadStatlogData } from "@cbkit/sim_app";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const recArg = args.indexOf("--records");
const FILE_RECORDS = recArg >= 0 ? Number(args[recArg + 1]) : quick ? 200_000 : 1_000_000;
const N = quick ? 50_000 : 100_000;
/** Records of the smaller file the other configurations train from (keeps the run short). */
const OTHER_RECORDS = Math.min(FILE_RECORDS, quick ? 50_000 : 200_000);
const REPS = quick ? 2 : 3;

const configs: { name: string; o: LearnerOptions; file: boolean; targets?: { learn?: number; predict?: number; file?: number } }[] = [
  { name: "linear egreedy 0.1 (mtr, kit default)", o: { numArms: 7, explorationPolicy: "egreedy", epsilon: 0.1 }, file: true, targets: { learn: 1_000_000, predict: 2_000_000, file: 450_000 } },
  { name: "linear egreedy 0.1, dr (VW legacy)", o: { numArms: 7, explorationPolicy: "egreedy", epsilon: 0.1, cbType: "dr" }, file: true },
  { name: "bag 3 (mtr)", o: { numArms: 7, explorationPolicy: "bag", numPolicies: 3 }, file: true },
  { name: "cover 3 (mtr)", o: { numArms: 7, explorationPolicy: "cover", numPolicies: 3, psi: 0.05 }, file: true },
  { name: "shipped: egreedy+floor, mtr, bins 16", o: { numArms: 7, explorationPolicy: "egreedy", epsilon: 0.001, minProbability: 0.001, featureMap: "bins" }, file: true },
];

function med(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs fn `reps` times; returns median wall rate and median per-CPU-second rate for n items. */
function rate(n: number, reps: number, fn: () => void): { wall: number; cpu: number } {
  const wall: number[] = [], cpu: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    wall.push(n / dt);
    cpu.push(n / ((c.user + c.system) / 1e6));
  }
  return { wall: med(wall), cpu: med(cpu) };
}

async function rateAsync(n: () => number, reps: number, fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const wall: number[] = [], cpu: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    wall.push(n() / dt);
    cpu.push(n() / ((c.user + c.system) / 1e6));
  }
  return { wall: med(wall), cpu: med(cpu) };
}

const fmt = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${Math.round(x / 1e3)}k`);
const verdict = (x: { wall: number; cpu: number }, t?: number) => (t === undefined ? "" : x.wall >= t ? `PASS (≥ ${fmt(t)})` : x.cpu >= t ? `pass per CPU-s only (≥ ${fmt(t)}; machine busy)` : `FAIL (< ${fmt(t)})`);

/**
 * The figures with a target, for the measured tables: rates per CPU-second (what one free core
 * does; the wall-clock rate on a shared machine says more about the neighbours), beside the
 * same-process baselines (plain SGD; reading and parsing the file). A miss exits 1.
 */
const results = new BenchResults("learner-speed");

async function main(): Promise<void> {
  const t0 = Date.now();
  const data = loadStatlogData();
  const nf = data.numFeatures;
  const rng = new Rng("speed");
  const ctx: number[][] = [];
  const act = new Int32Array(N), cost = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const r = rng.int(data.numRows);
    ctx.push(Array.from(data.contexts.subarray(r * nf, (r + 1) * nf)));
    act[i] = rng.int(7) + 1;
    cost[i] = data.labels[r] === act[i] ? 0 : 1;
  }
  console.log(`learner speed: ${N} shuttle examples in memory (9 features × 7 actions), ${REPS} runs each, median; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
  console.log("rates: wall-clock / per CPU-second");

  let sgdBaseline = { name: "plain SGD (same process)", value: NaN };
  // Baseline in the same process: a plain dense SGD on 7 linear regressors (no hashing, no
  // adaptivity) — the floor cost of touching the same numbers in JavaScript.
  {
    const w = new Float64Array(7 * 10);
    const base = rate(N, REPS, () => {
      for (let i = 0; i < N; i++) {
        const x = ctx[i], a = act[i] - 1;
        let p = w[a * 10 + 9];
        for (let j = 0; j < 9; j++) p += w[a * 10 + j] * x[j];
        const g = 0.01 * (cost[i] - p);
        for (let j = 0; j < 9; j++) w[a * 10 + j] += g * x[j];
        w[a * 10 + 9] += g;
      }
    });
    console.log(`${"baseline: plain SGD, one regressor update".padEnd(42)} learn ${fmt(base.wall)}/${fmt(base.cpu)}`);
    sgdBaseline = { name: "plain SGD (same process)", value: base.cpu };
  }

  const pmf = new Float64Array(7);
  for (const c of configs) {
    let l = CbLearner.create(c.o);
    const learn = rate(N, REPS, () => {
      l = CbLearner.create(c.o);
      for (let i = 0; i < N; i++) l.learn(ctx[i], act[i], cost[i], 1 / 7);
    });
    const predictInto = rate(N, REPS, () => {
      for (let i = 0; i < N; i++) l.predictPmfInto(ctx[i], pmf);
    });
    const predict = rate(N, REPS, () => {
      for (let i = 0; i < N; i++) l.predictPmf(ctx[i]);
    });
    const choose = rate(N, REPS, () => {
      for (let i = 0; i < N; i++) l.chooseAction(ctx[i], `event-${i}`);
    });
    console.log(`${c.name.padEnd(42)} learn ${fmt(learn.wall)}/${fmt(learn.cpu)} ${verdict(learn, c.targets?.learn)}`);
    console.log(`${"".padEnd(42)} predictPmfInto ${fmt(predictInto.wall)}/${fmt(predictInto.cpu)} ${verdict(predictInto, c.targets?.predict)}; predictPmf ${fmt(predict.wall)}/${fmt(predict.cpu)}; chooseAction ${fmt(choose.wall)}/${fmt(choose.cpu)}`);
    if (c.targets?.learn !== undefined) results.add({ name: `${c.name}: learn per CPU-second`, value: learn.cpu, unit: "/s", baseline: sgdBaseline, target: { op: ">=", value: c.targets.learn, on: "value" }, note: `wall ${fmt(learn.wall)}/s` });
    if (c.targets?.predict !== undefined) results.add({ name: `${c.name}: predictPmfInto per CPU-second`, value: predictInto.cpu, unit: "/s", target: { op: ">=", value: c.targets.predict, on: "value" }, note: `wall ${fmt(predictInto.wall)}/s` });
  }

  // A whole training job from a file.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-speed-"));
  try {
    const file = path.join(dir, "joined.csv");
    const smallFile = path.join(dir, "joined-small.csv");
    const w0 = Date.now();
    // The file is what writeJoinedCsv writes (checked on the first record); the observation text
    // of each shuttle row is formatted once, so setting up the benchmark stays quick.
    const obsText = new Map<number, string>();
    const writeFile = (f: string, n: number) => {
      const r2 = new Rng("speed-file");
      const fd = fs.openSync(f, "w");
      let chunk: string[] = [JOINED_CSV_HEADER];
      for (let i = 0; i < n; i++) {
        const r = r2.int(data.numRows);
        const a = r2.int(7) + 1;
        let text = obsText.get(r);
        if (text === undefined) obsText.set(r, (text = Array.from(data.contexts.subarray(r * nf, (r + 1) * nf)).join(", ")));
        const rec: JoinedRecord = { reward: data.labels[r] === a ? 1 : 0, event_id: `event-${i}`, action: a, action_prob: 1 / 7, model_id: "warm", observation: [], sample_prob: 0.5 };
        const line = `"${rec.reward}","${rec.event_id}","${a}","${rec.action_prob}","warm","[${text}]","0.5"`;
        if (i === 0 && line !== joinedCsvLine({ ...rec, observation: Array.from(data.contexts.subarray(r * nf, (r + 1) * nf)) })) throw new Error("bench CSV differs from writeJoinedCsv's");
        chunk.push(line);
        if (chunk.length >= 16384) {
          fs.writeSync(fd, chunk.join("\n") + "\n");
          chunk = [];
        }
      }
      if (chunk.length) fs.writeSync(fd, chunk.join("\n") + "\n");
      fs.closeSync(fd);
    };
    writeFile(file, FILE_RECORDS);
    writeFile(smallFile, OTHER_RECORDS);
    const mb = fs.statSync(file).size / 1e6;
    console.log(`\ntraining job from a file: ${FILE_RECORDS} joined records, ${mb.toFixed(0)} MB CSV (the target configuration; the others use the first ${OTHER_RECORDS}); written in ${((Date.now() - w0) / 1000).toFixed(1)} s`);
    let count = 0;
    const readOnly = await rateAsync(() => count, 1, async () => {
      count = 0;
      for await (const b of readJoinedRecords(file).columnBatches()) count += b.n;
    });
    console.log(`${"baseline: read + parse only".padEnd(42)} ${fmt(readOnly.wall)}/${fmt(readOnly.cpu)} records/s`);
    for (const c of configs.filter((x) => x.file)) {
      let used = 0;
      let modelBytes = 0;
      const job = await rateAsync(() => used, quick || !c.targets?.file ? 1 : 2, async () => {
        const l = CbLearner.create(c.o);
        const rep = await l.train(readJoinedRecords(c.targets?.file ? file : smallFile));
        const meta = await saveModel(l, path.join(dir, "model"), { modelId: "bench", parentModelId: null });
        used = rep.used;
        modelBytes = meta.weights.bytes;
      });
      if (c.targets?.file !== undefined) {
        results.add({ name: `${c.name}: training from a ${FILE_RECORDS}-record CSV per CPU-second`, value: job.cpu, unit: "records/s", baseline: { name: "read + parse only", value: readOnly.cpu },
          target: { op: ">=", value: c.targets.file, on: "value" }, note: `wall ${fmt(job.wall)}/s` });
      }
      console.log(`${c.name.padEnd(42)} ${fmt(job.wall)}/${fmt(job.cpu)} records/s ${verdict(job, c.targets?.file)}  (model ${(modelBytes / 1024).toFixed(1)} KB, RSS now ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB)`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const mem = process.memoryUsage();
  console.log(`\nmemory: the learner itself is the model above (weights for the features seen, not a 2^b table); the file job streams 1 MB chunks (bins hold the first BIN_FIT_ROWS rows to fit edges); bench/streaming.ts compares with VW`);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (whole benchmark process incl. ${N} in-memory examples); heap used now ${(mem.heapUsed / 1e6).toFixed(0)} MB`);
  console.log(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  results.save();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
