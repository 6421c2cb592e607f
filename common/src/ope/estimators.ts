/**
 * The estimator registry. Each off-policy estimator the kit offers is one object that carries
 * everything about it: its name, what it is in one line, whether it is biased (and the warning a
 * config choosing it gets), whether it needs a cost model, its per-row definition and its interval
 * methods. The evaluator and the accumulators take these objects; names are resolved here
 * (`estimatorNamed`) where they come in as text: config.yaml, hyperparameters, the CLI.
 * `EstimatorName`, the config schema's `cfa_type`, the evaluation job's check, the `bandits
 * evaluate` flag, the order of printed tables and docs/ope.md's table all derive from ESTIMATORS.
 *
 * The per-row definition: every estimator is a smooth function f of the means of a few per-row
 * quantities u (IPS: w·c; SNIPS: w·c and w; ...), which is what lets one accumulator compute the
 * point value, the delta-method interval and the Poisson bootstrap for all of them (accumulators.ts).
 */
import { didYouMean } from "../util/suggest";
import { OpeInputError } from "./errors";
import type { OpeInterval, OpeSample } from "./types";

/**
 * An estimator as a smooth function of the means of per-row quantities u: `features` fills u
 * (dim entries from `offset`) for a validated row with importance weight w; `value` is f of the
 * means m; `gradient` is ∇f at m (for the delta method).
 */
export interface EstimatorDefinition {
  readonly dim: number;
  /**
   * A name for each of the dim quantities u. Quantities of the same name in several estimators
   * are computed by the same expression (so they are equal, bit for bit), and evaluatePolicy sums
   * them once per bootstrap replicate for all of those estimators.
   */
  readonly quantities?: readonly string[];
  features(s: OpeSample, w: number, out: Float64Array, offset: number): void;
  value(m: ArrayLike<number>, offset: number): number;
  gradient(m: ArrayLike<number>, out: Float64Array, offset: number): void;
}

/** How an interval is computed: the seeded Poisson bootstrap's percentiles, or the delta method. */
export type IntervalMethod = OpeInterval["method"];

/** What the interval methods are, in words (docs and help). */
export const INTERVAL_METHODS: Readonly<Record<IntervalMethod, string>> = {
  bootstrap: "percentile interval of a seeded Poisson bootstrap (when bootstrapSamples > 0)",
  normal: "normal approximation with the delta-method standard error",
};

/** One off-policy estimator: its identity, its properties and its per-row definition. */
export interface Estimator<N extends string = string> extends EstimatorDefinition {
  /** The name config.yaml (`cfa_type`), hyperparameters, the CLI and results use. */
  readonly name: N;
  /** Its full name, e.g. "doubly robust". */
  readonly title: string;
  /** The estimate in docs/ope.md's notation (w = π(a|x)/p, c the cost, ĉ the cost model). */
  readonly formula: string;
  /** One line: what it does and when to prefer it. */
  readonly description: string;
  /** Biased by construction (its value, not only its interval, rests on the cost model). */
  readonly biased: boolean;
  /** Why choosing it is questionable, said to whoever chooses it (a config, a job log); null when it is not. */
  readonly warning: string | null;
  /** Needs a cost model's predictions (`directCost`, `predictedCost`). */
  readonly needsCostModel: boolean;
  /** Uses the importance weights (so their diagnostics, ESS and mean weight, concern it). */
  readonly usesWeights: boolean;
  /** Its interval methods, in order of preference: the first one computed is the estimate's `ci`. */
  readonly intervals: readonly IntervalMethod[];
}

/** Both interval methods, the bootstrap preferred whenever it was drawn. */
const BOOTSTRAP_THEN_NORMAL: readonly IntervalMethod[] = ["bootstrap", "normal"];

/** Inverse propensity scoring: mean of w·c. */
export const IPS: Estimator<"ips"> = {
  name: "ips",
  title: "inverse propensity scoring",
  formula: "mean(w·c)",
  description: "unbiased when p > 0 wherever π > 0; its variance grows with the weights",
  biased: false,
  warning: null,
  needsCostModel: false,
  usesWeights: true,
  intervals: BOOTSTRAP_THEN_NORMAL,
  dim: 1,
  quantities: ["w·c"],
  features: (s, w, out, o) => void (out[o] = w * s.cost),
  value: (m, o) => m[o],
  gradient: (_m, out, o) => void (out[o] = 1),
};

/** Self-normalised IPS: Σ w·c / Σ w. */
export const SNIPS: Estimator<"snips"> = {
  name: "snips",
  title: "self-normalised inverse propensity scoring",
  formula: "Σ w·c / Σ w",
  description: "IPS divided by the mean weight; slightly biased for small n, steadier when the weights are uneven; equals IPS when the weights average exactly 1",
  biased: false,
  warning: null,
  needsCostModel: false,
  usesWeights: true,
  intervals: BOOTSTRAP_THEN_NORMAL,
  dim: 2,
  quantities: ["w·c", "w"],
  features: (s, w, out, o) => {
    out[o] = w * s.cost;
    out[o + 1] = w;
  },
  value: (m, o) => (m[o + 1] > 0 ? m[o] / m[o + 1] : Number.NaN),
  gradient: (m, out, o) => {
    out[o] = 1 / m[o + 1];
    out[o + 1] = -m[o] / (m[o + 1] * m[o + 1]);
  },
};

/** Direct method: mean over rows of Σ_a π(a|x) ĉ(x,a). */
export const DM: Estimator<"dm"> = {
  name: "dm",
  title: "direct method",
  formula: "mean(ĉ_π(x))",
  description: "trusts the cost model completely, so it is only as good as that model, and its interval says nothing about its bias",
  biased: true,
  warning: "the direct method is biased (its score is only as good as the reward model); dr keeps DM's low variance without its bias",
  needsCostModel: true,
  usesWeights: false,
  intervals: BOOTSTRAP_THEN_NORMAL,
  dim: 1,
  quantities: ["ĉ_π"],
  features: (s, _w, out, o) => void (out[o] = s.directCost as number),
  value: (m, o) => m[o],
  gradient: (_m, out, o) => void (out[o] = 1),
};

/** Doubly robust: DM plus the IPS-weighted residual of the cost model on the logged action. */
export const DR: Estimator<"dr"> = {
  name: "dr",
  title: "doubly robust",
  formula: "mean(ĉ_π(x) + w·(c − ĉ(x, a)))",
  description: "DM corrected by the importance-weighted error of the cost model on the logged action; unbiased when the propensities are right, whatever the cost model, with low variance when the model is good (the original's default too)",
  biased: false,
  warning: null,
  needsCostModel: true,
  usesWeights: true,
  intervals: BOOTSTRAP_THEN_NORMAL,
  dim: 1,
  quantities: ["ĉ_π + w·(c − ĉ)"],
  features: (s, w, out, o) => void (out[o] = (s.directCost as number) + w * (s.cost - (s.predictedCost as number))),
  value: (m, o) => m[o],
  gradient: (_m, out, o) => void (out[o] = 1),
};

/** Self-normalised DR: DM plus Σ w·(c − ĉ) / Σ w. */
export const SNDR: Estimator<"sndr"> = {
  name: "sndr",
  title: "self-normalised doubly robust",
  formula: "mean(ĉ_π(x)) + Σ w·(c − ĉ(x, a)) / Σ w",
  description: "DR with its correction term normalised like SNIPS",
  biased: false,
  warning: null,
  needsCostModel: true,
  usesWeights: true,
  intervals: BOOTSTRAP_THEN_NORMAL,
  dim: 3,
  quantities: ["ĉ_π", "w·(c − ĉ)", "w"],
  features: (s, w, out, o) => {
    out[o] = s.directCost as number;
    out[o + 1] = w * (s.cost - (s.predictedCost as number));
    out[o + 2] = w;
  },
  value: (m, o) => (m[o + 2] > 0 ? m[o] + m[o + 1] / m[o + 2] : m[o]),
  gradient: (m, out, o) => {
    out[o] = 1;
    out[o + 1] = m[o + 2] > 0 ? 1 / m[o + 2] : 0;
    out[o + 2] = m[o + 2] > 0 ? -m[o + 1] / (m[o + 2] * m[o + 2]) : 0;
  },
};

/** Every estimator, in the order tables print them. */
export const ESTIMATORS = [IPS, SNIPS, DM, DR, SNDR] as const;

/** The name of an estimator of the registry. */
export type EstimatorName = (typeof ESTIMATORS)[number]["name"];

/** Every estimator name, in the order tables print them. */
export const ESTIMATOR_NAMES: readonly EstimatorName[] = ESTIMATORS.map((e) => e.name);

/** The estimator that scores a model unless told otherwise (config cfa_type, the job, evaluateModelOnRecords). */
export const DEFAULT_ESTIMATOR: Estimator<EstimatorName> = DR;

/**
 * The names in the order a choice offers them (config.yaml's cfa_type, the job's hyperparameter):
 * the default first, the other unbiased ones next, the biased ones last.
 */
export const ESTIMATOR_CHOICES: readonly EstimatorName[] = [
  DEFAULT_ESTIMATOR,
  ...ESTIMATORS.filter((e) => e !== DEFAULT_ESTIMATOR && !e.biased),
  ...ESTIMATORS.filter((e) => e !== DEFAULT_ESTIMATOR && e.biased),
].map((e) => e.name);

/** True for one of the registry's estimator objects. */
export function isEstimator(x: unknown): x is Estimator<EstimatorName> {
  return (ESTIMATORS as readonly unknown[]).includes(x);
}

/**
 * The registry's estimator of this name (case and surrounding spaces ignored). An unknown name
 * throws an OpeInputError naming `field` (where the name came from: "cfa_type", "--estimators", ...),
 * the closest name when it looks like a typo, and the choices.
 */
export function estimatorNamed(name: string, field = "estimator"): Estimator<EstimatorName> {
  const key = typeof name === "string" ? name.trim().toLowerCase() : name;
  const found = ESTIMATORS.find((e) => e.name === key);
  if (found) return found;
  const hint = typeof name === "string" ? didYouMean(key as string, ESTIMATOR_NAMES) : "";
  throw new OpeInputError(field, null, `is ${JSON.stringify(name)}, not an estimator${hint}; choose one of ${ESTIMATOR_CHOICES.join(", ")}`);
}
