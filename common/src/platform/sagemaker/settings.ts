/**
 * The SageMaker-mode settings, read from the loaded config (`sagemaker.*`, `resource.*`, `image`)
 * with defaults, and resolved against the AWS environment (region, account) once per platform.
 */
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { GetRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { S3Client } from "@aws-sdk/client-s3";
import { AwsPermissionError, awsCall, awsErrorName } from "./aws";
import { showValue } from "../../util/show";

/** Raised when `sagemaker.*` settings are missing or invalid. */
export class SageMakerConfigError extends Error {
  constructor(
    readonly field: string,
    problem: string,
    fix: string,
  ) {
    super(`${field}: ${problem}. ${fix}`);
    this.name = "SageMakerConfigError";
  }
}

export interface SageMakerSettings {
  region: string;
  bucket: string;
  /** Execution role SageMaker assumes for jobs and models (`sagemaker.role_arn`). */
  roleArn: string;
  /** Container image URI, `{AWS_REGION}` already substituted. */
  image: string;
  trainingInstanceType: string;
  evaluationInstanceType: string;
  hostingInstanceType: string;
  hostingInstanceCount: number;
  volumeSizeGb: number;
  /** SageMaker stops a job after this long (StoppingCondition). */
  maxJobSeconds: number;
  tables: { experiment: string; model: string; join: string };
  athenaDatabase: string;
  athenaWorkgroup: string;
  /** Bounds of every wait, in milliseconds. */
  timeouts: { job: number; endpoint: number; query: number; decisions: number; table: number };
  /** First poll interval of every wait, in milliseconds (grows 1.5x per check). */
  intervals: { job: number; endpoint: number; query: number; decisions: number; table: number };
  /** How far back (ms) the decision-visibility check looks in the decision log. */
  decisionLookbackMs: number;
  /** Data-capture sampling percentage (100 = every decision is logged). */
  captureSamplingPercent: number;
  /** Provisioned capacity per table (`resource.shared_resource.*_db.rcu/wcu`); absent or null: on-demand. */
  tableCapacity?: Partial<Record<TableKind, TableCapacity | null>>;
  /** Limits of the serving container (`endpoint.*`), passed to it as environment variables. */
  servingLimits?: ServingLimits;
  /** CloudWatch alarms that roll a blue/green update back (`sagemaker.rollback_alarms`). */
  rollbackAlarms?: string[];
  /** How long the old fleet is kept after traffic moved (`sagemaker.baking_period_seconds`). */
  bakingPeriodSeconds?: number;
}

export type TableKind = "experiment" | "model" | "join";
export interface TableCapacity {
  read: number;
  write: number;
}
export interface ServingLimits {
  maxDecisionsPerRequest: number;
  requestTimeoutSeconds: number;
}

/** The serving limits when the config does not give them (the defaults of `endpoint.*`). */
export const DEFAULT_SERVING_LIMITS: ServingLimits = { maxDecisionsPerRequest: 10_000, requestTimeoutSeconds: 30 };

/** SageMaker takes at most this many alarms in AutoRollbackConfiguration. */
const MAX_ROLLBACK_ALARMS = 10;

/** Settings as they come from config.yaml, before the region and account are known. */
export type SageMakerSettingsInput = Omit<SageMakerSettings, "region" | "bucket" | "roleArn" | "image"> & {
  region: string | null;
  bucket: string | null;
  roleArn: string | null;
  /** `resource.shared_resource.iam_role.role_name`: builds the role ARN when `roleArn` is null. */
  roleName?: string | null;
  image: string | null;
};

type Loose = Record<string, unknown> | undefined;
const obj = (v: unknown): Loose => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const at = (root: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((node, key) => obj(node)?.[key], root);

function str(root: unknown, path: string, fallback: string | null): string | null {
  const v = at(root, path);
  if (v === undefined || v === null || v === "") return fallback;
  if (typeof v !== "string") throw new SageMakerConfigError(path, `expected a string, found ${showValue(v)}`, "Fix it in config.yaml.");
  return v;
}

function num(root: unknown, path: string, fallback: number, min = 0): number {
  const v = at(root, path);
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min)
    throw new SageMakerConfigError(path, `expected a number >= ${min}, found ${showValue(v)}`, "Fix it in config.yaml.");
  return v;
}

/** Provisioned capacity of a table, or null (on-demand) when neither rcu nor wcu is set. */
function capacity(config: unknown, table: string): TableCapacity | null {
  const prefix = `resource.shared_resource.${table}`;
  const unset = (v: unknown) => v === undefined || v === null;
  if (unset(at(config, `${prefix}.rcu`)) && unset(at(config, `${prefix}.wcu`))) return null;
  const need = (key: string) => {
    if (unset(at(config, `${prefix}.${key}`)))
      throw new SageMakerConfigError(`${prefix}.${key}`, "missing while the other capacity is set", "Set both rcu and wcu (provisioned), or neither (on-demand).");
    return num(config, `${prefix}.${key}`, 1, 1);
  };
  return { read: need("rcu"), write: need("wcu") };
}

/** `sagemaker.rollback_alarms`: comma-separated CloudWatch alarm names. */
export function parseRollbackAlarms(text: string | null): string[] {
  const names = (text ?? "").split(",").map((n) => n.trim()).filter((n) => n.length > 0);
  if (names.length > MAX_ROLLBACK_ALARMS)
    throw new SageMakerConfigError("sagemaker.rollback_alarms", `${names.length} alarms given; SageMaker watches at most ${MAX_ROLLBACK_ALARMS}`, "Combine them into a composite alarm, or list fewer.");
  const tooLong = names.find((n) => n.length > 255);
  if (tooLong) throw new SageMakerConfigError("sagemaker.rollback_alarms", `'${tooLong.slice(0, 40)}...' is longer than 255 characters`, "Use the alarm's name, not its ARN or description.");
  return names;
}

/** Reads the SageMaker settings from a loaded config (the `Config` object or the raw YAML object). */
export function sageMakerSettingsFromConfig(config: unknown): SageMakerSettingsInput {
  const s = (key: string) => `sagemaker.${key}`;
  const seconds = (key: string, fallback: number) => num(config, s(key), fallback, 1) * 1000;
  return {
    region: str(config, s("region"), null),
    bucket: str(config, s("bucket"), null),
    roleArn: str(config, s("role_arn"), null),
    roleName: str(config, "resource.shared_resource.iam_role.role_name", null),
    image: str(config, "image", null),
    trainingInstanceType: str(config, "resource.private_resource.training_fleet.instance_type", "ml.m5.large")!,
    evaluationInstanceType: str(config, "resource.private_resource.evaluation_fleet.instance_type", "ml.m5.large")!,
    hostingInstanceType: str(config, "resource.private_resource.hosting_fleet.instance_type", "ml.t2.medium")!,
    hostingInstanceCount: num(config, "resource.private_resource.hosting_fleet.instance_count", 1, 1),
    volumeSizeGb: num(config, s("volume_size_gb"), 5, 1),
    maxJobSeconds: num(config, s("max_job_seconds"), 3600, 60),
    tables: {
      experiment: str(config, "resource.shared_resource.experiment_db.table_name", "BanditsExperimentTable")!,
      model: str(config, "resource.shared_resource.model_db.table_name", "BanditsModelTable")!,
      join: str(config, "resource.shared_resource.join_db.table_name", "BanditsJoinTable")!,
    },
    athenaDatabase: str(config, s("athena_database"), "default")!,
    athenaWorkgroup: str(config, s("athena_workgroup"), "primary")!,
    timeouts: {
      job: seconds("job_timeout_seconds", 3600),
      endpoint: seconds("endpoint_timeout_seconds", 1800),
      query: seconds("query_timeout_seconds", 600),
      decisions: seconds("decision_wait_seconds", 600),
      table: 300_000,
    },
    intervals: { job: 15_000, endpoint: 15_000, query: 1_000, decisions: 5_000, table: 1_000 },
    decisionLookbackMs: num(config, s("decision_lookback_hours"), 24, 0) * 3_600_000,
    captureSamplingPercent: 100,
    tableCapacity: { experiment: capacity(config, "experiment_db"), model: capacity(config, "model_db"), join: capacity(config, "join_db") },
    servingLimits: {
      maxDecisionsPerRequest: num(config, "endpoint.max_decisions_per_request", DEFAULT_SERVING_LIMITS.maxDecisionsPerRequest, 1),
      requestTimeoutSeconds: num(config, "endpoint.request_timeout_seconds", DEFAULT_SERVING_LIMITS.requestTimeoutSeconds, 0),
    },
    rollbackAlarms: parseRollbackAlarms(str(config, s("rollback_alarms"), null)),
    bakingPeriodSeconds: num(config, s("baking_period_seconds"), 0, 0),
  };
}

/** Substitutes `{AWS_REGION}` in the image URI and checks it looks like an image reference. */
export function resolveImage(image: string | null, region: string): string {
  if (!image || image.includes("<account>"))
    throw new SageMakerConfigError(
      "image",
      image ? `still the placeholder '${image}'` : "missing",
      "Build and push the image with scripts/image-build-push.sh and put the URI it prints into config.yaml (see docs/sagemaker.md).",
    );
  return image.replace(/\{AWS_REGION\}/g, region);
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

/**
 * The ARN of the role named `roleName`, as IAM reports it (GetRole). An ARN built from the name
 * would lack the role's path: a role under `/service-role/` has the ARN `role/service-role/NAME`.
 */
async function roleArnOf(roleName: string, iam: IAMClient): Promise<string> {
  const field = "resource.shared_resource.iam_role.role_name";
  try {
    const arn = (await awsCall("iam:GetRole", () => iam.send(new GetRoleCommand({ RoleName: roleName })))).Role?.Arn;
    if (!arn) throw new Error(`iam:GetRole returned no ARN for role '${roleName}'`);
    return arn;
  } catch (error) {
    if (/NoSuchEntity/.test(awsErrorName(error)))
      throw new SageMakerConfigError(field, `no IAM role named '${roleName}' in this account`, "Create it (docs/sagemaker.md section 2.1) or correct the name");
    if (error instanceof AwsPermissionError)
      throw new SageMakerConfigError(
        field,
        `iam:GetRole was denied, so the ARN of role '${roleName}' (which may include a path such as service-role/) cannot be looked up`,
        `Grant iam:GetRole on the role, or put its ARN into sagemaker.role_arn (aws iam get-role --role-name ${roleName} --query Role.Arn --output text)`,
      );
    throw error;
  }
}

/**
 * Fills in region (config, else the SDK's provider chain: AWS_REGION / profile), bucket (config,
 * else `sagemaker-{region}-{account}` via STS), the role's ARN (`role_arn`, else the role named by
 * `iam_role.role_name`, looked up with iam:GetRole) and checks role and image.
 */
export async function resolveSageMakerSettings(
  input: SageMakerSettingsInput,
  clients: { sts?: STSClient; iam?: IAMClient } = {},
): Promise<SageMakerSettings> {
  let region = input.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? null;
  if (!region) {
    try {
      region = await new S3Client({}).config.region();
    } catch {
      region = null;
    }
  }
  if (!region)
    throw new SageMakerConfigError(
      "sagemaker.region",
      "no AWS region found (config, AWS_REGION, AWS_DEFAULT_REGION or the profile)",
      "Set sagemaker.region in config.yaml, e.g. us-west-2.",
    );
  const roleName = input.roleName ?? null;
  if (!input.roleArn && !roleName)
    throw new SageMakerConfigError(
      "sagemaker.role_arn",
      "missing (and resource.shared_resource.iam_role.role_name is null): SageMaker needs an execution role for jobs and endpoints",
      "Create a role trusted by sagemaker.amazonaws.com (docs/sagemaker.md gives the policy JSON; " +
        "requiredIamPermissions() lists every action) and put its ARN into sagemaker.role_arn, or its name into resource.shared_resource.iam_role.role_name",
    );
  if (input.roleArn && !ROLE_ARN.test(input.roleArn))
    throw new SageMakerConfigError(
      "sagemaker.role_arn",
      `'${input.roleArn}' is not an IAM role ARN`,
      "Use the form arn:aws:iam::123456789012:role/NAME",
    );
  if (!input.roleArn && !ROLE_NAME.test(roleName!))
    throw new SageMakerConfigError(
      "resource.shared_resource.iam_role.role_name",
      `'${roleName}' is not an IAM role name`,
      "Use the role's name only (letters, digits and +=,.@_-, at most 64 characters), or its full ARN in sagemaker.role_arn",
    );
  const image = resolveImage(input.image, region);
  let bucket = input.bucket;
  if (!bucket) {
    const sts = clients.sts ?? new STSClient({ region });
    try {
      const identity = await awsCall("sts:GetCallerIdentity", () => sts.send(new GetCallerIdentityCommand({})));
      bucket = `sagemaker-${region}-${identity.Account}`;
    } finally {
      if (!clients.sts) sts.destroy();
    }
  }
  let roleArn = input.roleArn;
  if (!roleArn) {
    const iam = clients.iam ?? new IAMClient({ region });
    try {
      roleArn = await roleArnOf(roleName!, iam);
    } finally {
      if (!clients.iam) iam.destroy();
    }
  }
  return { ...input, region, bucket, roleArn, image };
}
