/**
 * The Platform interface: everything the ExperimentManager needs from the place it runs on.
 * Two implementations share it: `local/` (the default; a workspace folder, an embedded DuckDB
 * database, child processes) and `sagemaker/` (S3, DynamoDB or S3 records, SageMaker jobs and
 * endpoints, Athena, CloudWatch). The manager never branches on the mode; it only calls this.
 *
 * Conventions
 * - URIs. Every object has a URI the user sees and may pass back. SageMaker mode uses
 *   `s3://<bucket>/<key>`. Local mode uses `file://<absolute workspace>/bucket/<key>` (a real file
 *   the user can open); the store refuses any URI that resolves outside its root. Keys follow the
 *   original's bucket layout (§4.8), see `ObjectLayout` below. A "prefix" URI names a folder and
 *   ends without a slash; listing it returns every object below it.
 * - Records are stored in the original's DynamoDB shapes (snake_case keys, ids as strings), plus a
 *   `version` number for optimistic concurrency: every write names the version it read and fails
 *   with `ConflictError` when someone else wrote in between.
 * - Times are ISO-8601 UTC strings.
 * - Errors are thrown, never logged and swallowed. A failed job throws `JobFailedError` carrying
 *   the failure reason (SageMaker's `output/failure` file) and the job's log.
 */
import type { OpeEstimate } from "../ope";

// ---------------------------------------------------------------------------------------------
// Errors

/** Another writer changed a record after it was read: re-read and retry, or give up. */
export class ConflictError extends Error {
  constructor(
    readonly kind: RecordKind,
    readonly key: string,
    readonly expectedVersion: number | null,
    readonly actualVersion: number | null,
    detail = "",
  ) {
    super(
      `conflict on ${kind} record '${key}': expected version ${expectedVersion ?? "none (new record)"}, ` +
        `found ${actualVersion ?? "none (record missing)"}` +
        (detail ? `; ${detail}` : "") +
        ". Another manager or notebook changed this experiment; reload it (create a new ExperimentManager " +
        "with the same id) and retry.",
    );
    this.name = "ConflictError";
  }
}

/** A training or evaluation job ended in failure. */
export class JobFailedError extends Error {
  constructor(
    readonly jobName: string,
    readonly failureReason: string,
    readonly logs: string,
  ) {
    super(`job '${jobName}' failed: ${failureReason}`);
    this.name = "JobFailedError";
  }
}

/** An object URI does not exist (get) or is not acceptable to this store (wrong scheme/root). */
export class ObjectStoreError extends Error {
  constructor(
    readonly uri: string,
    message: string,
  ) {
    super(message);
    this.name = "ObjectStoreError";
  }
}

// ---------------------------------------------------------------------------------------------
// Object store

export interface ObjectInfo {
  uri: string;
  /** Key relative to the bucket root, e.g. `exp-1/joined_data/<join id>/train/part-0.csv`. */
  key: string;
  size: number;
  lastModified: string;
}

export interface ObjectStore {
  /** The URI of a bucket-relative key (`exp-1/rewards_data/...`). */
  uriOf(key: string): string;
  /** The bucket-relative key of a URI of this store; throws `ObjectStoreError` for foreign URIs. */
  keyOf(uri: string): string;
  put(uri: string, body: string | Uint8Array): Promise<void>;
  /** Uploads a local file (large data; streams where the backend allows). */
  putFile(uri: string, localPath: string): Promise<void>;
  /** Throws `ObjectStoreError` when the object does not exist. */
  get(uri: string): Promise<Buffer>;
  exists(uri: string): Promise<boolean>;
  /** Every object below a prefix URI (recursive), sorted by key. */
  list(prefixUri: string): Promise<ObjectInfo[]>;
  /** Deletes one object, or with `recursive` every object below a prefix; returns how many. */
  delete(uri: string, options?: { recursive?: boolean }): Promise<number>;
  /** Copies every object below a prefix into a local folder (keeping relative paths); returns the local files. */
  download(prefixUri: string, localDir: string): Promise<string[]>;
}

/**
 * The keys of the bucket layout (§4.8), one experiment per top-level folder. Both platforms use the
 * same keys; only the URI scheme and bucket differ. Implemented once in `platform/layout.ts`
 * (`objectLayout`) and shared.
 */
export interface ObjectLayout {
  experimentPrefix(experimentId: string): string; // {exp}
  /** Every rewards batch lies below it (the Athena rewards table reads it whole). */
  rewardsRootPrefix(experimentId: string): string; // {exp}/rewards_data
  rewardsPrefix(experimentId: string, batchId: string): string; // {exp}/rewards_data/{batchId}
  joinedPrefix(experimentId: string, joinJobId: string, split: "train" | "eval"): string; // {exp}/joined_data/{join}/{split}
  /** Every join's event ids lie below it (the Athena joined-ids table reads it, by `"$path"`). */
  joinedIdsRootPrefix(experimentId: string): string; // {exp}/joined_ids
  /** The event ids a join joined (CSV, one column `event_id`): later joins leave them out. */
  joinedIdsPrefix(experimentId: string, joinJobId: string): string; // {exp}/joined_ids/{join}
  /** The eval splits kept for comparing models on the same data, one folder per join job. */
  holdoutPrefix(experimentId: string): string; // {exp}/holdout
  /** The folder of every training job (and so every model) of an experiment. */
  trainingJobsRootPrefix(experimentId: string): string;
  trainingJobPrefix(experimentId: string, modelId: string): string; // {exp}/training_jobs/{model}
  /** The model artifact folder (local: the unpacked files; SageMaker: contains model.tar.gz). */
  modelArtifactPrefix(experimentId: string, modelId: string): string; // {exp}/training_jobs/{model}/output
  evaluationJobPrefix(experimentId: string, evalJobId: string): string; // {exp}/evaluation_jobs/{job}
  decisionLogPrefix(experimentId: string): string; // {exp}/inference_data
  uploadsPrefix(experimentId: string, uploadId: string): string; // {exp}/uploads/{id} (ingested data, warm start)
  /** SageMaker mode: where Athena writes the results of the join's table DDL and count queries. */
  athenaResultsPrefix(experimentId: string): string; // {exp}/athena_query_results
}

// ---------------------------------------------------------------------------------------------
// Records (the original's three tables, plus versions)

/**
 * Workflow states. `ABANDONED` (and `Abandoned` on model records) closes a step whose owner
 * process died while it ran: a new manager that finds the owner gone marks it so on takeover,
 * instead of leaving it in progress forever. It is final, like FAILED.
 */
export type TrainingState = "PENDING" | "TRAINING" | "TRAINED" | "STOPPED" | "FAILED" | "ABANDONED";
export type EvaluationState = "PENDING" | "EVALUATING" | "EVALUATED" | "STOPPED" | "FAILED" | "ABANDONED";
export type HostingState = "PENDING" | "DEPLOYING" | "DEPLOYED" | "FAILED" | "ABANDONED";
export type JoiningState = "PENDING" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED" | "ABANDONED";
/** SageMaker training-job statuses, stored raw on model records as in the original, plus `Abandoned` (see above). */
export type JobStatus = "Pending" | "InProgress" | "Stopping" | "Stopped" | "Failed" | "Completed" | "Abandoned";

/** The experiment item, in the original's `_jsonify()` shape (all leaves string or null). */
export interface ExperimentRecord {
  experiment_id: string;
  training_workflow_metadata: {
    training_state: TrainingState | null;
    last_trained_model_id: string | null;
    next_model_to_train_id: string | null;
  };
  hosting_workflow_metadata: {
    hosting_state: HostingState | null;
    last_hosted_model_id: string | null;
    next_model_to_host_id: string | null;
    /** Endpoint ARN (SageMaker) or `local:<endpoint name>` (local); null when none is up. */
    hosting_endpoint: string | null;
  };
  joining_workflow_metadata: {
    joining_state: JoiningState | null;
    last_joined_job_id: string | null;
    next_join_job_id: string | null;
  };
  evaluation_workflow_metadata: {
    evaluation_state: EvaluationState | null;
    last_evaluation_job_id: string | null;
    next_evaluation_job_id: string | null;
  };
}

export interface ModelRecord {
  experiment_id: string;
  model_id: string;
  train_state: JobStatus | null;
  evaluation_job_name: string | null;
  eval_state: JobStatus | null;
  /**
   * eval data URI -> score (the evaluation job's estimate); reset when the model is (re)trained;
   * accumulates across data sets. Records of the previous version, whose scores had another
   * shape, are read into this one by `decodeRecord`.
   */
  eval_scores: Record<string, OpeEstimate>;
  input_model_id: string | null;
  input_data_s3_prefix: string | null;
  eval_data_s3_path: string | null;
  /** The model artifact prefix URI (`ObjectLayout.modelArtifactPrefix`). */
  s3_model_output_path: string | null;
  training_start_time: string | null;
  training_end_time: string | null;
  failure_reason: string | null;
  /** The training data rows its job used and skipped (with the first reasons); absent when trained without data or unknown. */
  training_rows?: TrainingRowsReport;
}

export interface JoinJobRecord {
  experiment_id: string;
  join_job_id: string;
  current_state: JoiningState | null;
  /** Decision-log prefix URI, or `local-join-does-not-apply` for a client-side (ingested) join. */
  input_obs_data_s3_path: string;
  obs_start_time: string | null;
  obs_end_time: string | null;
  input_reward_data_s3_path: string;
  output_joined_train_data_s3_path: string;
  output_joined_eval_data_s3_path: string;
  join_query_ids: string[];
  ratio: number;
  /** How decisions without a reward were treated: left out, or given this reward. */
  missing_reward_policy: "drop" | { default_reward: number };
  /** Duplicate-reward rule, stated on the record (e.g. "earliest reward per event wins"). */
  duplicate_reward_rule: string;
  counts: JoinCounts | null;
  failure_reason: string | null;
}

export type RecordKind = "experiment" | "model" | "join_job";
export interface RecordTypes {
  experiment: ExperimentRecord;
  model: ModelRecord;
  join_job: JoinJobRecord;
}

/** A record with its version (1 on creation, +1 per successful write). */
export interface Versioned<T> {
  value: T;
  version: number;
}

export interface RecordStore {
  /**
   * `id` is the experiment id for kind `experiment`, else the model / join job id.
   * Returns null when absent.
   */
  get<K extends RecordKind>(kind: K, experimentId: string, id: string): Promise<Versioned<RecordTypes[K]> | null>;
  /** Creates a record at version 1; when it already exists, returns the stored one with `created: false`. */
  create<K extends RecordKind>(
    kind: K,
    experimentId: string,
    id: string,
    value: RecordTypes[K],
  ): Promise<Versioned<RecordTypes[K]> & { created: boolean }>;
  /** Writes only if the stored version equals `expectedVersion`; else throws `ConflictError`. */
  update<K extends RecordKind>(
    kind: K,
    experimentId: string,
    id: string,
    value: RecordTypes[K],
    expectedVersion: number,
  ): Promise<Versioned<RecordTypes[K]>>;
  /** All records of a kind for an experiment, sorted by id. */
  list<K extends RecordKind>(kind: K, experimentId: string): Promise<Versioned<RecordTypes[K]>[]>;
  /** Deletes every record of the experiment (experiment, models, join jobs, metrics); returns counts. */
  deleteExperiment(experimentId: string): Promise<{ experiments: number; models: number; joinJobs: number }>;
}

// ---------------------------------------------------------------------------------------------
// Jobs (SageMaker's training-job container contract)

/**
 * A training job. The container sees `/opt/ml/input/config/hyperparameters.json` (string values),
 * `/opt/ml/input/data/training` (the joined CSV/JSONL files, absent for a random first model) and
 * `/opt/ml/input/data/pretrained_model` (the parent model's artifact files, for warm start), writes
 * the model into `/opt/ml/model` and, on error, the reason into `/opt/ml/output/failure`.
 */
export interface TrainingJobRequest {
  experimentId: string;
  /** = model id; also the SageMaker training-job name (≤ 63 characters). */
  jobName: string;
  hyperparameters: Record<string, string>;
  /**
   * Prefix URI of the training data (channel `training`); omitted -> a fresh, uniform-exploring
   * first model (SageMaker mode builds that one on this machine: no job, nothing billed).
   */
  trainingDataUri?: string;
  /** Artifact prefix URI of the parent model (channel `pretrained_model`). */
  pretrainedModelUri?: string;
  /** Where the artifact goes (`ObjectLayout.modelArtifactPrefix` as a URI). */
  outputUri: string;
}

export interface JobResult {
  jobName: string;
  status: "Completed";
  startTime: string;
  endTime: string;
  /** The job's log (stdout+stderr locally, CloudWatch log text on SageMaker), possibly truncated. */
  logs: string;
}

export interface TrainingJobResult extends JobResult {
  /** Prefix URI of the model artifact, to be passed back as `pretrainedModelUri` / to hosting. */
  modelArtifactUri: string;
  /** The training data rows the job learned from and skipped (from the model's model.json); absent when unknown or trained without data. */
  rows?: TrainingRowsReport;
}

/** Rows a training job used and skipped, with the first few reasons (`file:line: why`). */
export interface TrainingRowsReport {
  used: number;
  skipped: number;
  first_skipped: string[];
}

/**
 * An evaluation job: channels `evaluation` (joined data) and `pretrained_model` (the model to
 * score); the job writes `score.json` (the JSON of an `OpeEstimate`) into its model/output folder.
 */
export interface EvaluationJobRequest {
  experimentId: string;
  /** `{model_id}-eval-{suffix}`, ≤ 63 characters. */
  jobName: string;
  hyperparameters: Record<string, string>;
  evaluationDataUri: string;
  modelUri: string;
  /** Where `score.json` goes (`ObjectLayout.evaluationJobPrefix` as a URI). */
  outputUri: string;
}

export interface EvaluationJobResult extends JobResult {
  score: OpeEstimate;
  /** URI of the score JSON. */
  scoreUri: string;
}

export interface JobRunner {
  /** Runs to completion; throws `JobFailedError` (reason + logs) on failure. */
  runTraining(request: TrainingJobRequest): Promise<TrainingJobResult>;
  runEvaluation(request: EvaluationJobRequest): Promise<EvaluationJobResult>;
  /**
   * Optional: stops a job that may still run although its manager is gone (called when a step is
   * closed as ABANDONED; SageMaker: StopTrainingJob, so an orphaned job stops billing). Resolves
   * when the stop was requested; a job that already ended is not an error.
   */
  stop?(jobName: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Hosting

export type EndpointStatus = "Creating" | "Updating" | "InService" | "Failed" | "OutOfService";

export interface EndpointDescription {
  endpointName: string;
  status: EndpointStatus;
  /** Id of the model the endpoint serves right now. */
  modelId: string;
  /** Base URL for InvokeEndpoint (local: `http://127.0.0.1:<port>`; SageMaker: runtime URL). */
  url: string;
  /** Endpoint ARN on SageMaker, `local:<name>` locally. */
  arn: string;
  /** Local only: the server process id. */
  pid?: number;
  /** Prefix URI where the endpoint writes its decision log. */
  decisionLogUri: string;
}

export interface DeployRequest {
  experimentId: string;
  /** The endpoint name (the experiment id, as in the original). */
  endpointName: string;
  modelId: string;
  modelArtifactUri: string;
  /** Seed of the action sampling (action = f(seed, event id)). */
  seed: number;
  /**
   * How a running endpoint gets the new model: config `soft_deployment`, whose one default (false)
   * is the config schema's, so callers always pass it. Local hosting: true swaps it into the
   * running server; false starts a new server (blue/green), switches the endpoint over once it is
   * healthy, then stops the old one. SageMaker has no hot swap: every deploy is blue/green.
   */
  softDeployment: boolean;
  /**
   * Request limits of the serving process (config `endpoint.max_decisions_per_request`,
   * `endpoint.request_timeout_seconds`), passed as env `MAX_DECISIONS_PER_REQUEST` and
   * `REQUEST_TIMEOUT_SECONDS`. Absent: the server's defaults.
   */
  limits?: { maxDecisionsPerRequest: number; requestTimeoutSeconds: number };
}

/** Settings for `new SageMakerRuntimeClient(...)`: the Predictor is the same class in both modes. */
export interface RuntimeClientSettings {
  region: string;
  /** Endpoint override (local mode) */
  endpoint?: string;
  /** Dummy static credentials in local mode; undefined -> the default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Local mode: skip SigV4 signing (the local endpoint does not check it). */
  unsigned?: boolean;
}

export interface Hosting {
  /**
   * Creates the endpoint, or swaps its model blue/green when it exists (no failed request, every
   * response names the model that served it). Resolves when the new model serves.
   */
  deploy(request: DeployRequest): Promise<EndpointDescription>;
  /** Null when no endpoint of that name exists (or its process is gone, locally). */
  describe(endpointName: string): Promise<EndpointDescription | null>;
  /** Stops/deletes the endpoint; false when there was none. */
  delete(endpointName: string): Promise<boolean>;
  runtimeClientSettings(endpointName: string): Promise<RuntimeClientSettings>;
  /**
   * Stops servers of the endpoint that a killed deploy left running beside the current one
   * (local hosting); returns their pids. Only while no other manager deploys this endpoint.
   */
  reapOrphans?(endpointName: string): Promise<number[]>;
}

// ---------------------------------------------------------------------------------------------
// Join (decisions ⋈ rewards; SQL in common/src/join/ shared by DuckDB and Athena)

/**
 * One line of the decision log (JSON lines, written by the endpoint before it answers). Keys in
 * this order; `timestamp` is epoch seconds with a millisecond fraction; `type` is "actions" as in
 * the original's Firehose records.
 */
export interface DecisionRecord {
  event_id: string;
  action: number;
  action_prob: number;
  action_probs: number[];
  model_id: string;
  observation: number[];
  sample_prob: number;
  timestamp: number;
  type: "actions";
}

/** One line of a rewards file: `{event_id, reward}` plus an optional epoch-seconds `timestamp`. */
export interface RewardRecord {
  event_id: string;
  reward: number;
  timestamp?: number;
}

export interface JoinCounts {
  decisions: number;
  rewards: number;
  /** Decision rows dropped because the same event id was logged earlier (kept: the earliest). */
  duplicateDecisions?: number;
  /** Reward rows dropped because an earlier reward for the same event won. */
  duplicateRewards: number;
  /** Rewards whose event id has no decision (in the window). */
  unmatchedRewards: number;
  /** Decisions without a reward (dropped or given the default, see the record's policy). */
  missingRewards: number;
  train: number;
  eval: number;
  /** Lines of the decision log that could not be read (a line torn by a crash or a full disk); left out. */
  malformedDecisions?: number;
  /** Reward rows that are not a number in [min_reward, max_reward] (NaN, text, an unreadable line); left out. */
  invalidRewards?: number;
  /** Reward rows whose timestamp lies outside 2000-01-01 .. now + 1 day; left out. */
  invalidRewardTimes?: number;
  /** Rows left out because an earlier successful join of the experiment already joined their event id. */
  alreadyJoined?: number;
}

export interface JoinRequest {
  experimentId: string;
  joinJobId: string;
  /** Prefix URI of the decision log (JSON lines from the endpoint). */
  decisionsUri: string;
  /** Prefix URI of the rewards (JSON lines `{event_id, reward, [timestamp]}`). */
  rewardsUri: string;
  /** Train when `sample_prob <= ratio`, eval otherwise. */
  ratio: number;
  /** Only decisions whose timestamp lies in [start, end] (ISO strings). */
  window?: { start: string; end: string };
  missingReward: "drop" | { defaultReward: number };
  outputTrainUri: string;
  outputEvalUri: string;
  /** The possible rewards (config workflow.min_reward / max_reward); default [0, 1]. */
  rewardRange?: { minReward: number; maxReward: number };
  /** Epoch seconds a reward timestamp must lie in; default 2000-01-01 .. now + 1 day (data/time.ts). */
  rewardTimes?: { earliest: number; latest: number };
  /** Folder URIs of the event ids joined by the experiment's earlier successful joins (`ObjectLayout.joinedIdsPrefix`); their events are not joined again. */
  joinedIdsUris?: string[];
  /** Where this join writes the event ids it joined (one CSV column `event_id`); none: not written. */
  outputJoinedIdsUri?: string;
}

export interface JoinResult {
  counts: JoinCounts;
  outputTrainUri: string;
  outputEvalUri: string;
  /** Athena query execution ids; empty locally. */
  queryIds: string[];
  /** What was left out and why, one sentence each (the manager logs them). */
  warnings?: string[];
}

// ---------------------------------------------------------------------------------------------
// Metrics (the original's CloudWatch metrics: per-batch reported rewards, scores)

export interface MetricPoint {
  timestamp: string;
  value: number;
}

export interface Metrics {
  put(experimentId: string, name: string, value: number, timestamp?: string): Promise<void>;
  /** Points in time order. */
  get(experimentId: string, name: string): Promise<MetricPoint[]>;
}

// ---------------------------------------------------------------------------------------------
// The platform

export interface CleanupReport {
  endpointDeleted: boolean;
  /** Other resources removed (model objects, endpoint configs, tables, dashboards...), as text. */
  removed: string[];
  /** Objects deleted when data removal was requested. */
  objectsDeleted: number;
}

export interface Platform {
  readonly kind: "local" | "sagemaker";
  readonly objects: ObjectStore;
  readonly layout: ObjectLayout;
  readonly records: RecordStore;
  readonly jobs: JobRunner;
  readonly hosting: Hosting;
  readonly metrics: Metrics;
  /** Runs the join and writes both splits; throws before writing if a split would be empty. */
  join(request: JoinRequest): Promise<JoinResult>;
  /** Removes the experiment's serving resources (and, with `deleteData`, its objects). */
  cleanup(experimentId: string, options?: { deleteData?: boolean }): Promise<CleanupReport>;
  /** Releases clients/handles (never stops endpoints). */
  close(): Promise<void>;
  /**
   * What a billable step (a job, an endpoint) costs and what keeps billing, for the notice the
   * manager gives once before its first one. Absent where nothing is billed (local mode).
   */
  billingNotice?(): string;
}
