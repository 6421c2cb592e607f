/**
 * What the steps of one experiment share: its id, config and platform, its stored state, the
 * manager's message sink, and the checks every step makes on the models and URIs it is given.
 */
import type { Config } from "../config";
import type { JoinJobRecord, ModelRecord, Platform } from "../platform/types";
import { InvalidUsageError } from "./errors";
import { checkDerivedId } from "./ids";
import type { ExperimentState, Workflow } from "./state";
import { checkExperimentUri } from "./validation";

export class StepContext {
  /** The workflows this manager runs a step of right now (one step per workflow at a time). */
  readonly busy = new Set<Workflow>();
  /** The logs of this manager's last training and evaluation jobs (also of failed ones). */
  readonly jobLogs = { training: "", evaluation: "" };
  private billingNoticeGiven = false;

  constructor(
    readonly experimentId: string,
    readonly config: Config,
    readonly platform: Platform,
    readonly state: ExperimentState,
    readonly log: (message: string) => void,
    /** An in-progress step older than this is considered abandoned. */
    readonly staleJobMs: number,
  ) {}

  /** Before this manager's first billable step: what the platform's jobs and endpoint cost (once; local mode: nothing). */
  noticeBilling(): void {
    if (this.billingNoticeGiven) return;
    this.billingNoticeGiven = true;
    const notice = this.platform.billingNotice?.();
    if (notice) this.log(notice);
  }

  /** The URI normalised, if it lies under this experiment's prefix; else InvalidUsageError naming `option`. */
  checkUri(uri: string, option: string): string {
    return checkExperimentUri(this.platform.objects, this.platform.layout.experimentPrefix(this.experimentId), uri, option);
  }

  /** The last successful join record; InvalidUsageError when there is none. */
  requireLastJoin(): JoinJobRecord {
    const join = this.state.lastJoin;
    if (!join) {
      throw new InvalidUsageError(`experiment ${this.experimentId} has no successful join yet: call ingestJoinedData(...) or join(...) first`);
    }
    return join;
  }

  /** The model record, if training completed with an artifact; else InvalidUsageError naming why. */
  async requireReadyModel(modelId: string): Promise<ModelRecord> {
    const r = await this.modelRecord(modelId);
    if (r.train_state !== "Completed" || !r.s3_model_output_path) {
      throw new InvalidUsageError(`model '${modelId}' is not ready (training state ${r.train_state ?? "none"}${r.failure_reason ? `: ${r.failure_reason}` : ""})`);
    }
    // The record's artifact URI is input too (records can be edited): it must be this experiment's.
    return { ...r, s3_model_output_path: this.checkUri(r.s3_model_output_path, `the artifact URI of model ${modelId}`) };
  }

  /** A model record of this experiment; InvalidUsageError when the id is not one or it does not exist. */
  async modelRecord(modelId: string): Promise<ModelRecord> {
    checkDerivedId(modelId, this.experimentId, "model id");
    const r = await this.platform.records.get("model", this.experimentId, modelId);
    if (!r) throw new InvalidUsageError(`model '${modelId}' does not exist in experiment ${this.experimentId}`);
    return r.value;
  }

  /** The folder of the holdout data: a copy of the eval split of every successful join. */
  get holdoutDataUri(): string {
    return this.platform.objects.uriOf(this.platform.layout.holdoutPrefix(this.experimentId));
  }
}
