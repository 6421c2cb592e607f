/**
 * Joins: decisions joined with their rewards, split into train and eval data and stored as a
 * join job — on the client side from records already joined (`ingestJoinedData`, the original's
 * "dummy" join), or by the platform's SQL join of the decision log with ingested rewards (`join`).
 */
import { JOINED_CSV_HEADER, eventTimeProblem, eventTimeWindow, joinedCsvLine, splitOfValue } from "../../data";
import type { JoinedRecord } from "../../data/records";
import { rewardProblem } from "../../data/rewards";
import { DUPLICATE_REWARD_RULE } from "../../join/sql";
import { joinWarnings } from "../../platform/join-report";
import type { JoinJobRecord, RewardRecord } from "../../platform/types";
import type { StepContext } from "../context";
import { InvalidUsageError, JoiningError } from "../errors";
import { checkEventId, newJoinJobId, sortableSuffix } from "../ids";
import { joinedIdsUri, readJoinedIds, removeStrayHoldouts, successfulJoinIds, writeJoinedIds } from "../joined-ids";
import { clone } from "../state";
import { runStep, type Step } from "../steps";
import { checkJoinRatio, checkReward, normalizeJoinedRecord, taskBounds } from "../validation";

/** Sentinel of the original for joins made on the client side (`ingestJoinedData`). */
export const LOCAL_JOIN_SENTINEL = "local-join-does-not-apply";

/** The inputs and rules a join job's record states. */
type JoinInputs = Pick<
  JoinJobRecord,
  | "current_state"
  | "input_obs_data_s3_path"
  | "obs_start_time"
  | "obs_end_time"
  | "input_reward_data_s3_path"
  | "ratio"
  | "missing_reward_policy"
  | "duplicate_reward_rule"
>;

/** What a join produced: its counts, (Athena) query ids, and what it left out and why. */
type JoinOutput = Pick<JoinJobRecord, "counts" | "join_query_ids"> & { warnings: string[] };

/**
 * Stores records already joined with their rewards, split by `sample_prob <= ratio`, as a join
 * job's train and eval CSVs. Both splits must be non-empty.
 */
export function ingestJoinedData(ctx: StepContext, records: readonly unknown[], ratio: number): Promise<JoinJobRecord> {
  if (!Array.isArray(records) || records.length === 0) throw new InvalidUsageError("ingestJoinedData needs a non-empty array of joined records");
  checkJoinRatio(ratio);
  const bounds = taskBounds(ctx.config);
  const firstIndex = new Map<string, number>();
  const rows = records.map((r, i) => {
    const row = normalizeJoinedRecord(r, i, bounds);
    checkEventIdAt(row.event_id, `joined record ${i}`);
    // Two records of one event: which reward is right is the caller's to say, so none is kept.
    const earlier = firstIndex.get(row.event_id);
    if (earlier !== undefined) {
      const given = (r as { event_id?: unknown }).event_id;
      const lossy = typeof given === "number" && !Number.isSafeInteger(given) ? " (given as a number beyond 2^53, it lost its last digits in JavaScript: pass event ids as strings)" : "";
      throw new InvalidUsageError(
        `joined record ${i}: field 'event_id' ${JSON.stringify(row.event_id)} is also joined record ${earlier}'s${lossy}: a decision joins once; ` +
          "remove one of the two (which reward is right can not be told here)",
      );
    }
    firstIndex.set(row.event_id, i);
    return row;
  });
  /** The rows not joined before, split; throws when a split would be empty. */
  const split = (joinedBefore: ReadonlySet<string>) => {
    const fresh = rows.filter((r) => !joinedBefore.has(r.event_id));
    const train = fresh.filter((r) => splitOfValue(r.sample_prob, ratio) === "train");
    const evalRows = fresh.filter((r) => splitOfValue(r.sample_prob, ratio) === "eval");
    const already = rows.length - fresh.length;
    if (train.length === 0 || evalRows.length === 0) {
      throw new JoiningError(
        already === rows.length
          ? `all ${rows.length} records were joined before by earlier joins of experiment ${ctx.experimentId} (a decision joins once): nothing new to store`
          : `the ${train.length === 0 ? "train" : "eval"} split of ${fresh.length} records would be empty with ratio ${ratio} ` +
              `(train ${train.length}, eval ${evalRows.length}${already ? `, ${already} already joined by earlier joins` : ""}); give more records or another ratio`,
      );
    }
    return { train, evalRows, already };
  };
  split(new Set()); // refuse an empty split before any step starts
  return runStep(ctx, {
    workflow: "joining",
    async prepare() {
      // Nothing new at all: refused before a step starts (checked again, exactly, once the step runs).
      split(await readJoinedIds(ctx, await successfulJoinIds(ctx)));
      const joinJobId = newJoinJobId(ctx.experimentId);
      const inputs: JoinInputs = {
        current_state: "PENDING",
        input_obs_data_s3_path: LOCAL_JOIN_SENTINEL,
        obs_start_time: null,
        obs_end_time: null,
        input_reward_data_s3_path: LOCAL_JOIN_SENTINEL,
        ratio,
        missing_reward_policy: "drop",
        duplicate_reward_rule: "none: records arrive already joined (split on their sample_prob <= ratio)",
      };
      return joinStep(ctx, joinJobId, inputs, `storing the joined data of ${joinJobId} failed`, async (trainUri, evalUri, joinedBefore) => {
        const { train, evalRows, already } = split(await readJoinedIds(ctx, joinedBefore));
        const stamp = sortableSuffix();
        const csv = (rs: JoinedRecord[]) => [JOINED_CSV_HEADER, ...rs.map(joinedCsvLine)].join("\n") + "\n";
        await ctx.platform.objects.put(`${trainUri}/local-joined-data-${stamp}.csv`, csv(train));
        await ctx.platform.objects.put(`${evalUri}/local-joined-data-${stamp}.csv`, csv(evalRows));
        await writeJoinedIds(ctx, joinJobId, [...train, ...evalRows].map((r) => r.event_id));
        const counts = {
          decisions: rows.length,
          rewards: rows.length,
          duplicateRewards: 0,
          unmatchedRewards: 0,
          missingRewards: 0,
          train: train.length,
          eval: evalRows.length,
          alreadyJoined: already,
        };
        return { counts, join_query_ids: [], warnings: joinWarnings(counts) };
      });
    },
  });
}

export interface JoinOptions {
  ratio?: number;
  obsTimeWindow?: number;
  defaultReward?: number | null;
}

/**
 * Joins the decision log with the rewards under `rewardsUri` by event id (the platform's SQL),
 * splits by the event-id hash and stores both splits as a join job. `obsTimeWindow` (hours) keeps
 * only decisions of the last hours; `defaultReward` (default: config `workflow.default_reward`)
 * gives decisions without a reward that reward instead of leaving them out.
 */
export function join(ctx: StepContext, rewardsUri: string, options: JoinOptions): Promise<JoinJobRecord> {
  const ratio = options.ratio ?? ctx.config.workflow.join_ratio;
  checkJoinRatio(ratio);
  if (options.obsTimeWindow !== undefined && !(options.obsTimeWindow > 0)) {
    throw new InvalidUsageError(`obsTimeWindow must be a positive number of hours, got ${options.obsTimeWindow}`);
  }
  // The configured default was checked when config.yaml loaded; one given here is checked the same way.
  const defaultRewardProblem = options.defaultReward == null ? null : rewardProblem(options.defaultReward, taskBounds(ctx.config));
  if (defaultRewardProblem !== null) throw new InvalidUsageError(`defaultReward ${defaultRewardProblem}; give a reward in the range, or null to leave decisions without a reward out`);
  rewardsUri = ctx.checkUri(rewardsUri, "rewardsUri");
  const { platform, experimentId } = ctx;
  return runStep(ctx, {
    workflow: "joining",
    async prepare() {
      const joinJobId = newJoinJobId(experimentId);
      const end = new Date();
      const window = options.obsTimeWindow
        ? { start: new Date(end.getTime() - options.obsTimeWindow * 3600_000).toISOString(), end: end.toISOString() }
        : undefined;
      if (!window) ctx.log("join: no obsTimeWindow given, all logged decisions are joined");
      const defaultReward = options.defaultReward !== undefined ? options.defaultReward : ctx.config.workflow.default_reward;
      const missing = defaultReward == null ? ("drop" as const) : { defaultReward };
      const decisionsUri = platform.objects.uriOf(platform.layout.decisionLogPrefix(experimentId));
      const inputs: JoinInputs = {
        current_state: "RUNNING",
        input_obs_data_s3_path: decisionsUri,
        obs_start_time: window?.start ?? null,
        obs_end_time: window?.end ?? null,
        input_reward_data_s3_path: rewardsUri,
        ratio,
        missing_reward_policy: missing === "drop" ? "drop" : { default_reward: missing.defaultReward },
        duplicate_reward_rule: DUPLICATE_REWARD_RULE,
      };
      const { min_reward: minReward, max_reward: maxReward } = ctx.config.workflow;
      return joinStep(ctx, joinJobId, inputs, `join ${joinJobId} failed`, async (outputTrainUri, outputEvalUri, joinedBefore) => {
        const result = await platform.join({
          experimentId,
          joinJobId,
          decisionsUri,
          rewardsUri,
          ratio,
          window,
          missingReward: missing,
          outputTrainUri,
          outputEvalUri,
          rewardRange: { minReward, maxReward },
          rewardTimes: eventTimeWindow(),
          joinedIdsUris: joinedBefore.map((id) => joinedIdsUri(ctx, id)),
          outputJoinedIdsUri: joinedIdsUri(ctx, joinJobId),
        });
        return { counts: result.counts, join_query_ids: result.queryIds, warnings: result.warnings ?? [] };
      });
    },
  });
}

/**
 * The step of a join job whose `run` writes the train and eval splits at the URIs it is given,
 * leaving out the events of `joinedBefore` (the experiment's successful joins, read once the step
 * owns the joining workflow, so no other join can succeed meanwhile).
 */
function joinStep(
  ctx: StepContext,
  joinJobId: string,
  inputs: JoinInputs,
  failedMessage: string,
  run: (trainUri: string, evalUri: string, joinedBefore: string[]) => Promise<JoinOutput>,
): Step<"joining", JoinOutput, JoinJobRecord> {
  const { platform, experimentId } = ctx;
  const splitUri = (split: "train" | "eval") => platform.objects.uriOf(platform.layout.joinedPrefix(experimentId, joinJobId, split));
  const trainUri = splitUri("train");
  const evalUri = splitUri("eval");
  return {
    id: joinJobId,
    states: { open: inputs.current_state as string, done: "SUCCEEDED" },
    record: {
      create: () => ({
        experiment_id: experimentId,
        join_job_id: joinJobId,
        current_state: inputs.current_state,
        input_obs_data_s3_path: inputs.input_obs_data_s3_path,
        obs_start_time: inputs.obs_start_time,
        obs_end_time: inputs.obs_end_time,
        input_reward_data_s3_path: inputs.input_reward_data_s3_path,
        output_joined_train_data_s3_path: trainUri,
        output_joined_eval_data_s3_path: evalUri,
        join_query_ids: [],
        ratio: inputs.ratio,
        missing_reward_policy: inputs.missing_reward_policy,
        duplicate_reward_rule: inputs.duplicate_reward_rule,
        counts: null,
        failure_reason: null,
      }),
    },
    async run() {
      const joinedBefore = await successfulJoinIds(ctx, joinJobId);
      const stray = await removeStrayHoldouts(ctx, joinedBefore, joinJobId);
      if (stray.length) ctx.log(`join ${joinJobId}: removed the holdout copies of ${stray.length} join(s) that did not succeed (${stray.join(", ")}); their events join again now`);
      const output = await run(trainUri, evalUri, joinedBefore);
      await copyToHoldout(ctx, evalUri, joinJobId);
      return output;
    },
    succeeded: {
      record(r, output) {
        r.current_state = "SUCCEEDED";
        r.counts = output.counts;
        r.join_query_ids = output.join_query_ids;
      },
      value(output, record) {
        ctx.state.lastJoin = record;
        ctx.log(`join ${joinJobId}: ${output.counts?.train} train / ${output.counts?.eval} eval records`);
        for (const warning of output.warnings) ctx.log(`WARNING: join ${joinJobId}: ${warning}`);
        return clone(record);
      },
    },
    failed: {
      record(r, { reason, cause }) {
        r.current_state = "FAILED";
        r.failure_reason = reason;
        const counts = (cause as { counts?: JoinJobRecord["counts"] } | null)?.counts;
        if (counts) r.counts = counts;
      },
      error: ({ reason, cause }) => new JoiningError(`${failedMessage}: ${reason}`, { cause }),
    },
  };
}

/**
 * Keeps a copy of the eval split in the holdout folder: the union of every join's eval split,
 * never used for training, so models can be compared on more than one batch's records.
 */
async function copyToHoldout(ctx: StepContext, evalUri: string, joinJobId: string): Promise<void> {
  const objects = ctx.platform.objects;
  for (const o of await objects.list(evalUri)) {
    const name = o.key.slice(o.key.lastIndexOf("/") + 1);
    await objects.put(`${ctx.holdoutDataUri}/${joinJobId}/${name}`, await objects.get(o.uri));
  }
}

/**
 * Stores rewards (`{event_id, reward}` per decision) as JSON lines and returns the folder URI to
 * pass to `join`. Each reward is stamped with the time it was reported (kept if given), so "the
 * earliest reward wins" is well defined.
 */
export async function ingestRewards(ctx: StepContext, rewards: readonly RewardRecord[]): Promise<string> {
  ctx.state.checkAlive();
  if (!Array.isArray(rewards) || rewards.length === 0) throw new InvalidUsageError("ingestRewards needs a non-empty array of {event_id, reward}");
  const base = Date.now() / 1000;
  const bounds = taskBounds(ctx.config);
  const lines = rewards.map((r, i) => {
    if (r === null || typeof r !== "object") throw new InvalidUsageError(`reward ${i} must be an object {event_id, reward}`);
    if (r.event_id === undefined || r.event_id === null || r.event_id === "") throw new InvalidUsageError(`reward ${i}: field 'event_id' is missing`);
    checkEventIdAt(String(r.event_id), `reward ${i}`);
    checkReward(r.reward, bounds, `reward ${i}`);
    const ts = r.timestamp ?? base + i * 1e-6;
    const timeProblem = eventTimeProblem(ts, base);
    if (timeProblem !== null) throw new InvalidUsageError(`reward ${i}: field 'timestamp' ${timeProblem}; or leave it out and the time of ingest is used`);
    return JSON.stringify({ event_id: String(r.event_id), reward: r.reward, timestamp: ts });
  });
  const { platform, experimentId } = ctx;
  const batch = `${experimentId}-${sortableSuffix()}`;
  const folder = platform.objects.uriOf(platform.layout.rewardsPrefix(experimentId, batch));
  await platform.objects.put(`${folder}/rewards-${batch.slice(experimentId.length + 1)}.jsonl`, lines.join("\n") + "\n");
  return folder;
}

/** checkEventId, as an InvalidUsageError naming the record. */
function checkEventIdAt(id: string, where: string): void {
  try {
    checkEventId(id, "event_id");
  } catch (err) {
    throw new InvalidUsageError(`${where}: ${(err as Error).message}`);
  }
}
