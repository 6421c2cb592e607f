/**
 * A small stand-in for the SageMaker and Athena control planes, for the end-to-end workflow test:
 * the mocked SageMaker client runs training jobs with the container's real job functions over an
 * /opt/ml-like folder (channels downloaded from the S3 emulator, the model packed into
 * model.tar.gz), serves endpoints with the real serve module behind a proxy that writes SageMaker
 * data-capture lines to S3, and the mocked Athena client runs the submitted SQL on DuckDB over the
 * S3 objects under each table's location.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import { mockClient } from "aws-sdk-client-mock";
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateTrainingJobCommand,
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  DescribeTrainingJobCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  StopTrainingJobCommand,
  UpdateEndpointCommand,
  type SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, type AthenaClient } from "@aws-sdk/client-athena";
import { DeleteDashboardsCommand, GetMetricDataCommand, PutDashboardCommand, PutMetricDataCommand, type CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DuckDBInstance } from "@duckdb/node-api";
import { jobPaths, writeFailure, trainJob, evaluateJob, startServer } from "@cbkit/common/container";
import { DUCKDB_TRINO_SHIMS, readTar, type S3ObjectStore } from "@cbkit/common/sagemaker";
import { validationError } from "./helpers";

type Input = Record<string, any>;
type Running = Awaited<ReturnType<typeof startServer>>;

interface Job {
  status: "InProgress" | "Stopping" | "Completed" | "Failed" | "Stopped";
  /** Started while `holdJobs` was set: it stays InProgress until stopped. */
  held?: boolean;
  failure?: string;
  artifact?: string;
  input: Input;
}

const hourFolder = (d: Date) =>
  `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, "0")}/${String(d.getUTCDate()).padStart(2, "0")}/${String(d.getUTCHours()).padStart(2, "0")}`;

/**
 * The request checks SageMaker's CreateTrainingJob makes before it starts anything (the documented
 * field constraints our requests could break), with its error wording.
 */
export function checkCreateTrainingJob(input: Input): void {
  const channels = input.InputDataConfig;
  if (channels !== undefined && (!Array.isArray(channels) || channels.length < 1 || channels.length > 20))
    throw validationError(
      `1 validation error detected: Value '${JSON.stringify(channels)}' at 'inputDataConfig' failed to satisfy constraint: ` +
        "Member must have length less than or equal to 20 and greater than or equal to 1",
    );
  const count = input.ResourceConfig?.InstanceCount;
  if (!Number.isInteger(count) || count < 1)
    throw validationError(`1 validation error detected: Value '${count}' at 'resourceConfig.instanceCount' failed to satisfy constraint: Member must have value greater than or equal to 1`);
  for (const [k, v] of Object.entries((input.HyperParameters ?? {}) as Record<string, unknown>))
    if (typeof v !== "string" || v.length > 2500 || k.length > 256)
      throw validationError(`1 validation error detected: Value at 'hyperParameters' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 2500]`);
}

/** SageMaker Runtime's rule for InvokeEndpoint's InferenceId: 1-64 characters, `\A\S[\p{Print}]*\z`. */
export const INFERENCE_ID = /^[\x21-\x7e][\x20-\x7e]{0,63}$/;

/**
 * One captured body as SageMaker data capture stores it: as text (encoding JSON or CSV) when the
 * observed Content-Type is listed in the endpoint config's CaptureContentTypeHeader, otherwise
 * base64 (the documented default when no header matches).
 */
export function capturedBody(
  mode: "INPUT" | "OUTPUT",
  contentType: string,
  body: Buffer,
  header: { JsonContentTypes?: string[]; CsvContentTypes?: string[] } | undefined,
): { observedContentType: string; mode: string; data: string; encoding: "JSON" | "CSV" | "BASE64" } {
  const encoding = header?.JsonContentTypes?.includes(contentType) ? "JSON" : header?.CsvContentTypes?.includes(contentType) ? "CSV" : "BASE64";
  return { observedContentType: contentType, mode, data: encoding === "BASE64" ? body.toString("base64") : body.toString("utf8"), encoding };
}

/** SageMaker's inferenceTime: ISO 8601 UTC to the second. */
const inferenceTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** Headers SageMaker passes from InvokeEndpoint to the container (the inference id is not among them). */
const FORWARDED_HEADERS = ["content-type", "accept", "content-length", "x-amzn-sagemaker-custom-attributes"];

export class FakeCloud {
  readonly jobs = new Map<string, Job>();
  readonly models = new Map<string, Input>();
  readonly configs = new Map<string, Input>();
  endpoint: { name: string; config: string; status: string; server: Running | null } | null = null;
  private proxy: http.Server | null = null;
  private captured: string[] = [];
  /** Every InvokeEndpoint that reached the runtime (also the refused ones). */
  invocations = 0;
  /** Jobs started while this is set never run: they stay InProgress until StopTrainingJob (a slow job). */
  holdJobs = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly tables = new Map<string, { location: string; kind: "decisions" | "rewards" | "joinedIds" }>();
  private readonly queries = new Map<string, { state: string; error?: string; output: string; columns: string[]; rows: string[][] }>();
  readonly sm;
  readonly athena;
  readonly cw;

  constructor(
    private readonly store: S3ObjectStore,
    private readonly tmp: string,
    clients: { sagemaker: SageMakerClient; athena: AthenaClient; cloudwatch: CloudWatchClient },
  ) {
    this.sm = mockClient(clients.sagemaker);
    this.athena = mockClient(clients.athena);
    this.cw = mockClient(clients.cloudwatch);
    this.installSageMaker();
    this.installAthena();
    this.cw.on(PutDashboardCommand).resolves({});
    this.cw.on(PutMetricDataCommand).resolves({});
    this.cw.on(DeleteDashboardsCommand).resolves({});
    this.cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
  }

  /** The Predictor's endpoint override: the capturing proxy in front of the model server. */
  async runtimeUrl(): Promise<string> {
    if (!this.proxy) {
      this.proxy = http.createServer((req, res) => this.forward(req, res));
      await new Promise<void>((resolve) => this.proxy!.listen(0, "127.0.0.1", resolve));
    }
    return `http://127.0.0.1:${(this.proxy.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.endpoint?.server?.close();
    this.endpoint = null;
    if (this.proxy) {
      const closed = new Promise<void>((resolve) => this.proxy!.close(() => resolve()));
      this.proxy.closeAllConnections(); // keep-alive sockets of the Predictor would hold close() open
      await closed;
    }
  }

  // ------------------------------------------------------------------ SageMaker

  private installSageMaker(): void {
    this.sm.on(CreateTrainingJobCommand).callsFake(async (input: Input) => {
      checkCreateTrainingJob(input);
      if (this.jobs.has(input.TrainingJobName)) throw validationError("Training job names must be unique within an AWS account and region");
      const job: Job = { status: "InProgress", input, held: this.holdJobs };
      this.jobs.set(input.TrainingJobName, job);
      if (!job.held) void this.runJob(job);
      return { TrainingJobArn: `arn:aws:sagemaker:us-west-2:123456789012:training-job/${input.TrainingJobName}` };
    });
    this.sm.on(DescribeTrainingJobCommand).callsFake(async ({ TrainingJobName }: Input) => {
      const job = this.jobs.get(TrainingJobName);
      if (!job) throw validationError(`Requested resource not found: ${TrainingJobName}`);
      return {
        TrainingJobName,
        TrainingJobStatus: job.status,
        FailureReason: job.failure,
        ModelArtifacts: job.artifact ? { S3ModelArtifacts: job.artifact } : undefined,
        TrainingStartTime: new Date(),
        TrainingEndTime: job.status === "InProgress" ? undefined : new Date(),
      };
    });
    this.sm.on(StopTrainingJobCommand).callsFake(async ({ TrainingJobName }: Input) => {
      const job = this.jobs.get(TrainingJobName);
      if (!job) throw validationError(`Requested resource not found: ${TrainingJobName}`);
      if (job.status !== "InProgress") throw validationError(`The request was rejected because the training job is in status ${job.status}.`);
      // A running job ends as Stopped when its work returns; a held one has nothing to finish.
      job.status = job.held ? "Stopped" : "Stopping";
      return {};
    });
    this.sm.on(DescribeModelCommand).callsFake(async ({ ModelName }: Input) => {
      if (!this.models.has(ModelName)) throw validationError(`Could not find model "${ModelName}".`);
      return { ModelName };
    });
    this.sm.on(CreateModelCommand).callsFake(async (input: Input) => {
      this.models.set(input.ModelName, input);
      return {};
    });
    this.sm.on(DeleteModelCommand).callsFake(async ({ ModelName }: Input) => {
      if (!this.models.delete(ModelName)) throw validationError(`Could not find model "${ModelName}".`);
      return {};
    });
    this.sm.on(ListModelsCommand).callsFake(async () => ({ Models: [...this.models.keys()].map((ModelName) => ({ ModelName, ModelArn: "arn", CreationTime: new Date() })) }));
    this.sm.on(DescribeEndpointConfigCommand).callsFake(async ({ EndpointConfigName }: Input) => {
      const c = this.configs.get(EndpointConfigName);
      if (!c) throw validationError(`Could not find endpoint configuration "${EndpointConfigName}".`);
      return c;
    });
    this.sm.on(CreateEndpointConfigCommand).callsFake(async (input: Input) => {
      this.configs.set(input.EndpointConfigName, input);
      return {};
    });
    this.sm.on(DeleteEndpointConfigCommand).callsFake(async ({ EndpointConfigName }: Input) => {
      if (!this.configs.delete(EndpointConfigName)) throw validationError(`Could not find endpoint configuration "${EndpointConfigName}".`);
      return {};
    });
    this.sm.on(ListEndpointConfigsCommand).callsFake(async () => ({ EndpointConfigs: [...this.configs.keys()].map((EndpointConfigName) => ({ EndpointConfigName, EndpointConfigArn: "arn", CreationTime: new Date() })) }));
    this.sm.on(DescribeEndpointCommand).callsFake(async ({ EndpointName }: Input) => {
      if (!this.endpoint || this.endpoint.name !== EndpointName) throw validationError(`Could not find endpoint "${EndpointName}".`);
      return { EndpointName, EndpointArn: `arn:aws:sagemaker:us-west-2:123456789012:endpoint/${EndpointName}`, EndpointConfigName: this.endpoint.config, EndpointStatus: this.endpoint.status };
    });
    this.sm.on(CreateEndpointCommand).callsFake(async ({ EndpointName, EndpointConfigName }: Input) => {
      this.endpoint = { name: EndpointName, config: EndpointConfigName, status: "Creating", server: null };
      void this.serve(EndpointConfigName);
      return { EndpointArn: "arn" };
    });
    this.sm.on(UpdateEndpointCommand).callsFake(async ({ EndpointConfigName }: Input) => {
      this.endpoint!.status = "Updating";
      void this.serve(EndpointConfigName);
      return { EndpointArn: "arn" };
    });
    this.sm.on(DeleteEndpointCommand).callsFake(async ({ EndpointName }: Input) => {
      if (!this.endpoint || this.endpoint.name !== EndpointName) throw validationError(`Could not find endpoint "${EndpointName}".`);
      await this.endpoint.server?.close();
      this.endpoint = null;
      return {};
    });
  }

  /** Runs a training job the way SageMaker runs our image: channels in, /opt/ml/model packed out. */
  private async runJob(job: Job): Promise<void> {
    const input = job.input;
    const root = path.join(this.tmp, "jobs", input.TrainingJobName);
    const paths = jobPaths(root);
    try {
      fs.mkdirSync(path.dirname(paths.hyperparameters), { recursive: true });
      fs.writeFileSync(paths.hyperparameters, JSON.stringify(input.HyperParameters));
      for (const channel of input.InputDataConfig ?? []) {
        const uri = String(channel.DataSource.S3DataSource.S3Uri).replace(/\/$/, "");
        await this.store.download(uri, paths.channel(channel.ChannelName));
      }
      fs.mkdirSync(paths.modelDir, { recursive: true });
      const log = () => undefined;
      if (input.Environment?.CBKIT_JOB === "evaluate") await evaluateJob(paths, log);
      else await trainJob(paths, log);
      const archive = path.join(root, "model.tar.gz");
      execFileSync("tar", ["-czf", archive, "-C", paths.modelDir, ...fs.readdirSync(paths.modelDir)]);
      job.artifact = `${input.OutputDataConfig.S3OutputPath}/${input.TrainingJobName}/output/model.tar.gz`;
      await this.store.put(job.artifact, fs.readFileSync(archive));
      job.status = job.status === "Stopping" ? "Stopped" : "Completed";
    } catch (error) {
      writeFailure(paths, error);
      job.failure = fs.readFileSync(paths.failureFile, "utf8").trim();
      job.status = job.status === "Stopping" ? "Stopped" : "Failed";
    }
  }

  /** Starts the model server of an endpoint config, then moves traffic to it (blue/green). */
  private async serve(configName: string): Promise<void> {
    const config = this.configs.get(configName)!;
    const model = this.models.get(config.ProductionVariants[0].ModelName)!;
    const dir = path.join(this.tmp, "endpoints", configName, "model");
    fs.rmSync(dir, { recursive: true, force: true });
    for (const entry of readTar(await this.store.get(model.PrimaryContainer.ModelDataUrl))) {
      fs.mkdirSync(path.dirname(path.join(dir, entry.path)), { recursive: true });
      fs.writeFileSync(path.join(dir, entry.path), entry.data);
    }
    const env = model.PrimaryContainer.Environment;
    const server = await startServer({ port: 0, host: "127.0.0.1", modelDir: dir, endpointName: env.ENDPOINT_NAME, seed: Number(env.SEED) });
    const old = this.endpoint!.server;
    this.endpoint = { ...this.endpoint!, config: configName, server, status: "InService" };
    await old?.close();
    if (!this.flushTimer) {
      const capture = String(config.DataCaptureConfig.DestinationS3Uri);
      this.flushTimer = setInterval(() => void this.flush(capture), 150);
      this.flushTimer.unref();
    }
  }

  /** Data capture: what SageMaker writes for each invocation, delivered in batches. */
  private async flush(destination: string): Promise<void> {
    if (!this.captured.length || !this.endpoint) return;
    const lines = this.captured.splice(0);
    const key = `${destination}/${this.endpoint.name}/AllTraffic/${hourFolder(new Date())}/${Date.now()}-${randomUUID()}.jsonl`;
    await this.store.put(key, lines.join("\n") + "\n");
  }

  /**
   * The runtime side of InvokeEndpoint: checks the InferenceId as SageMaker Runtime does, passes the
   * request to the model server with only the headers SageMaker forwards, and captures one record
   * per call (input and output bodies, encoded per the endpoint config's CaptureContentTypeHeader).
   */
  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      this.invocations++;
      const body = Buffer.concat(chunks);
      const inferenceId = req.headers["x-amzn-sagemaker-inference-id"] as string | undefined;
      if (inferenceId !== undefined && !INFERENCE_ID.test(inferenceId)) {
        const message = `1 validation error detected: Value '${inferenceId}' at 'inferenceId' failed to satisfy constraint: Member must have length less than or equal to 64 and match pattern \\A\\S[\\p{Print}]*\\z`;
        res.writeHead(400, { "Content-Type": "application/json", "x-amzn-errortype": "ValidationError" }).end(JSON.stringify({ message }));
        return;
      }
      const target = this.endpoint?.server?.state();
      if (!target || this.endpoint?.status === "Creating") {
        res.writeHead(503).end();
        return;
      }
      const headers: http.OutgoingHttpHeaders = {};
      for (const name of FORWARDED_HEADERS) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
      const upstream = http.request({ host: "127.0.0.1", port: target.port, path: req.url, method: req.method, headers }, (up) => {
        const out: Buffer[] = [];
        up.on("data", (c: Buffer) => out.push(c));
        up.on("end", () => {
          const response = Buffer.concat(out);
          if (req.method === "POST" && (up.statusCode ?? 500) < 400) this.capture(req, body, up, response, inferenceId);
          res.writeHead(up.statusCode ?? 500, up.headers).end(response);
        });
      });
      upstream.on("error", () => res.writeHead(502).end());
      upstream.end(body);
    });
  }

  /** One data-capture record, in the layout SageMaker documents. */
  private capture(req: http.IncomingMessage, body: Buffer, up: http.IncomingMessage, response: Buffer, inferenceId: string | undefined): void {
    const config = this.configs.get(this.endpoint!.config)!;
    // Sampling below 100 % would make the fake nondeterministic: the tests capture everything.
    if (config.DataCaptureConfig?.EnableCapture === false) return;
    if (config.DataCaptureConfig?.InitialSamplingPercentage !== 100) throw new Error("the fake cloud captures 100 % or nothing");
    const header = config.DataCaptureConfig?.CaptureContentTypeHeader;
    this.captured.push(
      JSON.stringify({
        captureData: {
          endpointInput: capturedBody("INPUT", String(req.headers["content-type"] ?? ""), body, header),
          endpointOutput: capturedBody("OUTPUT", String(up.headers["content-type"] ?? ""), response, header),
        },
        eventMetadata: { eventId: randomUUID(), ...(inferenceId !== undefined ? { inferenceId } : {}), inferenceTime: inferenceTime(new Date()) },
        eventVersion: "0",
      }),
    );
  }

  /** Every capture record written to S3 so far, parsed. */
  async captureRecords(destination: string): Promise<Record<string, any>[]> {
    const records: Record<string, any>[] = [];
    for (const object of await this.store.list(destination))
      for (const line of (await this.store.get(object.uri)).toString("utf8").split("\n")) if (line.trim()) records.push(JSON.parse(line));
    return records;
  }

  // ------------------------------------------------------------------ Athena

  private installAthena(): void {
    this.athena.on(StartQueryExecutionCommand).callsFake(async (input: Input) => {
      const id = `q-${this.queries.size + 1}`;
      const query = { state: "SUCCEEDED", output: `${input.ResultConfiguration.OutputLocation}${id}.csv`, columns: [] as string[], rows: [] as string[][] } as {
        state: string;
        error?: string;
        output: string;
        columns: string[];
        rows: string[][];
      };
      this.queries.set(id, query);
      try {
        await this.execute(String(input.QueryString), query);
      } catch (error) {
        query.state = "FAILED";
        query.error = (error as Error).message;
      }
      return { QueryExecutionId: id };
    });
    this.athena.on(GetQueryExecutionCommand).callsFake(async ({ QueryExecutionId }: Input) => {
      const q = this.queries.get(QueryExecutionId)!;
      return { QueryExecution: { QueryExecutionId, Status: { State: q.state, StateChangeReason: q.error }, ResultConfiguration: { OutputLocation: q.output } } };
    });
    this.athena.on(GetQueryResultsCommand).callsFake(async ({ QueryExecutionId }: Input) => {
      const q = this.queries.get(QueryExecutionId)!;
      return { ResultSet: { Rows: [q.columns, ...q.rows].map((r) => ({ Data: r.map((v) => ({ VarCharValue: v })) })) } };
    });
  }

  private async execute(sql: string, query: { output: string; columns: string[]; rows: string[][] }): Promise<void> {
    const table = /^CREATE EXTERNAL TABLE IF NOT EXISTS `\w+`\.`(\w+)`[\s\S]*?LOCATION '([^']+)'/.exec(sql);
    if (table) {
      this.tables.set(table[1], { location: table[2], kind: /PARTITIONED BY/.test(sql) ? "decisions" : /OpenCSVSerde/.test(sql) ? "joinedIds" : "rewards" });
      return;
    }
    const drop = /^DROP TABLE IF EXISTS `\w+`\.`(\w+)`/.exec(sql);
    if (drop) {
      this.tables.delete(drop[1]);
      return;
    }
    if (/^CREATE DATABASE/.test(sql)) return;
    // A query: load the tables it names from S3 into a fresh DuckDB, run it, write Athena's CSV.
    const instance = await DuckDBInstance.create(":memory:");
    const c = await instance.connect();
    try {
      for (const shim of DUCKDB_TRINO_SHIMS) await c.run(shim);
      for (const [name, t] of this.tables) {
        const db = new RegExp(`"(\\w+)"\\."${name}"`).exec(sql)?.[1];
        if (!db) continue;
        await c.run(`CREATE SCHEMA IF NOT EXISTS ${db}`);
        const dir = path.join(this.tmp, "athena", randomUUID());
        const files = await this.store.download(t.location.replace(/\/$/, ""), dir);
        const list = `[${files.map((f) => `'${f}'`).join(", ")}]`;
        const pathExpr = `replace(filename, '${dir}/', '${t.location}')`;
        const body = "STRUCT(observedContentType VARCHAR, mode VARCHAR, data VARCHAR, encoding VARCHAR)";
        if (t.kind === "joinedIds")
          // CSV with a header line (skip.header.line.count 1); no file yet: an empty table.
          await c.run(
            files.length === 0
              ? `CREATE TABLE ${db}.${name} (event_id VARCHAR, "$path" VARCHAR)`
              : `CREATE TABLE ${db}.${name} AS SELECT event_id, ${pathExpr} AS "$path"
                 FROM read_csv(${list}, header = true, filename = true, columns = {event_id: 'VARCHAR'})`,
          );
        else if (t.kind === "decisions")
          await c.run(`CREATE TABLE ${db}.${name} AS SELECT captureData AS capturedata, eventMetadata AS eventmetadata, ${pathExpr} AS "$path",
              regexp_extract(filename, '(\\d{4}/\\d{2}/\\d{2}/\\d{2})/', 1) AS dt
            FROM read_json(${list}, format = 'newline_delimited', filename = true,
              columns = {captureData: 'STRUCT(endpointInput ${body}, endpointOutput ${body})', eventMetadata: 'STRUCT(eventId VARCHAR, inferenceId VARCHAR, inferenceTime VARCHAR)'})`);
        else
          await c.run(`CREATE TABLE ${db}.${name} AS SELECT event_id, reward, "timestamp", ${pathExpr} AS "$path"
            FROM read_json(${list}, format = 'newline_delimited', filename = true, columns = {event_id: 'VARCHAR', reward: 'DOUBLE', "timestamp": 'DOUBLE'})`);
      }
      const result = await c.runAndReadAll(sql);
      query.columns = result.columnNames();
      query.rows = result.getRowObjectsJS().map((r) => query.columns.map((k) => (r[k] === null || r[k] === undefined ? "" : String(r[k]))));
      const csv = [query.columns, ...query.rows].map((row) => row.map((v) => `"${v.replace(/"/g, '""')}"`).join(",")).join("\n") + "\n";
      await this.store.put(query.output, csv);
      await this.store.put(`${query.output}.metadata`, "athena-metadata");
    } finally {
      c.closeSync();
      instance.closeSync();
    }
  }
}
