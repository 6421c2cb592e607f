/**
 * Learner options: the TypeScript shape (camelCase), defaults, validation, and the conversion from
 * config.yaml's `algorithms_parameters` or SageMaker hyperparameters (snake_case, maybe strings).
 */

export type ExplorationPolicy = "egreedy" | "bag" | "cover" | "first" | "softmax" | "squarecb";
export type CbType = "dr" | "ips" | "mtr";
export type FeatureMapKind = "linear" | "quadratic" | "bins";
/**
 * How the bins map places its edges, fitted once on the first training batch and then frozen:
 * `gaussian` = mean + std · Φ⁻¹(k/numBins) per feature (robust with few rows), `quantile` =
 * empirical quantiles of the batch.
 */
export type BinningKind = "gaussian" | "quantile";
/** A context: a numeric vector (feature i is named String(i + 1), as in VW text) or named features. */
export type Context = ArrayLike<number> | Record<string, number>;

export const EXPLORATION_POLICIES: readonly ExplorationPolicy[] = ["egreedy", "bag", "cover", "first", "softmax", "squarecb"];
export const CB_TYPES: readonly CbType[] = ["dr", "ips", "mtr"];
export const FEATURE_MAPS: readonly FeatureMapKind[] = ["linear", "quadratic", "bins"];
export const BINNINGS: readonly BinningKind[] = ["gaussian", "quantile"];

export interface LearnerOptions {
  /** Number of actions K; actions are 1..K. */
  numArms: number;
  explorationPolicy: ExplorationPolicy;
  /** egreedy: uniform exploration mass (VW default 0.05). */
  epsilon?: number;
  /** bag / cover: number of policies (VW default 3 in the original's config). */
  numPolicies?: number;
  /** cover: disagreement weight (VW default 1). */
  psi?: number;
  /** first: number of initial uniform decisions (counted in examples learned). */
  tau?: number;
  /** softmax: inverse temperature over negated costs (VW default 1). */
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

export const LEARNER_DEFAULTS: Omit<ResolvedLearnerOptions, "numArms" | "explorationPolicy"> = {
  epsilon: 0.05,
  numPolicies: 3,
  psi: 1,
  tau: 0,
  lambda: 1,
  gammaScale: 10,
  gammaExponent: 0.5,
  cbType: "mtr",
  featureMap: "linear",
  numBins: 16,
  binning: "gaussian",
  bits: 18,
  learningRate: 0.5,
  powerT: 0.5,
  seed: 1,
  minProbability: 0,
  numFeatures: null,
};

/** Where the feature count comes from in config.yaml (named in every feature-count error). */
export const NUM_FEATURES_KEY = "algor.algorithms_parameters.num_features";
/** Where the action count comes from in config.yaml. */
export const NUM_ARMS_KEY = "algor.algorithms_parameters.num_arms";
/** The feature count `learnerOptionsFromParameters` uses when num_features is absent (the shuttle's). */
export const DEFAULT_NUM_FEATURES = 9;

/** Bad learner input or options; `field` names what is wrong. */
export class LearnerError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "LearnerError";
  }
}

/**
 * Data that does not fit the configuration (an action beyond num_arms, another feature count than
 * num_features, a reward outside [min_reward, max_reward]): never skipped, because every row after
 * it would likely be wrong too. The message names the field, the value, what was expected and the
 * config.yaml key.
 */
export class ConfigMismatchError extends LearnerError {
  constructor(field: string, message: string) {
    super(field, message);
    this.name = "ConfigMismatchError";
  }
}

function req(cond: boolean, field: string, message: string): void {
  if (!cond) throw new LearnerError(field, message);
}

/** Applies defaults and validates every option; throws LearnerError naming the option. */
export function resolveLearnerOptions(o: LearnerOptions): ResolvedLearnerOptions {
  if (o === null || typeof o !== "object") throw new LearnerError("options", "expected an object of learner options");
  const r: ResolvedLearnerOptions = { ...LEARNER_DEFAULTS, ...stripUndefined(o) } as ResolvedLearnerOptions;
  req(Number.isInteger(r.numArms) && r.numArms >= 2 && r.numArms <= 10000, "numArms", `must be an integer 2..10000, got ${r.numArms}`);
  req(EXPLORATION_POLICIES.includes(r.explorationPolicy), "explorationPolicy", `must be one of ${EXPLORATION_POLICIES.join(", ")}, got ${JSON.stringify(r.explorationPolicy)}`);
  req(CB_TYPES.includes(r.cbType), "cbType", `must be one of ${CB_TYPES.join(", ")}, got ${JSON.stringify(r.cbType)}`);
  req(FEATURE_MAPS.includes(r.featureMap), "featureMap", `must be one of ${FEATURE_MAPS.join(", ")}, got ${JSON.stringify(r.featureMap)}`);
  req(BINNINGS.includes(r.binning), "binning", `must be one of ${BINNINGS.join(", ")}, got ${JSON.stringify(r.binning)}`);
  req(Number.isFinite(r.epsilon) && r.epsilon >= 0 && r.epsilon <= 1, "epsilon", `must be a number in [0, 1], got ${r.epsilon}`);
  req(Number.isInteger(r.numPolicies) && r.numPolicies >= 1 && r.numPolicies <= 256, "numPolicies", `must be an integer 1..256, got ${r.numPolicies}`);
  req(Number.isFinite(r.psi) && r.psi >= 0, "psi", `must be a number >= 0, got ${r.psi}`);
  req(Number.isInteger(r.tau) && r.tau >= 0, "tau", `must be an integer >= 0, got ${r.tau}`);
  req(Number.isFinite(r.lambda), "lambda", `must be a finite number, got ${r.lambda}`);
  req(Number.isFinite(r.gammaScale) && r.gammaScale > 0, "gammaScale", `must be a number > 0, got ${r.gammaScale}`);
  req(Number.isFinite(r.gammaExponent) && r.gammaExponent >= 0, "gammaExponent", `must be a number >= 0, got ${r.gammaExponent}`);
  req(Number.isInteger(r.numBins) && r.numBins >= 2 && r.numBins <= 1024, "numBins", `must be an integer 2..1024, got ${r.numBins}`);
  req(Number.isInteger(r.bits) && r.bits >= 1 && r.bits <= 30, "bits", `must be an integer 1..30, got ${r.bits}`);
  req(Number.isFinite(r.learningRate) && r.learningRate > 0, "learningRate", `must be a number > 0, got ${r.learningRate}`);
  req(Number.isFinite(r.powerT) && r.powerT >= 0 && r.powerT <= 1, "powerT", `must be a number in [0, 1], got ${r.powerT}`);
  req((typeof r.seed === "number" && Number.isFinite(r.seed)) || typeof r.seed === "string", "seed", `must be a finite number or a string, got ${String(r.seed)}`);
  req(
    Number.isFinite(r.minProbability) && r.minProbability >= 0 && r.minProbability * r.numArms < 1,
    "minProbability",
    `must be >= 0 and below 1/numArms (${(1 / r.numArms).toPrecision(3)}), got ${r.minProbability}`,
  );
  req(r.numFeatures === null || (Number.isInteger(r.numFeatures) && r.numFeatures >= 1 && r.numFeatures <= 1000000), "numFeatures", `must be null or an integer 1..1000000, got ${r.numFeatures}`);
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** snake_case parameter -> [option name, kind]. */
const PARAMS: Record<string, [keyof LearnerOptions, "int" | "number" | "policy" | "cbType" | "featureMap" | "binning"]> = {
  num_arms: ["numArms", "int"],
  exploration_policy: ["explorationPolicy", "policy"],
  epsilon: ["epsilon", "number"],
  num_policies: ["numPolicies", "int"],
  psi: ["psi", "number"],
  tau: ["tau", "int"],
  lambda: ["lambda", "number"],
  gamma_scale: ["gammaScale", "number"],
  gamma_exponent: ["gammaExponent", "number"],
  cb_type: ["cbType", "cbType"],
  feature_map: ["featureMap", "featureMap"],
  num_bins: ["numBins", "int"],
  binning: ["binning", "binning"],
  bits: ["bits", "int"],
  learning_rate: ["learningRate", "number"],
  power_t: ["powerT", "number"],
  min_probability: ["minProbability", "number"],
  num_features: ["numFeatures", "int"],
};

/** Every learner parameter (snake_case, as in config.yaml) and the option it sets. */
export const LEARNER_PARAMETERS: Readonly<Record<string, keyof LearnerOptions>> = Object.fromEntries(Object.entries(PARAMS).map(([k, [n]]) => [k, n]));

/**
 * Learner options from config.yaml's `algorithms_parameters` or SageMaker hyperparameters (where
 * every value is a string). Keys that belong to other parts (cfa_type, ...) are ignored. Throws
 * LearnerError naming the snake_case parameter. `num_features` defaults to 9 (the config's
 * default, the shuttle's count), so a model made from parameters always has a fixed feature count.
 */
export function learnerOptionsFromParameters(p: Record<string, unknown>, seed?: number | string): LearnerOptions {
  if (p === null || typeof p !== "object") throw new LearnerError("algorithms_parameters", "expected a mapping of parameters");
  const o: Record<string, unknown> = {};
  for (const [key, [name, kind]] of Object.entries(PARAMS)) {
    const raw = p[key];
    if (raw === undefined || raw === null || raw === "") continue;
    if (kind === "int" || kind === "number") {
      const v = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : NaN;
      if (!Number.isFinite(v) || (kind === "int" && !Number.isInteger(v))) {
        throw new LearnerError(key, `must be ${kind === "int" ? "an integer" : "a number"}, got ${JSON.stringify(raw)}`);
      }
      o[name] = v;
    } else {
      const v = String(raw).trim().toLowerCase();
      const allowed: readonly string[] = kind === "policy" ? EXPLORATION_POLICIES : kind === "cbType" ? CB_TYPES : kind === "binning" ? BINNINGS : FEATURE_MAPS;
      if (!allowed.includes(v)) throw new LearnerError(key, `must be one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
      o[name] = v;
    }
  }
  if (o.numArms === undefined || o.numArms === 0) {
    throw new LearnerError("num_arms", "is required: set a non-zero number of actions (7 for the shuttle task)");
  }
  o.explorationPolicy ??= "egreedy";
  o.numFeatures ??= DEFAULT_NUM_FEATURES;
  if (seed !== undefined) o.seed = seed;
  else if (p.seed !== undefined && p.seed !== null && p.seed !== "") o.seed = typeof p.seed === "number" ? p.seed : String(p.seed);
  const out = o as unknown as LearnerOptions;
  try {
    resolveLearnerOptions(out);
  } catch (e) {
    if (e instanceof LearnerError) {
      const field = e.field;
      const snake = Object.entries(PARAMS).find(([, [n]]) => n === field)?.[0] ?? field;
      throw new LearnerError(snake, e.message.slice(field.length + 2));
    }
    throw e;
  }
  return out;
}
