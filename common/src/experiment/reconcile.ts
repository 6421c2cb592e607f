/** Records made to match what runs, after a manager was killed mid-deploy (local hosting). */
import type { StepContext } from "./context";

/**
 * After a deploy was abandoned (its manager was killed mid blue/green deploy or mid hot swap, and
 * the step closed as ABANDONED), makes the local hosting records say what runs: servers the killed
 * deploy left beside the current one are stopped, and the hosting section names the model the
 * endpoint itself says it serves. Only then: a deploy in progress belongs to a live manager, and
 * every other hosting state was written by a deploy that finished. SageMaker keeps no processes
 * here, and its next deploy reads DescribeEndpoint anyway.
 */
export async function reconcileHosting(ctx: StepContext): Promise<void> {
  const { platform, experimentId } = ctx;
  if (!platform.hosting.reapOrphans) return;
  if (ctx.state.record.hosting_workflow_metadata.hosting_state !== "ABANDONED") return;
  const stopped = await platform.hosting.reapOrphans(experimentId);
  if (stopped.length) ctx.log(`stopped ${stopped.length} endpoint process(es) of ${experimentId} that a killed deploy left running (pid ${stopped.join(", ")})`);
  const running = await platform.hosting.describe(experimentId);
  if (!running) return;
  const hm = ctx.state.record.hosting_workflow_metadata;
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
