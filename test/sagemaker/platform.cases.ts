import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { mockClient } from "aws-sdk-client-mock";
import {
  CreateTrainingJobCommand,
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  DescribeTrainingJobCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { AthenaClient, GetQueryExecutionCommand, StartQueryExecutionCommand } from "@aws-sdk/client-athena";
import { CloudWatchClient, DeleteDashboardsCommand, GetMetricDataCommand, PutDashboardCommand, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { GetRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import {
  SageMakerConfigError,
  EXPERIMENT_TAG,
  callerPolicyDocument,
  createSageMakerPlatform,
  policyScopeOf,
  executionRolePolicyDocument,
  requiredIamPermissions,
  resolveSageMakerSettings,
  sageMakerSettingsFromConfig,
  type SageMakerPlatform,
} from "@cbkit/common/sagemaker";
import type { ModelRecord } from "@cbkit/common";
import { parseConfig } from "@cbkit/common/config";
import { scoreFixture } from "../ope/fixtures";
import { BUCKET, DUMMY_CREDENTIALS, REGION, fakeClock, tarGz, testSettings, validationError, type DynamoEmulator, type S3Emulator, STORAGE_EMULATORS } from "./helpers";

/** The shipped config.yaml switched to SageMaker mode. */
function sageMakerConfigText(): string {
  const doc = YAML.parse(fs.readFileSync(path.resolve(__dirname, "..", "..", "..", "config.yaml"), "utf8")) as Record<string, any>;
  doc.local_mode = false;
  doc.image = "123456789012.dkr.ecr.{AWS_REGION}.amazonaws.com/cbkit:latest";
  doc.resource.private_resource.hosting_fleet = { instance_type: "ml.m5.large", instance_count: 1 };
  doc.resource.private_resource.training_fleet.instance_type = "ml.c5.xlarge";
  doc.sagemaker = { ...doc.sagemaker, region: "eu-west-1", role_arn: "arn:aws:iam::123456789012:role/CbKitExecution", athena_database: "cbkit_db", job_timeout_seconds: 120 };
  return YAML.stringify(doc);
}
const CONFIG = sageMakerConfigText();

describe("SageMaker settings, IAM help and config", () => {
  it("reads the sagemaker.* keys and resource settings from config.yaml", async () => {
    const input = sageMakerSettingsFromConfig(parseConfig(CONFIG));
    assert.equal(input.region, "eu-west-1");
    assert.equal(input.hostingInstanceType, "ml.m5.large");
    assert.equal(input.trainingInstanceType, "ml.c5.xlarge");
    assert.equal(input.athenaDatabase, "cbkit_db");
    assert.equal(input.timeouts.job, 120_000);
    assert.equal(input.timeouts.endpoint, 1_800_000);
    assert.deepEqual(input.tables, { experiment: "BanditsExperimentTable", model: "BanditsModelTable", join: "BanditsJoinTable" });
    const sts = new STSClient({ region: "eu-west-1", credentials: DUMMY_CREDENTIALS });
    mockClient(sts).on(GetCallerIdentityCommand).resolves({ Account: "123456789012" });
    const settings = await resolveSageMakerSettings(input, { sts });
    assert.equal(settings.bucket, "sagemaker-eu-west-1-123456789012");
    assert.equal(settings.image, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cbkit:latest");
  });

  it("names the missing role, a placeholder image and a missing region with their fixes", async () => {
    const base = sageMakerSettingsFromConfig(parseConfig(CONFIG));
    await assert.rejects(resolveSageMakerSettings({ ...base, roleArn: null }), (e: Error) => e instanceof SageMakerConfigError && e.field === "sagemaker.role_arn" && /docs\/sagemaker\.md/.test(e.message));
    await assert.rejects(resolveSageMakerSettings({ ...base, roleArn: "CbKitExecution" }), /is not an IAM role ARN/);
    await assert.rejects(resolveSageMakerSettings({ ...base, image: "<account>.dkr.ecr.{AWS_REGION}.amazonaws.com/cbkit:latest" }), /image: still the placeholder.*image-build-push/);
    const saved = { r: process.env.AWS_REGION, d: process.env.AWS_DEFAULT_REGION, c: process.env.AWS_CONFIG_FILE };
    try {
      delete process.env.AWS_REGION;
      delete process.env.AWS_DEFAULT_REGION;
      process.env.AWS_CONFIG_FILE = "/nonexistent/aws-config";
      await assert.rejects(resolveSageMakerSettings({ ...base, region: null }), (e: Error) => e instanceof SageMakerConfigError && e.field === "sagemaker.region");
      process.env.AWS_REGION = "ap-south-1";
      const s = await resolveSageMakerSettings({ ...base, region: null, bucket: "my-bucket" });
      assert.equal(s.region, "ap-south-1");
    } finally {
      for (const [k, v] of [["AWS_REGION", saved.r], ["AWS_DEFAULT_REGION", saved.d], ["AWS_CONFIG_FILE", saved.c]] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  it("takes the role ARN from iam:GetRole when role_arn is null: a role under a path gets its real ARN (issues 9.6, 16.13)", async () => {
    const doc = YAML.parse(CONFIG) as Record<string, any>;
    doc.sagemaker.role_arn = null;
    doc.sagemaker.bucket = "my-bucket";
    doc.resource.shared_resource.iam_role = { role_name: "CbKitExecution" };
    const input = sageMakerSettingsFromConfig(parseConfig(YAML.stringify(doc)));
    const iam = new IAMClient({ region: "cn-north-1", credentials: DUMMY_CREDENTIALS });
    const iamMock = mockClient(iam);
    // A role created by the console lives under /service-role/: its ARN carries the path.
    const arn = "arn:aws-cn:iam::210987654321:role/service-role/CbKitExecution";
    iamMock.on(GetRoleCommand, { RoleName: "CbKitExecution" }).resolves({
      Role: { RoleName: "CbKitExecution", Path: "/service-role/", RoleId: "r", Arn: arn, CreateDate: new Date() },
    });
    const settings = await resolveSageMakerSettings(input, { iam });
    assert.equal(settings.roleArn, arn, "the ARN IAM reports, path and partition included");
    assert.equal(settings.bucket, "my-bucket");
    // A missing role and a refused GetRole are named, with the fix.
    iamMock.on(GetRoleCommand, { RoleName: "CbKitExecution" }).rejects(Object.assign(new Error("The role with name CbKitExecution cannot be found."), { name: "NoSuchEntityException" }));
    await assert.rejects(resolveSageMakerSettings(input, { iam }), (e: Error) => e instanceof SageMakerConfigError && e.field === "resource.shared_resource.iam_role.role_name" && /no IAM role named 'CbKitExecution'/.test(e.message));
    iamMock.on(GetRoleCommand, { RoleName: "CbKitExecution" }).rejects(Object.assign(new Error("User: x is not authorized to perform: iam:GetRole"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } }));
    await assert.rejects(
      resolveSageMakerSettings(input, { iam }),
      (e: Error) => e instanceof SageMakerConfigError && /iam:GetRole was denied/.test(e.message) && /sagemaker\.role_arn/.test(e.message) && /aws iam get-role --role-name CbKitExecution/.test(e.message),
    );
    // role_arn wins when both are set (no IAM call); a bad name is named.
    const calls = iamMock.commandCalls(GetRoleCommand).length;
    const both = await resolveSageMakerSettings({ ...sageMakerSettingsFromConfig(parseConfig(CONFIG)), roleName: "Other", bucket: "b" }, { iam });
    assert.equal(both.roleArn, "arn:aws:iam::123456789012:role/CbKitExecution");
    assert.equal(iamMock.commandCalls(GetRoleCommand).length, calls);
    await assert.rejects(
      resolveSageMakerSettings({ ...sageMakerSettingsFromConfig(parseConfig(CONFIG)), roleArn: null, roleName: "no spaces allowed" }),
      (e: Error) => e instanceof SageMakerConfigError && e.field === "resource.shared_resource.iam_role.role_name",
    );
    await assert.rejects(
      resolveSageMakerSettings({ ...sageMakerSettingsFromConfig(parseConfig(CONFIG)), roleArn: null, roleName: null }),
      /sagemaker\.role_arn: missing \(and resource\.shared_resource\.iam_role\.role_name is null\)/,
    );
  });

  it("reads rollback alarms, the baking period and the endpoint limits from the config (issues 9.6, 9.7)", () => {
    const doc = YAML.parse(CONFIG) as Record<string, any>;
    doc.sagemaker.rollback_alarms = " cbkit-5xx , cbkit-latency,";
    doc.sagemaker.baking_period_seconds = 300;
    doc.endpoint = { max_decisions_per_request: 64, request_timeout_seconds: 12 };
    const config = parseConfig(YAML.stringify(doc));
    const input = sageMakerSettingsFromConfig(config);
    assert.deepEqual(input.rollbackAlarms, ["cbkit-5xx", "cbkit-latency"]);
    assert.equal(input.bakingPeriodSeconds, 300);
    assert.deepEqual(input.servingLimits, { maxDecisionsPerRequest: 64, requestTimeoutSeconds: 12 });
    doc.sagemaker.rollback_alarms = Array.from({ length: 11 }, (_, i) => `a${i}`).join(",");
    assert.throws(() => sageMakerSettingsFromConfig(parseConfig(YAML.stringify(doc))), (e: Error) => e instanceof SageMakerConfigError && e.field === "sagemaker.rollback_alarms");
    // SageMaker mode has no hot swap: soft_deployment true is accepted with a warning.
    assert.ok(config.soft_deployment);
    assert.ok(config.warnings.some((w) => /soft_deployment is true but local_mode is false: SageMaker endpoints have no hot swap/.test(w)));
  });

  it("lists every IAM permission, including iam:PassRole (D-31) and StopTrainingJob, as policy JSON", () => {
    const actions = new Set(requiredIamPermissions().map((p) => p.action));
    for (const a of ["iam:PassRole", "cloudwatch:PutMetricData", "sagemaker:CreateTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:UpdateEndpoint", "athena:StartQueryExecution", "glue:CreateTable", "s3:PutObject", "dynamodb:PutItem", "ecr:BatchGetImage"])
      assert.ok(actions.has(a), a);
    const caller = JSON.parse(callerPolicyDocument({ bucket: BUCKET, roleArn: "arn:aws:iam::123456789012:role/R" })) as Policy;
    const pass = caller.Statement.find((s) => s.Action === "iam:PassRole");
    assert.deepEqual(pass?.Resource, "arn:aws:iam::123456789012:role/R");
    assert.deepEqual(pass?.Condition, { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } });
    const role = JSON.parse(executionRolePolicyDocument({ bucket: BUCKET })) as Policy;
    assert.deepEqual(role.Statement.find((s) => s.Sid === "Objects")?.Resource, `arn:aws:s3:::${BUCKET}/*`);
    assert.deepEqual(role.Statement.find((s) => s.Sid === "Bucket")?.Resource, `arn:aws:s3:::${BUCKET}`);
  });

  it("scopes the caller policy to the kit's resources: least privilege (issue 9.8)", () => {
    const scope = policyScopeOf({ ...testSettings(), athenaDatabase: "cbkit_db", athenaWorkgroup: "cbkit" });
    const policy = JSON.parse(callerPolicyDocument(scope)) as Policy;
    const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
    const statementsOf = (action: string) => policy.Statement.filter((s) => list(s.Action).includes(action));
    // Every caller action is granted somewhere, and only where this list says "*" is unavoidable.
    const callerActions = new Set(requiredIamPermissions().filter((p) => p.principal === "caller").map((p) => p.action));
    for (const action of callerActions) assert.ok(statementsOf(action).length > 0, `${action} is granted`);
    const anyResource = new Set(policy.Statement.filter((s) => list(s.Resource).includes("*")).flatMap((s) => list(s.Action)));
    assert.deepEqual([...anyResource].sort(), ["cloudwatch:GetMetricData", "cloudwatch:PutMetricData", "sagemaker:ListEndpointConfigs", "sagemaker:ListModels", "sts:GetCallerIdentity"]);
    assert.deepEqual(statementsOf("cloudwatch:PutMetricData")[0].Condition, { StringEquals: { "cloudwatch:namespace": "ContextualBandits" } });
    // The three record tables, nothing else.
    assert.deepEqual(statementsOf("dynamodb:PutItem")[0].Resource, ["TestExperiments", "TestModels", "TestJoins"].map((t) => `arn:aws:dynamodb:${REGION}:123456789012:table/${t}`));
    // The Glue database and the kit's cbkit_* tables.
    assert.deepEqual(statementsOf("glue:CreateTable")[0].Resource, [
      `arn:aws:glue:${REGION}:123456789012:catalog`,
      `arn:aws:glue:${REGION}:123456789012:database/cbkit_db`,
      `arn:aws:glue:${REGION}:123456789012:table/cbkit_db/cbkit_*`,
    ]);
    assert.deepEqual(statementsOf("athena:StartQueryExecution")[0].Resource, `arn:aws:athena:${REGION}:123456789012:workgroup/cbkit`);
    // Athena's multipart result uploads, on the bucket only.
    assert.deepEqual(statementsOf("s3:ListBucketMultipartUploads")[0].Resource, `arn:aws:s3:::${BUCKET}`);
    for (const a of ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]) assert.deepEqual(statementsOf(a)[0].Resource, `arn:aws:s3:::${BUCKET}/*`, a);
    // Tagged resources: created with the kit's tag, changed only when they carry it.
    assert.deepEqual(statementsOf("sagemaker:CreateEndpoint")[0].Condition, { Null: { "aws:RequestTag/cbkit:experiment": "false" } });
    assert.deepEqual(statementsOf("sagemaker:CreateTrainingJob")[0].Condition, { Null: { "aws:RequestTag/cbkit:job": "false" } });
    for (const a of ["sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:DeleteModel", "sagemaker:DeleteEndpointConfig", "sagemaker:InvokeEndpoint"])
      assert.deepEqual(statementsOf(a)[0].Condition, { Null: { "aws:ResourceTag/cbkit:experiment": "false" } }, a);
    assert.deepEqual(statementsOf("sagemaker:StopTrainingJob")[0].Condition, { Null: { "aws:ResourceTag/cbkit:job": "false" } });
    // Describe calls stay unconditioned: a missing name must read "not found", not "access denied".
    assert.equal(statementsOf("sagemaker:DescribeEndpoint")[0].Condition, undefined);
    for (const s of policy.Statement) for (const r of list(s.Resource)) assert.doesNotMatch(r, /<account>|<region>|<bucket>/, `${s.Sid} is fully scoped`);
    // The tags the policy requires are the ones the kit puts on what it creates.
    assert.equal(EXPERIMENT_TAG, "cbkit:experiment");
  });
});

describe("the Glue permissions Athena documents (issue 16.13)", () => {
  const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
  const granted = (policy: Policy, action: string) => policy.Statement.filter((s) => list(s.Action).includes(action)).flatMap((s) => list(s.Resource));
  const glue = (resource: string) => `arn:aws:glue:${REGION}:123456789012:${resource}`;

  it("a database other than default: GetDatabase and CreateDatabase on the catalog, database/default and the kit's database", () => {
    const policy = JSON.parse(callerPolicyDocument(policyScopeOf({ ...testSettings(), athenaDatabase: "cbkit_db" }))) as Policy;
    for (const action of ["glue:GetDatabase", "glue:CreateDatabase"])
      assert.deepEqual(granted(policy, action).sort(), [glue("catalog"), glue("database/cbkit_db"), glue("database/default")], action);
    // With the default database the ARN is listed once.
    const onDefault = JSON.parse(callerPolicyDocument(policyScopeOf({ ...testSettings(), athenaDatabase: "default" }))) as Policy;
    assert.deepEqual(granted(onDefault, "glue:CreateDatabase"), [glue("catalog"), glue("database/default")]);
  });

  it("DROP TABLE of the partitioned decisions table: the partition actions on the catalog, the database and the kit's tables only", () => {
    const policy = JSON.parse(callerPolicyDocument(policyScopeOf({ ...testSettings(), athenaDatabase: "cbkit_db" }))) as Policy;
    for (const action of ["glue:GetTable", "glue:DeleteTable", "glue:GetPartition", "glue:GetPartitions", "glue:DeletePartition", "glue:BatchDeletePartition"])
      assert.deepEqual(granted(policy, action), [glue("catalog"), glue("database/cbkit_db"), glue("table/cbkit_db/cbkit_*")], action);
    const listed = new Set(requiredIamPermissions().filter((p) => p.principal === "caller").map((p) => p.action));
    for (const action of ["glue:GetPartition", "glue:DeletePartition", "glue:BatchDeletePartition"]) assert.ok(listed.has(action), `${action} is in the printed list`);
  });
});

describe("the policies in docs/sagemaker.md", () => {
  it("the caller policy in docs/sagemaker.md is the generated one (and the role policy too)", () => {
    const docs = fs.readFileSync(path.resolve(__dirname, "..", "..", "..", "docs", "sagemaker.md"), "utf8");
    const jsonAfter = (heading: string) => {
      const at = docs.indexOf(heading);
      assert.ok(at >= 0, heading);
      const block = /```json\n([\s\S]*?)\n```/.exec(docs.slice(at));
      return JSON.parse(block![1]) as unknown;
    };
    const example = {
      bucket: "sagemaker-us-west-2-123456789012",
      roleArn: "arn:aws:iam::123456789012:role/CbKitExecution",
      region: "us-west-2",
      tables: { experiment: "BanditsExperimentTable", model: "BanditsModelTable", join: "BanditsJoinTable" },
      athenaDatabase: "default",
      athenaWorkgroup: "primary",
    };
    assert.deepEqual(jsonAfter("### 2.2 Your own permissions"), JSON.parse(callerPolicyDocument(example)));
    assert.deepEqual(jsonAfter("and give it this permissions policy"), JSON.parse(executionRolePolicyDocument(example)));
  });
});

type Policy = { Statement: { Sid: string; Action: string | string[]; Resource: string | string[]; Condition?: unknown }[] };

for (const emulator of STORAGE_EMULATORS) describe(`SageMakerPlatform: metrics, dashboard, clean-up (S3 and DynamoDB on ${emulator.name === "moto" ? "moto" : "s3rver and dynalite"}, the rest mocked)`, { skip: emulator.skip }, () => {
  let s3: S3Emulator;
  let ddb: DynamoEmulator;
  let platform: SageMakerPlatform;
  const sagemaker = new SageMakerClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
  const athena = new AthenaClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
  const cloudwatch = new CloudWatchClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
  const sm = mockClient(sagemaker);
  const ath = mockClient(athena);
  const cw = mockClient(cloudwatch);
  const EXP = "exp-plat";
  const model = (id: string): ModelRecord => ({
    experiment_id: EXP,
    model_id: id,
    train_state: "Completed",
    evaluation_job_name: null,
    eval_state: null,
    eval_scores: {},
    input_model_id: null,
    input_data_s3_prefix: null,
    eval_data_s3_path: null,
    s3_model_output_path: null,
    training_start_time: null,
    training_end_time: null,
    failure_reason: null,
  });

  before(async () => {
    s3 = await emulator.s3();
    ddb = await emulator.dynamo();
    platform = await createSageMakerPlatform(parseConfig(CONFIG), {
      clients: { s3: s3.client, dynamodb: ddb.client, sagemaker, athena, cloudwatch },
      settings: { ...testSettings(), region: REGION },
      clock: fakeClock(),
    });
  });
  after(async () => {
    await s3.stop();
    await ddb.stop();
  });
  beforeEach(() => {
    sm.reset();
    ath.reset();
    cw.reset();
  });

  it("publishes metrics under the experiment, creating the dashboard first", async () => {
    cw.on(PutDashboardCommand).resolves({});
    cw.on(PutMetricDataCommand).resolves({});
    await platform.metrics.put(EXP, "reported_rewards_score", 0.75, "2026-11-28T12:00:00.000Z");
    await platform.metrics.put(EXP, "reported_rewards_score", 0.8);
    const dashboards = cw.commandCalls(PutDashboardCommand);
    assert.equal(dashboards.length, 1);
    assert.equal(dashboards[0].args[0].input.DashboardName, EXP);
    const body = JSON.parse(dashboards[0].args[0].input.DashboardBody!) as { widgets: { properties: { metrics: unknown[][]; region: string } }[] };
    assert.equal(body.widgets.length, 5);
    assert.deepEqual(body.widgets[2].properties.metrics[0].slice(0, 4), ["ContextualBandits", "reported_rewards_score", "ExperimentId", EXP]);
    assert.deepEqual(cw.commandCalls(PutMetricDataCommand)[0].args[0].input, {
      Namespace: "ContextualBandits",
      MetricData: [{ MetricName: "reported_rewards_score", Dimensions: [{ Name: "ExperimentId", Value: EXP }], Timestamp: new Date("2026-11-28T12:00:00.000Z"), Value: 0.75 }],
    });
    await assert.rejects(platform.metrics.put(EXP, "x", Number.NaN), /finite/);
    assert.equal(platform.dashboardLink(EXP), `https://${REGION}.console.aws.amazon.com/cloudwatch/home?region=${REGION}#dashboards:name=${EXP};start=PT1H`);
  });

  it("reads metrics back in time order", async () => {
    cw.on(GetMetricDataCommand)
      .resolvesOnce({ MetricDataResults: [{ Id: "m", Timestamps: [new Date("2026-11-28T12:02:00Z")], Values: [0.9] }], NextToken: "t" })
      .resolves({ MetricDataResults: [{ Id: "m", Timestamps: [new Date("2026-11-28T12:01:00Z")], Values: [0.7] }] });
    assert.deepEqual(await platform.metrics.get(EXP, "reported_rewards_score"), [
      { timestamp: "2026-11-28T12:01:00.000Z", value: 0.7 },
      { timestamp: "2026-11-28T12:02:00.000Z", value: 0.9 },
    ]);
  });

  it("publishes each evaluation's score", async () => {
    cw.on(PutDashboardCommand).resolves({});
    cw.on(PutMetricDataCommand).resolves({});
    const modelId = `${EXP}-model-000000000001`;
    const job = `${modelId}-eval-000000000001`;
    await platform.objects.put(platform.objects.uriOf(`${EXP}/joined_data/j/eval/a.csv`), "x");
    await platform.objects.put(platform.objects.uriOf(`${EXP}/training_jobs/${modelId}/output/model/model.json`), "{}");
    sm.on(CreateTrainingJobCommand).resolves({});
    sm.on(DescribeTrainingJobCommand).callsFake(async () => {
      const score = scoreFixture(0.2, 0.1, 0.3, 10);
      await platform.objects.put(platform.objects.uriOf(`${EXP}/evaluation_jobs/${job}/output/model.tar.gz`), tarGz({ "score.json": JSON.stringify(score) }));
      return { TrainingJobStatus: "Completed", TrainingEndTime: new Date("2026-11-28T12:05:00Z") };
    });
    await platform.jobs.runEvaluation({
      experimentId: EXP,
      jobName: job,
      hyperparameters: {},
      evaluationDataUri: platform.objects.uriOf(`${EXP}/joined_data/j/eval`),
      modelUri: platform.objects.uriOf(`${EXP}/training_jobs/${modelId}/output/model`),
      outputUri: platform.objects.uriOf(`${EXP}/evaluation_jobs/${job}`),
    });
    const put = cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData![0]);
    assert.deepEqual(put.map((m) => [m.MetricName, m.Value]), [["newly_trained_model_score", 0.2]]);
  });

  it("refuses rewards outside the experiment's rewards folder", () => {
    assert.throws(
      () => platform.join({
        experimentId: EXP,
        joinJobId: "j",
        decisionsUri: platform.objects.uriOf(`${EXP}/inference_data`),
        rewardsUri: platform.objects.uriOf(`${EXP}/uploads/rewards`),
        ratio: 0.8,
        missingReward: "drop",
        outputTrainUri: platform.objects.uriOf(`${EXP}/joined_data/j/train`),
        outputEvalUri: platform.objects.uriOf(`${EXP}/joined_data/j/eval`),
      }),
      /must lie under s3:\/\/cbkit-test-bucket\/exp-plat\/rewards_data\//,
    );
  });

  /** SageMaker for clean-up: the endpoint answers Deleting twice after DeleteEndpoint, then "Could not find endpoint". */
  function cleanupMocks(options: { failModel?: string; failEndpoint?: boolean } = {}) {
    let endpoint: "InService" | "Deleting" | null = "InService";
    let describesWhileDeleting = 0;
    sm.on(DescribeEndpointCommand).callsFake(async () => {
      if (endpoint === "Deleting" && ++describesWhileDeleting > 2) endpoint = null;
      if (!endpoint) throw validationError(`Could not find endpoint "${EXP}".`);
      return { EndpointName: EXP, EndpointStatus: endpoint, EndpointConfigName: `${EXP}-model-000000000003-cfg` };
    });
    sm.on(DescribeEndpointConfigCommand).resolves({ ProductionVariants: [{ VariantName: "AllTraffic", ModelName: `${EXP}-model-000000000003` }] });
    sm.on(DeleteEndpointCommand).callsFake(async () => {
      if (options.failEndpoint) throw Object.assign(new Error("User is not authorized to perform: sagemaker:DeleteEndpoint"), { name: "AccessDeniedException" });
      endpoint = "Deleting";
      return {};
    });
    sm.on(ListModelsCommand).resolves({
      Models: [`${EXP}-model-000000000004`, `${EXP}-model-x-model-000000000001`, "unrelated"].map((ModelName) => ({ ModelName, ModelArn: "arn", CreationTime: new Date() })),
    });
    sm.on(ListEndpointConfigsCommand).resolves({ EndpointConfigs: [{ EndpointConfigName: `${EXP}-model-000000000005-cfg`, EndpointConfigArn: "arn", CreationTime: new Date() }] });
    sm.on(DeleteEndpointConfigCommand).resolves({});
    sm.on(DeleteModelCommand).callsFake(async (input: { ModelName: string }) => {
      if (input.ModelName === options.failModel)
        throw Object.assign(new Error(`User is not authorized to perform: sagemaker:DeleteModel`), { name: "AccessDeniedException" });
      return {};
    });
    ath.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: "q" });
    ath.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: "SUCCEEDED" } } });
    cw.on(DeleteDashboardsCommand).resolves({});
  }

  /** The SageMaker calls in the order they were made, by command name. */
  const callOrder = () => sm.calls().map((c) => (c.args[0] as object).constructor.name.replace(/Command$/, ""));

  it("stops when DeleteEndpoint fails and removes nothing else (issue 9.4)", async () => {
    cleanupMocks({ failEndpoint: true });
    await assert.rejects(
      platform.cleanup(EXP, { deleteData: true }),
      (e: Error) => /clean-up of exp-plat stopped: the endpoint exp-plat could not be deleted: AWS denied sagemaker:DeleteEndpoint/.test(e.message) && /Nothing else was removed/.test(e.message),
    );
    assert.equal(sm.commandCalls(DeleteEndpointConfigCommand).length, 0, "the endpoint's config stays");
    assert.equal(sm.commandCalls(DeleteModelCommand).length, 0, "the endpoint's model stays");
    assert.equal(ath.commandCalls(StartQueryExecutionCommand).length, 0);
    assert.equal(cw.commandCalls(DeleteDashboardsCommand).length, 0);
  });

  it("waits until the endpoint is gone before deleting its config and model (issue 9.4)", async () => {
    cleanupMocks();
    await platform.cleanup(EXP);
    const order = callOrder();
    const deleted = order.indexOf("DeleteEndpoint");
    const firstConfigDelete = order.indexOf("DeleteEndpointConfig");
    assert.ok(deleted >= 0 && firstConfigDelete > deleted);
    const describesBetween = order.slice(deleted + 1, firstConfigDelete).filter((c) => c === "DescribeEndpoint").length;
    assert.equal(describesBetween, 3, "Deleting, Deleting, then 'Could not find endpoint': only then the config and model go");
  });

  it("leaves configs and models alone that SageMaker knows in other letter cases: another experiment's (issue 9.9)", async () => {
    cleanupMocks();
    const other = `${EXP}-model-000000000004`.toUpperCase();
    sm.on(DescribeModelCommand, { ModelName: `${EXP}-model-000000000004` }).resolves({ ModelName: other });
    sm.on(DescribeEndpointConfigCommand, { EndpointConfigName: `${EXP}-model-000000000004-cfg` }).resolves({ EndpointConfigName: `${other}-CFG` });
    await platform.cleanup(EXP);
    const models = sm.commandCalls(DeleteModelCommand).map((c) => c.args[0].input.ModelName);
    const configs = sm.commandCalls(DeleteEndpointConfigCommand).map((c) => c.args[0].input.EndpointConfigName);
    assert.ok(!models.includes(`${EXP}-model-000000000004`), "the other-case model is not deleted");
    assert.ok(!configs.includes(`${EXP}-model-000000000004-cfg`), "the other-case config is not deleted");
    assert.ok(models.includes(`${EXP}-model-000000000003`), "the experiment's own model still is");
  });

  it("goes on without touching an endpoint that SageMaker knows in other letter cases (another experiment's)", async () => {
    cleanupMocks();
    sm.on(DescribeEndpointCommand).resolves({ EndpointName: EXP.toUpperCase(), EndpointStatus: "InService", EndpointConfigName: "OTHER-CFG" });
    const report = await platform.cleanup(EXP);
    assert.equal(report.endpointDeleted, false);
    assert.equal(sm.commandCalls(DeleteEndpointCommand).length, 0, "the other experiment's endpoint is not deleted");
    assert.ok(sm.commandCalls(DeleteModelCommand).length > 0, "this experiment's models are still cleaned up");
  });

  it("removes endpoint, configs, models, tables, dashboard and, when asked, the data (D-15)", async () => {
    await platform.records.create("model", EXP, `${EXP}-model-000000000001`, model(`${EXP}-model-000000000001`));
    await platform.records.create("model", EXP, `${EXP}-model-000000000002`, model(`${EXP}-model-000000000002`));
    await platform.objects.put(platform.objects.uriOf(`${EXP}/rewards_data/b/r.jsonl`), "{}\n");
    await platform.objects.put(platform.objects.uriOf(`other-exp/rewards_data/b/r.jsonl`), "{}\n");
    cleanupMocks();
    const report = await platform.cleanup(EXP, { deleteData: true });
    assert.equal(report.endpointDeleted, true);
    const ids = [1, 2, 3, 4].map((i) => `${EXP}-model-00000000000${i}`);
    assert.deepEqual(sm.commandCalls(DeleteModelCommand).map((c) => c.args[0].input.ModelName).sort(), ids, "models from records, the endpoint and the listing; not other experiments'");
    assert.deepEqual(
      sm.commandCalls(DeleteEndpointConfigCommand).map((c) => c.args[0].input.EndpointConfigName).sort(),
      [...ids, `${EXP}-model-000000000005`].map((id) => `${id}-cfg`).sort(),
    );
    assert.equal(ath.commandCalls(StartQueryExecutionCommand).length, 3, "three DROP TABLE statements (decisions, rewards, joined ids)");
    assert.deepEqual(cw.commandCalls(DeleteDashboardsCommand)[0].args[0].input, { DashboardNames: [EXP] });
    assert.ok(report.objectsDeleted >= 5);
    assert.deepEqual(await platform.objects.list(platform.objects.uriOf(EXP)), []);
    assert.equal((await platform.objects.list(platform.objects.uriOf("other-exp"))).length, 1);
    assert.ok(report.removed.includes(`endpoint ${EXP}`));
    assert.ok(report.removed.some((r) => r.startsWith("Athena table cbkit_test.cbkit_decisions_exp_plat_")));
    // Records stay until cleanTableRecords (records.deleteExperiment).
    assert.equal((await platform.records.list("model", EXP)).length, 2);
  });

  it("keeps going after a failed step and reports every failure at the end", async () => {
    cleanupMocks({ failModel: `${EXP}-model-000000000001` });
    await assert.rejects(platform.cleanup(EXP), (e: Error) => /failed on:\n  model exp-plat-model-000000000001: AWS denied sagemaker:DeleteModel/.test(e.message) && /CloudWatch dashboard exp-plat/.test(e.message));
    assert.equal(sm.commandCalls(DeleteModelCommand).length, 4, "the other models were still deleted");
    assert.equal(cw.commandCalls(DeleteDashboardsCommand).length, 1);
  });
});

describe("checkSageMakerSetup (AWS mocked)", () => {
  it("reports every setup problem at once, with fixes", async () => {
    const { checkSageMakerSetup } = await import("@cbkit/common/sagemaker");
    const { IAMClient, GetRoleCommand } = await import("@aws-sdk/client-iam");
    const { ECRClient, DescribeImagesCommand } = await import("@aws-sdk/client-ecr");
    const { S3Client, HeadBucketCommand } = await import("@aws-sdk/client-s3");
    const { DynamoDBClient, DescribeTableCommand } = await import("@aws-sdk/client-dynamodb");
    const region = "eu-west-1";
    const c = { region, credentials: DUMMY_CREDENTIALS };
    const clients = { sts: new STSClient(c), iam: new IAMClient(c), ecr: new ECRClient(c), s3: new S3Client(c), dynamodb: new DynamoDBClient(c) };
    mockClient(clients.sts).on(GetCallerIdentityCommand).resolves({ Account: "123456789012", Arn: "arn:aws:iam::123456789012:user/alice" });
    const iam = mockClient(clients.iam);
    iam.on(GetRoleCommand).resolves({
      Role: {
        RoleName: "CbKitExecution", Path: "/", RoleId: "r", Arn: "arn:aws:iam::123456789012:role/CbKitExecution", CreateDate: new Date(),
        AssumeRolePolicyDocument: encodeURIComponent('{"Statement":[{"Principal":{"Service":"ec2.amazonaws.com"}}]}'),
      },
    });
    mockClient(clients.ecr).on(DescribeImagesCommand).rejects(Object.assign(new Error("The image with imageId {imageTag:'latest'} does not exist"), { name: "ImageNotFoundException" }));
    mockClient(clients.s3).on(HeadBucketCommand).rejects(Object.assign(new Error("NotFound"), { name: "NotFound", $metadata: { httpStatusCode: 404 } }));
    const ddb = mockClient(clients.dynamodb);
    ddb.on(DescribeTableCommand).rejects(Object.assign(new Error("denied"), { name: "AccessDeniedException" }));
    ddb.on(DescribeTableCommand, { TableName: "BanditsExperimentTable" }).resolves({ Table: { TableStatus: "ACTIVE" } });
    const checks = await checkSageMakerSetup(parseConfig(CONFIG), clients);
    const byName = Object.fromEntries(checks.map((ch) => [ch.check, ch]));
    assert.equal(byName.credentials.ok, true);
    assert.equal(byName["execution role"].ok, false);
    assert.match(byName["execution role"].detail, /does not trust sagemaker\.amazonaws\.com/);
    assert.equal(byName.image.ok, false);
    assert.match(byName.image.fix ?? "", /image-build-push\.sh --region eu-west-1/);
    assert.equal(byName.bucket.ok, true);
    assert.match(byName.bucket.detail, /created on first use/);
    assert.equal(byName["experiment table"].ok, true);
    assert.equal(byName["model table"].ok, false);
    assert.match(byName["model table"].fix ?? "", /dynamodb:DescribeTable/);
    assert.deepEqual(iam.commandCalls(GetRoleCommand)[0].args[0].input, { RoleName: "CbKitExecution" });
  });

  it("finds a configured role ARN that lacks the role's path (GetRole by name would pass it), and an image SageMaker refuses", async () => {
    const { checkSageMakerSetup } = await import("@cbkit/common/sagemaker");
    const { ECRClient, DescribeImagesCommand } = await import("@aws-sdk/client-ecr");
    const c = { region: "eu-west-1", credentials: DUMMY_CREDENTIALS };
    const sts = new STSClient(c);
    const iam = new IAMClient(c);
    const ecr = new ECRClient(c);
    mockClient(sts).on(GetCallerIdentityCommand).resolves({ Account: "123456789012", Arn: "arn:aws:iam::123456789012:user/alice" });
    mockClient(ecr).on(DescribeImagesCommand).resolves({ imageDetails: [{ imageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json" }] });
    const trust = encodeURIComponent('{"Statement":[{"Principal":{"Service":"sagemaker.amazonaws.com"}}]}');
    mockClient(iam).on(GetRoleCommand).resolves({
      Role: { RoleName: "CbKitExecution", Path: "/service-role/", RoleId: "r", Arn: "arn:aws:iam::123456789012:role/service-role/CbKitExecution", CreateDate: new Date(), AssumeRolePolicyDocument: trust },
    });
    const { S3Client, HeadBucketCommand } = await import("@aws-sdk/client-s3");
    const { DynamoDBClient, DescribeTableCommand } = await import("@aws-sdk/client-dynamodb");
    const s3 = new S3Client(c);
    const dynamodb = new DynamoDBClient(c);
    mockClient(s3).on(HeadBucketCommand).resolves({});
    mockClient(dynamodb).on(DescribeTableCommand).resolves({ Table: { TableStatus: "ACTIVE" } });
    const checks = await checkSageMakerSetup(parseConfig(CONFIG), { sts, iam, ecr, s3, dynamodb });
    assert.deepEqual(checks.find((ch) => ch.check === "image"), {
      check: "image",
      ok: true,
      detail: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cbkit:latest exists (application/vnd.docker.distribution.manifest.v2+json)",
    });
    // An image pushed as an OCI index (provenance attestations) is refused before any job.
    mockClient(ecr).on(DescribeImagesCommand).resolves({ imageDetails: [{ imageManifestMediaType: "application/vnd.oci.image.index.v1+json" }] });
    const image = (await checkSageMakerSetup(parseConfig(CONFIG), { sts, iam, ecr, s3, dynamodb })).find((ch) => ch.check === "image")!;
    assert.equal(image.ok, false);
    assert.match(image.detail, /manifest type application\/vnd\.oci\.image\.index\.v1\+json; SageMaker accepts only application\/vnd\.docker\.distribution\.manifest\.v2\+json/);
    assert.match(image.fix ?? "", /image-build-push\.sh --region eu-west-1/);
    const role = checks.find((ch) => ch.check === "execution role")!;
    assert.equal(role.ok, false);
    assert.match(role.detail, /the role named CbKitExecution has the ARN arn:aws:iam::123456789012:role\/service-role\/CbKitExecution \(path \/service-role\/\)/);
    assert.equal(role.fix, "set sagemaker.role_arn to arn:aws:iam::123456789012:role/service-role/CbKitExecution");
  });

  it("stops at a config problem and names the field", async () => {
    const { checkSageMakerSetup } = await import("@cbkit/common/sagemaker");
    const doc = YAML.parse(CONFIG) as Record<string, any>;
    doc.sagemaker.role_arn = null;
    const checks = await checkSageMakerSetup(parseConfig(YAML.stringify(doc)));
    assert.equal(checks.length, 1);
    assert.equal(checks[0].check, "sagemaker.role_arn");
    assert.equal(checks[0].ok, false);
  });
});
