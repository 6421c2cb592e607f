import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mockClient } from "aws-sdk-client-mock";
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  SageMakerClient,
  UpdateEndpointCommand,
} from "@aws-sdk/client-sagemaker";
import { S3ObjectStore, SageMakerHosting, WaitTimeoutError } from "@cbkit/common/dist/platform/sagemaker";
import { BUCKET, DUMMY_CREDENTIALS, REGION, fakeClock, startS3, tarGz, testSettings, validationError, type S3Emulator } from "./helpers";

const EXP = "exp-host";
const M1 = `${EXP}-model-000000000001`;
const M2 = `${EXP}-model-000000000002`;
const ARN = `arn:aws:sagemaker:${REGION}:123456789012:endpoint/${EXP}`;

/** A stateful fake of the SageMaker control plane: endpoints move through their states on each describe. */
function fakeControlPlane(sm: ReturnType<typeof mockClient>, options: { updateOutcome?: "ok" | "failed" | "rollback" | "stuck" } = {}) {
  const models = new Set<string>();
  const configs = new Map<string, string>(); // config -> model
  let endpoint: { config: string; status: string; pending: string[]; previous?: string; reason?: string } | null = null;
  sm.on(DescribeModelCommand).callsFake(async (input: { ModelName: string }) => {
    if (!models.has(input.ModelName)) throw validationError(`Could not find model "${input.ModelName}".`);
    return { ModelName: input.ModelName };
  });
  sm.on(CreateModelCommand).callsFake(async (input: { ModelName: string }) => {
    models.add(input.ModelName);
    return {};
  });
  sm.on(DescribeEndpointConfigCommand).callsFake(async (input: { EndpointConfigName: string }) => {
    const model = configs.get(input.EndpointConfigName);
    if (!model) throw validationError(`Could not find endpoint configuration "${input.EndpointConfigName}".`);
    return { EndpointConfigName: input.EndpointConfigName, ProductionVariants: [{ VariantName: "AllTraffic", ModelName: model }] };
  });
  sm.on(CreateEndpointConfigCommand).callsFake(async (input: { EndpointConfigName: string; ProductionVariants: { ModelName: string }[] }) => {
    configs.set(input.EndpointConfigName, input.ProductionVariants[0].ModelName);
    return {};
  });
  sm.on(DescribeEndpointCommand).callsFake(async () => {
    if (!endpoint) throw validationError(`Could not find endpoint "${EXP}".`);
    const next = endpoint.pending.shift();
    if (next === "Rollback") {
      endpoint.config = endpoint.previous!;
      endpoint.status = "InService";
      endpoint.reason = "health check of the new variant failed";
    } else if (next) endpoint.status = next;
    return { EndpointName: EXP, EndpointArn: ARN, EndpointConfigName: endpoint.config, EndpointStatus: endpoint.status, FailureReason: endpoint.reason };
  });
  sm.on(CreateEndpointCommand).callsFake(async (input: { EndpointConfigName: string }) => {
    endpoint = { config: input.EndpointConfigName, status: "Creating", pending: ["Creating", "InService"] };
    return { EndpointArn: ARN };
  });
  sm.on(UpdateEndpointCommand).callsFake(async (input: { EndpointConfigName: string }) => {
    const outcome = options.updateOutcome ?? "ok";
    const previous = endpoint!.config;
    endpoint!.status = "Updating";
    if (outcome === "ok") endpoint = { ...endpoint!, config: input.EndpointConfigName, pending: ["Updating", "InService"] };
    if (outcome === "failed") endpoint = { ...endpoint!, pending: ["Updating", "Failed"], reason: "image pull failed" };
    if (outcome === "rollback") endpoint = { ...endpoint!, previous, pending: ["Updating", "Rollback"] };
    if (outcome === "stuck") endpoint = { ...endpoint!, pending: [] };
    return { EndpointArn: ARN };
  });
  sm.on(DeleteEndpointCommand).callsFake(async () => {
    if (!endpoint) throw validationError(`Could not find endpoint "${EXP}".`);
    endpoint = null;
    return {};
  });
  return { models, configs, endpoint: () => endpoint, setEndpoint: (e: typeof endpoint) => (endpoint = e) };
}

describe("SageMakerHosting (SageMaker mocked, artifacts on s3rver)", () => {
  let s3: S3Emulator;
  let store: S3ObjectStore;
  const client = new SageMakerClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
  const sm = mockClient(client);
  const artifact = (m: string) => store.uriOf(`${EXP}/training_jobs/${m}/output/model`);
  const request = (modelId: string) => ({ experimentId: EXP, endpointName: EXP, modelId, modelArtifactUri: artifact(modelId), seed: 7 });
  const hosting = (clock = fakeClock()) => new SageMakerHosting(client, store, testSettings(), (exp) => store.uriOf(`${exp}/inference_data`), clock);

  before(async () => {
    s3 = await startS3();
    store = new S3ObjectStore(s3.client, BUCKET, REGION);
    for (const m of [M1, M2]) await store.put(`${artifact(m)}.tar.gz`, tarGz({ "model.json": "{}" }));
  });
  after(async () => s3.stop());
  beforeEach(() => sm.reset());

  it("creates model, endpoint config with data capture, and the endpoint on the first deploy", async () => {
    fakeControlPlane(sm);
    const described = await hosting().deploy(request(M1));
    assert.deepEqual(sm.commandCalls(CreateModelCommand)[0].args[0].input, {
      ModelName: M1,
      ExecutionRoleArn: "arn:aws:iam::123456789012:role/CbKitExecution",
      PrimaryContainer: {
        Image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/cbkit:latest",
        ModelDataUrl: `s3://${BUCKET}/${EXP}/training_jobs/${M1}/output/model.tar.gz`,
        Environment: {
          AWS_REGION: REGION,
          AWS_DEFAULT_REGION: REGION,
          EXPERIMENT_ID: EXP,
          MODEL_ID: M1,
          ENDPOINT_NAME: EXP,
          SEED: "7",
          MODEL_DIR: "/opt/ml/model",
          HOST: "0.0.0.0",
          PORT: "8080",
        },
      },
      Tags: [{ Key: "cbkit:experiment", Value: EXP }],
    });
    assert.deepEqual(sm.commandCalls(CreateEndpointConfigCommand)[0].args[0].input, {
      EndpointConfigName: `${M1}-cfg`,
      ProductionVariants: [{ VariantName: "AllTraffic", ModelName: M1, InstanceType: "ml.t2.medium", InitialInstanceCount: 2, InitialVariantWeight: 1 }],
      DataCaptureConfig: {
        EnableCapture: true,
        InitialSamplingPercentage: 100,
        DestinationS3Uri: `s3://${BUCKET}/${EXP}/inference_data`,
        CaptureOptions: [{ CaptureMode: "Input" }, { CaptureMode: "Output" }],
        CaptureContentTypeHeader: { JsonContentTypes: ["application/json"] },
      },
      Tags: [{ Key: "cbkit:experiment", Value: EXP }],
    });
    assert.deepEqual(sm.commandCalls(CreateEndpointCommand)[0].args[0].input, {
      EndpointName: EXP,
      EndpointConfigName: `${M1}-cfg`,
      Tags: [{ Key: "cbkit:experiment", Value: EXP }],
    });
    assert.equal(sm.commandCalls(UpdateEndpointCommand).length, 0);
    assert.deepEqual(described, {
      endpointName: EXP,
      status: "InService",
      modelId: M1,
      url: `https://runtime.sagemaker.${REGION}.amazonaws.com/endpoints/${EXP}/invocations`,
      arn: ARN,
      decisionLogUri: `s3://${BUCKET}/${EXP}/inference_data`,
    });
  });

  it("swaps the model blue/green with UpdateEndpoint on the second deploy (D-1)", async () => {
    const plane = fakeControlPlane(sm);
    const h = hosting();
    await h.deploy(request(M1));
    const described = await h.deploy(request(M2));
    assert.equal(sm.commandCalls(CreateEndpointCommand).length, 1, "the endpoint is created once");
    assert.deepEqual(sm.commandCalls(UpdateEndpointCommand).map((c) => c.args[0].input), [
      {
        EndpointName: EXP,
        EndpointConfigName: `${M2}-cfg`,
        DeploymentConfig: {
          BlueGreenUpdatePolicy: {
            TrafficRoutingConfiguration: { Type: "ALL_AT_ONCE", WaitIntervalInSeconds: 0 },
            TerminationWaitInSeconds: 0,
            MaximumExecutionTimeoutInSeconds: 600,
          },
        },
      },
    ]);
    assert.equal(described.modelId, M2);
    assert.deepEqual([...plane.models].sort(), [M1, M2]);
    // Deploying the served model again changes nothing.
    await h.deploy(request(M2));
    assert.equal(sm.commandCalls(UpdateEndpointCommand).length, 1);
    assert.equal(sm.commandCalls(CreateModelCommand).length, 2);
  });

  it("reports a failed update with SageMaker's reason, and a rolled-back one", async () => {
    fakeControlPlane(sm, { updateOutcome: "failed" });
    const h = hosting();
    await h.deploy(request(M1));
    await assert.rejects(h.deploy(request(M2)), /failed: image pull failed .*\/aws\/sagemaker\/Endpoints\/exp-host/);
    sm.reset();
    fakeControlPlane(sm, { updateOutcome: "rollback" });
    const h2 = hosting();
    await h2.deploy(request(M1));
    await assert.rejects(h2.deploy(request(M2)), /rolled back; the previous model still serves.*health check/);
  });

  it("bounds the wait for a stuck update, and refuses to deploy during another deployment", async () => {
    fakeControlPlane(sm, { updateOutcome: "stuck" });
    const clock = fakeClock();
    const h = hosting(clock);
    await h.deploy(request(M1));
    const before = clock.now();
    await assert.rejects(h.deploy(request(M2)), (e: Error) => e instanceof WaitTimeoutError && /Updating/.test(e.message));
    assert.ok(clock.now() - before <= 120_000 + 1, "gave up at the endpoint timeout");
    await assert.rejects(h.deploy(request(M1)), /is Updating; a deployment is already in progress/);
  });

  it("replaces a failed endpoint, describes and deletes", async () => {
    const plane = fakeControlPlane(sm);
    plane.models.add(M1);
    plane.configs.set(`${M1}-cfg`, M1);
    plane.setEndpoint({ config: `${M1}-cfg`, status: "Failed", pending: [], reason: "out of capacity" });
    const h = hosting();
    const described = await h.deploy(request(M2));
    assert.equal(sm.commandCalls(DeleteEndpointCommand).length, 1);
    assert.equal(sm.commandCalls(CreateEndpointCommand).length, 1);
    assert.equal(described.modelId, M2);
    assert.equal((await h.describe(EXP))?.status, "InService");
    assert.equal(await h.delete(EXP), true);
    assert.equal(await h.describe(EXP), null);
    assert.equal(await h.delete(EXP), false);
    assert.deepEqual(await h.runtimeClientSettings(), { region: REGION });
  });

  it("refuses a model without a packed artifact before creating anything", async () => {
    fakeControlPlane(sm);
    const missing = `${EXP}-model-000000000009`;
    await assert.rejects(hosting().deploy(request(missing)), /no packed artifact/);
    assert.equal(sm.commandCalls(CreateModelCommand).length, 0);
  });
});
