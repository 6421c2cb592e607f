/**
 * The SageMaker-mode settings, read from the loaded config (`sagemaker.*`, `resource.*`, `image`)
 * with defaults, and resolved against the AWS environment (region, account) once per platform.
 */
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerConfigError, awsCall } from "./iam";

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
}

/** Settings as they come from config.yaml, before the region and account are known. */
export type SageMakerSettingsInput = Omit<SageMakerSettings, "region" | "bucket" | "roleArn" | "image"> & {
  region: string | null;
  bucket: string | null;
  roleArn: string | null;
  image: string | null;
};

type Loose = Record<string, unknown> | undefined;
const obj = (v: unknown): Loose => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const at = (root: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((node, key) => obj(node)?.[key], root);

function str(root: unknown, path: string, fallback: string | null): string | null {
  const v = at(root, path);
  if (v === undefined || v === null || v === "") return fallback;
  if (typeof v !== "string") throw new SageMakerConfigError(path, `expected a string, found ${JSON.stringify(v)}`, "Fix it in config.yaml.");
  return v;
}

function num(root: unknown, path: string, fallback: number, min = 0): number {
  const v = at(root, path);
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min)
    throw new SageMakerConfigError(path, `expected a number >= ${min}, found ${JSON.stringify(v)}`, "Fix it in config.yaml.");
  return v;
}

/** Reads the SageMaker settings from a loaded config (the `Config` object or the raw YAML object). */
export function sageMakerSettingsFromConfig(config: unknown): SageMakerSettingsInput {
  const s = (key: string) => `sagemaker.${key}`;
  const seconds = (key: string, fallback: number) => num(config, s(key), fallback, 1) * 1000;
  return {
    region: str(config, s("region"), null),
    bucket: str(config, s("bucket"), null),
    roleArn: str(config, s("role_arn"), null),
    image: str(config, "image", null),
    trainingInstanceType: str(config, "resource.private_resource.training_fleet.instance_type", "ml.c5.4xlarge")!,
    evaluationInstanceType: str(config, "resource.private_resource.evaluation_fleet.instance_type", "ml.c5.4xlarge")!,
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

/**
 * Fills in region (config, else the SDK's provider chain: AWS_REGION / profile), bucket (config,
 * else `sagemaker-{region}-{account}` via STS) and checks role and image.
 */
export async function resolveSageMakerSettings(
  input: SageMakerSettingsInput,
  clients: { sts?: STSClient } = {},
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
  if (!input.roleArn)
    throw new SageMakerConfigError(
      "sagemaker.role_arn",
      "missing: SageMaker needs an execution role for jobs and endpoints",
      "Create a role trusted by sagemaker.amazonaws.com (docs/sagemaker.md gives the policy JSON; " +
        "requiredIamPermissions() lists every action) and put its ARN into config.yaml",
    );
  if (!ROLE_ARN.test(input.roleArn))
    throw new SageMakerConfigError(
      "sagemaker.role_arn",
      `'${input.roleArn}' is not an IAM role ARN`,
      "Use the form arn:aws:iam::123456789012:role/NAME",
    );
  const image = resolveImage(input.image, region);
  let bucket = input.bucket;
  if (!bucket) {
    const sts = clients.sts ?? new STSClient({ region });
    const identity = await awsCall("sts:GetCallerIdentity", () => sts.send(new GetCallerIdentityCommand({})));
    bucket = `sagemaker-${region}-${identity.Account}`;
  }
  return { ...input, region, bucket, roleArn: input.roleArn, image };
}
