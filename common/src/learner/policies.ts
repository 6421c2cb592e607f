/**
 * The learner's option registry: every learner parameter is declared here once, beside the code
 * that uses it, as Vowpal Wabbit's reductions each declare their own option group.
 *
 * - BASE_PARAMETERS: the options every learner has (actions, features, cost estimator, hashing,
 *   learning rate, probability floor).
 * - POLICIES: one entry per exploration policy — its name, one line of help, its own parameters,
 *   how many weight columns it needs, its pmf, its learn hook and its VW arguments.
 *
 * Everything else is derived from these two lists: `LearnerOptions` checks and defaults and
 * `learnerOptionsFromParameters` (options.ts), the config schema's algorithm keys
 * (config/schema.ts), the `bandits` CLI's learner flags, `describe` and VW arguments, the README's
 * config reference and the table in docs/learner.md (scripts/learner-reference.js).
 */
import { hashUnit } from "../util/random";
import { argmin, egreedyPmf, floorPmf, poisson1FromUniform, softmaxPmf, squarecbPmf } from "./explore";
import { BINNINGS, FEATURE_MAPS, type BinningKind, type EncodedExample, type FeatureMapKind } from "./features";

export { BINNINGS, FEATURE_MAPS, type BinningKind, type FeatureMapKind } from "./features";
import type { GdLearner } from "./gd";

// ---------------------------------------------------------------- parameters

/**
 * What retraining does with a parameter that config.yaml changed between two models of a line:
 * `tunable` = applied to the next model; `fixed` = part of the model's weight layout, so a changed
 * value fails the training job (start a new model line instead); `fixed-if-layout-changes` = applied
 * when the weight layout stays the same (egreedy to softmax), refused when it does not (egreedy to
 * bag, another num_policies for bag).
 */
export type OnRetrain = "tunable" | "fixed" | "fixed-if-layout-changes";

/** A rule between parameters, broken: what was found and what is expected (both phrases). */
export interface ParameterProblem {
  found: string;
  expected: string;
}

/** One learner parameter. */
export interface LearnerParameter {
  /** config.yaml key under algor.algorithms_parameters, and the training job's hyperparameter. */
  readonly key: string;
  /** The LearnerOptions field (camelCase). */
  readonly option: string;
  /** One line: what it does (config reference, CLI help, docs). */
  readonly help: string;
  readonly type: "integer" | "number" | "choice";
  /** Allowed values of a choice. */
  readonly choices?: readonly string[];
  /**
   * The value when the parameter is not given: in the library, the CLI with --no-config, and
   * config.yaml when the key is optional. Absent: the parameter is required.
   */
  readonly default?: number | string;
  /** config.yaml must state the key (the original sample's keys). */
  readonly configRequired?: boolean;
  /** The value config.yaml ships for a required key, when it is not `default`. */
  readonly shipped?: number | string;
  readonly min?: number;
  readonly max?: number;
  /** Strict lower bound (value > exclusiveMin). */
  readonly exclusiveMin?: number;
  /** Why the range is limited (shown with the range in help texts and errors). */
  readonly reason?: string;
  /** A rule against the other parameters (checked on options with every default applied). */
  readonly check?: (o: ResolvedLearnerOptions) => ParameterProblem | undefined;
  /** That rule in words (docs). */
  readonly rule?: string;
  /** VW's spelling: "--epsilon" (then "--epsilon 0.05"), or the argument for the options (null: none). */
  readonly vw?: string | ((o: ResolvedLearnerOptions) => string | null);
  readonly onRetrain: OnRetrain;
  /** A fixed parameter only matters when this holds (num_bins with feature_map bins). */
  readonly usedWhen?: (o: ResolvedLearnerOptions) => boolean;
  /** Errors say "7 actions" rather than "num_arms 7". */
  readonly unit?: string;
  /** CLI flag, when it is not the key in kebab-case. */
  readonly flag?: string;
  /** The library's default when it is not `default` (numFeatures: null = fixed by the first context). */
  readonly optionDefault?: null;
}

/** Declares a parameter, keeping its literal types (the key, the option, the choices). */
function parameter<const P extends LearnerParameter>(p: P): P {
  return p;
}

// ---------------------------------------------------------------- the weight budget

/**
 * Most weights a model may hold: 2^bits hashed rows × weight columns. Measured on the kit's
 * development machine (bench/model-memory.ts), loading a model takes about 28 bytes per weight at
 * its peak (w, G and N: 24 bytes, used where the file was read; the row lookup table), so 2^25 ≈
 * 33.6 M weights load in about 0.9 GB: room on an 8 GB laptop beside Jupyter, the endpoint and a
 * browser.
 */
export const MAX_MODEL_WEIGHTS = 2 ** 25;
/** Peak bytes per weight when a model is loaded (bench/model-memory.ts). */
export const LOAD_BYTES_PER_WEIGHT = 28;

const BITS_REASON =
  "a model holds up to 2^bits × weight columns weights, and loading one takes about 28 bytes per weight (measured): " +
  "at most 2^25 weights (about 0.9 GB) load on an 8 GB laptop";

// ---------------------------------------------------------------- what a policy works on

/** The learner's regressors as a policy's pmf and learn hook see them (implemented in learner.ts). */
export interface PolicyModel {
  /** Number of actions K. */
  readonly k: number;
  readonly options: ResolvedLearnerOptions;
  readonly gd: GdLearner;
  /** Seed word of the learner's hashes (bag's bootstrap draws). */
  readonly seedWord: number;
  /** Scratch arrays of K numbers. */
  readonly scores: Float64Array;
  readonly probs: Float64Array;
  readonly costs: Float64Array;
  /** Scratch: one greedy action per policy member. */
  readonly preds: Int32Array;
  /** First weight column of cb learner b's cost regressors. */
  cbColumn(b: number): number;
  /** First weight column of the policy's own block j (after the cb learners). */
  extraColumn(j: number): number;
  /** The plain contextual-bandit update of cb learner b (the cb_type reduction). */
  cbLearn(b: number, ex: EncodedExample, a: number, cost: number, p: number): void;
  /** Cost estimates of every action after cb learner 0's update (doubly robust; ips: c/p). */
  estimateCosts(ex: EncodedExample, a: number, cost: number, p: number, out: Float64Array): void;
}

/** How many weight blocks (K columns each) a policy needs. */
export interface PolicyWeights {
  /** cb learners: one block of cost regressors each (two with cb_type dr: the scorer). */
  cbLearners: number;
  /** The policy's own blocks after them (cover's learners). */
  extraBlocks: number;
}

/** One exploration policy. */
export interface ExplorationPolicySpec<N extends string = string, Ps extends readonly LearnerParameter[] = readonly LearnerParameter[]> {
  readonly name: N;
  /** One line: how it explores. */
  readonly help: string;
  /** Its own parameters (the base parameters apply to every policy). */
  readonly parameters: Ps;
  /** VW's flag of the policy (null: VW's default, epsilon-greedy). */
  readonly vwFlag: string | null;
  /** The option whose value follows the flag (--bag 3). */
  readonly vwFlagValue?: Ps[number]["option"];
  /** The weight blocks it needs for these options. */
  weights(o: ResolvedLearnerOptions): PolicyWeights;
  /** Writes the pmf over the K actions into `out` after `t` examples learned (before the floor). */
  pmf(m: PolicyModel, ex: EncodedExample, t: number, out: Float64Array): void;
  /** Learns from one logged decision (0-based action a, cost, its probability p) as example number t. */
  learn(m: PolicyModel, ex: EncodedExample, t: number, a: number, cost: number, p: number): void;
}

function policy<const N extends string, const Ps extends readonly LearnerParameter[]>(spec: ExplorationPolicySpec<N, Ps>): ExplorationPolicySpec<N, Ps> {
  return spec;
}

const oneLearner = (): PolicyWeights => ({ cbLearners: 1, extraBlocks: 0 });
const plainLearn: ExplorationPolicySpec["learn"] = (m, ex, _t, a, cost, p) => m.cbLearn(0, ex, a, cost, p);

/** Scores of cb learner 0, the greedy policy's costs. */
function firstScores(m: PolicyModel, ex: EncodedExample): Float64Array {
  m.gd.predictMany(ex, 0, m.k, m.scores);
  return m.scores;
}

// ---------------------------------------------------------------- the policies

const NUM_POLICIES = parameter({
  key: "num_policies",
  option: "numPolicies",
  help: "bag, cover: number of policies (bootstrap models, or the cover's members)",
  type: "integer",
  default: 3,
  configRequired: true,
  min: 1,
  max: 256,
  reason: "every example updates each policy, so training time grows with it",
  onRetrain: "fixed-if-layout-changes",
});

const EGREEDY = policy({
  name: "egreedy",
  help: "epsilon-greedy: 1 − ε + ε/K on the greedy action, ε/K on every other",
  parameters: [
    parameter({
      key: "epsilon",
      option: "epsilon",
      help: "egreedy: share of uniformly random decisions (VW's default 0.05; config.yaml ships the original's 0.001)",
      type: "number",
      default: 0.05,
      configRequired: true,
      shipped: 0.001,
      min: 0,
      max: 1,
      vw: "--epsilon",
      onRetrain: "tunable",
    }),
  ],
  vwFlag: null,
  weights: oneLearner,
  pmf(m, ex, _t, out) {
    egreedyPmf(argmin(firstScores(m, ex), m.k), m.k, m.options.epsilon, out);
  },
  learn: plainLearn,
});

const BAG = policy({
  name: "bag",
  help: "bagging: num_policies learners, each trained on an online bootstrap sample (every example repeated Poisson(1) times); each puts 1/M on its greedy action",
  parameters: [NUM_POLICIES],
  vwFlag: "--bag",
  vwFlagValue: "numPolicies",
  weights: (o) => ({ cbLearners: o.numPolicies, extraBlocks: 0 }),
  pmf(m, ex, _t, out) {
    const k = m.k, s = m.scores, n = m.options.numPolicies, share = 1 / n;
    out.fill(0, 0, k);
    for (let b = 0; b < n; b++) {
      m.gd.predictMany(ex, m.cbColumn(b), k, s);
      out[argmin(s, k)] += share;
    }
  },
  learn(m, ex, t, a, cost, p) {
    // Each bag learns the example k ~ Poisson(1) times; the draw is a hash of (seed, t, bag), so
    // training is deterministic and a saved model continues the same stream.
    for (let b = 0; b < m.options.numPolicies; b++) {
      const count = poisson1FromUniform(hashUnit(`${t}/${b}`, m.seedWord));
      for (let c = 0; c < count; c++) m.cbLearn(b, ex, a, cost, p);
    }
  },
});

/** Online cover's floor μ = min(1/K, 1/√(tK)) after t examples (1/K at t = 0). */
function coverMinProb(k: number, t: number): number {
  return Math.min(1 / k, 1 / Math.sqrt(t * k));
}

/**
 * Online cover's pmf: each of the M members (the cb learner and M − 1 cover learners) puts 1/M on
 * its greedy action; actions some member chose get at least μ (VW floors only the support).
 * Leaves each member's greedy action in m.preds.
 */
function coverPmf(m: PolicyModel, ex: EncodedExample, t: number, out: Float64Array): void {
  const k = m.k, s = m.scores, n = m.options.numPolicies, share = 1 / n;
  out.fill(0, 0, k);
  for (let j = 0; j < n; j++) {
    m.gd.predictMany(ex, j === 0 ? 0 : m.extraColumn(j - 1), k, s);
    const a = argmin(s, k);
    out[a] += share;
    m.preds[j] = a;
  }
  floorPmf(out, k, coverMinProb(k, t), false);
}

const COVER = policy({
  name: "cover",
  help: "online cover: the greedy learner plus num_policies − 1 learners pulled towards actions the others neglect; 1/M on each one's greedy action, with a shrinking floor",
  parameters: [
    NUM_POLICIES,
    parameter({
      key: "psi",
      option: "psi",
      help: "cover: weight of the disagreement term (VW 9's default 1; 0.05 behaves like VW 8.7)",
      type: "number",
      default: 1,
      min: 0,
      vw: "--psi",
      onRetrain: "tunable",
    }),
  ],
  vwFlag: "--cover",
  vwFlagValue: "numPolicies",
  weights: (o) => ({ cbLearners: 1, extraBlocks: o.numPolicies - 1 }),
  pmf: coverPmf,
  /**
   * Cover learner j ≥ 1 learns the pseudo-costs ĉ_a + 1 − ψ μ ν / max(P_a, μ), where ĉ are the
   * cost estimates, P_a the probability the earlier members (by their greedy actions before this
   * update) put on a, and ν = μK plus the mass assigned so far — so later members are pulled
   * towards actions the cover neglects.
   */
  learn(m, ex, t, a, cost, p) {
    const k = m.k, gd = m.gd, probs = m.probs, c = m.costs, preds = m.preds;
    const n = m.options.numPolicies, share = 1 / n;
    coverPmf(m, ex, t, probs);
    m.cbLearn(0, ex, a, cost, p);
    m.estimateCosts(ex, a, cost, p, c);
    const mu = coverMinProb(k, t), psi = m.options.psi;
    let norm = mu * k;
    probs.fill(0);
    for (let j = 0; j < n; j++) {
      if (j > 0) {
        const col = m.extraColumn(j - 1);
        for (let x = 0; x < k; x++) gd.update(ex, col + x, c[x] + 1 - (psi * mu * norm) / Math.max(probs[x], mu), 1);
      }
      const pj = probs[preds[j]];
      norm += pj < mu ? Math.max(0, share - (mu - pj)) : share;
      probs[preds[j]] += share;
    }
  },
});

const FIRST = policy({
  name: "first",
  help: "explore-first: uniform for the first tau examples learned, then greedy",
  parameters: [
    parameter({
      key: "tau",
      option: "tau",
      help: "first: number of examples learned before the policy turns greedy",
      type: "integer",
      default: 0,
      min: 0,
      onRetrain: "tunable",
    }),
  ],
  vwFlag: "--first",
  vwFlagValue: "tau",
  weights: oneLearner,
  pmf(m, ex, t, out) {
    if (t < m.options.tau) out.fill(1 / m.k, 0, m.k);
    else egreedyPmf(argmin(firstScores(m, ex), m.k), m.k, 0, out);
  },
  learn(m, ex, t, a, cost, p) {
    // As in VW, its own greedy decisions (probability 1) are counted but not learned from.
    if (p < 1) m.cbLearn(0, ex, a, cost, p);
  },
});

const SOFTMAX = policy({
  name: "softmax",
  help: "softmax: p_a ∝ exp(−λ (ŝ_a − min ŝ)) over the predicted costs",
  parameters: [
    parameter({
      key: "lambda",
      option: "lambda",
      help: "softmax: inverse temperature (larger: greedier; costs lie in 0..1 here, so 1 explores a lot)",
      type: "number",
      default: 1,
      min: 0,
      vw: "--lambda",
      onRetrain: "tunable",
    }),
  ],
  vwFlag: "--softmax",
  weights: oneLearner,
  pmf(m, ex, _t, out) {
    softmaxPmf(firstScores(m, ex), m.k, m.options.lambda, out);
  },
  learn: plainLearn,
});

const SQUARECB = policy({
  name: "squarecb",
  help: "SquareCB: inverse gap weighting, p_a = 1/(K + γ (ŝ_a − ŝ_best)), γ = gamma_scale · (t+1)^gamma_exponent",
  parameters: [
    parameter({
      key: "gamma_scale",
      option: "gammaScale",
      help: "squarecb: scale of the exploration parameter gamma",
      type: "number",
      default: 10,
      exclusiveMin: 0,
      vw: "--gamma_scale",
      onRetrain: "tunable",
    }),
    parameter({
      key: "gamma_exponent",
      option: "gammaExponent",
      help: "squarecb: growth exponent of gamma with the number of examples",
      type: "number",
      default: 0.5,
      min: 0,
      vw: "--gamma_exponent",
      onRetrain: "tunable",
    }),
  ],
  vwFlag: "--squarecb",
  weights: oneLearner,
  pmf(m, ex, t, out) {
    const o = m.options;
    squarecbPmf(firstScores(m, ex), m.k, o.gammaScale * Math.pow(t + 1, o.gammaExponent), out);
  },
  learn: plainLearn,
});

/** Every exploration policy, in the order the docs and the CLI list them. */
export const POLICIES = [EGREEDY, BAG, COVER, FIRST, SOFTMAX, SQUARECB] as const;

export type ExplorationPolicy = (typeof POLICIES)[number]["name"];
export const EXPLORATION_POLICIES: readonly ExplorationPolicy[] = POLICIES.map((p) => p.name);

const POLICY_BY_NAME = new Map<string, ExplorationPolicySpec>(POLICIES.map((p) => [p.name, p as ExplorationPolicySpec]));

/** The registry entry of a policy (throws for an unknown name: options are validated before). */
export function policyOf(name: string): ExplorationPolicySpec {
  const p = POLICY_BY_NAME.get(name);
  if (!p) throw new Error(`unknown exploration policy ${JSON.stringify(name)}; one of ${EXPLORATION_POLICIES.join(", ")}`);
  return p;
}

// ---------------------------------------------------------------- the base option group

export const CB_TYPES = ["dr", "ips", "mtr"] as const;
export type CbType = (typeof CB_TYPES)[number];

/** The policy selector: its choices are the registry's policies. */
export const EXPLORATION_POLICY_PARAMETER = parameter({
  key: "exploration_policy",
  option: "explorationPolicy",
  help: "how the learner explores; a policy's own keys (epsilon for egreedy, num_policies for bag and cover, ...) apply only to it",
  type: "choice",
  choices: EXPLORATION_POLICIES,
  default: "egreedy",
  configRequired: true,
  onRetrain: "fixed-if-layout-changes",
  flag: "policy",
});

const usesBins = (o: ResolvedLearnerOptions) => o.featureMap === "bins";

/** The options every policy shares, in the order of VW's arguments. */
export const BASE_PARAMETERS = [
  parameter({
    key: "num_arms",
    option: "numArms",
    help: "number of actions; must equal the client app's (7 for the shuttle)",
    type: "integer",
    configRequired: true,
    shipped: 7,
    min: 2,
    vw: "--cb_explore",
    onRetrain: "fixed",
    unit: "actions",
  }),
  parameter({
    key: "cb_type",
    option: "cbType",
    help: "how bandit feedback trains the cost regressors: mtr (importance-weighted regression, VW 9's default), dr (with a scorer: twice the weights), ips",
    type: "choice",
    choices: CB_TYPES,
    default: "mtr",
    vw: "--cb_type",
    onRetrain: "fixed",
  }),
  parameter({
    key: "bits",
    option: "bits",
    help: `size of the hashed feature table, as 2^bits rows; at most ${maxBitsFor(7)} for the shuttle's 7 actions with one block of regressors (egreedy, mtr)`,
    type: "integer",
    default: 18,
    min: 1,
    max: 24,
    reason: BITS_REASON,
    check: bitsProblem,
    rule: "2^bits × weight columns <= 2^25, where weight columns = num_arms × the policy's regressor blocks (see the policies)",
    vw: "-b",
    onRetrain: "fixed",
  }),
  parameter({
    key: "learning_rate",
    option: "learningRate",
    help: "learning rate of the online updates (VW's -l)",
    type: "number",
    default: 0.5,
    exclusiveMin: 0,
    vw: "-l",
    onRetrain: "tunable",
  }),
  parameter({
    key: "power_t",
    option: "powerT",
    help: "decay exponent of the learning rate (0.5: AdaGrad's square root; 0: constant)",
    type: "number",
    default: 0.5,
    min: 0,
    max: 1,
    reason: "above 1 a weight's step shrinks faster than its squared gradients grow, and learning stalls",
    vw: "--power_t",
    onRetrain: "tunable",
  }),
  parameter({
    key: "feature_map",
    option: "featureMap",
    help: "context features: linear, quadratic (pairwise products), bins (one-hot per feature bin)",
    type: "choice",
    choices: FEATURE_MAPS,
    default: "linear",
    vw: (o) => (o.featureMap === "quadratic" ? "-q ::" : null),
    onRetrain: "fixed",
  }),
  parameter({
    key: "num_bins",
    option: "numBins",
    help: "bins per feature for feature_map: bins",
    type: "integer",
    default: 16,
    min: 2,
    max: 1024,
    reason: "the edges of every feature are saved in the model, and 1024 bins already resolve 0.1% quantiles",
    onRetrain: "fixed",
    usedWhen: usesBins,
  }),
  parameter({
    key: "binning",
    option: "binning",
    help: "how bin edges are fitted on the first training batch: gaussian (mean + std × normal quantiles) or quantile",
    type: "choice",
    choices: BINNINGS,
    default: "gaussian",
    onRetrain: "fixed",
    usedWhen: usesBins,
  }),
  parameter({
    key: "num_features",
    option: "numFeatures",
    help: "number of context features; must equal the client app's (9 for the shuttle); the model refuses other counts",
    type: "integer",
    default: 9,
    min: 1,
    max: 1000000,
    reason: "every request and every logged decision carries the context",
    onRetrain: "fixed",
    unit: "features",
    optionDefault: null,
  }),
  parameter({
    key: "min_probability",
    option: "minProbability",
    help: "probability floor: every action keeps at least this much in every decision (below 1/num_arms), so off-policy evaluation stays valid; 0 = off",
    type: "number",
    default: 0,
    min: 0,
    max: 0.5,
    rule: "below 1/num_arms",
    check: (o) =>
      o.minProbability * o.numArms < 1
        ? undefined
        : { found: `${o.minProbability} with num_arms ${o.numArms}`, expected: `below 1/num_arms = ${(1 / o.numArms).toPrecision(3)} (num_arms actions must each keep it, within a total of 1)` },
    onRetrain: "tunable",
  }),
] as const;

// ---------------------------------------------------------------- derived lists and rules

/** Every learner parameter, once: the policy selector, the policies' own (in policy order), then the base group. */
export const LEARNER_PARAMETER_LIST: readonly LearnerParameter[] = [
  EXPLORATION_POLICY_PARAMETER,
  ...new Set(POLICIES.flatMap((p) => p.parameters as readonly LearnerParameter[])),
  ...BASE_PARAMETERS,
];

/** Every parameter's type, with its literal key, option and choices (for the derived types). */
export type LearnerParameterSpec =
  | typeof EXPLORATION_POLICY_PARAMETER
  | (typeof POLICIES)[number]["parameters"][number]
  | (typeof BASE_PARAMETERS)[number];

/** The policies that use a parameter (empty for the base group and the selector). */
export function policiesUsing(p: LearnerParameter): ExplorationPolicy[] {
  return POLICIES.filter((x) => (x.parameters as readonly LearnerParameter[]).includes(p)).map((x) => x.name);
}

/** The weight blocks and columns a model with these options needs. */
export function weightLayout(o: ResolvedLearnerOptions): PolicyWeights & { blocksPerCbLearner: number; columns: number } {
  const w = policyOf(o.explorationPolicy).weights(o);
  const blocksPerCbLearner = o.cbType === "dr" ? 2 : 1;
  return { ...w, blocksPerCbLearner, columns: (w.cbLearners * blocksPerCbLearner + w.extraBlocks) * o.numArms };
}

/** Largest bits whose model fits MAX_MODEL_WEIGHTS with this many weight columns (0: none). */
export function maxBitsFor(columns: number): number {
  return Math.min(24, Math.floor(Math.log2(MAX_MODEL_WEIGHTS / columns)));
}

function bitsProblem(o: ResolvedLearnerOptions): ParameterProblem | undefined {
  const { columns, cbLearners, extraBlocks, blocksPerCbLearner } = weightLayout(o);
  if (2 ** o.bits * columns <= MAX_MODEL_WEIGHTS) return undefined;
  const blocks = cbLearners * blocksPerCbLearner + extraBlocks;
  const max = maxBitsFor(columns);
  const gb = (2 ** o.bits * columns * LOAD_BYTES_PER_WEIGHT) / 1e9;
  return {
    found:
      `${o.bits}, with ${columns} weight columns (num_arms ${o.numArms} × ${blocks} block${blocks === 1 ? "" : "s"} for ${o.explorationPolicy}` +
      `${o.cbType === "dr" ? " with cb_type dr" : ""}): up to ${(2 ** o.bits * columns / 1e6).toFixed(1)} M weights, about ${gb.toFixed(1)} GB to load`,
    expected:
      max >= 1
        ? `at most ${max} with ${columns} weight columns (2^bits × weight columns <= 2^25 ≈ 33.6 M weights, about 0.9 GB to load: a model must load on an 8 GB laptop)`
        : `fewer weight columns: ${columns} exceed 2^24 even with bits 1; lower num_arms or num_policies`,
  };
}

/** What a parameter allows, in words (the config loader words the schema the same way). */
export function allowedText(p: LearnerParameter): string {
  if (p.type === "choice") return `one of ${(p.choices ?? []).join(", ")}`;
  const what = p.type === "integer" ? "an integer" : "a number";
  const parts: string[] = [];
  if (p.min !== undefined && p.max !== undefined) parts.push(`in [${p.min}, ${p.max}]`);
  else if (p.min !== undefined) parts.push(`>= ${p.min}`);
  else if (p.max !== undefined) parts.push(`<= ${p.max}`);
  if (p.exclusiveMin !== undefined) parts.push(`> ${p.exclusiveMin}`);
  return `${what}${parts.length ? " " + parts.join(" and ") : ""}`;
}

/** Whether a value is allowed by the parameter's own type and range (not the rules between parameters). */
export function isAllowedValue(p: LearnerParameter, v: unknown): boolean {
  if (p.type === "choice") return typeof v === "string" && (p.choices ?? []).includes(v);
  return (
    typeof v === "number" &&
    Number.isFinite(v) &&
    (p.type !== "integer" || Number.isInteger(v)) &&
    (p.min === undefined || v >= p.min) &&
    (p.max === undefined || v <= p.max) &&
    (p.exclusiveMin === undefined || v > p.exclusiveMin)
  );
}

/** The parameter's VW argument for these options, or null. */
export function vwArgumentOf(p: LearnerParameter, o: ResolvedLearnerOptions): string | null {
  if (typeof p.vw === "function") return p.vw(o);
  if (typeof p.vw === "string") return `${p.vw} ${String(o[p.option as keyof ResolvedLearnerOptions])}`;
  return null;
}

/** VW's command-line equivalent of the options: --cb_explore K, the policy's arguments, then the base group's. */
export function vwArgumentsOf(o: ResolvedLearnerOptions): string {
  const pol = policyOf(o.explorationPolicy);
  const [arms, ...rest] = BASE_PARAMETERS as readonly LearnerParameter[];
  const parts: (string | null)[] = [vwArgumentOf(arms, o)];
  if (pol.vwFlag !== null) parts.push(pol.vwFlagValue ? `${pol.vwFlag} ${String(o[pol.vwFlagValue as keyof ResolvedLearnerOptions])}` : pol.vwFlag);
  for (const p of pol.parameters) if (p.option !== pol.vwFlagValue) parts.push(vwArgumentOf(p, o));
  for (const p of rest) parts.push(vwArgumentOf(p, o));
  return parts.filter((x): x is string => x !== null).join(" ");
}

/**
 * Written out for readers and editors (each field's meaning and default); the build fails when it
 * and the registry disagree (see the checks at the end of options.ts).
 */
export interface LearnerOptions {
  /** Number of actions K; actions are 1..K. */
  numArms: number;
  explorationPolicy: ExplorationPolicy;
  /** egreedy: uniform exploration mass (VW default 0.05). */
  epsilon?: number;
  /** bag / cover: number of policies (default 3). */
  numPolicies?: number;
  /** cover: disagreement weight (VW default 1). */
  psi?: number;
  /** first: number of initial uniform decisions (counted in examples learned). */
  tau?: number;
  /** softmax: inverse temperature over negated costs (default 1). */
  lambda?: number;
  /** squarecb: gamma = gammaScale * t ^ gammaExponent (VW defaults 10 and 0.5). */
  gammaScale?: number;
  gammaExponent?: number;
  /** Cost estimator of the reduction (default mtr, VW 9's default; VW legacy --cb used dr). */
  cbType?: CbType;
  featureMap?: FeatureMapKind;
  /** bins: number of bins per feature. */
  numBins?: number;
  /** bins: how edges are fitted (default gaussian). */
  binning?: BinningKind;
  /** Hash bits b: 2^b weights per action and regressor. */
  bits?: number;
  /** Base learning rate (VW -l, default 0.5). */
  learningRate?: number;
  /** VW --power_t (default 0.5: AdaGrad's square root). */
  powerT?: number;
  /** Seed of sampling (chooseAction) and of bootstrap weights. */
  seed?: number | string;
  /** Every action keeps at least this probability (0 = off); must be < 1/numArms. */
  minProbability?: number;
  /**
   * Number of features of vector contexts (config `algor.algorithms_parameters.num_features`).
   * Fixed when the learner is created, so even a model that never saw data refuses other counts;
   * null = fixed by the first vector context learned from (the library's default).
   */
  numFeatures?: number | null;
}

/** Options with every default applied. */
export type ResolvedLearnerOptions = Required<LearnerOptions>;
