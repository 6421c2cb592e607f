/**
 * How much DR moves with the choice of cross-fitting folds (issue 10 item 10), on shuttle.
 *
 * The default cost model of DM / DR / SNDR is cross-fitted: a row's fold is a hash of its content
 * (event id included) and the evaluation seed. Renaming the event ids or changing the seed
 * reassigns the folds, refits the cost models and moves the estimate a little. This measures how
 * much, against DR's own standard error:
 *
 *   - target: CbLearner (egreedy ε = 0.05, cb_type dr, linear features) trained on 5,000 rows of
 *     uniform-logged bandit feedback (as bench/ope-accuracy.ts);
 *   - per data set (`--sets`, default 20): `--rows` rows (default 500) drawn from the other rows,
 *     logged with uniform actions (p = 1/7);
 *   - per data set: DR with fold seeds 1..`--seeds` (default 20), and DR with seed 1 after
 *     renaming every event id (`--seeds` renamings); the spread (standard deviation) of each set
 *     of values divided by DR's standard error.
 *
 * It runs twice, side by side: one fold assignment (the baseline, as before the change) and the
 * default number of assignments averaged (DEFAULT_FOLD_REPEATS); `--repeats R` runs only R.
 *
 * Usage: node build/bench/ope-folds.js [--sets 20] [--rows 500] [--seeds 20] [--repeats R] [--json]
 */
import { CbLearner, DR, evaluatePolicy, type JoinedRecord } from "@cbkit/common";
import { DEFAULT_FOLD_REPEATS } from "@cbkit/common/ope";
import { Rng } from "@cbkit/common/util";
import { BenchResults } from "./lib/results";
import { loadStatlogData } from "@cbkit/sim_app";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function sd(v: number[]): number {
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
}

function quantile(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** DR's spread over fold seeds and over renamed ids, with `repeats` fold assignments averaged. */
interface Setup {
  sets: number;
  rows: number;
  seeds: number;
  pool: number[];
  target: CbLearner;
  data: ReturnType<typeof loadStatlogData>;
  ctx: (i: number) => number[];
}

async function measure(repeats: number, { sets, rows, seeds, pool, target, data, ctx }: Setup) {
  const ridge = { repeats };
  const K = data.numActions;
  const seedRatios: number[] = [], renameRatios: number[] = [], ses: number[] = [];
  for (let s = 0; s < sets; s++) {
    const r = new Rng(`ope-folds-set-${s}`);
    const log: JoinedRecord[] = [];
    for (let k = 0; k < rows; k++) {
      const i = pool[r.int(pool.length)];
      const a = r.int(K) + 1;
      log.push({ reward: a === data.labels[i] ? 1 : 0, event_id: `set${s}-row${k}`, action: a, action_prob: 1 / K, model_id: "uniform", observation: ctx(i), sample_prob: 0 });
    }
    const bySeed: number[] = [], byName: number[] = [];
    let se = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const e = (await evaluatePolicy(log, target, { estimators: [DR], seed, bootstrapSamples: 0, ridge })).dr;
      bySeed.push(e.value);
      se = e.standardError;
      const renamed = log.map((x) => ({ ...x, event_id: `renamed-${seed}-${x.event_id}` }));
      byName.push((await evaluatePolicy(renamed, target, { estimators: [DR], seed: 1, bootstrapSamples: 0, ridge })).dr.value);
    }
    ses.push(se);
    seedRatios.push(sd(bySeed) / se);
    renameRatios.push(sd(byName) / se);
  }
  return {
    sets, rows, seeds, repeats,
    medianSe: quantile(ses, 0.5),
    seed: { median: quantile(seedRatios, 0.5), p90: quantile(seedRatios, 0.9), max: Math.max(...seedRatios) },
    rename: { median: quantile(renameRatios, 0.5), p90: quantile(renameRatios, 0.9), max: Math.max(...renameRatios) },
  };
}

async function main(): Promise<void> {
  const sets = arg("sets", 20), rows = arg("rows", 500), seeds = arg("seeds", 20);
  const runs = process.argv.includes("--repeats") ? [arg("repeats", 1)] : [1, DEFAULT_FOLD_REPEATS];
  const data = loadStatlogData();
  const d = data.numFeatures, K = data.numActions, n = data.numRows;
  const ctx = (i: number) => Array.from(data.contexts.subarray(i * d, (i + 1) * d));
  const perm = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng("ope-folds-split");
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const target = CbLearner.create({ numArms: K, explorationPolicy: "egreedy", epsilon: 0.05, cbType: "dr", featureMap: "linear", seed: "ope-bench" });
  const actions = new Rng("ope-folds-train-actions");
  for (const i of perm.slice(0, 5000)) {
    const a = actions.int(K) + 1;
    target.learn(ctx(i), a, a === data.labels[i] ? 0 : 1, 1 / K);
  }
  const pool = perm.slice(5000);
  const results = [];
  for (const repeats of runs) results.push(await measure(repeats, { sets, rows, seeds, pool, target, data, ctx }));
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify(results, null, 2));
    return;
  }
  const f = (x: number) => x.toFixed(3);
  console.log(`DR on ${sets} uniform-logged shuttle samples of ${rows} rows; median standard error ${f(results[0].medianSe)}`);
  console.log(`spread (sd) of DR / its standard error over ${seeds} values per sample: median / 90th percentile / max`);
  for (const r of results) {
    const label = `${r.repeats} fold assignment(s)${r.repeats === 1 ? " (baseline)" : " (default)"}`;
    console.log(`  ${label.padEnd(34)} fold seeds ${f(r.seed.median)} / ${f(r.seed.p90)} / ${f(r.seed.max)}   renamed ids ${f(r.rename.median)} / ${f(r.rename.p90)} / ${f(r.rename.max)}`);
  }
  // Information (no target): the default beside one fold assignment, in DR standard errors.
  const figures = new BenchResults("ope-folds");
  const one = results.find((r) => r.repeats === 1);
  for (const r of results.filter((x) => x.repeats !== 1)) {
    figures.add({ name: `DR spread over fold seeds, ${r.repeats} fold assignments (median, in DR standard errors)`, value: r.seed.median, unit: "", ...(one ? { baseline: { name: "1 fold assignment", value: one.seed.median } } : {}) });
    figures.add({ name: `DR spread over renamed event ids, ${r.repeats} fold assignments`, value: r.rename.median, unit: "", ...(one ? { baseline: { name: "1 fold assignment", value: one.rename.median } } : {}) });
  }
  figures.save();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
