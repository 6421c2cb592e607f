/**
 * The experiment's stored state: its record (the original's four workflow sections) and the model
 * and join records its steps update. The record store is the truth; ExperimentState caches the
 * version it last read and writes with compare-and-set on that version. A write that loses a race
 * is retried only when the section it touches was left unchanged by the other writer; otherwise
 * the caller gets `ConflictError`.
 */
import {
  ConflictError,
  type ExperimentRecord,
  type JoinJobRecord,
  type ModelRecord,
  type RecordStore,
  type Versioned,
} from "../platform/types";
import { ExperimentDeletedError, InvalidUsageError } from "./errors";

export type Workflow = "training" | "evaluation" | "hosting" | "joining";
export const WORKFLOWS: readonly Workflow[] = ["training", "evaluation", "hosting", "joining"];

/** The section and field names of each workflow in the experiment record. */
export const WORKFLOW_FIELDS = {
  training: { section: "training_workflow_metadata", state: "training_state", last: "last_trained_model_id", pending: "next_model_to_train_id" },
  evaluation: { section: "evaluation_workflow_metadata", state: "evaluation_state", last: "last_evaluation_job_id", pending: "next_evaluation_job_id" },
  hosting: { section: "hosting_workflow_metadata", state: "hosting_state", last: "last_hosted_model_id", pending: "next_model_to_host_id" },
  joining: { section: "joining_workflow_metadata", state: "joining_state", last: "last_joined_job_id", pending: "next_join_job_id" },
} as const;

export type Section = Exclude<keyof ExperimentRecord, "experiment_id">;
/** The kinds of record a step runs on, and their shapes. */
export type StepRecordKind = "model" | "join_job";
export type StepRecordOf<K extends StepRecordKind> = K extends "model" ? ModelRecord : JoinJobRecord;

/** The record of a new experiment: every workflow idle. */
export function emptyExperiment(id: string): ExperimentRecord {
  return {
    experiment_id: id,
    training_workflow_metadata: { training_state: null, last_trained_model_id: null, next_model_to_train_id: null },
    hosting_workflow_metadata: { hosting_state: null, last_hosted_model_id: null, next_model_to_host_id: null, hosting_endpoint: null },
    joining_workflow_metadata: { joining_state: null, last_joined_job_id: null, next_join_job_id: null },
    evaluation_workflow_metadata: { evaluation_state: null, last_evaluation_job_id: null, next_evaluation_job_id: null },
  };
}

export const nowIso = () => new Date().toISOString();
/** A step is in progress while its workflow state is PENDING or ends in -ING (TRAINING, RUNNING, ...). */
export const inProgress = (state: string | null | undefined) => state === "PENDING" || (state ?? "").endsWith("ING");

/** The state and pending id of a workflow. */
export function pendingStep(record: ExperimentRecord, what: Workflow): { state: string | null; pendingId: string | null } {
  const f = WORKFLOW_FIELDS[what];
  const section = record[f.section] as unknown as Record<string, string | null>;
  return { state: section[f.state], pendingId: section[f.pending] };
}

export const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/** How often a write that lost a race is re-applied before giving up. */
const RETRIES = 5;

export class ExperimentState {
  private cache: Versioned<ExperimentRecord>;
  private join: JoinJobRecord | null = null;
  private gone = false;

  private constructor(
    readonly records: RecordStore,
    readonly experimentId: string,
    record: Versioned<ExperimentRecord>,
  ) {
    this.cache = record;
  }

  /** Creates the experiment's record, or reads it when it exists (any process, any time). */
  static async open(records: RecordStore, experimentId: string): Promise<{ state: ExperimentState; created: boolean }> {
    const stored = await records.create("experiment", experimentId, experimentId, emptyExperiment(experimentId));
    const state = new ExperimentState(records, experimentId, { value: stored.value, version: stored.version });
    await state.loadLastJoin();
    return { state, created: stored.created };
  }

  /** The experiment record as last read or written (do not modify it). */
  get record(): ExperimentRecord {
    return this.cache.value;
  }

  get version(): number {
    return this.cache.version;
  }

  /** The last successful join record, or null. */
  get lastJoin(): JoinJobRecord | null {
    return this.join;
  }

  set lastJoin(record: JoinJobRecord | null) {
    this.join = record;
  }

  /** True once the experiment's records were found deleted (or deleted through this state). */
  get deleted(): boolean {
    return this.gone;
  }

  markDeleted(): void {
    this.gone = true;
    this.join = null;
  }

  checkAlive(): void {
    if (this.gone) throw new ExperimentDeletedError(this.experimentId);
  }

  /** Re-reads the experiment record (and the last join) from the store. */
  async refresh(): Promise<void> {
    this.cache = await this.readFresh();
    await this.loadLastJoin();
  }

  private async readFresh(): Promise<Versioned<ExperimentRecord>> {
    const r = await this.records.get("experiment", this.experimentId, this.experimentId);
    if (!r) {
      this.gone = true;
      throw new ExperimentDeletedError(this.experimentId);
    }
    return r;
  }

  private async loadLastJoin(): Promise<void> {
    const id = this.cache.value.joining_workflow_metadata.last_joined_job_id;
    if (!id) {
      this.join = null;
      return;
    }
    if (this.join?.join_job_id === id) return;
    const r = await this.records.get("join_job", this.experimentId, id);
    this.join = r?.value ?? null;
  }

  /**
   * Compare-and-set of one workflow section. `fn` gets the section as last read and returns the
   * new one (or throws). When another writer changed only other sections, the write is re-applied
   * to the fresh record; when it changed this section, ConflictError is thrown.
   */
  async writeSection<S extends Section>(section: S, fn: (current: ExperimentRecord[S]) => ExperimentRecord[S]): Promise<void> {
    let base = this.cache;
    const before = clone(base.value[section]);
    const after = fn(clone(before));
    for (let attempt = 0; ; attempt++) {
      const next = clone(base.value);
      next[section] = after;
      try {
        this.cache = await this.records.update("experiment", this.experimentId, this.experimentId, next, base.version);
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const fresh = await this.readFresh();
        this.cache = fresh;
        if (!same(fresh.value[section], before) || attempt >= RETRIES) {
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
  async updateRecord<K extends StepRecordKind>(kind: K, id: string, fn: (r: StepRecordOf<K>) => void): Promise<StepRecordOf<K>> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.records.get(kind, this.experimentId, id);
      if (!cur) throw new InvalidUsageError(`${kind === "model" ? "model" : "join job"} '${id}' has no record in experiment ${this.experimentId}`);
      const value = clone(cur.value) as StepRecordOf<K>;
      fn(value);
      try {
        await this.records.update(kind, this.experimentId, id, value as never, cur.version);
        return value;
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= RETRIES) throw err;
      }
    }
  }
}
