/**
 * The manager on a disk that fills and frees, run as its own process by disk-full.test.ts (a
 * DuckDB FatalException used to abort the whole process, exit 134, which only a parent can see).
 * Usage: node disk-full-scenario.js <mounted small disk> (without it: exits 0 at once, as `npm test`
 * runs every file of build/test). Prints one JSON object per step:
 * {step, ok, error?: {name, message}}; exits 0 when it got to the end.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ExperimentManager, JobFailedError } from "@cbkit/common";
import { splitValueOf } from "@cbkit/common/data";
import { filler } from "../setup/small-disk";
import { syntheticJoined, testConfig } from "./helpers";

const dir = process.argv[2];
const disk = filler(dir ?? ".");
const say = (step: string, outcome: { ok: boolean; error?: unknown; extra?: Record<string, unknown> }) => {
  const e = outcome.error as Error | undefined;
  process.stdout.write(JSON.stringify({ step, ok: outcome.ok, ...(e ? { error: { name: e.name, message: e.message } } : {}), ...outcome.extra }) + "\n");
};
async function attempt(step: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
    say(step, { ok: true });
  } catch (error) {
    say(step, { ok: false, error });
  }
}

async function main(): Promise<void> {
  const config = testConfig(path.join(dir, "ws"));
  const m = await ExperimentManager.create(config, "df", { log: () => undefined });
  await m.ingestJoinedData(syntheticJoined(300, "w"), 0.8);
  await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData });
  // Decisions as the endpoint logs them, and their rewards, for a join later.
  const ids = Array.from({ length: 120 }, (_, i) => `d-${i}`);
  const now = Date.now() / 1000;
  const line = (id: string, i: number) =>
    JSON.stringify({ event_id: id, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "x", observation: Array(9).fill(0.5), sample_prob: splitValueOf(id), timestamp: now - 60 + i * 0.1 });
  await m.platform.objects.put(m.platform.objects.uriOf("df/inference_data/2026/01/01/00/decisions-1-1.jsonl"), ids.map(line).join("\n") + "\n");
  const rewards = await m.ingestRewards(ids.map((id, i) => ({ event_id: id, reward: i % 2 })));

  disk.fill(0);
  await attempt("train on a full disk", () => m.trainNextModel());
  await attempt("ingest on a full disk", () => m.ingestJoinedData(syntheticJoined(50, "x"), 0.8));
  await attempt("join on a full disk", () => m.join(rewards));
  await attempt("evaluate on a full disk", () => m.evaluateModel());
  // Below the reserve of the record database, not yet at 0: refused before DuckDB can run out.
  disk.free();
  disk.fill(1024 * 1024);
  await attempt("train with 1 MB free", () => m.trainNextModel());
  // The platform's own writers on a full disk: the join (DuckDB's CSVs) and a job's model files.
  disk.free();
  disk.fill(0);
  const p = m.platform;
  const joinId = "df-join-0000000000zz";
  await attempt("platform join on a full disk", () =>
    p.join({
      experimentId: "df",
      joinJobId: joinId,
      decisionsUri: p.objects.uriOf("df/inference_data"),
      rewardsUri: rewards,
      ratio: 0.8,
      missingReward: "drop",
      outputTrainUri: p.objects.uriOf(`df/joined_data/${joinId}/train`),
      outputEvalUri: p.objects.uriOf(`df/joined_data/${joinId}/eval`),
    }),
  );
  say("no partial join output", { ok: !fs.existsSync(path.join(dir, "ws", "bucket", "df", "joined_data", joinId, "train", "part-00000.csv")) });
  await attempt("training job on a full disk", () =>
    p.jobs.runTraining({
      experimentId: "df",
      jobName: "df-model-0000000000zz",
      hyperparameters: { model_id: "df-model-0000000000zz", num_arms: "7", num_features: "9" },
      trainingDataUri: m.lastJoinedJobTrainData,
      outputUri: p.objects.uriOf("df/training_jobs/df-model-0000000000zz/output/model"),
    }).catch((e: unknown) => {
      throw e instanceof JobFailedError ? Object.assign(new Error(e.failureReason), { name: "JobFailedError" }) : e;
    }),
  );
  say("failed job folder removed", { ok: !fs.existsSync(path.join(dir, "ws", "jobs", "df-model-0000000000zz")) });

  disk.free();
  await attempt("train after space was freed", () => m.trainNextModel());
  await attempt("join after space was freed", () => m.join(rewards));
  await attempt("evaluate after space was freed", () => m.evaluateModel());
  const models = await m.listModels();
  say("state", {
    ok: true,
    extra: { trainStates: models.map((r) => r.train_state), lastTrained: m.lastTrainedModelId, completed: models.filter((r) => r.train_state === "Completed").length },
  });
  await m.close();
}

// `npm test` runs every file of build/test, this one too: without a disk to work on it does nothing.
if (!dir) process.exit(0);

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`scenario failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(2);
  },
);
