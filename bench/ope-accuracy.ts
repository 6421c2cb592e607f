/**
 * OPE accuracy on the shuttle data with ground truth (issue 3's target):
 *
 *   - data: shuttle.trn as the simulator sees it (classes under 0.05 % dropped, z-scored), K = 7;
 *   - target policy: trained on OTHER rows (a fixed, seeded set of `--train` rows that no logged
 *     sample uses) — CbLearner (egreedy ε = 0.05, cb_type dr, linear features, pinned; one pass
 *     of uniform-logged bandit feedback) when the learner module is available, else a
 *     nearest-class-centroid classifier mixed with 10 % uniform exploration
 *     (`--target centroid|learner`);
 *   - truth: the target's exact expected cost over the whole data set, 1 − mean_x π(label(x) | x);
 *   - per seed: 2,000 rows drawn without replacement from the rows not used for training, logged
 *     with uniform actions (p = 1/7), evaluated by every estimator with its default cost model.
 *
 * Prints, per estimator: median |estimate − truth|, bias, RMSE, the share of seeds whose 95 %
 * intervals (bootstrap = primary, and normal) contain the truth, and the mean interval width,
 * next to the targets: median |DR − truth| ≤ 0.02; IPS and DR coverage in 90–99 %. A coverage is
 * a share of seeds, so it is judged with its own uncertainty: the target is missed when the 95 %
 * Wilson interval of the share lies wholly outside 90–99 % (IPS covers about 98.5 %, so with 50
 * seeds "50 of 50" — 100 % — came up about half the time and failed a true coverage inside the
 * range; 200 seeds take about 30 s and pin a coverage to about ±1.5 %).
 *
 * Usage: node build/bench/ope-accuracy.js [--seeds 200] [--rows 2000] [--train 5000]
 *        [--bootstrap 1000] [--target learner|centroid] [--cost-model bins|linear]
 *        [--lambda 1] [--bins 16] [--logging-epsilon E] [--compare] [--json]
 *
 * `--logging-epsilon E` replaces uniform logging by a nearest-centroid logger (fitted on the
 * first 1,000 training rows) that explores with probability E — the workshop's situation, where
 * the deployed model logs and a challenger is evaluated (small E = large importance weights).
 * `--compare` also scores a baseline (a nearest-centroid policy from 500 training rows, ε = 0.2)
 * with comparePolicies and reports the paired difference target − baseline against its truth.
 */
import * as common from "@cbkit/common";
import { comparePolicies, estimatorNamed, evaluatePolicy, type EstimatorName, type JoinedRecord } from "@cbkit/common";
import { ESTIMATOR_NAMES, type PmfModel } from "@cbkit/common/ope";
import { Rng } from "@cbkit/common/util";
import { BenchResults } from "./lib/results";
import { loadStatlogData } from "@cbkit/sim_app";

interface Args {
  seeds: number;
  rows: number;
  train: number;
  bootstrap: number;
  target: "learner" | "centroid" | "auto";
  costModel: "bins" | "linear";
  lambda?: number;
  bins?: number;
  /** Logging exploration: null = uniform (the protocol), else a centroid logger mixed with this much uniform. */
  loggingEpsilon: number | null;
  compare: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seeds: 200, rows: 2000, train: 5000, bootstrap: 1000, target: "auto", costModel: "bins", loggingEpsilon: null, compare: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === "--json") a.json = true;
    else if (k === "--compare") a.compare = true;
    else if (k === "--seeds") (a.seeds = Number(v)), i++;
    else if (k === "--rows") (a.rows = Number(v)), i++;
    else if (k === "--train") (a.train = Number(v)), i++;
    else if (k === "--bootstrap") (a.bootstrap = Number(v)), i++;
    else if (k === "--target" && (v === "learner" || v === "centroid")) (a.target = v), i++;
    else if (k === "--cost-model" && (v === "bins" || v === "linear")) (a.costModel = v), i++;
    else if (k === "--lambda") (a.lambda = Number(v)), i++;
    else if (k === "--bins") (a.bins = Number(v)), i++;
    else if (k === "--logging-epsilon") (a.loggingEpsilon = Number(v)), i++;
    else throw new Error(`unknown argument ${k}; see the usage in bench/ope-accuracy.ts`);
  }
  return a;
}

/** Nearest class centroid (classes seen in training), mixed with `epsilon` uniform exploration. */
function centroidPolicy(contexts: Float64Array, labels: Uint8Array, d: number, K: number, rows: number[], epsilon: number): PmfModel {
  const sums = Array.from({ length: K }, () => new Float64Array(d));
  const counts = new Float64Array(K);
  for (const i of rows) {
    const c = labels[i] - 1;
    counts[c]++;
    for (let j = 0; j < d; j++) sums[c][j] += contexts[i * d + j];
  }
  const classes = [...counts.keys()].filter((c) => counts[c] > 0);
  for (const c of classes) for (let j = 0; j < d; j++) sums[c][j] /= counts[c];
  return {
    predictPmf(x: number[]): Float64Array {
      let best = classes[0];
      let bestDist = Infinity;
      for (const c of classes) {
        let dist = 0;
        for (let j = 0; j < d; j++) dist += (x[j] - sums[c][j]) ** 2;
        if (dist < bestDist) (bestDist = dist), (best = c);
      }
      const pmf = new Float64Array(K).fill(epsilon / K);
      pmf[best] += 1 - epsilon;
      return pmf;
    },
  };
}

/** The learner's minimal surface used here (looked up at run time: the learner may be absent). */
interface LearnerLike extends PmfModel {
  learn(context: number[], action: number, cost: number, probability: number): void;
}
interface LearnerClass {
  create(o: Record<string, unknown>): LearnerLike;
}

function learnerPolicy(contexts: Float64Array, labels: Uint8Array, d: number, K: number, rows: number[]): PmfModel | null {
  const cls = (common as unknown as Record<string, unknown>).CbLearner as LearnerClass | undefined;
  if (!cls || typeof cls.create !== "function") return null;
  // Options pinned (not the learner's defaults), so the benchmark's target stays put as the learner evolves.
  const learner = cls.create({ numArms: K, explorationPolicy: "egreedy", epsilon: 0.05, cbType: "dr", featureMap: "linear", seed: "ope-bench" });
  const rng = new Rng("ope-bench-train-actions");
  for (const i of rows) {
    const x = Array.from(contexts.subarray(i * d, (i + 1) * d));
    const a = 1 + rng.int(K);
    learner.learn(x, a, a === labels[i] ? 0 : 1, 1 / K);
  }
  return learner;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const data = loadStatlogData();
  const { numRows: N, numFeatures: d, numActions: K, contexts, labels } = data;
  const row = (i: number) => Array.from(contexts.subarray(i * d, (i + 1) * d));

  // A fixed, seeded split: `train` rows for the target policy, the rest for logging.
  const perm = Array.from({ length: N }, (_x, i) => i);
  const split = new Rng("ope-bench-split");
  for (let i = N - 1; i > 0; i--) {
    const j = split.int(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const trainRows = perm.slice(0, args.train);
  const pool = perm.slice(args.train);

  let policy: PmfModel | null = null;
  let policyName = "centroid (ε = 0.1)";
  if (args.target !== "centroid") {
    policy = learnerPolicy(contexts, labels, d, K, trainRows);
    if (policy) policyName = `CbLearner (egreedy ε = 0.05, cb_type dr, linear features) trained on ${args.train} other rows, uniform-logged`;
    else if (args.target === "learner") throw new Error("CbLearner is not available in @cbkit/common");
  }
  if (!policy) policy = centroidPolicy(contexts, labels, d, K, trainRows, 0.1);

  const logger = args.loggingEpsilon === null ? null : centroidPolicy(contexts, labels, d, K, trainRows.slice(0, 1000), args.loggingEpsilon);
  const loggingName = args.loggingEpsilon === null ? `uniform-logged rows (p = 1/${K})` : `rows logged by a centroid policy exploring with ε = ${args.loggingEpsilon}`;

  // Ground truth over the whole data set, exact from the pmf and the labels.
  const trueCost = (pi: PmfModel) => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += 1 - pi.predictPmf(row(i))[labels[i] - 1];
    return sum / N;
  };
  const truth = trueCost(policy);
  const baseline = args.compare ? centroidPolicy(contexts, labels, d, K, trainRows.slice(0, 500), 0.2) : null;
  const truthDiff = baseline ? truth - trueCost(baseline) : 0;
  const diff: Record<EstimatorName, { err: number[]; covB: number; covN: number; width: number[]; unpaired: number[] }> = {} as never;
  for (const e of ESTIMATOR_NAMES) diff[e] = { err: [], covB: 0, covN: 0, width: [], unpaired: [] };

  const est: Record<EstimatorName, { err: number[]; covB: number; covN: number; widthB: number[]; widthN: number[] }> = {} as never;
  for (const e of ESTIMATOR_NAMES) est[e] = { err: [], covB: 0, covN: 0, widthB: [], widthN: [] };
  const ess: number[] = [];
  for (let s = 1; s <= args.seeds; s++) {
    const rng = new Rng(`ope-bench-log/${s}`);
    // Partial Fisher-Yates: `rows` distinct rows of the pool.
    const idx = pool.slice();
    const records: JoinedRecord[] = [];
    for (let k = 0; k < args.rows; k++) {
      const j = k + rng.int(idx.length - k);
      [idx[k], idx[j]] = [idx[j], idx[k]];
      const i = idx[k];
      const x = row(i);
      let a: number;
      let p: number;
      if (logger) {
        const pmf = logger.predictPmf(x);
        a = 1 + rng.sample(pmf);
        p = pmf[a - 1];
      } else {
        a = 1 + rng.int(K);
        p = 1 / K;
      }
      records.push({ reward: a === labels[i] ? 1 : 0, event_id: `s${s}-${k}`, action: a, action_prob: p, model_id: "logger", observation: x, sample_prob: 0 });
    }
    const options = { seed: s, bootstrapSamples: args.bootstrap, numArms: K, ridge: { featureMap: args.costModel, lambda: args.lambda, numBins: args.bins } };
    let r: Awaited<ReturnType<typeof evaluatePolicy>>;
    if (baseline) {
      const c = await comparePolicies(records, policy, baseline, options);
      r = c.target;
      for (const e of ESTIMATOR_NAMES) {
        const x = c.difference[e];
        const acc = diff[e];
        acc.err.push(x.value - truthDiff);
        if (x.ci.lower <= truthDiff && truthDiff <= x.ci.upper) acc.covB++;
        if (x.normalCi.lower <= truthDiff && truthDiff <= x.normalCi.upper) acc.covN++;
        acc.width.push(x.ci.upper - x.ci.lower);
        acc.unpaired.push(Math.hypot(c.target[e].ci.upper - c.target[e].ci.lower, c.baseline[e].ci.upper - c.baseline[e].ci.lower));
      }
    } else {
      r = await evaluatePolicy(records, policy, options);
    }
    ess.push(r.dr.effectiveSampleSize);
    for (const e of ESTIMATOR_NAMES) {
      const x = r[e];
      const acc = est[e];
      acc.err.push(x.value - truth);
      if (x.ci.lower <= truth && truth <= x.ci.upper) acc.covB++;
      if (x.normalCi.lower <= truth && truth <= x.normalCi.upper) acc.covN++;
      acc.widthB.push(x.ci.upper - x.ci.lower);
      acc.widthN.push(x.normalCi.upper - x.normalCi.lower);
    }
  }

  const summary = ESTIMATOR_NAMES.map((e) => {
    const a = est[e];
    return {
      estimator: e,
      medianAbsError: median(a.err.map(Math.abs)),
      bias: a.err.reduce((x, y) => x + y, 0) / a.err.length,
      rmse: Math.sqrt(a.err.reduce((x, y) => x + y * y, 0) / a.err.length),
      coverageBootstrap: a.covB / args.seeds,
      coverageNormal: a.covN / args.seeds,
      meanWidthBootstrap: a.widthB.reduce((x, y) => x + y, 0) / args.seeds,
      meanWidthNormal: a.widthN.reduce((x, y) => x + y, 0) / args.seeds,
    };
  });
  const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  const comparison = baseline
    ? ESTIMATOR_NAMES.map((e) => ({
        estimator: e,
        medianAbsError: median(diff[e].err.map(Math.abs)),
        bias: mean(diff[e].err),
        coverageBootstrap: diff[e].covB / args.seeds,
        coverageNormal: diff[e].covN / args.seeds,
        meanWidthPaired: mean(diff[e].width),
        meanWidthUnpaired: mean(diff[e].unpaired),
      }))
    : null;
  const seconds = (Date.now() - t0) / 1000;
  if (args.json) {
    console.log(JSON.stringify({ args, policy: policyName, logging: loggingName, truth, medianEffectiveSampleSize: median(ess), seconds, summary, truthDifference: baseline ? truthDiff : null, comparison }, null, 2));
    return;
  }
  console.log(`OPE accuracy on shuttle: ${args.seeds} seeds × ${args.rows} ${loggingName}, ${N} rows in all`);
  console.log(`target policy: ${policyName}; true average cost ${truth.toFixed(4)} (mean reward ${(1 - truth).toFixed(4)})`);
  console.log(`effective sample size of the importance weights: median ${median(ess).toFixed(0)} of ${args.rows}`);
  console.log(`cost model of DM/DR/SNDR: cross-fitted per-action ridge, ${args.costModel} features`);
  console.log(`intervals: 95 %, bootstrap = ${args.bootstrap} Poisson replicates (primary), normal = delta method\n`);
  const head = ["estimator", "median |err|", "bias", "rmse", "cover boot", "cover normal", "width boot", "target"];
  const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
  const rows = summary.map((s) => [
    s.estimator + (estimatorNamed(s.estimator).biased ? " (biased)" : ""),
    s.medianAbsError.toFixed(4),
    s.bias.toFixed(4),
    s.rmse.toFixed(4),
    pct(s.coverageBootstrap),
    pct(s.coverageNormal),
    s.meanWidthBootstrap.toFixed(4),
    s.estimator === "dr"
      ? `median |err| ≤ 0.02 ${s.medianAbsError <= 0.02 ? "✓" : "✗"}; ${coverageVerdict(s.coverageBootstrap, args.seeds)}`
      : s.estimator === "ips"
        ? coverageVerdict(s.coverageBootstrap, args.seeds)
        : "(comparison)",
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (c: string[]) => c.map((x, j) => (j === 0 || j === 7 ? x.padEnd(widths[j]) : x.padStart(widths[j]))).join("  ").trimEnd();
  console.log([line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n"));
  if (comparison) {
    console.log(`\npaired difference target − baseline (baseline: nearest centroid of 500 training rows, ε = 0.2); true difference ${truthDiff.toFixed(4)}`);
    const h2 = ["estimator", "median |err|", "bias", "cover boot", "cover normal", "width paired", "width unpaired"];
    const rows2 = comparison.map((c) => [c.estimator, c.medianAbsError.toFixed(4), c.bias.toFixed(4), pct(c.coverageBootstrap), pct(c.coverageNormal), c.meanWidthPaired.toFixed(4), c.meanWidthUnpaired.toFixed(4)]);
    const w2 = h2.map((h, j) => Math.max(h.length, ...rows2.map((r) => r[j].length)));
    const line2 = (c: string[]) => c.map((x, j) => (j === 0 ? x.padEnd(w2[j]) : x.padStart(w2[j]))).join("  ").trimEnd();
    console.log([line2(h2), line2(w2.map((w) => "-".repeat(w))), ...rows2.map(line2)].join("\n"));
  }
  console.log(`\n${seconds.toFixed(1)} s`);
  // The targets above, saved for the measured tables; a miss exits 1 (no baseline: the truth is known).
  const results = new BenchResults("ope-accuracy");
  for (const s of summary) {
    if (s.estimator === "dr") results.add({ name: `DR median |error|, ${args.seeds} seeds`, value: s.medianAbsError, unit: "", target: { op: "<=", value: 0.02, on: "value" } });
    if (s.estimator !== "dr" && s.estimator !== "ips") continue;
    const [lo, hi] = wilson(s.coverageBootstrap, args.seeds);
    const note = `coverage ${pct(s.coverageBootstrap)} of ${args.seeds} seeds, 95 % Wilson interval ${pct(lo)}–${pct(hi)}`;
    const name = `${s.estimator.toUpperCase()} 95 % bootstrap interval coverage`;
    results.add({ name: `${name}, upper end of its confidence interval ≥ 90 %`, value: hi, unit: "", note, target: { op: ">=", value: COVERAGE_RANGE[0], on: "value" } });
    results.add({ name: `${name}, lower end of its confidence interval ≤ 99 %`, value: lo, unit: "", note, target: { op: "<=", value: COVERAGE_RANGE[1], on: "value" } });
  }
  results.save();
}

/** The coverage target: the true share of seeds whose interval holds the truth lies in this range. */
const COVERAGE_RANGE = [0.9, 0.99] as const;

/** The 95 % Wilson score interval of a share p observed on n trials. */
function wilson(p: number, n: number): [number, number] {
  const z = 1.96, z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Met unless the coverage's confidence interval lies wholly outside the target range. */
function coverageVerdict(c: number, seeds: number): string {
  const [lo, hi] = wilson(c, seeds);
  return `cover 90–99 % ${hi >= COVERAGE_RANGE[0] && lo <= COVERAGE_RANGE[1] ? "✓" : "✗"} (CI ${(100 * lo).toFixed(1)}–${(100 * hi).toFixed(1)} %)`;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
