/**
 * The local join: the shared SQL of `common/src/join/` on an in-memory DuckDB (memory-limited,
 * spilling to a temp folder in the workspace), reading the decision log and rewards (JSON lines)
 * from the local bucket and writing each split as one quoted CSV in the original's joined shape.
 * An empty split is an error, raised before anything is written.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";

/** The DuckDB bindings, loaded at the first join (a native library: nothing else pays for it). */
const duckdb = (): typeof import("@duckdb/node-api") => require("@duckdb/node-api") as typeof import("@duckdb/node-api");
import { duplicateIdsSql, JOINED_OUTPUT_COLUMNS, stagedJoinStatements, windowedDecisionsViewSql, type JoinSqlOptions } from "../../join/sql";
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

async function loadTables(c: DuckDBConnection, decisionFiles: string[], rewardFiles: string[]): Promise<void> {
  await c.run(
    `CREATE TEMP TABLE decisions AS
     SELECT CAST(event_id AS VARCHAR) AS event_id, action, action_prob, model_id, observation, sample_prob, "timestamp",
            filename AS source
     FROM read_json($1::VARCHAR[], format = 'newline_delimited', filename = true,
       columns = {event_id: 'VARCHAR', action: 'INTEGER', action_prob: 'DOUBLE', model_id: 'VARCHAR',
                  observation: 'VARCHAR', sample_prob: 'DOUBLE', "timestamp": 'DOUBLE'})`,
    [duckdb().listValue(decisionFiles)],
  );
  await c.run(
    `CREATE TEMP TABLE rewards AS
     SELECT CAST(event_id AS VARCHAR) AS event_id, reward, "timestamp", filename AS source
     FROM read_json($1::VARCHAR[], format = 'newline_delimited', filename = true,
       columns = {event_id: 'VARCHAR', reward: 'DOUBLE', "timestamp": 'DOUBLE'})`,
    [duckdb().listValue(rewardFiles)],
  );
}

export async function runLocalJoin(store: LocalObjectStore, request: JoinRequest, options: LocalJoinOptions): Promise<JoinResult> {
  const decisionFiles = (await store.list(request.decisionsUri)).filter((o) => /\.jsonl?$/.test(o.key)).map((o) => store.pathOf(o.uri));
  const rewardFiles = (await store.list(request.rewardsUri)).map((o) => store.pathOf(o.uri));
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
    await loadTables(c, decisionFiles, rewardFiles);
    lap("load JSON");
    const sqlOptions: JoinSqlOptions = {
      decisions: "decisions",
      rewards: "rewards",
      ratio: request.ratio,
      window: request.window
        ? { start: Date.parse(request.window.start) / 1000, end: Date.parse(request.window.end) / 1000 }
        : undefined,
      defaultReward: request.missingReward === "drop" ? null : request.missingReward.defaultReward,
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
    };
    if (counts.train === 0 || counts.eval === 0) {
      const err = new Error(
        `join ${request.joinJobId}: the ${counts.train === 0 ? "train" : "eval"} split is empty ` +
          `(train ${counts.train}, eval ${counts.eval}, decisions ${counts.decisions}, rewards ${counts.rewards}, ` +
          `unmatched rewards ${counts.unmatchedRewards}, ratio ${request.ratio}); ` +
          `collect more interactions, check that the rewards' event ids match the decisions, or change the ratio`,
      ) as Error & { counts?: JoinCounts };
      err.counts = counts;
      throw err;
    }
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
    lap("write CSVs");
    return { counts, outputTrainUri: request.outputTrainUri, outputEvalUri: request.outputEvalUri, queryIds: [] };
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}
