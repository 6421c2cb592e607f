/** What the kit reads about a process by its pid (util/process.ts), against real processes. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { pidAlive, processStartTimeMs } from "@cbkit/common/util";
import { waitFor } from "./helpers";

test("pidAlive and the start time of a live process; nothing for a gone one", async () => {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  const pid = child.pid as number;
  assert.ok(pidAlive(pid));
  const started = processStartTimeMs(pid) as number;
  assert.ok(Math.abs(started - Date.now()) < 5000, `start time ${new Date(started).toISOString()} is about now`);
  child.kill("SIGKILL");
  await waitFor(() => !pidAlive(pid));
  assert.equal(processStartTimeMs(pid), null);
  assert.equal(pidAlive(-1), false);
  assert.equal(pidAlive(0), false);
  assert.equal(processStartTimeMs(0), null);
});
