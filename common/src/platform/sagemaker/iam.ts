/**
 * The IAM permissions SageMaker mode needs, and the errors that name them. The original's help
 * text missed `iam:PassRole`, `cloudwatch:PutMetricData`, S3 and Glue actions (D-31); this list is
 * derived from the calls this module actually makes, so a user can paste it into a policy.
 */

export interface IamPermission {
  /** IAM action, e.g. `sagemaker:CreateTrainingJob`. */
  action: string;
  /** Who needs it: the notebook user (`caller`), the execution role SageMaker assumes (`role`), or the image script (`image`). */
  principal: "caller" | "role" | "image";
  why: string;
}

const caller = (why: string, ...actions: string[]): IamPermission[] =>
  actions.map((action) => ({ action, principal: "caller" as const, why }));
const role = (why: string, ...actions: string[]): IamPermission[] =>
  actions.map((action) => ({ action, principal: "role" as const, why }));
const image = (why: string, ...actions: string[]): IamPermission[] =>
  actions.map((action) => ({ action, principal: "image" as const, why }));

const PERMISSIONS: IamPermission[] = [
  ...caller("find the account for the default bucket name", "sts:GetCallerIdentity"),
  ...caller(
    "the experiment bucket: data, rewards, joined data, model artifacts, decision log",
    "s3:CreateBucket",
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
  ),
  ...caller(
    "experiment, model and join records (tables created on first use)",
    "dynamodb:DescribeTable",
    "dynamodb:CreateTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:DeleteItem",
  ),
  ...caller(
    "training and evaluation jobs",
    "sagemaker:CreateTrainingJob",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:AddTags",
  ),
  ...caller(
    "hosting: models, endpoint configs, endpoints (blue/green UpdateEndpoint) and the Predictor",
    "sagemaker:CreateModel",
    "sagemaker:DescribeModel",
    "sagemaker:DeleteModel",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:DeleteEndpointConfig",
    "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpoint",
    "sagemaker:DescribeEndpoint",
    "sagemaker:DeleteEndpoint",
    "sagemaker:ListModels",
    "sagemaker:ListEndpointConfigs",
    "sagemaker:InvokeEndpoint",
  ),
  ...caller(
    "hand the execution role (sagemaker.role_arn) to training jobs and models; scope it to that role",
    "iam:PassRole",
  ),
  ...caller(
    "the join: Athena queries over the decision log and the rewards",
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
  ),
  ...caller(
    "the Athena tables live in the Glue data catalog",
    "glue:CreateDatabase",
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:CreateTable",
    "glue:DeleteTable",
    "glue:GetPartitions",
  ),
  ...caller("optional: checkSageMakerSetup() looks the role and the image up", "iam:GetRole", "ecr:DescribeImages"),
  ...caller(
    "metrics and the experiment dashboard",
    "cloudwatch:PutMetricData",
    "cloudwatch:GetMetricData",
    "cloudwatch:PutDashboard",
    "cloudwatch:DeleteDashboards",
  ),
  ...role("read training data and models, write artifacts and the data-capture decision log", "s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"),
  ...role(
    "pull the container image",
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
  ),
  ...role(
    "container logs and metrics",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:DescribeLogStreams",
    "cloudwatch:PutMetricData",
  ),
  ...image(
    "scripts/image-build-push.sh: create the repository and push the image",
    "ecr:GetAuthorizationToken",
    "ecr:DescribeRepositories",
    "ecr:CreateRepository",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
  ),
];

/** Every IAM action SageMaker mode uses, with who needs it and why. */
export function requiredIamPermissions(): IamPermission[] {
  return PERMISSIONS.map((p) => ({ ...p }));
}

interface PolicyScope {
  bucket?: string;
  roleArn?: string | null;
}

/** An IAM policy document (JSON text) for the notebook user, scoped where the names are known. */
export function callerPolicyDocument(scope: PolicyScope = {}): string {
  const actions = (prefix: string) =>
    [...new Set(PERMISSIONS.filter((p) => p.principal === "caller" && p.action.startsWith(prefix)).map((p) => p.action))];
  const all = [...new Set(PERMISSIONS.filter((p) => p.principal === "caller").map((p) => p.action))];
  const scoped = new Set(["iam:PassRole", ...actions("s3:")]);
  const statements: Record<string, unknown>[] = [
    { Sid: "CbKitServices", Effect: "Allow", Action: all.filter((a) => !scoped.has(a)), Resource: "*" },
    {
      Sid: "CbKitBucket",
      Effect: "Allow",
      Action: actions("s3:"),
      Resource: scope.bucket ? [`arn:aws:s3:::${scope.bucket}`, `arn:aws:s3:::${scope.bucket}/*`] : "*",
    },
    {
      Sid: "CbKitPassExecutionRole",
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: scope.roleArn ?? "arn:aws:iam::<account>:role/<the role in sagemaker.role_arn>",
      Condition: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
    },
  ];
  return JSON.stringify({ Version: "2012-10-17", Statement: statements }, null, 2);
}

/** The permissions policy (JSON text) of the execution role SageMaker assumes. */
export function executionRolePolicyDocument(scope: PolicyScope = {}): string {
  const roleActions = (prefix: string) =>
    [...new Set(PERMISSIONS.filter((p) => p.principal === "role" && p.action.startsWith(prefix)).map((p) => p.action))];
  return JSON.stringify(
    {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "Bucket",
          Effect: "Allow",
          Action: roleActions("s3:"),
          Resource: scope.bucket ? [`arn:aws:s3:::${scope.bucket}`, `arn:aws:s3:::${scope.bucket}/*`] : "*",
        },
        {
          Sid: "ImageLogsMetrics",
          Effect: "Allow",
          Action: [...roleActions("ecr:"), ...roleActions("logs:"), ...roleActions("cloudwatch:")],
          Resource: "*",
        },
      ],
    },
    null,
    2,
  );
}

/** The trust policy letting SageMaker assume the execution role. */
export function executionRoleTrustDocument(): string {
  return JSON.stringify(
    {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "sagemaker.amazonaws.com" }, Action: "sts:AssumeRole" }],
    },
    null,
    2,
  );
}

/** Raised when AWS refuses a call for lack of permission; lists what to grant. */
export class AwsPermissionError extends Error {
  constructor(
    readonly operation: string,
    readonly awsMessage: string,
  ) {
    const lines = requiredIamPermissions()
      .filter((p) => p.principal !== "image")
      .map((p) => `  ${p.principal === "caller" ? "you " : "role"}  ${p.action}`);
    super(
      `AWS denied ${operation}: ${awsMessage}\n` +
        "SageMaker mode needs these IAM permissions (\"you\" = the credentials running the notebook, " +
        "\"role\" = sagemaker.role_arn; iam:PassRole must cover that role). See docs/sagemaker.md for policy JSON:\n" +
        [...new Set(lines)].join("\n"),
    );
    this.name = "AwsPermissionError";
  }
}

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

/** True for the ways AWS says "not allowed" (HTTP 403, AccessDenied*, PassRole refusals). */
export function isAccessDenied(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as Error & { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const name = `${e.name ?? ""} ${e.Code ?? ""}`;
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized|UnrecognizedClient|InvalidClientTokenId/i.test(name)) return true;
  if (/not authorized to perform|is not authorized|access denied/i.test(e.message)) return true;
  return e.$metadata?.httpStatusCode === 403;
}

/** Runs one AWS call and turns a permission refusal into an `AwsPermissionError` naming the fix. */
export async function awsCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isAccessDenied(error)) throw new AwsPermissionError(operation, (error as Error).message);
    throw error;
  }
}

/** The error's AWS name/code, for branching on "not found" and the like. */
export function awsErrorName(error: unknown): string {
  if (!error || typeof error !== "object") return "";
  const e = error as { name?: string; Code?: string; __type?: string };
  return e.name ?? e.Code ?? e.__type ?? "";
}
