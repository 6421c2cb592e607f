/**
 * The learner's registry (policies.ts) as rows for people: the policies and parameters tables of
 * docs/learner.md (scripts/learner-reference.js) and a model's settings (`bandits describe`).
 */
import { LEARNER_DEFAULTS, ResolvedLearnerOptions } from "./options";
import {
  BASE_PARAMETERS,
  EXPLORATION_POLICY_PARAMETER,
  LEARNER_PARAMETER_LIST,
  LearnerParameter,
  OnRetrain,
  POLICIES,
  allowedText,
  policiesUsing,
  policyOf,
  weightLayout,
} from "./policies";

export interface PolicyReferenceRow {
  policy: string;
  help: string;
  /** Its own parameters' keys. */
  keys: string[];
  /** Its regressor blocks (K weight columns each) with the default options (num_policies 3, cb_type mtr). */
  blocks: number;
  /** VW's flag and its own parameters' spellings. */
  vw: string;
}

export interface ParameterReferenceRow {
  key: string;
  option: string;
  flag: string;
  /** The policies it belongs to ("all" for the base group and the selector). */
  usedBy: string;
  /** The library's, the CLI's and the optional config key's default; a required key's shipped value follows. */
  default: string;
  allowed: string;
  onRetrain: OnRetrain;
  vw: string;
  help: string;
}

/** The CLI flag of a parameter (without the dashes). */
export function cliFlagOf(p: LearnerParameter): string {
  return p.flag ?? p.key.replace(/_/g, "-");
}

/** One row per exploration policy. */
export function policyReference(): PolicyReferenceRow[] {
  return POLICIES.map((p) => {
    const params = p.parameters as readonly LearnerParameter[];
    const flagValue = params.find((x) => x.option === p.vwFlagValue);
    const vw = [p.vwFlag === null ? "" : `${p.vwFlag}${flagValue ? ` <${flagValue.key}>` : ""}`, ...params.filter((x) => x !== flagValue && typeof x.vw === "string").map((x) => `${String(x.vw)} <${x.key}>`)];
    return {
      policy: p.name,
      help: p.help,
      keys: params.map((x) => x.key),
      blocks: weightLayout({ ...LEARNER_DEFAULTS, numArms: 1, explorationPolicy: p.name }).columns,
      vw: vw.filter((x) => x !== "").join(" ") || "(VW's default)",
    };
  });
}

/** The default as docs show it: the value (the library's where it differs), and for a key config.yaml must state, what it ships. */
function defaultText(p: LearnerParameter): string {
  const shipped = JSON.stringify(p.shipped ?? p.default);
  if (p.default === undefined) return `none: required (config.yaml ships ${shipped}, which the CLI uses)`;
  const d = JSON.stringify(p.default) + (p.optionDefault !== undefined ? ` (CbLearner.create: ${JSON.stringify(p.optionDefault)})` : "");
  return p.configRequired ? `${d}; config.yaml must state it (ships ${shipped})` : d;
}

/** VW's spelling of a parameter; for one spelled by a function, the spelling of each choice that has one. */
function vwText(p: LearnerParameter): string {
  if (typeof p.vw === "string") return p.vw;
  if (!p.vw) return "";
  const spell = p.vw;
  return (p.choices ?? [])
    .map((c) => [c, spell({ ...LEARNER_DEFAULTS, numArms: 2, explorationPolicy: "egreedy", [p.option]: c } as ResolvedLearnerOptions)] as const)
    .filter(([, v]) => v !== null)
    .map(([c, v]) => `${String(v)} (${c})`)
    .join(", ");
}

/** One row per learner parameter, in the registry's order. */
export function parameterReference(): ParameterReferenceRow[] {
  return LEARNER_PARAMETER_LIST.map((p) => {
    const users = policiesUsing(p);
    return {
      key: p.key,
      option: p.option,
      flag: `--${cliFlagOf(p)}`,
      usedBy: users.length ? users.join(", ") : "all",
      default: defaultText(p),
      allowed: `${allowedText(p)}${p.rule ? `, ${p.rule}` : ""}`,
      onRetrain: p.onRetrain,
      vw: vwText(p),
      help: p.reason ? `${p.help}; the range is limited because ${p.reason}` : p.help,
    };
  });
}

export interface LearnerSetting {
  key: string;
  value: unknown;
  onRetrain: OnRetrain;
}

/** A model's settings: the policy, its own parameters and the base group, each with what retraining does with it. */
export function learnerSettings(o: ResolvedLearnerOptions): LearnerSetting[] {
  const params = [EXPLORATION_POLICY_PARAMETER, ...(policyOf(o.explorationPolicy).parameters as readonly LearnerParameter[]), ...BASE_PARAMETERS] as readonly LearnerParameter[];
  return params.map((p) => ({ key: p.key, value: o[p.option as keyof ResolvedLearnerOptions], onRetrain: p.onRetrain }));
}
