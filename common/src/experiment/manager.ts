/**
 * ExperimentManager: the workflow API of the notebooks — the original's operations in TypeScript
 * style. One manager drives one experiment on a Platform (local by default, SageMaker when
 * `local_mode: false`). The records live in the platform's record store, so a new manager with the
 * same id (new process, kernel restart, another notebook) resumes where the last one stopped.
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
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Config } from "../config";
import { loadConfig, resolveWorkspaceDir } from "../config";
import { JOINED_CSV_HEADER, joinedCsvLine, readJoinedRecords } from "../data";
import type { JoinedRecord } from "../data/records";
import { stringifyHyperparameters } from "../container/contract";
import type { OpeEstimate } from "../ope";
import { createLocalPlatform, type JobMode } from "../platform/local";
import {
  ConflictError,
  JobFailedError,
  type EndpointDescription,
  type ExperimentRecord,
  type JoinJobRecord,
  type MetricPoint,
  type ModelRecord,
  type Platform,
  type RewardRecord,
  type Versioned,
} from "../platform/types";
import {
  checkDerivedId,
  checkEventId,
  modelIdOfEvaluationJob,
  newEvaluationJobId,
  newJoinJobId,
  newModelId,
  sortableSuffix,
  validateExperimentId,
} from "./ids";
import {
  EvalScoreNotAvailableError,
  EvaluationJobError,
  ExperimentDeletedError,
  HostingError,
  InvalidUsageError,
  JoiningError,
  TrainingJobError,
  WorkflowInProgressError,
} from "./errors";
import { Predictor } from "./predictor";
import { checkExperimentUri, checkReward, normalizeJoinedRecord, taskBounds } from "./validation";
import {
  abandonOnJoin,
  abandonOnModel,
  abandonReason,
  inProgress,
  nowIso,
  ownerStatus,
  ownerOf,
  setModelOwner,
  pendingStep,
  runningHere,
  thisOwner,
  WORKFLOW_FIELDS,
  WORKFLOWS,
  type Owner,
  type WithOwner,
  type Workflow,
} from "./steps";

export { normalizeJoinedRecord, checkExperimentUri, taskBounds, type TaskBounds } from "./validation";

/** Sentinel of the original for joins made on the client side (`ingestJoinedData`). */
export const LOCAL_JOIN_SENTINEL = "local-join-does-not-apply";
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

type Section = Exclude<keyof ExperimentRecord, "experiment_id">;

function emptyExperiment(id: string): ExperimentRecord {
  return {
    experiment_id: id,
    training_workflow_metadata: { training_state: null, last_trained_model_id: null, next_model_to_train_id: null },
    hosting_workflow_metadata: { hosting_state: null, last_hosted_model_id: null, next_model_to_host_id: null, hosting_endpoint: null },
    joining_workflow_metadata: { joining_state: null, last_joined_job_id: null, next_join_job_id: null },
    evaluation_workflow_metadata: { evaluation_state: null, last_evaluation_job_id: null, next_evaluation_job_id: null },
  };
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Why a job failed, and its logs when the platform reported a job failure (null otherwise). */
function jobFailure(err: unknown): { reason: string; logs: string | null } {
  if (err instanceof JobFailedError) return { reason: err.failureReason, logs: err.logs };
  return { reason: (err as Error)?.message ?? String(err), logs: null };
}

/** checkEventId, as an InvalidUsageError naming the record. */
function checkEventIdAt(id: string, where: string): void {
  try {
    checkEventId(id, "event_id");
  } catch (err) {
    throw new InvalidUsageError(`${where}: ${(err as Error).message}`);
  }
}

export class ExperimentManager {
  readonly experimentId: string;
  readonly config: Config;
  readonly platform: Platform;
  readonly localMode: boolean;
  private cache: Versioned<ExperimentRecord>;
  private lastJoin: JoinJobRecord | null = null;
  private readonly log: (message: string) => void;
  private readonly staleJobMs: number;
  private predictorInstance: Predictor | null = null;
  private trainingLog = "";
  private evaluationLog = "";
  private deleted = false;

  private constructor(
    config: Config,
    experimentId: string,
    platform: Platform,
    record: Versioned<ExperimentRecord>,
    options: ExperimentManagerOptions,
  ) {
    this.config = config;
    this.experimentId = experimentId;
    this.platform = platform;
    this.localMode = platform.kind === "local";
    this.cache = record;
    this.log = options.log ?? ((m) => console.log(m));
    this.staleJobMs = options.staleJobMs ?? 30 * 60 * 1000;
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
    const platform = options.platform ?? (await platformFor(cfg, options));
    const stored = await platform.records.create("experiment", id, id, emptyExperiment(id));
    const m = new ExperimentManager(cfg, id, platform, { value: stored.value, version: stored.version }, options);
    m.log(stored.created ? `created experiment ${id}` : `resumed experiment ${id} (record version ${stored.version})`);
    await m.loadLastJoin();
    await m.closeAbandonedSteps();
    return m;
  }

  // ------------------------------------------------------------------ state

  /** The experiment record in the original's `_jsonify()` shape. */
  toJSON(): ExperimentRecord {
    return clone(this.cache.value);
  }

  /** The log of this manager's last training job (also on failure, in TrainingJobError.logs). */
  get lastTrainingLog(): string {
    return this.trainingLog;
  }

  /** The log of this manager's last evaluation job. */
  get lastEvaluationLog(): string {
    return this.evaluationLog;
  }

  /** The record version this manager last saw. */
  get recordVersion(): number {
    return this.cache.version;
  }

  get lastTrainedModelId(): string | null {
    return this.cache.value.training_workflow_metadata.last_trained_model_id;
  }
  get lastHostedModelId(): string | null {
    return this.cache.value.hosting_workflow_metadata.last_hosted_model_id;
  }
  get lastJoinedJobId(): string | null {
    return this.cache.value.joining_workflow_metadata.last_joined_job_id;
  }
  get lastEvaluationJobId(): string | null {
    return this.cache.value.evaluation_workflow_metadata.last_evaluation_job_id;
  }
  /** Train-split URI of the last successful join (throws when there is none). */
  get lastJoinedJobTrainData(): string {
    return this.requireLastJoin().output_joined_train_data_s3_path;
  }
  /** Eval-split URI of the last successful join (throws when there is none). */
  get lastJoinedJobEvalData(): string {
    return this.requireLastJoin().output_joined_eval_data_s3_path;
  }
  /**
   * The holdout data: a copy of the eval split of every successful join of this experiment
   * (`<exp>/holdout/<join id>/`). Never used for training; pass it to evaluateModel to compare
   * models on all evaluation records collected so far.
   */
  get holdoutDataUri(): string {
    return this.platform.objects.uriOf(`${this.platform.layout.experimentPrefix(this.experimentId)}/holdout`);
  }

  /** The last successful join record (counts, rules, paths), or null. */
  get lastJoinRecord(): JoinJobRecord | null {
    return this.lastJoin ? clone(this.lastJoin) : null;
  }

  private requireLastJoin(): JoinJobRecord {
    if (!this.lastJoin) {
      throw new InvalidUsageError(`experiment ${this.experimentId} has no successful join yet: call ingestJoinedData(...) or join(...) first`);
    }
    return this.lastJoin;
  }

  /** Re-reads the experiment record (and the last join) from the store. */
  async refresh(): Promise<ExperimentRecord> {
    const r = await this.platform.records.get("experiment", this.experimentId, this.experimentId);
    if (!r) {
      this.deleted = true;
      throw new ExperimentDeletedError(this.experimentId);
    }
    this.cache = r;
    await this.loadLastJoin();
    return this.toJSON();
  }

  private async loadLastJoin(): Promise<void> {
    const id = this.cache.value.joining_workflow_metadata.last_joined_job_id;
    if (!id) {
      this.lastJoin = null;
      return;
    }
    if (this.lastJoin?.join_job_id === id) return;
    const r = await this.platform.records.get("join_job", this.experimentId, id);
    this.lastJoin = r?.value ?? null;
  }

  private checkAlive(): void {
    if (this.deleted) throw new ExperimentDeletedError(this.experimentId);
  }

  /**
   * Compare-and-set of one workflow section. `fn` gets the section as last read and returns the
   * new one (or throws). When another writer changed only other sections, the write is re-applied
   * to the fresh record; when it changed this section, ConflictError is thrown.
   */
  private async writeSection<S extends Section>(section: S, fn: (current: ExperimentRecord[S]) => ExperimentRecord[S]): Promise<void> {
    let base = this.cache;
    const before = clone(base.value[section]);
    const after = fn(clone(before));
    for (let attempt = 0; ; attempt++) {
      const next = clone(base.value);
      next[section] = after;
      try {
        this.cache = await this.platform.records.update("experiment", this.experimentId, this.experimentId, next, base.version);
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const fresh = await this.platform.records.get("experiment", this.experimentId, this.experimentId);
        if (!fresh) {
          this.deleted = true;
          throw new ExperimentDeletedError(this.experimentId);
        }
        this.cache = fresh;
        if (!same(fresh.value[section], before) || attempt >= 5) {
          throw new ConflictError(
            "experiment",
            this.experimentId,
            base.version,
            fresh.version,
            `the ${section.replace("_workflow_metadata", "")} workflow was changed by another manager to ${JSON.stringify(fresh.value[section])}`,
          );
        }
        base = fresh;
      }
    }
  }

  /** Read-modify-write of a model or join record with retries (field-level changes merge safely). */
  private async updateRecord<K extends "model" | "join_job">(
    kind: K,
    id: string,
    fn: (r: K extends "model" ? ModelRecord : JoinJobRecord) => void,
  ): Promise<K extends "model" ? ModelRecord : JoinJobRecord> {
    type R = K extends "model" ? ModelRecord : JoinJobRecord;
    for (let attempt = 0; ; attempt++) {
      const cur = await this.platform.records.get(kind, this.experimentId, id);
      if (!cur) throw new InvalidUsageError(`${kind === "model" ? "model" : "join job"} '${id}' has no record in experiment ${this.experimentId}`);
      const value = clone(cur.value) as R;
      fn(value);
      try {
        await this.platform.records.update(kind, this.experimentId, id, value as never, cur.version);
        return value;
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= 5) throw err;
      }
    }
  }

  private ownerOf(what: Workflow, pendingId: string): Promise<Owner | null> {
    return ownerOf(this.platform.records, this.experimentId, what, pendingId);
  }

  private ownerStatus(owner: Owner | null, pendingId: string): "alive" | "dead" | "stale" {
    return ownerStatus(owner, `${this.experimentId}/${pendingId}`, this.staleJobMs);
  }

  /**
   * Refuses to start a step while another live manager runs the same step; takes it over (closed
   * as ABANDONED) when its owner is gone or the step is older than `staleJobMs`.
   */
  private async guardInProgress(what: Workflow, state: string | null, pendingId: string | null): Promise<void> {
    if (!inProgress(state) || !pendingId) return;
    const owner = await this.ownerOf(what, pendingId);
    const status = this.ownerStatus(owner, pendingId);
    if (status !== "alive") {
      await this.abandonStep(what, pendingId, owner, status);
      return;
    }
    throw new WorkflowInProgressError(
      `${what} '${pendingId}' is in progress (state ${state}, started ${owner?.started_at} by pid ${owner?.pid} on ${owner?.host}); ` +
        `wait for it to finish and call again`,
    );
  }

  /**
   * On load: closes as ABANDONED every in-progress step whose owner is provably dead (a killed
   * kernel's steps). A merely old step is left to the owner, which may still run elsewhere.
   */
  private async closeAbandonedSteps(): Promise<void> {
    for (const what of WORKFLOWS) {
      const { state, pendingId } = pendingStep(this.cache.value, what);
      if (!inProgress(state) || !pendingId) continue;
      const owner = await this.ownerOf(what, pendingId);
      if (this.ownerStatus(owner, pendingId) === "dead") await this.abandonStep(what, pendingId, owner, "dead");
    }
  }

  /** Marks a step as abandoned, on its model or join record and in the workflow state. */
  private async abandonStep(what: Workflow, pendingId: string, owner: Owner | null, status: "dead" | "stale"): Promise<void> {
    const reason = abandonReason(owner, status);
    this.log(`taking over: the ${what} step '${pendingId}' was ${reason}`);
    const closing =
      what === "joining"
        ? this.updateRecord("join_job", pendingId, (r) => abandonOnJoin(r, reason))
        : this.updateRecord("model", what === "evaluation" ? modelIdOfEvaluationJob(pendingId) : pendingId, (r) => abandonOnModel(r, what, pendingId, reason));
    await closing.catch(() => undefined); // a record that is gone needs no closing
    // A job whose owner is dead runs for no one (SageMaker: it bills): stop it. A stale owner may still wait for it.
    if (status === "dead" && (what === "training" || what === "evaluation") && this.platform.jobs.stop) {
      await this.platform.jobs.stop(pendingId).catch((err) => this.log(`could not stop the abandoned job ${pendingId}: ${(err as Error).message}`));
    }
    const f = WORKFLOW_FIELDS[what];
    // Unless another manager moved the workflow on meanwhile (then it took over first).
    await this.writeSection(f.section, (x) => {
      const fields = x as unknown as Record<string, string | null>;
      return inProgress(fields[f.state]) && fields[f.pending] === pendingId ? ({ ...x, [f.state]: "ABANDONED" } as typeof x) : x;
    }).catch((err) => {
      if (!(err instanceof ConflictError)) throw err;
    });
  }

  private readonly busy = new Set<string>();
  /**
   * Runs one workflow step: refuses a second concurrent step of the same kind on this manager,
   * re-reads the record first, and lets the step `claim` the id it marks as pending, so other
   * managers in this process know that step is alive.
   */
  private async step<T>(what: Workflow, fn: (claim: (id: string) => void) => Promise<T>): Promise<T> {
    this.checkAlive();
    if (this.busy.has(what)) throw new WorkflowInProgressError(`this manager is already running a ${what} step; await it first`);
    this.busy.add(what);
    const claimed: string[] = [];
    const claim = (id: string) => {
      const key = `${this.experimentId}/${id}`;
      runningHere.add(key);
      claimed.push(key);
    };
    try {
      await this.refresh();
      return await fn(claim);
    } finally {
      this.busy.delete(what);
      for (const key of claimed) runningHere.delete(key);
    }
  }

  // ------------------------------------------------------------------ data in

  /**
   * The client-side join (the original's "dummy" join): records already joined with their
   * rewards, in the original's shape, are split by `sample_prob <= ratio` and stored as a join
   * job's train and eval CSVs. Both splits must be non-empty.
   */
  async ingestJoinedData(records: readonly unknown[], ratio: number = this.config.workflow.join_ratio): Promise<JoinJobRecord> {
    if (!Array.isArray(records) || records.length === 0) throw new InvalidUsageError("ingestJoinedData needs a non-empty array of joined records");
    if (!(ratio > 0 && ratio < 1)) throw new InvalidUsageError(`ratio must be in (0, 1), got ${ratio}`);
    const bounds = taskBounds(this.config);
    const rows = records.map((r, i) => {
      const row = normalizeJoinedRecord(r, i, bounds);
      checkEventIdAt(row.event_id, `joined record ${i}`);
      return row;
    });
    const train = rows.filter((r) => r.sample_prob <= ratio);
    const evalRows = rows.filter((r) => r.sample_prob > ratio);
    if (train.length === 0 || evalRows.length === 0) {
      throw new JoiningError(
        `the ${train.length === 0 ? "train" : "eval"} split of ${rows.length} records would be empty with ratio ${ratio} ` +
          `(train ${train.length}, eval ${evalRows.length}); give more records or another ratio`,
      );
    }
    return this.step("joining", async (claim) => {
      const jm = this.cache.value.joining_workflow_metadata;
      await this.guardInProgress("joining", jm.joining_state, jm.next_join_job_id);
      const joinJobId = newJoinJobId(this.experimentId);
      const { output_joined_train_data_s3_path: trainUri, output_joined_eval_data_s3_path: evalUri } = await this.openJoinJob(joinJobId, claim, {
        current_state: "PENDING",
        input_obs_data_s3_path: LOCAL_JOIN_SENTINEL,
        obs_start_time: null,
        obs_end_time: null,
        input_reward_data_s3_path: LOCAL_JOIN_SENTINEL,
        ratio,
        missing_reward_policy: "drop",
        duplicate_reward_rule: "none: records arrive already joined (split on their sample_prob <= ratio)",
      });
      const stamp = sortableSuffix();
      try {
        const csv = (rs: JoinedRecord[]) => [JOINED_CSV_HEADER, ...rs.map(joinedCsvLine)].join("\n") + "\n";
        await this.platform.objects.put(`${trainUri}/local-joined-data-${stamp}.csv`, csv(train));
        await this.platform.objects.put(`${evalUri}/local-joined-data-${stamp}.csv`, csv(evalRows));
      } catch (err) {
        await this.failJoin(joinJobId, err);
        throw new JoiningError(`storing the joined data of ${joinJobId} failed: ${(err as Error).message}`, { cause: err });
      }
      const counts = {
        decisions: rows.length,
        rewards: rows.length,
        duplicateRewards: 0,
        unmatchedRewards: 0,
        missingRewards: 0,
        train: train.length,
        eval: evalRows.length,
      };
      return this.finishJoin(joinJobId, counts, []);
    });
  }

  /**
   * Creates a join job's record, with the output URIs of its train and eval splits, and marks the
   * experiment's join PENDING on it.
   */
  private async openJoinJob(
    joinJobId: string,
    claim: (id: string) => void,
    inputs: Pick<
      JoinJobRecord,
      | "current_state"
      | "input_obs_data_s3_path"
      | "obs_start_time"
      | "obs_end_time"
      | "input_reward_data_s3_path"
      | "ratio"
      | "missing_reward_policy"
      | "duplicate_reward_rule"
    >,
  ): Promise<JoinJobRecord> {
    const splitUri = (split: "train" | "eval") => this.platform.objects.uriOf(this.platform.layout.joinedPrefix(this.experimentId, joinJobId, split));
    const record: WithOwner<JoinJobRecord> = {
      experiment_id: this.experimentId,
      join_job_id: joinJobId,
      current_state: inputs.current_state,
      input_obs_data_s3_path: inputs.input_obs_data_s3_path,
      obs_start_time: inputs.obs_start_time,
      obs_end_time: inputs.obs_end_time,
      input_reward_data_s3_path: inputs.input_reward_data_s3_path,
      output_joined_train_data_s3_path: splitUri("train"),
      output_joined_eval_data_s3_path: splitUri("eval"),
      join_query_ids: [],
      ratio: inputs.ratio,
      missing_reward_policy: inputs.missing_reward_policy,
      duplicate_reward_rule: inputs.duplicate_reward_rule,
      counts: null,
      failure_reason: null,
      owner: thisOwner(),
    };
    claim(joinJobId);
    await this.writeSection("joining_workflow_metadata", (s) => ({ ...s, joining_state: inputs.current_state, next_join_job_id: joinJobId }));
    await this.platform.records.create("join_job", this.experimentId, joinJobId, record);
    return record;
  }

  private async finishJoin(joinJobId: string, counts: JoinJobRecord["counts"], queryIds: string[]): Promise<JoinJobRecord> {
    // Keep a copy of the eval split in the holdout folder: the union of every join's eval split,
    // never used for training, so models can be compared on more than one batch's records.
    const evalUri = this.platform.objects.uriOf(this.platform.layout.joinedPrefix(this.experimentId, joinJobId, "eval"));
    for (const o of await this.platform.objects.list(evalUri)) {
      const name = o.key.slice(o.key.lastIndexOf("/") + 1);
      await this.platform.objects.put(`${this.holdoutDataUri}/${joinJobId}/${name}`, await this.platform.objects.get(o.uri));
    }
    const rec = await this.updateRecord("join_job", joinJobId, (r) => {
      r.current_state = "SUCCEEDED";
      r.counts = counts;
      r.join_query_ids = queryIds;
    });
    await this.writeSection("joining_workflow_metadata", () => ({
      joining_state: "SUCCEEDED",
      last_joined_job_id: joinJobId,
      next_join_job_id: null,
    }));
    this.lastJoin = rec;
    this.log(`join ${joinJobId}: ${counts?.train} train / ${counts?.eval} eval records`);
    return clone(rec);
  }

  private async failJoin(joinJobId: string, err: unknown): Promise<void> {
    await this.updateRecord("join_job", joinJobId, (r) => {
      r.current_state = "FAILED";
      r.failure_reason = (err as Error)?.message ?? String(err);
      const c = (err as { counts?: JoinJobRecord["counts"] }).counts;
      if (c) r.counts = c;
    }).catch(() => undefined);
    await this.writeSection("joining_workflow_metadata", (s) => ({ ...s, joining_state: "FAILED" })).catch(() => undefined);
  }

  /**
   * Stores rewards (`{event_id, reward}` per decision, e.g. the sim app's rewardsBuffer) as JSON
   * lines and returns the folder URI to pass to `join`. Each reward is stamped with the time it
   * was reported (kept if given), so "the earliest reward wins" is well defined.
   */
  async ingestRewards(rewards: readonly RewardRecord[]): Promise<string> {
    this.checkAlive();
    if (!Array.isArray(rewards) || rewards.length === 0) throw new InvalidUsageError("ingestRewards needs a non-empty array of {event_id, reward}");
    const base = Date.now() / 1000;
    const bounds = taskBounds(this.config);
    const lines = rewards.map((r, i) => {
      if (r === null || typeof r !== "object") throw new InvalidUsageError(`reward ${i} must be an object {event_id, reward}`);
      if (r.event_id === undefined || r.event_id === null || r.event_id === "") throw new InvalidUsageError(`reward ${i}: field 'event_id' is missing`);
      checkEventIdAt(String(r.event_id), `reward ${i}`);
      if (typeof r.reward !== "number" || !Number.isFinite(r.reward)) {
        throw new InvalidUsageError(`reward ${i}: field 'reward' must be a finite number, got ${JSON.stringify(r.reward)}`);
      }
      checkReward(r.reward, bounds, `reward ${i}`);
      const ts = r.timestamp ?? base + i * 1e-6;
      if (typeof ts !== "number" || !Number.isFinite(ts)) throw new InvalidUsageError(`reward ${i}: field 'timestamp' must be epoch seconds`);
      return JSON.stringify({ event_id: String(r.event_id), reward: r.reward, timestamp: ts });
    });
    const batch = `${this.experimentId}-${sortableSuffix()}`;
    const folder = this.platform.objects.uriOf(this.platform.layout.rewardsPrefix(this.experimentId, batch));
    await this.platform.objects.put(`${folder}/rewards-${batch.slice(this.experimentId.length + 1)}.jsonl`, lines.join("\n") + "\n");
    return folder;
  }

  /**
   * Joins the decision log with the rewards under `rewardsUri` by event id (SQL: DuckDB locally,
   * Athena on AWS), splits by the event-id hash and stores both splits as a join job.
   * `obsTimeWindow` (hours) keeps only decisions of the last hours; `defaultReward` (default:
   * config `workflow.default_reward`) gives decisions without a reward that reward (needs a
   * window) instead of leaving them out.
   */
  async join(
    rewardsUri: string,
    options: { ratio?: number; obsTimeWindow?: number; defaultReward?: number | null } = {},
  ): Promise<JoinJobRecord> {
    const ratio = options.ratio ?? this.config.workflow.join_ratio;
    if (!(ratio > 0 && ratio < 1)) throw new InvalidUsageError(`ratio must be in (0, 1), got ${ratio}`);
    if (options.obsTimeWindow !== undefined && !(options.obsTimeWindow > 0)) {
      throw new InvalidUsageError(`obsTimeWindow must be a positive number of hours, got ${options.obsTimeWindow}`);
    }
    rewardsUri = this.checkUri(rewardsUri, "rewardsUri");
    return this.step("joining", async (claim) => {
      const jm = this.cache.value.joining_workflow_metadata;
      await this.guardInProgress("joining", jm.joining_state, jm.next_join_job_id);
      const joinJobId = newJoinJobId(this.experimentId);
      const end = new Date();
      const window = options.obsTimeWindow
        ? { start: new Date(end.getTime() - options.obsTimeWindow * 3600_000).toISOString(), end: end.toISOString() }
        : undefined;
      if (!window) this.log("join: no obsTimeWindow given, all logged decisions are joined");
      const defaultReward = options.defaultReward !== undefined ? options.defaultReward : this.config.workflow.default_reward;
      const missing = defaultReward == null ? ("drop" as const) : { defaultReward };
      const decisionsUri = this.platform.objects.uriOf(this.platform.layout.decisionLogPrefix(this.experimentId));
      const { DUPLICATE_REWARD_RULE } = await import("../join/sql");
      const { output_joined_train_data_s3_path: trainUri, output_joined_eval_data_s3_path: evalUri } = await this.openJoinJob(joinJobId, claim, {
        current_state: "RUNNING",
        input_obs_data_s3_path: decisionsUri,
        obs_start_time: window?.start ?? null,
        obs_end_time: window?.end ?? null,
        input_reward_data_s3_path: rewardsUri,
        ratio,
        missing_reward_policy: missing === "drop" ? "drop" : { default_reward: missing.defaultReward },
        duplicate_reward_rule: DUPLICATE_REWARD_RULE,
      });
      try {
        const result = await this.platform.join({
          experimentId: this.experimentId,
          joinJobId,
          decisionsUri,
          rewardsUri,
          ratio,
          window,
          missingReward: missing,
          outputTrainUri: trainUri,
          outputEvalUri: evalUri,
        });
        return await this.finishJoin(joinJobId, result.counts, result.queryIds);
      } catch (err) {
        await this.failJoin(joinJobId, err);
        throw new JoiningError(`join ${joinJobId} failed: ${(err as Error).message}`, { cause: err });
      }
    });
  }

  // ------------------------------------------------------------------ training

  private hyperparameters(extra: Record<string, unknown>): Record<string, string> {
    const { min_reward, max_reward } = this.config.workflow;
    return stringifyHyperparameters({ ...this.config.algor.algorithms_parameters, seed: this.config.seed, min_reward, max_reward, ...extra });
  }

  /** The first model: trained on `inputDataUri` (e.g. warm-start data) or, without data, a fresh uniform-exploring model. */
  async initializeFirstModel(options: { inputDataUri?: string } = {}): Promise<ModelRecord> {
    return this.train(() => options.inputDataUri ?? null, () => null);
  }

  /**
   * The next model: learns from `inputDataUri` (default: the last join's train split), continuing
   * from `inputModelId` (default: the last trained model).
   */
  async trainNextModel(options: { inputDataUri?: string; inputModelId?: string } = {}): Promise<ModelRecord> {
    return this.train(
      () => options.inputDataUri ?? this.lastJoinedJobTrainData,
      () => {
        const parent = options.inputModelId ?? this.lastTrainedModelId;
        if (!parent) throw new InvalidUsageError("there is no trained model to continue from: call initializeFirstModel() first");
        return parent;
      },
    );
  }

  /** Resolvers run after the record was re-read, so defaults come from the latest state. */
  private async train(dataOf: () => string | null, parentOf: () => string | null): Promise<ModelRecord> {
    return this.step("training", async (claim) => {
      const given = dataOf();
      const dataUri = given === null ? null : this.checkUri(given, "inputDataUri");
      const parentModelId = parentOf();
      const parentUri = parentModelId ? ((await this.requireReadyModel(parentModelId)).s3_model_output_path as string) : undefined;
      const tm = this.cache.value.training_workflow_metadata;
      await this.guardInProgress("training", tm.training_state, tm.next_model_to_train_id);
      const modelId = newModelId(this.experimentId);
      const artifactUri = this.platform.objects.uriOf(this.platform.layout.modelArtifactPrefix(this.experimentId, modelId));
      claim(modelId);
      await this.writeSection("training_workflow_metadata", (s) => ({ ...s, training_state: "PENDING", next_model_to_train_id: modelId }));
      const record: WithOwner<ModelRecord> = {
        experiment_id: this.experimentId,
        model_id: modelId,
        train_state: "InProgress",
        evaluation_job_name: null,
        eval_state: null,
        eval_scores: {},
        input_model_id: parentModelId,
        input_data_s3_prefix: dataUri,
        eval_data_s3_path: null,
        s3_model_output_path: null,
        training_start_time: nowIso(),
        training_end_time: null,
        failure_reason: null,
        owners: { training: thisOwner() },
      };
      const created = await this.platform.records.create("model", this.experimentId, modelId, record);
      if (!created.created) throw new ConflictError("model", modelId, null, created.version, "a model with this id already exists");
      await this.writeSection("training_workflow_metadata", (s) => ({ ...s, training_state: "TRAINING" }));
      try {
        const result = await this.platform.jobs.runTraining({
          experimentId: this.experimentId,
          jobName: modelId,
          hyperparameters: this.hyperparameters({ model_id: modelId, ...(parentModelId ? { parent_model_id: parentModelId } : {}) }),
          ...(dataUri ? { trainingDataUri: dataUri } : {}),
          ...(parentUri ? { pretrainedModelUri: parentUri } : {}),
          outputUri: artifactUri,
        });
        this.trainingLog = result.logs;
        const done = await this.updateRecord("model", modelId, (r) => {
          r.train_state = "Completed";
          r.s3_model_output_path = result.modelArtifactUri;
          r.training_end_time = result.endTime;
          setModelOwner(r, "training", null);
        });
        await this.writeSection("training_workflow_metadata", () => ({
          training_state: "TRAINED",
          last_trained_model_id: modelId,
          next_model_to_train_id: null,
        }));
        this.log(`trained ${modelId}${parentModelId ? ` (from ${parentModelId})` : ""}: ${result.logs.split("\n").filter((l) => l.startsWith("Model learned")).join(" ")}`);
        return done;
      } catch (err) {
        const { reason, logs } = jobFailure(err);
        this.trainingLog = logs ?? reason;
        await this.updateRecord("model", modelId, (r) => {
          r.train_state = "Failed";
          r.failure_reason = reason;
          r.training_end_time = nowIso();
          setModelOwner(r, "training", null);
        }).catch(() => undefined);
        await this.writeSection("training_workflow_metadata", (s) => ({ ...s, training_state: "FAILED" })).catch(() => undefined);
        throw new TrainingJobError(`training job ${modelId} failed: ${reason}`, logs ?? "", { cause: err });
      }
    });
  }

  /** The model record, if training completed with an artifact; else InvalidUsageError naming why. */
  private async requireReadyModel(modelId: string): Promise<ModelRecord> {
    checkDerivedId(modelId, this.experimentId, "model id");
    const r = await this.platform.records.get("model", this.experimentId, modelId);
    if (!r) throw new InvalidUsageError(`model '${modelId}' does not exist in experiment ${this.experimentId}`);
    if (r.value.train_state !== "Completed" || !r.value.s3_model_output_path) {
      throw new InvalidUsageError(`model '${modelId}' is not ready (training state ${r.value.train_state ?? "none"}${r.value.failure_reason ? `: ${r.value.failure_reason}` : ""})`);
    }
    // The record's artifact URI is input too (records can be edited): it must be this experiment's.
    return { ...r.value, s3_model_output_path: this.checkUri(r.value.s3_model_output_path, `the artifact URI of model ${modelId}`) };
  }

  /** The URI normalised, if it lies under this experiment's prefix; else InvalidUsageError naming `option`. */
  private checkUri(uri: string, option: string): string {
    return checkExperimentUri(this.platform.objects, this.platform.layout.experimentPrefix(this.experimentId), uri, option);
  }

  async getModelRecord(modelId: string): Promise<ModelRecord> {
    checkDerivedId(modelId, this.experimentId, "model id");
    const r = await this.platform.records.get("model", this.experimentId, modelId);
    if (!r) throw new InvalidUsageError(`model '${modelId}' does not exist in experiment ${this.experimentId}`);
    return r.value;
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
    return this.step("evaluation", async (claim) => {
      const modelId = options.modelId ?? this.lastTrainedModelId;
      if (!modelId) throw new InvalidUsageError("there is no trained model to evaluate: train one or pass modelId");
      const dataUri = this.checkUri(options.inputDataUri ?? this.lastJoinedJobEvalData, "inputDataUri");
      const model = await this.requireReadyModel(modelId);
      const em = this.cache.value.evaluation_workflow_metadata;
      await this.guardInProgress("evaluation", em.evaluation_state, em.next_evaluation_job_id);
      const jobId = newEvaluationJobId(modelId);
      claim(jobId);
      await this.updateRecord("model", modelId, (r) => {
        r.evaluation_job_name = jobId;
        r.eval_state = "InProgress";
        setModelOwner(r, "evaluation", thisOwner());
      });
      await this.writeSection("evaluation_workflow_metadata", (s) => ({ ...s, evaluation_state: "EVALUATING", next_evaluation_job_id: jobId }));
      try {
        const result = await this.platform.jobs.runEvaluation({
          experimentId: this.experimentId,
          jobName: jobId,
          hyperparameters: this.hyperparameters({ model_id: modelId }),
          evaluationDataUri: dataUri,
          modelUri: model.s3_model_output_path as string,
          outputUri: this.platform.objects.uriOf(this.platform.layout.evaluationJobPrefix(this.experimentId, jobId)),
        });
        this.evaluationLog = result.logs;
        await this.updateRecord("model", modelId, (r) => {
          r.eval_state = "Completed";
          r.eval_scores[dataUri] = result.score;
          r.eval_data_s3_path = dataUri;
          setModelOwner(r, "evaluation", null);
        });
        await this.writeSection("evaluation_workflow_metadata", () => ({
          evaluation_state: "EVALUATED",
          last_evaluation_job_id: jobId,
          next_evaluation_job_id: null,
        }));
        const s = result.score;
        this.log(`evaluated ${modelId}: ${s.estimator} cost ${s.value.toFixed(4)} [${s.ci.lower.toFixed(4)}, ${s.ci.upper.toFixed(4)}] on ${s.n} records`);
        return s;
      } catch (err) {
        const { reason, logs } = jobFailure(err);
        this.evaluationLog = logs ?? reason;
        await this.updateRecord("model", modelId, (r) => {
          r.eval_state = "Failed";
          setModelOwner(r, "evaluation", null);
        }).catch(() => undefined);
        await this.writeSection("evaluation_workflow_metadata", (s) => ({ ...s, evaluation_state: "FAILED" })).catch(() => undefined);
        throw new EvaluationJobError(`evaluation job ${jobId} failed: ${reason}`, logs ?? "", { cause: err });
      }
    });
  }

  /** The stored score of a model (default: last trained) on data (default: last join's eval split). */
  async getEvalScore(options: { modelId?: string; evalDataUri?: string } = {}): Promise<OpeEstimate> {
    await this.refresh();
    const modelId = options.modelId ?? this.lastTrainedModelId;
    if (!modelId) throw new InvalidUsageError("there is no trained model: pass modelId");
    const dataUri = this.checkUri(options.evalDataUri ?? this.lastJoinedJobEvalData, "evalDataUri");
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
    return this.step("hosting", async (claim) => {
      const model = await this.requireReadyModel(modelId);
      const hm = this.cache.value.hosting_workflow_metadata;
      await this.guardInProgress("hosting", hm.hosting_state, hm.next_model_to_host_id);
      const running = await this.platform.hosting.describe(this.experimentId);
      if (running && running.modelId === modelId && hm.hosting_state === "DEPLOYED" && hm.last_hosted_model_id === modelId) {
        this.log(`model ${modelId} is already hosted at ${running.url}`);
        return running;
      }
      claim(modelId);
      await this.updateRecord("model", modelId, (r) => setModelOwner(r, "hosting", thisOwner()));
      await this.writeSection("hosting_workflow_metadata", (s) => ({ ...s, hosting_state: running ? "DEPLOYING" : "PENDING", next_model_to_host_id: modelId }));
      try {
        const d = await this.platform.hosting.deploy({
          experimentId: this.experimentId,
          endpointName: this.experimentId,
          modelId,
          modelArtifactUri: model.s3_model_output_path as string,
          seed: this.config.seed,
          softDeployment: this.config.soft_deployment,
          limits: {
            maxDecisionsPerRequest: this.config.endpoint.max_decisions_per_request,
            requestTimeoutSeconds: this.config.endpoint.request_timeout_seconds,
          },
        });
        if (d.modelId !== modelId) throw new Error(`the endpoint reports model ${d.modelId} after deploying ${modelId}`);
        await this.updateRecord("model", modelId, (r) => setModelOwner(r, "hosting", null));
        await this.writeSection("hosting_workflow_metadata", () => ({
          hosting_state: "DEPLOYED",
          last_hosted_model_id: modelId,
          next_model_to_host_id: null,
          hosting_endpoint: d.arn,
        }));
        // The predictor is kept: a hot swap keeps the URL, and a moved endpoint is found again.
        this.log(`deployed ${modelId} at ${d.url}`);
        return d;
      } catch (err) {
        await this.writeSection("hosting_workflow_metadata", (s) => ({ ...s, hosting_state: "FAILED" })).catch(() => undefined);
        throw new HostingError(`deploying ${modelId} failed: ${(err as Error).message}`, { cause: err });
      }
    });
  }

  /** Describes the running endpoint (null when none runs). */
  async describeEndpoint(): Promise<EndpointDescription | null> {
    return this.platform.hosting.describe(this.experimentId);
  }

  /** The client of the experiment's endpoint (SageMaker Runtime InvokeEndpoint in both modes). */
  get predictor(): Predictor {
    this.checkAlive();
    if (!this.cache.value.hosting_workflow_metadata.hosting_endpoint) {
      throw new InvalidUsageError(`experiment ${this.experimentId} has no endpoint: call deployModel({modelId}) first`);
    }
    if (!this.predictorInstance) this.predictorInstance = new Predictor(this.platform.hosting, this.experimentId);
    return this.predictorInstance;
  }

  // ------------------------------------------------------------------ metrics

  /** Publishes the mean reward of a batch (the original's `publish_rewards_for_simulation`). */
  async publishRewards(meanReward: number, timestamp?: string): Promise<void> {
    this.checkAlive();
    await this.platform.metrics.put(this.experimentId, REWARDS_METRIC, meanReward, timestamp);
  }

  /** The published per-batch mean rewards, oldest first. */
  async getPublishedRewards(): Promise<MetricPoint[]> {
    return this.platform.metrics.get(this.experimentId, REWARDS_METRIC);
  }

  // ------------------------------------------------------------------ historical data

  /** Copies joined data (default: the last join's eval split) into a local folder; returns the folder. */
  async downloadHistoricalData(options: { dataUri?: string; localDir?: string } = {}): Promise<string> {
    const uri = this.checkUri(options.dataUri ?? this.lastJoinedJobEvalData, "dataUri");
    const dir =
      options.localDir ??
      path.join(this.localMode ? resolveWorkspaceDir(this.config) : os.tmpdir(), "downloads", this.experimentId, sortableSuffix());
    const files = await this.platform.objects.download(uri, dir);
    if (files.length === 0) throw new InvalidUsageError(`no data under ${uri}`);
    return dir;
  }

  /** The baseline cost of logged data (1 − mean reward) from a local file/folder or a data URI. */
  async evaluateHistoricalData(pathOrUri: string): Promise<{ cost: number; n: number }> {
    const bucketRoot = this.localMode ? fileURLToPath(this.platform.objects.uriOf("")) : null;
    const resolved = typeof pathOrUri === "string" && !/^[a-z0-9]+:\/\//i.test(pathOrUri) ? path.resolve(pathOrUri) : null;
    // A plain path into the local bucket is checked like its URI: this experiment's data only.
    if (bucketRoot && resolved && (resolved + path.sep).startsWith(bucketRoot + path.sep)) pathOrUri = pathToFileURL(resolved).href;
    const isUri = /^[a-z0-9]+:\/\//i.test(pathOrUri);
    // A URI is checked, then read through a temporary copy, removed afterwards (also on failure).
    const dataUri = isUri ? this.checkUri(pathOrUri, "dataUri") : null;
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
   * left on this machine (local: endpoint log, failed or killed job folders; downloads, reports);
   * refused while a live process runs one of its steps.
   */
  async cleanResource(options: { deleteData?: boolean } = {}): Promise<{ endpointDeleted: boolean; removed: string[] }> {
    if (options.deleteData) await this.refuseWhileStepsRun();
    this.predictorInstance?.close();
    this.predictorInstance = null;
    const report = await this.platform.cleanup(this.experimentId, options);
    if (options.deleteData) report.removed.push(...this.removeLocalCopies());
    if (!this.deleted) {
      await this.refresh().catch(() => undefined);
      if (!this.deleted && this.cache.value.hosting_workflow_metadata.hosting_endpoint) {
        await this.writeSection("hosting_workflow_metadata", (s) => ({ ...s, hosting_state: null, next_model_to_host_id: null, hosting_endpoint: null }));
      }
    }
    this.log(`cleaned up ${this.experimentId}: ${report.removed.join(", ") || "nothing was running"}`);
    return { endpointDeleted: report.endpointDeleted, removed: report.removed };
  }

  /** Deleting the data under a running job would break it: refuse while a live owner runs a step. */
  private async refuseWhileStepsRun(): Promise<void> {
    if (this.deleted) return;
    await this.refresh().catch(() => undefined);
    if (this.deleted) return;
    for (const what of WORKFLOWS) {
      const { state, pendingId } = pendingStep(this.cache.value, what);
      if (!inProgress(state) || !pendingId) continue;
      const owner = await this.ownerOf(what, pendingId);
      if (this.ownerStatus(owner, pendingId) === "alive") {
        throw new WorkflowInProgressError(
          `cleanResource({deleteData: true}) would delete the data of ${what} '${pendingId}', which is running (pid ${owner?.pid} on ${owner?.host}); ` +
            `wait for it to finish (or stop that process) and call again`,
        );
      }
    }
  }

  /** The experiment's downloads (downloadHistoricalData) and reports (npm start) on this machine. */
  private removeLocalCopies(): string[] {
    const workspace = resolveWorkspaceDir(this.config);
    const paths = [
      path.join(workspace, "downloads", this.experimentId),
      path.join(os.tmpdir(), "downloads", this.experimentId),
      path.join(workspace, "reports", `${this.experimentId}.html`),
    ];
    const removed = paths.filter((p) => fs.existsSync(p));
    for (const p of removed) fs.rmSync(p, { recursive: true, force: true });
    return removed;
  }

  /** Deletes every record of the experiment (experiment, models, join jobs, metrics). */
  async cleanTableRecords(): Promise<{ experiments: number; models: number; joinJobs: number }> {
    const counts = await this.platform.records.deleteExperiment(this.experimentId);
    this.deleted = true;
    this.lastJoin = null;
    return counts;
  }

  /** Releases this manager's connections (never stops the endpoint). */
  async close(): Promise<void> {
    this.predictorInstance?.close();
    this.predictorInstance = null;
    await this.platform.close();
  }
}

/** The platform a config selects: local (default) or SageMaker (`local_mode: false`). */
async function platformFor(config: Config, options: ExperimentManagerOptions): Promise<Platform> {
  if (config.local_mode) {
    const workspace = resolveWorkspaceDir(config);
    fs.mkdirSync(workspace, { recursive: true });
    return createLocalPlatform({ workspace, jobMode: options.jobMode });
  }
  // Loaded lazily so local mode never loads the AWS control-plane clients.
  let mod: { createSageMakerPlatform?: (c: Config) => Platform | Promise<Platform> };
  try {
    // A computed path: the SageMaker platform is built separately and may be absent from a build.
    const modulePath = path.join(__dirname, "..", "platform", "sagemaker");
    mod = require(modulePath) as typeof mod;
  } catch (err) {
    throw new Error(`local_mode is false but the SageMaker platform cannot be loaded: ${(err as Error).message}`);
  }
  if (typeof mod.createSageMakerPlatform !== "function") {
    throw new Error("local_mode is false but common/src/platform/sagemaker does not export createSageMakerPlatform(config)");
  }
  return mod.createSageMakerPlatform(config);
}
