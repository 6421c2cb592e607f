/**
 * Learner options: the TypeScript shape (camelCase), defaults, validation, and the conversion from
 * config.yaml's `algorithms_parameters` or SageMaker hyperparameters (snake_case, maybe strings).
 * Every parameter, with its default and range, is declared once in the registry (policies.ts);
 * this file derives the defaults, the checks and the parsing from it.
 */
import {
  BinningKind,
  CbType,
  ExplorationPolicy,
  FeatureMapKind,
  LEARNER_PARAMETER_LIST,
  LearnerParameter,
  LearnerParameterSpec,
  ParameterProblem,
  allowedText,
  isAllowedValue,
  policyOf,
  weightLayout,
} from "./policies";
import type { LearnerOptions, ResolvedLearnerOptions } from "./policies";
import { LearnerError } from "./errors";
import { showValue } from "../util/show";

export { LearnerError, ConfigMismatchError, NUM_FEATURES_KEY, NUM_ARMS_KEY } from "./errors";
export type { Context } from "./features";
export type { LearnerOptions, ResolvedLearnerOptions } from "./policies";


/** The library's defaults: every parameter's (numFeatures: null), and seed 1; numArms and explorationPolicy are required. */
export const LEARNER_DEFAULTS: Omit<ResolvedLearnerOptions, "numArms" | "explorationPolicy"> = Object.fromEntries([
  ...LEARNER_PARAMETER_LIST.filter((p) => p.key !== "exploration_policy" && (p.default !== undefined || p.optionDefault !== undefined)).map((p) => [
    p.option,
    p.optionDefault !== undefined ? p.optionDefault : p.default,
  ]),
  ["seed", 1],
]) as Omit<ResolvedLearnerOptions, "numArms" | "explorationPolicy">;

/** The feature count `learnerOptionsFromParameters` uses when num_features is absent (the shuttle's; the registry's default). */
export const DEFAULT_NUM_FEATURES = LEARNER_PARAMETER_LIST.find((p) => p.key === "num_features")!.default as number;

const OPTION_KEYS = new Map(LEARNER_PARAMETER_LIST.map((p) => [p.option, p.key]));

/** A value for an error message. */
function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/** "must be ..." for a value the parameter does not allow on its own. */
function mustBe(p: LearnerParameter): string {
  return `must be ${p.optionDefault === null ? "null or " : ""}${allowedText(p)}${p.reason ? ` (${p.reason})` : ""}`;
}

/**
 * Applies defaults and validates every option against the registry (each parameter's type and
 * range, then the rules between parameters); throws LearnerError naming the option.
 */
export function resolveLearnerOptions(o: LearnerOptions): ResolvedLearnerOptions {
  if (o === null || typeof o !== "object") throw new LearnerError("options", "expected an object of learner options");
  const r: ResolvedLearnerOptions = { ...LEARNER_DEFAULTS, ...stripUndefined(o) } as ResolvedLearnerOptions;
  const values = r as unknown as Record<string, unknown>;
  for (const p of LEARNER_PARAMETER_LIST) {
    const v = values[p.option];
    if (!(p.optionDefault === null && v === null) && !isAllowedValue(p, v)) throw new LearnerError(p.option, `${mustBe(p)}, got ${show(v)}`);
  }
  if (!((typeof r.seed === "number" && Number.isFinite(r.seed)) || typeof r.seed === "string")) {
    throw new LearnerError("seed", `must be a finite number or a string, got ${String(r.seed)}`);
  }
  for (const p of LEARNER_PARAMETER_LIST) {
    const problem = p.check?.(r);
    if (problem) throw new LearnerError(p.option, `must be ${problem.expected}, got ${problem.found}`);
  }
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Every learner parameter (snake_case, as in config.yaml) and the option it sets. */
export const LEARNER_PARAMETERS: Readonly<Record<string, keyof LearnerOptions>> = Object.fromEntries(
  LEARNER_PARAMETER_LIST.map((p) => [p.key, p.option as keyof LearnerOptions]),
);

/** Reruns `f`, renaming a LearnerError's option to its snake_case parameter. */
function withParameterNames<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof LearnerError && OPTION_KEYS.has(e.field)) {
      const Err = e.constructor as new (field: string, message: string) => LearnerError;
      throw new Err(OPTION_KEYS.get(e.field)!, e.message.slice(e.field.length + 2));
    }
    throw e;
  }
}

/**
 * The options the given parameters set (config values or hyperparameter strings), without
 * defaults; keys that are not learner parameters are ignored. Throws LearnerError naming the
 * snake_case parameter.
 */
function parseParameters(p: Record<string, unknown>): Partial<Record<string, unknown>> {
  if (p === null || typeof p !== "object") throw new LearnerError("algorithms_parameters", "expected a mapping of parameters");
  const o: Record<string, unknown> = {};
  for (const spec of LEARNER_PARAMETER_LIST) {
    const raw = p[spec.key];
    if (raw === undefined || raw === null || raw === "") continue;
    if (spec.type === "choice") {
      const v = String(raw).trim().toLowerCase();
      if (!(spec.choices ?? []).includes(v)) throw new LearnerError(spec.key, `must be ${allowedText(spec)}, got ${showValue(raw)}`);
      o[spec.option] = v;
    } else {
      const v = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : NaN;
      if (!Number.isFinite(v) || (spec.type === "integer" && !Number.isInteger(v))) {
        throw new LearnerError(spec.key, `must be ${spec.type === "integer" ? "an integer" : "a number"}, got ${showValue(raw)}`);
      }
      o[spec.option] = v;
    }
  }
  return o;
}

/**
 * Learner options from config.yaml's `algorithms_parameters` or SageMaker hyperparameters (where
 * every value is a string). Keys that belong to other parts (cfa_type, ...) are ignored. Throws
 * LearnerError naming the snake_case parameter. A parameter whose library default differs from
 * its parameter default gets the latter: exploration_policy egreedy, and num_features 9 (the
 * shuttle's count), so a model made from parameters always has a fixed feature count.
 */
export function learnerOptionsFromParameters(p: Record<string, unknown>, seed?: number | string): LearnerOptions {
  const o = parseParameters(p);
  const defaults = LEARNER_DEFAULTS as unknown as Record<string, unknown>;
  for (const spec of LEARNER_PARAMETER_LIST) {
    if (o[spec.option] !== undefined) continue;
    if (spec.default === undefined) throw new LearnerError(spec.key, `is required: set it (${spec.help})`);
    if (defaults[spec.option] !== spec.default) o[spec.option] = spec.default;
  }
  if (seed !== undefined) o.seed = seed;
  else if (p.seed !== undefined && p.seed !== null && p.seed !== "") o.seed = typeof p.seed === "number" ? p.seed : String(p.seed);
  const out = o as unknown as LearnerOptions;
  withParameterNames(() => resolveLearnerOptions(out));
  return out;
}

/**
 * The rules between learner parameters (bits against the model's weight budget, min_probability
 * against num_arms) that a validated config section breaks, each with the key to fix. Empty when
 * some key failed its own check (it is reported on its own).
 */
export function learnerParameterProblems(p: Record<string, unknown>): (ParameterProblem & { key: string })[] {
  const o: Record<string, unknown> = { ...LEARNER_DEFAULTS };
  for (const spec of LEARNER_PARAMETER_LIST) {
    if (!isAllowedValue(spec, p[spec.key])) return [];
    o[spec.option] = p[spec.key];
  }
  const r = o as unknown as ResolvedLearnerOptions;
  return LEARNER_PARAMETER_LIST.flatMap((spec) => {
    const problem = spec.check?.(r);
    return problem ? [{ key: spec.key, ...problem }] : [];
  });
}

/** A parameter whose value differs between a parent model and the parameters of its next model. */
export interface ParameterChange {
  key: string;
  parent: unknown;
  next: unknown;
  /** Why it can not change on a model line (for a refused change). */
  why?: string;
}

/** "7 actions", "bits 18": a parameter's value as an error names it. */
export function parameterValueText(key: string, value: unknown): string {
  const spec = LEARNER_PARAMETER_LIST.find((p) => p.key === key);
  return spec?.unit ? `${String(value)} ${spec.unit}` : `${key} ${String(value)}`;
}

/**
 * Parameters of a next model that would change its parent's weight layout (bits, feature_map,
 * num_arms, a policy with other weights, ...). The message names each key with both values.
 */
export class ModelLayoutError extends LearnerError {
  constructor(readonly changes: ParameterChange[]) {
    super(
      changes.map((c) => c.key).join(", "),
      changes.map((c) => `the parent model has ${parameterValueText(c.key, c.parent)} but ${c.key} is ${String(c.next)}: ${c.why}`).join("; "),
    );
    this.name = "ModelLayoutError";
  }
}

/** "bag with num_policies 3: 3 cb learners" — what a policy keeps weights for. */
function weightsText(o: ResolvedLearnerOptions): string {
  const pol = policyOf(o.explorationPolicy);
  const w = pol.weights(o);
  const sized = pol.parameters.filter((p) => p.onRetrain === "fixed-if-layout-changes").map((p) => ` with ${p.key} ${String(o[p.option as keyof ResolvedLearnerOptions])}`).join("");
  const parts = [`${w.cbLearners} cb learner${w.cbLearners === 1 ? "" : "s"}`];
  if (w.extraBlocks > 0) parts.push(`${w.extraBlocks} more learner${w.extraBlocks === 1 ? "" : "s"}`);
  return `${o.explorationPolicy}${sized}: ${parts.join(" and ")}`;
}

/**
 * The options of the next model of a line: the parameters given (config.yaml's
 * algorithms_parameters, as hyperparameter strings or values) replace the parent's where the
 * registry marks them tunable (epsilon, lambda, learning_rate, min_probability, ...), or where a
 * policy change keeps the weight layout (egreedy to softmax); a parameter not given keeps the
 * parent's value, and so does the seed. A given parameter that would change the weight layout
 * (bits, feature_map, num_arms, cb_type, num_features, egreedy to bag, ...) throws a
 * ModelLayoutError naming it with both values. `parentNumFeatures` is the parent's fixed feature
 * count (null: not fixed yet, so any count may fix it).
 */
export function nextModelOptions(
  parent: ResolvedLearnerOptions,
  parentNumFeatures: number | null,
  p: Record<string, unknown>,
): { options: ResolvedLearnerOptions; applied: ParameterChange[] } {
  const given = withParameterNames(() => parseParameters(p));
  const before = { ...parent, numFeatures: parentNumFeatures } as Record<string, unknown>;
  const merged = { ...parent, ...given, seed: parent.seed } as Record<string, unknown>;
  const refused: ParameterChange[] = [];
  for (const spec of LEARNER_PARAMETER_LIST) {
    if (spec.onRetrain !== "fixed" || given[spec.option] === undefined) continue;
    if (before[spec.option] === null || before[spec.option] === given[spec.option]) continue;
    if (spec.usedWhen && !spec.usedWhen(parent)) merged[spec.option] = parent[spec.option as keyof ResolvedLearnerOptions];
    else refused.push({ key: spec.key, parent: before[spec.option], next: given[spec.option], why: `${spec.key} is fixed by the model's weight layout` });
  }
  const options = withParameterNames(() => resolveLearnerOptions(merged as unknown as LearnerOptions));
  if (refused.length === 0) {
    const a = weightLayout(parent), b = weightLayout(options);
    if (a.cbLearners !== b.cbLearners || a.extraBlocks !== b.extraBlocks) {
      const changed = LEARNER_PARAMETER_LIST.find((s) => s.onRetrain === "fixed-if-layout-changes" && before[s.option] !== merged[s.option])!;
      refused.push({
        key: changed.key,
        parent: before[changed.option],
        next: merged[changed.option],
        why: `the two keep different weights (${weightsText(parent)}; ${weightsText(options)})`,
      });
    }
  }
  if (refused.length > 0) throw new ModelLayoutError(refused);
  const after = options as unknown as Record<string, unknown>;
  const applied = LEARNER_PARAMETER_LIST.filter((s) => before[s.option] !== after[s.option] && before[s.option] !== null).map((s) => ({
    key: s.key,
    parent: before[s.option],
    next: after[s.option],
  }));
  return { options, applied };
}

// Build-time agreement of LearnerOptions and the registry (both directions): every parameter's
// option with its type, and nothing else but the seed.
type ParameterValue<P> = P extends { choices: readonly (infer C)[] } ? C : P extends { optionDefault: null } ? number | null : number;
type OptionsFromRegistry = { [P in LearnerParameterSpec as P["option"]]: ParameterValue<P> };
type WrittenOptions = Omit<ResolvedLearnerOptions, "seed">;
const registryMatchesOptions = (x: OptionsFromRegistry): WrittenOptions => x;
const optionsMatchRegistry = (x: WrittenOptions): OptionsFromRegistry => x;
void registryMatchesOptions;
void optionsMatchRegistry;
