/**
 * Bad input at the manager's door (issue 10): rewards and actions outside the task, URIs that
 * climb into another experiment, and a training job that receives the reward range.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { S3Client } from "@aws-sdk/client-s3";
import { S3ObjectStore } from "@cbkit/common/sagemaker";
import { InvalidUsageError, type ExperimentManager } from "@cbkit/common";
import { LocalObjectStore } from "@cbkit/common/local";
import { checkExperimentUri } from "@cbkit/common/experiment";
import { manager, syntheticJoined, tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("badinput");
const config = testConfig(ws);
const opened: ExperimentManager[] = [];
after(async () => {
  for (const m of opened) await m.close().catch(() => undefined);
  fs.rmSync(ws, { recursive: true, force: true });
});

async function open(id: string, cfg = config): Promise<ExperimentManager> {
  const m = await manager(cfg, id);
  opened.push(m);
  return m;
}

const refused = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof InvalidUsageError, `expected InvalidUsageError, got ${String(err)}`);
  assert.match(err.message, pattern);
  return true;
};

test("rewards outside [workflow.min_reward, workflow.max_reward] are refused naming the record, the value and the keys", async () => {
  const m = await open("bi-reward");
  await assert.rejects(
    m.ingestRewards([{ event_id: "a", reward: 1 }, { event_id: "b", reward: 7 }]),
    refused(/^reward 1: field 'reward' is 7, outside the possible rewards \[0, 1\] \(min_reward \/ max_reward: config\.yaml workflow\.min_reward \/ workflow\.max_reward\)/),
  );
  await assert.rejects(m.ingestRewards([{ event_id: "a", reward: -1 }]), refused(/^reward 0: field 'reward' is -1, outside the possible rewards \[0, 1\]/));
  const joined = syntheticJoined(40);
  joined[5].reward = 7;
  await assert.rejects(m.ingestJoinedData(joined, 0.5), refused(/^joined record 5: field 'reward' is 7, outside the possible rewards \[0, 1\] \(min_reward \/ max_reward: config\.yaml workflow\.min_reward/));
  // Nothing was stored by the refused calls.
  assert.deepEqual(await m.platform.objects.list(m.platform.objects.uriOf("bi-reward")), []);
  assert.equal(m.toJSON().joining_workflow_metadata.joining_state, null);

  // A wider configured range accepts what it covers.
  const wide = await open("bi-wide", testConfig(ws, { workflow: { ...config.workflow, min_reward: -1, max_reward: 2 } }));
  assert.match(await wide.ingestRewards([{ event_id: "a", reward: -1 }, { event_id: "b", reward: 2 }]), /rewards_data/);
  await assert.rejects(wide.ingestRewards([{ event_id: "a", reward: 2.5 }]), refused(/outside the possible rewards \[-1, 2\]/));

  // A join's defaultReward is held to the same range as config.yaml's workflow.default_reward, before anything runs.
  const rewards = await m.ingestRewards([{ event_id: "a", reward: 1 }]);
  await assert.rejects(m.join(rewards, { obsTimeWindow: 1, defaultReward: 5 }), refused(/^defaultReward is 5, outside the possible rewards \[0, 1\] .*give a reward in the range, or null/));
  await assert.rejects(m.join(rewards, { obsTimeWindow: 1, defaultReward: Number.NaN }), refused(/^defaultReward must be a finite number/));
  assert.equal(m.toJSON().joining_workflow_metadata.joining_state, null);
});

test("actions outside 1..num_arms, a wrong feature count and bad event ids are refused at ingest naming config.yaml", async () => {
  const m = await open("bi-action");
  const cases: [(r: ReturnType<typeof syntheticJoined>) => void, RegExp][] = [
    [(r) => (r[3].action = 8), /^joined record 3: field 'action' is 8, outside 1\.\.7 \(config\.yaml algor\.algorithms_parameters\.num_arms\)/],
    [(r) => (r[2].action = 0), /^joined record 2: field 'action' must be a 1-based integer, got 0/],
    [(r) => (r[4].observation = r[4].observation.slice(0, 8)), /^joined record 4: field 'observation' has 8 features, the task has 9 \(config\.yaml algor\.algorithms_parameters\.num_features\)/],
    [(r) => (r[1].event_id = "x".repeat(65)), /^joined record 1: field 'event_id' has 65 characters; at most 64/],
  ];
  for (const [spoil, pattern] of cases) {
    const records = syntheticJoined(40);
    spoil(records);
    await assert.rejects(m.ingestJoinedData(records, 0.5), refused(pattern));
  }
  await assert.rejects(m.ingestRewards([{ event_id: " lead", reward: 1 }]), refused(/^reward 0: field 'event_id' must be printable ASCII/));
});

test("training and evaluation jobs get min_reward and max_reward as hyperparameters", async () => {
  const cfg = testConfig(ws, { workflow: { ...config.workflow, min_reward: -1, max_reward: 2 } });
  const m = await open("bi-hyper", cfg);
  await m.ingestJoinedData(syntheticJoined(80), 0.5);
  // A config whose job fails keeps the job folder, so the hyperparameters the job saw can be read.
  const broken = testConfig(ws, {
    workflow: cfg.workflow,
    algor: { ...cfg.algor, algorithms_parameters: { ...cfg.algor.algorithms_parameters, num_arms: 0 } },
  });
  const b = await open("bi-hyper", broken);
  await assert.rejects(b.initializeFirstModel({ inputDataUri: b.lastJoinedJobTrainData }));
  const modelId = b.toJSON().training_workflow_metadata.next_model_to_train_id as string;
  const hp = JSON.parse(fs.readFileSync(path.join(ws, "jobs", modelId, "input", "config", "hyperparameters.json"), "utf8")) as Record<string, string>;
  assert.equal(hp.min_reward, "-1");
  assert.equal(hp.max_reward, "2");
});

test("a URI with '..' into another experiment is refused wherever a data URI comes in; inside its own prefix it is normalised", async () => {
  const va = await open("va");
  const vb = await open("vb");
  await va.ingestJoinedData(syntheticJoined(80, "a"), 0.5);
  await vb.ingestJoinedData(syntheticJoined(80, "b"), 0.5);
  await va.initializeFirstModel({ inputDataUri: va.lastJoinedJobTrainData });
  const vbTrain = vb.lastJoinedJobTrainData;
  const sneaky = vbTrain.replace("/vb/joined_data/", "/va/../vb/joined_data/");
  const encoded = vbTrain.replace("/vb/joined_data/", "/va/%2e%2e/vb/joined_data/");
  assert.notEqual(sneaky, vbTrain);
  const escape = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const outside = (option: string, target = vbTrain) => new RegExp(`^${option} ".*" resolves to ${escape(target)}, which is outside this experiment's data; pass a URI under .*/va/`);
  await assert.rejects(va.trainNextModel({ inputDataUri: sneaky }), refused(outside("inputDataUri")));
  await assert.rejects(va.trainNextModel({ inputDataUri: encoded }), refused(outside("inputDataUri")));
  await assert.rejects(va.evaluateModel({ inputDataUri: sneaky }), refused(outside("inputDataUri")));
  await assert.rejects(va.getEvalScore({ evalDataUri: sneaky }), refused(outside("evalDataUri")));
  await assert.rejects(va.downloadHistoricalData({ dataUri: sneaky }), refused(outside("dataUri")));
  await assert.rejects(va.evaluateHistoricalData(sneaky), refused(outside("dataUri")));
  // A plain path into the bucket is checked like its URI.
  await assert.rejects(va.evaluateHistoricalData(fileURLToPath(vbTrain)), refused(/^dataUri ".*" is outside this experiment's data/));
  const rewards = await vb.ingestRewards([{ event_id: "b-1", reward: 1 }]);
  await assert.rejects(va.join(rewards.replace("/vb/", "/va/../vb/")), refused(outside("rewardsUri", rewards)));
  await assert.rejects(va.join(rewards), refused(/^rewardsUri ".*" is outside this experiment's data/));
  assert.equal(va.toJSON().training_workflow_metadata.training_state, "TRAINED", "no refused call started a step");
  assert.equal(va.lastTrainedModelId, (await va.listModels())[0].model_id);

  // A model record whose artifact URI was edited to point at another experiment's model is refused too.
  const vbModel = await vb.initializeFirstModel({ inputDataUri: vb.lastJoinedJobTrainData });
  const records = va.platform.records;
  const vaModel = (await records.get("model", "va", va.lastTrainedModelId as string))!;
  await records.update("model", "va", vaModel.value.model_id, { ...vaModel.value, s3_model_output_path: vbModel.s3_model_output_path }, vaModel.version);
  await assert.rejects(va.deployModel({ modelId: vaModel.value.model_id }), refused(/^the artifact URI of model va-model-\w+ ".*\/vb\/training_jobs\/.*" is outside this experiment's data/));
  await records.update("model", "va", vaModel.value.model_id, vaModel.value, vaModel.version + 1);

  // Inside its own prefix a '..' or '.' resolves, and the canonical URI is what gets stored.
  const roundabout = va.lastJoinedJobTrainData.replace("/va/joined_data/", "/va/./uploads/../joined_data/");
  const next = await va.trainNextModel({ inputDataUri: roundabout });
  assert.equal(next.input_data_s3_prefix, va.lastJoinedJobTrainData);
});

test("s3:// URIs are normalised and checked the same way (the SageMaker store's own spelling is returned)", () => {
  const s3 = new S3ObjectStore(new S3Client({ region: "us-east-1" }), "cbkit-bucket", "us-east-1");
  const check = (uri: string) => checkExperimentUri(s3, "va", uri, "inputDataUri");
  assert.equal(check("s3://cbkit-bucket/va/joined_data/j/train"), "s3://cbkit-bucket/va/joined_data/j/train");
  assert.equal(check("s3://cbkit-bucket/va/x/../joined_data//j/./train"), "s3://cbkit-bucket/va/joined_data/j/train");
  assert.throws(() => check("s3://cbkit-bucket/va/../vb/joined_data/j/train"), refused(/resolves to s3:\/\/cbkit-bucket\/vb\/joined_data\/j\/train, which is outside/));
  assert.throws(() => check("s3://cbkit-bucket/va/%2E%2E/vb/joined_data"), refused(/resolves to s3:\/\/cbkit-bucket\/vb\/joined_data/));
  assert.throws(() => check("s3://other-bucket/va/joined_data"), refused(/is outside this experiment's data; pass a URI under s3:\/\/cbkit-bucket\/va\//));
  assert.throws(() => check("s3://cbkit-bucket/va"), refused(/outside/), "the prefix itself is not data");
  assert.throws(() => check("s3://cbkit-bucket/vaa/joined_data"), refused(/outside/), "a sibling with the same start");
  assert.throws(() => check("s3://cbkit-bucket/va/a%2Fb"), refused(/not a valid object URI/));
  assert.throws(() => check("s3://cbkit-bucket/../../va/x"), refused(/not a valid object URI/));
  assert.throws(() => check("file:///va/x"), refused(/outside/));

  const local = new LocalObjectStore(path.join(ws, "bucket"));
  const base = local.uriOf("va");
  assert.equal(checkExperimentUri(local, "va", `${base}/a/../b`, "dataUri"), `${base}/b`);
  assert.throws(() => checkExperimentUri(local, "va", `${base}/../../../etc/passwd`, "dataUri"), refused(/^dataUri .* resolves to file:\/\/\/.*etc\/passwd, which is outside/));
});
