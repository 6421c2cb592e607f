/** Training: a new model record, and a training job that learns from joined data and/or a parent model. */
import type { Config } from "../../config";
import { stringifyHyperparameters } from "../../container/contract";
import type { ModelRecord } from "../../platform/types";
import type { StepContext } from "../context";
import { TrainingJobError } from "../errors";
import { newModelId } from "../ids";
import { nowIso } from "../state";
import { runStep } from "../steps";

/** The hyperparameters of a training or evaluation job: the algorithm settings, the seed and the reward range. */
export function jobHyperparameters(config: Config, extra: Record<string, unknown>): Record<string, string> {
  const { min_reward, max_reward } = config.workflow;
  return stringifyHyperparameters({ ...config.algor.algorithms_parameters, seed: config.seed, min_reward, max_reward, ...extra });
}

/**
 * Trains a new model from the data `dataOf` names (null: none, a uniform-exploring first model),
 * continuing from the model `parentOf` names (null: none). Both run after the record was re-read,
 * so defaults come from the latest state.
 */
export function train(ctx: StepContext, dataOf: () => string | null, parentOf: () => string | null): Promise<ModelRecord> {
  const { platform, experimentId } = ctx;
  return runStep(ctx, {
    workflow: "training",
    async prepare() {
      const given = dataOf();
      const dataUri = given === null ? null : ctx.checkUri(given, "inputDataUri");
      const parentModelId = parentOf();
      const parentUri = parentModelId ? ((await ctx.requireReadyModel(parentModelId)).s3_model_output_path as string) : undefined;
      const modelId = newModelId(experimentId);
      return {
        id: modelId,
        // Without data the model learns nothing and no job runs (SageMaker mode builds it here).
        billable: dataUri !== null,
        states: { open: "PENDING", running: "TRAINING", done: "TRAINED" },
        record: {
          create: (): ModelRecord => ({
            experiment_id: experimentId,
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
          }),
        },
        async run() {
          const result = await platform.jobs.runTraining({
            experimentId,
            jobName: modelId,
            hyperparameters: jobHyperparameters(ctx.config, { model_id: modelId, ...(parentModelId ? { parent_model_id: parentModelId } : {}) }),
            ...(dataUri ? { trainingDataUri: dataUri } : {}),
            ...(parentUri ? { pretrainedModelUri: parentUri } : {}),
            outputUri: platform.objects.uriOf(platform.layout.modelArtifactPrefix(experimentId, modelId)),
          });
          ctx.jobLogs.training = result.logs;
          return result;
        },
        succeeded: {
          record(r, result) {
            r.train_state = "Completed";
            r.s3_model_output_path = result.modelArtifactUri;
            r.training_end_time = result.endTime;
            if (result.rows) r.training_rows = result.rows;
          },
          value(result, record) {
            const learned = result.logs.split("\n").filter((l) => l.startsWith("Model learned")).join(" ");
            ctx.log(`trained ${modelId}${parentModelId ? ` (from ${parentModelId})` : ""}: ${learned}`);
            const rows = result.rows;
            if (rows && rows.skipped > 0) {
              ctx.log(
                `WARNING: training ${modelId} skipped ${rows.skipped} of ${rows.used + rows.skipped} row(s) of ${dataUri} ` +
                  `(the model record's training_rows lists the first): ${rows.first_skipped.slice(0, 3).join("; ")}`,
              );
            }
            return record;
          },
        },
        failed: {
          record(r, { reason }) {
            r.train_state = "Failed";
            r.failure_reason = reason;
            r.training_end_time = nowIso();
          },
          error({ reason, logs, cause }) {
            ctx.jobLogs.training = logs ?? reason;
            return new TrainingJobError(`training job ${modelId} failed: ${reason}`, logs ?? "", { cause });
          },
        },
      };
    },
  });
}
