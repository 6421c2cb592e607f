/**
 * Hosting on SageMaker: one Model per model id, one endpoint config per model id (with data
 * capture of requests and responses to S3: the decision log), and one endpoint per experiment.
 * The first deploy creates the endpoint; later deploys call UpdateEndpoint with a blue/green
 * policy, so the old fleet serves until the new one passes its health checks (the original lost
 * this, D-1). Every wait is bounded; a failed or rolled-back update is an error with SageMaker's
 * reason.
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
import type { DeployRequest, EndpointDescription, EndpointStatus, Hosting, RuntimeClientSettings } from "../types";
import { awsCall } from "./iam";
import { checkSageMakerName, packedArtifactUri } from "./jobs";
import type { S3ObjectStore } from "./s3-store";
import type { SageMakerSettings } from "./settings";
import { pollUntil, type PollOptions } from "./waiter";

/** The one production variant; the data-capture path contains it, so it never changes. */
export const VARIANT_NAME = "AllTraffic";

/** Endpoint config of a model id (one per model, reused when the model is deployed again). */
export const endpointConfigName = (modelId: string): string => `${modelId}-cfg`;

/**
 * The environment of the serving container (read by common/src/container/serve.ts). No
 * DECISION_LOG_DIR: SageMaker's data capture is the decision log in this mode.
 */
export function servingEnvironment(request: DeployRequest, region: string): Record<string, string> {
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
  };
}

const notFound = (error: unknown) => /could not find|does not exist|not found/i.test((error as Error)?.message ?? "");
const BUSY = new Set(["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed"]);

type Clock = Pick<PollOptions, "sleep" | "now">;

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
      await awsCall("sagemaker:DescribeModel", () => this.sm.send(new DescribeModelCommand({ ModelName: request.modelId })));
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
          PrimaryContainer: { Image: this.settings.image, ModelDataUrl: artifact, Environment: servingEnvironment(request, this.settings.region) },
          Tags: [{ Key: "cbkit:experiment", Value: request.experimentId }],
        }),
      ),
    );
  }

  private async ensureEndpointConfig(request: DeployRequest, name: string): Promise<void> {
    try {
      await awsCall("sagemaker:DescribeEndpointConfig", () => this.sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name })));
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
            // JSON bodies are captured as text (not base64), so Athena can read them directly.
            CaptureContentTypeHeader: { JsonContentTypes: ["application/json"] },
          },
          Tags: [{ Key: "cbkit:experiment", Value: request.experimentId }],
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
    const status = current?.EndpointStatus ?? "";
    if (current && BUSY.has(status))
      throw new Error(
        `endpoint ${request.endpointName} is ${status}; a deployment is already in progress. Wait for it to finish, then deploy again`,
      );
    if (current && status === "Failed") {
      // A failed endpoint can not be updated: replace it.
      await this.delete(request.endpointName);
      await this.waitGone(request.endpointName);
      current = null;
    }
    let previousConfig: string | undefined;
    if (!current) {
      await awsCall("sagemaker:CreateEndpoint", () =>
        this.sm.send(
          new CreateEndpointCommand({
            EndpointName: request.endpointName,
            EndpointConfigName: configName,
            Tags: [{ Key: "cbkit:experiment", Value: request.experimentId }],
          }),
        ),
      );
    } else if (current.EndpointConfigName !== configName) {
      previousConfig = current.EndpointConfigName;
      const maxSeconds = Math.min(14_400, Math.max(600, Math.round(this.settings.timeouts.endpoint / 1000)));
      await awsCall("sagemaker:UpdateEndpoint", () =>
        this.sm.send(
          new UpdateEndpointCommand({
            EndpointName: request.endpointName,
            EndpointConfigName: configName,
            // Blue/green: the new fleet is provisioned and checked while the old one serves; all
            // traffic moves at once, and the old fleet goes right after.
            DeploymentConfig: {
              BlueGreenUpdatePolicy: {
                TrafficRoutingConfiguration: { Type: "ALL_AT_ONCE", WaitIntervalInSeconds: 0 },
                TerminationWaitInSeconds: 0,
                MaximumExecutionTimeoutInSeconds: maxSeconds,
              },
            },
          }),
        ),
      );
    }
    await this.waitInService(request.endpointName, configName, previousConfig);
    const described = await this.describe(request.endpointName);
    if (!described) throw new Error(`endpoint ${request.endpointName} disappeared right after deployment`);
    return described;
  }

  /** Waits until the endpoint serves `configName`; a failure or roll-back is an error. */
  private async waitInService(endpointName: string, configName: string, previousConfig?: string): Promise<void> {
    let sawUpdate = false;
    await pollUntil<void>(
      async () => {
        const d = await this.describeRaw(endpointName);
        if (!d) throw new Error(`endpoint ${endpointName} vanished while deploying (deleted by someone else?)`);
        if (BUSY.has(d.EndpointStatus ?? "")) sawUpdate = true;
        const status = d.EndpointStatus ?? "Unknown";
        if (status === "Failed")
          throw new Error(`endpoint ${endpointName} failed: ${d.FailureReason ?? "no reason given"} (see CloudWatch log group /aws/sagemaker/Endpoints/${endpointName})`);
        if (status === "InService") {
          if (d.EndpointConfigName === configName) return { done: true, value: undefined };
          // Back in service on the old config after the update ran: SageMaker rolled it back.
          if (previousConfig !== undefined && sawUpdate && d.EndpointConfigName === previousConfig)
            throw new Error(
              `the blue/green update of ${endpointName} to ${configName} was rolled back; the previous model still serves. ` +
                `Reason: ${d.FailureReason ?? "none given"} (see CloudWatch log group /aws/sagemaker/Endpoints/${endpointName})`,
            );
        }
        return { done: false, status };
      },
      { what: `endpoint ${endpointName} to serve ${configName}`, timeoutMs: this.settings.timeouts.endpoint, intervalMs: this.settings.intervals.endpoint, maxIntervalMs: 60_000, ...this.clock },
    );
  }

  private async waitGone(endpointName: string): Promise<void> {
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

  async delete(endpointName: string): Promise<boolean> {
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
