/**
 * Path and URI code with Windows paths (issue 18.13), checked on any machine: the pure helpers
 * take the path flavour. A `file://${dir}` URI is malformed for `C:\...`; `pathToFileURL` is not.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { resolveWorkspaceDir } from "@cbkit/common/config";
import { decisionLogUriOf, objectPathOf, objectUriOf, type PathFlavor } from "@cbkit/common/local";

const WIN: PathFlavor = { path: path.win32, windows: true };
const bucket = "C:\\Users\\Ana Lee\\cb kit\\workspace\\bucket";

test("object URIs of a Windows bucket are well-formed file URIs and read back to the same paths", () => {
  const uri = objectUriOf(bucket, "exp/joined_data/j#1/eval", WIN);
  assert.equal(uri, "file:///C:/Users/Ana%20Lee/cb%20kit/workspace/bucket/exp/joined_data/j%231/eval");
  assert.equal(new URL(uri).protocol, "file:");
  assert.equal(objectPathOf(bucket, uri, WIN), "C:\\Users\\Ana Lee\\cb kit\\workspace\\bucket\\exp\\joined_data\\j#1\\eval");
  // A drive letter in another case is the same folder on Windows.
  assert.equal(objectPathOf(bucket, uri.replace("file:///C:", "file:///c:"), WIN), "c:\\Users\\Ana Lee\\cb kit\\workspace\\bucket\\exp\\joined_data\\j#1\\eval");
});

test("Windows URIs outside the bucket, with '..' or on another drive, are refused naming the bucket", () => {
  for (const uri of ["file:///C:/Users/Ana%20Lee/cb%20kit/workspace/other/x", "file:///D:/workspace/bucket/exp", "file:///C:/Users/Ana%20Lee/cb%20kit/workspace/bucket/../secrets"]) {
    assert.throws(() => objectPathOf(bucket, uri, WIN), /is outside the local bucket C:\\Users\\Ana Lee\\cb kit\\workspace\\bucket/, uri);
  }
  assert.throws(() => objectPathOf(bucket, "s3://b/exp", WIN), /is not a local object URI: expected file:\/\/\/C:\/Users\/Ana%20Lee\/cb%20kit\/workspace\/bucket\/\.\.\./);
  assert.throws(() => objectUriOf(bucket, "exp/../../x", WIN), /contains '.' or '..'/);
});

test("the decision-log URI of a Windows folder is built by pathToFileURL, not by gluing 'file://' to the path", () => {
  const dir = "C:\\Users\\Ana Lee\\kit #1\\100% data\\exp\\inference_data";
  assert.equal(decisionLogUriOf(dir, true), "file:///C:/Users/Ana%20Lee/kit%20%231/100%25%20data/exp/inference_data");
  assert.equal(fileURLToPath(decisionLogUriOf(dir, true), { windows: true }), dir, "reads back to the same folder");
  // The old spelling cuts the path at '#' (a fragment) and leaves '%' undecodable.
  assert.notEqual(fileURLToPath(new URL(`file://${dir}`), { windows: true }), dir);
  assert.equal(decisionLogUriOf("/home/ana/ws/bucket/exp/inference_data", false), "file:///home/ana/ws/bucket/exp/inference_data");
  assert.equal(decisionLogUriOf(null), "");
});

test("the workspace of a Windows config resolves against the config's folder, or stays on its own drive", () => {
  assert.equal(resolveWorkspaceDir({ dir: "C:\\Users\\ana\\kit", workspace: "workspace" }, path.win32), "C:\\Users\\ana\\kit\\workspace");
  assert.equal(resolveWorkspaceDir({ dir: "C:\\Users\\ana\\kit", workspace: "D:\\cb\\ws" }, path.win32), "D:\\cb\\ws");
  assert.equal(resolveWorkspaceDir({ dir: "C:\\Users\\ana\\kit", workspace: "..\\ws" }, path.win32), "C:\\Users\\ana\\ws");
});
