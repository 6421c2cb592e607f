/**
 * The object store on S3: one bucket (`sagemaker.bucket`, default `sagemaker-{region}-{account}`)
 * laid out as in the original (§4.8). The bucket is created on first write when missing.
 */
import { createReadStream, promises as fs } from "node:fs";
import * as path from "node:path";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type BucketLocationConstraint,
  type S3Client,
} from "@aws-sdk/client-s3";
import { ObjectStoreError, type ObjectInfo, type ObjectStore } from "../types";
import { AwsPermissionError, awsCall, awsErrorName } from "./aws";
import { SageMakerConfigError } from "./settings";

/** Splits `s3://bucket/key` into its parts; throws for anything else. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!match) throw new ObjectStoreError(uri, `'${uri}' is not an S3 URI (expected s3://<bucket>/<key>)`);
  return { bucket: match[1], key: match[2] ?? "" };
}

function checkKey(uri: string, key: string): string {
  const trimmed = key.replace(/\/+$/, "");
  if (trimmed.split("/").some((part) => part === ".." || part === "." || (part === "" && trimmed !== "")))
    throw new ObjectStoreError(uri, `'${uri}' has an empty, '.' or '..' path segment; use a plain key`);
  return trimmed;
}

const notFound = (error: unknown) => ["NoSuchKey", "NotFound", "NoSuchBucket"].includes(awsErrorName(error));

export class S3ObjectStore implements ObjectStore {
  private bucketReady: Promise<void> | null = null;

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly region: string,
  ) {}

  uriOf(key: string): string {
    const uri = `s3://${this.bucket}/${key}`;
    return `s3://${this.bucket}/${checkKey(uri, key.replace(/^\/+/, ""))}`;
  }

  keyOf(uri: string): string {
    const { bucket, key } = parseS3Uri(uri);
    if (bucket !== this.bucket)
      throw new ObjectStoreError(uri, `'${uri}' is outside the experiment bucket s3://${this.bucket}; copy the data there first`);
    return checkKey(uri, key);
  }

  /** Creates the bucket when it does not exist yet (once per store). */
  ensureBucket(): Promise<void> {
    this.bucketReady ??= this.createBucketIfMissing().catch((error) => {
      this.bucketReady = null;
      throw error;
    });
    return this.bucketReady;
  }

  private async createBucketIfMissing(): Promise<void> {
    try {
      await awsCall("s3:ListBucket (HeadBucket)", () => this.s3.send(new HeadBucketCommand({ Bucket: this.bucket })));
      return;
    } catch (error) {
      if (error instanceof AwsPermissionError)
        throw new SageMakerConfigError(
          "sagemaker.bucket",
          `bucket ${this.bucket} exists but these credentials can not use it (it belongs to another account, or s3:ListBucket is missing)`,
          "Set sagemaker.bucket to a bucket of yours, or grant the S3 permissions listed by requiredIamPermissions()",
        );
      if (!notFound(error) && (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw error;
    }
    try {
      await awsCall("s3:CreateBucket", () =>
        this.s3.send(
          new CreateBucketCommand({
            Bucket: this.bucket,
            ...(this.region === "us-east-1"
              ? {}
              : { CreateBucketConfiguration: { LocationConstraint: this.region as BucketLocationConstraint } }),
          }),
        ),
      );
    } catch (error) {
      // Someone else created it in between: fine.
      if (!["BucketAlreadyOwnedByYou", "OperationAborted"].includes(awsErrorName(error))) throw error;
    }
  }

  async put(uri: string, body: string | Uint8Array): Promise<void> {
    const key = this.keyOf(uri);
    await this.ensureBucket();
    await awsCall("s3:PutObject", () =>
      this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: typeof body === "string" ? Buffer.from(body, "utf8") : body })),
    );
  }

  async putFile(uri: string, localPath: string): Promise<void> {
    const key = this.keyOf(uri);
    const { size } = await fs.stat(localPath);
    await this.ensureBucket();
    // A single PutObject takes up to 5 GB, far beyond any workshop data set.
    await awsCall("s3:PutObject", () =>
      this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: createReadStream(localPath), ContentLength: size })),
    );
  }

  async get(uri: string): Promise<Buffer> {
    const key = this.keyOf(uri);
    try {
      const out = await awsCall("s3:GetObject", () => this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })));
      if (!out.Body) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (error) {
      if (notFound(error)) throw new ObjectStoreError(uri, `object ${uri} does not exist`);
      throw error;
    }
  }

  async exists(uri: string): Promise<boolean> {
    const key = this.keyOf(uri);
    try {
      await awsCall("s3:GetObject (HeadObject)", () => this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return true;
    } catch (error) {
      if (notFound(error) || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw error;
    }
  }

  async list(prefixUri: string): Promise<ObjectInfo[]> {
    return this.listFrom(prefixUri);
  }

  /**
   * Objects below a prefix whose keys sort after `startAfterKey` (S3 lists in key order, so a
   * time-ordered layout can skip old data), at most `limit` of them.
   */
  async listFrom(prefixUri: string, startAfterKey?: string, limit = Infinity): Promise<ObjectInfo[]> {
    const key = this.keyOf(prefixUri);
    const prefix = key === "" ? "" : `${key}/`;
    const found: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await awsCall("s3:ListBucket", () =>
          this.s3.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: prefix,
              ContinuationToken: token,
              StartAfter: token ? undefined : startAfterKey,
            }),
          ),
        );
      } catch (error) {
        if (awsErrorName(error) === "NoSuchBucket") return [];
        throw error;
      }
      for (const item of page.Contents ?? []) {
        if (!item.Key || item.Key.endsWith("/")) continue; // console-made "folder" markers
        found.push({
          uri: `s3://${this.bucket}/${item.Key}`,
          key: item.Key,
          size: item.Size ?? 0,
          lastModified: (item.LastModified ?? new Date(0)).toISOString(),
        });
      }
      token = page.IsTruncated && found.length < limit ? page.NextContinuationToken : undefined;
    } while (token);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).slice(0, limit);
  }

  async delete(uri: string, options: { recursive?: boolean } = {}): Promise<number> {
    const key = this.keyOf(uri);
    let deleted = 0;
    if (await this.exists(uri)) {
      await awsCall("s3:DeleteObject", () => this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
      deleted++;
    }
    if (!options.recursive) return deleted;
    const keys = (await this.list(uri)).map((o) => o.key);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const out = await awsCall("s3:DeleteObject", () =>
        this.s3.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: false } }),
        ),
      );
      if (out.Errors?.length) {
        const first = out.Errors[0];
        throw new ObjectStoreError(uri, `could not delete ${out.Errors.length} objects under ${uri}, e.g. ${first.Key}: ${first.Code} ${first.Message}`);
      }
      deleted += batch.length;
    }
    return deleted;
  }

  async download(prefixUri: string, localDir: string): Promise<string[]> {
    const prefixKey = this.keyOf(prefixUri);
    const root = path.resolve(localDir);
    const files: string[] = [];
    for (const object of await this.list(prefixUri)) {
      const relative = prefixKey === "" ? object.key : object.key.slice(prefixKey.length + 1);
      const target = path.resolve(root, relative);
      if (!target.startsWith(root + path.sep)) throw new ObjectStoreError(object.uri, `key ${object.key} would land outside ${root}`);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, await this.get(object.uri));
      files.push(target);
    }
    return files;
  }
}
