/**
 * Learner quality on the workshop's task: `bandits simulate`'s protocol (warm start 100, then 15
 * loops × 500 decisions, frozen model per loop, retrained warm-started on each loop's train split),
 * median over seeds 1..10 of the mean reward over all loops and over loops 11–15, and the targets
 * of the shipped configuration. Baselines (always class 1, uniform random) run in the same process
 * on the same simulated users. Vowpal Wabbit on the same protocol: bench/vw-side-by-side.ts.
 *
 * Usage: node build/bench/learner-quality.js [--seeds N] [--json]
 */
import { LearnerOptions } from "@cbkit/common";
import { Rng } from "@cbkit/common/util";
import { StatlogSimApp, simulate } from "@cbkit/sim_app";
import { median } from "@cbkit/sim_app/simulate";
import { BenchResults, Figure, checkFigure } from "./lib/results";

type Row = {
  name: string;
  learner: Omit<LearnerOptions, "numArms">;
  target?: { overall?: number; last5?: number; minProb?: number };
};

const args = process.argv.slice(2);
const seedsArg = args.indexOf("--seeds");
const numSeeds = seedsArg >= 0 ? Number(args[seedsArg + 1]) : 10;
const json = args.includes("--json");
const seeds = Array.from({ length: numSeeds }, (_, i) => i + 1);

const SHIPPED: Omit<LearnerOptions, "numArms"> = { explorationPolicy: "egreedy", epsilon: 0.001, minProbability: 0.001, cbType: "mtr", featureMap: "bins", numBins: 16 };

const rows: Row[] = [
  // VW's legacy --cb semantics (cb_type dr), linear features.
  { name: "egreedy 0.001, dr (VW legacy)", learner: { explorationPolicy: "egreedy", epsilon: 0.001, cbType: "dr" } },
  { name: "egreedy 0.1, dr (VW legacy)", learner: { explorationPolicy: "egreedy", epsilon: 0.1, cbType: "dr" } },
  { name: "bag 3, dr (VW legacy)", learner: { explorationPolicy: "bag", numPolicies: 3, cbType: "dr" } },
  { name: "cover 3, dr, psi 0.05 (VW 8.7.0: eps-scaled)", learner: { explorationPolicy: "cover", numPolicies: 3, cbType: "dr", psi: 0.05 } },
  { name: "cover 3, dr, psi 1 (VW 9 semantics)", learner: { explorationPolicy: "cover", numPolicies: 3, cbType: "dr", psi: 1 } },
  // The same arguments with the kit's default estimator (mtr, VW 9's default).
  { name: "egreedy 0.001 (kit default mtr)", learner: { explorationPolicy: "egreedy", epsilon: 0.001 } },
  { name: "egreedy 0.1 (kit default mtr)", learner: { explorationPolicy: "egreedy", epsilon: 0.1 } },
  { name: "bag 3 (kit default mtr)", learner: { explorationPolicy: "bag", numPolicies: 3 } },
  { name: "cover 3, psi 0.05 (kit default mtr)", learner: { explorationPolicy: "cover", numPolicies: 3, psi: 0.05 } },
  { name: "squarecb (mtr, linear)", learner: { explorationPolicy: "squarecb" } },
  { name: "SHIPPED: egreedy 0.001 + floor 0.001, mtr, bins 16", learner: SHIPPED, target: { overall: 0.95, last5: 0.97, minProb: 0.001 } },
  { name: "shipped, quadratic instead of bins", learner: { ...SHIPPED, featureMap: "quadratic" } },
  { name: "shipped, linear instead of bins", learner: { ...SHIPPED, featureMap: "linear" } },
];

/** Always-class-1 and uniform-random policies on the same users (same seeds, same loops). */
function baseline(kind: "majority" | "uniform"): { overall: number; last5: number } {
  const overall: number[] = [], last5: number[] = [];
  for (const seed of seeds) {
    const sim = new StatlogSimApp({ seed });
    const rng = new Rng(`baseline-${seed}`);
    const loops: number[] = [];
    for (let l = 0; l < 15; l++) {
      let sum = 0;
      for (let i = 0; i < 500; i++) sum += sim.rewardOf(sim.chooseRandomUser().userId, kind === "majority" ? 1 : rng.int(sim.numActions) + 1);
      loops.push(sum / 500);
    }
    overall.push(loops.reduce((a, b) => a + b, 0) / 15);
    last5.push(loops.slice(10).reduce((a, b) => a + b, 0) / 5);
  }
  return { overall: median(overall), last5: median(last5) };
}

/** A row's targets as bench figures (none for an information-only row). */
function targetFigures(row: Row, m: { overall: number; last5: number; minProb: number }, majority: number): Omit<Figure, "ok" | "ratio">[] {
  const t = row.target ?? {};
  const figures: Omit<Figure, "ok" | "ratio">[] = [];
  if (t.overall !== undefined) figures.push({ name: `${row.name}: mean reward, median of ${numSeeds} seeds`, value: m.overall, unit: "", baseline: { name: "always class 1", value: majority }, target: { op: ">=", value: t.overall, on: "value" } });
  if (t.last5 !== undefined) figures.push({ name: `${row.name}: mean reward in loops 11–15`, value: m.last5, unit: "", target: { op: ">=", value: t.last5, on: "value" } });
  if (t.minProb !== undefined) figures.push({ name: `${row.name}: smallest logged probability`, value: m.minProb, unit: "", target: { op: ">=", value: t.minProb - 1e-12, on: "value" } });
  return figures;
}

async function main(): Promise<void> {
  const results: Record<string, unknown>[] = [];
  const t0 = Date.now();
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (x: number | undefined) => (x === undefined ? "" : x.toFixed(3));
  if (!json) {
    console.log(`learner quality: median over seeds 1..${numSeeds}, 15 loops x 500 decisions (mean reward; oracle 1.0)`);
    console.log(`${pad("configuration", 52)} ${"overall".padStart(7)} ${"L11-15".padStart(7)} ${"min p".padStart(8)}  ${"target".padStart(16)}  verdict`);
  }
  // The baselines run on their own users (same seeds), so computing them first changes no figure.
  const maj = baseline("majority"), uni = baseline("uniform");
  // The targets' figures, recorded after the table (BenchResults prints each as it records it).
  const targets: Omit<Figure, "ok" | "ratio">[] = [];
  for (const row of rows) {
    const t = Date.now();
    const runs = [];
    for (const seed of seeds) runs.push(await simulate({ learner: row.learner, seed }));
    const overall = median(runs.map((r) => r.overall));
    const last5 = median(runs.map((r) => r.lastFive));
    const minProb = Math.min(...runs.map((r) => r.minLoggedProb));
    const own = targetFigures(row, { overall, last5, minProb }, maj.overall);
    targets.push(...own);
    const verdict = own.length === 0 ? "(info)" : own.every((f) => checkFigure(f).ok) ? "PASS" : "FAIL";
    const targetText = row.target
      ? [row.target.overall !== undefined ? `>=${row.target.overall.toFixed(3)}` : "", row.target.last5 !== undefined ? `L>=${row.target.last5}` : "", row.target.minProb !== undefined ? `p>=${row.target.minProb}` : ""].filter(Boolean).join(" ")
      : "";
    const res = { name: row.name, learner: row.learner, overall, loops11to15: last5, minLoggedProb: minProb, target: row.target ?? null, verdict, perSeedOverall: runs.map((r) => r.overall), seconds: (Date.now() - t) / 1000 };
    results.push(res);
    if (!json) {
      console.log(`${pad(row.name, 52)} ${num(overall).padStart(7)} ${num(last5).padStart(7)} ${minProb.toExponential(1).padStart(8)}  ${targetText.padStart(16)}  ${verdict}`);
    }
  }
  if (!json) {
    console.log(`${pad("baseline: always class 1 (same users)", 52)} ${num(maj.overall).padStart(7)} ${num(maj.last5).padStart(7)}`);
    console.log(`${pad("baseline: uniform random (same users)", 52)} ${num(uni.overall).padStart(7)} ${num(uni.last5).padStart(7)}`);
    console.log(`\n${rows.length} configurations in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${results.filter((r) => r.verdict === "FAIL").length} below target`);
  } else {
    console.log(JSON.stringify({ seeds: numSeeds, results, baselines: { majority: maj, uniform: uni } }, null, 2));
  }
  // For the measured tables; a miss fails the bench (BenchResults sets the exit code).
  const figures = new BenchResults("learner-quality");
  for (const f of targets) figures.add(f);
  figures.save();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
