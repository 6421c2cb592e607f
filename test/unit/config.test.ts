import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, ConfigIssue, loadConfig } from "@cbkit/common";
import { configReference, configSettingsRows, findProjectRoot, parseConfig, resolveImageUri, resolveWorkspaceDir } from "@cbkit/common/config";

const root = findProjectRoot();
const shipped = fs.readFileSync(path.join(root, "config.yaml"), "utf8");

/** The shipped config text with one line replaced (the key keeps its indentation). */
function edit(key: string, replacement: string): string {
  const re = new RegExp(`^(\\s*)${key}:.*$`, "m");
  assert.match(shipped, re, `shipped config has ${key}`);
  return shipped.replace(re, (_m, indent: string) => (replacement === "" ? "" : indent + replacement));
}

/** The shipped text with a top-level section (the key and its indented lines) replaced. */
function section(name: string, replacement: string): string {
  const re = new RegExp(`^${name}:\\n(?:[ \\t].*\\n|\\n)*`, "m");
  assert.match(shipped, re, `shipped config has a ${name} section`);
  return shipped.replace(re, replacement === "" ? "" : replacement + "\n");
}

/** The issues of a config that must fail. */
function issuesOf(text: string): ConfigIssue[] {
  try {
    parseConfig(text, "test.yaml");
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.match(e.message, /^test\.yaml: \d+ problems? in the config/);
    return e.issues;
  }
  assert.fail("the config was accepted");
}

function issueAt(issues: ConfigIssue[], p: string): ConfigIssue {
  const hit = issues.find((i) => i.path === p);
  assert.ok(hit, `no issue for ${p} in ${JSON.stringify(issues)}`);
  return hit;
}

test("the shipped config.yaml loads clean, local mode by default", () => {
  const c = loadConfig();
  assert.deepEqual(c.warnings, []);
  assert.equal(c.path, path.join(root, "config.yaml"));
  assert.equal(c.projectRoot, root);
  assert.equal(c.local_mode, true);
  assert.equal(c.soft_deployment, true);
  assert.equal(c.seed, 1);
  assert.equal(c.data_file, null);
  assert.equal(c.workflow.join_ratio, 0.8);
  const p = c.algor.algorithms_parameters;
  assert.deepEqual([p.exploration_policy, p.epsilon, p.num_policies, p.num_arms, p.cfa_type], ["egreedy", 0.001, 3, 7, "dr"]);
  assert.equal(c.resource.shared_resource.experiment_db.table_name, "BanditsExperimentTable");
  assert.equal(c.resource.shared_resource.experiment_db.rcu, null, "default applied: on-demand");
  assert.equal(c.resource.private_resource.training_fleet.instance_count, 1, "default applied");
  assert.equal(resolveWorkspaceDir(c), path.join(root, "workspace"));
});

test("optional keys take their defaults; local_mode defaults to true", () => {
  const c = parseConfig(section("workflow", "").replace(/^local_mode:.*$/m, "").replace(/^soft_deployment:.*$/m, ""), "x.yaml");
  assert.equal(c.local_mode, true);
  assert.equal(c.soft_deployment, false);
  assert.equal(c.workflow.join_ratio, 0.8);
  assert.equal(c.workflow.deploy_gate, "ci");
  assert.equal(c.path, null);
  assert.equal(c.dir, root);
});

test("an unknown exploration policy names the key, the value, the allowed ones and the line", () => {
  const text = edit("exploration_policy", "exploration_policy: egredy");
  const i = issueAt(issuesOf(text), "algor.algorithms_parameters.exploration_policy");
  assert.equal(i.found, '"egredy" (did you mean egreedy?)');
  assert.match(i.expected, /one of egreedy, bag, cover, first, softmax, squarecb/);
  assert.equal(i.line, text.split("\n").findIndex((l) => l.includes("egredy")) + 1);
});

test("epsilon outside [0, 1] is rejected", () => {
  for (const v of ["1.5", "-0.1"]) {
    const i = issueAt(issuesOf(edit("epsilon", `epsilon: ${v}`)), "algor.algorithms_parameters.epsilon");
    assert.match(i.found, new RegExp(`^${v.replace(".", "\\.")} \\(number\\)`));
    assert.equal(i.expected, "a number in [0, 1]");
  }
  assert.equal(parseConfig(edit("epsilon", "epsilon: 1"), "t").algor.algorithms_parameters.epsilon, 1);
});

test("num_arms below 2 or fractional is rejected", () => {
  assert.equal(issueAt(issuesOf(edit("num_arms", "num_arms: 1")), "algor.algorithms_parameters.num_arms").expected, "an integer >= 2");
  issueAt(issuesOf(edit("num_arms", "num_arms: 2.5")), "algor.algorithms_parameters.num_arms");
});

test("an unknown cfa_type is rejected; dm is accepted with a bias warning, not replaced", () => {
  const i = issueAt(issuesOf(edit("cfa_type", "cfa_type: doubly")), "algor.algorithms_parameters.cfa_type");
  assert.match(i.expected, /one of dr, ips, snips, sndr, dm/);
  const c = parseConfig(edit("cfa_type", "cfa_type: dm"), "t");
  assert.equal(c.algor.algorithms_parameters.cfa_type, "dm");
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0], /cfa_type is dm.*biased/);
});

test("wrong types are reported with the value found", () => {
  const issues = issuesOf(
    edit("local_mode", 'local_mode: "yes"').replace(/^seed:.*$/m, "seed: one").replace(/num_policies: 3/, 'num_policies: "3"'),
  );
  assert.equal(issueAt(issues, "local_mode").found, '"yes"');
  assert.equal(issueAt(issues, "local_mode").expected, "true or false");
  assert.equal(issueAt(issues, "seed").expected, "an integer");
  assert.equal(issueAt(issues, "algor.algorithms_parameters.num_policies").found, '"3"');
  const nested = issuesOf(shipped.replace(/^image:.*$/m, "image: [a, b]"));
  assert.match(issueAt(nested, "image").found, /^a list/);
  const notMap = issuesOf(section("workflow", "workflow: 3"));
  assert.match(issueAt(notMap, "workflow").expected, /a mapping with keys join_ratio/);
});

test("missing required keys are reported, top-level and nested", () => {
  const issues = issuesOf(edit("epsilon", "").replace(/^image:.*$/m, "").replace(/^\s+table_name: BanditsModelTable$/m, ""));
  assert.equal(issueAt(issues, "algor.algorithms_parameters.epsilon").found, "(missing)");
  assert.equal(issueAt(issues, "image").found, "(missing)");
  issueAt(issues, "resource.shared_resource.model_db.table_name");
  const noAlgor = issuesOf(shipped.replace(/^algor:[\s\S]*?(?=^local_mode)/m, ""));
  assert.match(issueAt(noAlgor, "algor").expected, /a mapping with keys algorithms_parameters/);
});

test("unknown keys are reported with a did-you-mean", () => {
  const issues = issuesOf(edit("local_mode", "local_mod: true").replace(/epsilon: 0.001/, "epsilon: 0.001\n    epsilom: 0.2"));
  const top = issueAt(issues, "local_mod");
  assert.match(top.found, /unknown key \(did you mean local_mode\?\)/);
  assert.match(issueAt(issues, "algor.algorithms_parameters.epsilom").found, /did you mean epsilon\?/);
  const far = issueAt(issuesOf(shipped + "\nzzz_totally_else: 1\n"), "zzz_totally_else");
  assert.doesNotMatch(far.found, /did you mean/);
});

test("every offending key is reported at once", () => {
  const text = edit("exploration_policy", "exploration_policy: greedy")
    .replace(/epsilon: 0.001/, "epsilon: 2")
    .replace(/num_arms: 7/, "num_arms: 1")
    .replace(/cfa_type: dr/, "cfa_type: xyz")
    .replace(/^seed: 1/m, "seed: 1\nsed: 2");
  const issues = issuesOf(text);
  assert.deepEqual(
    issues.map((i) => i.path).sort(),
    [
      "algor.algorithms_parameters.cfa_type",
      "algor.algorithms_parameters.epsilon",
      "algor.algorithms_parameters.exploration_policy",
      "algor.algorithms_parameters.num_arms",
      "sed",
    ],
  );
  const lines = issues.map((i) => i.line ?? 0);
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b), "in file order");
});

test("YAML syntax errors show the line", () => {
  const text = "local_mode: true\nalgor:\n  algorithms_parameters: [1, 2\nseed: 1\n";
  const issues = issuesOf(text);
  assert.ok(issues.length >= 1);
  assert.match(issues[0].found, /YAML syntax error/);
  assert.ok(issues[0].line !== undefined && issues[0].line >= 3 && issues[0].line <= 4, `line ${issues[0].line}`);
  const dup = issuesOf(shipped + "\nseed: 2\n");
  assert.match(dup[0].found, /DUPLICATE_KEY/);
  assert.equal(dup[0].line, (shipped + "\nseed: 2\n").split("\n").lastIndexOf("seed: 2") + 1);
  try {
    parseConfig("a: [1,\n", "syntax.yaml");
    assert.fail("accepted");
  } catch (e) {
    assert.match((e as Error).message, /syntax\.yaml: 1 problem in the config\n {2}- \(document\) \(line \d+\): found YAML syntax error/);
  }
});

test("an empty file or a list is not a config", () => {
  assert.equal(issuesOf("")[0].found, "an empty document");
  assert.match(issuesOf("- 1\n")[0].found, /^a list/);
});

test("loadConfig reads a given file, resolves paths from its folder, and says when it is missing", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cfg-"));
  try {
    const f = path.join(dir, "my.yaml");
    fs.writeFileSync(f, shipped.replace(/^workspace:.*$/m, "workspace: ws"));
    const c = loadConfig(f);
    assert.equal(c.path, f);
    assert.equal(resolveWorkspaceDir(c), path.join(dir, "ws"));
    assert.throws(() => loadConfig(path.join(dir, "nope.yaml")), /config file not found: .*nope\.yaml/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("resolveImageUri fills {AWS_REGION} only when asked, and needs a region for it", () => {
  const c = loadConfig();
  assert.equal(resolveImageUri(c, "eu-west-1"), "<account>.dkr.ecr.eu-west-1.amazonaws.com/cbkit:latest");
  assert.throws(() => resolveImageUri(c, null), /\{AWS_REGION\}.*sagemaker\.region/);
  assert.equal(resolveImageUri({ image: "repo/img:1" }, null), "repo/img:1");
});

test("the reference and the settings rows cover every leaf key", () => {
  const ref = configReference();
  const keys = ref.map((r) => r.key);
  for (const k of ["local_mode", "algor.algorithms_parameters.cfa_type", "workflow.join_ratio", "sagemaker.region", "image"]) {
    assert.ok(keys.includes(k), k);
  }
  const rows = configSettingsRows(loadConfig());
  assert.deepEqual(rows.map((r) => r.key), keys);
  assert.equal(rows.find((r) => r.key === "local_mode")?.value, "true");
});

// ---------------------------------------------------------------- issue 9.6: every key does what it says

test("a removed key is a warning naming the key and why, not an error", () => {
  const text = shipped.replace(/^  shared_resource:\n/m, "  shared_resource:\n    resources_cf_stack_name: BanditsSharedResourceStack\n");
  const c = parseConfig(text, "old.yaml");
  assert.equal(c.warnings.length, 1);
  const line = text.split("\n").findIndex((l) => l.includes("resources_cf_stack_name")) + 1;
  assert.match(c.warnings[0], new RegExp(`^resource\\.shared_resource\\.resources_cf_stack_name \\(line ${line}\\) is no longer used and was ignored: nothing creates a CloudFormation stack`));
  assert.equal((c.resource.shared_resource as Record<string, unknown>).resources_cf_stack_name, undefined);
  assert.ok(!configReference().some((r) => r.key.endsWith("resources_cf_stack_name")), "not in the reference");
  // A removed key is only recognised where it used to be: elsewhere it is an unknown key.
  issueAt(issuesOf(shipped + "\nresources_cf_stack_name: x\n"), "resources_cf_stack_name");
});

test("workflow.min_reward must be below workflow.max_reward; the issue names both keys", () => {
  for (const [min, max] of [["1", "1"], ["2", "1"]]) {
    const text = edit("min_reward", `min_reward: ${min}`).replace(/^(\s*)max_reward: 1$/m, `$1max_reward: ${max}`);
    const i = issueAt(issuesOf(text), "workflow.max_reward");
    assert.match(i.found, new RegExp(`^${max}, not above workflow\\.min_reward \\(${min}\\)`));
    assert.match(i.expected, /workflow\.min_reward < workflow\.max_reward/);
    assert.equal(i.line, text.split("\n").findIndex((l) => /^\s*max_reward:/.test(l)) + 1);
  }
  const ok = parseConfig(edit("min_reward", "min_reward: -1"), "t");
  assert.deepEqual([ok.workflow.min_reward, ok.workflow.max_reward], [-1, 1]);
});

test("rcu and wcu go together; jobs refuse more than one instance, saying why", () => {
  const provisioned = shipped.replace(/^(\s*)table_name: BanditsJoinTable$/m, "$1table_name: BanditsJoinTable\n$1rcu: 2\n$1wcu: 3");
  const c = parseConfig(provisioned, "t");
  assert.deepEqual([c.resource.shared_resource.join_db.rcu, c.resource.shared_resource.join_db.wcu], [2, 3]);
  const half = shipped.replace(/^(\s*)table_name: BanditsJoinTable$/m, "$1table_name: BanditsJoinTable\n$1rcu: 2");
  const i = issueAt(issuesOf(half), "resource.shared_resource.join_db.wcu");
  assert.match(i.found, /not set, while rcu is 2/);
  assert.match(i.expected, /needs both rcu and wcu/);
  const two = shipped.replace(/^(\s*)instance_type: ml.m5.large$/m, "$1instance_type: ml.m5.large\n$1instance_count: 2");
  const j = issueAt(issuesOf(two), "resource.private_resource.training_fleet.instance_count");
  assert.equal(j.expected, "exactly 1 (the learner is single-node: a job on more instances would bill them all and use one)");
  const hosting = parseConfig(shipped.replace(/^(\s*)instance_count: 1$/m, "$1instance_count: 3"), "t");
  assert.equal(hosting.resource.private_resource.hosting_fleet.instance_count, 3, "the endpoint may run several instances");
});

test("soft_deployment in SageMaker mode is accepted with a warning: there is no hot swap there", () => {
  const sagemaker = parseConfig(edit("local_mode", "local_mode: false"), "t");
  assert.equal(sagemaker.soft_deployment, true);
  assert.equal(sagemaker.warnings.length, 1);
  assert.match(sagemaker.warnings[0], /soft_deployment is true but local_mode is false: SageMaker endpoints have no hot swap.*blue\/green UpdateEndpoint/);
  assert.deepEqual(parseConfig(edit("local_mode", "local_mode: false").replace(/^soft_deployment:.*$/m, "soft_deployment: false"), "t").warnings, []);
  assert.match(configReference().find((r) => r.key === "soft_deployment")!.description, /SageMaker mode has no hot swap/);
});

test("iam_role.role_name and the blue/green keys are in the reference with their defaults", () => {
  const ref = Object.fromEntries(configReference().map((r) => [r.key, r]));
  assert.equal(ref["resource.shared_resource.iam_role.role_name"].default, "null");
  assert.match(ref["resource.shared_resource.iam_role.role_name"].description, /used when sagemaker\.role_arn is null/);
  assert.equal(ref["sagemaker.rollback_alarms"].default, "null");
  assert.equal(ref["sagemaker.baking_period_seconds"].allowed, "an integer in [0, 3600]");
  assert.equal(loadConfig().resource.shared_resource.iam_role.role_name, null);
});

test("an old config naming the original sample's BanditsIAMRole gets a warning: this kit creates no role", () => {
  const old = edit("local_mode", "local_mode: false").replace(/role_name: null/, "role_name: BanditsIAMRole");
  assert.match(old, /role_name: BanditsIAMRole/, "the fixture names the legacy role");
  const warnings = parseConfig(old, "t").warnings;
  assert.ok(warnings.some((w) => /role_name is BanditsIAMRole.*this kit creates no role.*sagemaker\.role_arn/.test(w)), warnings.join("\n"));
  const withArn = old.replace(/role_arn: null/, 'role_arn: "arn:aws:iam::123456789012:role/Mine"');
  assert.ok(!parseConfig(withArn, "t").warnings.some((w) => /BanditsIAMRole/.test(w)));
});

// ---------------------------------------------------------------- issue 14 item 1: learner limits refused at load

test("learner settings that would load and then fail (or exhaust memory) later are refused at load, naming the key", () => {
  const bitsIssue = issueAt(issuesOf(edit("num_arms", "num_arms: 1000")), "algor.algorithms_parameters.bits");
  assert.match(bitsIssue.found, /^18, with 1000 weight columns .*about 7\.3 GB to load/, "262 M weights × LOAD_BYTES_PER_WEIGHT (28, bench/model-memory.ts)");
  assert.match(bitsIssue.expected, /^at most 15 with 1000 weight columns/);
  assert.equal(bitsIssue.line, shipped.split("\n").findIndex((l) => /^\s*algorithms_parameters:/.test(l)) + 1, "bits is not in the file: the section's line");
  const bits23 = issueAt(issuesOf(edit("num_bins", "num_bins: 16\n    bits: 23")), "algor.algorithms_parameters.bits");
  assert.match(bits23.expected, /at most 22 with 7 weight columns .*8 GB laptop/);
  assert.match(issueAt(issuesOf(edit("num_bins", "num_bins: 5000")), "algor.algorithms_parameters.num_bins").expected, /^an integer in \[2, 1024\]/);
  assert.match(issueAt(issuesOf(edit("num_bins", "num_bins: 16\n    power_t: 5")), "algor.algorithms_parameters.power_t").expected, /^a number in \[0, 1\] \(above 1/);
  const floor = issueAt(issuesOf(edit("min_probability", "min_probability: 0.2")), "algor.algorithms_parameters.min_probability");
  assert.equal(floor.found, "0.2 with num_arms 7");
  assert.match(floor.expected, /^below 1\/num_arms = 0\.143/);
  assert.equal(issueAt(issuesOf(edit("num_policies", "num_policies: 300")), "algor.algorithms_parameters.num_policies").expected, "an integer in [1, 256] (every example updates each policy, so training time grows with it)");
  // bits 22 with the shipped 7 actions is the largest that loads within the budget.
  assert.equal(parseConfig(edit("num_bins", "num_bins: 16\n    bits: 22"), "t").algor.algorithms_parameters.bits, 22);
});
