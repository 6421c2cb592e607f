/**
 * The manager on a real 64 MB file system that fills and frees (issue 16 item 1): every step
 * refused for lack of space gives a DiskFullError naming the path, the free space and what to
 * free — never an abort of the process (a DuckDB FatalException used to end it with exit 134) —
 * leaves nothing half-written, and the same manager goes on once space was freed.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { mountSmallDisk } from "../setup/small-disk";

interface Step {
  step: string;
  ok: boolean;
  error?: { name: string; message: string };
  trainStates?: string[];
  completed?: number;
}

const DISK_FULL = /no space left to write \/.* \(\d+(\.\d+)? (bytes|KB|MB) free on its disk(, at least .* needed)?\)\. Nothing was half-written\. What to do: free space/;

test("a full disk: named errors for train, ingest, join, evaluate and the platform's writers; no abort; the manager goes on after space is freed", async (t) => {
  const disk = mountSmallDisk("manager on a full disk", 64 * 1024 * 1024);
  if ("skip" in disk) return t.skip(disk.skip);
  try {
    const run = spawnSync(process.execPath, [path.join(__dirname, "disk-full-scenario.js"), disk.dir], { encoding: "utf8", timeout: 240_000 });
    assert.equal(run.signal, null, `the manager's process was killed by ${run.signal}: ${run.stderr.slice(-2000)}`);
    assert.equal(run.status, 0, `exit ${run.status}: ${run.stderr.slice(-2000)}`);
    const steps = new Map(
      run.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Step)
        .map((s) => [s.step, s]),
    );
    const refused = (name: string, pattern: RegExp = DISK_FULL) => {
      const s = steps.get(name);
      assert.ok(s && !s.ok, `${name}: refused (${JSON.stringify(s)})`);
      assert.match(s.error?.message ?? "", pattern, `${name}: ${s.error?.message}`);
    };
    refused("train on a full disk");
    refused("ingest on a full disk");
    refused("join on a full disk");
    refused("evaluate on a full disk");
    refused("train with 1 MB free", /the record database: no space left to write .*records\.duckdb \(1(\.0)? MB free on its disk, at least \d+ MB needed\)/);
    refused("platform join on a full disk", /join df-join-0000000000zz: no space left to write/);
    assert.ok(steps.get("no partial join output")?.ok, "a failed join leaves no split behind");
    refused("training job on a full disk", /training job df-model-0000000000zz: no space left to write .*jobs\/df-model-0000000000zz/);
    assert.ok(steps.get("failed job folder removed")?.ok, "on a full disk the failed job's folder is removed, not kept");
    for (const name of ["train after space was freed", "join after space was freed", "evaluate after space was freed"]) {
      assert.ok(steps.get(name)?.ok, `${name}: ${JSON.stringify(steps.get(name))}`);
    }
    const state = steps.get("state");
    assert.equal(state?.completed, 2, `the first model and the one after space was freed: ${JSON.stringify(state?.trainStates)}`);
    assert.ok(!state?.trainStates?.includes("InProgress"), `no training left in progress: ${JSON.stringify(state?.trainStates)}`);
  } finally {
    disk.unmount();
  }
});
