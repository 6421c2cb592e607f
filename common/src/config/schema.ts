/**
 * The config.yaml schema, declared as data: each key's type, allowed values, default and meaning.
 * The loader (load.ts) validates against it, and the README's config reference and the notebook's
 * config table are read from it. Roles add their keys in their own section below
 * (WORKFLOW_FIELDS, SAGEMAKER_FIELDS) AND in the matching interface at the end of the file
 * (WorkflowSettings, SageMakerSettings); the build fails when the two disagree. The learner's
 * keys are not written here: they are read from the learner's registry (learner/policies.ts).
 */
import { LEARNER_PARAMETER_LIST, type BinningKind, type CbType, type ExplorationPolicy, type FeatureMapKind, type LearnerParameter, type LearnerParameterSpec } from "../learner/policies";

import { MAX_MAGNITUDE } from "../data/numbers";
import { DEFAULT_REWARD_RANGE } from "../data/rewards";
import { SPLIT_RATIO_BOUNDS } from "../data/split";
import { DEFAULT_ESTIMATOR, ESTIMATORS, ESTIMATOR_CHOICES, estimatorNamed, type EstimatorName } from "../ope/estimators";

/** What every schema node may carry. */
interface NodeBase {
  /** One line: what the key means (shown in errors, the README and the notebook). */
  description: string;
  /** Missing key -> error (otherwise `default` applies). */
  required?: boolean;
  /** `null` is an allowed value. */
  nullable?: boolean;
  /** Returns a warning for an accepted but questionable value (called with the validated value). */
  warn?: (value: never) => string | undefined;
  /** Why the allowed values are limited; added to the error's "expected" text. */
  reason?: string;
}

export interface ConfigStringNode<T extends string = string> extends NodeBase {
  kind: "string";
  /** Allowed values; any string when absent. */
  enum?: readonly T[];
  /** A file-system path: non-empty, no NUL or other control character, well-formed Unicode. */
  path?: boolean;
  default?: T | null;
}

export interface ConfigNumberNode extends NodeBase {
  kind: "number";
  integer?: boolean;
  min?: number;
  max?: number;
  /** Strict lower bound (value > exclusiveMin). */
  exclusiveMin?: number;
  /** Strict upper bound (value < exclusiveMax). */
  exclusiveMax?: number;
  default?: number | null;
}

export interface ConfigBooleanNode extends NodeBase {
  kind: "boolean";
  default?: boolean | null;
}

export interface ConfigObjectNode<F extends Record<string, ConfigSchemaNode> = Record<string, ConfigSchemaNode>> {
  kind: "object";
  description: string;
  required?: boolean;
  fields: F;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ConfigSchemaNode = ConfigStringNode<string> | ConfigNumberNode | ConfigBooleanNode | ConfigObjectNode<any>;

type OrNull<N, T> = N extends { nullable: true } ? T | null : T;

/** The TypeScript type of a validated value of a schema node (defaults applied). */
export type ConfigValueOf<N> =
  N extends ConfigObjectNode<infer F>
    ? { -readonly [K in keyof F]: ConfigValueOf<F[K]> }
    : N extends ConfigStringNode<infer T>
      ? OrNull<N, T>
      : N extends ConfigNumberNode
        ? OrNull<N, number>
        : N extends ConfigBooleanNode
          ? OrNull<N, boolean>
          : never;

type Opts<N> = Omit<N, "kind" | "enum">;

// Builders keep literal types (enum members, nullable: true) so ConfigValueOf can see them.
/** Any string. */
export function cfgStr<const O extends Opts<ConfigStringNode<string>>>(options: O): ConfigStringNode<string> & O {
  return { kind: "string", ...options };
}
/** One of the listed strings. */
export function cfgOneOf<const T extends string, const O extends Opts<ConfigStringNode<T>>>(
  values: readonly T[],
  options: O,
): ConfigStringNode<T> & O & { enum: readonly T[] } {
  return { kind: "string", enum: values, ...options };
}
export function cfgNum<const O extends Opts<ConfigNumberNode>>(options: O): ConfigNumberNode & O {
  return { kind: "number", ...options };
}
export function cfgBool<const O extends Opts<ConfigBooleanNode>>(options: O): ConfigBooleanNode & O {
  return { kind: "boolean", ...options };
}
export function cfgObj<const F extends Record<string, ConfigSchemaNode>>(description: string, fields: F, required = false): ConfigObjectNode<F> {
  return { kind: "object", description, fields, required };
}

/** cfa_type's choices: the estimator registry's names (ope/estimators.ts), the default first. */
export const CONFIG_CFA_TYPES = ESTIMATOR_CHOICES;

/** " (dm is biased)": the registry's biased estimators, for cfa_type's description. */
function biasedNote(): string {
  const biased = ESTIMATORS.filter((e) => e.biased).map((e) => e.name);
  return biased.length ? ` (${biased.join(", ")} ${biased.length > 1 ? "are" : "is"} biased)` : "";
}

const capacity = (what: "read" | "write") =>
  cfgNum({
    description:
      `provisioned ${what} capacity units of the table when SageMaker mode creates it (set rcu and wcu together); ` +
      "null: on-demand billing (pay per request). An existing table keeps its billing mode",
    integer: true,
    min: 1,
    nullable: true,
    default: null,
  });

const table = (name: string, what: string) =>
  cfgObj(`the ${what} table`, {
    table_name: cfgStr({ description: `name of the ${what} table`, required: true, default: name }),
    rcu: capacity("read"),
    wcu: capacity("write"),
  }, true);

const fleet = (what: string, type: string) =>
  cfgObj(`instances for ${what}`, {
    instance_type: cfgStr({ description: `instance type for ${what} (SageMaker mode)`, required: true, default: type }),
    instance_count: cfgNum({ description: `number of instances for ${what} (SageMaker mode; during a blue/green update the new fleet runs beside the old one, so twice as many)`, integer: true, min: 1, default: 1 }),
  }, true);

/** Training and evaluation run the single-node learner: one instance, always. */
const jobFleet = (what: string, type: string) =>
  cfgObj(`instances for ${what}`, {
    instance_type: cfgStr({ description: `instance type for ${what} (SageMaker mode)`, required: true, default: type }),
    instance_count: cfgNum({
      description: `number of instances for ${what}: must be 1 (the learner trains and evaluates on one instance)`,
      integer: true,
      min: 1,
      max: 1,
      default: 1,
      reason: "the learner is single-node: a job on more instances would bill them all and use one",
    }),
  }, true);

/** The schema node of a learner parameter: a choice is a string node of its choices, else a number node. */
type LearnerParameterNode<P> = P extends { choices: readonly (infer C extends string)[] } ? ConfigStringNode<C> & { enum: readonly C[] } : ConfigNumberNode;

/**
 * A learner parameter as a config key: its help (and why its range is limited), its range, and
 * its default — for a key config.yaml must state, the value config.yaml ships.
 */
function learnerParameterNode(p: LearnerParameter): ConfigSchemaNode {
  const base = {
    description: p.reason ? `${p.help}; the range is limited because ${p.reason}` : p.help,
    ...(p.configRequired ? { required: true } : {}),
    default: p.shipped ?? p.default,
    ...(p.reason ? { reason: p.reason } : {}),
  };
  if (p.type === "choice") return { kind: "string", enum: p.choices, ...base } as ConfigStringNode;
  const range = { min: p.min, max: p.max, exclusiveMin: p.exclusiveMin };
  return { kind: "number", ...(p.type === "integer" ? { integer: true } : {}), ...Object.fromEntries(Object.entries(range).filter(([, v]) => v !== undefined)), ...base } as ConfigNumberNode;
}

/** The learner's keys, one per parameter of the registry, in its order. */
export const LEARNER_FIELDS = Object.fromEntries(LEARNER_PARAMETER_LIST.map((p) => [p.key, learnerParameterNode(p)])) as {
  [P in LearnerParameterSpec as P["key"]]: LearnerParameterNode<P>;
};

/** The learner's settings (passed unchanged as hyperparameters to training and evaluation). */
export const ALGORITHM_FIELDS = {
  ...LEARNER_FIELDS,
  cfa_type: cfgOneOf(CONFIG_CFA_TYPES, {
    description: `off-policy estimator that scores a model: ${CONFIG_CFA_TYPES.join(", ")}${biasedNote()}`,
    required: true,
    default: DEFAULT_ESTIMATOR.name,
    warn: (v: EstimatorName) => {
      const warning = estimatorNamed(v).warning;
      return warning ? `algor.algorithms_parameters.cfa_type is ${v}: ${warning}. It is used as you asked, not replaced.` : undefined;
    },
  }),
};

/** The ends of the reward range keep the numeric contract (the rule between them: load.ts, from data/rewards.ts). */
const REWARD_LIMITS = { min: -MAX_MAGNITUDE, max: MAX_MAGNITUDE, reason: "the kit's numeric contract" } as const;

/**
 * The deploy gate's rules (workflow.deploy_gate), the one list: the gate (experiment/gate.ts) and
 * the loop take their rule type from it.
 */
export const DEPLOY_GATE_RULES = ["ci", "point", "always"] as const;
export type DeployGateRule = (typeof DEPLOY_GATE_RULES)[number];

/** Workflow settings (experiment manager role: add keys here). */
export const WORKFLOW_FIELDS = {
  join_ratio: cfgNum({
    description: "share of joined records that go to training (the rest to evaluation), split by event-id hash",
    ...SPLIT_RATIO_BOUNDS,
    reason: "0 or 1 leaves the train or the eval split empty",
    default: 0.8,
  }),
  deploy_gate: cfgOneOf(DEPLOY_GATE_RULES, {
    description: "when the loop deploys a challenger: ci (its upper confidence bound is below the champion's cost), point (cost <= champion's, the original), always",
    default: "ci",
  }),
  min_reward: cfgNum({ description: "smallest possible reward; rewards below it are refused at ingest", ...REWARD_LIMITS, default: DEFAULT_REWARD_RANGE.minReward }),
  max_reward: cfgNum({ description: "largest possible reward (above min_reward); rewards above it are refused at ingest", ...REWARD_LIMITS, default: DEFAULT_REWARD_RANGE.maxReward }),
  default_reward: cfgNum({
    description: "reward given by join() to a decision without one inside the observation window (null: such decisions are left out)",
    nullable: true,
    default: null,
  }),
};

/**
 * The largest `endpoint.max_decisions_per_request`: the 6 MB request limit holds about this many
 * of the workshop's decisions (9 features and an event id, about 120 bytes a line), so a larger
 * value could never be reached by a real batch and only lets a crafted one of tiny lines keep the
 * endpoint busy (174,762 decisions took 35 s and 618 MB).
 */
export const MAX_DECISIONS_BOUND = 50000;

/** Endpoint settings (local and SageMaker). */
export const ENDPOINT_FIELDS = {
  max_decisions_per_request: cfgNum({
    description: "most decisions one request (a JSON-lines batch) may ask for; larger requests get a 413 naming the limit",
    integer: true,
    min: 1,
    max: MAX_DECISIONS_BOUND,
    default: 10000,
    reason: `a 6 MB request holds about ${MAX_DECISIONS_BOUND} decisions of 9 features with event ids, and one request of that size already takes seconds of the endpoint's single thread`,
  }),
  request_timeout_seconds: cfgNum({
    description: "a client that has not sent its whole request within this many seconds gets a 408",
    min: 0.01,
    max: 3600,
    default: 30,
    reason: "below 10 ms even a local client cannot send a request; above an hour a stalled client holds its connection for nothing",
  }),
};

/** SageMaker-mode settings (SageMaker role: add keys here). */
export const SAGEMAKER_FIELDS = {
  region: cfgStr({ description: "AWS region (null: from the environment / AWS profile)", nullable: true, default: null }),
  role_arn: cfgStr({ description: "IAM role ARN SageMaker assumes for jobs and endpoints (SageMaker mode needs this or resource.shared_resource.iam_role.role_name; see docs/sagemaker.md)", nullable: true, default: null }),
  bucket: cfgStr({ description: "S3 bucket (null: sagemaker-<region>-<account>)", nullable: true, default: null }),
  athena_database: cfgStr({ description: "Glue/Athena database of the join tables (created if missing)", default: "default" }),
  athena_workgroup: cfgStr({ description: "Athena workgroup of the join queries", default: "primary" }),
  max_job_seconds: cfgNum({ description: "SageMaker stops a training or evaluation job after this many seconds", integer: true, min: 60, default: 3600 }),
  volume_size_gb: cfgNum({ description: "disk size of training and evaluation instances, in GB", integer: true, min: 1, default: 5 }),
  job_timeout_seconds: cfgNum({ description: "how long to wait for a training or evaluation job", min: 1, default: 3600 }),
  endpoint_timeout_seconds: cfgNum({ description: "how long to wait for an endpoint to be created or updated", min: 1, default: 1800 }),
  query_timeout_seconds: cfgNum({ description: "how long to wait for one Athena query", min: 1, default: 600 }),
  decision_wait_seconds: cfgNum({ description: "how long a join waits for the batch's decisions to reach the data-capture log", min: 1, default: 600 }),
  decision_lookback_hours: cfgNum({ description: "how far back the join looks for the batch's decisions in the data-capture log", min: 0, default: 24 }),
  rollback_alarms: cfgStr({
    description:
      "CloudWatch alarm names, comma-separated, that SageMaker watches during a blue/green update; one in ALARM rolls the update back (null: none)",
    nullable: true,
    default: null,
  }),
  baking_period_seconds: cfgNum({
    description:
      "after traffic moves to the new fleet, the old fleet is kept this long (and the rollback alarms watched) before it is terminated; both fleets bill meanwhile",
    integer: true,
    min: 0,
    max: 3600,
    default: 0,
  }),
};

/**
 * Keys the kit used to read and no longer does: found in a config file, each gives a warning
 * with the reason (not an error, so older config files keep loading).
 */
export const REMOVED_CONFIG_KEYS: Readonly<Record<string, string>> = {
  "resource.shared_resource.resources_cf_stack_name":
    "nothing creates a CloudFormation stack: SageMaker mode creates the bucket and tables on first use, and the execution role is yours (sagemaker.role_arn or resource.shared_resource.iam_role.role_name). Delete the key",
};

export const CONFIG_SCHEMA = cfgObj("config.yaml", {
  resource: cfgObj("names and sizes of the cloud resources", {
    shared_resource: cfgObj("resources shared by all experiments", {
      experiment_db: table("BanditsExperimentTable", "experiment"),
      model_db: table("BanditsModelTable", "model"),
      join_db: table("BanditsJoinTable", "join-job"),
      iam_role: cfgObj("the execution role", {
        role_name: cfgStr({
          description:
            "name of the IAM role SageMaker jobs and endpoints run as; used when sagemaker.role_arn is null (its ARN, path included, is looked up with iam:GetRole)",
          nullable: true,
          default: null,
        }),
      }),
    }, true),
    private_resource: cfgObj("per-experiment compute", {
      hosting_fleet: fleet("the endpoint", "ml.t2.medium"),
      training_fleet: jobFleet("training jobs", "ml.m5.large"),
      evaluation_fleet: jobFleet("evaluation jobs", "ml.m5.large"),
    }, true),
  }, true),
  image: cfgStr({
    description: "container image of the learner for SageMaker mode; {AWS_REGION} is replaced with the region",
    required: true,
    default: "<account>.dkr.ecr.{AWS_REGION}.amazonaws.com/cbkit:latest",
  }),
  algor: cfgObj("the algorithm", {
    algorithms_parameters: cfgObj("learner and evaluation settings", ALGORITHM_FIELDS, true),
  }, true),
  local_mode: cfgBool({ description: "true: everything runs on this machine; false: Amazon SageMaker", default: true }),
  soft_deployment: cfgBool({
    description:
      "local mode: deploy a new model by hot-swapping it into the running endpoint (true) or blue/green, by starting a new endpoint process and switching to it once it answers (false). " +
      "SageMaker mode has no hot swap: every deploy is a blue/green UpdateEndpoint, and true gives a warning",
    default: false,
  }),
  seed: cfgNum({ description: "seed of every random choice (users, exploration, splits, bootstrap)", integer: true, default: 1 }),
  workspace: cfgStr({ description: "local-mode folder for data, models and records, relative to the config file's folder", path: true, default: "workspace" }),
  data_file: cfgStr({
    description: "shuttle.trn (a file that exists); null: ../shared/data/shuttle.trn beside the project root; relative to the config file's folder",
    path: true,
    nullable: true,
    default: null,
  }),
  workflow: cfgObj("the continual-learning workflow", WORKFLOW_FIELDS),
  endpoint: cfgObj("the inference endpoint", ENDPOINT_FIELDS),
  sagemaker: cfgObj("SageMaker mode", SAGEMAKER_FIELDS),
});

/*
 * The validated config as TypeScript types. Written out (not derived from CONFIG_SCHEMA) so the
 * declarations read well and compile with tslab's older TypeScript too; the checks at the end of
 * this file fail the build when the schema and these types disagree. Adding a key: add it to the
 * schema above AND here.
 */
export interface TableSettings {
  table_name: string;
  rcu: number | null;
  wcu: number | null;
}
export interface FleetSettings {
  instance_type: string;
  instance_count: number;
}
/** The learner's keys (from its registry, learner/policies.ts) and the estimator's. */
export interface AlgorithmsParameters {
  exploration_policy: ExplorationPolicy;
  epsilon: number;
  num_policies: number;
  num_arms: number;
  num_features: number;
  cfa_type: EstimatorName;
  cb_type: CbType;
  feature_map: FeatureMapKind;
  num_bins: number;
  binning: BinningKind;
  min_probability: number;
  bits: number;
  learning_rate: number;
  power_t: number;
  psi: number;
  tau: number;
  lambda: number;
  gamma_scale: number;
  gamma_exponent: number;
}
export interface WorkflowSettings {
  join_ratio: number;
  deploy_gate: DeployGateRule;
  min_reward: number;
  max_reward: number;
  default_reward: number | null;
}
export interface EndpointSettings {
  max_decisions_per_request: number;
  request_timeout_seconds: number;
}
export interface SageMakerSettings {
  region: string | null;
  role_arn: string | null;
  bucket: string | null;
  athena_database: string;
  athena_workgroup: string;
  max_job_seconds: number;
  volume_size_gb: number;
  job_timeout_seconds: number;
  endpoint_timeout_seconds: number;
  query_timeout_seconds: number;
  decision_wait_seconds: number;
  decision_lookback_hours: number;
  rollback_alarms: string | null;
  baking_period_seconds: number;
}
export interface ConfigValues {
  resource: {
    shared_resource: {
      experiment_db: TableSettings;
      model_db: TableSettings;
      join_db: TableSettings;
      iam_role: { role_name: string | null };
    };
    private_resource: {
      hosting_fleet: FleetSettings;
      training_fleet: FleetSettings;
      evaluation_fleet: FleetSettings;
    };
  };
  image: string;
  algor: { algorithms_parameters: AlgorithmsParameters };
  local_mode: boolean;
  soft_deployment: boolean;
  seed: number;
  workspace: string;
  data_file: string | null;
  workflow: WorkflowSettings;
  endpoint: EndpointSettings;
  sagemaker: SageMakerSettings;
}

// Build-time agreement of the schema and the interfaces (both directions).
type FromSchema = ConfigValueOf<typeof CONFIG_SCHEMA>;
const schemaMatchesTypes = (x: FromSchema): ConfigValues => x;
const typesMatchSchema = (x: ConfigValues): FromSchema => x;
void schemaMatchesTypes;
void typesMatchSchema;
