/** Identifying a process by more than its pid (util/process.ts), against real processes. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  isSameProcess,
  pidAlive,
  processCommandLine,
  processCommandText,
  processStartTimeMs,
  processStartToken,
  psStartToken,
} from "@cbkit/common/util";
import { waitFor } from "./helpers";

test("a process keeps its start token; another process, or the same pid after exit, does not match", async () => {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "--", "marker-arg"], { stdio: "ignore" });
  const pid = child.pid as number;
  const token = processStartToken(pid);
  assert.ok(token, "a live process has a start token");
  assert.equal(processStartToken(pid), token, "stable");
  assert.notEqual(processStartToken(process.pid), token, "another process has another token");
  assert.ok(isSameProcess(pid, token as string, ["marker-arg"]));
  assert.equal(isSameProcess(pid, token as string, ["not-in-argv"]), false, "the command line must match too");
  assert.equal(isSameProcess(pid, `${token}0`), false);
  assert.ok(processCommandLine(pid)?.includes("marker-arg"));
  assert.match(processCommandText(pid) ?? "", / -e setInterval.* -- marker-arg$/);
  const started = processStartTimeMs(pid) as number;
  assert.ok(Math.abs(started - Date.now()) < 5000, `start time ${new Date(started).toISOString()} is about now`);
  assert.match(psStartToken(pid) ?? "", /^ps:\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}$/, "the ps fallback reads lstart");
  child.kill("SIGKILL");
  await waitFor(() => !pidAlive(pid));
  assert.equal(processStartToken(pid), null);
  assert.equal(isSameProcess(pid, token as string), false);
  assert.equal(pidAlive(-1), false);
  assert.equal(processStartToken(0), null);
});
