/**
 * Who runs a workflow step, and whether that owner is still there. An in-progress step carries
 * its owner (host, pid, start time) on its model or join record. A step whose owner is gone (a
 * killed kernel, a crashed process) is closed as ABANDONED by the next manager, so no step stays
 * in progress forever.
 */
import * as os from "node:os";
import type { JoinJobRecord, ModelRecord, RecordStore } from "../platform/types";
import { pidAlive, processStartId } from "../util/process";
import { modelIdOfEvaluationJob } from "./ids";
import { nowIso, type StepRecordKind, type Workflow } from "./state";

export interface Owner {
  host: string;
  pid: number;
  started_at: string;
  /**
   * The owner process's own start id (util/process.ts), as it read it for itself: a pid that now
   * has another start id was reused. Null where the platform does not say; missing on records of
   * older versions (then only a dead pid or the step's age closes the step).
   */
  process_start?: string | null;
}

/**
 * Where a step was started, stored on model / join records to tell live owners from dead ones. A
 * model record keeps one owner per workflow (`owners`), since its evaluation and its deployment
 * may run at the same time; `owner` is the join record's (and older model records').
 */
export type WithOwner<T> = T & { owner?: Owner | null; owners?: Partial<Record<Workflow, Owner | null>> };

/** The record a workflow's step runs on: the join job of a join, else the model (an evaluation job's: its model). */
export function stepRecordOf(what: Workflow, pendingId: string): { kind: StepRecordKind; id: string } {
  if (what === "joining") return { kind: "join_job", id: pendingId };
  return { kind: "model", id: what === "evaluation" ? modelIdOfEvaluationJob(pendingId) : pendingId };
}

/** Sets (or clears, with null) the owner of one workflow's step on a model record. */
function setModelOwner(r: ModelRecord, what: Workflow, owner: Owner | null): void {
  const m = r as WithOwner<ModelRecord>;
  m.owners = { ...(m.owners ?? {}), [what]: owner };
}

/** Sets (or clears, with null) the owner of a step on its record: the join record's, or the model's for that workflow. */
export function setStepOwner(r: ModelRecord | JoinJobRecord, what: Workflow, owner: Owner | null): void {
  if (what === "joining") (r as WithOwner<JoinJobRecord>).owner = owner;
  else setModelOwner(r as ModelRecord, what, owner);
}

/** Steps running in this process (`<experiment>/<model, job or join id>`), across all managers. */
export const runningHere = new Set<string>();

/** This process's start id: read once, it never changes. */
let ownStart: string | null | undefined;

export function thisOwner(): Owner {
  if (ownStart === undefined) ownStart = processStartId(process.pid);
  return { host: os.hostname(), pid: process.pid, started_at: nowIso(), process_start: ownStart };
}

/** The owner recorded on the model or join record of an in-progress step. */
export async function ownerOf(records: RecordStore, experimentId: string, what: Workflow, pendingId: string): Promise<Owner | null> {
  const { kind, id } = stepRecordOf(what, pendingId);
  if (kind === "join_job") {
    return ((await records.get("join_job", experimentId, id))?.value as WithOwner<JoinJobRecord> | undefined)?.owner ?? null;
  }
  const r = (await records.get("model", experimentId, id))?.value as WithOwner<ModelRecord> | undefined;
  return r?.owners?.[what] ?? r?.owner ?? null;
}

/**
 * Whether the owner of a step is still there. `dead` only on proof: this process, but the step
 * does not run here; or on this host with a dead pid, or a pid whose start id is not the one the
 * owner recorded for itself (the pid was reused). Nothing else proves death: the operating
 * system's start time against the recorded wall-clock time would compare two clocks, and a clock
 * stepped forward would make a live owner look younger than its step (a live manager's step
 * closed, its SageMaker job stopped). `stale`: no owner recorded (yet: a step publishes its id a
 * moment before it records its owner, so a missing owner is never proof of death), or the step is
 * older than `staleJobMs` — the only test for an owner on another host, which may still be alive
 * (a long SageMaker job). Otherwise `alive`.
 */
export function ownerStatus(owner: Owner | null, stepKey: string, staleJobMs: number): "alive" | "dead" | "stale" {
  if (runningHere.has(stepKey)) return "alive";
  if (!owner) return "stale";
  if (owner.host === os.hostname()) {
    if (owner.pid === process.pid) return runningHere.has(stepKey) ? "alive" : "dead";
    if (!pidAlive(owner.pid)) return "dead";
    if (owner.process_start) {
      const now = processStartId(owner.pid);
      if (now !== null && now !== owner.process_start) return "dead"; // the pid was reused
    }
  }
  return Date.now() - Date.parse(owner.started_at) > staleJobMs ? "stale" : "alive";
}

export function abandonReason(owner: Owner | null, status: "dead" | "stale"): string {
  if (!owner) return "abandoned: no owner was recorded";
  const who = `its owner (pid ${owner.pid} on ${owner.host}, started ${owner.started_at})`;
  return status === "dead" ? `abandoned: ${who} is gone` : `abandoned: taken over after the step timed out; ${who} may still run`;
}

/**
 * Closes an abandoned step on its record: a join job or a training as ABANDONED / Abandoned with
 * the reason, an evaluation as Abandoned (a deployment only drops its owner).
 */
export function markAbandoned(r: ModelRecord | JoinJobRecord, what: Workflow, pendingId: string, reason: string): void {
  if (what === "joining") {
    const j = r as WithOwner<JoinJobRecord>;
    if (j.current_state === "PENDING" || j.current_state === "RUNNING") {
      j.current_state = "ABANDONED";
      j.failure_reason = reason;
    }
    j.owner = null;
    return;
  }
  const m = r as WithOwner<ModelRecord>;
  const open = (s: string | null) => s === "InProgress" || s === "Pending";
  if (what === "training" && open(m.train_state)) {
    m.train_state = "Abandoned";
    m.failure_reason = reason;
    m.training_end_time = nowIso();
  }
  if (what === "evaluation" && m.evaluation_job_name === pendingId && open(m.eval_state)) m.eval_state = "Abandoned";
  setModelOwner(m, what, null);
  m.owner = null;
}
