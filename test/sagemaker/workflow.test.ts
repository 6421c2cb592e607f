/**
 * The whole workflow through the ExperimentManager with `local_mode: false`: every operation goes
 * through the SageMaker platform — S3 on s3rver, DynamoDB on dynalite, and SageMaker/Athena stood
 * in for by FakeCloud, which runs the container's real job and serve code and runs the Athena SQL
 * on DuckDB.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { SageMakerClient, CreateEndpointCommand, UpdateEndpointCommand, CreateTrainingJobCommand, StopTrainingJobCommand } from "@aws-sdk/client-sagemaker";
import { AthenaClient } from "@aws-sdk/client-athena";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { ExperimentManager, type JoinedRecord } from "@cbkit/common";
import { parseConfig } from "@cbkit/common/config";
import type { RuntimeClientSettings, TrainingJobRequest } from "@cbkit/common/platform";
import { Rng } from "@cbkit/common/util";
import { createSageMakerPlatform, readTar, type SageMakerPlatform } from "@cbkit/common/sagemaker";
import { FakeCloud } from "./fake-cloud";
import { BUCKET, DUMMY_CREDENTIALS, REGION, startDynamo, startS3, testSettings, type DynamoEmulator, type S3Emulator } from "./helpers";

const EXP = "exp-e2e";
const best = (o: number[]) => o.slice(0, 3).indexOf(Math.max(...o.slice(0, 3))) + 1;

function warmStart(n: number): JoinedRecord[] {
  const rng = new Rng(11);
  return Array.from({ length: n }, (_, i) => {
    const observation = Array.from({ length: 4 }, () => Math.round(rng.next() * 1000) / 1000);
    const action = 1 + rng.int(3);
    return { reward: action === best(observation) ? 1 : 0, event_id: `warm-${i}`, action, action_prob: 1 / 3, model_id: "not-apply-to-warm-start", observation, sample_prob: rng.next() };
  });
}

function config() {
  const doc = YAML.parse(fs.readFileSync(path.resolve(__dirname, "..", "..", "..", "config.yaml"), "utf8")) as Record<string, any>;
  doc.local_mode = false;
  doc.image = "123456789012.dkr.ecr.{AWS_REGION}.amazonaws.com/cbkit:latest";
  doc.algor.algorithms_parameters = { ...doc.algor.algorithms_parameters, num_arms: 3, num_features: 4, exploration_policy: "egreedy", epsilon: 0.1 };
  doc.sagemaker = { ...doc.sagemaker, region: REGION, bucket: BUCKET, role_arn: "arn:aws:iam::123456789012:role/CbKitExecution" };
  return parseConfig(YAML.stringify(doc));
}

describe("ExperimentManager with local_mode: false, end to end on the SageMaker platform", () => {
  let tmp: string;
  let s3: S3Emulator;
  let ddb: DynamoEmulator;
  let cloud: FakeCloud;
  let platform: SageMakerPlatform;
  let manager: ExperimentManager;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-e2e-"));
    s3 = await startS3();
    ddb = await startDynamo();
    const sagemaker = new SageMakerClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
    const athena = new AthenaClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
    const cloudwatch = new CloudWatchClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
    const fast = testSettings();
    platform = await createSageMakerPlatform(config(), {
      clients: { s3: s3.client, dynamodb: ddb.client, sagemaker, athena, cloudwatch },
      settings: {
        athenaDatabase: "cbkit_e2e",
        timeouts: { ...fast.timeouts, job: 30_000, endpoint: 30_000, decisions: 15_000 },
        intervals: { job: 20, endpoint: 20, query: 10, decisions: 50, table: 20 },
      },
      // Real time, but never more than 25 ms between polls of the (in-process) fake control plane.
      clock: { sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 25))) },
    });
    cloud = new FakeCloud(platform.objects, tmp, { sagemaker, athena, cloudwatch });
    // The Predictor reaches the fake endpoint through its capture proxy (SageMaker Runtime protocol).
    const runtime = await cloud.runtimeUrl();
    (platform.hosting as unknown as { runtimeClientSettings: () => Promise<RuntimeClientSettings> }).runtimeClientSettings = async () => ({ region: REGION, endpoint: runtime, credentials: DUMMY_CREDENTIALS });
    manager = await ExperimentManager.create(config(), EXP, { platform, log: () => undefined });
  });

  after(async () => {
    await manager?.close().catch(() => undefined);
    await cloud?.close();
    await s3?.stop();
    await ddb?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("runs warm start, train, evaluate, deploy, predict, join, retrain, blue/green redeploy and clean-up", async () => {
    await manager.ingestJoinedData(warmStart(300), 0.8);
    assert.match(manager.lastJoinedJobTrainData, new RegExp(`^s3://${BUCKET}/${EXP}/`));

    const first = await manager.initializeFirstModel({ inputDataUri: manager.lastJoinedJobTrainData });
    assert.equal(first.train_state, "Completed");
    assert.ok(await platform.objects.exists(`${first.s3_model_output_path}.tar.gz`), "SageMaker's packed artifact");
    assert.ok((await platform.objects.list(first.s3_model_output_path!)).length >= 2, "the unpacked model next to it");
    const firstScore = await manager.evaluateModel({ inputDataUri: manager.lastJoinedJobEvalData });
    assert.ok(firstScore.value >= 0 && firstScore.value <= 1);
    assert.equal(firstScore.estimator, "dr");

    const deployed = await manager.deployModel({ modelId: first.model_id });
    assert.equal(deployed.modelId, first.model_id);
    assert.equal(cloud.sm.commandCalls(CreateEndpointCommand).length, 1);

    // 100 decisions in 5 batched calls (getActions, application/jsonlines: the workshop's way),
    // 20 single calls, 10 of them with the caller's event id.
    const rng = new Rng(12);
    const observe = () => Array.from({ length: 4 }, () => Math.round(rng.next() * 1000) / 1000);
    const rewards: { event_id: string; reward: number }[] = [];
    const callsBefore = cloud.invocations;
    for (let b = 0; b < 5; b++) {
      const observations = Array.from({ length: 20 }, observe);
      const results = await manager.predictor.getActions(observations, b === 0 ? { eventIds: observations.map((_, i) => `batch-0-${i}`) } : {});
      assert.equal(results.length, 20);
      results.forEach((r, i) => {
        assert.equal(r.modelId, first.model_id);
        rewards.push({ event_id: r.eventId, reward: r.action === best(observations[i]) ? 1 : 0 });
      });
      if (b === 0) assert.deepEqual(results.map((r) => r.eventId), observations.map((_, i) => `batch-0-${i}`));
    }
    for (let i = 0; i < 20; i++) {
      const observation = observe();
      const eventId = i % 2 === 0 ? `caller-${i}-${"x".repeat(50)}` : undefined; // 60 characters: within InferenceId's 64
      const r = await manager.predictor.getAction(observation, eventId ? { eventId } : {});
      // SageMaker does not pass InferenceId to the container: the id arrives through the body.
      if (eventId) assert.equal(r.eventId, eventId);
      rewards.push({ event_id: r.eventId, reward: r.action === best(observation) ? 1 : 0 });
    }
    assert.equal(cloud.invocations - callsBefore, 25, "one InvokeEndpoint per getActions batch");
    // An event id SageMaker would refuse as InferenceId is refused before any call, naming the field.
    await assert.rejects(manager.predictor.getAction(observe(), { eventId: "e".repeat(65) }), /field 'eventId' has 65 characters; at most 64/);
    await assert.rejects(manager.predictor.getActions([observe()], { eventIds: [" leading-space"] }), /field 'eventIds\[0\]'/);
    assert.equal(cloud.invocations - callsBefore, 25, "refused ids never reach the endpoint");

    const rewardsUri = await manager.ingestRewards(rewards);
    const join = await manager.join(rewardsUri);
    assert.equal(join.current_state, "SUCCEEDED");
    assert.equal(join.counts?.decisions, 120, "every line of every batch is a decision");
    assert.equal(join.counts?.unmatchedRewards, 0);
    assert.equal((join.counts?.train ?? 0) + (join.counts?.eval ?? 0), 120);
    const joinedIds = new Set(
      (await Promise.all((await platform.objects.list(join.output_joined_train_data_s3_path)).concat(await platform.objects.list(join.output_joined_eval_data_s3_path)).map((o) => platform.objects.get(o.uri))))
        .flatMap((b) => b.toString("utf8").split("\n").slice(1))
        .filter((l) => l.trim())
        .map((l) => l.split(",")[1].replace(/"/g, "")),
    );
    assert.equal(joinedIds.size, 120);
    assert.ok(joinedIds.has("batch-0-19") && joinedIds.has(`caller-0-${"x".repeat(50)}`), "caller ids survive capture and join");

    // What data capture wrote: one record per call; a body is text only when its content type is
    // listed in the endpoint config's CaptureContentTypeHeader, base64 otherwise.
    const endpointConfig = [...cloud.configs.values()][0];
    const textTypes: string[] = endpointConfig.DataCaptureConfig.CaptureContentTypeHeader?.JsonContentTypes ?? [];
    const records = await cloud.captureRecords(endpointConfig.DataCaptureConfig.DestinationS3Uri);
    const batches = records.filter((r) => r.captureData.endpointInput.observedContentType === "application/jsonlines");
    assert.equal(batches.length, 5);
    for (const r of batches) {
      assert.equal(r.captureData.endpointInput.encoding, textTypes.includes("application/jsonlines") ? "JSON" : "BASE64");
      const text = r.captureData.endpointOutput.encoding === "BASE64" ? Buffer.from(r.captureData.endpointOutput.data, "base64").toString() : r.captureData.endpointOutput.data;
      assert.equal(text.trim().split("\n").length, 20);
      assert.match(r.eventMetadata.inferenceTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      assert.equal(r.eventMetadata.inferenceId, undefined);
    }
    assert.equal(records.filter((r) => r.eventMetadata.inferenceId?.startsWith("caller-")).length, 10, "single calls keep InferenceId for capture");
    assert.equal(join.join_query_ids.length, 5, "counts, split sizes, train, eval, and the joined ids");
    assert.equal(join.counts?.alreadyJoined, 0);
    const ids = await platform.objects.list(platform.objects.uriOf(platform.layout.joinedIdsPrefix(manager.experimentId, join.join_job_id)));
    assert.deepEqual(ids.map((o) => o.key.endsWith(".csv")), [true], "the joined ids, Athena's CSV only (the next join reads them)");
    // The same rewards again: Athena reads the ids of the successful join and joins nothing twice.
    await assert.rejects(manager.join(rewardsUri), (e: Error) => /already joined \d+/.test(e.message) && /every rewarded decision was joined before/.test(e.message));
    assert.equal(manager.lastJoinedJobId, join.join_job_id);
    assert.deepEqual((await platform.objects.list(join.output_joined_train_data_s3_path)).map((o) => o.key.endsWith(".csv")), [true], "only Athena's CSV");

    const second = await manager.trainNextModel({ inputDataUri: manager.lastJoinedJobTrainData });
    assert.equal(second.input_model_id, first.model_id);
    const warmStartJob = cloud.sm.commandCalls(CreateTrainingJobCommand).map((c) => c.args[0].input).find((i) => i.TrainingJobName === second.model_id)!;
    assert.deepEqual(warmStartJob.InputDataConfig?.map((c) => c.ChannelName), ["training", "pretrained_model"]);
    const seen = async (m: { s3_model_output_path: string | null }) =>
      (JSON.parse((await platform.objects.get(`${m.s3_model_output_path}/model.json`)).toString("utf8")) as { examplesSeen: number }).examplesSeen;
    assert.equal(await seen(second), (await seen(first)) + (join.counts?.train ?? 0), "the second model learned every joined train row, batched ones included");
    await manager.evaluateModel({ inputDataUri: manager.lastJoinedJobEvalData });

    await manager.deployModel({ modelId: second.model_id });
    assert.equal(cloud.sm.commandCalls(UpdateEndpointCommand).length, 1, "blue/green update, not a second CreateEndpoint");
    assert.equal(cloud.sm.commandCalls(CreateEndpointCommand).length, 1);
    const after = await manager.predictor.getAction([0.1, 0.9, 0.2, 0.3]);
    assert.equal(after.modelId, second.model_id);
    assert.equal(manager.lastHostedModelId, second.model_id);

    // A new manager on the same experiment (kernel restart, another notebook) resumes from DynamoDB.
    const resumed = await ExperimentManager.create(config(), EXP, { platform, log: () => undefined });
    assert.deepEqual(resumed.toJSON(), manager.toJSON());
    assert.equal(resumed.lastHostedModelId, second.model_id);
    assert.equal((await resumed.describeEndpoint())?.modelId, second.model_id);

    const metricNames = new Set(cloud.cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData?.[0].MetricName));
    assert.ok(metricNames.has("newly_trained_model_score") && metricNames.has("model_deployments"));

    const cleaned = await manager.cleanResource({ deleteData: true });
    assert.equal(cleaned.endpointDeleted, true);
    assert.equal(cloud.endpoint, null);
    assert.equal(cloud.models.size, 0);
    assert.equal(cloud.configs.size, 0);
    assert.deepEqual(await platform.objects.list(platform.objects.uriOf(EXP)), []);
    const tableRecords = await manager.cleanTableRecords();
    assert.equal(tableRecords.experiments, 1);
    assert.equal(tableRecords.models, 2);
  });

  it("says once what billable steps cost, and an interrupt (SIGINT) during a job's wait stops the job (issue 16.14)", async () => {
    const EXP3 = "exp-e2e-sigint";
    const messages: string[] = [];
    const m = await ExperimentManager.create(config(), EXP3, { platform, log: (line) => messages.push(line) });
    // The test's own listener: without the kit's, a SIGINT must not end this test process.
    const keepAlive = () => undefined;
    process.on("SIGINT", keepAlive);
    try {
      await m.ingestJoinedData(warmStart(100), 0.8);
      assert.ok(!messages.some((l) => l.startsWith("SageMaker mode bills")), "a client-side join bills nothing");
      await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData });
      await m.evaluateModel();
      const notices = messages.filter((l) => l.startsWith("SageMaker mode bills"));
      assert.equal(notices.length, 1, "once, before the first billable step");
      // The shipped fleets: jobs on ml.m5.large, the endpoint on one ml.t2.medium.
      assert.match(notices[0], /each training or evaluation job runs on ml\.m5\.large \(\$0\.115\/h\) for a few minutes; interrupting its wait .* stops the job/);
      assert.match(notices[0], /the endpoint runs on 1 × ml\.t2\.medium \(\$0\.056\/h, \$1\.34 a day\) until cleanResource\(\) deletes it, also after an error/);
      assert.match(notices[0], /on-demand, us-east-1, 2025/);

      // A slow job: it stays InProgress until stopped. Interrupt the wait for it.
      cloud.holdJobs = true;
      const stopsBefore = cloud.sm.commandCalls(StopTrainingJobCommand).length;
      const training = m.trainNextModel();
      const held = async () => [...cloud.jobs.entries()].find(([name, job]) => name.startsWith(`${EXP3}-model-`) && job.held);
      for (let i = 0; i < 400 && !(await held()); i++) await new Promise((r) => setTimeout(r, 10));
      const [jobName, job] = (await held())!;
      const interruptedAt = Date.now();
      process.kill(process.pid, "SIGINT");
      await assert.rejects(training, (e: Error) => /interrupted while waiting for training job/.test(e.message) && /was stopped \(StopTrainingJob\), so it does not keep billing/.test(e.message));
      assert.ok(Date.now() - interruptedAt < 5000, "at once, not at the job time-out");
      assert.deepEqual(cloud.sm.commandCalls(StopTrainingJobCommand).slice(stopsBefore).map((c) => c.args[0].input.TrainingJobName), [jobName]);
      assert.equal(job.status, "Stopped");
      const record = await m.getModelRecord(jobName);
      assert.equal(record.train_state, "Failed");
      assert.match(record.failure_reason ?? "", /interrupted/);
      assert.equal(process.listenerCount("SIGINT"), 1, "the kit's listener is gone once the wait ended");
    } finally {
      cloud.holdJobs = false;
      process.off("SIGINT", keepAlive);
      await m.cleanResource({ deleteData: true });
      await m.cleanTableRecords();
    }
  });

  it("builds the first model without data on this machine: no training job, and the artifact the training container writes (issue 16.16)", async () => {
    const EXP2 = "exp-e2e-nodata";
    const fresh = await ExperimentManager.create(config(), EXP2, { platform, log: () => undefined });
    // Records the request the manager hands the platform (and passes it on unchanged).
    const requests: TrainingJobRequest[] = [];
    const runner = platform.sageMakerJobs;
    const runTraining = runner.runTraining.bind(runner);
    runner.runTraining = (request) => (requests.push(request), runTraining(request));
    try {
      const jobsBefore = cloud.sm.commandCalls(CreateTrainingJobCommand).length;
      const first = await fresh.initializeFirstModel();
      assert.equal(cloud.sm.commandCalls(CreateTrainingJobCommand).length, jobsBefore, "no training job: nothing billed");
      // The record looks as it does after a job.
      assert.equal(first.train_state, "Completed");
      assert.equal(first.s3_model_output_path, platform.objects.uriOf(`${EXP2}/training_jobs/${first.model_id}/output/model`));
      assert.ok(first.training_start_time && first.training_end_time && first.training_start_time <= first.training_end_time);
      assert.equal(first.failure_reason, null);
      assert.equal((await fresh.getModelRecord(first.model_id)).train_state, "Completed");

      // The training container's own output for no data, run the way SageMaker runs a job (FakeCloud
      // runs the image's job code), with the very hyperparameters the manager gave the platform.
      const reference = `${first.model_id}-ref`;
      await platform.clients.sagemaker.send(
        new CreateTrainingJobCommand({
          TrainingJobName: reference,
          AlgorithmSpecification: { TrainingImage: platform.settings.image, TrainingInputMode: "File" },
          RoleArn: platform.settings.roleArn,
          HyperParameters: { ...requests[0].hyperparameters, cbkit_job: "train" },
          Environment: { CBKIT_JOB: "train" },
          OutputDataConfig: { S3OutputPath: platform.objects.uriOf(`${EXP2}/reference`) },
          ResourceConfig: { InstanceType: "ml.m5.large", InstanceCount: 1, VolumeSizeInGB: 5 },
          StoppingCondition: { MaxRuntimeInSeconds: 600 },
        }),
      );
      for (let i = 0; i < 200 && cloud.jobs.get(reference)?.status === "InProgress"; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(cloud.jobs.get(reference)?.status, "Completed");
      const ours = readTar(await platform.objects.get(`${first.s3_model_output_path}.tar.gz`));
      const theirs = readTar(await platform.objects.get(cloud.jobs.get(reference)!.artifact!));
      assert.deepEqual(ours.map((e) => e.path), theirs.map((e) => e.path).sort());
      const file = (entries: typeof ours, name: string) => entries.find((e) => e.path === name)!.data;
      assert.deepEqual(file(ours, "weights.bin"), file(theirs, "weights.bin"), "the same weights, byte for byte");
      const withoutTime = (data: Buffer) => ({ ...(JSON.parse(data.toString("utf8")) as Record<string, unknown>), createdAt: "-" });
      assert.deepEqual(withoutTime(file(ours, "model.json")), withoutTime(file(theirs, "model.json")), "the same model.json but for its creation time");
      const model = JSON.parse(file(ours, "model.json").toString("utf8")) as { modelId: string; examplesSeen: number };
      assert.deepEqual([model.modelId, model.examplesSeen], [first.model_id, 0]);

      // It deploys and serves like any model.
      await fresh.deployModel({ modelId: first.model_id });
      assert.equal((await fresh.predictor.getAction([0.1, 0.2, 0.3, 0.4])).modelId, first.model_id);
    } finally {
      runner.runTraining = runTraining;
      await fresh.cleanResource({ deleteData: true });
      await fresh.cleanTableRecords();
      // Not fresh.close(): it would close the platform the other tests share (after() does).
    }
  });
});
