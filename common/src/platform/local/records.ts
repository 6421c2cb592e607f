/**
 * Records (experiments, models, join jobs) and metrics in one DuckDB file in the workspace.
 * Every record row carries a version; `update` writes only when the stored version is the one the
 * caller read (compare-and-set inside one statement), else it throws `ConflictError`. All SQL is
 * parameterised: ids never become part of a statement's text.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import {
  ConflictError,
  type MetricPoint,
  type Metrics,
  type RecordKind,
  type RecordStore,
  type RecordTypes,
  type Versioned,
} from "../types";
import { decodeRecord, encodeRecord } from "../record-codec";
import { DuckDbFile, type DuckDbFileOptions } from "./duckdbFile";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS records (
     kind VARCHAR NOT NULL, experiment_id VARCHAR NOT NULL, id VARCHAR NOT NULL,
     version INTEGER NOT NULL, value VARCHAR NOT NULL, updated_at VARCHAR NOT NULL,
     PRIMARY KEY (kind, experiment_id, id))`,
  `CREATE TABLE IF NOT EXISTS metrics (
     experiment_id VARCHAR NOT NULL, name VARCHAR NOT NULL, ts VARCHAR NOT NULL, value DOUBLE NOT NULL)`,
];

const KINDS: readonly RecordKind[] = ["experiment", "model", "join_job"];
function checkKind(kind: RecordKind): void {
  if (!KINDS.includes(kind)) throw new Error(`unknown record kind '${kind}' (expected ${KINDS.join(", ")})`);
}

async function readOne(c: DuckDBConnection, kind: string, exp: string, id: string): Promise<{ version: number; value: string } | null> {
  const r = await c.runAndReadAll("SELECT version, value FROM records WHERE kind = $1 AND experiment_id = $2 AND id = $3", [kind, exp, id]);
  const rows = r.getRowObjectsJS();
  if (rows.length === 0) return null;
  return { version: Number(rows[0].version), value: String(rows[0].value) };
}

/** Where a record came from, for errors. */
function sourceOf(kind: RecordKind, experimentId: string, id: string): string {
  return `${kind} record ${experimentId}/${id} (local DuckDB records)`;
}

export class DuckDbRecordStore implements RecordStore {
  readonly db: DuckDbFile;
  /** The metrics view of the same file. */
  readonly metrics: Metrics = {
    put: (e, n, v, t) => this.putMetric(e, n, v, t),
    get: (e, n) => this.getMetric(e, n),
  };

  constructor(file: string, options?: DuckDbFileOptions) {
    this.db = DuckDbFile.shared(
      file,
      async (c) => {
        for (const s of SCHEMA) await c.run(s);
      },
      options,
    );
  }

  async get<K extends RecordKind>(kind: K, experimentId: string, id: string): Promise<Versioned<RecordTypes[K]> | null> {
    checkKind(kind);
    const row = await this.db.use((c) => readOne(c, kind, experimentId, id));
    return row ? { version: row.version, value: decodeRecord(kind, row.value, sourceOf(kind, experimentId, id)) } : null;
  }

  async create<K extends RecordKind>(
    kind: K,
    experimentId: string,
    id: string,
    value: RecordTypes[K],
  ): Promise<Versioned<RecordTypes[K]> & { created: boolean }> {
    checkKind(kind);
    return this.db.use(async (c) => {
      // One statement: insert unless the key exists (atomic; the file is held by this process only).
      const r = await c.runAndReadAll(
        "INSERT INTO records VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT DO NOTHING RETURNING version",
        [kind, experimentId, id, encodeRecord(value), new Date().toISOString()],
      );
      if (r.getRowObjectsJS().length === 1) return { version: 1, value, created: true };
      const existing = await readOne(c, kind, experimentId, id);
      if (!existing) throw new Error(`record ${kind} ${experimentId}/${id} neither inserted nor found`);
      return { version: existing.version, value: decodeRecord(kind, existing.value, sourceOf(kind, experimentId, id)), created: false };
    }, { write: true });
  }

  async update<K extends RecordKind>(
    kind: K,
    experimentId: string,
    id: string,
    value: RecordTypes[K],
    expectedVersion: number,
  ): Promise<Versioned<RecordTypes[K]>> {
    checkKind(kind);
    return this.db.use(async (c) => {
      // Compare-and-set in one auto-committed statement.
      const r = await c.runAndReadAll(
        `UPDATE records SET version = version + 1, value = $1, updated_at = $2
           WHERE kind = $3 AND experiment_id = $4 AND id = $5 AND version = $6 RETURNING version`,
        [encodeRecord(value), new Date().toISOString(), kind, experimentId, id, expectedVersion],
      );
      const rows = r.getRowObjectsJS();
      if (rows.length === 0) {
        const actual = await readOne(c, kind, experimentId, id);
        throw new ConflictError(kind, `${experimentId}/${id}`, expectedVersion, actual?.version ?? null);
      }
      return { version: Number(rows[0].version), value };
    }, { write: true });
  }

  async list<K extends RecordKind>(kind: K, experimentId: string): Promise<Versioned<RecordTypes[K]>[]> {
    checkKind(kind);
    const rows = await this.db.use(async (c) =>
      (
        await c.runAndReadAll("SELECT id, version, value FROM records WHERE kind = $1 AND experiment_id = $2 ORDER BY id", [
          kind,
          experimentId,
        ])
      ).getRowObjectsJS(),
    );
    return rows.map((r) => ({ version: Number(r.version), value: decodeRecord(kind, String(r.value), sourceOf(kind, experimentId, String(r.id))) }));
  }

  async deleteExperiment(experimentId: string): Promise<{ experiments: number; models: number; joinJobs: number }> {
    return this.db.transaction(async (c) => {
      const counts = (
        await c.runAndReadAll(
          "SELECT kind, count(*)::INTEGER AS n FROM records WHERE experiment_id = $1 GROUP BY kind",
          [experimentId],
        )
      ).getRowObjectsJS();
      const n = (k: string) => Number(counts.find((r) => r.kind === k)?.n ?? 0);
      await c.run("DELETE FROM records WHERE experiment_id = $1", [experimentId]);
      await c.run("DELETE FROM metrics WHERE experiment_id = $1", [experimentId]);
      return { experiments: n("experiment"), models: n("model"), joinJobs: n("join_job") };
    });
  }

  async putMetric(experimentId: string, name: string, value: number, timestamp?: string): Promise<void> {
    if (!Number.isFinite(value)) throw new RangeError(`metric ${name} must be a finite number, got ${value}`);
    await this.db.use((c) => c.run("INSERT INTO metrics VALUES ($1, $2, $3, $4)", [experimentId, name, timestamp ?? new Date().toISOString(), value]), {
      write: true,
    });
  }

  async getMetric(experimentId: string, name: string): Promise<MetricPoint[]> {
    const rows = await this.db.use(async (c) =>
      (
        await c.runAndReadAll("SELECT ts, value FROM metrics WHERE experiment_id = $1 AND name = $2 ORDER BY ts, rowid", [
          experimentId,
          name,
        ])
      ).getRowObjectsJS(),
    );
    return rows.map((r) => ({ timestamp: String(r.ts), value: Number(r.value) }));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
