/**
 * The Statlog app and its warm start refuse a config whose model shape is not the app's
 * (issue 10 item 7): checked up front, naming config.yaml and the key.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "@cbkit/common";
import { findProjectRoot } from "@cbkit/common/config";
import { AppConfigMismatchError, StatlogSimApp, checkAppMatchesConfig, prepareStatlogWarmStartData } from "@cbkit/sim_app";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-sim-config-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

/** The shipped config.yaml with some algorithms_parameters changed, written to a temporary file and loaded. */
function configWith(changes: Record<string, number>) {
  let text = fs.readFileSync(path.join(findProjectRoot(), "config.yaml"), "utf8");
  for (const [k, v] of Object.entries(changes)) text = text.replace(new RegExp(`^(\\s*)${k}: *\\S+`, "m"), `$1${k}: ${v}`);
  const file = path.join(tmp, `config-${Object.entries(changes).flat().join("-")}.yaml`);
  fs.writeFileSync(file, text);
  return loadConfig(file);
}

test("the shipped config matches the Statlog app (7 actions, 9 features)", () => {
  const app = new StatlogSimApp({ config: loadConfig() });
  assert.equal(app.numActions, 7);
  assert.equal(app.numFeatures, 9);
  checkAppMatchesConfig(app, loadConfig());
});

test("num_arms or num_features other than the app's: the app, the warm start and the check refuse, naming the file and the key", () => {
  const arms = configWith({ num_arms: 5 });
  assert.throws(() => new StatlogSimApp({ config: arms }), (e: Error) => {
    assert.ok(e instanceof AppConfigMismatchError);
    assert.match(e.message, /config-num_arms-5\.yaml does not match the client app: algor\.algorithms_parameters\.num_arms is 5 but the app has 7 actions: set num_arms: 7/);
    return true;
  });
  assert.throws(() => prepareStatlogWarmStartData({ batchSize: 10, config: arms }), /algor\.algorithms_parameters\.num_arms is 5/);
  const both = configWith({ num_arms: 8, num_features: 4 });
  assert.throws(() => checkAppMatchesConfig({ numActions: 7, numFeatures: 9 }, both), /num_arms is 8 .*; algor\.algorithms_parameters\.num_features is 4 but the app's contexts have 9 features: set num_features: 9/);
  // A bare object without a path names config.yaml.
  assert.throws(() => checkAppMatchesConfig({ numActions: 7, numFeatures: 9 }, { algor: { algorithms_parameters: { num_features: 3 } } }), /^AppConfigMismatchError: config\.yaml does not match/);
  // Keys the config leaves out are not checked; without a config the warm start runs as before.
  checkAppMatchesConfig({ numActions: 7, numFeatures: 9 }, { algor: { algorithms_parameters: {} } });
  assert.equal(prepareStatlogWarmStartData({ batchSize: 10, seed: 3 }).length, 10);
});
