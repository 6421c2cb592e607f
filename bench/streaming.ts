/**
 * Streaming paths beside Vowpal Wabbit, whole processes, in one run (issue 17 goals 1, 2 and 6):
 * training from CSV, JSON lines and VW text, training with the shipped config (bins), scoring
 * every context (`bandits predict` vs VW `-t -p`), and offline evaluation with its defaults
 * (5 estimators, DR, 1,000 bootstrap samples). The same shuttle-derived records in each format are
 * written to a temp folder first; each path runs `--runs` times, kit and VW interleaved; the
 * table shows medians, the kit/VW ratio, and peak RSS above each program's own start-up RSS
 * (`bandits --help`; VW: importing it).
 *
 * Targets: every kit/VW ratio ≥ 1.2, every kit RSS ≤ 64 MB above its baseline; evaluation
 * ≥ 50,000 rows/s, and bounded: ≤ 192 MB above the baseline (worker threads and the cross-fitting's
 * statistics are most of it), and evaluating all `--records` rows (once, after the timed runs)
 * peaks at most 64 MB above evaluating `--eval-records` (the allocator's and the garbage
 * collector's slack settles within that; holding even 100 bytes per row would pass it). A missed
 * target prints FAIL and the bench exits 1 (lib/results.ts).
 *
 * Usage: node build/bench/streaming.js [--records 1000000] [--eval-records 200000] [--runs 5]
 * VW: the `vowpalwabbit` package of the project's .venv, run by its own parser loop (bench/vw.ts).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findProjectRoot } from "@cbkit/common/config";
import { DataFormat, EXTENSION, writeShuttleRecords } from "./lib/data-files";
import { ProcessRun, median, runMeasured } from "./lib/measure";
import { BenchResults } from "./lib/results";
import { findVw, runVwJob, runVwStartup } from "./lib/vw";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg("--records", 1_000_000);
const EVAL_N = arg("--eval-records", 200_000);
const RUNS = arg("--runs", 5);
const RATIO_TARGET = 1.2;
const RSS_BOUND_MB = 64;
const EVAL_RATE_TARGET = 50_000;
const EVAL_RSS_BOUND_MB = 192;
/** Evaluating every row may peak at most this much above evaluating EVAL_N rows. */
const EVAL_GROWTH_BOUND_MB = 64;

const root = findProjectRoot();
const BANDITS = path.join(root, "sim_app", "bin", "bandits.js");
const LINEAR = ["--no-config", "--policy", "egreedy", "--epsilon", "0.1", "--num-arms", "7", "--cb-type", "mtr"];

interface Row {
  path: string;
  kit: ProcessRun[];
  vw: ProcessRun[] | null;
  rows: number;
  /** kit/VW ratio target, or an absolute rows/s target when there is no VW side. */
  ratioTarget?: number;
  rateTarget?: number;
  rssBound: number;
}

function kit(args: string[]): ProcessRun {
  return runMeasured(process.execPath, [BANDITS, ...args]);
}


async function main(): Promise<void> {
  const vw = findVw("bench/streaming.ts");
  if (!vw.ok) {
    console.error(`streaming bench: Vowpal Wabbit is needed for the baseline: ${vw.reason}`);
    process.exit(2);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-bench-streaming-"));
  try {
    await run(vw.python, tmp);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function run(python: string, tmp: string): Promise<void> {
  const t0 = Date.now();
  const file = (f: DataFormat) => path.join(tmp, `data${EXTENSION[f]}`);
  const sizes = (["csv", "jsonl", "vw"] as DataFormat[]).map((f) => `${f} ${(writeShuttleRecords(file(f), N, f) / 1e6).toFixed(0)} MB`);
  const evalFile = path.join(tmp, "eval.csv");
  writeShuttleRecords(evalFile, EVAL_N, "csv", "bench-eval");
  console.log(`streaming bench: ${N} shuttle-derived records (${sizes.join(", ")}), evaluation on ${EVAL_N}; ${RUNS} interleaved runs, medians`);
  console.log(`VW: vowpalwabbit (Python package, ${python}); load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")} on ${os.cpus().length} cores; written in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const kitBase = median([0, 1, 2].map(() => kit(["--help"]).peakMB));
  const vwBase: number[] = [];
  for (let i = 0; i < 3; i++) vwBase.push((await runVwStartup(python)).peakMB);
  const m = (name: string) => path.join(tmp, name);
  // VW's side of the first three rows is one job (VW reads only its own format), run beside each of
  // them: its runs are pooled, so the three ratios share one baseline of 3 × RUNS runs. (Separate
  // medians of 3 runs of the very same job differed by up to 20 % on this shared machine.)
  const vwLinear: ProcessRun[] = [];
  const rows: Row[] = [
    { path: "train from CSV (linear egreedy 0.1)", kit: [], vw: vwLinear, rows: N, ratioTarget: RATIO_TARGET, rssBound: RSS_BOUND_MB },
    { path: "train from JSON lines", kit: [], vw: vwLinear, rows: N, ratioTarget: RATIO_TARGET, rssBound: RSS_BOUND_MB },
    { path: "train from VW text", kit: [], vw: vwLinear, rows: N, ratioTarget: RATIO_TARGET, rssBound: RSS_BOUND_MB },
    { path: "train, shipped config (bins) from CSV", kit: [], vw: [], rows: N, ratioTarget: RATIO_TARGET, rssBound: RSS_BOUND_MB },
    { path: "score every context (predict vs -t -p)", kit: [], vw: [], rows: N, ratioTarget: RATIO_TARGET, rssBound: RSS_BOUND_MB },
    { path: "evaluate, defaults (5 est., DR, 1000 bootstrap)", kit: [], vw: null, rows: EVAL_N, rateTarget: EVAL_RATE_TARGET, rssBound: EVAL_RSS_BOUND_MB },
  ];
  const vwTrain = (epsilon: string, model: string) => runVwJob(python, ["--cb_explore", "7", "--epsilon", epsilon, "--cb_type", "mtr", "-d", file("vw"), "-f", model, "--quiet"]);
  for (let r = 0; r < RUNS; r++) {
    for (const [i, f] of (["csv", "jsonl", "vw"] as DataFormat[]).entries()) {
      vwLinear.push(await vwTrain("0.1", m("vw-linear.model")));
      rows[i].kit.push(kit(["train", ...LINEAR, "--data", file(f), "--out", m(`kit-${f}`)]));
    }
    // The shipped config's VW counterpart: the same policy without bins (VW has no bins feature map).
    rows[3].vw!.push(await vwTrain("0.001", m("vw-shipped.model")));
    rows[3].kit.push(kit(["train", "--config", path.join(root, "config.yaml"), "--data", file("csv"), "--out", m("kit-shipped")]));
    rows[4].vw!.push(await runVwJob(python, ["-t", "-i", m("vw-linear.model"), "-d", file("vw"), "-p", m("vw.preds"), "--quiet"]));
    rows[4].kit.push(kit(["predict", "--model", m("kit-csv"), "--data", file("csv"), "--out", m("kit-preds.csv")]));
    rows[5].kit.push(kit(["evaluate", "--no-config", "--model", m("kit-csv"), "--data", evalFile, "--json"]));
  }

  // Bounded memory: the same evaluation on every row of the big file, once.
  const evalAll = kit(["evaluate", "--no-config", "--model", m("kit-csv"), "--data", file("csv"), "--json"]);

  const k = (x: number) => `${(x / 1000).toFixed(0)} k/s`;
  console.log("");
  console.log(`${"path".padEnd(48)} ${"kit".padStart(9)} ${"VW".padStart(9)} ${"kit/VW".padStart(7)}  ${"kit RSS (+ above base)".padStart(22)} ${"VW RSS".padStart(7)}  verdict`);
  const results = new BenchResults("streaming");
  for (const row of rows) {
    const kitRate = row.rows / median(row.kit.map((x) => x.seconds));
    const kitCpuRate = row.rows / median(row.kit.map((x) => x.cpuSeconds));
    const kitRss = Math.max(...row.kit.map((x) => x.peakMB));
    const vwRate = row.vw ? row.rows / median(row.vw.map((x) => x.seconds)) : NaN;
    const vwRss = row.vw ? Math.max(...row.vw.map((x) => x.peakMB)) : NaN;
    const ratio = kitRate / vwRate;
    const rate = results.add({ name: `${row.path}: rows/s`, value: kitRate, unit: "rows/s", runs: row.kit.map((x) => row.rows / x.seconds),
      ...(row.vw ? { baseline: { name: "VW 9.11", value: vwRate }, target: { op: ">=", value: row.ratioTarget as number, on: "ratio" } } : { target: { op: ">=", value: row.rateTarget as number, on: "value" } }) });
    const rss = results.add({ name: `${row.path}: peak RSS above start-up`, value: kitRss - kitBase, unit: "MB", target: { op: "<=", value: row.rssBound, on: "value" }, note: row.vw ? `VW peak ${vwRss.toFixed(0)} MB` : undefined });
    const misses: string[] = [];
    if (!rate.ok) misses.push(row.vw ? `kit/VW < ${row.ratioTarget}` : `< ${k(row.rateTarget as number)}${kitCpuRate >= (row.rateTarget as number) ? ` (per CPU second ${k(kitCpuRate)}: machine busy)` : ""}`);
    if (!rss.ok) misses.push(`RSS > ${row.rssBound} MB above base`);
    const target = row.ratioTarget !== undefined ? `≥ ${row.ratioTarget}×` : `≥ ${k(row.rateTarget as number)}`;
    console.log(
      `${row.path.padEnd(48)} ${k(kitRate).padStart(9)} ${row.vw ? k(vwRate).padStart(9) : "—".padStart(9)} ${row.vw ? `${ratio.toFixed(2)}×`.padStart(7) : "".padStart(7)}  ` +
        `${`${kitRss.toFixed(0)} MB (+${(kitRss - kitBase).toFixed(0)})`.padStart(22)} ${row.vw ? `${vwRss.toFixed(0)} MB`.padStart(7) : "".padStart(7)}  ` +
        `${misses.length ? `FAIL: ${misses.join("; ")}` : `PASS (${target}, RSS ≤ +${row.rssBound} MB)`}`,
    );
  }
  const evalPeak = Math.max(...rows[5].kit.map((x) => x.peakMB));
  const growth = evalAll.peakMB - evalPeak;
  const { ok: bounded } = results.add({ name: `evaluate all ${N} rows: peak RSS over ${EVAL_N} rows`, value: growth, unit: "MB", target: { op: "<=", value: EVAL_GROWTH_BOUND_MB, on: "value" } });
  console.log(
    `${`evaluate all ${N} rows (once)`.padEnd(48)} ${k(N / evalAll.seconds).padStart(9)} ${"—".padStart(9)} ${"".padStart(7)}  ${`${evalAll.peakMB.toFixed(0)} MB (+${(evalAll.peakMB - kitBase).toFixed(0)})`.padStart(22)} ${"".padStart(7)}  ` +
      `${bounded ? "PASS" : "FAIL"}: ${growth >= 0 ? "+" : ""}${growth.toFixed(0)} MB over ${EVAL_N} rows (bound +${EVAL_GROWTH_BOUND_MB} MB: memory does not grow with the rows)`,
  );
  console.log(`\nbaselines: bandits --help ${kitBase.toFixed(0)} MB, VW start-up ${median(vwBase).toFixed(0)} MB; rates are whole processes (start-up included), rows / median wall seconds`);
  console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s; load average now ${os.loadavg()[0].toFixed(1)}`);
  results.save();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
