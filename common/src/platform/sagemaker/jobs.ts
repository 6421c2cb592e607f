/**
 * Training and evaluation as SageMaker training jobs running this project's image. The container
 * contract is the one the local platform runs (hyperparameters file, channels `training`,
 * `evaluation`, `pretrained_model`, `/opt/ml/model`, `/opt/ml/output/failure`), so both modes
 * compute the same thing. Waits are bounded; a failure carries SageMaker's FailureReason (the
 * container's failure file); the evaluation score is read from the job's output artifact.
 *
 * The one exception is a first model without data: it learns nothing, so the container's own
 * training code builds it on this machine and the artifact is uploaded where a job would have
 * left it — the same files, and no billed job.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  StopTrainingJobCommand,
  type Channel,
  type DescribeTrainingJobCommandOutput,
  type SageMakerClient,
  type TrainingInstanceType,
} from "@aws-sdk/client-sagemaker";
import { failureReason, filesUnder, SCORE_FILE, writeJobFolder } from "../../container/contract";
import { trainJob } from "../../container/train";
import {
  JobFailedError,
  type EvaluationJobRequest,
  type EvaluationJobResult,
  type JobRunner,
  type TrainingJobRequest,
  type TrainingJobResult,
} from "../types";
import { parseScore, type OpeEstimate } from "../../ope";
import { awsCall } from "./aws";
import { JOB_TAG } from "./names";
import type { S3ObjectStore } from "./s3-store";
import type { SageMakerSettings } from "./settings";
import { readTar, writeTarGz } from "./tar";
import { pollUntil, whileInterruptible, WaitInterruptedError, WaitTimeoutError, type PollOptions } from "./waiter";

/** SageMaker's rule for job, model, endpoint and config names. */
export const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

export function checkSageMakerName(kind: string, name: string): string {
  if (!SAGEMAKER_NAME.test(name))
    throw new Error(
      `${kind} name '${name}' is not a valid SageMaker name (1-63 letters, digits and single hyphens inside); ` +
        "use a shorter experiment id made of letters, digits and hyphens",
    );
  return name;
}

/**
 * The model artifact prefix (`ObjectLayout.modelArtifactPrefix`, `.../{model}/output/model`) holds
 * the unpacked model files in both modes; SageMaker writes the packed artifact next to it as
 * `.../{model}/output/model.tar.gz`, which hosting uses.
 */
export const packedArtifactUri = (artifactUri: string): string => `${artifactUri}.tar.gz`;

type Clock = Pick<PollOptions, "sleep" | "now">;

/** Where the job's CloudWatch log lives; SageMaker mode has no log text of its own. */
export function trainingJobLogsPointer(region: string, jobName: string): string {
  const group = encodeURIComponent(encodeURIComponent("/aws/sagemaker/TrainingJobs")).replace(/%/g, "$");
  return (
    `CloudWatch Logs, group /aws/sagemaker/TrainingJobs, streams ${jobName}/algo-*: ` +
    `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${group}` +
    `$3FlogStreamNameFilter$3D${encodeURIComponent(jobName)}`
  );
}

/** The hyperparameters a job of this kind receives (SageMaker writes them to hyperparameters.json). */
const withJobKind = (hyperparameters: Record<string, string>, job: "train" | "evaluate"): Record<string, string> => ({
  ...hyperparameters,
  cbkit_job: job,
});

export class SageMakerJobRunner implements JobRunner {
  constructor(
    private readonly sm: SageMakerClient,
    private readonly store: S3ObjectStore,
    private readonly settings: SageMakerSettings,
    private readonly clock: Clock = {},
  ) {}

  /** `{base}/{jobName}[/output[/model]]` -> `{base}`: SageMaker itself appends `{jobName}/output/`. */
  private outputPathFor(outputUri: string, jobName: string): string {
    const jobUri = outputUri.replace(/\/output\/model$/, "").replace(/\/output$/, "");
    if (!jobUri.endsWith(`/${jobName}`))
      throw new Error(`output URI ${outputUri} must end with /${jobName}, /${jobName}/output or /${jobName}/output/model (SageMaker appends the job name itself)`);
    return jobUri.slice(0, -jobName.length - 1);
  }

  /** An S3 channel over a prefix folder (or one object); refuses empty input before the job starts. */
  private async channel(name: string, uri: string): Promise<Channel> {
    const key = this.store.keyOf(uri);
    let s3Uri: string;
    if (await this.store.exists(uri)) s3Uri = uri;
    else {
      if ((await this.store.list(uri)).length === 0)
        throw new Error(`channel '${name}': nothing under ${uri}; check the URI (ingest or join data first)`);
      s3Uri = `${this.store.uriOf(key)}/`;
    }
    return {
      ChannelName: name,
      DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: s3Uri, S3DataDistributionType: "FullyReplicated" } },
      InputMode: "File",
    };
  }

  /**
   * The unpacked model files under an artifact prefix, for the `pretrained_model` channel; made
   * from `model.tar.gz` on first use (SageMaker hands channels over as-is and never unpacks).
   */
  async unpackedModelUri(artifactUri: string): Promise<string> {
    const unpacked = artifactUri;
    if ((await this.store.list(unpacked)).length > 0) return unpacked;
    const archiveUri = packedArtifactUri(artifactUri);
    if (!(await this.store.exists(archiveUri)))
      throw new Error(`no model at ${artifactUri}: neither its files nor ${archiveUri}; was the model trained?`);
    const entries = readTar(await this.store.get(archiveUri));
    if (entries.length === 0) throw new Error(`${archiveUri} holds no files`);
    for (const entry of entries) await this.store.put(`${unpacked}/${entry.path}`, entry.data);
    return unpacked;
  }

  private async startJob(
    jobName: string,
    job: "train" | "evaluate",
    instanceType: string,
    hyperparameters: Record<string, string>,
    channels: Channel[],
    outputUri: string,
  ): Promise<void> {
    checkSageMakerName("training job", jobName);
    for (const [k, v] of Object.entries(hyperparameters))
      if (typeof v !== "string") throw new Error(`hyperparameter '${k}' must be a string (SageMaker passes strings), got ${typeof v}`);
    try {
      await awsCall("sagemaker:CreateTrainingJob (and iam:PassRole on sagemaker.role_arn)", () =>
        this.sm.send(
          new CreateTrainingJobCommand({
            TrainingJobName: jobName,
            AlgorithmSpecification: { TrainingImage: this.settings.image, TrainingInputMode: "File" },
            RoleArn: this.settings.roleArn,
            HyperParameters: withJobKind(hyperparameters, job),
            Environment: { CBKIT_JOB: job },
            // 1-20 channels: every job here has data (a first model without data is built locally).
            InputDataConfig: channels,
            OutputDataConfig: { S3OutputPath: this.outputPathFor(outputUri, jobName) },
            ResourceConfig: {
              InstanceType: instanceType as TrainingInstanceType,
              InstanceCount: 1,
              VolumeSizeInGB: this.settings.volumeSizeGb,
            },
            StoppingCondition: { MaxRuntimeInSeconds: this.settings.maxJobSeconds },
            Tags: [{ Key: JOB_TAG, Value: job }],
          }),
        ),
      );
    } catch (error) {
      // The same job already exists (a resumed manager asking again): wait for it instead.
      if (!/already exists|must be unique/i.test((error as Error).message ?? "")) throw error;
    }
  }

  /**
   * Waits for the job to end; Completed -> its description, Failed/Stopped -> JobFailedError. A job
   * still running at the timeout, or when the process is interrupted (SIGINT: Ctrl-C, Jupyter's
   * Interrupt) while it waits, is stopped — it would bill until MaxRuntimeInSeconds otherwise —
   * before the WaitTimeoutError / WaitInterruptedError is thrown.
   */
  async waitForJob(jobName: string): Promise<DescribeTrainingJobCommandOutput> {
    let done: DescribeTrainingJobCommandOutput;
    try {
      done = await whileInterruptible((signal) =>
        pollUntil(
          async () => {
            const d = await awsCall("sagemaker:DescribeTrainingJob", () => this.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName })));
            const status = d.TrainingJobStatus ?? "Unknown";
            if (status === "Completed" || status === "Failed" || status === "Stopped") return { done: true, value: d };
            return { done: false, status: `${status}/${d.SecondaryStatus ?? "?"}` };
          },
          { what: `training job ${jobName}`, timeoutMs: this.settings.timeouts.job, intervalMs: this.settings.intervals.job, maxIntervalMs: 60_000, ...this.clock, signal },
        ),
      );
    } catch (error) {
      if (error instanceof WaitTimeoutError || error instanceof WaitInterruptedError) throw await this.stopAfterWait(jobName, error);
      throw error;
    }
    if (done.TrainingJobStatus !== "Completed") {
      const reason =
        done.FailureReason ?? (done.TrainingJobStatus === "Stopped" ? "stopped (MaxRuntimeInSeconds reached or StopTrainingJob)" : "no reason given");
      throw new JobFailedError(jobName, `${done.TrainingJobStatus}: ${reason}`, trainingJobLogsPointer(this.settings.region, jobName));
    }
    return done;
  }

  /**
   * Stops a job whose manager is gone (a step closed as ABANDONED), so it stops billing. A job
   * that already ended is not an error; a stop that fails for any other reason throws.
   */
  async stop(jobName: string): Promise<void> {
    const stop = await this.requestStop(jobName);
    if (stop.failed) throw stop.failed;
  }

  /**
   * Stops a job whose wait timed out or was interrupted; the error comes back saying whether the
   * stop went through (a timed-out wait's "It may still finish" no longer holds).
   */
  private async stopAfterWait<E extends WaitTimeoutError | WaitInterruptedError>(jobName: string, error: E): Promise<E> {
    const stop = await this.requestStop(jobName);
    const timedOut = error instanceof WaitTimeoutError;
    const outcome = stop.failed
      ? `Stopping training job ${jobName} failed too (${stop.failed.message}): stop it in the SageMaker console, it bills until MaxRuntimeInSeconds.`
      : stop.endedBefore
        ? `Training job ${jobName} had ended (or was already stopping) meanwhile.`
        : `Training job ${jobName} was stopped (StopTrainingJob), so it does not keep billing${timedOut ? "; run the step again with a larger sagemaker.job_timeout_seconds" : ""}.`;
    error.message = `${timedOut ? error.message.replace(/ It may still finish:.*$/, "") : `${error.message}.`} ${outcome}`;
    return error;
  }

  private async requestStop(jobName: string): Promise<{ endedBefore: boolean; failed?: Error }> {
    try {
      await awsCall("sagemaker:StopTrainingJob", () => this.sm.send(new StopTrainingJobCommand({ TrainingJobName: jobName })));
      return { endedBefore: false };
    } catch (error) {
      // SageMaker refuses to stop a job that has already ended ("... is in status Completed"). A job
      // it does not know ("Requested resource not found") stays an error: the manager never asks to
      // stop a first model built without a job (experiment/steps.ts).
      const ended = /status (Completed|Failed|Stopped|Stopping)\b|not in a stoppable state/i.test((error as Error).message ?? "");
      return ended ? { endedBefore: true } : { endedBefore: false, failed: error as Error };
    }
  }

  private result(d: DescribeTrainingJobCommandOutput, jobName: string) {
    return {
      jobName,
      status: "Completed" as const,
      startTime: (d.TrainingStartTime ?? d.CreationTime ?? new Date(0)).toISOString(),
      endTime: (d.TrainingEndTime ?? d.LastModifiedTime ?? new Date()).toISOString(),
      logs: trainingJobLogsPointer(this.settings.region, jobName),
    };
  }

  /**
   * The first model without data, built here by the container's training code (no `training`
   * channel: a fresh, uniform-exploring model, whatever parent is given) and uploaded as a job
   * would leave it: `model.tar.gz` next to the unpacked files. A training job would bill minutes
   * of instance time to save the same untrained model.
   */
  private async buildModelWithoutData(request: TrainingJobRequest): Promise<TrainingJobResult> {
    checkSageMakerName("training job", request.jobName);
    const startTime = new Date().toISOString();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-first-model-"));
    try {
      const paths = writeJobFolder(root, withJobKind(request.hyperparameters, "train"));
      const lines = [
        "no training data: this model learns nothing, so it was built on this machine by the training container's code " +
          "and uploaded where a training job would leave it (no job started, nothing billed)",
      ];
      try {
        await trainJob(paths, (line) => lines.push(line));
      } catch (error) {
        // The reason a training job's failure file would give, as for any failed job.
        throw new JobFailedError(request.jobName, failureReason(error), lines.join("\n"));
      }
      const files = filesUnder(paths.modelDir).map((file) => ({ path: file, data: fs.readFileSync(path.join(paths.modelDir, file)) }));
      // What an earlier failed attempt left at this prefix would mix with this model's files.
      await this.store.delete(request.outputUri, { recursive: true });
      await this.store.put(packedArtifactUri(request.outputUri), writeTarGz(files));
      for (const file of files) await this.store.put(`${request.outputUri}/${file.path}`, file.data);
      return { jobName: request.jobName, status: "Completed", startTime, endTime: new Date().toISOString(), logs: lines.join("\n"), modelArtifactUri: request.outputUri };
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }

  async runTraining(request: TrainingJobRequest): Promise<TrainingJobResult> {
    if (!request.trainingDataUri) return this.buildModelWithoutData(request);
    const channels: Channel[] = [await this.channel("training", request.trainingDataUri)];
    if (request.pretrainedModelUri)
      channels.push(await this.channel("pretrained_model", await this.unpackedModelUri(request.pretrainedModelUri)));
    await this.startJob(request.jobName, "train", this.settings.trainingInstanceType, request.hyperparameters, channels, request.outputUri);
    const d = await this.waitForJob(request.jobName);
    const artifact = d.ModelArtifacts?.S3ModelArtifacts;
    const expected = packedArtifactUri(request.outputUri);
    if (artifact && artifact !== expected)
      throw new Error(`training job ${request.jobName} wrote its model to ${artifact}, expected ${expected}`);
    // Unpack now, so warm start and evaluation channels see plain files.
    await this.unpackedModelUri(request.outputUri);
    return { ...this.result(d, request.jobName), modelArtifactUri: request.outputUri };
  }

  async runEvaluation(request: EvaluationJobRequest): Promise<EvaluationJobResult> {
    const channels = [
      await this.channel("evaluation", request.evaluationDataUri),
      await this.channel("pretrained_model", await this.unpackedModelUri(request.modelUri)),
    ];
    await this.startJob(request.jobName, "evaluate", this.settings.evaluationInstanceType, request.hyperparameters, channels, request.outputUri);
    const d = await this.waitForJob(request.jobName);
    const score = await this.readScore(request.jobName, request.outputUri);
    const scoreUri = `${request.outputUri}/${SCORE_FILE}`;
    await this.store.put(scoreUri, JSON.stringify(score, null, 2));
    return { ...this.result(d, request.jobName), score, scoreUri };
  }

  /** Finds score.json in the job's model.tar.gz or output.tar.gz (no log scraping). */
  async readScore(jobName: string, outputUri: string): Promise<OpeEstimate> {
    const base = `${outputUri.replace(/\/output\/model$/, "").replace(/\/output$/, "")}/output`;
    for (const archive of ["model.tar.gz", "output.tar.gz"]) {
      const uri = `${base}/${archive}`;
      if (!(await this.store.exists(uri))) continue;
      const entry = readTar(await this.store.get(uri)).find((e) => e.path.split("/").pop() === SCORE_FILE);
      if (entry) return parseScore(entry.data.toString("utf8"), `${uri}:${entry.path}`);
    }
    throw new JobFailedError(
      jobName,
      `the evaluation job completed but wrote no ${SCORE_FILE} into ${base}/model.tar.gz or output.tar.gz`,
      trainingJobLogsPointer(this.settings.region, jobName),
    );
  }
}
