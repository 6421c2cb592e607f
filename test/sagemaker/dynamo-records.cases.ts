import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DescribeTableCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import * as fs from "node:fs";
import * as path from "node:path";
import { DynamoRecordStore, sageMakerSettingsFromConfig } from "@cbkit/common/sagemaker";
import { ConflictError, type ExperimentRecord, type ModelRecord } from "@cbkit/common";
import { parseConfig } from "@cbkit/common/config";
import { PREVIOUS_VERSION_SCORE, PREVIOUS_VERSION_SCORE_TODAY, scoreFixture } from "../ope/fixtures";
import { STORAGE_EMULATORS, type DynamoEmulator } from "./helpers";

const tables = { experiment: "CbkitExperiments", model: "CbkitModels", join: "CbkitJoins" };

function experiment(id: string, state: ExperimentRecord["training_workflow_metadata"]["training_state"] = null): ExperimentRecord {
  return {
    experiment_id: id,
    training_workflow_metadata: { training_state: state, last_trained_model_id: null, next_model_to_train_id: null },
    hosting_workflow_metadata: { hosting_state: null, last_hosted_model_id: null, next_model_to_host_id: null, hosting_endpoint: null },
    joining_workflow_metadata: { joining_state: null, last_joined_job_id: null, next_join_job_id: null },
    evaluation_workflow_metadata: { evaluation_state: null, last_evaluation_job_id: null, next_evaluation_job_id: null },
  };
}

function model(exp: string, id: string): ModelRecord {
  return {
    experiment_id: exp,
    model_id: id,
    train_state: "Completed",
    evaluation_job_name: null,
    eval_state: null,
    eval_scores: { "s3://b/x/eval": scoreFixture(0.125, 0.1, 0.15, 40) },
    input_model_id: null,
    input_data_s3_prefix: null,
    eval_data_s3_path: null,
    s3_model_output_path: `s3://b/${exp}/training_jobs/${id}/output/model`,
    training_start_time: "2026-11-28T12:00:00.000Z",
    training_end_time: null,
    failure_reason: null,
  };
}


// The same cases on two independent DynamoDB emulators: dynalite and moto's server.
for (const emulator of STORAGE_EMULATORS) describe(`DynamoRecordStore on ${emulator.name === "moto" ? "moto" : "dynalite"}`, { skip: emulator.skip }, () => {
  let ddb: DynamoEmulator;
  let store: DynamoRecordStore;
  before(async () => {
    ddb = await emulator.dynamo();
    store = new DynamoRecordStore(ddb.client, { tables, tableIntervalMs: 20, tableTimeoutMs: 10_000 });
  });
  after(async () => ddb.stop());

  it("creates its tables on first use, with the original's keys", async () => {
    assert.equal(await store.get("experiment", "exp-a", "exp-a"), null);
    assert.equal(await store.get("model", "exp-a", "m1"), null);
    const described = await ddb.client.send(new DescribeTableCommand({ TableName: tables.model }));
    assert.equal(described.Table?.TableStatus, "ACTIVE");
    assert.deepEqual(described.Table?.KeySchema, [
      { AttributeName: "experiment_id", KeyType: "HASH" },
      { AttributeName: "model_id", KeyType: "RANGE" },
    ]);
  });

  it("creates once, then returns the stored record (created: false)", async () => {
    const first = await store.create("experiment", "exp-b", "exp-b", experiment("exp-b"));
    assert.equal(first.created, true);
    assert.equal(first.version, 1);
    const again = await store.create("experiment", "exp-b", "exp-b", experiment("exp-b", "TRAINING"));
    assert.equal(again.created, false);
    assert.equal(again.version, 1);
    assert.equal(again.value.training_workflow_metadata.training_state, null);
  });

  it("versions every write and rejects a stale writer with ConflictError", async () => {
    const created = await store.create("experiment", "exp-c", "exp-c", experiment("exp-c"));
    // Two managers read version 1.
    const a = await store.get("experiment", "exp-c", "exp-c");
    const b = await store.get("experiment", "exp-c", "exp-c");
    assert.equal(a?.version, created.version);
    const written = await store.update("experiment", "exp-c", "exp-c", experiment("exp-c", "PENDING"), a!.version);
    assert.equal(written.version, 2);
    await assert.rejects(
      store.update("experiment", "exp-c", "exp-c", experiment("exp-c", "TRAINING"), b!.version),
      (e: Error) => e instanceof ConflictError && e.expectedVersion === 1 && e.actualVersion === 2 && /reload/.test(e.message),
    );
    const stored = await store.get("experiment", "exp-c", "exp-c");
    assert.equal(stored?.version, 2);
    assert.equal(stored?.value.training_workflow_metadata.training_state, "PENDING");
    // Updating a record that does not exist is a conflict too.
    await assert.rejects(store.update("experiment", "exp-none", "exp-none", experiment("exp-none"), 1), ConflictError);
  });

  it("keeps records exactly (key order, numbers, nested scores) and lists them sorted per experiment", async () => {
    for (const id of ["exp-d-model-b", "exp-d-model-a"]) await store.create("model", "exp-d", id, model("exp-d", id));
    await store.create("model", "exp-e", "exp-e-model-z", model("exp-e", "exp-e-model-z"));
    const listed = await store.list("model", "exp-d");
    assert.deepEqual(listed.map((r) => r.value.model_id), ["exp-d-model-a", "exp-d-model-b"]);
    assert.deepEqual(listed[0].value, model("exp-d", "exp-d-model-a"));
    assert.deepEqual(Object.keys(listed[0].value), Object.keys(model("exp-d", "x")));
  });

  it("reads a model item the previous version wrote, its scores in today's shape", async () => {
    await store.get("model", "exp-old", "exp-old-model-1"); // creates the table
    // The previous version's item: its record as JSON text, its score {score, ci, n, estimator, details}.
    const old = { ...model("exp-old", "exp-old-model-1"), eval_scores: { "s3://b/exp-old/eval": PREVIOUS_VERSION_SCORE } };
    await ddb.client.send(new PutItemCommand({
      TableName: tables.model,
      Item: { experiment_id: { S: "exp-old" }, model_id: { S: "exp-old-model-1" }, version: { N: "3" }, record: { S: JSON.stringify(old) } },
    }));
    const read = await store.get("model", "exp-old", "exp-old-model-1");
    assert.equal(read?.version, 3);
    assert.deepEqual(read?.value, { ...old, eval_scores: { "s3://b/exp-old/eval": PREVIOUS_VERSION_SCORE_TODAY } });
    const [listed] = await store.list("model", "exp-old");
    assert.deepEqual(listed.value.eval_scores, read?.value.eval_scores);
  });

  it("deletes everything of one experiment and nothing else", async () => {
    await store.create("experiment", "exp-f", "exp-f", experiment("exp-f"));
    await store.create("model", "exp-f", "exp-f-model-1", model("exp-f", "exp-f-model-1"));
    await store.create("model", "exp-f", "exp-f-model-2", model("exp-f", "exp-f-model-2"));
    await store.create("join_job", "exp-f", "exp-f-join-1", {
      experiment_id: "exp-f",
      join_job_id: "exp-f-join-1",
      current_state: "SUCCEEDED",
      input_obs_data_s3_path: "s3://b/exp-f/inference_data",
      obs_start_time: null,
      obs_end_time: null,
      input_reward_data_s3_path: "s3://b/exp-f/rewards_data/r1",
      output_joined_train_data_s3_path: "s3://b/exp-f/joined_data/exp-f-join-1/train",
      output_joined_eval_data_s3_path: "s3://b/exp-f/joined_data/exp-f-join-1/eval",
      join_query_ids: ["q1"],
      ratio: 0.8,
      missing_reward_policy: "drop",
      duplicate_reward_rule: "earliest",
      counts: null,
      failure_reason: null,
    });
    assert.deepEqual(await store.deleteExperiment("exp-f"), { experiments: 1, models: 2, joinJobs: 1 });
    assert.equal(await store.get("experiment", "exp-f", "exp-f"), null);
    assert.deepEqual(await store.list("join_job", "exp-f"), []);
    assert.equal((await store.list("model", "exp-d")).length, 2);
    assert.deepEqual(await store.deleteExperiment("exp-f"), { experiments: 0, models: 0, joinJobs: 0 });
  });

  it("lets exactly one of many concurrent writers win", async () => {
    await store.create("experiment", "exp-g", "exp-g", experiment("exp-g"));
    const other = new DynamoRecordStore(ddb.client, { tables });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? store : other).update("experiment", "exp-g", "exp-g", experiment("exp-g", "PENDING"), 1)),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.ok(results.filter((r) => r.status === "rejected").every((r) => (r as PromiseRejectedResult).reason instanceof ConflictError));
  });

  it("creates provisioned tables with the config's rcu/wcu, on-demand ones without (issue 9.6)", async () => {
    const shipped = fs.readFileSync(path.resolve(__dirname, "..", "..", "..", "config.yaml"), "utf8");
    const text = shipped.replace(/^(\s*)table_name: BanditsModelTable$/m, "$1table_name: CapModels\n$1rcu: 3\n$1wcu: 4").replace(/BanditsExperimentTable/, "CapExperiments");
    const settings = sageMakerSettingsFromConfig(parseConfig(text, "capacity.yaml"));
    assert.deepEqual(settings.tableCapacity, { experiment: null, model: { read: 3, write: 4 }, join: null });
    const capacityStore = new DynamoRecordStore(ddb.client, { tables: settings.tables, capacity: settings.tableCapacity, tableIntervalMs: 20, tableTimeoutMs: 10_000 });
    await capacityStore.create("model", "exp-h", "exp-h-model-1", model("exp-h", "exp-h-model-1"));
    await capacityStore.create("experiment", "exp-h", "exp-h", experiment("exp-h"));
    const models = (await ddb.client.send(new DescribeTableCommand({ TableName: "CapModels" }))).Table!;
    assert.equal(models.BillingModeSummary?.BillingMode ?? "PROVISIONED", "PROVISIONED");
    assert.deepEqual([models.ProvisionedThroughput?.ReadCapacityUnits, models.ProvisionedThroughput?.WriteCapacityUnits], [3, 4]);
    const experiments = (await ddb.client.send(new DescribeTableCommand({ TableName: "CapExperiments" }))).Table!;
    assert.equal(experiments.BillingModeSummary?.BillingMode, "PAY_PER_REQUEST");
  });
});
