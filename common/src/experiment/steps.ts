/**
 * The step engine. Training, evaluation, deployment and joins are steps of one shape, and
 * runStep owns that shape; a workflow only says what differs (workflows/*.ts):
 *
 *   1. one step per workflow at a time on this manager; re-read the experiment record; close the
 *      steps of dead owners and match the hosting records to what runs (reconcile.ts);
 *   2. the workflow resolves its inputs from the fresh record (it may find nothing to do);
 *   3. refuse while another live manager runs a step of the workflow, or take over a step whose
 *      owner is gone (closed as ABANDONED);
 *   4. claim the step's id and publish it as pending with the open state: a new record (model,
 *      join job) is created with its owner after the id is published; an existing model record
 *      gets its owner before;
 *   5. the platform call;
 *   6. success: the record's new fields, the owner cleared, the final workflow state with the
 *      id as the last one; failure: the record's failure fields, the owner cleared, the workflow
 *      FAILED, and the workflow's typed error with the cause and the job's logs.
 */
import { ConflictError, JobFailedError, type JoinJobRecord, type ModelRecord } from "../platform/types";
import type { StepContext } from "./context";
import { WorkflowInProgressError } from "./errors";
import { abandonReason, markAbandoned, ownerOf, ownerStatus, runningHere, setStepOwner, stepRecordOf, thisOwner, type Owner } from "./owners";
import { reconcileHosting } from "./reconcile";
import { inProgress, pendingStep, WORKFLOW_FIELDS, WORKFLOWS, type Workflow } from "./state";

type StepRecord = ModelRecord | JoinJobRecord;
/** The record a workflow's step runs on: a join job for joins, else a model. */
export type RecordOf<W extends Workflow> = W extends "joining" ? JoinJobRecord : ModelRecord;

/** Why a step failed: the job's failure reason (or the error's message), its logs (jobs only), the error. */
export interface StepFailure {
  reason: string;
  logs: string | null;
  cause: unknown;
}

export interface Step<W extends Workflow, Result, Value> {
  /** The id published as the workflow's pending step: the new model, the evaluation job, the model to host, the join job. */
  id: string;
  /** A new record to create (a model to train, a join job), or the changes to the existing model record it runs on. */
  record: { create: () => RecordOf<W> } | { update: (r: RecordOf<W>) => void };
  /**
   * Whether the platform call may bill (a job, an endpoint; default: every step but a join, whose
   * queries cost cents). The manager says what billable steps cost before its first one.
   */
  billable?: boolean;
  /** Workflow states: `open` is published with the id, `running` (if given) follows once the record holds the owner, `done` ends a success. */
  states: { open: string; running?: string; done: string };
  /** The platform call, and any work on its output before the step counts as done. */
  run(): Promise<Result>;
  succeeded: {
    /** The record's fields on success. */
    record?(r: RecordOf<W>, result: Result): void;
    /** Fields of the final workflow state besides state, last id and pending id. */
    section?(result: Result): Record<string, unknown>;
    /** What the step returns (given the updated record). */
    value(result: Result, record: RecordOf<W>): Value;
  };
  failed: {
    /** The record's fields on failure. */
    record?(r: RecordOf<W>, failure: StepFailure): void;
    /** The workflow's typed error, with the cause and logs. */
    error(failure: StepFailure): Error;
  };
}

export interface StepSpec<W extends Workflow, Result, Value> {
  workflow: W;
  /**
   * Runs after the record was re-read, so defaults come from the latest state: checks and
   * resolves the inputs and returns the step, or `{ done }` when there is nothing to run.
   */
  prepare(): Promise<Step<W, Result, Value> | { done: Value }>;
}

export async function runStep<W extends Workflow, Result, Value>(ctx: StepContext, spec: StepSpec<W, Result, Value>): Promise<Value> {
  const what = spec.workflow;
  ctx.state.checkAlive();
  if (ctx.busy.has(what)) throw new WorkflowInProgressError(`this manager is already running a ${what} step; await it first`);
  ctx.busy.add(what);
  // Steps claimed here are alive to every manager in this process (see ownerStatus).
  let claimed: string | null = null;
  try {
    await ctx.state.refresh();
    // Whatever a killed manager left is settled first: its steps closed, the endpoint's records matched to what runs.
    await closeAbandonedSteps(ctx);
    await reconcileHosting(ctx);
    const step = await spec.prepare();
    if ("done" in step) return step.done;
    await guardInProgress(ctx, what);
    if (step.billable ?? what !== "joining") ctx.noticeBilling();
    claimed = `${ctx.experimentId}/${step.id}`;
    runningHere.add(claimed);
    await open(ctx, what, step);
    return await finish(ctx, what, step);
  } finally {
    ctx.busy.delete(what);
    if (claimed) runningHere.delete(claimed);
  }
}

/** Read-modify-write of the step's record. */
function updateStepRecord<Rec extends StepRecord>(ctx: StepContext, what: Workflow, stepId: string, fn: (r: Rec) => void): Promise<Rec> {
  const { kind, id } = stepRecordOf(what, stepId);
  return ctx.state.updateRecord(kind, id, fn as (r: StepRecord) => void) as Promise<Rec>;
}

async function open<W extends Workflow>(ctx: StepContext, what: W, step: Step<W, unknown, unknown>): Promise<void> {
  const f = WORKFLOW_FIELDS[what];
  const publish = () => ctx.state.writeSection(f.section, (s) => ({ ...s, [f.state]: step.states.open, [f.pending]: step.id }));
  if ("create" in step.record) {
    await publish();
    const { kind, id } = stepRecordOf(what, step.id);
    const record = step.record.create();
    setStepOwner(record, what, thisOwner());
    const created = await ctx.platform.records.create(kind, ctx.experimentId, id, record as never);
    if (!created.created) throw new ConflictError(kind, id, null, created.version, `a ${kind === "model" ? "model" : "join job"} with this id already exists`);
  } else {
    const update = step.record.update;
    await updateStepRecord<RecordOf<W>>(ctx, what, step.id, (r) => {
      update(r);
      setStepOwner(r, what, thisOwner());
    });
    await publish();
  }
  const running = step.states.running;
  if (running) await ctx.state.writeSection(f.section, (s) => ({ ...s, [f.state]: running }));
}

async function finish<W extends Workflow, Result, Value>(ctx: StepContext, what: W, step: Step<W, Result, Value>): Promise<Value> {
  const f = WORKFLOW_FIELDS[what];
  try {
    const result = await step.run();
    const record = await updateStepRecord<RecordOf<W>>(ctx, what, step.id, (r) => {
      step.succeeded.record?.(r, result);
      setStepOwner(r, what, null);
    });
    await ctx.state.writeSection(f.section, () => ({ [f.state]: step.states.done, [f.last]: step.id, [f.pending]: null, ...step.succeeded.section?.(result) }) as never);
    return step.succeeded.value(result, record);
  } catch (err) {
    const failure: StepFailure =
      err instanceof JobFailedError
        ? { reason: err.failureReason, logs: err.logs, cause: err }
        : { reason: (err as Error)?.message ?? String(err), logs: null, cause: err };
    await updateStepRecord<RecordOf<W>>(ctx, what, step.id, (r) => {
      step.failed.record?.(r, failure);
      setStepOwner(r, what, null);
    }).catch(() => undefined);
    await ctx.state.writeSection(f.section, (s) => ({ ...s, [f.state]: "FAILED" })).catch(() => undefined);
    throw step.failed.error(failure);
  }
}

/**
 * Refuses to start a step while another live manager runs the same step; takes it over (closed
 * as ABANDONED) when its owner is gone or the step is older than `staleJobMs`.
 */
async function guardInProgress(ctx: StepContext, what: Workflow): Promise<void> {
  const { state, pendingId } = pendingStep(ctx.state.record, what);
  if (!inProgress(state) || !pendingId) return;
  const owner = await ownerOf(ctx.platform.records, ctx.experimentId, what, pendingId);
  const status = ownerStatus(owner, `${ctx.experimentId}/${pendingId}`, ctx.staleJobMs);
  if (status !== "alive") {
    await abandonStep(ctx, what, pendingId, owner, status);
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
export async function closeAbandonedSteps(ctx: StepContext): Promise<void> {
  for (const what of WORKFLOWS) {
    const { state, pendingId } = pendingStep(ctx.state.record, what);
    if (!inProgress(state) || !pendingId) continue;
    const owner = await ownerOf(ctx.platform.records, ctx.experimentId, what, pendingId);
    if (ownerStatus(owner, `${ctx.experimentId}/${pendingId}`, ctx.staleJobMs) === "dead") await abandonStep(ctx, what, pendingId, owner, "dead");
  }
}

/** The first in-progress step whose owner is alive (in this process or another), or null. */
export async function findLiveStep(ctx: StepContext): Promise<{ what: Workflow; pendingId: string; owner: Owner | null } | null> {
  for (const what of WORKFLOWS) {
    const { state, pendingId } = pendingStep(ctx.state.record, what);
    if (!inProgress(state) || !pendingId) continue;
    const owner = await ownerOf(ctx.platform.records, ctx.experimentId, what, pendingId);
    if (ownerStatus(owner, `${ctx.experimentId}/${pendingId}`, ctx.staleJobMs) === "alive") return { what, pendingId, owner };
  }
  return null;
}

/** Marks a step as abandoned, on its model or join record and in the workflow state. */
async function abandonStep(ctx: StepContext, what: Workflow, pendingId: string, owner: Owner | null, status: "dead" | "stale"): Promise<void> {
  const reason = abandonReason(owner, status);
  ctx.log(`taking over: the ${what} step '${pendingId}' was ${reason}`);
  // A record that is gone needs no closing.
  const record = await updateStepRecord(ctx, what, pendingId, (r) => markAbandoned(r, what, pendingId, reason)).catch(() => undefined);
  // A job whose owner is dead runs for no one (SageMaker: it bills): stop it. A stale owner may still wait for it.
  // A first model without data ran no job (SageMaker mode builds it on the manager's machine): nothing to stop.
  const ranJob = what === "evaluation" || (what === "training" && (record as ModelRecord | undefined)?.input_data_s3_prefix !== null);
  if (status === "dead" && ranJob && ctx.platform.jobs.stop) {
    await ctx.platform.jobs.stop(pendingId).catch((err) => ctx.log(`could not stop the abandoned job ${pendingId}: ${(err as Error).message}`));
  }
  const f = WORKFLOW_FIELDS[what];
  // Unless another manager moved the workflow on meanwhile (then it took over first).
  await ctx.state
    .writeSection(f.section, (x) => {
      const fields = x as unknown as Record<string, string | null>;
      return inProgress(fields[f.state]) && fields[f.pending] === pendingId ? ({ ...x, [f.state]: "ABANDONED" } as typeof x) : x;
    })
    .catch((err) => {
      if (!(err instanceof ConflictError)) throw err;
    });
}
