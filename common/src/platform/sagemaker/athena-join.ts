/**
 * The join in Athena: waits until the batch's decisions have reached the data-capture log (no
 * fixed sleep, D-4), keeps the two tables in place (created once; the rewards table is never
 * re-pointed, so concurrent joins do not race, D-5), runs the shared join SQL, and leaves each
 * split as Athena's quoted CSV under the join's joined-data prefixes. Every query is polled with a
 * bound and its failure reason surfaces.
 */
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
} from "@aws-sdk/client-athena";
import { eventTimeWindow } from "../../data/time";
import type { JoinSqlOptions } from "../../join/sql";
import { objectLayout } from "../layout";
import { emptySplitError, joinWarnings } from "../join-report";
import type { JoinCounts, JoinRequest, JoinResult } from "../types";
import { awsCall } from "./aws";
import { VARIANT_NAME } from "./hosting";
import type { S3ObjectStore } from "./s3-store";
import type { SageMakerSettings } from "./settings";
import {
  athenaJoinQueries,
  athenaTableNames,
  captureHour,
  createDatabaseSql,
  createDecisionsTableSql,
  createJoinedIdsTableSql,
  createRewardsTableSql,
  decisionsRelationSql,
  dropTableSql,
  joinedIdsRelationSql,
  rewardsRelationSql,
} from "./athena-sql";
import { pollUntil, WaitTimeoutError, type PollOptions } from "./waiter";

type Clock = Pick<PollOptions, "sleep" | "now">;

/** The batch's decisions did not all show up in the decision log in time. */
export class DecisionsNotVisibleError extends Error {
  constructor(
    readonly missing: string[],
    readonly total: number,
    waitedMs: number,
  ) {
    super(
      `${missing.length} of ${total} rewarded events have no decision in the data-capture log after ${Math.round(waitedMs / 1000)} s ` +
        `(e.g. ${missing.slice(0, 3).join(", ")}). SageMaker delivers captured requests within a few minutes: join again later, ` +
        "raise sagemaker.decision_wait_seconds, or drop rewards for events this endpoint never served (older than sagemaker.decision_lookback_hours).",
    );
    this.name = "DecisionsNotVisibleError";
  }
}

/** A failed, cancelled or refused Athena query. */
export class AthenaQueryError extends Error {
  constructor(
    readonly queryExecutionId: string,
    readonly state: string,
    reason: string,
    what: string,
  ) {
    super(`Athena query for ${what} ${state} (${queryExecutionId}): ${reason}`);
    this.name = "AthenaQueryError";
  }
}

const folder = (uri: string) => (uri.endsWith("/") ? uri : `${uri}/`);

interface CapturedBody {
  observedContentType?: string;
  data?: string;
  encoding?: string;
}

/** A captured body as text (base64 when its content type was not listed for text capture). */
function capturedText(body: CapturedBody | undefined): string {
  if (!body?.data) return "";
  return body.encoding === "BASE64" ? Buffer.from(body.data, "base64").toString("utf8") : body.data;
}

/**
 * The event ids of the decisions in a data-capture file (one record per InvokeEndpoint call): every
 * line of a JSON-lines response, or the one response of a single request (falling back on the
 * call's InferenceId), as the decisions relation of the join reads them. Lines that are not
 * decisions or not JSON are skipped, as the join skips them.
 */
export function capturedEventIds(file: string): string[] {
  const ids: string[] = [];
  for (const line of file.split("\n")) {
    if (!line.trim()) continue;
    let record: { captureData?: { endpointOutput?: CapturedBody }; eventMetadata?: { inferenceId?: string } };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      continue;
    }
    const output = record.captureData?.endpointOutput;
    const batch = /^application\/jsonlines/i.test(output?.observedContentType ?? "");
    const text = capturedText(output);
    const answers = batch ? text.split("\n").filter((l) => l.trim() !== "") : [text];
    for (const answer of answers) {
      let id: unknown;
      try {
        id = answer ? (JSON.parse(answer) as { event_id?: unknown }).event_id : undefined;
      } catch {
        id = undefined;
      }
      if (id === undefined || id === null) id = batch ? undefined : record.eventMetadata?.inferenceId;
      if (id !== undefined && id !== null && id !== "") ids.push(String(id));
    }
  }
  return ids;
}

export class AthenaJoiner {
  private readonly tablesReady = new Map<string, Promise<void>>();

  constructor(
    private readonly athena: AthenaClient,
    private readonly store: S3ObjectStore,
    private readonly settings: SageMakerSettings,
    private readonly clock: Clock = {},
  ) {}

  /** Where DDL and count results go (deleted with the experiment's data). */
  private queryResultsUri(experimentId: string): string {
    return this.store.uriOf(objectLayout.athenaResultsPrefix(experimentId));
  }

  /** Data-capture files of the endpoint named after the experiment: `{log}/{endpoint}/{variant}`. */
  captureLocation(decisionsUri: string, experimentId: string): string {
    return `${decisionsUri.replace(/\/$/, "")}/${experimentId}/${VARIANT_NAME}`;
  }

  /** Runs one statement to completion; returns its execution id and where its result went. */
  async runQuery(sql: string, outputUri: string, what: string): Promise<{ id: string; outputLocation: string }> {
    const started = await awsCall("athena:StartQueryExecution", () =>
      this.athena.send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          QueryExecutionContext: { Database: this.settings.athenaDatabase },
          WorkGroup: this.settings.athenaWorkgroup,
          ResultConfiguration: { OutputLocation: folder(outputUri) },
        }),
      ),
    );
    const id = started.QueryExecutionId;
    if (!id) throw new Error(`Athena did not return a query execution id for ${what}`);
    try {
      return await pollUntil(
        async () => {
          const out = await awsCall("athena:GetQueryExecution", () => this.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id })));
          const status = out.QueryExecution?.Status;
          const state = status?.State ?? "UNKNOWN";
          if (state === "SUCCEEDED") return { done: true, value: { id, outputLocation: this.checkedOutputLocation(out.QueryExecution?.ResultConfiguration?.OutputLocation, outputUri) } };
          if (state === "FAILED" || state === "CANCELLED")
            throw new AthenaQueryError(id, state, status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage ?? "no reason given", what);
          return { done: false, status: state };
        },
        { what: `Athena query ${id} (${what})`, timeoutMs: this.settings.timeouts.query, intervalMs: this.settings.intervals.query, maxIntervalMs: 5000, ...this.clock },
      );
    } catch (error) {
      if (error instanceof WaitTimeoutError)
        await awsCall("athena:StopQueryExecution", () => this.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id })));
      throw error;
    }
  }

  /**
   * Where Athena wrote a query's result, which must be under the location the kit asked for: a
   * workgroup that overrides client-side settings writes to its own location instead, where the
   * jobs would never find the splits. Checked on every query, so the first one (the DDL) already
   * stops the join, before any split is written elsewhere.
   */
  private checkedOutputLocation(location: string | undefined, requested: string): string {
    if (location && !location.startsWith(folder(requested)))
      throw new Error(
        `Athena wrote ${location} instead of under ${folder(requested)}: workgroup ${this.settings.athenaWorkgroup} overrides the ` +
          "query result location. Use a workgroup without 'Override client-side settings' (sagemaker.athena_workgroup).",
      );
    return location ?? "";
  }

  /** The rows of a finished query, as objects keyed by column name (strings). */
  async readRows(queryExecutionId: string): Promise<Record<string, string | null>[]> {
    const rows: Record<string, string | null>[] = [];
    let header: string[] | null = null;
    let token: string | undefined;
    do {
      const page = await awsCall("athena:GetQueryResults", () =>
        this.athena.send(new GetQueryResultsCommand({ QueryExecutionId: queryExecutionId, NextToken: token })),
      );
      for (const row of page.ResultSet?.Rows ?? []) {
        const values = (row.Data ?? []).map((d) => d.VarCharValue ?? null);
        if (!header) header = values.map((v) => v ?? "");
        else rows.push(Object.fromEntries(header.map((h, i) => [h, values[i] ?? null])));
      }
      token = page.NextToken;
    } while (token);
    return rows;
  }

  /** Creates the database and the experiment's two tables once (idempotent DDL). */
  ensureTables(experimentId: string, decisionsUri: string, rewardsLocation: string): Promise<void> {
    let ready = this.tablesReady.get(experimentId);
    if (!ready) {
      ready = this.createTables(experimentId, decisionsUri, rewardsLocation).catch((error) => {
        this.tablesReady.delete(experimentId);
        throw error;
      });
      this.tablesReady.set(experimentId, ready);
    }
    return ready;
  }

  private async createTables(experimentId: string, decisionsUri: string, rewardsLocation: string): Promise<void> {
    const names = athenaTableNames(experimentId);
    const capture = this.captureLocation(decisionsUri, experimentId);
    const first = await this.store.listFrom(capture, undefined, 1);
    if (first.length === 0)
      throw new Error(`no decisions to join: the data-capture log ${capture} is empty (deploy a model and call the endpoint first)`);
    const hour = /\/(\d{4}\/\d{2}\/\d{2}\/\d{2})\//.exec(first[0].key.slice(this.store.keyOf(capture).length))?.[1];
    if (!hour) throw new Error(`unexpected data-capture key ${first[0].key}: no yyyy/MM/dd/HH folder after ${capture}`);
    const ddl = this.queryResultsUri(experimentId);
    const database = this.settings.athenaDatabase;
    await this.runQuery(createDatabaseSql(database), ddl, "the join database");
    await this.runQuery(createDecisionsTableSql({ database, table: names.decisions, captureLocation: capture, firstHour: hour }), ddl, "the decisions table");
    await this.runQuery(createRewardsTableSql({ database, table: names.rewards, rewardsLocation }), ddl, "the rewards table");
    const joinedIdsLocation = this.store.uriOf(objectLayout.joinedIdsRootPrefix(experimentId));
    await this.runQuery(createJoinedIdsTableSql({ database, table: names.joinedIds, joinedIdsLocation }), ddl, "the joined-ids table");
  }

  /** Drops the experiment's tables; returns their names. */
  async dropTables(experimentId: string): Promise<string[]> {
    const names = athenaTableNames(experimentId);
    const ddl = this.queryResultsUri(experimentId);
    const tables = [names.decisions, names.rewards, names.joinedIds];
    for (const table of tables) await this.runQuery(dropTableSql(this.settings.athenaDatabase, table), ddl, `dropping ${table}`);
    this.tablesReady.delete(experimentId);
    return tables.map((table) => `${this.settings.athenaDatabase}.${table}`);
  }

  /** The event ids of a rewards batch, and when the batch was written. */
  private async rewardEventIds(rewardsUri: string): Promise<{ ids: Set<string>; writtenAt: number }> {
    const objects = await this.store.list(rewardsUri);
    if (objects.length === 0) throw new Error(`no rewards to join: ${rewardsUri} holds no files (ingestRewards first)`);
    const ids = new Set<string>();
    for (const object of objects)
      for (const line of (await this.store.get(object.uri)).toString("utf8").split("\n")) {
        if (!line.trim()) continue;
        try {
          const id = (JSON.parse(line) as { event_id?: unknown }).event_id;
          if (id !== undefined && id !== null) ids.add(String(id));
        } catch {
          /* malformed lines are skipped by the join too (ignore.malformed.json) */
        }
      }
    return { ids, writtenAt: Math.min(...objects.map((o) => Date.parse(o.lastModified))) };
  }

  /**
   * Polls the data-capture log until every rewarded event's decision is there (D-4), reading only
   * files of the last `decisionLookbackMs` before the rewards were written, each once.
   */
  async waitForDecisions(captureUri: string, rewardsUri: string): Promise<{ expected: number }> {
    const { ids, writtenAt } = await this.rewardEventIds(rewardsUri);
    const missing = new Set(ids);
    const startAfter = `${this.store.keyOf(captureUri)}/${captureHour(new Date(writtenAt - this.settings.decisionLookbackMs))}`;
    const read = new Set<string>();
    const started = (this.clock.now ?? Date.now)();
    try {
      await pollUntil<void>(
        async () => {
          for (const object of await this.store.listFrom(captureUri, startAfter)) {
            if (read.has(object.key)) continue;
            read.add(object.key);
            for (const id of capturedEventIds((await this.store.get(object.uri)).toString("utf8"))) missing.delete(id);
          }
          return missing.size === 0 ? { done: true, value: undefined } : { done: false, status: `${missing.size} of ${ids.size} decisions not captured yet` };
        },
        { what: "the batch's decisions in the data-capture log", timeoutMs: this.settings.timeouts.decisions, intervalMs: this.settings.intervals.decisions, maxIntervalMs: 30_000, ...this.clock },
      );
    } catch (error) {
      if (error instanceof WaitTimeoutError) throw new DecisionsNotVisibleError([...missing], ids.size, (this.clock.now ?? Date.now)() - started);
      throw error;
    }
    return { expected: ids.size };
  }

  async join(request: JoinRequest, rewardsLocation: string): Promise<JoinResult> {
    const window = request.window
      ? { start: Date.parse(request.window.start) / 1000, end: Date.parse(request.window.end) / 1000 }
      : undefined;
    if (window && !(Number.isFinite(window.start) && Number.isFinite(window.end)))
      throw new RangeError(`observation window must be ISO dates, got ${JSON.stringify(request.window)}`);
    const capture = this.captureLocation(request.decisionsUri, request.experimentId);
    await this.waitForDecisions(capture, request.rewardsUri);
    await this.ensureTables(request.experimentId, request.decisionsUri, rewardsLocation);

    const names = athenaTableNames(request.experimentId);
    const database = this.settings.athenaDatabase;
    const options: JoinSqlOptions = {
      decisions: decisionsRelationSql({ database, table: names.decisions, window }),
      rewards: rewardsRelationSql({ database, table: names.rewards, rewardsUri: request.rewardsUri }),
      ratio: request.ratio,
      window,
      defaultReward: request.missingReward === "drop" ? null : request.missingReward.defaultReward,
      rewardRange: request.rewardRange,
      rewardTimes: request.rewardTimes ?? eventTimeWindow(),
      joinedIds: joinedIdsRelationSql({ database, table: names.joinedIds, joinedIdsUris: request.joinedIdsUris ?? [] }),
    };
    const queries = athenaJoinQueries(options);
    const results = this.queryResultsUri(request.experimentId);
    const [countsRun, splitRun] = await Promise.all([
      this.runQuery(queries.counts, results, `join ${request.joinJobId} counts`),
      this.runQuery(queries.splitCounts, results, `join ${request.joinJobId} split sizes`),
    ]);
    const c = (await this.readRows(countsRun.id))[0] ?? {};
    const splits = await this.readRows(splitRun.id);
    const n = (s: string) => Number(splits.find((r) => r.split === s)?.n ?? 0);
    const counts: JoinCounts = {
      decisions: Number(c.decisions ?? 0),
      duplicateDecisions: Number(c.duplicate_decisions ?? 0),
      rewards: Number(c.rewards ?? 0),
      duplicateRewards: Number(c.duplicate_rewards ?? 0),
      unmatchedRewards: Number(c.unmatched_rewards ?? 0),
      missingRewards: Number(c.missing_rewards ?? 0),
      train: n("train"),
      eval: n("eval"),
      invalidRewards: Number(c.invalid_rewards ?? 0),
      invalidRewardTimes: Number(c.invalid_reward_times ?? 0),
      alreadyJoined: Number(c.already_joined ?? 0),
    };
    if (counts.train === 0 || counts.eval === 0) throw emptySplitError(request, counts);
    // A re-run of the same join must not leave the old files next to the new ones.
    const outputs = [request.outputTrainUri, request.outputEvalUri, ...(request.outputJoinedIdsUri ? [request.outputJoinedIdsUri] : [])];
    for (const uri of outputs) await this.store.delete(uri, { recursive: true });
    const [trainRun, evalRun, idsRun] = await Promise.all([
      this.runQuery(queries.train, request.outputTrainUri, `join ${request.joinJobId} train split`),
      this.runQuery(queries.eval, request.outputEvalUri, `join ${request.joinJobId} eval split`),
      ...(request.outputJoinedIdsUri ? [this.runQuery(queries.ids, request.outputJoinedIdsUri, `join ${request.joinJobId} joined ids`)] : []),
    ]);
    // runQuery already refused a result written elsewhere (a workgroup that overrides the location).
    // Athena's .metadata side files would be read as data by the jobs; only the CSV stays.
    for (const uri of outputs) for (const object of await this.store.list(uri)) if (object.key.endsWith(".metadata")) await this.store.delete(object.uri);
    return {
      counts,
      outputTrainUri: request.outputTrainUri,
      outputEvalUri: request.outputEvalUri,
      queryIds: [countsRun.id, splitRun.id, trainRun.id, evalRun.id, ...(idsRun ? [idsRun.id] : [])],
      warnings: joinWarnings(counts),
    };
  }
}
