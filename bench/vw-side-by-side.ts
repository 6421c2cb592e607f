/**
 * The kit beside Vowpal Wabbit 9.11 (the `vowpalwabbit` Python package in .venv, run by
 * bench/vw_driver.py), the same work in one run, whole processes, interleaved runs, medians:
 *
 *  1. training from the same file of N shuttle-derived records (default 1,000,000; written by
 *     lib/data-files.ts with the seed FILE_SEED to a temp folder as the kit's joined-record CSV and
 *     as VW text, the same records): kit `bandits train` vs VW's own parser loop (`-d file -f model`);
 *  2. scoring the file's contexts with the trained model: kit `bandits evaluate --estimators ips
 *     --bootstrap 0` (the kit's nearest path; it has no scoring command yet) vs VW `-t -i model -p`;
 *  3. peak RSS of each whole process (GNU time);
 *  4. learner quality on the notebook protocol (warm start 100, 15 loops × 500, seeds 1..S): the
 *     kit and VW run the very same protocol (sim_app's runProtocol) on the same simulated users.
 *
 * Prints ratios kit / VW (for speed: higher is better for the kit); the figures go to
 * bench-output/vw-side-by-side.json (lib/results.ts), from which the README's table is written.
 *
 * Usage: node build/bench/vw-side-by-side.js [--records N] [--reps R] [--seeds S]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, LearnerOptions } from "@cbkit/common";
import { hash32, hashUnit, sampleIndex } from "@cbkit/common/util";
import { findProjectRoot } from "@cbkit/common/config";
import { ProtocolLearner, runProtocol } from "@cbkit/sim_app/simulate";
import { simulate } from "@cbkit/sim_app";
import { median } from "@cbkit/sim_app/simulate";
import { writeShuttleRecords } from "./lib/data-files";
import { measureProcess, ProcessRun } from "./lib/measure";
import { BenchResults } from "./lib/results";
import { VwSession, VwTranslation, findVw, runVwJob, vwArgumentsFor, vwLine } from "./lib/vw";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const RECORDS = opt("--records", 1_000_000);
const REPS = opt("--reps", 3);
const SEEDS = opt("--seeds", 10);

const root = findProjectRoot();
const BANDITS = path.join(root, "sim_app", "dist", "cli", "bandits.js");
const K = 7;
/** The records' seed (this bench's own since it began, so its figures compare with earlier runs). */
const FILE_SEED = "vw-side-by-side-file";

type Options = Omit<LearnerOptions, "numArms">;
/** The shipped configuration (config.yaml's algorithms_parameters). */
const SHIPPED: Options = { explorationPolicy: "egreedy", epsilon: 0.001, minProbability: 0.001, cbType: "mtr", featureMap: "bins", numBins: 16 };
const EG01: Options = { explorationPolicy: "egreedy", epsilon: 0.1, cbType: "mtr" };

/** Kit CLI flags for learner options (no config: every setting explicit). */
function kitFlags(o: Options): string[] {
  const f = ["--no-config", "--policy", o.explorationPolicy];
  if (o.epsilon !== undefined) f.push("--epsilon", String(o.epsilon));
  if (o.numPolicies !== undefined) f.push("--num-policies", String(o.numPolicies));
  if (o.psi !== undefined) f.push("--psi", String(o.psi));
  if (o.cbType !== undefined) f.push("--cb-type", o.cbType);
  if (o.featureMap !== undefined) f.push("--feature-map", o.featureMap);
  if (o.numBins !== undefined) f.push("--num-bins", String(o.numBins));
  if (o.minProbability !== undefined) f.push("--min-probability", String(o.minProbability));
  return f;
}

/** VW's arguments for the kit's options; VW has no bins map, so binned options run linear. */
const vwArgs = (o: Options, t: VwTranslation) => vwArgumentsFor({ numArms: K, ...o, featureMap: o.featureMap === "bins" ? "linear" : o.featureMap }, t);

interface SpeedRow { path: string; kit: ProcessRun[]; vw: ProcessRun[] }

const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;
const krate = (n: number, s: number) => `${Math.round(n / s / 1000)} k/s`;
const medianOf = (runs: ProcessRun[], f: (r: ProcessRun) => number) => median(runs.map(f));

/** VW as a ProtocolLearner: pmfs from VW, sampled with a hash of the event id (deterministic). */
function vwLearner(vw: VwSession, o: Options, seed: number): ProtocolLearner {
  const seedWord = hash32(`vw-${seed}`, 0);
  let edges: Record<string, number[]> | null = null;
  const binsNeeded = o.featureMap === "bins";
  // Features named f1..f9: VW 9's --cb_explore translation would merge features named 1..9
  // (docs/learner.md). For the bins map, VW gets the kit's own bins as one-hot features.
  const features = (x: number[]): Record<string, number> => {
    const f: Record<string, number> = {};
    x.forEach((v, i) => (f[`f${i + 1}`] = v));
    if (edges) x.forEach((v, i) => (f[`b${i + 1}_${binIndex(edges![String(i + 1)], v)}`] = 1));
    return f;
  };
  return {
    async choose(contexts, eventIds) {
      const pmfs = await vw.predict(contexts.map((c) => vwLine(features(c))));
      return pmfs.map((pmf, i) => {
        const a = sampleIndex(pmf, hashUnit(eventIds[i], seedWord));
        return { action: a + 1, actionProb: pmf[a], pmf };
      });
    },
    async train(records) {
      if (binsNeeded && edges === null) {
        // The kit fits its bin edges on the first training batch: take exactly those.
        const fit = CbLearner.create({ numArms: K, ...o });
        await fit.train(records);
        edges = fit.state.featureMap.binEdges;
      }
      await vw.learn(records.map((r) => vwLine(features(r.observation as number[]), { action: r.action, cost: 1 - r.reward, probability: r.action_prob })));
    },
  };
}

function binIndex(e: number[], v: number): number {
  let i = 0;
  while (i < e.length && e[i] <= v) i++;
  return i;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const tool = findVw("bench/vw-side-by-side.ts");
  if (!tool.ok) {
    console.log(tool.reason);
    process.exit(1);
  }
  const python = tool.python;
  const load0 = os.loadavg()[0];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-vw-"));
  const figures = new BenchResults("vw-side-by-side");
  try {
    const w0 = Date.now();
    const files = { csv: path.join(dir, "records.csv"), vw: path.join(dir, "records.vw") };
    const csvBytes = writeShuttleRecords(files.csv, RECORDS, "csv", FILE_SEED);
    const vwBytes = writeShuttleRecords(files.vw, RECORDS, "vw", FILE_SEED);
    console.log(`kit vs Vowpal Wabbit (vowpalwabbit Python package, its own parser loop), ${RECORDS.toLocaleString("en")} records (CSV ${mb(csvBytes)}, VW text ${mb(vwBytes)}, written in ${((Date.now() - w0) / 1000).toFixed(1)} s); whole processes, ${REPS} interleaved runs, medians; load average ${load0.toFixed(1)} on ${os.cpus().length} cores`);

    // ---- training and scoring
    const kitModel = path.join(dir, "kit-model"), vwModel = path.join(dir, "vw-model");
    const trainRows: { path: string; kit: () => Promise<ProcessRun>; vw: () => Promise<ProcessRun> }[] = [
      { path: "train from the kit's CSV, linear egreedy 0.1 (mtr)", kit: () => measureProcess(process.execPath, [BANDITS, "train", "--data", files.csv, "--out", kitModel, ...kitFlags(EG01)]), vw: () => runVwJob(python, ["-d", files.vw, "-f", vwModel, ...vwArgs(EG01, "adf").split(" ")]) },
      { path: "train from VW text, linear egreedy 0.1 (mtr)", kit: () => measureProcess(process.execPath, [BANDITS, "train", "--data", files.vw, "--out", path.join(dir, "kit-model-vw"), ...kitFlags(EG01)]), vw: () => runVwJob(python, ["-d", files.vw, ...vwArgs(EG01, "adf").split(" ")]) },
      { path: "train with the shipped config (kit: bins) from CSV", kit: () => measureProcess(process.execPath, [BANDITS, "train", "--data", files.csv, "--out", path.join(dir, "kit-model-shipped"), ...kitFlags(SHIPPED)]), vw: () => runVwJob(python, ["-d", files.vw, ...vwArgs(SHIPPED, "adf").split(" ")]) },
      { path: "train from CSV, linear egreedy 0.1, dr (VW: --cb_force_legacy)", kit: () => measureProcess(process.execPath, [BANDITS, "train", "--data", files.csv, "--out", path.join(dir, "kit-model-dr"), ...kitFlags({ ...EG01, cbType: "dr" })]), vw: () => runVwJob(python, ["-d", files.vw, ...vwArgs({ ...EG01, cbType: "dr" }, "legacy").split(" ")]) },
      { path: "score every context with the trained model (kit: evaluate, ips)", kit: () => measureProcess(process.execPath, [BANDITS, "evaluate", "--no-config", "--data", files.csv, "--model", kitModel, "--estimators", "ips", "--bootstrap", "0", "--json"]), vw: () => runVwJob(python, ["-t", "-i", vwModel, "-d", files.vw, "-p", path.join(dir, "vw-predictions.txt")]) },
    ];
    const speed: SpeedRow[] = trainRows.map((r) => ({ path: r.path, kit: [], vw: [] }));
    for (let rep = 0; rep < REPS; rep++) {
      for (let i = 0; i < trainRows.length; i++) {
        // Alternate who goes first, so neither side always meets the same machine state.
        const order = (rep + i) % 2 === 0 ? (["kit", "vw"] as const) : (["vw", "kit"] as const);
        for (const who of order) speed[i][who].push(await trainRows[i][who]());
      }
    }
    console.log(`\n${"path".padEnd(66)} ${"kit".padStart(9)} ${"VW".padStart(9)} ${"kit/VW".padStart(7)} ${"kit RSS".padStart(8)} ${"VW RSS".padStart(8)}`);
    const speedOut = speed.map((r) => {
      const ks = medianOf(r.kit, (x) => x.seconds), vs = medianOf(r.vw, (x) => x.seconds);
      const kr = medianOf(r.kit, (x) => x.peakMB * 2 ** 20), vr = medianOf(r.vw, (x) => x.peakMB * 2 ** 20);
      console.log(`${r.path.padEnd(66)} ${krate(RECORDS, ks).padStart(9)} ${krate(RECORDS, vs).padStart(9)} ${(vs / ks).toFixed(2).padStart(6)}× ${mb(kr).padStart(8)} ${mb(vr).padStart(8)}`);
      return { path: r.path, kitRecordsPerSecond: RECORDS / ks, vwRecordsPerSecond: RECORDS / vs, kitPeakRss: kr, vwPeakRss: vr };
    });
    // The speed ratios' targets are bench/streaming.ts's (the same paths); here they are information.
    for (const r of speedOut) figures.add({ name: r.path, value: r.kitRecordsPerSecond, unit: "records/s", baseline: { name: "VW 9.11", value: r.vwRecordsPerSecond }, note: `peak RSS kit ${mb(r.kitPeakRss)}, VW ${mb(r.vwPeakRss)}` });
    console.log(`(VW: ${vwArgs(EG01, "adf")}; -t -i model -p for scoring; the shipped row runs VW with linear features: ${vwArgs(SHIPPED, "adf")})`);

    // ---- quality on the notebook protocol
    const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);
    // Target: the kit at most 0.02 below VW on the same protocol; cover is information only (the kit
    // counts t in examples learned, VW in predictions made since the process started).
    const quality: { name: string; kit: Options; vw: VwTranslation; info?: true }[] = [
      { name: "egreedy 0.001, mtr (VW 9 default)", kit: { explorationPolicy: "egreedy", epsilon: 0.001, cbType: "mtr" }, vw: "adf" },
      { name: "egreedy 0.1, mtr (VW 9 default)", kit: { explorationPolicy: "egreedy", epsilon: 0.1, cbType: "mtr" }, vw: "adf" },
      { name: "bag 3, mtr (VW 9 default)", kit: { explorationPolicy: "bag", numPolicies: 3, cbType: "mtr" }, vw: "adf" },
      { name: "cover 3, psi 1, mtr (VW 9 default)", kit: { explorationPolicy: "cover", numPolicies: 3, psi: 1, cbType: "mtr" }, vw: "adf", info: true },
      { name: "egreedy 0.001, dr (VW legacy)", kit: { explorationPolicy: "egreedy", epsilon: 0.001, cbType: "dr" }, vw: "legacy" },
      { name: "egreedy 0.1, dr (VW legacy)", kit: { explorationPolicy: "egreedy", epsilon: 0.1, cbType: "dr" }, vw: "legacy" },
      { name: "bag 3, dr (VW legacy)", kit: { explorationPolicy: "bag", numPolicies: 3, cbType: "dr" }, vw: "legacy" },
      { name: "cover 3, psi 1, dr (VW legacy)", kit: { explorationPolicy: "cover", numPolicies: 3, psi: 1, cbType: "dr" }, vw: "legacy", info: true },
      { name: "shipped: egreedy 0.001 + floor 0.001, mtr, bins 16", kit: SHIPPED, vw: "adf" },
    ];
    console.log(`\nlearner quality, notebook protocol (warm start 100, 15 loops × 500), median over seeds 1..${SEEDS}; mean reward, VW on the same users`);
    console.log(`${"configuration".padEnd(52)} ${"kit".padStart(6)} ${"VW".padStart(6)} ${"kit−VW".padStart(7)}   ${"L11-15 kit".padStart(10)} ${"VW".padStart(6)}  verdict (kit ≥ VW − 0.02)`);
    const vw = new VwSession(python);
    try {
      for (const q of quality) {
        const kit = [], other = [];
        for (const seed of seeds) {
          kit.push(await simulate({ learner: q.kit, seed }));
          await vw.open(`${vwArgs(q.kit, q.vw)} --random_seed ${seed}`);
          other.push(await runProtocol(vwLearner(vw, q.kit, seed), { seed }));
        }
        const row = {
          kitOverall: median(kit.map((r) => r.overall)),
          vwOverall: median(other.map((r) => r.overall)),
          kitLastFive: median(kit.map((r) => r.lastFive)),
          vwLastFive: median(other.map((r) => r.lastFive)),
        };
        const d = row.kitOverall - row.vwOverall;
        const figure = figures.add({ name: `quality, ${q.name}: kit − VW mean reward, median of ${SEEDS} seeds`, value: d, unit: "",
          note: `kit ${row.kitOverall.toFixed(3)}, VW ${row.vwOverall.toFixed(3)}; loops 11–15 kit ${row.kitLastFive.toFixed(3)}, VW ${row.vwLastFive.toFixed(3)}`,
          ...(q.info ? {} : { target: { op: ">=", value: -0.02, on: "value" } }) });
        const verdict = figure.ok === null ? "(info)" : figure.ok ? "PASS" : "FAIL";
        console.log(`${q.name.padEnd(52)} ${row.kitOverall.toFixed(3).padStart(6)} ${row.vwOverall.toFixed(3).padStart(6)} ${`${d >= 0 ? "+" : ""}${d.toFixed(3)}`.padStart(7)}   ${row.kitLastFive.toFixed(3).padStart(10)} ${row.vwLastFive.toFixed(3).padStart(6)}  ${verdict}`);
      }
    } finally {
      await vw.close();
    }
    console.log(`(VW ${vw.version}; VW sees features f1..f9, and for the shipped row the kit's bins as one-hot features, epsilon 0.007 = the kit's floor 0.001 on 7 actions)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const out = figures.save();
  console.log(`\nload average ${load0.toFixed(1)} → ${os.loadavg()[0].toFixed(1)}; ${((Date.now() - t0) / 1000).toFixed(0)} s; results in ${path.relative(root, out)}; ${figures.missed.length} quality target(s) missed`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
