/**
 * The `bandits` command as a user meets it (issue 18 item 15): --version, a did-you-mean for a
 * mistyped flag or command, help with the required flags first and from the same table as the
 * parser, a default model id that does not just repeat the folder's name, and no progress bars
 * redrawn into a pipe. Run as a real process where the exit code or the output stream matters.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JoinedRecord } from "@cbkit/common";
import { findProjectRoot } from "@cbkit/common/config";
import { writeJoinedCsv } from "@cbkit/common/data";
import { main } from "@cbkit/sim_app/cli";

const ROOT = findProjectRoot();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-cli-use-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
/** The launcher npm links as `bandits`. */
const BIN = path.join(ROOT, "sim_app", "bin", "bandits.js");
const COMMANDS = ["simulate", "evaluate", "predict", "describe", "train"];

function bandits(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function inProcess(...args: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(args, (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** The flags a command's help lists, in order, with whether each is in the required block. */
async function helpFlags(cmd: string): Promise<{ flag: string; required: boolean; takesValue: boolean }[]> {
  const { code, out } = await inProcess(cmd, "--help");
  assert.equal(code, 0);
  let block = "";
  const flags = [];
  for (const line of out.split("\n")) {
    if (/^\w[\w ]*:$/.test(line)) block = line;
    const m = /^ {2}(--[a-z-]+)( <[^>]+>)? /.exec(line);
    if (m) flags.push({ flag: m[1], required: block === "required:", takesValue: m[2] !== undefined });
  }
  return flags;
}

const rec = (i: number): JoinedRecord => ({
  reward: i % 3 === 0 ? 1 : 0, event_id: `e${i}`, action: (i % 7) + 1, action_prob: 1 / 7, model_id: "logged",
  observation: Array.from({ length: 9 }, (_, j) => Math.sin(i + j)), sample_prob: 0.5,
});

test("bandits --version and -V print the kit's version from its package.json: one line, exit 0", () => {
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, "sim_app", "package.json"), "utf8")).version as string;
  assert.equal(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version, version, "the kit and its sim_app package share one version");
  for (const flag of ["--version", "-V"]) {
    const r = bandits(flag);
    assert.equal(r.code, 0, `${flag}: ${r.err}`);
    assert.equal(r.out, `bandits ${version}\n`, flag);
    assert.equal(r.err, "", flag);
  }
});

test("a mistyped flag or command names the closest valid one of that command, with a usage hint and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["train", "--polcy", "bag"], /^bandits train: Unknown option '--polcy' \(did you mean --policy\?\)\nRun 'bandits train --help' for the options\.\n$/],
    [["train", "--data=x.csv", "--outt", "m"], /Unknown option '--outt' \(did you mean --out\?\)/],
    [["evaluate", "--estimator", "dr"], /Unknown option '--estimator' \(did you mean --estimators\?\)/],
    [["predict", "--fromat", "csv"], /Unknown option '--fromat' \(did you mean --format\?\)/],
    // simulate has --seeds, no --seed; describe has no learner flags: the suggestion is the command's own.
    [["simulate", "--seed", "3"], /Unknown option '--seed' \(did you mean --seeds\?\)/],
    [["describe", "--polcy", "bag"], /^bandits describe: Unknown option '--polcy'\nRun 'bandits describe --help'/],
    [["trian", "--data", "x"], /^unknown command "trian" \(did you mean train\?\); commands: simulate, evaluate, predict, describe, train\nRun 'bandits --help'/],
    [["--versoin"], /^unknown option "--versoin" \(did you mean --version\?\)/],
  ];
  for (const [args, re] of cases) {
    const r = bandits(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, re, args.join(" "));
    assert.equal(r.out, "", args.join(" "));
  }
  // The suggestions come from the flags the help lists: every listed flag, one letter short, is named.
  for (const cmd of COMMANDS) {
    for (const { flag } of await helpFlags(cmd)) {
      const typo = flag.slice(0, -1);
      const r = await inProcess(cmd, typo);
      assert.equal(r.code, 2, `${cmd} ${typo}`);
      assert.ok(r.err.includes(`Unknown option '${typo}' (did you mean ${flag}?)`), `${cmd} ${typo}: ${r.err}`);
    }
  }
});

test("every command's help lists the required flags first, and the help and the parser read one table", async () => {
  const expectedRequired: Record<string, string[]> = { simulate: [], evaluate: ["--data"], predict: ["--model", "--data"], describe: ["--model"], train: ["--data", "--out"] };
  for (const cmd of COMMANDS) {
    const flags = await helpFlags(cmd);
    const required = flags.filter((f) => f.required).map((f) => f.flag);
    assert.deepEqual(required, expectedRequired[cmd], `${cmd}: required block`);
    assert.deepEqual(flags.slice(0, required.length).map((f) => f.flag), required, `${cmd}: required flags come first`);
    // Every listed flag is accepted by the parser (with --help the command only prints its help).
    for (const f of flags) {
      const r = await inProcess(cmd, f.flag, ...(f.takesValue ? ["1"] : []), "--help");
      assert.equal(r.code, 0, `${cmd} accepts ${f.flag}: ${r.err}`);
    }
  }
  const help = bandits("train", "--help").out;
  assert.match(help, /^usage: bandits train --data <file\|dir> --out <dir> \[options\]$/m);
  assert.match(help, /\nrequired:\n {2}--data <file\|dir> +training data[^\n]*\n {2}--out <dir> +folder to save[^\n]*\n\noptions:\n {2}--model <dir> /);
  // A missing required flag is refused in the help's order, with the reason from the same table.
  const missing: [string[], RegExp][] = [
    [["train"], /--data is required: the joined records to train on\nRun 'bandits train --help'/],
    [["train", "--data", "x.csv"], /--out is required: the folder to save the model in/],
    [["predict"], /--model is required: the model folder to score with/],
    [["describe"], /--model is required/],
    [["evaluate"], /--data is required/],
  ];
  for (const [args, re] of missing) {
    const r = bandits(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, re, args.join(" "));
  }
});

test("train's default model id is the --out folder's name once, made unique; evaluate and describe do not repeat it", async () => {
  const data = path.join(tmp, "joined.csv");
  await writeJoinedCsv(data, Array.from({ length: 200 }, (_, i) => rec(i)));
  const first = path.join(tmp, "a", "model");
  const t1 = bandits("train", "--data", data, "--out", first, "--no-config");
  assert.equal(t1.code, 0, t1.err);
  const id1 = JSON.parse(fs.readFileSync(path.join(first, "model.json"), "utf8")).modelId as string;
  assert.match(id1, /^model-[0-9a-z]{12}$/, "the folder's name and a unique suffix");
  assert.match(t1.out, new RegExp(`^trained ${id1} on 200 records`));

  // A second folder of the same name (as every workshop model's): another id, and the warm start names its parent.
  const second = path.join(tmp, "b", "model");
  const t2 = bandits("train", "--data", data, "--out", second, "--model", first);
  assert.equal(t2.code, 0, t2.err);
  const id2 = JSON.parse(fs.readFileSync(path.join(second, "model.json"), "utf8")).modelId as string;
  assert.match(id2, /^model-[0-9a-z]{12}$/);
  assert.notEqual(id2, id1);
  assert.match(t2.out, new RegExp(`saved to .*\\(warm-started from ${id1}\\)`));

  const ev = bandits("evaluate", "--data", data, "--model", second, "--bootstrap", "0");
  assert.equal(ev.code, 0, ev.err);
  assert.match(ev.out, new RegExp(`^target: ${id2} in ${second.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\(--cb_explore`));
  assert.doesNotMatch(ev.out + t1.out + t2.out, /\bmodel model\b/);
  const d = bandits("describe", "--model", second);
  assert.match(d.out, new RegExp(`^model ${id2} \\(warm-started from ${id1}\\)`));

  // A folder name that is not a safe id becomes one; --model-id is kept as given.
  const odd = path.join(tmp, "my run #2");
  assert.equal(bandits("train", "--data", data, "--out", odd, "--no-config").code, 0);
  assert.match(JSON.parse(fs.readFileSync(path.join(odd, "model.json"), "utf8")).modelId, /^my-run-2-[0-9a-z]{12}$/);
  const named = path.join(tmp, "named");
  assert.equal(bandits("train", "--data", data, "--out", named, "--no-config", "--model-id", "champion-1").code, 0);
  assert.equal(JSON.parse(fs.readFileSync(path.join(named, "model.json"), "utf8")).modelId, "champion-1");
});

test("bandits simulate into a pipe prints its table once: no carriage returns, no redrawn bars", () => {
  const r = bandits("simulate", "--no-config", "--seeds", "2", "--loops", "3", "--batch-size", "100", "--warm-start", "50");
  assert.equal(r.code, 0, r.err);
  for (const [name, text] of [["stdout", r.out], ["stderr", r.err]]) {
    assert.doesNotMatch(text, /\r/, `${name} has no carriage return`);
    assert.doesNotMatch(text, /\[[#.]{5,}\]/, `${name} has no progress bar`);
  }
  assert.equal(r.out.split("\n").filter((l) => /^ +[12] /.test(l)).length, 2, "one row per seed");
});
