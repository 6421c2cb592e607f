/**
 * Durable records in DynamoDB, as in the original: three tables (experiments; models and join
 * jobs keyed by experiment id + their own id), created on first use with on-demand billing, or with
 * provisioned capacity when the config gives rcu and wcu for the table.
 * Optimistic concurrency: each item carries a `version` number and every write is conditional on
 * the version the writer read, so two managers on one experiment can not overwrite each other.
 * The record itself is kept as its exact JSON text in `record` (field order and number formats
 * survive the round trip); the keys and version are top-level attributes.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type AttributeValue,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { decodeRecord, encodeRecord } from "../record-codec";
import { ConflictError, type RecordKind, type RecordStore, type RecordTypes, type Versioned } from "../types";
import { awsCall, awsErrorName } from "./aws";
import { pollUntil } from "./waiter";

interface TableSpec {
  name: string;
  /** Range key attribute, absent for the experiment table. */
  rangeKey?: "model_id" | "join_job_id";
  /** Provisioned capacity; null: on-demand. */
  capacity: { read: number; write: number } | null;
}

export interface DynamoRecordStoreOptions {
  tables: { experiment: string; model: string; join: string };
  /** Provisioned read/write capacity per table, used when the table is created; absent or null: on-demand. */
  capacity?: Partial<Record<"experiment" | "model" | "join", { read: number; write: number } | null>>;
  tableTimeoutMs?: number;
  tableIntervalMs?: number;
}

type Item = Record<string, AttributeValue>;

export class DynamoRecordStore implements RecordStore {
  private readonly specs: Record<RecordKind, TableSpec>;
  private readonly ready = new Map<string, Promise<void>>();

  constructor(
    private readonly ddb: DynamoDBClient,
    private readonly options: DynamoRecordStoreOptions,
  ) {
    const capacity = options.capacity ?? {};
    this.specs = {
      experiment: { name: options.tables.experiment, capacity: capacity.experiment ?? null },
      model: { name: options.tables.model, rangeKey: "model_id", capacity: capacity.model ?? null },
      join_job: { name: options.tables.join, rangeKey: "join_job_id", capacity: capacity.join ?? null },
    };
  }

  /** The DynamoDB table names in use, for clean-up reports and docs. */
  tableNames(): string[] {
    return Object.values(this.specs).map((s) => s.name);
  }

  private key(kind: RecordKind, experimentId: string, id: string): Item {
    const spec = this.specs[kind];
    const key: Item = { experiment_id: { S: experimentId } };
    if (spec.rangeKey) key[spec.rangeKey] = { S: id };
    return key;
  }

  private ensureTable(kind: RecordKind): Promise<void> {
    const spec = this.specs[kind];
    let ready = this.ready.get(spec.name);
    if (!ready) {
      ready = this.createTableIfMissing(spec).catch((error) => {
        this.ready.delete(spec.name);
        throw error;
      });
      this.ready.set(spec.name, ready);
    }
    return ready;
  }

  private async tableStatus(name: string): Promise<string | null> {
    try {
      const out = await awsCall("dynamodb:DescribeTable", () => this.ddb.send(new DescribeTableCommand({ TableName: name })));
      return out.Table?.TableStatus ?? "UNKNOWN";
    } catch (error) {
      if (awsErrorName(error) === "ResourceNotFoundException") return null;
      throw error;
    }
  }

  private async createTableIfMissing(spec: TableSpec): Promise<void> {
    if ((await this.tableStatus(spec.name)) === "ACTIVE") return;
    const attributes = [{ AttributeName: "experiment_id", AttributeType: "S" as const }];
    const keys = [{ AttributeName: "experiment_id", KeyType: "HASH" as const }];
    if (spec.rangeKey) {
      attributes.push({ AttributeName: spec.rangeKey, AttributeType: "S" });
      keys.push({ AttributeName: spec.rangeKey, KeyType: "RANGE" as never });
    }
    const billing = spec.capacity
      ? { BillingMode: "PROVISIONED" as const, ProvisionedThroughput: { ReadCapacityUnits: spec.capacity.read, WriteCapacityUnits: spec.capacity.write } }
      : { BillingMode: "PAY_PER_REQUEST" as const };
    try {
      await awsCall("dynamodb:CreateTable", () =>
        this.ddb.send(new CreateTableCommand({ TableName: spec.name, AttributeDefinitions: attributes, KeySchema: keys, ...billing })),
      );
    } catch (error) {
      if (awsErrorName(error) !== "ResourceInUseException") throw error; // created concurrently
    }
    await pollUntil(
      async () => {
        const status = await this.tableStatus(spec.name);
        return status === "ACTIVE" ? { done: true, value: undefined } : { done: false, status: status ?? "missing" };
      },
      { what: `DynamoDB table ${spec.name} to become ACTIVE`, timeoutMs: this.options.tableTimeoutMs ?? 300_000, intervalMs: this.options.tableIntervalMs ?? 1000 },
    );
  }

  private toItem(kind: RecordKind, experimentId: string, id: string, value: unknown, version: number): Item {
    return { ...this.key(kind, experimentId, id), version: { N: String(version) }, record: { S: encodeRecord(value) } };
  }

  private fromItem<K extends RecordKind>(kind: K, item: Item): Versioned<RecordTypes[K]> {
    const text = item.record?.S;
    const version = Number(item.version?.N);
    if (text === undefined || !Number.isInteger(version))
      throw new Error(`${kind} item ${JSON.stringify(item.experiment_id)} in ${this.specs[kind].name} lacks 'record'/'version'; was it written by another tool?`);
    const spec = this.specs[kind];
    const where = `${item.experiment_id?.S}${spec.rangeKey ? `/${item[spec.rangeKey]?.S}` : ""}`;
    return { value: decodeRecord(kind, text, `${kind} item ${where} in ${spec.name}`), version };
  }

  async get<K extends RecordKind>(kind: K, experimentId: string, id: string): Promise<Versioned<RecordTypes[K]> | null> {
    await this.ensureTable(kind);
    const out = await awsCall("dynamodb:GetItem", () =>
      this.ddb.send(new GetItemCommand({ TableName: this.specs[kind].name, Key: this.key(kind, experimentId, id), ConsistentRead: true })),
    );
    return out.Item ? this.fromItem(kind, out.Item) : null;
  }

  async create<K extends RecordKind>(
    kind: K,
    experimentId: string,
    id: string,
    value: RecordTypes[K],
  ): Promise<Versioned<RecordTypes[K]> & { created: boolean }> {
    await this.ensureTable(kind);
    try {
      await awsCall("dynamodb:PutItem", () =>
        this.ddb.send(
          new PutItemCommand({
            TableName: this.specs[kind].name,
            Item: this.toItem(kind, experimentId, id, value, 1),
            ConditionExpression: "attribute_not_exists(experiment_id)",
          }),
        ),
      );
      return { value, version: 1, created: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) && awsErrorName(error) !== "ConditionalCheckFailedException") throw error;
      const stored = await this.get(kind, experimentId, id);
      if (!stored) throw new ConflictError(kind, id, null, null, "the record was deleted while being created");
      return { ...stored, created: false };
    }
  }

  async update<K extends RecordKind>(
    kind: K,
    experimentId: string,
    id: string,
    value: RecordTypes[K],
    expectedVersion: number,
  ): Promise<Versioned<RecordTypes[K]>> {
    await this.ensureTable(kind);
    try {
      await awsCall("dynamodb:PutItem", () =>
        this.ddb.send(
          new PutItemCommand({
            TableName: this.specs[kind].name,
            Item: this.toItem(kind, experimentId, id, value, expectedVersion + 1),
            ConditionExpression: "#v = :expected",
            ExpressionAttributeNames: { "#v": "version" },
            ExpressionAttributeValues: { ":expected": { N: String(expectedVersion) } },
          }),
        ),
      );
      return { value, version: expectedVersion + 1 };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) && awsErrorName(error) !== "ConditionalCheckFailedException") throw error;
      const stored = await this.get(kind, experimentId, id);
      throw new ConflictError(kind, id, expectedVersion, stored?.version ?? null);
    }
  }

  private async queryAll(kind: RecordKind, experimentId: string): Promise<Item[]> {
    await this.ensureTable(kind);
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await awsCall("dynamodb:Query", () =>
        this.ddb.send(
          new QueryCommand({
            TableName: this.specs[kind].name,
            KeyConditionExpression: "experiment_id = :e",
            ExpressionAttributeValues: { ":e": { S: experimentId } },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async list<K extends RecordKind>(kind: K, experimentId: string): Promise<Versioned<RecordTypes[K]>[]> {
    if (kind === "experiment") {
      const one = await this.get(kind, experimentId, experimentId);
      return one ? [one] : [];
    }
    const rangeKey = this.specs[kind].rangeKey!;
    return (await this.queryAll(kind, experimentId))
      .sort((a, b) => ((a[rangeKey]?.S ?? "") < (b[rangeKey]?.S ?? "") ? -1 : 1))
      .map((item) => this.fromItem(kind, item));
  }

  async deleteExperiment(experimentId: string): Promise<{ experiments: number; models: number; joinJobs: number }> {
    const counts = { experiments: 0, models: 0, joinJobs: 0 };
    for (const [kind, field] of [["model", "models"], ["join_job", "joinJobs"]] as const) {
      for (const item of await this.queryAll(kind, experimentId)) {
        const rangeKey = this.specs[kind].rangeKey!;
        await awsCall("dynamodb:DeleteItem", () =>
          this.ddb.send(new DeleteItemCommand({ TableName: this.specs[kind].name, Key: { experiment_id: item.experiment_id, [rangeKey]: item[rangeKey] } })),
        );
        counts[field]++;
      }
    }
    await this.ensureTable("experiment");
    const out = await awsCall("dynamodb:DeleteItem", () =>
      this.ddb.send(
        new DeleteItemCommand({ TableName: this.specs.experiment.name, Key: this.key("experiment", experimentId, experimentId), ReturnValues: "ALL_OLD" }),
      ),
    );
    if (out.Attributes) counts.experiments = 1;
    return counts;
  }
}
