/**
 * The IAM permissions SageMaker mode needs, and the errors that name them. The original's help
 * text missed `iam:PassRole`, `cloudwatch:PutMetricData`, S3 and Glue actions (D-31); this list is
 * derived from the calls this module actually makes, so a user can paste it into a policy.
 * The policy documents are least-privilege: each statement names the resources the kit uses
 * (bucket, tables, Glue database and `cbkit_*` tables, the role, the metric namespace), and the
 * SageMaker resources the kit changes must carry its tags.
 */
import { EXPERIMENT_TAG, JOB_TAG, METRIC_NAMESPACE } from "./names";

export interface IamPermission {
  /** IAM action, e.g. `sagemaker:CreateTrainingJob`. */
  action: string;
  /** Who needs it: the notebook user (`caller`), the execution role SageMaker assumes (`role`), or the image script (`image`). */
  principal: "caller" | "role" | "image";
  why: string;
}

/** What the join does with its Glue tables: create, read, drop (a partitioned table's partitions too). */
const GLUE_TABLE_ACTIONS = [
  "glue:GetTable",
  "glue:CreateTable",
  "glue:DeleteTable",
  "glue:GetPartition",
  "glue:GetPartitions",
  "glue:DeletePartition",
  "glue:BatchDeletePartition",
] as const;

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
  ),
  ...caller(
    "Athena writes query results to the bucket in parts (multipart uploads)",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:ListBucketMultipartUploads",
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
    "sagemaker:StopTrainingJob",
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
    "the Athena database in the Glue data catalog: Athena also reads the `default` database, and creates sagemaker.athena_database",
    "glue:CreateDatabase",
    "glue:GetDatabase",
  ),
  ...caller(
    "the Athena tables in the Glue data catalog; dropping the partitioned decisions table also deletes its partitions",
    ...GLUE_TABLE_ACTIONS,
  ),
  ...caller(
    "resource.shared_resource.iam_role.role_name is turned into the role's ARN (path included) with GetRole; checkSageMakerSetup() looks the role and the image up",
    "iam:GetRole",
    "ecr:DescribeImages",
  ),
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
  ...role("blue/green updates: read the rollback alarms (sagemaker.rollback_alarms)", "cloudwatch:DescribeAlarms"),
  ...image(
    "scripts/image-build-push.sh: create the repository, push the image and check its manifest type",
    "ecr:GetAuthorizationToken",
    "ecr:DescribeRepositories",
    "ecr:CreateRepository",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:DescribeImages",
  ),
];

/** Every IAM action SageMaker mode uses, with who needs it and why. */
export function requiredIamPermissions(): IamPermission[] {
  return PERMISSIONS.map((p) => ({ ...p }));
}

/** What the policy documents are scoped to; a missing part becomes a `<placeholder>`. */
export interface PolicyScope {
  bucket?: string;
  roleArn?: string | null;
  region?: string;
  /** 12-digit account id; taken from `roleArn` when absent. */
  account?: string;
  /** DynamoDB table names (`resource.shared_resource.*_db.table_name`). */
  tables?: { experiment: string; model: string; join: string };
  athenaDatabase?: string;
  athenaWorkgroup?: string;
}

type Statement = { Sid: string; Effect: "Allow"; Action: string | string[]; Resource: string | string[]; Condition?: Record<string, Record<string, unknown>> };

function arns(scope: PolicyScope) {
  const partition = /^arn:([^:]+):/.exec(scope.roleArn ?? "")?.[1] ?? "aws";
  const account = scope.account ?? /^arn:[^:]+:iam::(\d{12}):/.exec(scope.roleArn ?? "")?.[1] ?? "<account>";
  const region = scope.region ?? "<region>";
  const bucket = scope.bucket ?? "<bucket>";
  const db = scope.athenaDatabase ?? "default";
  const tables = scope.tables ?? { experiment: "BanditsExperimentTable", model: "BanditsModelTable", join: "BanditsJoinTable" };
  const sm = (type: string) => `arn:${partition}:sagemaker:${region}:${account}:${type}/*`;
  return {
    bucket: `arn:${partition}:s3:::${bucket}`,
    objects: `arn:${partition}:s3:::${bucket}/*`,
    tables: Object.values(tables).map((t) => `arn:${partition}:dynamodb:${region}:${account}:table/${t}`),
    trainingJobs: sm("training-job"),
    hosting: [sm("model"), sm("endpoint-config"), sm("endpoint")],
    glueCatalog: `arn:${partition}:glue:${region}:${account}:catalog`,
    // Athena needs the `default` database besides the kit's own, even when sagemaker.athena_database is another one.
    glueDatabases: [...new Set(["default", db])].map((name) => `arn:${partition}:glue:${region}:${account}:database/${name}`),
    glueDatabase: `arn:${partition}:glue:${region}:${account}:database/${db}`,
    glueTables: `arn:${partition}:glue:${region}:${account}:table/${db}/cbkit_*`,
    workgroup: `arn:${partition}:athena:${region}:${account}:workgroup/${scope.athenaWorkgroup ?? "primary"}`,
    role: scope.roleArn ?? `arn:${partition}:iam::${account}:role/<the role in sagemaker.role_arn>`,
    repositories: `arn:${partition}:ecr:${region}:${account}:repository/*`,
    dashboards: `arn:${partition}:cloudwatch::${account}:dashboard/*`,
    alarms: `arn:${partition}:cloudwatch:${region}:${account}:alarm:*`,
    logGroups: `arn:${partition}:logs:${region}:${account}:log-group:/aws/sagemaker/*`,
  };
}

/** The scope of the policy documents for resolved SageMaker settings. */
export function policyScopeOf(settings: {
  bucket: string;
  roleArn: string;
  region: string;
  tables: { experiment: string; model: string; join: string };
  athenaDatabase: string;
  athenaWorkgroup: string;
}): PolicyScope {
  const { bucket, roleArn, region, tables, athenaDatabase, athenaWorkgroup } = settings;
  return { bucket, roleArn, region, tables, athenaDatabase, athenaWorkgroup };
}

const tagged = (key: string, where: "RequestTag" | "ResourceTag") => ({ Null: { [`aws:${where}/${key}`]: "false" } });

/**
 * The IAM policy (JSON text) for the notebook user, least-privilege: every statement is scoped to
 * the kit's resources, and `every caller action of requiredIamPermissions()` appears in one.
 * Creating SageMaker resources requires the kit's tag on the request; changing or deleting them
 * requires it on the resource. Describe calls are not tag-conditioned: for a missing name they
 * must answer "not found", not "access denied".
 */
export function callerPolicyDocument(scope: PolicyScope = {}): string {
  const a = arns(scope);
  const statements: Statement[] = [
    { Sid: "CbKitIdentity", Effect: "Allow", Action: "sts:GetCallerIdentity", Resource: "*" },
    { Sid: "CbKitBucket", Effect: "Allow", Action: ["s3:CreateBucket", "s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"], Resource: a.bucket },
    {
      Sid: "CbKitObjects",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      Resource: a.objects,
    },
    {
      Sid: "CbKitRecordTables",
      Effect: "Allow",
      Action: ["dynamodb:DescribeTable", "dynamodb:CreateTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem"],
      Resource: a.tables,
    },
    { Sid: "CbKitCreateJobs", Effect: "Allow", Action: "sagemaker:CreateTrainingJob", Resource: a.trainingJobs, Condition: tagged(JOB_TAG, "RequestTag") },
    { Sid: "CbKitStopOwnJobs", Effect: "Allow", Action: "sagemaker:StopTrainingJob", Resource: a.trainingJobs, Condition: tagged(JOB_TAG, "ResourceTag") },
    {
      Sid: "CbKitCreateHosting",
      Effect: "Allow",
      Action: ["sagemaker:CreateModel", "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint"],
      Resource: a.hosting,
      Condition: tagged(EXPERIMENT_TAG, "RequestTag"),
    },
    {
      Sid: "CbKitTagOnCreate",
      Effect: "Allow",
      Action: "sagemaker:AddTags",
      Resource: [a.trainingJobs, ...a.hosting],
      Condition: { "ForAllValues:StringEquals": { "aws:TagKeys": [EXPERIMENT_TAG, JOB_TAG] } },
    },
    {
      Sid: "CbKitChangeOwnHosting",
      Effect: "Allow",
      Action: ["sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel", "sagemaker:InvokeEndpoint"],
      Resource: a.hosting,
      Condition: tagged(EXPERIMENT_TAG, "ResourceTag"),
    },
    {
      Sid: "CbKitDescribeSageMaker",
      Effect: "Allow",
      Action: ["sagemaker:DescribeTrainingJob", "sagemaker:DescribeModel", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeEndpoint"],
      Resource: [a.trainingJobs, ...a.hosting],
    },
    // List calls take no resource: IAM only allows "*" for them.
    { Sid: "CbKitListSageMaker", Effect: "Allow", Action: ["sagemaker:ListModels", "sagemaker:ListEndpointConfigs"], Resource: "*" },
    {
      Sid: "CbKitPassExecutionRole",
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: a.role,
      Condition: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
    },
    {
      Sid: "CbKitAthena",
      Effect: "Allow",
      Action: ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution"],
      Resource: a.workgroup,
    },
    // Athena's guide: every Glue action needs the catalog and the database too, and Athena works
    // with the `default` database whichever database the queries name.
    { Sid: "CbKitGlueDatabase", Effect: "Allow", Action: ["glue:GetDatabase", "glue:CreateDatabase"], Resource: [a.glueCatalog, ...a.glueDatabases] },
    {
      Sid: "CbKitGlueTables",
      Effect: "Allow",
      Action: [...GLUE_TABLE_ACTIONS],
      Resource: [a.glueCatalog, a.glueDatabase, a.glueTables],
    },
    { Sid: "CbKitLookUpRole", Effect: "Allow", Action: "iam:GetRole", Resource: a.role },
    { Sid: "CbKitSetupCheckImage", Effect: "Allow", Action: "ecr:DescribeImages", Resource: a.repositories },
    {
      Sid: "CbKitMetrics",
      Effect: "Allow",
      Action: "cloudwatch:PutMetricData",
      Resource: "*",
      Condition: { StringEquals: { "cloudwatch:namespace": METRIC_NAMESPACE } },
    },
    // GetMetricData takes no resource either.
    { Sid: "CbKitReadMetrics", Effect: "Allow", Action: "cloudwatch:GetMetricData", Resource: "*" },
    { Sid: "CbKitDashboards", Effect: "Allow", Action: ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"], Resource: a.dashboards },
  ];
  return JSON.stringify({ Version: "2012-10-17", Statement: statements }, null, 2);
}

/** The permissions policy (JSON text) of the execution role SageMaker assumes. */
export function executionRolePolicyDocument(scope: PolicyScope = {}): string {
  const a = arns(scope);
  const statements: Statement[] = [
    { Sid: "Bucket", Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: a.bucket },
    { Sid: "Objects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: a.objects },
    // GetAuthorizationToken takes no resource.
    { Sid: "RegistryLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
    { Sid: "PullImage", Effect: "Allow", Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"], Resource: a.repositories },
    { Sid: "Logs", Effect: "Allow", Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], Resource: [a.logGroups, `${a.logGroups}:*`] },
    {
      Sid: "SageMakerMetrics",
      Effect: "Allow",
      Action: "cloudwatch:PutMetricData",
      Resource: "*",
      Condition: { StringLike: { "cloudwatch:namespace": "/aws/sagemaker/*" } },
    },
    // A blue/green update with AutoRollbackConfiguration reads its alarms as the execution role.
    { Sid: "RollbackAlarms", Effect: "Allow", Action: "cloudwatch:DescribeAlarms", Resource: a.alarms },
  ];
  return JSON.stringify({ Version: "2012-10-17", Statement: statements }, null, 2);
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
