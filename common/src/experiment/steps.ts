/**
 * Who runs a workflow step, and whether that owner is still there. An in-progress step carries
 * its owner (host, pid, start time) on its model or join record. A step whose owner is gone (a
 * killed kernel, a crashed process) is closed as ABANDONED by the next manager, so no step stays
 * in progress forever.
 */
import * as os from "node:os";
import type { ExperimentRecord, JoinJobRecord, ModelRecord, RecordStore } from "../platform/types";
import { pidAlive, processStartTimeMs } from "../util/process";
import { modelIdOfEvaluationJob } from "./ids";

export type Workflow = "training" | "evaluation" | "hosting" | "joining";
export const WORKFLOWS: readonly Workflow[] = ["training", "evaluation", "hosting", "joining"];

export interface Owner {
  host: string;
  pid: number;
  started_at: string;
}

/**
 * Where a step was started, stored on model / join records to tell live owners from dead ones. A
 * model record keeps one owner per workflow (`owners`), since its evaluation and its deployment
 * may run at the same time; `owner` is the join record's (and older model records').
 */
export type WithOwner<T> = T & { owner?: Owner | null; owners?: Partial<Record<Workflow, Owner | null>> };

/** Sets (or clears, with null) the owner of one workflow's step on a model record. */
export function setModelOwner(r: ModelRecord, what: Workflow, owner: Owner | null): void {
  const m = r as WithOwner<ModelRecord>;
  m.owners = { ...(m.owners ?? {}), [what]: owner };
}

/** Steps running in this process (`<experiment>/<model, job or join id>`), across all managers. */
export const runningHere = new Set<string>();

export const nowIso = () => new Date().toISOString();
export const inProgress = (state: string | null | undefined) => state === "PENDING" || (state ?? "").endsWith("ING");

export function thisOwner(): Owner {
  return { host: os.hostname(), pid: process.pid, started_at: nowIso() };
}

/** The section and field names of each workflow in the experiment record. */
export const WORKFLOW_FIELDS = {
  training: { section: "training_workflow_metadata", state: "training_state", pending: "next_model_to_train_id" },
  evaluation: { section: "evaluation_workflow_metadata", state: "evaluation_state", pending: "next_evaluation_job_id" },
  hosting: { section: "hosting_workflow_metadata", state: "hosting_state", pending: "next_model_to_host_id" },
  joining: { section: "joining_workflow_metadata", state: "joining_state", pending: "next_join_job_id" },
} as const;

/** The state and pending id of a workflow. */
export function pendingStep(record: ExperimentRecord, what: Workflow): { state: string | null; pendingId: string | null } {
  const f = WORKFLOW_FIELDS[what];
  const section = record[f.section] as unknown as Record<string, string | null>;
  return { state: section[f.state], pendingId: section[f.pending] };
}

/** The owner recorded on the model or join record of an in-progress step. */
export async function ownerOf(records: RecordStore, experimentId: string, what: Workflow, pendingId: string): Promise<Owner | null> {
  if (what === "joining") {
    return ((await records.get("join_job", experimentId, pendingId))?.value as WithOwner<JoinJobRecord> | undefined)?.owner ?? null;
  }
  const modelId = what === "evaluation" ? modelIdOfEvaluationJob(pendingId) : pendingId;
  const r = (await records.get("model", experimentId, modelId))?.value as WithOwner<ModelRecord> | undefined;
  return r?.owners?.[what] ?? r?.owner ?? null;
}

/**
 * Whether the owner of a step is still there. `dead`: this process, but the step does not run
 * here; or on this host with a dead pid, or a pid now held by a process started after the step.
 * `stale`: no owner recorded (yet: a step publishes its id a moment before it records its owner,
 * so a missing owner is never proof of death), or the step is older than `staleJobMs` — the only
 * test for an owner on another host, which may still be alive (a long SageMaker job).
 * Otherwise `alive`.
 */
export function ownerStatus(owner: Owner | null, stepKey: string, staleJobMs: number): "alive" | "dead" | "stale" {
  if (runningHere.has(stepKey)) return "alive";
  if (!owner) return "stale";
  if (owner.host === os.hostname()) {
    if (owner.pid === process.pid) return runningHere.has(stepKey) ? "alive" : "dead";
    if (!pidAlive(owner.pid)) return "dead";
    const started = processStartTimeMs(owner.pid);
    if (started !== null && started > Date.parse(owner.started_at) + 1000) return "dead"; // the pid was reused
  }
  return Date.now() - Date.parse(owner.started_at) > staleJobMs ? "stale" : "alive";
}

export function abandonReason(owner: Owner | null, status: "dead" | "stale"): string {
  if (!owner) return "abandoned: no owner was recorded";
  const who = `its owner (pid ${owner.pid} on ${owner.host}, started ${owner.started_at})`;
  return status === "dead" ? `abandoned: ${who} is gone` : `abandoned: taken over after the step timed out; ${who} may still run`;
}

/** Closes an abandoned step on its model record (training or evaluation; hosting only drops the owner). */
export function abandonOnModel(r: ModelRecord, what: Workflow, pendingId: string, reason: string): void {
  const open = (s: string | null) => s === "InProgress" || s === "Pending";
  if (what === "training" && open(r.train_state)) {
    r.train_state = "Abandoned";
    r.failure_reason = reason;
    r.training_end_time = nowIso();
  }
  if (what === "evaluation" && r.evaluation_job_name === pendingId && open(r.eval_state)) r.eval_state = "Abandoned";
  setModelOwner(r, what, null);
  (r as WithOwner<ModelRecord>).owner = null;
}

export function abandonOnJoin(r: JoinJobRecord, reason: string): void {
  if (r.current_state === "PENDING" || r.current_state === "RUNNING") {
    r.current_state = "ABANDONED";
    r.failure_reason = reason;
  }
  (r as WithOwner<JoinJobRecord>).owner = null;
}
