/** Deployment: serves a model at the experiment's endpoint (created the first time, swapped afterwards). */
import type { EndpointDescription } from "../../platform/types";
import type { StepContext } from "../context";
import { HostingError } from "../errors";
import { runStep } from "../steps";
import { inProgress, pendingStep } from "../state";

export function deploy(ctx: StepContext, modelId: string): Promise<EndpointDescription> {
  const { platform, experimentId, config } = ctx;
  return runStep<"hosting", EndpointDescription, EndpointDescription>(ctx, {
    workflow: "hosting",
    async prepare() {
      const model = await ctx.requireReadyModel(modelId);
      const hm = ctx.state.record.hosting_workflow_metadata;
      const running = await platform.hosting.describe(experimentId);
      if (running && running.modelId === modelId && hm.hosting_state === "DEPLOYED" && hm.last_hosted_model_id === modelId) {
        ctx.log(`model ${modelId} is already hosted at ${running.url}`);
        return { done: running };
      }
      return {
        id: modelId,
        states: { open: running ? "DEPLOYING" : "PENDING", done: "DEPLOYED" },
        record: { update() {} }, // the model record only carries the step's owner
        async run() {
          const d = await platform.hosting.deploy({
            experimentId,
            endpointName: experimentId,
            modelId,
            modelArtifactUri: model.s3_model_output_path as string,
            seed: config.seed,
            softDeployment: config.soft_deployment,
            limits: {
              maxDecisionsPerRequest: config.endpoint.max_decisions_per_request,
              requestTimeoutSeconds: config.endpoint.request_timeout_seconds,
            },
          });
          if (d.modelId !== modelId) throw new Error(`the endpoint reports model ${d.modelId} after deploying ${modelId}`);
          return d;
        },
        succeeded: {
          section: (d) => ({ hosting_endpoint: d.arn }),
          value(d) {
            // The predictor is kept: a hot swap keeps the URL, and a moved endpoint is found again.
            ctx.log(`deployed ${modelId} at ${d.url}`);
            return d;
          },
        },
        failed: {
          error: ({ reason, cause }) => new HostingError(`deploying ${modelId} failed: ${reason}`, { cause }),
        },
      };
    },
  });
}

/**
 * After a kill (a manager killed mid blue/green deploy or mid hot swap), makes the local hosting
 * records say what runs: servers the killed deploy left beside the current one are stopped, and
 * the hosting section names the model the endpoint itself says it serves. Skipped while a live
 * manager deploys (its step is still in progress; a dead one's was closed as ABANDONED on load).
 * SageMaker keeps no processes here, and its next deploy reads DescribeEndpoint anyway.
 */
export async function reconcileHosting(ctx: StepContext): Promise<void> {
  const { platform, experimentId } = ctx;
  if (platform.kind !== "local" || !platform.hosting.reapOrphans) return;
  const { state } = pendingStep(ctx.state.record, "hosting");
  if (inProgress(state)) return;
  const stopped = await platform.hosting.reapOrphans(experimentId);
  if (stopped.length) ctx.log(`stopped ${stopped.length} endpoint process(es) of ${experimentId} that a killed deploy left running (pid ${stopped.join(", ")})`);
  const running = await platform.hosting.describe(experimentId);
  if (!running) return;
  const hm = ctx.state.record.hosting_workflow_metadata;
  // A FAILED deploy that left the previous model serving stays FAILED: the records already name what runs.
  if (hm.hosting_state !== "ABANDONED" && hm.last_hosted_model_id === running.modelId && hm.hosting_endpoint === running.arn) return;
  ctx.log(
    `the endpoint serves ${running.modelId} while the records said ${hm.hosting_state ?? "nothing"} / ${hm.last_hosted_model_id ?? "no model"}: ` +
      `records updated to what runs`,
  );
  await ctx.state.writeSection("hosting_workflow_metadata", (s) => ({
    ...s,
    hosting_state: "DEPLOYED",
    last_hosted_model_id: running.modelId,
    next_model_to_host_id: null,
    hosting_endpoint: running.arn,
  }));
}
