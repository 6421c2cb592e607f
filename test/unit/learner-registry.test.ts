/**
 * The learner's registry (common/src/learner/policies.ts) is the one owner of every exploration
 * policy and learner parameter (issue 14 item 1). These tests enumerate it and check that what is
 * derived from it agrees: the config schema's algorithm section, LearnerOptions' defaults and
 * checks, the `bandits` flags (help output), `bandits describe`, the README's config reference,
 * docs/learner.md's tables, and what retraining does with each parameter.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CbLearner, EXPLORATION_POLICIES, LearnerError, LearnerOptions, ModelLayoutError } from "@cbkit/common";
import { ALGORITHM_FIELDS, describeConfigAllowed, findProjectRoot } from "@cbkit/common/config";
import { writeJoinedCsv } from "@cbkit/common/data";
import {
  LEARNER_DEFAULTS,
  LEARNER_PARAMETER_LIST,
  LearnerParameter,
  POLICIES,
  ResolvedLearnerOptions,
  allowedText,
  cliFlagOf,
  nextModelOptions,
  resolveLearnerOptions,
} from "@cbkit/common/learner";
import { main } from "@cbkit/sim_app/cli";

const root = findProjectRoot();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-registry-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

/** The default the CLI uses: the parameter's, or for one without (num_arms) the value config.yaml ships. */
const effectiveDefault = (p: LearnerParameter) => p.default ?? p.shipped;
/** The schema's default: for a key config.yaml must state, the value it ships. */
const configDefault = (p: LearnerParameter) => p.shipped ?? p.default;
const policyParams = (name: string) => POLICIES.find((p) => p.name === name)!.parameters as readonly LearnerParameter[];

function capture() {
  const out: string[] = [], err: string[] = [];
  return { out, err, o: (s: string) => out.push(s), e: (s: string) => err.push(s) };
}

test("the registry: every policy once, every parameter once with a distinct key, option and flag", () => {
  assert.deepEqual([...EXPLORATION_POLICIES], ["egreedy", "bag", "cover", "first", "softmax", "squarecb"]);
  assert.equal(new Set(POLICIES.map((p) => p.name)).size, POLICIES.length);
  for (const field of ["key", "option"] as const) assert.equal(new Set(LEARNER_PARAMETER_LIST.map((p) => p[field])).size, LEARNER_PARAMETER_LIST.length, field);
  assert.equal(new Set(LEARNER_PARAMETER_LIST.map(cliFlagOf)).size, LEARNER_PARAMETER_LIST.length, "flags");
  for (const pol of POLICIES) {
    for (const p of pol.parameters as readonly LearnerParameter[]) assert.ok(LEARNER_PARAMETER_LIST.includes(p), `${pol.name}'s ${p.key} is in the list`);
  }
  for (const p of LEARNER_PARAMETER_LIST) assert.ok(p.help.length > 10 && !p.help.includes("\n"), `${p.key} has one line of help`);
});

test("the config schema's algorithm section is the registry's parameters (plus the estimator's cfa_type)", () => {
  const fields = ALGORITHM_FIELDS as unknown as Record<string, { kind: string; default?: unknown; required?: boolean; description: string; enum?: readonly string[] }>;
  assert.deepEqual(Object.keys(fields).filter((k) => k !== "cfa_type"), LEARNER_PARAMETER_LIST.map((p) => p.key));
  for (const p of LEARNER_PARAMETER_LIST) {
    const node = fields[p.key];
    assert.equal(node.default, configDefault(p), `${p.key}: default`);
    assert.equal(!!node.required, !!p.configRequired, `${p.key}: required`);
    assert.equal(describeConfigAllowed(node as never), allowedText(p), `${p.key}: range`);
    assert.ok(node.description.startsWith(p.help), `${p.key}: help`);
    if (p.reason) assert.ok(node.description.includes(p.reason), `${p.key}: the range's reason is in the help`);
  }
  assert.deepEqual(fields.exploration_policy.enum, EXPLORATION_POLICIES);
});

test("LearnerOptions' defaults and checks are the registry's: each range's bounds accepted, one step beyond refused naming the option", () => {
  const defaults = LEARNER_DEFAULTS as unknown as Record<string, unknown>;
  for (const p of LEARNER_PARAMETER_LIST) {
    if (p.key === "exploration_policy" || p.key === "num_arms") assert.ok(!(p.option in defaults), `${p.option} is required in the library`);
    else assert.equal(defaults[p.option], p.optionDefault !== undefined ? p.optionDefault : p.default, `${p.option}: default`);
  }
  const base: LearnerOptions = { numArms: 2, explorationPolicy: "egreedy", bits: 8 };
  const refused = (o: Record<string, unknown>, option: string) =>
    assert.throws(() => resolveLearnerOptions({ ...base, ...o } as LearnerOptions), (e: unknown) => e instanceof LearnerError && e.field === option, `${JSON.stringify(o)} refused`);
  for (const p of LEARNER_PARAMETER_LIST) {
    const at = (v: unknown) => ({ [p.option]: v });
    if (p.type === "choice") {
      for (const c of p.choices!) resolveLearnerOptions({ ...base, ...at(c) } as LearnerOptions);
      refused(at("nope"), p.option);
      continue;
    }
    const step = p.type === "integer" ? 1 : 1e-9;
    if (p.min !== undefined && p.key !== "bits") {
      resolveLearnerOptions({ ...base, ...at(p.min) } as LearnerOptions);
      refused(at(p.min - step), p.option);
    }
    if (p.max !== undefined && p.key !== "min_probability") {
      resolveLearnerOptions({ ...base, ...at(p.max), ...(p.key === "bits" ? { numArms: 2 } : {}) } as LearnerOptions);
      refused(at(p.max + step), p.option);
    }
    if (p.exclusiveMin !== undefined) refused(at(p.exclusiveMin), p.option);
    if (p.type === "integer") refused(at((p.min ?? 0) + 1.5), p.option);
  }
  // The rules between parameters: the weight budget names bits, the floor names minProbability.
  refused({ numArms: 7, bits: 23 }, "bits");
  refused({ numArms: 1000, bits: 18 }, "bits");
  resolveLearnerOptions({ numArms: 7, explorationPolicy: "egreedy", bits: 22 });
  refused({ numArms: 4, minProbability: 0.25 }, "minProbability");
});

test("the bandits flags and --help list every policy and parameter with its range, and the registry's defaults with --no-config", async () => {
  const c = capture();
  assert.equal(await main(["train", "--help", "--no-config"], c.o, c.e), 0);
  const help = c.out.join("\n");
  const lineOf = (start: RegExp) => help.split("\n").find((l) => start.test(l));
  for (const p of LEARNER_PARAMETER_LIST) {
    const flagLine = lineOf(new RegExp(`^  --${cliFlagOf(p)} <v> `));
    assert.ok(flagLine, `--${cliFlagOf(p)} is listed`);
    assert.ok(flagLine.includes(p.help) && flagLine.endsWith(allowedText(p)), `--${cliFlagOf(p)}: help and range: ${flagLine}`);
    const setting = lineOf(new RegExp(`^  ${p.key} +`));
    assert.match(setting ?? "", new RegExp(`^  ${p.key} +${String(effectiveDefault(p)).replace(".", "\\.")} +default$`), `${p.key}'s default`);
  }
  for (const pol of POLICIES) {
    const own = (pol.parameters as readonly LearnerParameter[]).map((p) => `--${cliFlagOf(p)}`).join(", ");
    assert.ok(lineOf(new RegExp(`^  ${pol.name} +`))?.includes(`${pol.help} (${own})`), `policy ${pol.name} with its help and flags`);
  }
  // A flag outside its range is refused by the CLI, naming the flag and the registry's range.
  for (const p of LEARNER_PARAMETER_LIST.filter((x) => x.max !== undefined && x.key !== "min_probability")) {
    const e = capture();
    assert.equal(await main(["simulate", "--no-config", `--${cliFlagOf(p)}`, String(p.max! + 1)], e.o, e.e), 2, p.key);
    assert.match(e.err.join("\n"), new RegExp(`--${cliFlagOf(p)}: must be (null or )?${allowedText(p).replace(/[[\]().+]/g, "\\$&")}`));
  }
});

test("bandits describe shows each policy's own parameters and the base group with the registry's defaults and VW spelling", async () => {
  const data = path.join(tmp, "tiny.csv");
  await writeJoinedCsv(data, [{ reward: 1, event_id: "e1", action: 2, action_prob: 0.5, model_id: "m", observation: [0.1, 0.2], sample_prob: 0.5 }]);
  for (const pol of POLICIES) {
    const dir = path.join(tmp, pol.name);
    const t = capture();
    assert.equal(await main(["train", "--data", data, "--out", dir, "--no-config", "--policy", pol.name, "--num-features", "2"], t.o, t.e), 0, t.err.join("\n"));
    const d = capture();
    assert.equal(await main(["describe", "--model", dir, "--json"], d.o, d.e), 0, d.err.join("\n"));
    const info = JSON.parse(d.out.join("\n")) as { vwArguments: string; settings: { key: string; value: unknown; onRetrain: string }[] };
    const expected = [LEARNER_PARAMETER_LIST[0], ...policyParams(pol.name), ...LEARNER_PARAMETER_LIST.filter((p) => !POLICIES.some((x) => (x.parameters as readonly LearnerParameter[]).includes(p)) && p.key !== "exploration_policy")];
    assert.deepEqual(info.settings.map((s) => s.key), expected.map((p) => p.key), `${pol.name}: its settings`);
    for (const s of info.settings) {
      const p = LEARNER_PARAMETER_LIST.find((x) => x.key === s.key)!;
      const want = p.key === "exploration_policy" ? pol.name : p.key === "num_features" ? 2 : effectiveDefault(p);
      assert.equal(s.value, want, `${pol.name}: ${s.key}`);
      assert.equal(s.onRetrain, p.onRetrain);
      if (typeof p.vw === "string" && p.option !== pol.vwFlagValue) assert.ok(info.vwArguments.includes(`${p.vw} ${String(want)}`), `${pol.name}: ${info.vwArguments} spells ${p.key}`);
    }
    if (pol.vwFlag) assert.ok(info.vwArguments.includes(pol.vwFlag), `${pol.name}: ${info.vwArguments}`);
    const text = capture();
    assert.equal(await main(["describe", "--model", dir], text.o, text.e), 0);
    for (const s of info.settings) assert.match(text.out.join("\n"), new RegExp(`^  ${s.key} +${String(s.value).replace(".", "\\.")} +${s.onRetrain}$`, "m"));
  }
});

test("docs/learner.md's tables and README's config reference are generated from the registry and up to date", () => {
  for (const script of ["learner-reference.js", "config-reference.js"]) {
    const r = spawnSync(process.execPath, [path.join(root, "scripts", script), "--check"], { encoding: "utf8" });
    assert.equal(r.status, 0, `${script} --check: ${r.stderr}`);
  }
  const doc = fs.readFileSync(path.join(root, "docs", "learner.md"), "utf8");
  for (const pol of POLICIES) assert.ok(doc.includes(`| \`${pol.name}\` | ${pol.help.replace(/\|/g, "\\|")} |`), `docs: policy ${pol.name}`);
  for (const p of LEARNER_PARAMETER_LIST) {
    const row = doc.split("\n").find((l) => l.startsWith(`| \`${p.key}\` | \`${p.option}\` | \`--${cliFlagOf(p)}\` |`));
    assert.ok(row, `docs: a row for ${p.key}`);
    assert.ok(row.includes(allowedText(p)) && row.includes(` ${p.onRetrain} `), `docs: ${p.key}'s range and retraining`);
    if (p.default !== undefined) assert.ok(row.includes(`| ${JSON.stringify(p.default)}`), `docs: ${p.key}'s default`);
  }
});

/** A valid value other than `v` (within the range and the rules between parameters). */
function otherValue(p: LearnerParameter, v: unknown): unknown {
  if (p.type === "choice") return p.choices!.find((c) => c !== v);
  const x = v as number;
  if (p.type === "integer") return p.max !== undefined && x + 1 > p.max ? x - 1 : x + 1;
  return p.max !== undefined ? x + (p.max - x) / 10 : x + 1;
}

test("retraining applies every tunable parameter and refuses every fixed one, as the registry marks them", () => {
  const parents: ResolvedLearnerOptions[] = [
    resolveLearnerOptions({ numArms: 7, explorationPolicy: "egreedy", featureMap: "bins", numFeatures: 9 }),
    resolveLearnerOptions({ numArms: 7, explorationPolicy: "bag", numFeatures: 9 }),
    resolveLearnerOptions({ numArms: 7, explorationPolicy: "cover", numFeatures: 9 }),
  ];
  for (const parent of parents) {
    for (const p of LEARNER_PARAMETER_LIST) {
      const next = otherValue(p, parent[p.option as keyof ResolvedLearnerOptions]);
      const hp = { [p.key]: String(next) };
      const layoutChanges = p.onRetrain === "fixed" || (p.onRetrain === "fixed-if-layout-changes" && (p.key === "exploration_policy" || parent.explorationPolicy !== "egreedy"));
      if (p.usedWhen && !p.usedWhen(parent)) {
        // A fixed parameter the parent does not use (num_bins without bins) keeps the parent's value.
        const r = nextModelOptions(parent, 9, hp);
        assert.equal(r.options[p.option as keyof ResolvedLearnerOptions], parent[p.option as keyof ResolvedLearnerOptions], `${parent.explorationPolicy}: unused ${p.key} kept`);
        assert.deepEqual(r.applied, []);
      } else if (layoutChanges) {
        assert.throws(() => nextModelOptions(parent, 9, hp), (e: unknown) => e instanceof ModelLayoutError && e.changes[0].key === p.key, `${parent.explorationPolicy}: ${p.key} -> ${String(next)} refused`);
      } else {
        const r = nextModelOptions(parent, 9, hp);
        assert.equal(r.options[p.option as keyof ResolvedLearnerOptions], next, `${parent.explorationPolicy}: ${p.key} -> ${String(next)} applied`);
        assert.deepEqual(r.applied.map((c) => c.key), [p.key]);
      }
    }
  }
  // A policy change that keeps the weights (one cb learner) is applied; the model then explores the new way.
  const egreedy = CbLearner.create({ numArms: 3, explorationPolicy: "egreedy", numFeatures: 2 });
  const r = nextModelOptions(egreedy.options, 2, { exploration_policy: "squarecb" });
  assert.match(egreedy.withOptions(r.options).vwArguments, /--squarecb --gamma_scale 10 --gamma_exponent 0\.5/);
});
