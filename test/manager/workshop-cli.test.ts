/**
 * `npm start` into a pipe, then `bandits` on the files it left (issue 18 item 15): one plain line
 * per loop (no bar redrawn with carriage returns), and the README's paths of the joined records
 * and the models are where a workshop run really leaves them.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { findProjectRoot, defaultShuttleDataFile } from "@cbkit/common/config";
import { tempWorkspace } from "./helpers";

const ROOT = findProjectRoot();
const ws = tempWorkspace("workshop-cli");
after(() => fs.rmSync(ws, { recursive: true, force: true }));

const run = (script: string, args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, script), ...args], { encoding: "utf8", timeout: 300_000, cwd: ws });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Every file or folder under `dir`, as paths relative to it with '/' separators. */
function listTree(dir: string, prefix = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = `${prefix}${e.name}`;
    return e.isDirectory() ? [`${rel}/`, ...listTree(path.join(dir, e.name), `${rel}/`)] : [rel];
  });
}

test("npm start in a pipe prints one plain line per loop, and bandits reads the files where the README says they are", () => {
  // The shipped config with the workspace in a temporary folder.
  const config = YAML.parse(fs.readFileSync(path.join(ROOT, "config.yaml"), "utf8"));
  config.workspace = path.join(ws, "workspace");
  config.data_file = defaultShuttleDataFile(ROOT);
  fs.writeFileSync(path.join(ws, "config.yaml"), YAML.stringify(config));
  const start = run("sim_app/dist/workshop/main.js", ["--config", path.join(ws, "config.yaml"), "--loops", "2", "--batch-size", "150", "--warm-start", "200", "--seed", "3", "--experiment-id", "cli-run"]);
  assert.equal(start.code, 0, start.err);
  for (const [name, text] of [["stdout", start.out], ["stderr", start.err]]) {
    assert.doesNotMatch(text, /\r/, `${name} has no carriage return`);
    assert.doesNotMatch(text, /\[[#.]{5,}\]/, `${name} has no progress bar`);
  }
  const loopLines = start.out.split("\n").filter((l) => /^loop +\d/.test(l));
  assert.equal(loopLines.length, 2, start.out);
  for (const [i, l] of loopLines.entries()) assert.match(l, new RegExp(`^loop +${i + 1}/2: reward \\d\\.\\d{3} +challenger vs champion .* -> (deployed|kept champion)$`));

  // The README's path patterns (`workspace/bucket/<experiment>/...`), each matched by the run's files.
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const patterns = [...new Set([...readme.matchAll(/`(workspace\/bucket\/<experiment>\/[^`]*)`/g)].map((m) => m[1]))];
  assert.ok(patterns.some((p) => p.includes("/joined_data/")) && patterns.some((p) => p.includes("/training_jobs/")), `README names the joined data and the models: ${patterns.join(", ")}`);
  const files = listTree(path.join(ws, "workspace")).map((f) => `workspace/${f}`);
  // <experiment> is the run's id; any other <name> one id (letters, digits, '.', '_', '-').
  const regexOf = (pattern: string) =>
    new RegExp(`^${pattern.replace(/<experiment>/g, "cli-run").split(/<[^>]+>/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[A-Za-z0-9._-]+")}$`);
  for (const p of patterns) assert.ok(files.some((f) => regexOf(p).test(f)), `README's ${p} matches no file of the run:\n${files.join("\n")}`);

  // bandits on those files: train on every joined record, evaluate a workshop model on a join's eval split.
  const trainSplit = files.find((f) => /joined_data\/cli-run-join-[^/]+\/train\/part-00000\.csv$/.test(f))!;
  const evalDir = path.join(ws, path.dirname(trainSplit), "..", "eval");
  const workshopModel = files.find((f) => /training_jobs\/cli-run-model-[^/]+\/output\/model\/$/.test(f))!;
  const bandits = "sim_app/bin/bandits.js";
  const train = run(bandits, ["train", "--data", "workspace/bucket/cli-run/joined_data", "--out", "model"]);
  assert.equal(train.code, 0, train.err);
  assert.match(train.out, /^trained model-[0-9a-z]{12} on \d+ records/);
  const ev = run(bandits, ["evaluate", "--data", evalDir, "--model", workshopModel, "--bootstrap", "0"]);
  assert.equal(ev.code, 0, ev.err);
  assert.match(ev.out, /^target: cli-run-model-[0-9a-z]{12} in workspace\/bucket\/cli-run\/training_jobs\//);
});
