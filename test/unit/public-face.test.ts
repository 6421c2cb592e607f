/**
 * The packages' public face (issue 14, item 8). Each package has a curated root and named
 * subpaths: package.json "exports" for Node, "typesVersions" for TypeScript, whose node10
 * resolution (this project's tsc, and tslab's TypeScript 5.0 in the notebooks) ignores "exports".
 * Nothing imports a build path (`dist/`): tests, benches, scripts, docs and notebooks go through
 * the faces. The roots' names are listed here, so a root grows only by a deliberate change.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { findProjectRoot } from "@cbkit/common/config";

const ROOT = findProjectRoot();

/** The curated roots: what a notebook or a workshop script needs (docs/architecture.md). */
const ROOT_EXPORTS: Record<"common" | "sim_app", string[]> = {
  common: [
    // settings
    "loadConfig", "Config", "ConfigError", "ConfigIssue",
    // the experiment, its loop and gate
    "ExperimentManager", "ExperimentManagerOptions", "Predictor", "ActionResult",
    "startExperiment", "runLoop", "runContinualLearning", "loopSettings", "loopResult",
    "ClientApplication", "ClientUser", "ContinualLearningOptions", "ContinualLearningRun", "GateData", "LoopRow", "LoopSettings", "StartSummary",
    "gatePasses", "gateReason", "GateRule", "GateScore",
    "EndpointDescription", "ExperimentRecord", "JoinJobRecord", "ModelRecord", "RewardRecord", "JoinedRecord",
    // the learner
    "CbLearner", "ChosenAction", "TrainReport", "EXPLORATION_POLICIES", "ExplorationPolicy", "LearnerOptions",
    "learnerOptionsFromParameters", "loadModel", "saveModel", "readJoinedRecords",
    // off-policy evaluation
    "evaluatePolicy", "comparePolicies", "PolicyComparison", "ESTIMATORS", "IPS", "SNIPS", "DM", "DR", "SNDR", "estimatorNamed", "EstimatorName", "OpeEstimate",
    // display helpers
    "showTable", "showFigure", "showPlotlyLibrary", "showConfig", "barFigure", "costFigure", "pmfFigure", "linesFigure",
    "formatScore", "distinctDecimals", "compareCosts", "Progress", "LoopDashboard", "InferenceMonitor", "loopSummaryRows", "LoopResult",
    // errors a user catches
    "WorkflowError", "InvalidUsageError", "WorkflowInProgressError", "TrainingJobError", "EvaluationJobError", "HostingError",
    "JoiningError", "EvalScoreNotAvailableError", "ExperimentDeletedError", "InvalidExperimentIdError", "ConflictError",
    "JobFailedError", "ObjectStoreError", "DataFileError", "RewardRangeError", "LearnerError", "ConfigMismatchError",
    "ModelLayoutError", "ModelFormatError", "OpeInputError",
  ],
  sim_app: [
    "StatlogSimApp", "SimUser", "StatlogSimAppOptions", "GetRewardArgs",
    "prepareStatlogWarmStartData", "evaluateHistoricalData", "WarmStartOptions",
    "resolveShuttleDataFile", "loadStatlogData", "StatlogData", "checkAppMatchesConfig", "AppConfigMismatchError",
    "openExperiment", "ExperimentHasModelsError", "sendRequestsWhile", "compareExplorationPolicies", "PolicyVariant", "PolicyComparisonRow",
    "runWorkshop", "WorkshopOptions", "WorkshopResult", "simulate", "SimulateOptions", "SimulationResult",
    "workshopLoops", "showCloudCost",
  ],
};

/** The named subpaths and the module each one is (under src/). */
const SUBPATHS: Record<"common" | "sim_app", Record<string, string>> = {
  common: {
    config: "config/index",
    data: "data/index",
    join: "join/index",
    learner: "learner/index",
    ope: "ope/index",
    display: "display/index",
    container: "container/index",
    platform: "platform/index",
    local: "platform/local/index",
    sagemaker: "platform/sagemaker/index",
    experiment: "experiment/index",
    util: "util/index",
  },
  sim_app: { statlog: "statlog/index", simulate: "simulate/index", workshop: "workshop/index", cli: "cli/bandits" },
};

const PACKAGES = ["common", "sim_app"] as const;

interface PackageJson {
  main: string;
  types: string;
  exports: Record<string, string | { types: string; default: string }>;
  typesVersions: Record<string, Record<string, string[]>>;
}
const packageJson = (pkg: string) => JSON.parse(fs.readFileSync(path.join(ROOT, pkg, "package.json"), "utf8")) as PackageJson;

/** The names a module's declarations export (values and types). */
function exportedNames(dts: string): string[] {
  const program = ts.createProgram([dts], { moduleResolution: ts.ModuleResolutionKind.Node10, module: ts.ModuleKind.CommonJS, skipLibCheck: true, types: [] });
  const checker = program.getTypeChecker();
  const symbol = checker.getSymbolAtLocation(program.getSourceFile(dts)!);
  return checker.getExportsOfModule(symbol!).map((s) => s.name);
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

test("each package's root exports exactly its curated names (growing a root is a change to this list)", () => {
  for (const pkg of PACKAGES) {
    const names = exportedNames(path.join(ROOT, pkg, "dist", "index.d.ts"));
    const listed = new Set(ROOT_EXPORTS[pkg]);
    assert.equal(listed.size, ROOT_EXPORTS[pkg].length, `${pkg}: a name is listed twice`);
    const added = names.filter((n) => !listed.has(n));
    const missing = [...listed].filter((n) => !names.includes(n));
    assert.deepEqual(
      { added, missing },
      { added: [], missing: [] },
      `@cbkit/${pkg}'s root changed: put a new name in a subpath, or add it to ROOT_EXPORTS in test/unit/public-face.test.ts on purpose`,
    );
    // At run time too (values only: types leave no trace).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    for (const key of Object.keys(require(`@cbkit/${pkg}`) as object)) assert.ok(listed.has(key), `@cbkit/${pkg} exports ${key} at run time`);
  }
});

test("every subpath resolves alike for Node (exports), this project's tsc and tslab's TypeScript (typesVersions, node10)", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tslabTs = require("@tslab/typescript-for-tslab") as typeof ts;
  assert.match(tslabTs.version, /^5\.0\./, "the TypeScript tslab compiles notebook cells with");
  const from = path.join(ROOT, "notebooks", "cell.ts"); // where a notebook cell is compiled from
  for (const pkg of PACKAGES) {
    const pj = packageJson(pkg);
    const mapped = pj.typesVersions["*"];
    assert.deepEqual(sorted(Object.keys(mapped)), sorted(Object.keys(SUBPATHS[pkg])), `${pkg}: typesVersions lists the subpaths`);
    assert.deepEqual(sorted(Object.keys(pj.exports)), sorted([".", "./package.json", ...Object.keys(SUBPATHS[pkg]).map((s) => `./${s}`)]), `${pkg}: exports lists the subpaths`);
    assert.deepEqual(pj.exports["."], { types: `./${pj.types}`, default: `./${pj.main}` }, `${pkg}: the root entry is main/types`);
    for (const [sub, mod] of Object.entries(SUBPATHS[pkg])) {
      const spec = `@cbkit/${pkg}/${sub}`;
      assert.deepEqual(pj.exports[`./${sub}`], { types: `./dist/${mod}.d.ts`, default: `./dist/${mod}.js` }, `${spec} in exports`);
      assert.deepEqual(mapped[sub], [`dist/${mod}.d.ts`], `${spec} in typesVersions`);
      assert.ok(fs.existsSync(path.join(ROOT, pkg, "src", `${mod}.ts`)), `${spec}: its module ${pkg}/src/${mod}.ts exists`);
      const js = fs.realpathSync(require.resolve(spec));
      assert.equal(js, path.join(ROOT, pkg, "dist", `${mod}.js`), `Node resolves ${spec}`);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      assert.ok(Object.keys(require(spec) as object).length > 0, `${spec} loads and exports values`);
      for (const [who, compiler] of [["tsc", ts], ["tslab", tslabTs]] as const) {
        const options = { moduleResolution: compiler.ModuleResolutionKind.Node10, module: compiler.ModuleKind.CommonJS };
        const hit = compiler.resolveModuleName(spec, from, options, compiler.sys).resolvedModule;
        assert.ok(hit, `${who} (node10) resolves ${spec}`);
        assert.equal(fs.realpathSync(hit.resolvedFileName), path.join(ROOT, pkg, "dist", `${mod}.d.ts`), `${who} finds the types of ${spec}`);
      }
    }
    // A build path is closed at run time.
    const buildPath = [`@cbkit/${pkg}`, "dist", "index.js"].join("/");
    assert.throws(() => require.resolve(buildPath), /ERR_PACKAGE_PATH_NOT_EXPORTED|not defined by "exports"/, `${buildPath} is not exported`);
  }
});

/**
 * Files that may name a build path, and why: the `bandits` launcher is the bin entry of its own
 * package (npm links it before a build); package.json entry points, the Dockerfile and the spawn
 * paths of entry-point scripts are not imports and are not scanned.
 */
const ALLOWED_BUILD_PATHS: Record<string, string> = {
  "sim_app/bin/bandits.js": "the bin launcher requires its own package's build",
};

/** The module specifiers of a text: import ... from "x", require("x"), require.resolve("x"), import("x"). */
function specifiers(text: string): { spec: string; line: number }[] {
  const re = /(?:\bfrom\s+|\brequire(?:\.resolve)?\(\s*|\bimport\(\s*)(["'`])([^"'`\n]+)\1/g;
  return [...text.matchAll(re)].filter((m) => !m[2].includes("${")).map((m) => ({ spec: m[2], line: lineOf(text, m.index) }));
}

/** Every mention of a package path, in code or in prose ("`@cbkit/common/ope`"). */
function mentions(text: string): { spec: string; line: number }[] {
  const re = /@cbkit\/[A-Za-z_]+(?:\/[A-Za-z0-9_./-]*[A-Za-z0-9_])?/g;
  return [...text.matchAll(re)].map((m) => ({ spec: m[0], line: lineOf(text, m.index) }));
}

/** Names a destructuring require of a package takes, `const { a, b: c } = require(<package>)` (scripts, child-process code in strings). */
function requiredNames(text: string): { spec: string; name: string; line: number }[] {
  const re = /\{([^{}]+)\}\s*=\s*require\((["'])(@cbkit\/[^"']+)\2\)/g;
  return [...text.matchAll(re)].flatMap((m) =>
    m[1].split(",").map((n) => n.split(":")[0].trim()).filter(Boolean).map((name) => ({ spec: m[3], name, line: lineOf(text, m.index) })),
  );
}

const lineOf = (text: string, index: number | undefined) => text.slice(0, index).split("\n").length;

/** What is wrong with a module path: a build path of ours, or a package path no package exports. */
function specProblem(spec: string, exported: Set<string>): string | null {
  if (/(^|\/)(common|sim_app)\/dist(\/|$)/.test(spec)) return "is a build path; use the package's root or a named subpath";
  if (spec.startsWith("@cbkit/") && !exported.has(spec)) return "is not a root or subpath of the packages (package.json exports)";
  return null;
}

function scannedFiles(): string[] {
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return e.name === "node_modules" || e.name.startsWith(".") ? [] : walk(p);
      return /\.(ts|js|md|ipynb)$/.test(e.name) && !e.name.endsWith(".d.ts") ? [p] : [];
    });
  const dirs = ["test", "bench", "scripts", "docs", "notebooks", "common/src", "sim_app/src", "sim_app/bin"];
  return [...dirs.flatMap((d) => walk(path.join(ROOT, d))), path.join(ROOT, "README.md")];
}

/** A file's text to scan: a notebook's code and markdown cells, else the file. */
function scannedText(file: string): string {
  const text = fs.readFileSync(file, "utf8");
  if (!file.endsWith(".ipynb")) return text;
  const nb = JSON.parse(text) as { cells: { source: string | string[] }[] };
  return nb.cells.map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n");
}

test("nothing imports a build path: tests, benches, scripts, docs, notebooks and sources use the faces", () => {
  const exported = new Set(PACKAGES.flatMap((pkg) => Object.keys(packageJson(pkg).exports).filter((k) => k !== "./package.json").map((k) => (k === "." ? `@cbkit/${pkg}` : `@cbkit/${pkg}/${k.slice(2)}`))));
  // The checker sees what it checks.
  const planted = ["common", "dist", "ope"].join("/");
  const sample = `const x = require("../${planted}");\nSee \`@cbkit/${planted}\`.`;
  assert.deepEqual(specifiers(sample).map((s) => [s.spec, s.line]), [[`../${planted}`, 1]]);
  assert.deepEqual(mentions(sample).map((s) => [s.spec, s.line]), [[`@cbkit/${planted}`, 2]]);
  assert.ok(specProblem(`../${planted}`, exported));
  assert.ok(specProblem(["@cbkit", "common", "nowhere"].join("/"), exported));
  assert.equal(specProblem("@cbkit/common/ope", exported), null);
  const required = `const { a, b: c } = require("${"@cbkit/common"}");`;
  assert.deepEqual(requiredNames(required).map((r) => [r.spec, r.name]), [["@cbkit/common", "a"], ["@cbkit/common", "b"]]);

  const files = scannedFiles();
  assert.ok(files.some((f) => f.endsWith(".ipynb")) && files.some((f) => f.endsWith(".md")), "notebooks and docs are scanned");
  const found: string[] = [];
  let mentioned = 0;
  for (const file of files) {
    const rel = path.relative(ROOT, file).split(path.sep).join("/");
    if (ALLOWED_BUILD_PATHS[rel]) continue;
    const text = scannedText(file);
    const all = [...specifiers(text), ...mentions(text)];
    mentioned += all.length;
    const where = (line: number) => `${rel}${file.endsWith(".ipynb") ? " (cells joined)" : ""}:${line}`;
    for (const { spec, line } of all) {
      const problem = specProblem(spec, exported);
      if (problem) found.push(`${where(line)}: "${spec}" ${problem}`);
    }
    // Code that only runs in a child process is not type-checked: its required names must exist.
    for (const { spec, name, line } of requiredNames(text)) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      if (exported.has(spec) && !(name in (require(spec) as object))) found.push(`${where(line)}: ${spec} has no export ${name}`);
    }
  }
  assert.ok(mentioned > 200, `found ${mentioned} imports and mentions`);
  assert.deepEqual([...new Set(found)], [], [...new Set(found)].join("\n"));
});
