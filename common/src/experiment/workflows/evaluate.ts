/** Evaluation: an evaluation job scores a model off-policy on joined data; the score is kept on the model record. */
import type { StepContext } from "../context";
import { EvaluationJobError, InvalidUsageError } from "../errors";
import { newEvaluationJobId } from "../ids";
import { runStep } from "../steps";
import { jobHyperparameters } from "./train";

/** Scores a model (default: the last trained) on joined data (default: the last join's eval split). */
export function evaluate(ctx: StepContext, options: { inputDataUri?: string; modelId?: string }) {
  const { platform, experimentId } = ctx;
  return runStep(ctx, {
    workflow: "evaluation",
    async prepare() {
      const modelId = options.modelId ?? ctx.state.record.training_workflow_metadata.last_trained_model_id;
      if (!modelId) throw new InvalidUsageError("there is no trained model to evaluate: train one or pass modelId");
      const dataUri = ctx.checkUri(options.inputDataUri ?? ctx.requireLastJoin().output_joined_eval_data_s3_path, "inputDataUri");
      const model = await ctx.requireReadyModel(modelId);
      const jobId = newEvaluationJobId(modelId);
      return {
        id: jobId,
        states: { open: "EVALUATING", done: "EVALUATED" },
        record: {
          update(r) {
            r.evaluation_job_name = jobId;
            r.eval_state = "InProgress";
          },
        },
        async run() {
          const result = await platform.jobs.runEvaluation({
            experimentId,
            jobName: jobId,
            hyperparameters: jobHyperparameters(ctx.config, { model_id: modelId }),
            evaluationDataUri: dataUri,
            modelUri: model.s3_model_output_path as string,
            outputUri: platform.objects.uriOf(platform.layout.evaluationJobPrefix(experimentId, jobId)),
          });
          ctx.jobLogs.evaluation = result.logs;
          return result;
        },
        succeeded: {
          record(r, result) {
            r.eval_state = "Completed";
            r.eval_scores[dataUri] = result.score;
            r.eval_data_s3_path = dataUri;
          },
          value({ score: s }) {
            ctx.log(`evaluated ${modelId}: ${s.estimator} cost ${s.value.toFixed(4)} [${s.ci.lower.toFixed(4)}, ${s.ci.upper.toFixed(4)}] on ${s.n} records`);
            return s;
          },
        },
        failed: {
          record(r) {
            r.eval_state = "Failed";
          },
          error({ reason, logs, cause }) {
            ctx.jobLogs.evaluation = logs ?? reason;
            return new EvaluationJobError(`evaluation job ${jobId} failed: ${reason}`, logs ?? "", { cause });
          },
        },
      };
    },
  });
}
