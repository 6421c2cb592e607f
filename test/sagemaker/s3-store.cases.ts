import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { S3ObjectStore, parseS3Uri } from "@cbkit/common/sagemaker";
import { ObjectStoreError } from "@cbkit/common";
import { BUCKET, REGION, STORAGE_EMULATORS, type S3Emulator } from "./helpers";


// The same cases on two independent S3 emulators: s3rver (SDK checksums off: it predates them)
// and moto's server (the SDK's default checksums on).
for (const emulator of STORAGE_EMULATORS) describe(`S3ObjectStore on ${emulator.name}`, { skip: emulator.skip }, () => {
  let s3: S3Emulator;
  let store: S3ObjectStore;
  before(async () => {
    s3 = await emulator.s3();
    store = new S3ObjectStore(s3.client, BUCKET, REGION);
  });
  after(async () => s3.stop());

  it("creates the bucket on first write and round-trips objects", async () => {
    const uri = store.uriOf("exp-1/rewards_data/b1/rewards-1.jsonl");
    assert.equal(uri, `s3://${BUCKET}/exp-1/rewards_data/b1/rewards-1.jsonl`);
    assert.equal(await store.exists(uri), false);
    await store.put(uri, '{"event_id":"1","reward":1}\n');
    assert.equal(await store.exists(uri), true);
    assert.equal((await store.get(uri)).toString("utf8"), '{"event_id":"1","reward":1}\n');
    await store.put(uri, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...(await store.get(uri))], [1, 2, 3]);
  });

  it("lists a prefix recursively, sorted, without matching sibling prefixes", async () => {
    await store.put(store.uriOf("exp-2/joined_data/j1/train/b.csv"), "b");
    await store.put(store.uriOf("exp-2/joined_data/j1/train/a.csv"), "a");
    await store.put(store.uriOf("exp-2/joined_data/j1/train/sub/c.csv"), "cc");
    await store.put(store.uriOf("exp-2/joined_data/j1/train_old/x.csv"), "x");
    const listed = await store.list(store.uriOf("exp-2/joined_data/j1/train"));
    assert.deepEqual(
      listed.map((o) => o.key),
      ["exp-2/joined_data/j1/train/a.csv", "exp-2/joined_data/j1/train/b.csv", "exp-2/joined_data/j1/train/sub/c.csv"],
    );
    assert.equal(listed[2].size, 2);
    assert.ok(!Number.isNaN(Date.parse(listed[0].lastModified)));
    assert.deepEqual((await store.list(store.uriOf("exp-none"))).length, 0);
  });

  it("lists after a key and with a limit (time-ordered capture folders)", async () => {
    for (const hour of ["2026/11/28/10", "2026/11/28/11", "2026/11/28/12"])
      await store.put(store.uriOf(`exp-3/inference_data/exp-3/AllTraffic/${hour}/f.jsonl`), hour);
    const prefix = store.uriOf("exp-3/inference_data/exp-3/AllTraffic");
    const after11 = await store.listFrom(prefix, "exp-3/inference_data/exp-3/AllTraffic/2026/11/28/11");
    assert.deepEqual(after11.map((o) => o.key.split("/").slice(-2, -1)[0]), ["11", "12"]);
    const first = await store.listFrom(prefix, undefined, 1);
    assert.equal(first.length, 1);
    assert.match(first[0].key, /2026\/11\/28\/10/);
  });

  it("uploads files, downloads prefixes and deletes recursively", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-s3-test-"));
    try {
      const local = path.join(tmp, "data.csv");
      fs.writeFileSync(local, "reward,event_id\n1,a\n");
      await store.putFile(store.uriOf("exp-4/uploads/u1/data.csv"), local);
      await store.put(store.uriOf("exp-4/uploads/u1/more/x.jsonl"), "{}\n");
      const files = await store.download(store.uriOf("exp-4/uploads/u1"), path.join(tmp, "out"));
      assert.deepEqual(files.map((f) => path.relative(path.join(tmp, "out"), f)).sort(), ["data.csv", path.join("more", "x.jsonl")]);
      assert.equal(fs.readFileSync(files[0], "utf8"), "reward,event_id\n1,a\n");
      assert.equal(await store.delete(store.uriOf("exp-4/uploads/u1/data.csv")), 1);
      assert.equal(await store.delete(store.uriOf("exp-4/uploads/u1/data.csv")), 0);
      assert.equal(await store.delete(store.uriOf("exp-4"), { recursive: true }), 1);
      assert.deepEqual(await store.list(store.uriOf("exp-4")), []);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("refuses foreign buckets, bad URIs and path tricks, and reports missing objects", async () => {
    assert.throws(() => store.keyOf("s3://other-bucket/x"), ObjectStoreError);
    assert.throws(() => store.keyOf("file:///etc/passwd"), /not an S3 URI/);
    assert.throws(() => store.uriOf("exp/../secret"), /'\.\.'/);
    assert.deepEqual(parseS3Uri("s3://my-bucket/a/b"), { bucket: "my-bucket", key: "a/b" });
    await assert.rejects(store.get(store.uriOf("exp-1/none")), (e: Error) => e instanceof ObjectStoreError && /does not exist/.test(e.message));
  });
});

describe("S3ObjectStore bucket creation (S3 mocked)", () => {
  it("creates a missing bucket in the configured region, and explains a bucket it can not use", async () => {
    const { mockClient } = await import("aws-sdk-client-mock");
    const { S3Client, HeadBucketCommand, CreateBucketCommand, PutObjectCommand } = await import("@aws-sdk/client-s3");
    const { SageMakerConfigError } = await import("@cbkit/common/sagemaker");
    const client = new S3Client({ region: "eu-west-1", credentials: { accessKeyId: "x", secretAccessKey: "y" } });
    const s3 = mockClient(client);
    const notFound = Object.assign(new Error("NotFound"), { name: "NotFound", $metadata: { httpStatusCode: 404 } });
    s3.on(HeadBucketCommand).rejects(notFound);
    s3.on(CreateBucketCommand).resolves({});
    s3.on(PutObjectCommand).resolves({});
    const store = new S3ObjectStore(client, "my-new-bucket", "eu-west-1");
    await store.put(store.uriOf("e/x.json"), "{}");
    await store.put(store.uriOf("e/y.json"), "{}");
    assert.deepEqual(s3.commandCalls(CreateBucketCommand).map((c) => c.args[0].input), [
      { Bucket: "my-new-bucket", CreateBucketConfiguration: { LocationConstraint: "eu-west-1" } },
    ]);
    s3.reset();
    const forbidden = Object.assign(new Error("Forbidden"), { name: "403", $metadata: { httpStatusCode: 403 } });
    s3.on(HeadBucketCommand).rejects(forbidden);
    const taken = new S3ObjectStore(client, "someone-elses-bucket", "eu-west-1");
    await assert.rejects(taken.put(taken.uriOf("e/x.json"), "{}"), (e: Error) => e instanceof SageMakerConfigError && /sagemaker\.bucket: bucket someone-elses-bucket exists but/.test(e.message));
  });
});
