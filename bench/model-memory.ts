/**
 * Memory of a model per bit of `bits`: the numbers behind the learner's weight budget
 * (MAX_MODEL_WEIGHTS and LOAD_BYTES_PER_WEIGHT in common/src/learner/policies.ts).
 *
 * For each bits value, a child process fills every one of the 2^bits hashed rows of a shuttle-shaped
 * model (7 actions, egreedy, mtr: 7 weight columns) — the worst case, when the data has touched
 * every row — and saves it; a second child process loads it. Each reports its peak RSS, and the
 * bench prints the file size and the peak bytes per weight of loading (w, G and N, left in the
 * buffer the file was read into, and the row lookup), next to the budget's LOAD_BYTES_PER_WEIGHT
 * (the earlier copy-twice loader took 84). Loading above the budget by a quarter fails the bench
 * (exit code 1): the bits limits in config.yaml rest on it.
 *
 * Usage: node build/bench/model-memory.js [--bits 16,18,20,22]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, loadModel, saveModel } from "@cbkit/common";
import { BenchResults } from "./lib/results";
import { LOAD_BYTES_PER_WEIGHT, MAX_MODEL_WEIGHTS } from "@cbkit/common/learner";

const ARMS = 7;

interface Measure {
  peakMB: number;
  rows: number;
}

/** In a child process: fill and save (mode "save") or load (mode "load") the model in `dir`. */
async function child(mode: string, bits: number, dir: string): Promise<void> {
  let rows: number;
  if (mode === "save") {
    const learner = CbLearner.create({ numArms: ARMS, explorationPolicy: "egreedy", bits });
    const store = learner.gd.store;
    for (let i = 0; i < 2 ** bits; i++) store.rowOf(i); // every hashed index learning could reach
    rows = store.numRows;
    await saveModel(learner, dir, { modelId: `bits-${bits}`, parentModelId: null });
  } else {
    rows = (await loadModel(dir)).learner.gd.store.numRows;
  }
  const m: Measure = { peakMB: process.resourceUsage().maxRSS / 1024, rows };
  process.stdout.write(JSON.stringify(m));
}

function measure(mode: string, bits: number, dir: string): Measure {
  const r = spawnSync(process.execPath, [__filename, "--child", mode, String(bits), dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${mode} bits ${bits}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measure;
}

/** Peak RSS of a child process that loads nothing (the baseline subtracted from each run). */
function baselineMB(): number {
  const r = spawnSync(process.execPath, ["-e", "require('@cbkit/common'); process.stdout.write(String(process.resourceUsage().maxRSS / 1024))"], { encoding: "utf8", cwd: __dirname });
  return Number(r.stdout);
}

function main(): void {
  const arg = process.argv.indexOf("--bits");
  const bitsList = arg >= 0 ? process.argv[arg + 1].split(",").map(Number) : [16, 18, 20, 22];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-model-memory-"));
  try {
    const base = baselineMB();
    console.log(`model memory, ${ARMS} actions × 1 regressor block (egreedy, mtr), every row filled; baseline process ${base.toFixed(0)} MB`);
    console.log("bits  weights      file MB  save peak MB  load peak MB  load bytes/weight");
    let worst = 0;
    for (const bits of bitsList) {
      const dir = path.join(tmp, `bits-${bits}`);
      const saved = measure("save", bits, dir);
      const loaded = measure("load", bits, dir);
      const weights = saved.rows * ARMS;
      const fileMB = fs.statSync(path.join(dir, "weights.bin")).size / 2 ** 20;
      const perWeight = ((loaded.peakMB - base) * 2 ** 20) / weights;
      if (bits >= 18) worst = Math.max(worst, perWeight); // below, the process baseline's noise dominates
      console.log(
        `${String(bits).padStart(4)}  ${String(weights).padStart(10)}  ${fileMB.toFixed(0).padStart(7)}  ${saved.peakMB.toFixed(0).padStart(12)}  ${loaded.peakMB.toFixed(0).padStart(12)}  ${perWeight.toFixed(0).padStart(17)}`,
      );
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const results = new BenchResults("model-memory");
    const load = results.add({ name: "loading a saved model: peak bytes per weight (bits ≥ 18)", value: worst, unit: "B", target: { op: "<=", value: LOAD_BYTES_PER_WEIGHT * 1.25, on: "value" } });
    results.save();
    if (!load.ok) console.log(`FAIL: loading takes up to ${worst.toFixed(0)} bytes per weight, the budget assumes ${LOAD_BYTES_PER_WEIGHT} (+25 %)`);
    else console.log(`PASS: loading takes at most ${worst.toFixed(0)} bytes per weight (budget ${LOAD_BYTES_PER_WEIGHT}; the loader that copied the weights twice: 84)`);
    const gb = (MAX_MODEL_WEIGHTS * LOAD_BYTES_PER_WEIGHT) / 1e9;
    console.log(`budget: MAX_MODEL_WEIGHTS 2^${Math.log2(MAX_MODEL_WEIGHTS)} weights × ${LOAD_BYTES_PER_WEIGHT} bytes = ${gb.toFixed(1)} GB to load (a model must load on an 8 GB laptop)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child") {
  child(process.argv[3], Number(process.argv[4]), process.argv[5]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else main();
