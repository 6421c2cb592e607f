/**
 * ExperimentManager: the workflow API of the notebooks — the original's operations in TypeScript
 * style. One manager drives one experiment on a Platform (local by default, SageMaker when
 * `local_mode: false`). The records live in the platform's record store, so a new manager with the
 * same id (new process, kernel restart, another notebook) resumes where the last one stopped.
 *
 * The manager is a façade: the steps (train, evaluate, deploy, join) run through one step engine
 * (steps.ts), each described by its workflow (workflows/*.ts); the records are read and written
 * by ExperimentState (state.ts).
 *
 * Concurrency: every call first re-reads the experiment record (the store is the truth, the
 * manager only caches it) and writes with compare-and-set on the record version. A write that
 * loses a race is retried only when the workflow it touches (training, hosting, joining or
 * evaluation) was left unchanged by the other writer; otherwise the caller gets `ConflictError`.
 * In-progress steps of another live manager are refused with `WorkflowInProgressError`; a step
 * whose owner process is gone (or that is older than `staleJobMs`) is taken over.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config";
import { loadConfig, resolveWorkspaceDir } from "../config";
import { readJoinedRecords } from "../data";
import type { OpeEstimate } from "../ope";
import { createPlatform } from "../platform";
import type { JobMode } from "../platform/local";
import type {
  EndpointDescription,
  ExperimentRecord,
  JoinJobRecord,
  MetricPoint,
  ModelRecord,
  Platform,
  RewardRecord,
} from "../platform/types";
import { StepContext } from "./context";
import { EvalScoreNotAvailableError, InvalidUsageError, WorkflowInProgressError } from "./errors";
import { sortableSuffix, validateExperimentId } from "./ids";
import { removeExperimentFiles } from "./local-files";
import { Predictor } from "./predictor";
import { clone, ExperimentState } from "./state";
import { closeAbandonedSteps, findLiveStep } from "./steps";
import { deploy } from "./workflows/deploy";
import { reconcileHosting } from "./reconcile";
import { evaluate } from "./workflows/evaluate";
import { ingestJoinedData, ingestRewards, join, type JoinOptions } from "./workflows/join";
import { train } from "./workflows/train";

export { normalizeJoinedRecord, checkExperimentUri, taskBounds, type TaskBounds } from "./validation";
export { LOCAL_JOIN_SENTINEL } from "./workflows/join";

/** Metric name of the per-batch mean reward, as the original's CloudWatch metric. */
export const REWARDS_METRIC = "reported_rewards_score";

export interface ExperimentManagerOptions {
  /** Use this platform instead of the one the config selects. */
  platform?: Platform;
  /** Local mode: run jobs in this process (default) or as child processes. */
  jobMode?: JobMode;
  /** Progress messages (default: console.log). Pass `() => {}` for silence. */
  log?: (message: string) => void;
  /** An in-progress step older than this is considered abandoned (default 30 min). */
  staleJobMs?: number;
}

export class ExperimentManager {
  readonly experimentId: string;
  readonly config: Config;
  readonly platform: Platform;
  readonly localMode: boolean;
  private readonly ctx: StepContext;
  private readonly state: ExperimentState;
  private readonly log: (message: string) => void;
  private predictorInstance: Predictor | null = null;

  private constructor(config: Config, platform: Platform, state: ExperimentState, options: ExperimentManagerOptions) {
    this.config = config;
    this.experimentId = state.experimentId;
    this.platform = platform;
    this.localMode = platform.kind === "local";
    this.state = state;
    this.log = options.log ?? ((m) => console.log(m));
    this.ctx = new StepContext(state.experimentId, config, platform, state, this.log, options.staleJobMs ?? 30 * 60 * 1000);
  }

  /**
   * Creates the experiment, or resumes it when its record exists (any process, any time).
   * `config` is a loaded Config, a path to a config file, or undefined for the project's config.yaml.
   */
  static async create(
    config: Config | string | undefined,
    experimentId: string,
    options: ExperimentManagerOptions = {},
  ): Promise<ExperimentManager> {
    const id = validateExperimentId(experimentId);
    const cfg = typeof config === "object" && config !== null ? config : loadConfig(config);
    const platform = options.platform ?? (await createPlatform(cfg, { jobMode: options.jobMode }));
    const { state, created } = await ExperimentState.open(platform.records, id);
    const m = new ExperimentManager(cfg, platform, state, options);
    m.log(created ? `created experiment ${id}` : `resumed experiment ${id} (record version ${state.version})`);
    await closeAbandonedSteps(m.ctx);
    await reconcileHosting(m.ctx);
    return m;
  }

  // ------------------------------------------------------------------ state

  /** The experiment record in the original's `_jsonify()` shape. */
  toJSON(): ExperimentRecord {
    return clone(this.state.record);
  }

  /** The log of this manager's last training job (also on failure, in TrainingJobError.logs). */
  get lastTrainingLog(): string {
    return this.ctx.jobLogs.training;
  }

  /** The log of this manager's last evaluation job. */
  get lastEvaluationLog(): string {
    return this.ctx.jobLogs.evaluation;
  }

  /** The record version this manager last saw. */
  get recordVersion(): number {
    return this.state.version;
  }

  get lastTrainedModelId(): string | null {
    return this.state.record.training_workflow_metadata.last_trained_model_id;
  }
  get lastHostedModelId(): string | null {
    return this.state.record.hosting_workflow_metadata.last_hosted_model_id;
  }
  get lastJoinedJobId(): string | null {
    return this.state.record.joining_workflow_metadata.last_joined_job_id;
  }
  get lastEvaluationJobId(): string | null {
    return this.state.record.evaluation_workflow_metadata.last_evaluation_job_id;
  }
  /** Train-split URI of the last successful join (throws when there is none). */
  get lastJoinedJobTrainData(): string {
    return this.ctx.requireLastJoin().output_joined_train_data_s3_path;
  }
  /** Eval-split URI of the last successful join (throws when there is none). */
  get lastJoinedJobEvalData(): string {
    return this.ctx.requireLastJoin().output_joined_eval_data_s3_path;
  }
  /**
   * The holdout data: a copy of the eval split of every successful join of this experiment
   * (`<exp>/holdout/<join id>/`). Never used for training; pass it to evaluateModel to compare
   * models on all evaluation records collected so far.
   */
  get holdoutDataUri(): string {
    return this.ctx.holdoutDataUri;
  }

  /** The last successful join record (counts, rules, paths), or null. */
  get lastJoinRecord(): JoinJobRecord | null {
    return this.state.lastJoin ? clone(this.state.lastJoin) : null;
  }

  /** Re-reads the experiment record (and the last join) from the store. */
  async refresh(): Promise<ExperimentRecord> {
    await this.state.refresh();
    return this.toJSON();
  }

  // ------------------------------------------------------------------ data in

  /**
   * The client-side join (the original's "dummy" join): records already joined with their
   * rewards, in the original's shape, are split by `sample_prob <= ratio` and stored as a join
   * job's train and eval CSVs. Both splits must be non-empty.
   */
  async ingestJoinedData(records: readonly unknown[], ratio: number = this.config.workflow.join_ratio): Promise<JoinJobRecord> {
    return ingestJoinedData(this.ctx, records, ratio);
  }

  /**
   * Stores rewards (`{event_id, reward}` per decision, e.g. the sim app's rewardsBuffer) as JSON
   * lines and returns the folder URI to pass to `join`. Each reward is stamped with the time it
   * was reported (kept if given), so "the earliest reward wins" is well defined.
   */
  async ingestRewards(rewards: readonly RewardRecord[]): Promise<string> {
    return ingestRewards(this.ctx, rewards);
  }

  /**
   * Joins the decision log with the rewards under `rewardsUri` by event id (SQL: DuckDB locally,
   * Athena on AWS), splits by the event-id hash and stores both splits as a join job.
   * `obsTimeWindow` (hours) keeps only decisions of the last hours; `defaultReward` (default:
   * config `workflow.default_reward`) gives decisions without a reward that reward (needs a
   * window) instead of leaving them out.
   */
  async join(rewardsUri: string, options: JoinOptions = {}): Promise<JoinJobRecord> {
    return join(this.ctx, rewardsUri, options);
  }

  // ------------------------------------------------------------------ training

  /** The first model: trained on `inputDataUri` (e.g. warm-start data) or, without data, a fresh uniform-exploring model. */
  async initializeFirstModel(options: { inputDataUri?: string } = {}): Promise<ModelRecord> {
    return train(this.ctx, () => options.inputDataUri ?? null, () => null);
  }

  /**
   * The next model: learns from `inputDataUri` (default: the last join's train split), continuing
   * from `inputModelId` (default: the last trained model).
   */
  async trainNextModel(options: { inputDataUri?: string; inputModelId?: string } = {}): Promise<ModelRecord> {
    return train(
      this.ctx,
      () => options.inputDataUri ?? this.lastJoinedJobTrainData,
      () => {
        const parent = options.inputModelId ?? this.lastTrainedModelId;
        if (!parent) throw new InvalidUsageError("there is no trained model to continue from: call initializeFirstModel() first");
        return parent;
      },
    );
  }

  async getModelRecord(modelId: string): Promise<ModelRecord> {
    return this.ctx.modelRecord(modelId);
  }

  async listModels(): Promise<ModelRecord[]> {
    return (await this.platform.records.list("model", this.experimentId)).map((r) => r.value);
  }

  async listJoinJobs(): Promise<JoinJobRecord[]> {
    return (await this.platform.records.list("join_job", this.experimentId)).map((r) => r.value);
  }

  // ------------------------------------------------------------------ evaluation

  /**
   * Off-policy evaluation of a model (default: the last trained) on joined data (default: the
   * last join's eval split). Returns the score; it is also stored on the model record under the
   * data URI (see getEvalScore).
   */
  async evaluateModel(options: { inputDataUri?: string; modelId?: string } = {}): Promise<OpeEstimate> {
    return evaluate(this.ctx, options);
  }

  /** The stored score of a model (default: last trained) on data (default: last join's eval split). */
  async getEvalScore(options: { modelId?: string; evalDataUri?: string } = {}): Promise<OpeEstimate> {
    await this.refresh();
    const modelId = options.modelId ?? this.lastTrainedModelId;
    if (!modelId) throw new InvalidUsageError("there is no trained model: pass modelId");
    const dataUri = this.ctx.checkUri(options.evalDataUri ?? this.lastJoinedJobEvalData, "evalDataUri");
    const rec = await this.getModelRecord(modelId);
    const score = rec.eval_scores[dataUri];
    if (!score) {
      const known = Object.keys(rec.eval_scores);
      throw new EvalScoreNotAvailableError(
        `model ${modelId} has no score on ${dataUri}: call evaluateModel({modelId, inputDataUri}) first` +
          (known.length ? ` (it has scores on: ${known.join(", ")})` : ""),
      );
    }
    return score;
  }

  // ------------------------------------------------------------------ hosting

  /**
   * Serves a model at the experiment's endpoint: creates the endpoint the first time, swaps the
   * model blue/green afterwards (no failed request). Resolves when the model serves.
   */
  async deployModel(options: { modelId: string }): Promise<EndpointDescription> {
    const modelId = options?.modelId;
    if (!modelId) throw new InvalidUsageError("deployModel needs {modelId}, e.g. {modelId: manager.lastTrainedModelId}");
    return deploy(this.ctx, modelId);
  }

  /** Describes the running endpoint (null when none runs). */
  async describeEndpoint(): Promise<EndpointDescription | null> {
    return this.platform.hosting.describe(this.experimentId);
  }

  /** The client of the experiment's endpoint (SageMaker Runtime InvokeEndpoint in both modes). */
  get predictor(): Predictor {
    this.state.checkAlive();
    if (!this.state.record.hosting_workflow_metadata.hosting_endpoint) {
      throw new InvalidUsageError(`experiment ${this.experimentId} has no endpoint: call deployModel({modelId}) first`);
    }
    if (!this.predictorInstance) this.predictorInstance = new Predictor(this.platform.hosting, this.experimentId);
    return this.predictorInstance;
  }

  // ------------------------------------------------------------------ metrics

  /** Publishes the mean reward of a batch (the original's `publish_rewards_for_simulation`). */
  async publishRewards(meanReward: number, timestamp?: string): Promise<void> {
    this.state.checkAlive();
    await this.platform.metrics.put(this.experimentId, REWARDS_METRIC, meanReward, timestamp);
  }

  /** The published per-batch mean rewards, oldest first. */
  async getPublishedRewards(): Promise<MetricPoint[]> {
    return this.platform.metrics.get(this.experimentId, REWARDS_METRIC);
  }

  // ------------------------------------------------------------------ historical data

  /** Copies joined data (default: the last join's eval split) into a local folder; returns the folder. */
  async downloadHistoricalData(options: { dataUri?: string; localDir?: string } = {}): Promise<string> {
    const uri = this.ctx.checkUri(options.dataUri ?? this.lastJoinedJobEvalData, "dataUri");
    const dir =
      options.localDir ??
      path.join(this.localMode ? resolveWorkspaceDir(this.config) : os.tmpdir(), "downloads", this.experimentId, sortableSuffix());
    const files = await this.platform.objects.download(uri, dir);
    if (files.length === 0) throw new InvalidUsageError(`no data under ${uri}`);
    return dir;
  }

  /** The baseline cost of logged data (1 − mean reward) from a local file/folder or a data URI. */
  async evaluateHistoricalData(pathOrUri: string): Promise<{ cost: number; n: number }> {
    const bucketRoot = this.localMode ? realPathOrSelf(fileURLToPath(this.platform.objects.uriOf(""))) : null;
    const resolved = typeof pathOrUri === "string" && !/^[a-z0-9]+:\/\//i.test(pathOrUri) ? realPathOrSelf(path.resolve(pathOrUri)) : null;
    // A plain path into the local bucket (also through a link that leads there) is checked like
    // its URI: this experiment's data only.
    if (bucketRoot && resolved && (resolved + path.sep).startsWith(bucketRoot + path.sep)) {
      pathOrUri = this.platform.objects.uriOf(path.relative(bucketRoot, resolved).split(path.sep).join("/"));
    }
    const isUri = /^[a-z0-9]+:\/\//i.test(pathOrUri);
    // A URI is checked, then read through a temporary copy, removed afterwards (also on failure).
    const dataUri = isUri ? this.ctx.checkUri(pathOrUri, "dataUri") : null;
    const copy = dataUri ? fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-history-")) : null;
    let n = 0;
    let sum = 0;
    try {
      const local = dataUri && copy ? await this.downloadHistoricalData({ dataUri, localDir: copy }) : pathOrUri;
      for await (const r of readJoinedRecords(local)) {
        n++;
        sum += r.reward;
      }
    } finally {
      if (copy) fs.rmSync(copy, { recursive: true, force: true });
    }
    if (n === 0) throw new InvalidUsageError(`no joined records in ${pathOrUri}`);
    return { cost: 1 - sum / n, n };
  }

  // ------------------------------------------------------------------ clean-up

  /**
   * Stops the endpoint. With `deleteData` also removes the experiment's stored objects and what it
   * left on this machine (local: endpoint log, failed or killed job folders; downloads, and the
   * files applications registered with `registerExperimentFile`, such as npm start's report);
   * refused while a live process runs one of its steps.
   */
  async cleanResource(options: { deleteData?: boolean } = {}): Promise<{ endpointDeleted: boolean; removed: string[] }> {
    if (options.deleteData) await this.refuseWhileStepsRun();
    this.predictorInstance?.close();
    this.predictorInstance = null;
    const report = await this.platform.cleanup(this.experimentId, options);
    if (options.deleteData) report.removed.push(...this.removeLocalCopies());
    if (!this.state.deleted) {
      await this.refresh().catch(() => undefined);
      if (!this.state.deleted && this.state.record.hosting_workflow_metadata.hosting_endpoint) {
        await this.state.writeSection("hosting_workflow_metadata", (s) => ({ ...s, hosting_state: null, next_model_to_host_id: null, hosting_endpoint: null }));
      }
    }
    this.log(`cleaned up ${this.experimentId}: ${report.removed.join(", ") || "nothing was running"}`);
    return { endpointDeleted: report.endpointDeleted, removed: report.removed };
  }

  /** Deleting the data under a running job would break it: refuse while a live owner runs a step. */
  private async refuseWhileStepsRun(): Promise<void> {
    if (this.state.deleted) return;
    await this.refresh().catch(() => undefined);
    if (this.state.deleted) return;
    const live = await findLiveStep(this.ctx);
    if (live) {
      throw new WorkflowInProgressError(
        `cleanResource({deleteData: true}) would delete the data of ${live.what} '${live.pendingId}', which is running (pid ${live.owner?.pid} on ${live.owner?.host}); ` +
          `wait for it to finish (or stop that process) and call again`,
      );
    }
  }

  /** The experiment's downloads (downloadHistoricalData) and the files applications registered for it (local-files.ts). */
  private removeLocalCopies(): string[] {
    const workspace = resolveWorkspaceDir(this.config);
    const paths = [path.join(workspace, "downloads", this.experimentId), path.join(os.tmpdir(), "downloads", this.experimentId)];
    const removed = paths.filter((p) => fs.existsSync(p));
    for (const p of removed) fs.rmSync(p, { recursive: true, force: true });
    return [...removed, ...removeExperimentFiles(workspace, this.experimentId)];
  }

  /** Deletes every record of the experiment (experiment, models, join jobs, metrics). */
  async cleanTableRecords(): Promise<{ experiments: number; models: number; joinJobs: number }> {
    const counts = await this.platform.records.deleteExperiment(this.experimentId);
    this.state.markDeleted();
    return counts;
  }

  /** Releases this manager's connections (never stops the endpoint). */
  async close(): Promise<void> {
    this.predictorInstance?.close();
    this.predictorInstance = null;
    await this.platform.close();
  }
}

/** A path with its links resolved, or the path itself when it does not exist. */
function realPathOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}
