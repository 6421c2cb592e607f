/** What the kit reads about a process by its pid (util/process.ts), against real processes. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { pidAlive, processStartId } from "@cbkit/common/util";
import { waitFor } from "./helpers";

test("pidAlive and the start id of a live process (the same at every read, another process's differs); nothing for a gone one", async () => {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  const pid = child.pid as number;
  assert.ok(pidAlive(pid));
  const id = processStartId(pid);
  assert.ok(id, "a live process has a start id");
  assert.equal(processStartId(pid), id, "read again: the same");
  assert.notEqual(processStartId(process.pid), id, "another process: another id");
  child.kill("SIGKILL");
  await waitFor(() => !pidAlive(pid));
  assert.equal(processStartId(pid), null);
  assert.equal(pidAlive(-1), false);
  assert.equal(pidAlive(0), false);
  assert.equal(processStartId(0), null);
});
