/**
 * The platform a config selects (createPlatform, which ExperimentManager.create uses): local mode
 * never loads the AWS control-plane clients; `local_mode: false` loads the SageMaker platform.
 * Node's test runner runs each file in its own process, so require.cache shows what this file loaded.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { createPlatform } from "@cbkit/common/platform";
import { manager, tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("platform");
after(() => fs.rmSync(ws, { recursive: true, force: true }));

/** The AWS SDK clients loaded so far, except SageMaker Runtime (the Predictor's, in both modes). */
function controlPlaneClients(): string[] {
  const names = Object.keys(require.cache).flatMap((p) => /[\\/]@aws-sdk[\\/](client-[a-z0-9-]+)[\\/]/.exec(p)?.[1] ?? []);
  return [...new Set(names)].filter((n) => n !== "client-sagemaker-runtime").sort();
}

test("local mode never loads the AWS control-plane clients; local_mode false loads the SageMaker platform", async () => {
  const m = await manager(testConfig(ws), "platform-local");
  assert.equal(m.platform.kind, "local");
  await m.initializeFirstModel();
  await m.close();
  assert.deepEqual(controlPlaneClients(), [], "no control-plane client was loaded in local mode");

  const config = testConfig(ws, { local_mode: false, image: "123456789012.dkr.ecr.{AWS_REGION}.amazonaws.com/cbkit:latest" });
  config.sagemaker = { ...config.sagemaker, region: "us-west-2", bucket: "cbkit-platform-test", role_arn: "arn:aws:iam::123456789012:role/CbKitExecution" };
  const platform = await createPlatform(config);
  try {
    assert.equal(platform.kind, "sagemaker");
    assert.equal(platform.objects.uriOf("x"), "s3://cbkit-platform-test/x");
    assert.ok(controlPlaneClients().includes("client-sagemaker"), `loaded: ${controlPlaneClients().join(", ")}`);
  } finally {
    await platform.close();
  }
});
