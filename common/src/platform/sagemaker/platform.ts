/**
 * The SageMaker platform (`local_mode: false`): S3 objects, DynamoDB records, SageMaker training
 * jobs and endpoints, the join in Athena, CloudWatch metrics. Credentials come from the AWS SDK's
 * standard provider chain (environment, profile, SSO, instance/container role).
 */
import { AthenaClient } from "@aws-sdk/client-athena";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { IAMClient } from "@aws-sdk/client-iam";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { STSClient } from "@aws-sdk/client-sts";
import { objectLayout } from "../layout";
import type {
  CleanupReport,
  DeployRequest,
  EndpointDescription,
  EvaluationJobRequest,
  EvaluationJobResult,
  Hosting,
  JobRunner,
  JoinRequest,
  JoinResult,
  Platform,
  RuntimeClientSettings,
  TrainingJobRequest,
  TrainingJobResult,
} from "../types";
import { AthenaJoiner } from "./athena-join";
import { stepCostNotice } from "./cost";
import { cleanupExperiment } from "./cleanup";
import { DynamoRecordStore } from "./dynamo-records";
import { SageMakerHosting } from "./hosting";
import { SageMakerJobRunner } from "./jobs";
import { CloudWatchMetrics, dashboardUrl, METRIC_NAMES } from "./metrics";
import { S3ObjectStore } from "./s3-store";
import { resolveSageMakerSettings, sageMakerSettingsFromConfig, type SageMakerSettings } from "./settings";
import type { PollOptions } from "./waiter";

export interface SageMakerClients {
  s3: S3Client;
  dynamodb: DynamoDBClient;
  sagemaker: SageMakerClient;
  athena: AthenaClient;
  cloudwatch: CloudWatchClient;
  sts: STSClient;
}

export interface SageMakerPlatformOptions {
  /** Clients to use instead of new ones (tests: emulator endpoints, mocks); `iam` resolves iam_role.role_name. */
  clients?: Partial<SageMakerClients> & { iam?: IAMClient };
  /** Settings overriding those from the config (tests: short timeouts). */
  settings?: Partial<SageMakerSettings>;
  /** Injectable sleep/now for the waits. */
  clock?: Pick<PollOptions, "sleep" | "now">;
}

function newClients(region: string, given: Partial<SageMakerClients>): SageMakerClients {
  return {
    s3: given.s3 ?? new S3Client({ region }),
    dynamodb: given.dynamodb ?? new DynamoDBClient({ region }),
    sagemaker: given.sagemaker ?? new SageMakerClient({ region }),
    athena: given.athena ?? new AthenaClient({ region }),
    cloudwatch: given.cloudwatch ?? new CloudWatchClient({ region }),
    sts: given.sts ?? new STSClient({ region }),
  };
}

export class SageMakerPlatform implements Platform {
  readonly kind = "sagemaker" as const;
  readonly layout = objectLayout;
  readonly objects: S3ObjectStore;
  readonly records: DynamoRecordStore;
  readonly jobs: JobRunner;
  readonly hosting: Hosting;
  readonly metrics: CloudWatchMetrics;
  readonly sageMakerJobs: SageMakerJobRunner;
  readonly sageMakerHosting: SageMakerHosting;
  readonly joiner: AthenaJoiner;

  constructor(
    readonly settings: SageMakerSettings,
    readonly clients: SageMakerClients,
    clock: Pick<PollOptions, "sleep" | "now"> = {},
  ) {
    this.objects = new S3ObjectStore(clients.s3, settings.bucket, settings.region);
    this.records = new DynamoRecordStore(clients.dynamodb, {
      tables: settings.tables,
      capacity: settings.tableCapacity,
      tableTimeoutMs: settings.timeouts.table,
      tableIntervalMs: settings.intervals.table,
    });
    this.metrics = new CloudWatchMetrics(clients.cloudwatch, settings.region, clock.now);
    this.sageMakerJobs = new SageMakerJobRunner(clients.sagemaker, this.objects, settings, clock);
    this.sageMakerHosting = new SageMakerHosting(
      clients.sagemaker,
      this.objects,
      settings,
      (exp) => this.objects.uriOf(objectLayout.decisionLogPrefix(exp)),
      clock,
    );
    this.joiner = new AthenaJoiner(clients.athena, this.objects, settings, clock);
    this.jobs = this.publishingJobs();
    this.hosting = this.publishingHosting();
  }

  /**
   * Jobs that also publish each evaluation's score to CloudWatch. A failed publication fails the
   * call loudly (the score itself is already stored at `scoreUri`).
   */
  private publishingJobs(): JobRunner {
    const jobs = this.sageMakerJobs;
    return {
      runTraining: (request: TrainingJobRequest): Promise<TrainingJobResult> => jobs.runTraining(request),
      runEvaluation: async (request: EvaluationJobRequest): Promise<EvaluationJobResult> => {
        const result = await jobs.runEvaluation(request);
        await this.metrics.put(request.experimentId, METRIC_NAMES.evaluatedScore, result.score.value, result.endTime);
        return result;
      },
    };
  }

  /**
   * Hosting that also publishes each deployment and the deployed model's latest score. The metrics
   * go out before the endpoint changes, so a missing CloudWatch permission stops the deploy before
   * anything is half done instead of failing a deploy that already happened.
   */
  private publishingHosting(): Hosting {
    const hosting = this.sageMakerHosting;
    return {
      deploy: async (request: DeployRequest): Promise<EndpointDescription> => {
        const model = await this.records.get("model", request.experimentId, request.modelId);
        const scores = Object.values(model?.value.eval_scores ?? {});
        await this.metrics.put(request.experimentId, METRIC_NAMES.deployments, 1);
        if (scores.length) await this.metrics.put(request.experimentId, METRIC_NAMES.hostedScore, scores[scores.length - 1].value);
        return hosting.deploy(request);
      },
      describe: (name: string) => hosting.describe(name),
      delete: (name: string) => hosting.delete(name),
      runtimeClientSettings: (name: string): Promise<RuntimeClientSettings> => hosting.runtimeClientSettings(),
    };
  }

  /** What jobs and the endpoint cost on this platform's fleets (the manager says it once, see Platform). */
  billingNotice(): string {
    return stepCostNotice(this.settings);
  }

  /** The console link of the experiment's CloudWatch dashboard (created with the first metric). */
  dashboardLink(experimentId: string): string {
    return dashboardUrl(this.settings.region, experimentId);
  }

  join(request: JoinRequest): Promise<JoinResult> {
    const rewardsLocation = this.objects.uriOf(objectLayout.rewardsRootPrefix(request.experimentId));
    if (!`${request.rewardsUri}/`.startsWith(`${rewardsLocation}/`))
      throw new Error(`rewards ${request.rewardsUri} must lie under ${rewardsLocation}/ (the Athena rewards table); ingest them with ingestRewards`);
    return this.joiner.join(request, rewardsLocation);
  }

  cleanup(experimentId: string, options: { deleteData?: boolean } = {}): Promise<CleanupReport> {
    return cleanupExperiment(
      {
        sm: this.clients.sagemaker,
        hosting: this.sageMakerHosting,
        records: this.records,
        joiner: this.joiner,
        metrics: this.metrics,
        store: this.objects,
        experimentPrefix: objectLayout.experimentPrefix,
      },
      experimentId,
      options,
    );
  }

  async close(): Promise<void> {
    for (const client of Object.values(this.clients)) client.destroy();
  }
}

/**
 * The platform for a loaded config with `local_mode: false` (the experiment manager calls this).
 * Region: `sagemaker.region`, else AWS_REGION / the profile; bucket: `sagemaker.bucket`, else
 * `sagemaker-{region}-{account}`; role: `sagemaker.role_arn`, else the ARN of the role named by
 * `resource.shared_resource.iam_role.role_name` (iam:GetRole).
 */
export async function createSageMakerPlatform(config: unknown, options: SageMakerPlatformOptions = {}): Promise<SageMakerPlatform> {
  const input = { ...sageMakerSettingsFromConfig(config), ...options.settings };
  const settings = await resolveSageMakerSettings(input, { sts: options.clients?.sts, iam: options.clients?.iam });
  return new SageMakerPlatform(settings, newClients(settings.region, options.clients ?? {}), options.clock);
}
