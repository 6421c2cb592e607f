/**
 * The local join: the shared SQL of `common/src/join/` on an in-memory DuckDB (memory-limited,
 * spilling to a temp folder in the workspace), reading the decision log and rewards (JSON lines)
 * from the local bucket and writing each split as one quoted CSV in the original's joined shape.
 * An empty split is an error, raised before anything is written.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { DuckDBConnection } from "@duckdb/node-api";

/** The DuckDB bindings, loaded at the first join (a native library: nothing else pays for it). */
const duckdb = (): typeof import("@duckdb/node-api") => require("@duckdb/node-api") as typeof import("@duckdb/node-api");
import { duplicateIdsSql, JOINED_OUTPUT_COLUMNS, stagedJoinStatements, windowedDecisionsViewSql, type JoinSqlOptions } from "../../join/sql";
import { eventTimeWindow } from "../../data/time";
import { asDiskFull, isOutOfSpace } from "../../util/disk";
import { emptySplitError, joinWarnings, JOINED_IDS_FILE } from "../join-report";
import type { JoinCounts, JoinRequest, JoinResult } from "../types";
import type { LocalObjectStore } from "./objectStore";

/** A path as a single-quoted SQL string literal (paths come from the workspace, never from users). */
function sqlPath(p: string): string {
  if (/[\u0000-\u001f]/.test(p)) throw new Error(`refusing a path with control characters: ${JSON.stringify(p)}`);
  return `'${p.replace(/'/g, "''")}'`;
}

export interface LocalJoinOptions {
  memoryLimit?: string;
  threads?: number;
  tempDir: string;
}

/** A decision-log row the join can not use: a field it needs is missing or unreadable. */
const UNREADABLE_DECISION = `event_id IS NULL OR action IS NULL OR action_prob IS NULL OR observation IS NULL OR sample_prob IS NULL OR "timestamp" IS NULL`;

/**
 * Loads the decision log, the rewards and the ids joined before. Lines that are not JSON (a line
 * torn by a crash or a full disk, with or without later lines glued to it) become rows of NULLs
 * (`ignore_errors`) instead of failing the join; they are counted per file and left out. Rewards
 * are read as text and cast, so "NaN", "abc" or 1e400 reach the shared SQL as NaN, NULL or
 * Infinity, which its reward rule counts and leaves out.
 */
async function loadTables(c: DuckDBConnection, decisionFiles: string[], rewardFiles: string[], joinedIdFiles: string[]): Promise<void> {
  await c.run(
    `CREATE TEMP TABLE decisions_read AS
     SELECT CAST(event_id AS VARCHAR) AS event_id, action, action_prob, model_id, observation, sample_prob, "timestamp",
            filename AS source
     FROM read_json($1::VARCHAR[], format = 'newline_delimited', filename = true, ignore_errors = true,
       columns = {event_id: 'VARCHAR', action: 'INTEGER', action_prob: 'DOUBLE', model_id: 'VARCHAR',
                  observation: 'VARCHAR', sample_prob: 'DOUBLE', "timestamp": 'DOUBLE'})`,
    [duckdb().listValue(decisionFiles)],
  );
  await c.run(`CREATE TEMP VIEW decisions AS SELECT * FROM decisions_read WHERE NOT (${UNREADABLE_DECISION})`);
  await c.run(
    `CREATE TEMP TABLE rewards AS
     SELECT CAST(event_id AS VARCHAR) AS event_id, TRY_CAST(reward AS DOUBLE) AS reward, TRY_CAST("timestamp" AS DOUBLE) AS "timestamp",
            filename AS source
     FROM read_json($1::VARCHAR[], format = 'newline_delimited', filename = true, ignore_errors = true,
       columns = {event_id: 'VARCHAR', reward: 'VARCHAR', "timestamp": 'VARCHAR'})`,
    [duckdb().listValue(rewardFiles)],
  );
  if (joinedIdFiles.length > 0) {
    await c.run(
      `CREATE TEMP TABLE joined_ids AS SELECT DISTINCT event_id FROM read_csv($1::VARCHAR[], header = true, quote = '"', escape = '"',
         columns = {event_id: 'VARCHAR'})`,
      [duckdb().listValue(joinedIdFiles)],
    );
  } else {
    await c.run(`CREATE TEMP TABLE joined_ids (event_id VARCHAR)`);
  }
}

/** Per decision-log file, the lines left out as unreadable: warnings naming the file, and the total. */
async function unreadableDecisions(c: DuckDBConnection, store: LocalObjectStore): Promise<{ count: number; warnings: string[] }> {
  const rows = (
    await c.runAndReadAll(`SELECT source, COUNT(*) AS n FROM decisions_read WHERE ${UNREADABLE_DECISION} GROUP BY source ORDER BY source`)
  ).getRowObjectsJS();
  let count = 0;
  const warnings = rows.map((r) => {
    const n = Number(r.n);
    count += n;
    return (
      `decision log ${store.keyOf(pathToFileURL(String(r.source)).href)}: ${n} unreadable line(s) left out ` +
      "(a line torn by a crash or a full disk, or a line without event_id, action, action_prob, observation, sample_prob or timestamp)"
    );
  });
  return { count, warnings };
}

/**
 * The join of decisions with rewards (see the file comment). A full disk (DuckDB's spill files,
 * the split CSVs) becomes a DiskFullError naming the path, and the outputs written so far are
 * removed, so a failed join leaves no partial split behind.
 */
export async function runLocalJoin(store: LocalObjectStore, request: JoinRequest, options: LocalJoinOptions): Promise<JoinResult> {
  try {
    return await joinOnDuckDb(store, request, options);
  } catch (err) {
    if (!isOutOfSpace(err)) throw err;
    const outputs = [request.outputTrainUri, request.outputEvalUri, ...(request.outputJoinedIdsUri ? [request.outputJoinedIdsUri] : [])];
    for (const uri of outputs) fs.rmSync(store.pathOf(uri), { recursive: true, force: true });
    const where = /"([^"]+)"/.exec(String((err as Error).message))?.[1] ?? options.tempDir;
    throw asDiskFull(err, where, `join ${request.joinJobId}`);
  }
}

async function joinOnDuckDb(store: LocalObjectStore, request: JoinRequest, options: LocalJoinOptions): Promise<JoinResult> {
  const decisionFiles = (await store.list(request.decisionsUri)).filter((o) => /\.jsonl?$/.test(o.key)).map((o) => store.pathOf(o.uri));
  const rewardFiles = (await store.list(request.rewardsUri)).map((o) => store.pathOf(o.uri));
  const joinedIdFiles: string[] = [];
  for (const uri of request.joinedIdsUris ?? []) for (const o of await store.list(uri)) joinedIdFiles.push(store.pathOf(o.uri));
  if (decisionFiles.length === 0) {
    throw new Error(`no decisions to join: the decision log ${request.decisionsUri} is empty (deploy a model and call the endpoint first)`);
  }
  if (rewardFiles.length === 0) throw new Error(`no rewards to join: ${request.rewardsUri} holds no files (ingestRewards first)`);
  fs.mkdirSync(options.tempDir, { recursive: true });
  const instance = await duckdb().DuckDBInstance.create(":memory:", {
    memory_limit: options.memoryLimit ?? "512MB",
    threads: String(options.threads ?? 2),
    temp_directory: options.tempDir,
    preserve_insertion_order: "false",
  });
  const c = await instance.connect();
  try {
    const timing = process.env.CBKIT_JOIN_TIMING === "1";
    let t = performance.now();
    const lap = (what: string) => {
      if (timing) process.stderr.write(`join ${what}: ${(performance.now() - t).toFixed(0)} ms\n`);
      t = performance.now();
    };
    await loadTables(c, decisionFiles, rewardFiles, joinedIdFiles);
    lap("load JSON");
    const unreadable = await unreadableDecisions(c, store);
    const sqlOptions: JoinSqlOptions = {
      decisions: "decisions",
      rewards: "rewards",
      ratio: request.ratio,
      window: request.window
        ? { start: Date.parse(request.window.start) / 1000, end: Date.parse(request.window.end) / 1000 }
        : undefined,
      defaultReward: request.missingReward === "drop" ? null : request.missingReward.defaultReward,
      rewardRange: request.rewardRange,
      rewardTimes: request.rewardTimes ?? eventTimeWindow(),
      joinedIds: "joined_ids",
    };
    if (sqlOptions.window && !(Number.isFinite(sqlOptions.window.start) && Number.isFinite(sqlOptions.window.end))) {
      throw new RangeError(`observation window must be ISO dates, got ${JSON.stringify(request.window)}`);
    }
    await c.run(windowedDecisionsViewSql(sqlOptions));
    const dup = async (rel: string) => Number((await c.runAndReadAll(duplicateIdsSql(rel))).getRowObjectsJS()[0].duplicates) > 0;
    const duplicates = { decisions: await dup("d_in"), rewards: await dup("rewards") };
    lap("count duplicate ids");
    for (const statement of stagedJoinStatements(sqlOptions, duplicates)) {
      await c.run(statement);
      lap(statement.slice(0, 30));
    }
    const cnt = (await c.runAndReadAll("SELECT * FROM counts")).getRowObjectsJS()[0];
    const splits = (await c.runAndReadAll(`SELECT split, COUNT(*) AS n FROM joined GROUP BY split`)).getRowObjectsJS();
    const n = (s: string) => Number(splits.find((r) => r.split === s)?.n ?? 0);
    const counts: JoinCounts = {
      decisions: Number(cnt.decisions),
      duplicateDecisions: Number(cnt.duplicate_decisions),
      rewards: Number(cnt.rewards),
      duplicateRewards: Number(cnt.duplicate_rewards),
      unmatchedRewards: Number(cnt.unmatched_rewards),
      missingRewards: Number(cnt.missing_rewards),
      train: n("train"),
      eval: n("eval"),
      malformedDecisions: unreadable.count,
      invalidRewards: Number(cnt.invalid_rewards),
      invalidRewardTimes: Number(cnt.invalid_reward_times),
      alreadyJoined: Number(cnt.already_joined),
    };
    if (counts.train === 0 || counts.eval === 0) throw emptySplitError(request, counts);
    const cols = JOINED_OUTPUT_COLUMNS.map((k) => `"${k}"`).join(", ");
    for (const [split, uri] of [
      ["train", request.outputTrainUri],
      ["eval", request.outputEvalUri],
    ] as const) {
      const dir = store.pathOf(uri);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, "part-00000.csv");
      // Sorted by event id: the learner trains online in file order, so the order must not depend
      // on the order in which concurrent requests happened to reach the endpoint.
      await c.run(
        `COPY (SELECT ${cols} FROM joined WHERE split = '${split}' ORDER BY event_id)
         TO ${sqlPath(file)} (HEADER, FORCE_QUOTE *, DELIMITER ',')`,
      );
    }
    if (request.outputJoinedIdsUri) {
      const dir = store.pathOf(request.outputJoinedIdsUri);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      await c.run(`COPY (SELECT event_id FROM joined ORDER BY event_id) TO ${sqlPath(path.join(dir, JOINED_IDS_FILE))} (HEADER, FORCE_QUOTE *, DELIMITER ',')`);
    }
    lap("write CSVs");
    return {
      counts,
      outputTrainUri: request.outputTrainUri,
      outputEvalUri: request.outputEvalUri,
      queryIds: [],
      warnings: [...unreadable.warnings, ...joinWarnings(counts)],
    };
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}
