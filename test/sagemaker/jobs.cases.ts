import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mockClient } from "aws-sdk-client-mock";
import { CreateTrainingJobCommand, DescribeTrainingJobCommand, SageMakerClient, StopTrainingJobCommand } from "@aws-sdk/client-sagemaker";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { AwsPermissionError, S3ObjectStore, SageMakerJobRunner, WaitTimeoutError, packedArtifactUri, readTar, writeTarGz } from "@cbkit/common/sagemaker";
import { JobFailedError } from "@cbkit/common";
import { scoreFixture } from "../ope/fixtures";
import { checkCreateTrainingJob } from "./fake-cloud";
import { BUCKET, DUMMY_CREDENTIALS, REGION, fakeClock, tarGz, testSettings, type S3Emulator, STORAGE_EMULATORS } from "./helpers";

const EXP = "exp-jobs";
const MODEL = `${EXP}-model-000000000001`;
const PARENT = `${EXP}-model-000000000000`;
const EVAL_JOB = `${MODEL}-eval-000000000002`;
const score = scoreFixture(0.25, 0.2, 0.3);

for (const emulator of STORAGE_EMULATORS) describe(`SageMakerJobRunner (SageMaker mocked, S3 on ${emulator.name})`, { skip: emulator.skip }, () => {
  let s3: S3Emulator;
  let store: S3ObjectStore;
  const client = new SageMakerClient({ region: REGION, credentials: DUMMY_CREDENTIALS });
  const sm = mockClient(client);
  const uri = (key: string) => store.uriOf(key);

  before(async () => {
    s3 = await emulator.s3();
    store = new S3ObjectStore(s3.client, BUCKET, REGION);
    await store.put(uri(`${EXP}/joined_data/j1/train/part-0.csv`), "reward,event_id\n");
    await store.put(uri(`${EXP}/joined_data/j1/eval/part-0.csv`), "reward,event_id\n");
    // The parent model exists only packed, as SageMaker leaves it.
    await store.put(uri(`${EXP}/training_jobs/${PARENT}/output/model.tar.gz`), tarGz({ "model.json": '{"w":[1]}', "metadata.json": "{}" }));
  });
  after(async () => s3.stop());
  beforeEach(() => sm.reset());

  const runner = (clock = fakeClock()) => new SageMakerJobRunner(client, store, testSettings(), clock);
  /** An evaluation of MODEL on the j1 evaluation split, as the manager asks for one. */
  const evaluation = (jobName: string, hyperparameters: Record<string, string> = {}) => ({
    experimentId: EXP,
    jobName,
    hyperparameters,
    evaluationDataUri: uri(`${EXP}/joined_data/j1/eval`),
    modelUri: uri(`${EXP}/training_jobs/${MODEL}/output/model`),
    outputUri: uri(`${EXP}/evaluation_jobs/${jobName}`),
  });

  it("submits a warm-start training job with the full request shape and waits for it", async () => {
    sm.on(CreateTrainingJobCommand).resolves({ TrainingJobArn: "arn:aws:sagemaker:us-west-2:123456789012:training-job/x" });
    sm.on(DescribeTrainingJobCommand)
      .resolvesOnce({ TrainingJobStatus: "InProgress", SecondaryStatus: "Starting" })
      .resolvesOnce({ TrainingJobStatus: "InProgress", SecondaryStatus: "Training" })
      .callsFake(async () => {
        // SageMaker packs /opt/ml/model into the artifact when the job ends.
        await store.put(uri(`${EXP}/training_jobs/${MODEL}/output/model.tar.gz`), tarGz({ "model.json": '{"w":[2]}', "metadata.json": '{"modelId":"m"}' }));
        return {
          TrainingJobStatus: "Completed",
          TrainingStartTime: new Date("2026-11-28T12:00:00Z"),
          TrainingEndTime: new Date("2026-11-28T12:03:00Z"),
          ModelArtifacts: { S3ModelArtifacts: `s3://${BUCKET}/${EXP}/training_jobs/${MODEL}/output/model.tar.gz` },
        };
      });
    const clock = fakeClock();
    const result = await runner(clock).runTraining({
      experimentId: EXP,
      jobName: MODEL,
      hyperparameters: { num_arms: "7", exploration_policy: "egreedy", epsilon: "0.001", model_id: MODEL },
      trainingDataUri: uri(`${EXP}/joined_data/j1/train`),
      pretrainedModelUri: uri(`${EXP}/training_jobs/${PARENT}/output/model`),
      outputUri: uri(`${EXP}/training_jobs/${MODEL}/output/model`),
    });
    const input = sm.commandCalls(CreateTrainingJobCommand)[0].args[0].input;
    assert.deepEqual(input, {
      TrainingJobName: MODEL,
      AlgorithmSpecification: { TrainingImage: "123456789012.dkr.ecr.us-west-2.amazonaws.com/cbkit:latest", TrainingInputMode: "File" },
      RoleArn: "arn:aws:iam::123456789012:role/CbKitExecution",
      HyperParameters: { num_arms: "7", exploration_policy: "egreedy", epsilon: "0.001", model_id: MODEL, cbkit_job: "train" },
      Environment: { CBKIT_JOB: "train" },
      InputDataConfig: [
        {
          ChannelName: "training",
          DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: `s3://${BUCKET}/${EXP}/joined_data/j1/train/`, S3DataDistributionType: "FullyReplicated" } },
          InputMode: "File",
        },
        {
          ChannelName: "pretrained_model",
          DataSource: {
            S3DataSource: { S3DataType: "S3Prefix", S3Uri: `s3://${BUCKET}/${EXP}/training_jobs/${PARENT}/output/model/`, S3DataDistributionType: "FullyReplicated" },
          },
          InputMode: "File",
        },
      ],
      OutputDataConfig: { S3OutputPath: `s3://${BUCKET}/${EXP}/training_jobs` },
      ResourceConfig: { InstanceType: "ml.c5.xlarge", InstanceCount: 1, VolumeSizeInGB: 5 },
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      Tags: [{ Key: "cbkit:job", Value: "train" }],
    });
    // The parent was unpacked for the channel (SageMaker never unpacks channels).
    assert.deepEqual((await store.list(uri(`${EXP}/training_jobs/${PARENT}/output/model`))).map((o) => o.key.split("/").pop()).sort(), ["metadata.json", "model.json"]);
    // The new model is unpacked next to its archive, ready for warm start and evaluation.
    assert.equal((await store.get(uri(`${EXP}/training_jobs/${MODEL}/output/model/model.json`))).toString(), '{"w":[2]}');
    assert.equal(result.modelArtifactUri, uri(`${EXP}/training_jobs/${MODEL}/output/model`));
    assert.equal(result.startTime, "2026-11-28T12:00:00.000Z");
    assert.equal(result.endTime, "2026-11-28T12:03:00.000Z");
    assert.match(result.logs, /\/aws\/sagemaker\/TrainingJobs/);
    assert.equal(sm.commandCalls(DescribeTrainingJobCommand).length, 3);
    assert.deepEqual(clock.sleeps, [1000, 1500], "bounded, growing poll intervals");
  });

  it("builds a first model without data here, uploads it as a job would leave it, and starts no job (issue 16.16)", async () => {
    const first = `${EXP}-model-000000000009`;
    const outputUri = uri(`${EXP}/training_jobs/${first}/output/model`);
    const hyperparameters = { num_arms: "7", num_features: "9", exploration_policy: "egreedy", epsilon: "0.001", seed: "1", model_id: first };
    // An earlier attempt at this model left a file of its own.
    await store.put(`${outputUri}/stale.bin`, "from an earlier attempt");
    const result = await runner().runTraining({ experimentId: EXP, jobName: first, hyperparameters, outputUri });
    assert.equal(sm.commandCalls(CreateTrainingJobCommand).length, 0, "no billed job");
    assert.equal(result.modelArtifactUri, outputUri);
    assert.equal(result.status, "Completed");
    assert.ok(Date.parse(result.startTime) <= Date.parse(result.endTime));
    assert.match(result.logs, /no job started, nothing billed/);
    assert.match(result.logs, /Model learned using 0 training experiences/);
    // The packed artifact hosting deploys, and the same files unpacked for warm start and evaluation.
    const packed = readTar(await store.get(packedArtifactUri(outputUri)));
    assert.deepEqual(packed.map((e) => e.path), ["model.json", "weights.bin"]);
    for (const entry of packed) assert.deepEqual(await store.get(`${outputUri}/${entry.path}`), entry.data, entry.path);
    assert.deepEqual((await store.list(outputUri)).map((o) => o.key.slice(store.keyOf(outputUri).length + 1)), ["model.json", "weights.bin"], "nothing of the earlier attempt");
    const model = JSON.parse(packed[0].data.toString("utf8")) as { modelId: string; examplesSeen: number; numArms: number };
    assert.deepEqual([model.modelId, model.examplesSeen, model.numArms], [first, 0, 7]);
  });

  it("fails a first model that cannot be built as a failed job, and uploads nothing", async () => {
    const first = `${EXP}-model-000000000010`;
    const outputUri = uri(`${EXP}/training_jobs/${first}/output/model`);
    await assert.rejects(
      runner().runTraining({ experimentId: EXP, jobName: first, hyperparameters: { num_arms: "x", model_id: first }, outputUri }),
      (e: Error) =>
        e instanceof JobFailedError && e.jobName === first && /^LearnerError: num_arms: must be an integer/.test(e.failureReason) && /no job started, nothing billed/.test(e.logs),
    );
    assert.deepEqual(await store.list(outputUri), []);
    assert.equal(await store.exists(packedArtifactUri(outputUri)), false);
    assert.equal(sm.commandCalls(CreateTrainingJobCommand).length, 0);
  });

  it("writes tar.gz archives the system tar reads back byte for byte", () => {
    const files = [
      { path: "model.json", data: Buffer.from('{"a":1}\n') },
      { path: "weights.bin", data: Buffer.from(Array.from({ length: 1500 }, (_, i) => i % 251)) },
      { path: "sub/empty.txt", data: Buffer.alloc(0) },
    ];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-tar-write-"));
    try {
      fs.writeFileSync(path.join(dir, "a.tar.gz"), writeTarGz(files, new Date("2026-01-02T03:04:05Z")));
      const listing = execFileSync("tar", ["-tvzf", path.join(dir, "a.tar.gz")], { encoding: "utf8" });
      assert.match(listing, /-rw-r--r-- .*1500 2026-01-02 0\d:04 weights\.bin/);
      fs.mkdirSync(path.join(dir, "out"));
      execFileSync("tar", ["-xzf", path.join(dir, "a.tar.gz"), "-C", path.join(dir, "out")]);
      for (const f of files) assert.deepEqual(fs.readFileSync(path.join(dir, "out", f.path)), f.data, f.path);
      assert.deepEqual(readTar(writeTarGz(files)).map((e) => [e.path, e.data.length]), files.map((f) => [f.path, f.data.length]));
      assert.throws(() => writeTarGz([{ path: "../x", data: Buffer.alloc(1) }]), /without '\.\.'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("surfaces DescribeTrainingJob's FailureReason as a JobFailedError", async () => {
    sm.on(CreateTrainingJobCommand).resolves({});
    sm.on(DescribeTrainingJobCommand).resolvesOnce({ TrainingJobStatus: "InProgress" }).resolves({
      TrainingJobStatus: "Failed",
      FailureReason: "AlgorithmError: Error: hyperparameter 'num_arms' must be an integer >= 2, got 'x'",
    });
    await assert.rejects(
      runner().runTraining({
        experimentId: EXP,
        jobName: `${EXP}-model-000000000003`,
        hyperparameters: { num_arms: "x" },
        trainingDataUri: uri(`${EXP}/joined_data/j1/train`),
        outputUri: uri(`${EXP}/training_jobs/${EXP}-model-000000000003/output/model`),
      }),
      (e: Error) =>
        e instanceof JobFailedError && e.jobName === `${EXP}-model-000000000003` && /Failed: AlgorithmError: .*num_arms/.test(e.message) && /TrainingJobs/.test(e.logs),
    );
  });

  it("reports a stopped job, and gives up waiting at the timeout (D-7/D-11)", async () => {
    sm.on(CreateTrainingJobCommand).resolves({});
    sm.on(DescribeTrainingJobCommand).resolves({ TrainingJobStatus: "Stopped" });
    const request = { experimentId: EXP, jobName: `${EXP}-model-000000000004`, hyperparameters: {}, trainingDataUri: uri(`${EXP}/joined_data/j1/train`), outputUri: uri(`${EXP}/training_jobs/${EXP}-model-000000000004/output/model`) };
    await assert.rejects(runner().runTraining(request), /Stopped: stopped \(MaxRuntimeInSeconds/);
    sm.reset();
    sm.on(CreateTrainingJobCommand).resolves({});
    sm.on(DescribeTrainingJobCommand).resolves({ TrainingJobStatus: "InProgress", SecondaryStatus: "Downloading" });
    sm.on(StopTrainingJobCommand).resolves({});
    const clock = fakeClock();
    await assert.rejects(
      runner(clock).runTraining(request),
      (e: Error) => e instanceof WaitTimeoutError && /InProgress\/Downloading/.test(e.message) && /was stopped \(StopTrainingJob\)/.test(e.message),
    );
    assert.ok(clock.now() - fakeClock().now() >= 60_000 && clock.now() - fakeClock().now() < 61_000, "stopped at the 60 s bound");
    // The job would bill until MaxRuntimeInSeconds: the timed-out wait stops it.
    assert.deepEqual(sm.commandCalls(StopTrainingJobCommand).map((c) => c.args[0].input), [{ TrainingJobName: request.jobName }]);
  });

  it("says so when stopping a timed-out job fails, and when the job ended meanwhile", async () => {
    const request = { experimentId: EXP, jobName: `${EXP}-model-000000000006`, hyperparameters: {}, trainingDataUri: uri(`${EXP}/joined_data/j1/train`), outputUri: uri(`${EXP}/training_jobs/${EXP}-model-000000000006/output/model`) };
    sm.on(CreateTrainingJobCommand).resolves({});
    sm.on(DescribeTrainingJobCommand).resolves({ TrainingJobStatus: "InProgress", SecondaryStatus: "Training" });
    sm.on(StopTrainingJobCommand).rejects(
      Object.assign(new Error("User: arn:aws:iam::1:user/x is not authorized to perform: sagemaker:StopTrainingJob"), { name: "AccessDeniedException", $metadata: { httpStatusCode: 400 } }),
    );
    await assert.rejects(runner().runTraining(request), (e: Error) => e instanceof WaitTimeoutError && /Stopping training job .* failed too/.test(e.message) && /stop it in the SageMaker console/.test(e.message));
    sm.reset();
    sm.on(CreateTrainingJobCommand).resolves({});
    sm.on(DescribeTrainingJobCommand).resolves({ TrainingJobStatus: "InProgress", SecondaryStatus: "Uploading" });
    sm.on(StopTrainingJobCommand).rejects(Object.assign(new Error("The request was rejected because the training job is in status Completed."), { name: "ValidationException", $metadata: { httpStatusCode: 400 } }));
    await assert.rejects(runner().runTraining(request), (e: Error) => e instanceof WaitTimeoutError && /had ended \(or was already stopping\) meanwhile/.test(e.message));
  });

  it("stops the job of an abandoned step, takes an ended job calmly and reports a refused stop or an unknown job", async () => {
    const job = `${EXP}-model-000000000009`;
    sm.on(StopTrainingJobCommand).resolves({});
    await runner().stop(job);
    assert.deepEqual(sm.commandCalls(StopTrainingJobCommand).map((c) => c.args[0].input), [{ TrainingJobName: job }]);
    sm.reset();
    sm.on(StopTrainingJobCommand).rejects(Object.assign(new Error("The request was rejected because the training job is in status Failed."), { name: "ValidationException", $metadata: { httpStatusCode: 400 } }));
    await runner().stop(job);
    // The manager never stops a first model built without a job, so a job SageMaker does not know is a wrong name: said, not taken as ended.
    sm.reset();
    sm.on(StopTrainingJobCommand).rejects(Object.assign(new Error("Requested resource not found."), { name: "ValidationException", $metadata: { httpStatusCode: 400 } }));
    await assert.rejects(runner().stop(job), /Requested resource not found/);
    sm.reset();
    sm.on(StopTrainingJobCommand).rejects(Object.assign(new Error("not authorized to perform: sagemaker:StopTrainingJob"), { name: "AccessDeniedException", $metadata: { httpStatusCode: 400 } }));
    await assert.rejects(runner().stop(job), /StopTrainingJob/);
  });

  it("stops a timed-out evaluation job too", async () => {
    const job = `${MODEL}-eval-000000000008`;
    sm.on(CreateTrainingJobCommand).resolves({});
    sm.on(DescribeTrainingJobCommand).resolves({ TrainingJobStatus: "InProgress", SecondaryStatus: "Training" });
    sm.on(StopTrainingJobCommand).resolves({});
    await assert.rejects(
      runner().runEvaluation(evaluation(job)),
      WaitTimeoutError,
    );
    assert.deepEqual(sm.commandCalls(StopTrainingJobCommand).map((c) => c.args[0].input.TrainingJobName), [job]);
  });

  it("refuses empty channels and bad names before submitting", async () => {
    await assert.rejects(
      runner().runTraining({ experimentId: EXP, jobName: MODEL, hyperparameters: {}, trainingDataUri: uri(`${EXP}/joined_data/none/train`), outputUri: uri(`${EXP}/training_jobs/${MODEL}/output/model`) }),
      /channel 'training': nothing under/,
    );
    await assert.rejects(
      runner().runTraining({ experimentId: EXP, jobName: "bad_name", hyperparameters: {}, outputUri: uri(`${EXP}/training_jobs/bad_name/output/model`) }),
      /not a valid SageMaker name/,
    );
    assert.equal(sm.commandCalls(CreateTrainingJobCommand).length, 0);
  });

  it("turns AccessDenied (e.g. a missing iam:PassRole) into the permission list", async () => {
    const denied = Object.assign(new Error("User: arn:aws:iam::1:user/x is not authorized to perform: iam:PassRole on resource: role"), {
      name: "AccessDeniedException",
      $metadata: { httpStatusCode: 400 },
    });
    sm.on(CreateTrainingJobCommand).rejects(denied);
    await assert.rejects(
      runner().runTraining({ experimentId: EXP, jobName: `${EXP}-model-000000000005`, hyperparameters: {}, trainingDataUri: uri(`${EXP}/joined_data/j1/train`), outputUri: uri(`${EXP}/training_jobs/${EXP}-model-000000000005/output/model`) }),
      (e: Error) => e instanceof AwsPermissionError && /iam:PassRole/.test(e.message) && /sagemaker:CreateTrainingJob/.test(e.message),
    );
  });

  it("runs an evaluation and reads score.json from the job's artifact (no log scraping)", async () => {
    sm.on(CreateTrainingJobCommand).resolves({});
    sm.on(DescribeTrainingJobCommand).callsFake(async () => {
      await store.put(uri(`${EXP}/evaluation_jobs/${EVAL_JOB}/output/model.tar.gz`), tarGz({ "score.json": JSON.stringify(score) }));
      return { TrainingJobStatus: "Completed" };
    });
    const result = await runner().runEvaluation(evaluation(EVAL_JOB, { cfa_type: "dr", num_arms: "7" }));
    const input = sm.commandCalls(CreateTrainingJobCommand)[0].args[0].input;
    assert.deepEqual(input.InputDataConfig?.map((c) => [c.ChannelName, c.DataSource?.S3DataSource?.S3Uri]), [
      ["evaluation", `s3://${BUCKET}/${EXP}/joined_data/j1/eval/`],
      ["pretrained_model", `s3://${BUCKET}/${EXP}/training_jobs/${MODEL}/output/model/`],
    ]);
    assert.equal(input.OutputDataConfig?.S3OutputPath, `s3://${BUCKET}/${EXP}/evaluation_jobs`);
    assert.equal(input.ResourceConfig?.InstanceType, "ml.m5.large");
    assert.deepEqual(input.Environment, { CBKIT_JOB: "evaluate" });
    assert.equal(input.HyperParameters?.cbkit_job, "evaluate");
    assert.deepEqual(result.score, score);
    assert.equal(result.scoreUri, uri(`${EXP}/evaluation_jobs/${EVAL_JOB}/score.json`));
    assert.deepEqual(JSON.parse((await store.get(result.scoreUri)).toString()), score);
  });

  it("fails clearly when the evaluation left no score, or a malformed one", async () => {
    const job = `${MODEL}-eval-000000000007`;
    sm.on(CreateTrainingJobCommand).resolves({});
    sm.on(DescribeTrainingJobCommand).resolves({ TrainingJobStatus: "Completed" });
    const request = evaluation(job);
    await assert.rejects(runner().runEvaluation(request), (e: Error) => e instanceof JobFailedError && /wrote no score.json/.test(e.message));
    await store.put(uri(`${EXP}/evaluation_jobs/${job}/output/output.tar.gz`), tarGz({ "data/score.json": '{"score":"n.a."}' }));
    await assert.rejects(runner().runEvaluation(request), /lacks a finite score/);
  });

  it("reads ustar, GNU long-name and pax tar entries", () => {
    const long = `${"d".repeat(120)}/score.json`;
    const entries = readTar(tarGz({ [long]: "{}", "a/b.txt": "hello" }));
    assert.deepEqual(entries.map((e) => [e.path, e.data.toString()]).sort(), [["a/b.txt", "hello"], [long, "{}"]]);
  });
});
