/**
 * The estimator registry is the one list of estimators: the config schema's cfa_type, the
 * evaluation job's hyperparameter, the `bandits evaluate` CLI, printed tables and docs/ope.md's
 * table must agree with it, and a name given as text resolves through it with a did-you-mean.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ESTIMATORS, OpeInputError, estimatorNamed, evaluatePolicy } from "@cbkit/common";
import { configReference, findProjectRoot, parseConfig } from "@cbkit/common/config";
import { DEFAULT_ESTIMATOR, ESTIMATOR_NAMES, formatEstimateTable, withEstimatorsTable } from "@cbkit/common/ope";
import { estimatorOfHyperparameters } from "@cbkit/common/container";
import { main } from "@cbkit/sim_app/cli";
import { FIXTURE, FIXTURE_COST_MODEL, FIXTURE_MODEL } from "./fixtures";

const root = findProjectRoot();

test("the registry: unique names, EstimatorName's list, a default, and every estimator complete", () => {
  assert.deepEqual(ESTIMATOR_NAMES, ESTIMATORS.map((e) => e.name));
  assert.equal(new Set(ESTIMATOR_NAMES).size, ESTIMATORS.length, "names are unique");
  assert.ok(ESTIMATORS.includes(DEFAULT_ESTIMATOR));
  for (const e of ESTIMATORS) {
    assert.match(e.name, /^[a-z]+$/);
    for (const text of [e.title, e.formula, e.description]) assert.ok(text.length > 0 && !text.includes("\n"), `${e.name}: one line each`);
    assert.equal(e.warning !== null, e.biased, `${e.name}: a biased estimator warns whoever chooses it, an unbiased one does not`);
    assert.ok(e.intervals.length > 0 && e.intervals.every((m) => m === "bootstrap" || m === "normal"), `${e.name} intervals`);
    assert.ok(Number.isInteger(e.dim) && e.dim >= 1);
  }
});

test("config.yaml's cfa_type: the registry's names, its default, and its warnings", () => {
  const ref = configReference().find((r) => r.key === "algor.algorithms_parameters.cfa_type");
  assert.ok(ref, "cfa_type is a config key");
  for (const name of ESTIMATOR_NAMES) {
    assert.ok(ref.allowed.includes(name), `allowed values name ${name}: ${ref.allowed}`);
    assert.ok(ref.description.includes(name), `description names ${name}`);
  }
  assert.equal(ref.allowed.split(",").length, ESTIMATORS.length, `no other values: ${ref.allowed}`);
  assert.equal(ref.default, JSON.stringify(DEFAULT_ESTIMATOR.name));
  const shipped = fs.readFileSync(path.join(root, "config.yaml"), "utf8");
  // The shipped file's comment lists the same choices, in the schema's order.
  const comment = /^\s*cfa_type:[^#\n]*#([^(\n]*)/m.exec(shipped);
  assert.ok(comment, "config.yaml comments cfa_type");
  assert.deepEqual(comment[1].split("|").map((x) => x.trim()), ref.allowed.replace(/^one of /, "").split(", "));
  for (const e of ESTIMATORS) {
    const text = shipped.replace(/^(\s*)cfa_type:.*$/m, (_m, indent: string) => `${indent}cfa_type: ${e.name}`);
    const config = parseConfig(text, "cfa.yaml");
    assert.equal(config.algor.algorithms_parameters.cfa_type, e.name);
    const warned = config.warnings.filter((w) => w.includes("cfa_type"));
    if (e.warning) assert.deepEqual(warned, [`algor.algorithms_parameters.cfa_type is ${e.name}: ${e.warning}. It is used as you asked, not replaced.`]);
    else assert.deepEqual(warned, [], `${e.name} is accepted without a warning`);
  }
});

test("the evaluation job's cfa_type hyperparameter resolves every registry name, and names the choices otherwise", () => {
  assert.equal(estimatorOfHyperparameters({}), DEFAULT_ESTIMATOR);
  for (const e of ESTIMATORS) {
    assert.equal(estimatorOfHyperparameters({ cfa_type: e.name }), e);
    assert.equal(estimatorOfHyperparameters({ cfa_type: ` ${e.name.toUpperCase()} ` }), e, "case and spaces do not matter");
  }
  assert.throws(
    () => estimatorOfHyperparameters({ cfa_type: "ipw" }),
    (err: unknown) =>
      err instanceof OpeInputError &&
      err.field === "hyperparameter cfa_type" &&
      /"ipw", not an estimator \(did you mean ips\?\)/.test(err.message) &&
      ESTIMATOR_NAMES.every((n) => err.message.includes(n)),
  );
});

test("bandits evaluate: its help lists the registry, and --estimators resolves names with a did-you-mean", async () => {
  const out: string[] = [];
  const err: string[] = [];
  assert.equal(await main(["evaluate", "--help"], (s) => out.push(s), (s) => err.push(s)), 0);
  const help = out.join("\n");
  assert.ok(help.includes(`comma-separated subset of ${ESTIMATOR_NAMES.join(",")}`), help);
  assert.ok(help.includes(ESTIMATORS.map((e) => e.name.toUpperCase()).join(", ")), "the summary names every estimator");
  const bad: string[] = [];
  const code = await main(["evaluate", "--data", "x.csv", "--actions", "a.txt", "--estimators", "dr,snps"], () => undefined, (s) => bad.push(s));
  assert.equal(code, 2);
  assert.match(bad.join("\n"), /--estimators is "snps", not an estimator \(did you mean snips\?\); choose one of/);
});

test("docs/ope.md's estimators table is the registry's (regenerate: node scripts/ope-estimators-table.js)", () => {
  const doc = fs.readFileSync(path.join(root, "docs", "ope.md"), "utf8");
  assert.equal(withEstimatorsTable(doc), doc, "docs/ope.md's table is stale: run `npm run build && node scripts/ope-estimators-table.js`");
  for (const e of ESTIMATORS) assert.ok(doc.includes(`| \`${e.name}\``), `docs/ope.md has a row for ${e.name}`);
  assert.throws(() => withEstimatorsTable("no markers here"), /no estimators table markers/);
});

test("tables print the registry's order, whatever order the estimators were asked in", async () => {
  const reversed = [...ESTIMATORS].reverse();
  const r = await evaluatePolicy(FIXTURE, FIXTURE_MODEL, { rewardModel: FIXTURE_COST_MODEL, bootstrapSamples: 0, estimators: reversed });
  const rows = formatEstimateTable(r).split("\n").slice(2, 2 + ESTIMATORS.length).map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(rows, ESTIMATOR_NAMES);
});

test("names resolve through the registry; the evaluator takes estimator objects and says so to a name", async () => {
  for (const e of ESTIMATORS) assert.equal(estimatorNamed(e.name), e);
  assert.throws(() => estimatorNamed("sndrr"), (e: unknown) => e instanceof OpeInputError && e.field === "estimator" && /did you mean sndr\?/.test(e.message));
  assert.throws(() => estimatorNamed("bogus", "--x"), (e: unknown) => e instanceof OpeInputError && e.field === "--x" && !/did you mean/.test(e.message));
  await assert.rejects(
    evaluatePolicy(FIXTURE, FIXTURE_MODEL, { estimators: ["dr" as never] }),
    (e: unknown) => e instanceof OpeInputError && e.field === "estimators" && /the name "dr"/.test(e.message) && /estimatorNamed/.test(e.message),
  );
});
