/**
 * The whole loop end to end on the real parts: DuckDB record file, local bucket, training and
 * evaluation jobs (in-process and as child processes), the endpoint process over HTTP through the
 * SageMaker Runtime client, the SQL join.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { TrainingJobError, EvalScoreNotAvailableError, InvalidUsageError, type ExperimentManager } from "@cbkit/common";
import { entryPointScript } from "@cbkit/common/container";
import { StatlogSimApp, prepareStatlogWarmStartData } from "@cbkit/sim_app";
import { manager, readDecisionLog, tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("workflow");
const config = testConfig(ws);
const opened: ExperimentManager[] = [];
after(async () => {
  for (const m of opened) await m.cleanResource().catch(() => undefined);
  for (const m of opened) await m.close().catch(() => undefined);
  fs.rmSync(ws, { recursive: true, force: true });
});

test("warm start -> first model -> evaluate -> deploy -> interactions -> join -> retrain -> gate -> hot swap -> clean-up", async () => {
  const m = await manager(config, "wf-1");
  opened.push(m);
  assert.equal(m.toJSON().training_workflow_metadata.training_state, null);
  const warm = prepareStatlogWarmStartData({ batchSize: 300, seed: 3 });
  const wj = await m.ingestJoinedData(warm, 0.8);
  assert.equal(wj.current_state, "SUCCEEDED");
  assert.equal((wj.counts?.train ?? 0) + (wj.counts?.eval ?? 0), 300);
  assert.match(m.lastJoinedJobTrainData, /^file:\/\/.*\/bucket\/wf-1\/joined_data\/wf-1-join-[0-9a-z]{12}\/train$/);

  const first = await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData });
  assert.equal(first.train_state, "Completed");
  assert.match(m.lastTrainingLog, /Model learned using \d+ training experiences/);
  const s0 = await m.evaluateModel();
  assert.match(m.lastEvaluationLog, /evaluated using \d+ data instances/);
  assert.ok(s0.ci.lower <= s0.value && s0.value <= s0.ci.upper, "score inside its interval");
  assert.equal(s0.estimator, "dr");
  assert.deepEqual(await m.getEvalScore(), s0);

  const d = await m.deployModel({ modelId: first.model_id });
  assert.equal(d.modelId, first.model_id);
  assert.match(d.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const sim = new StatlogSimApp({ seed: 3 });
  const rewards: { event_id: string; reward: number }[] = [];
  for (let i = 0; i < 300; i++) {
    const u = sim.chooseRandomUser();
    const a = await m.predictor.getAction(u.context);
    assert.equal(a.modelId, first.model_id);
    assert.equal(a.pmf.length, 7);
    assert.ok(Math.abs(a.pmf.reduce((s, p) => s + p, 0) - 1) < 1e-9);
    assert.equal(a.actionProb, a.pmf[a.action - 1]);
    rewards.push({ event_id: a.eventId, reward: sim.rewardOf(u.userId, a.action) });
  }
  await m.publishRewards(rewards.reduce((s, r) => s + r.reward, 0) / rewards.length);
  assert.equal((await m.getPublishedRewards()).length, 1);

  const uri = await m.ingestRewards(rewards);
  const join = await m.join(uri, { ratio: 0.8 });
  assert.equal(join.counts?.decisions, 300);
  assert.equal((join.counts?.train ?? 0) + (join.counts?.eval ?? 0), 300);
  assert.equal(join.missing_reward_policy, "drop");

  // The holdout keeps every join's eval split (warm start + this join), for comparing models.
  const holdout = await m.platform.objects.list(m.holdoutDataUri);
  assert.equal(holdout.length, 2);
  assert.ok(holdout.some((o) => o.key.includes(join.join_job_id)));

  const next = await m.trainNextModel();
  assert.equal(next.input_model_id, first.model_id);
  const challenger = await m.evaluateModel({ modelId: next.model_id });
  const champion = await m.evaluateModel({ modelId: first.model_id });
  assert.equal(challenger.n, champion.n, "both scored on the same eval split");
  await assert.rejects(m.getEvalScore({ modelId: next.model_id, evalDataUri: m.lastJoinedJobTrainData }), EvalScoreNotAvailableError);

  const swapped = await m.deployModel({ modelId: next.model_id });
  assert.equal(swapped.pid, d.pid, "hot swap in the same process");
  assert.equal(await m.predictor.getHostedModelId(), next.model_id);
  const json = m.toJSON();
  assert.equal(json.training_workflow_metadata.training_state, "TRAINED");
  assert.equal(json.hosting_workflow_metadata.hosting_state, "DEPLOYED");
  assert.equal(json.hosting_workflow_metadata.last_hosted_model_id, next.model_id);
  assert.equal(json.joining_workflow_metadata.last_joined_job_id, join.join_job_id);
  assert.equal(json.evaluation_workflow_metadata.evaluation_state, "EVALUATED");

  // The decision log holds every answered decision.
  const logged = readDecisionLog(fileURLToPath(`${m.platform.objects.uriOf("wf-1/inference_data")}`));
  assert.ok(logged.length >= 300);

  const baseline = await m.evaluateHistoricalData(m.lastJoinedJobEvalData);
  assert.ok(baseline.cost >= 0 && baseline.cost <= 1 && baseline.n === join.counts?.eval);

  const cleaned = await m.cleanResource();
  assert.equal(cleaned.endpointDeleted, true);
  assert.equal(await m.describeEndpoint(), null);
  assert.equal(m.toJSON().hosting_workflow_metadata.hosting_endpoint, null);
  assert.throws(() => m.predictor, InvalidUsageError);
});

test("jobs also run as child processes (the container's form) and failures carry the failure file's reason", async () => {
  const m = await manager(config, "wf-proc", { jobMode: "process" });
  opened.push(m);
  await m.ingestJoinedData(prepareStatlogWarmStartData({ batchSize: 200, seed: 4 }), 0.8);
  const first = await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData });
  assert.equal(first.train_state, "Completed");
  const s = await m.evaluateModel();
  assert.equal(typeof s.value, "number");

  const badCfg = testConfig(ws);
  badCfg.algor = { ...badCfg.algor, algorithms_parameters: { ...badCfg.algor.algorithms_parameters, num_arms: 0 } };
  for (const jobMode of ["process", "in-process"] as const) {
    // The data goes in under a valid config (ingest would refuse actions above num_arms), the job runs under the bad one.
    const id = `wf-bad-${jobMode === "process" ? "p" : "i"}`;
    const good = await manager(config, id, { jobMode });
    opened.push(good);
    await good.ingestJoinedData(prepareStatlogWarmStartData({ batchSize: 100, seed: 4 }), 0.8);
    const bad = await manager(badCfg, id, { jobMode });
    opened.push(bad);
    await assert.rejects(bad.initializeFirstModel({ inputDataUri: bad.lastJoinedJobTrainData }), (err: unknown) => {
      assert.ok(err instanceof TrainingJobError);
      assert.match(err.message, /num_?arms|numArms/i);
      return true;
    });
    assert.equal(bad.toJSON().training_workflow_metadata.training_state, "FAILED");
  }
});

test("a first model without data is a fresh model; the empty-split and foreign-URI errors are clear", async () => {
  const m = await manager(config, "wf-empty");
  opened.push(m);
  const first = await m.initializeFirstModel();
  assert.equal(first.input_data_s3_prefix, null);
  const records = prepareStatlogWarmStartData({ batchSize: 50, seed: 5 });
  await assert.rejects(m.ingestJoinedData(records, 0.999999), /eval split .* would be empty/);
  await assert.rejects(m.trainNextModel({ inputDataUri: "file:///etc" }), /inputDataUri "file:\/\/\/etc" is outside this experiment.s data; pass a URI under/);
  await assert.rejects(m.deployModel({ modelId: "other-model-x" }), /does not belong to experiment/);
});

test("the container entry point runs as a plain process over an /opt/ml tree", () => {
  const root = tempWorkspace("optml");
  fs.mkdirSync(`${root}/input/config`, { recursive: true });
  fs.writeFileSync(`${root}/input/config/hyperparameters.json`, JSON.stringify({ num_arms: "7", exploration_policy: "egreedy", epsilon: "0.1", model_id: "m-1" }));
  const r = spawnSync(process.execPath, [entryPointScript("train"), "--root", root], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.readdirSync(`${root}/model`).length >= 1);
  const e = spawnSync(process.execPath, [entryPointScript("evaluate"), "--root", root], { encoding: "utf8" });
  assert.equal(e.status, 1);
  assert.match(fs.readFileSync(`${root}/output/failure`, "utf8"), /pretrained_model/);
  fs.rmSync(root, { recursive: true, force: true });
});
