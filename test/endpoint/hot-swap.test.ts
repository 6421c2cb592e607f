/**
 * The hot swap's model folder check against its load (`POST /admin/deploy`): the model that is
 * loaded is the real folder that was checked, so a link inside the model root that is pointed out
 * of it between the check and the load leads nowhere. The server runs in this process, so the test
 * can act at the exact moment between the two.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { startServer } from "@cbkit/common/container";
import { OBS, tempDir, trainedModel } from "./helpers";

const tmp = tempDir("endpoint-hot-swap");
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("a link in the model root pointed outside it between the check and the load: the checked model is loaded, never the outside one", async () => {
  const root = path.join(tmp, "training_jobs");
  const first = await trainedModel(path.join(root, "m1"), "swap-m1");
  const inside = await trainedModel(path.join(root, "m2"), "swap-m2");
  const outside = await trainedModel(path.join(tmp, "foreign", "m3"), "swap-foreign");
  const link = path.join(root, "latest");
  fs.symlinkSync(inside, link);
  const adminToken = "admin-token-for-the-test";
  const running = await startServer({ port: 0, host: "127.0.0.1", modelDir: first, endpointName: "swap", seed: 1, adminToken, modelRoot: root });
  try {
    // The server's own 'end' listener checks the folder and queues the load; the load itself runs
    // only once this turn is over, so a listener added after it acts between check and load.
    let flipped = false;
    running.server.on("request", (req) => {
      if (req.url !== "/admin/deploy") return;
      req.on("end", () => {
        fs.rmSync(link);
        fs.symlinkSync(outside, link);
        flipped = true;
      });
    });
    const url = running.state().url;
    const r = await fetch(`${url}/admin/deploy`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-cbkit-admin-token": adminToken },
      body: JSON.stringify({ model_dir: link }),
    });
    const body = (await r.json()) as { model_id?: string; message?: string };
    assert.ok(flipped, "the link was pointed outside between the check and the load");
    assert.equal(r.status, 200, body.message);
    assert.equal(body.model_id, "swap-m2", "the folder that was checked is the one loaded");
    assert.equal(running.state().modelDir, fs.realpathSync(inside), "the state names the real folder served");
    const answer = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ observation: OBS }) });
    assert.equal(((await answer.json()) as { model_id: string }).model_id, "swap-m2");

    // Asked again, the link is checked where it leads now: outside, refused.
    const again = await fetch(`${url}/admin/deploy`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-cbkit-admin-token": adminToken },
      body: JSON.stringify({ model_dir: link }),
    });
    assert.equal(again.status, 403);
    assert.equal(((await again.json()) as { error: string }).error, "ModelOutsideExperiment");
  } finally {
    await running.close();
  }
});
