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
import { S3ObjectStore, SageMakerHosting, SageMakerNameCollisionError, WaitTimeoutError } from "@cbkit/common/sagemaker";
import { BUCKET, DUMMY_CREDENTIALS, REGION, fakeClock, tarGz, testSettings, validationError, type S3Emulator, STORAGE_EMULATORS } from "./helpers";

const EXP = "exp-host";
const M1 = `${EXP}-model-000000000001`;
const M2 = `${EXP}-model-000000000002`;
const ARN = `arn:aws:sagemaker:${REGION}:123456789012:endpoint/${EXP}`;

type UpdateOutcome = "ok" | "baking" | "failed" | "rollback" | "quick-rollback" | "rolling-back" | "rollback-failed" | "stuck";
type Endpoint = { name: string; config: string; status: string; pending: string[]; previous?: string; reason?: string };

/**
 * A stateful fake of the SageMaker control plane: endpoints move through their states on each
 * describe. Names are looked up ignoring letter case and answered with the stored spelling, as
 * SageMaker does.
 */
function fakeControlPlane(sm: ReturnType<typeof mockClient>, options: { updateOutcome?: UpdateOutcome; createOutcome?: "ok" | "failed" | "slow" | "stuck" } = {}) {
  const models = new Set<string>();
  const configs = new Map<string, string>(); // config -> model
  const find = <T>(names: Iterable<T>, key: (t: T) => string, name: string) => [...names].find((n) => key(n).toLowerCase() === name.toLowerCase());
  let endpoint: Endpoint | null = null;
  sm.on(DescribeModelCommand).callsFake(async (input: { ModelName: string }) => {
    const found = find(models, (m) => m, input.ModelName);
    if (!found) throw validationError(`Could not find model "${input.ModelName}".`);
    return { ModelName: found };
  });
  sm.on(CreateModelCommand).callsFake(async (input: { ModelName: string }) => {
    models.add(input.ModelName);
    return {};
  });
  sm.on(DescribeEndpointConfigCommand).callsFake(async (input: { EndpointConfigName: string }) => {
    const found = find(configs.entries(), ([c]) => c, input.EndpointConfigName);
    if (!found) throw validationError(`Could not find endpoint configuration "${input.EndpointConfigName}".`);
    return { EndpointConfigName: found[0], ProductionVariants: [{ VariantName: "AllTraffic", ModelName: found[1] }] };
  });
  sm.on(CreateEndpointConfigCommand).callsFake(async (input: { EndpointConfigName: string; ProductionVariants: { ModelName: string }[] }) => {
    configs.set(input.EndpointConfigName, input.ProductionVariants[0].ModelName);
    return {};
  });
  const matching = (name: string) => (endpoint && endpoint.name.toLowerCase() === name.toLowerCase() ? endpoint : null);
  sm.on(DescribeEndpointCommand).callsFake(async (input: { EndpointName: string }) => {
    const e = matching(input.EndpointName);
    if (!e) throw validationError(`Could not find endpoint "${input.EndpointName}".`);
    const next = e.pending.shift();
    if (next === "Rollback") {
      e.config = e.previous!;
      e.status = "InService";
      e.reason = "health check of the new variant failed";
    } else if (next === "Gone") {
      endpoint = null;
      throw validationError(`Could not find endpoint "${input.EndpointName}".`);
    } else if (next) e.status = next;
    return { EndpointName: e.name, EndpointArn: ARN, EndpointConfigName: e.config, EndpointStatus: e.status, FailureReason: e.reason };
  });
  sm.on(CreateEndpointCommand).callsFake(async (input: { EndpointName: string; EndpointConfigName: string }) => {
    const outcome = options.createOutcome ?? "ok";
    // "slow": still Creating past the endpoint timeout (120 s in the tests), then InService.
    const pending =
      outcome === "ok" ? ["Creating", "InService"] : outcome === "failed" ? ["Creating", "Failed"] : outcome === "slow" ? [...Array(12).fill("Creating"), "InService"] : [];
    endpoint = { name: input.EndpointName, config: input.EndpointConfigName, status: "Creating", pending, reason: outcome === "failed" ? "the container did not answer /ping" : undefined };
    return { EndpointArn: ARN };
  });
  sm.on(UpdateEndpointCommand).callsFake(async (input: { EndpointConfigName: string }) => {
    const outcome = options.updateOutcome ?? "ok";
    const e = endpoint!;
    const previous = e.config;
    e.status = "Updating";
    if (outcome === "ok") Object.assign(e, { config: input.EndpointConfigName, pending: ["Updating", "InService"] });
    // Updating for longer than the endpoint timeout (120 s in the tests): the baking period.
    if (outcome === "baking") Object.assign(e, { config: input.EndpointConfigName, pending: [...Array(12).fill("Updating"), "InService"] });
    if (outcome === "failed") Object.assign(e, { pending: ["Updating", "Failed"], reason: "image pull failed" });
    if (outcome === "rollback") Object.assign(e, { previous, pending: ["Updating", "Rollback"] });
    // Rolled back before the first DescribeEndpoint: never seen Updating.
    if (outcome === "quick-rollback") Object.assign(e, { status: "InService", pending: [], reason: "alarm cbkit-errors went to ALARM" });
    if (outcome === "rolling-back") Object.assign(e, { previous, pending: ["RollingBack", "RollingBack", "Rollback"] });
    if (outcome === "rollback-failed") Object.assign(e, { pending: ["UpdateRollbackFailed"], reason: "rollback could not restore capacity" });
    if (outcome === "stuck") Object.assign(e, { pending: [] });
    return { EndpointArn: ARN };
  });
  sm.on(DeleteEndpointCommand).callsFake(async (input: { EndpointName: string }) => {
    const e = matching(input.EndpointName);
    if (!e) throw validationError(`Could not find endpoint "${input.EndpointName}".`);
    if (e.status === "Creating") throw validationError(`Cannot update in-progress endpoint "${input.EndpointName}".`);
    Object.assign(e, { status: "Deleting", pending: ["Deleting", "Gone"] });
    return {};
  });
  return { models, configs, endpoint: () => endpoint, setEndpoint: (e: Endpoint | null) => (endpoint = e) };
}

for (const emulator of STORAGE_EMULATORS) describe(`SageMakerHosting (SageMaker mocked, artifacts on ${emulator.name})`, { skip: emulator.skip }, () => {
  let s3: S3Emulator;
  let store: S3ObjectStore;
  const client = new SageMakerClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
  const sm = mockClient(client);
  const artifact = (m: string) => store.uriOf(`${EXP}/training_jobs/${m}/output/model`);
  const request = (modelId: string) => ({ experimentId: EXP, endpointName: EXP, modelId, modelArtifactUri: artifact(modelId), seed: 7, softDeployment: false });
  const hosting = (clock = fakeClock()) => new SageMakerHosting(client, store, testSettings(), (exp) => store.uriOf(`${exp}/inference_data`), clock);

  before(async () => {
    s3 = await emulator.s3();
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
          MAX_DECISIONS_PER_REQUEST: "10000",
          REQUEST_TIMEOUT_SECONDS: "30",
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
        CaptureContentTypeHeader: { JsonContentTypes: ["application/json", "application/jsonlines"] },
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

  it("reports a failed update with SageMaker's reason and deletes the failed endpoint; reports a rolled-back one", async () => {
    const plane = fakeControlPlane(sm, { updateOutcome: "failed" });
    const h = hosting();
    await h.deploy(request(M1));
    await assert.rejects(h.deploy(request(M2)), /failed: image pull failed .*\/aws\/sagemaker\/Endpoints\/exp-host[\s\S]*was deleted, so it does not keep billing/);
    assert.equal(sm.commandCalls(DeleteEndpointCommand).length, 1, "a Failed endpoint serves nothing: deleted");
    assert.equal(plane.endpoint()?.status, "Deleting");
    sm.reset();
    fakeControlPlane(sm, { updateOutcome: "rollback" });
    const h2 = hosting();
    await h2.deploy(request(M1));
    await assert.rejects(h2.deploy(request(M2)), /rolled back; exp-host-model-000000000001-cfg still serves \(the previous model\).*health check/);
    assert.equal(sm.commandCalls(DeleteEndpointCommand).length, 0, "a rolled-back endpoint still serves: kept");
  });

  it("sees a rollback that finished before the first check, a RollingBack endpoint and a failed rollback (issue 9.7)", async () => {
    for (const [outcome, expected] of [
      ["quick-rollback", /rolled back; exp-host-model-000000000001-cfg still serves.*alarm cbkit-errors went to ALARM/],
      ["rolling-back", /rolled back; exp-host-model-000000000001-cfg still serves/],
      ["rollback-failed", /failed and so did its rollback: the endpoint serves a mix.*rollback could not restore capacity/],
    ] as const) {
      sm.reset();
      fakeControlPlane(sm, { updateOutcome: outcome });
      const clock = fakeClock();
      const h = hosting(clock);
      await h.deploy(request(M1));
      const start = clock.now();
      await assert.rejects(h.deploy(request(M2)), (e: Error) => !(e instanceof WaitTimeoutError) && expected.test(e.message), outcome);
      assert.ok(clock.now() - start < 10_000, `${outcome}: reported at once, not after the endpoint time-out`);
    }
    // As the error says, deploying again replaces the mix: UpdateRollbackFailed takes an update.
    sm.reset();
    const plane = fakeControlPlane(sm);
    plane.setEndpoint({ name: EXP, config: `${M1}-cfg`, status: "UpdateRollbackFailed", pending: [] });
    assert.equal((await hosting().deploy(request(M2))).modelId, M2);
    assert.equal(sm.commandCalls(UpdateEndpointCommand).length, 1);
  });

  it("passes the rollback alarms and the baking period to UpdateEndpoint, and waits through the baking (issue 9.7)", async () => {
    fakeControlPlane(sm, { updateOutcome: "baking" });
    const clock = fakeClock();
    const h = new SageMakerHosting(client, store, testSettings({ rollbackAlarms: ["cbkit-5xx", "cbkit-latency"], bakingPeriodSeconds: 900 }), (exp) => store.uriOf(`${exp}/inference_data`), clock);
    await h.deploy(request(M1));
    const start = clock.now();
    assert.equal((await h.deploy(request(M2))).modelId, M2);
    assert.ok(clock.now() - start > 120_000, "the update took longer than endpoint_timeout_seconds alone allows");
    assert.deepEqual(sm.commandCalls(UpdateEndpointCommand)[0].args[0].input.DeploymentConfig, {
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: { Type: "ALL_AT_ONCE", WaitIntervalInSeconds: 900 },
        TerminationWaitInSeconds: 0,
        MaximumExecutionTimeoutInSeconds: 1500,
      },
      AutoRollbackConfiguration: { Alarms: [{ AlarmName: "cbkit-5xx" }, { AlarmName: "cbkit-latency" }] },
    });
  });

  it("deletes an endpoint that fails to come up or times out while creating, and says so (issue 9.5)", async () => {
    const plane = fakeControlPlane(sm, { createOutcome: "failed" });
    await assert.rejects(hosting().deploy(request(M1)), /failed: the container did not answer \/ping[\s\S]*exp-host failed and was deleted, so it does not keep billing/);
    assert.deepEqual(sm.commandCalls(DeleteEndpointCommand).map((c) => c.args[0].input), [{ EndpointName: EXP }]);
    assert.equal(plane.endpoint()?.status, "Deleting");

    // SageMaker refuses DeleteEndpoint while Creating: the clean-up waits until the endpoint has
    // left Creating, then deletes it.
    sm.reset();
    const slow = fakeControlPlane(sm, { createOutcome: "slow" });
    await assert.rejects(
      hosting().deploy(request(M1)),
      (e: Error) => e instanceof WaitTimeoutError && /Creating[\s\S]*did not come up in time and was deleted/.test(e.message),
    );
    assert.equal(sm.commandCalls(DeleteEndpointCommand).length, 1);
    assert.equal(slow.endpoint()?.status, "Deleting");

    // Creating for ever: it cannot be deleted, and the error says it may still bill.
    sm.reset();
    const stuck = fakeControlPlane(sm, { createOutcome: "stuck" });
    await assert.rejects(
      hosting().deploy(request(M1)),
      (e: Error) => e instanceof WaitTimeoutError && /did not come up in time, and deleting it failed too[\s\S]*may still bill/.test(e.message),
    );
    assert.equal(stuck.endpoint()?.status, "Creating");
  });

  it("passes the endpoint limits to the serving container (issue 9.6)", async () => {
    fakeControlPlane(sm);
    const h = new SageMakerHosting(client, store, testSettings({ servingLimits: { maxDecisionsPerRequest: 50, requestTimeoutSeconds: 7.5 } }), (exp) => store.uriOf(`${exp}/inference_data`), fakeClock());
    await h.deploy(request(M1));
    const env = sm.commandCalls(CreateModelCommand)[0].args[0].input.PrimaryContainer!.Environment!;
    assert.equal(env.MAX_DECISIONS_PER_REQUEST, "50");
    assert.equal(env.REQUEST_TIMEOUT_SECONDS, "7.5");
  });

  it("refuses names that exist in other letter cases: SageMaker names ignore case (issue 9.9)", async () => {
    const plane = fakeControlPlane(sm);
    plane.models.add(M1);
    plane.configs.set(`${M1}-cfg`, M1);
    plane.setEndpoint({ name: "Exp-Host", config: `${M1}-cfg`, status: "InService", pending: [] });
    const h = hosting();
    await assert.rejects(h.deploy(request(M2)), (e: Error) => e instanceof SageMakerNameCollisionError && /endpoint name 'exp-host' collides with the existing endpoint 'Exp-Host'/.test(e.message));
    await assert.rejects(h.describe(EXP), SageMakerNameCollisionError);
    await assert.rejects(h.delete(EXP), SageMakerNameCollisionError);
    assert.equal(sm.commandCalls(UpdateEndpointCommand).length + sm.commandCalls(DeleteEndpointCommand).length, 0, "the other experiment's endpoint is untouched");

    // A model of another experiment whose id differs only in case is not reused.
    sm.reset();
    const other = fakeControlPlane(sm);
    other.models.add(M1.toUpperCase());
    await assert.rejects(hosting().deploy(request(M1)), /model name 'exp-host-model-000000000001' collides with the existing model 'EXP-HOST-MODEL-000000000001'/);
    assert.equal(sm.commandCalls(CreateEndpointCommand).length, 0);
  });

  it("refuses a model without a packed artifact before creating anything", async () => {
    fakeControlPlane(sm);
    const missing = `${EXP}-model-000000000009`;
    await assert.rejects(hosting().deploy(request(missing)), /no packed artifact/);
    assert.equal(sm.commandCalls(CreateModelCommand).length, 0);
  });
});
