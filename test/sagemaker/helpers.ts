/**
 * Shared test helpers of the SageMaker platform: real protocol emulators (s3rver for S3, dynalite
 * for DynamoDB, and moto's server as a second, independent S3 and DynamoDB) on random loopback
 * ports with temporary folders, a fake clock for bounded waits, and small fixtures.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { execFileSync, spawn } from "node:child_process";
import * as net from "node:net";
import { pythonToolOrSkip } from "../python-tools";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SageMakerSettings } from "@cbkit/common/sagemaker";

export const DUMMY_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
export const REGION = "us-west-2";

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;

export interface S3Emulator {
  client: S3Client;
  endpoint: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts s3rver on a random loopback port over a temporary folder. */
export async function startS3(): Promise<S3Emulator> {
  const S3rver = require("s3rver") as S3rverCtor;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-s3rver-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", directory: dir, silent: true });
  const info = await server.run();
  const endpoint = `http://127.0.0.1:${info.port}`;
  const client = new S3Client({
    region: REGION,
    endpoint,
    forcePathStyle: true,
    credentials: DUMMY_CREDENTIALS,
    // s3rver predates the SDK's default CRC checksums on every request.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    client,
    endpoint,
    dir,
    stop: async () => {
      client.destroy();
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface DynamoEmulator {
  client: DynamoDBClient;
  stop(): Promise<void>;
}

/** Starts dynalite (in memory) on a random loopback port. */
export async function startDynamo(): Promise<DynamoEmulator> {
  const dynalite = require("dynalite") as (o: Record<string, unknown>) => Server;
  const server = dynalite({ createTableMs: 50, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const client = new DynamoDBClient({ region: REGION, endpoint: `http://127.0.0.1:${port}`, credentials: DUMMY_CREDENTIALS });
  return {
    client,
    stop: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** moto (`moto[server]` in .venv): a skip reason when it is missing (an error under CI=true). */
export const moto = pythonToolOrSkip("test/sagemaker/storage.test.ts (S3 and DynamoDB on moto)", "moto.server", "moto[server]");

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts moto's server (every service on one port, state in memory) on a free loopback port and
 * waits until it answers; `stop` ends that process.
 */
async function startMotoServer(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  if (!moto.python) throw new Error(String(moto.skip));
  const port = await freePort();
  const child = spawn(moto.python, ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto's server exited with ${child.exitCode}: ${stderr.slice(-1000)}`);
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`moto's server did not answer on ${endpoint} within 30 s: ${stderr.slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    stop: async () => {
      child.kill();
      await exited;
    },
  };
}

/** S3 on moto's server, with the SDK's default checksums (CRC on every request) left on. */
export async function startMotoS3(): Promise<S3Emulator> {
  const server = await startMotoServer();
  const client = new S3Client({ region: REGION, endpoint: server.endpoint, forcePathStyle: true, credentials: DUMMY_CREDENTIALS });
  return {
    client,
    endpoint: server.endpoint,
    dir: "",
    stop: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

/** DynamoDB on moto's server. */
export async function startMotoDynamo(): Promise<DynamoEmulator> {
  const server = await startMotoServer();
  const client = new DynamoDBClient({ region: REGION, endpoint: server.endpoint, credentials: DUMMY_CREDENTIALS });
  return {
    client,
    stop: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

/**
 * The storage emulators a suite that touches S3 or DynamoDB runs on: s3rver and dynalite, and
 * moto's server for both (skipped, naming the install command, when moto is missing).
 */
export const STORAGE_EMULATORS: { name: string; s3: () => Promise<S3Emulator>; dynamo: () => Promise<DynamoEmulator>; skip: string | false }[] = [
  { name: "s3rver", s3: startS3, dynamo: startDynamo, skip: false },
  { name: "moto", s3: startMotoS3, dynamo: startMotoDynamo, skip: moto.skip },
];

/** A clock whose sleeps advance time instantly, to test timeouts without waiting. */
export function fakeClock(start = Date.parse("2026-11-28T12:00:00Z")) {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** A gzip-compressed tar of the given files (made with the system tar, as SageMaker's would be). */
export function tarGz(files: Record<string, string | Buffer>): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-tar-"));
  try {
    for (const [name, body] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, "content", name)), { recursive: true });
      fs.writeFileSync(path.join(dir, "content", name), body);
    }
    execFileSync("tar", ["-czf", path.join(dir, "a.tar.gz"), "-C", path.join(dir, "content"), ...Object.keys(files)]);
    return fs.readFileSync(path.join(dir, "a.tar.gz"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const BUCKET = "cbkit-test-bucket";

/** Settings with short, fake-clock friendly waits. */
export function testSettings(overrides: Partial<SageMakerSettings> = {}): SageMakerSettings {
  return {
    region: REGION,
    bucket: BUCKET,
    roleArn: "arn:aws:iam::123456789012:role/CbKitExecution",
    image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/cbkit:latest",
    trainingInstanceType: "ml.c5.xlarge",
    evaluationInstanceType: "ml.m5.large",
    hostingInstanceType: "ml.t2.medium",
    hostingInstanceCount: 2,
    volumeSizeGb: 5,
    maxJobSeconds: 3600,
    tables: { experiment: "TestExperiments", model: "TestModels", join: "TestJoins" },
    athenaDatabase: "cbkit_test",
    athenaWorkgroup: "primary",
    timeouts: { job: 60_000, endpoint: 120_000, query: 30_000, decisions: 20_000, table: 10_000 },
    intervals: { job: 1000, endpoint: 1000, query: 500, decisions: 1000, table: 20 },
    decisionLookbackMs: 24 * 3_600_000,
    captureSamplingPercent: 100,
    ...overrides,
  };
}

/** The "exception" SageMaker throws for unknown resources. */
export function validationError(message: string): Error {
  const e = new Error(message) as Error & { $fault: string; $metadata: object };
  e.name = "ValidationException";
  e.$fault = "client";
  e.$metadata = { httpStatusCode: 400 };
  return e;
}
