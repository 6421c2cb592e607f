/**
 * Clean-up of everything SageMaker mode created for an experiment (D-15): the endpoint, every
 * endpoint config and Model of the experiment's models, the Athena tables, the dashboard and, when
 * asked, the experiment's S3 data.
 *
 * The endpoint goes first, and the rest waits until SageMaker says it is gone: an endpoint whose
 * config and model were deleted still bills and can no longer be inspected. When the endpoint can
 * not be deleted, the clean-up stops there and removes nothing else. After that, each step runs
 * even when an earlier one fails; failures are collected and thrown together at the end.
 * SageMaker names ignore letter case: a config or model found under another spelling belongs to
 * another experiment and is left alone.
 */
import {
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  type SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import type { CleanupReport, RecordStore } from "../types";
import type { AthenaJoiner } from "./athena-join";
import { endpointConfigName, SageMakerNameCollisionError, type SageMakerHosting } from "./hosting";
import { awsCall } from "./aws";
import type { CloudWatchMetrics } from "./metrics";
import type { S3ObjectStore } from "./s3-store";
import { WaitTimeoutError } from "./waiter";

const notFound = (error: unknown) => /could not find|does not exist|not found/i.test((error as Error)?.message ?? "");
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export interface CleanupParts {
  sm: SageMakerClient;
  hosting: SageMakerHosting;
  records: RecordStore;
  joiner: AthenaJoiner;
  metrics: CloudWatchMetrics;
  store: S3ObjectStore;
  experimentPrefix: (experimentId: string) => string;
}

/** Names listed by SageMaker that belong to the experiment: `<exp>-model-<suffix>[-cfg]`. */
async function listedNames(sm: SageMakerClient, experimentId: string, kind: "models" | "configs"): Promise<string[]> {
  const pattern = new RegExp(`^${escapeRegExp(experimentId)}-model-[A-Za-z0-9]+${kind === "configs" ? "-cfg" : ""}$`);
  const names: string[] = [];
  let token: string | undefined;
  do {
    if (kind === "models") {
      const page = await awsCall("sagemaker:ListModels", () => sm.send(new ListModelsCommand({ NameContains: `${experimentId}-model-`, NextToken: token, MaxResults: 100 })));
      names.push(...(page.Models ?? []).map((m) => m.ModelName ?? ""));
      token = page.NextToken;
    } else {
      const page = await awsCall("sagemaker:ListEndpointConfigs", () =>
        sm.send(new ListEndpointConfigsCommand({ NameContains: `${experimentId}-model-`, NextToken: token, MaxResults: 100 })),
      );
      names.push(...(page.EndpointConfigs ?? []).map((c) => c.EndpointConfigName ?? ""));
      token = page.NextToken;
    }
  } while (token);
  return names.filter((n) => pattern.test(n));
}

/** The name SageMaker knows for a config or model, or null when there is none. */
async function existingName(sm: SageMakerClient, kind: "config" | "model", name: string): Promise<string | null> {
  try {
    if (kind === "config") {
      const out = await awsCall("sagemaker:DescribeEndpointConfig", () => sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name })));
      return out?.EndpointConfigName ?? name;
    }
    const out = await awsCall("sagemaker:DescribeModel", () => sm.send(new DescribeModelCommand({ ModelName: name })));
    return out?.ModelName ?? name;
  } catch (error) {
    if (notFound(error)) return null;
    throw error;
  }
}

/**
 * Deletes the experiment's endpoint and waits until it is gone; false when it has none (an
 * endpoint spelled in other letter cases belongs to another experiment and is left alone).
 */
async function deleteEndpoint(parts: CleanupParts, experimentId: string, modelIds: Set<string>): Promise<boolean> {
  let current;
  try {
    current = await parts.hosting.describe(experimentId);
  } catch (error) {
    if (error instanceof SageMakerNameCollisionError) return false;
    throw error;
  }
  if (!current) return false;
  if (current.modelId) modelIds.add(current.modelId);
  const deleted = await parts.hosting.delete(experimentId);
  if (deleted) await parts.hosting.waitUntilDeleted(experimentId);
  return deleted;
}

export async function cleanupExperiment(parts: CleanupParts, experimentId: string, options: { deleteData?: boolean } = {}): Promise<CleanupReport> {
  const removed: string[] = [];
  const failures: string[] = [];
  const step = async (what: string, action: () => Promise<void>) => {
    try {
      await action();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  };

  const modelIds = new Set<string>();
  const configNames = new Set<string>();
  let endpointDeleted: boolean;
  try {
    endpointDeleted = await deleteEndpoint(parts, experimentId, modelIds);
  } catch (error) {
    if (error instanceof WaitTimeoutError) {
      throw new Error(
        `clean-up of ${experimentId} stopped: DeleteEndpoint was accepted but the endpoint ${experimentId} is not gone yet (${error.message}).\n` +
          "Nothing else was removed; run the clean-up again once the endpoint has disappeared.",
      );
    }
    throw new Error(
      `clean-up of ${experimentId} stopped: the endpoint ${experimentId} could not be deleted: ${(error as Error).message}\n` +
        "Nothing else was removed, so the endpoint keeps its config and model (deleting them under it would leave an endpoint that bills " +
        "and can not be inspected). Fix the cause (often a missing permission) and run the clean-up again.",
    );
  }
  if (endpointDeleted) removed.push(`endpoint ${experimentId}`);
  await step("model records", async () => {
    for (const model of await parts.records.list("model", experimentId)) modelIds.add(model.value.model_id);
  });
  await step("listing models", async () => {
    for (const name of await listedNames(parts.sm, experimentId, "models")) modelIds.add(name);
  });
  await step("listing endpoint configs", async () => {
    for (const name of await listedNames(parts.sm, experimentId, "configs")) configNames.add(name);
  });
  for (const id of modelIds) configNames.add(endpointConfigName(id));
  for (const name of [...configNames].sort())
    await step(`endpoint config ${name}`, async () => {
      if ((await existingName(parts.sm, "config", name)) !== name) return; // gone, or another experiment's
      try {
        await awsCall("sagemaker:DeleteEndpointConfig", () => parts.sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: name })));
        removed.push(`endpoint config ${name}`);
      } catch (error) {
        if (!notFound(error)) throw error;
      }
    });
  for (const id of [...modelIds].sort())
    await step(`model ${id}`, async () => {
      if ((await existingName(parts.sm, "model", id)) !== id) return; // gone, or another experiment's
      try {
        await awsCall("sagemaker:DeleteModel", () => parts.sm.send(new DeleteModelCommand({ ModelName: id })));
        removed.push(`model ${id}`);
      } catch (error) {
        if (!notFound(error)) throw error;
      }
    });
  await step("Athena tables", async () => {
    for (const table of await parts.joiner.dropTables(experimentId)) removed.push(`Athena table ${table}`);
  });
  await step("dashboard", async () => {
    if (await parts.metrics.deleteDashboard(experimentId)) removed.push(`CloudWatch dashboard ${experimentId}`);
  });
  let objectsDeleted = 0;
  if (options.deleteData)
    await step("S3 data", async () => {
      const prefix = parts.store.uriOf(parts.experimentPrefix(experimentId));
      objectsDeleted = await parts.store.delete(prefix, { recursive: true });
      removed.push(`${objectsDeleted} objects under ${prefix}/`);
    });
  if (failures.length)
    throw new Error(
      `clean-up of ${experimentId} removed ${removed.length ? removed.join(", ") : "nothing"} but failed on:\n  ${failures.join("\n  ")}\n` +
        "Fix the cause (often a missing permission) and run the clean-up again; it skips what is already gone.",
    );
  return { endpointDeleted, removed, objectsDeleted };
}
