/**
 * Hosting on SageMaker: one Model per model id, one endpoint config per model id (with data
 * capture of requests and responses to S3: the decision log), and one endpoint per experiment.
 * The first deploy creates the endpoint; later deploys call UpdateEndpoint with a blue/green
 * policy, so the old fleet serves until the new one passes its health checks (the original lost
 * this, D-1). Every wait is bounded; a failed or rolled-back update is an error with SageMaker's
 * reason. An endpoint that never came up is deleted, so it does not bill. SageMaker names ignore
 * case, so every name found is compared exactly with the one asked for.
 */
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  UpdateEndpointCommand,
  type DescribeEndpointCommandOutput,
  type ProductionVariantInstanceType,
  type SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { servingLimitsEnvironment } from "../../container/contract";
import type { DeployRequest, EndpointDescription, EndpointStatus, Hosting, RuntimeClientSettings } from "../types";
import { awsCall } from "./aws";
import { EXPERIMENT_TAG } from "./names";
import { checkSageMakerName, packedArtifactUri } from "./jobs";
import type { S3ObjectStore } from "./s3-store";
import { DEFAULT_SERVING_LIMITS, type ServingLimits, type SageMakerSettings } from "./settings";
import { pollUntil, WaitTimeoutError, type PollOptions } from "./waiter";

/** The one production variant; the data-capture path contains it, so it never changes. */
export const VARIANT_NAME = "AllTraffic";

/** Endpoint config of a model id (one per model, reused when the model is deployed again). */
export const endpointConfigName = (modelId: string): string => `${modelId}-cfg`;

/**
 * The environment of the serving container (read by common/src/container/serve.ts). No
 * DECISION_LOG_DIR: SageMaker's data capture is the decision log in this mode.
 */
export function servingEnvironment(request: DeployRequest, region: string, limits: ServingLimits = DEFAULT_SERVING_LIMITS): Record<string, string> {
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    EXPERIMENT_ID: request.experimentId,
    MODEL_ID: request.modelId,
    ENDPOINT_NAME: request.endpointName,
    SEED: String(request.seed),
    MODEL_DIR: "/opt/ml/model",
    HOST: "0.0.0.0",
    PORT: "8080",
    ...servingLimitsEnvironment(limits),
  };
}

/**
 * Raised when a name the kit asks for exists in SageMaker spelled with other letter cases:
 * SageMaker names ignore case, so the resource belongs to another experiment.
 */
export class SageMakerNameCollisionError extends Error {
  constructor(kind: string, asked: string, found: string) {
    super(
      `${kind} name '${asked}' collides with the existing ${kind} '${found}': SageMaker names ignore letter case, ` +
        `so they are the same resource, which belongs to another experiment. Use an experiment id that differs from '${found}' in more than letter case.`,
    );
    this.name = "SageMakerNameCollisionError";
  }
}

/** Throws when SageMaker found `found` for the name `asked` and the two differ in letter case. */
export function checkSameName(kind: string, asked: string, found: string | undefined): void {
  if (found !== undefined && found !== asked) throw new SageMakerNameCollisionError(kind, asked, found);
}

/** MaximumExecutionTimeoutInSeconds of a blue/green update: SageMaker allows 600..28800 s. */
function updateTimeoutSeconds(endpointTimeoutMs: number, bakingSeconds: number): number {
  return Math.min(28_800, Math.max(600, Math.round(endpointTimeoutMs / 1000), bakingSeconds + 600));
}

const notFound = (error: unknown) => /could not find|does not exist|not found/i.test((error as Error)?.message ?? "");
// UpdateRollbackFailed is not busy: SageMaker takes an UpdateEndpoint then, which replaces the mix.
const BUSY = new Set(["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"]);

type Clock = Pick<PollOptions, "sleep" | "now">;

/** The endpoint reached status Failed (it serves nothing; DeleteEndpoint is all it allows). */
class EndpointFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EndpointFailedError";
  }
}

export class SageMakerHosting implements Hosting {
  constructor(
    private readonly sm: SageMakerClient,
    private readonly store: S3ObjectStore,
    private readonly settings: SageMakerSettings,
    private readonly decisionLogUri: (experimentId: string) => string,
    private readonly clock: Clock = {},
  ) {}

  private async describeRaw(endpointName: string): Promise<DescribeEndpointCommandOutput | null> {
    try {
      return await awsCall("sagemaker:DescribeEndpoint", () => this.sm.send(new DescribeEndpointCommand({ EndpointName: endpointName })));
    } catch (error) {
      if (notFound(error)) return null;
      throw error;
    }
  }

  private async ensureModel(request: DeployRequest): Promise<void> {
    try {
      const found = await awsCall("sagemaker:DescribeModel", () => this.sm.send(new DescribeModelCommand({ ModelName: request.modelId })));
      checkSameName("model", request.modelId, found?.ModelName);
      return; // model objects are immutable per model id: reuse
    } catch (error) {
      if (!notFound(error)) throw error;
    }
    const artifact = packedArtifactUri(request.modelArtifactUri);
    if (!(await this.store.exists(artifact)))
      throw new Error(`model ${request.modelId} has no packed artifact at ${artifact}; train it with the SageMaker platform first`);
    await awsCall("sagemaker:CreateModel (and iam:PassRole on sagemaker.role_arn)", () =>
      this.sm.send(
        new CreateModelCommand({
          ModelName: request.modelId,
          ExecutionRoleArn: this.settings.roleArn,
          PrimaryContainer: {
            Image: this.settings.image,
            ModelDataUrl: artifact,
            Environment: servingEnvironment(request, this.settings.region, this.settings.servingLimits),
          },
          Tags: [{ Key: EXPERIMENT_TAG, Value: request.experimentId }],
        }),
      ),
    );
  }

  private async ensureEndpointConfig(request: DeployRequest, name: string): Promise<void> {
    try {
      const found = await awsCall("sagemaker:DescribeEndpointConfig", () => this.sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name })));
      checkSameName("endpoint config", name, found?.EndpointConfigName);
      return;
    } catch (error) {
      if (!notFound(error)) throw error;
    }
    await awsCall("sagemaker:CreateEndpointConfig", () =>
      this.sm.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: name,
          ProductionVariants: [
            {
              VariantName: VARIANT_NAME,
              ModelName: request.modelId,
              InstanceType: this.settings.hostingInstanceType as ProductionVariantInstanceType,
              InitialInstanceCount: this.settings.hostingInstanceCount,
              InitialVariantWeight: 1,
            },
          ],
          DataCaptureConfig: {
            EnableCapture: true,
            InitialSamplingPercentage: this.settings.captureSamplingPercent,
            DestinationS3Uri: this.decisionLogUri(request.experimentId),
            CaptureOptions: [{ CaptureMode: "Input" }, { CaptureMode: "Output" }],
            // Bodies of these types are captured as text (others as base64), so Athena reads them
            // directly: single requests (JSON) and batches (JSON lines, the workshop's default).
            CaptureContentTypeHeader: { JsonContentTypes: ["application/json", "application/jsonlines"] },
          },
          Tags: [{ Key: EXPERIMENT_TAG, Value: request.experimentId }],
        }),
      ),
    );
  }

  async deploy(request: DeployRequest): Promise<EndpointDescription> {
    checkSageMakerName("endpoint", request.endpointName);
    checkSageMakerName("model", request.modelId);
    const configName = checkSageMakerName("endpoint config", endpointConfigName(request.modelId));
    await this.ensureModel(request);
    await this.ensureEndpointConfig(request, configName);

    let current = await this.describeRaw(request.endpointName);
    checkSameName("endpoint", request.endpointName, current?.EndpointName);
    const status = current?.EndpointStatus ?? "";
    if (current && BUSY.has(status))
      throw new Error(
        `endpoint ${request.endpointName} is ${status}; a deployment is already in progress. Wait for it to finish, then deploy again`,
      );
    if (current && status === "Failed") {
      // A failed endpoint can not be updated: replace it.
      await this.delete(request.endpointName);
      await this.waitUntilDeleted(request.endpointName);
      current = null;
    }
    if (!current) {
      await awsCall("sagemaker:CreateEndpoint", () =>
        this.sm.send(
          new CreateEndpointCommand({
            EndpointName: request.endpointName,
            EndpointConfigName: configName,
            Tags: [{ Key: EXPERIMENT_TAG, Value: request.experimentId }],
          }),
        ),
      );
      try {
        await this.waitInService(request.endpointName, configName);
      } catch (error) {
        throw await this.removeEndpointThatNeverCameUp(request.endpointName, error as Error);
      }
    } else if (current.EndpointConfigName !== configName) {
      await this.update(request.endpointName, configName);
      try {
        await this.waitInService(request.endpointName, configName, { afterUpdate: true });
      } catch (error) {
        // A failed update leaves a Failed endpoint that serves nothing (DeleteEndpoint is all it
        // allows): delete it. A time-out is not: the old fleet still serves, and SageMaker rolls
        // the update back itself at MaximumExecutionTimeoutInSeconds.
        if (error instanceof EndpointFailedError) throw await this.removeEndpointThatNeverCameUp(request.endpointName, error);
        throw error;
      }
    }
    const described = await this.describe(request.endpointName);
    if (!described) throw new Error(`endpoint ${request.endpointName} disappeared right after deployment`);
    return described;
  }

  /**
   * UpdateEndpoint, blue/green: the new fleet is provisioned and checked while the old one serves
   * (so for a while the endpoint runs twice its instances), all traffic moves at once, then the
   * old fleet is kept for the baking period while the rollback alarms are watched.
   */
  private async update(endpointName: string, configName: string): Promise<void> {
    const baking = this.settings.bakingPeriodSeconds ?? 0;
    const alarms = this.settings.rollbackAlarms ?? [];
    await awsCall("sagemaker:UpdateEndpoint", () =>
      this.sm.send(
        new UpdateEndpointCommand({
          EndpointName: endpointName,
          EndpointConfigName: configName,
          DeploymentConfig: {
            BlueGreenUpdatePolicy: {
              TrafficRoutingConfiguration: { Type: "ALL_AT_ONCE", WaitIntervalInSeconds: baking },
              TerminationWaitInSeconds: 0,
              MaximumExecutionTimeoutInSeconds: updateTimeoutSeconds(this.settings.timeouts.endpoint, baking),
            },
            ...(alarms.length ? { AutoRollbackConfiguration: { Alarms: alarms.map((AlarmName) => ({ AlarmName })) } } : {}),
          },
        }),
      ),
    );
  }

  /** Deletes an endpoint that failed to come up; returns the cause (same class), its message saying so. */
  private async removeEndpointThatNeverCameUp(endpointName: string, cause: Error): Promise<Error> {
    const why = cause instanceof WaitTimeoutError ? "did not come up in time" : "failed";
    try {
      // SageMaker refuses DeleteEndpoint while an endpoint is Creating: wait until it is not.
      if (cause instanceof WaitTimeoutError) await this.waitWhileCreating(endpointName);
      cause.message += (await this.delete(endpointName))
        ? `\nThe endpoint ${endpointName} ${why} and was deleted, so it does not keep billing. Fix the cause and deploy again.`
        : `\nThe endpoint ${endpointName} ${why} and no longer exists.`;
    } catch (error) {
      cause.message +=
        `\nThe endpoint ${endpointName} ${why}, and deleting it failed too: ${(error as Error).message}. ` +
        `It may still bill: delete it in the SageMaker console or with the experiment's clean-up.`;
    }
    return cause;
  }

  /**
   * Waits until the endpoint serves `configName`. After an UpdateEndpoint (`afterUpdate`)
   * SageMaker sets the status to Updating before it answers, so InService with any other config
   * means the update was rolled back, however quickly that happened.
   */
  private async waitInService(endpointName: string, configName: string, { afterUpdate = false } = {}): Promise<void> {
    const logs = `see CloudWatch log group /aws/sagemaker/Endpoints/${endpointName}`;
    await pollUntil<void>(
      async () => {
        const d = await this.describeRaw(endpointName);
        if (!d) throw new Error(`endpoint ${endpointName} vanished while deploying (deleted by someone else?)`);
        const status = d.EndpointStatus ?? "Unknown";
        if (status === "Failed") throw new EndpointFailedError(`endpoint ${endpointName} failed: ${d.FailureReason ?? "no reason given"} (${logs})`);
        if (status === "UpdateRollbackFailed")
          throw new Error(
            `the blue/green update of ${endpointName} to ${configName} failed and so did its rollback: the endpoint serves a mix of old and new instances. ` +
              `Reason: ${d.FailureReason ?? "none given"} (${logs}). Deploy again (an update replaces both), or delete the endpoint.`,
          );
        if (status === "InService") {
          if (d.EndpointConfigName === configName) return { done: true, value: undefined };
          if (afterUpdate)
            throw new Error(
              `the blue/green update of ${endpointName} to ${configName} was rolled back; ${d.EndpointConfigName ?? "the previous config"} still serves (the previous model). ` +
                `Reason: ${d.FailureReason ?? "none given (a rollback alarm may have fired)"} (${logs})`,
            );
        }
        return { done: false, status };
      },
      {
        what: `endpoint ${endpointName} to serve ${configName}`,
        // An update stays Updating through the baking period: wait for that too.
        timeoutMs: this.settings.timeouts.endpoint + (afterUpdate ? (this.settings.bakingPeriodSeconds ?? 0) * 1000 : 0),
        intervalMs: this.settings.intervals.endpoint,
        maxIntervalMs: 60_000,
        ...this.clock,
      },
    );
  }

  /** Waits until the endpoint has left Creating (InService, Failed or gone). */
  private async waitWhileCreating(endpointName: string): Promise<void> {
    await pollUntil<void>(
      async () => {
        const status = (await this.describeRaw(endpointName))?.EndpointStatus;
        return status === "Creating" ? { done: false, status } : { done: true, value: undefined };
      },
      { what: `endpoint ${endpointName} to leave Creating`, timeoutMs: this.settings.timeouts.endpoint, intervalMs: this.settings.intervals.endpoint, ...this.clock },
    );
  }

  /** Waits until DescribeEndpoint says the endpoint does not exist (after DeleteEndpoint). */
  async waitUntilDeleted(endpointName: string): Promise<void> {
    await pollUntil<void>(
      async () => {
        const d = await this.describeRaw(endpointName);
        return d ? { done: false, status: d.EndpointStatus ?? "Unknown" } : { done: true, value: undefined };
      },
      { what: `endpoint ${endpointName} to be deleted`, timeoutMs: this.settings.timeouts.endpoint, intervalMs: this.settings.intervals.endpoint, ...this.clock },
    );
  }

  async describe(endpointName: string): Promise<EndpointDescription | null> {
    const d = await this.describeRaw(endpointName);
    if (!d) return null;
    checkSameName("endpoint", endpointName, d.EndpointName);
    let modelId = "";
    if (d.EndpointConfigName) {
      try {
        const config = await awsCall("sagemaker:DescribeEndpointConfig", () =>
          this.sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: d.EndpointConfigName })),
        );
        modelId = config.ProductionVariants?.[0]?.ModelName ?? "";
      } catch (error) {
        // A config deleted under a running endpoint: the endpoint still serves, its model is unknown.
        if (!notFound(error)) throw error;
      }
    }
    const experimentId = endpointName; // the endpoint is named after its experiment
    return {
      endpointName,
      status: (d.EndpointStatus ?? "OutOfService") as EndpointStatus,
      modelId,
      url: `https://runtime.sagemaker.${this.settings.region}.amazonaws.com/endpoints/${endpointName}/invocations`,
      arn: d.EndpointArn ?? "",
      decisionLogUri: this.decisionLogUri(experimentId),
    };
  }

  /**
   * Starts deleting the endpoint (DeleteEndpoint returns at once; `waitUntilDeleted` waits). False
   * when there is none; an endpoint of the same name in other letter cases is another
   * experiment's and is refused.
   */
  async delete(endpointName: string): Promise<boolean> {
    const found = await this.describeRaw(endpointName);
    if (!found) return false;
    checkSameName("endpoint", endpointName, found.EndpointName);
    try {
      await awsCall("sagemaker:DeleteEndpoint", () => this.sm.send(new DeleteEndpointCommand({ EndpointName: endpointName })));
      return true;
    } catch (error) {
      if (notFound(error)) return false;
      throw error;
    }
  }

  async runtimeClientSettings(): Promise<RuntimeClientSettings> {
    return { region: this.settings.region };
  }
}
