/** Deployment: serves a model at the experiment's endpoint (created the first time, swapped afterwards). */
import type { EndpointDescription } from "../../platform/types";
import type { StepContext } from "../context";
import { HostingError } from "../errors";
import { runStep } from "../steps";

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

