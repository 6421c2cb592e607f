/**
 * The import graph of common/src and sim_app/src, read from the sources (issue 14, item 5): no
 * circle between files or between folders, and no import from a lower layer to a higher one.
 *
 * The layers, lowest first (a unit imports only from its own unit and the units listed before it;
 * units on one line are peers and may not import each other):
 *
 *   common/src
 *     util                        seeded randomness, process helpers
 *     data                        record shapes, readers/writers, the numeric contract and reward
 *                                 range, the split rule, the event-id rule
 *     join                        the one SQL join (splits with data's rule)
 *     learner                     the policy, its options and model
 *     ope                         the estimators (they score any policy, learner included), the score
 *     config                      the schema and loader (paths.ts: where config.yaml and the data are)
 *     display                     tables, charts, figures, dashboards: shows scores and settings
 *     container                   the job contract; train, evaluate, serve
 *     platform/types.ts           the platform contract
 *     platform/layout.ts          the object paths of both platforms
 *     platform/record-codec.ts    how records are read back (older shapes included)
 *     platform/local | platform/sagemaker   (peers: two implementations of one contract)
 *     platform/index.ts           the platform face (and where the platform is chosen)
 *     experiment/gate.ts          the deploy gate (its rules: the config schema's deploy_gate)
 *     experiment                  the manager and its workflows
 *     experiment/loop.ts          the continual-learning loop, over the manager and the gate
 *     experiment/index.ts         the experiment face (@cbkit/common/experiment)
 *     index.ts                    the package root
 *   sim_app/src
 *     statlog, simulate, workshop, cli, index.ts
 *
 * sim_app imports common only through the package name (@cbkit/common); common never imports
 * sim_app. An import the graph cannot read (a computed require) counts as a violation too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { findProjectRoot } from "@cbkit/common/config";

const ROOT = findProjectRoot();

/** Units of each package, lowest first; an inner array lists peers. A unit is a folder or a file under src/. */
const LAYERS: Record<"common" | "sim_app", (string | string[])[]> = {
  common: [
    "util",
    "data",
    "join",
    "learner",
    "ope",
    "config",
    "display",
    "container",
    "platform/types.ts",
    "platform/layout.ts",
    "platform/join-report.ts",
    "platform/record-codec.ts",
    ["platform/local", "platform/sagemaker"],
    "platform/index.ts",
    "experiment/gate.ts",
    "experiment",
    "experiment/loop.ts",
    "experiment/index.ts",
    "index.ts",
  ],
  sim_app: ["statlog", "simulate", "workshop", "cli", "index.ts"],
};

interface Edge {
  from: string;
  to: string;
  /** The specifier as written, or "computed require". */
  spec: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/** Every module specifier of a file: imports, re-exports, import types, require() and import(). */
function specifiersOf(file: string): { spec: string | null; line: number }[] {
  const text = fs.readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: { spec: string | null; line: number }[] = [];
  const add = (node: ts.Node, expr: ts.Expression | undefined) => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    out.push({ spec: expr && ts.isStringLiteralLike(expr) ? expr.text : null, line });
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) add(node, node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal as ts.Expression);
    else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      if (isRequire || callee.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The source file a relative specifier names (`x.ts` or `x/index.ts`), or null. */
function resolveRelative(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, "index.ts")]) if (fs.existsSync(candidate)) return candidate;
  return null;
}

const rel = (p: string) => path.relative(ROOT, p).split(path.sep).join("/");

/** The package ("common" | "sim_app") and the path under its src/ of a file. */
function placeOf(file: string): { pkg: "common" | "sim_app"; inSrc: string } {
  const r = rel(file);
  const m = /^(common|sim_app)\/src\/(.*)$/.exec(r);
  if (!m) throw new Error(`${r} is outside common/src and sim_app/src`);
  return { pkg: m[1] as "common" | "sim_app", inSrc: m[2] };
}

/** The unit of a file: the longest folder or file of its package's LAYERS containing it, with its rank. */
function unitOf(file: string): { unit: string; rank: number } {
  const { pkg, inSrc } = placeOf(file);
  let best: { unit: string; rank: number } | null = null;
  LAYERS[pkg].forEach((entry, rank) => {
    for (const unit of Array.isArray(entry) ? entry : [entry]) {
      const contains = inSrc === unit || inSrc.startsWith(`${unit}/`);
      if (contains && (!best || unit.length > best.unit.length)) best = { unit, rank };
    }
  });
  if (!best) throw new Error(`${rel(file)} belongs to no layer: add its folder to LAYERS in test/unit/import-graph.test.ts`);
  return { unit: `${pkg}/${(best as { unit: string }).unit}`, rank: (best as { rank: number }).rank };
}

/** The edges of the graph (files of common/src and sim_app/src), and the problems found on the way. */
function readGraph(): { files: string[]; edges: Edge[]; problems: string[] } {
  const files = [...sourceFiles(path.join(ROOT, "common", "src")), ...sourceFiles(path.join(ROOT, "sim_app", "src"))];
  const edges: Edge[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const { pkg } = placeOf(file);
    for (const { spec, line } of specifiersOf(file)) {
      const at = `${rel(file)}:${line}`;
      if (spec === null) {
        edges.push({ from: rel(file), to: "computed require", spec: "computed require" });
        continue;
      }
      if (spec.startsWith(".")) {
        const target = resolveRelative(file, spec);
        if (!target) {
          problems.push(`${at}: '${spec}' resolves to no source file`);
          continue;
        }
        if (placeOf(target).pkg !== pkg) problems.push(`${at}: '${spec}' reaches into another package; import it by its package name`);
        edges.push({ from: rel(file), to: rel(target), spec });
      } else if (spec.startsWith("@cbkit/")) {
        if (pkg === "common") problems.push(`${at}: common imports '${spec}'; common never imports the app`);
        else if (!spec.startsWith("@cbkit/common")) problems.push(`${at}: sim_app imports '${spec}'`);
        else if (/\/(dist|src)(\/|$)/.test(spec)) problems.push(`${at}: '${spec}' imports a build or source path; import @cbkit/common`);
      }
    }
  }
  return { files: files.map(rel), edges, problems };
}

/** Strongly connected components with more than one member (Tarjan), each sorted. */
function circles(nodes: string[], next: (n: string) => string[]): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) strong(n);
  return out;
}

/** Every violation of a graph: unreadable imports, circles, and imports against the layer order. */
function violations({ files, edges, problems }: { files: string[]; edges: Edge[]; problems: string[] }): string[] {
  const found = [...problems];
  const fileEdges = edges.filter((e) => e.to !== "computed require");
  for (const e of edges.filter((e) => e.to === "computed require")) found.push(`${e.from} -> computed require`);

  const byFile = new Map<string, string[]>();
  for (const e of fileEdges) byFile.set(e.from, [...(byFile.get(e.from) ?? []), e.to]);
  for (const c of circles(files, (f) => byFile.get(f) ?? [])) found.push(`circle between files: ${c.join(", ")}`);

  const abs = (f: string) => path.join(ROOT, f);
  const byUnit = new Map<string, Set<string>>();
  for (const e of fileEdges) {
    const from = unitOf(abs(e.from));
    const to = unitOf(abs(e.to));
    if (from.unit === to.unit) continue;
    if (!byUnit.has(from.unit)) byUnit.set(from.unit, new Set());
    byUnit.get(from.unit)!.add(to.unit);
    if (to.rank > from.rank) found.push(`${e.from} -> ${e.to}`);
    else if (to.rank === from.rank) found.push(`${e.from} -> ${e.to} (peers)`);
  }
  const units = [...new Set(files.map((f) => unitOf(abs(f)).unit))];
  for (const c of circles(units, (u) => [...(byUnit.get(u) ?? [])])) found.push(`circle between folders: ${c.join(", ")}`);
  return [...new Set(found)];
}

test("the import graph of common and sim_app has no circle and no import up the layers", () => {
  const found = violations(readGraph());
  assert.deepEqual(found, [], `imports against the layers (see the order at the top of test/unit/import-graph.test.ts):\n${found.join("\n")}`);
});

test("the checker sees what it checks: every file has a layer, and planted violations are found", () => {
  const graph = readGraph();
  const { files, edges } = graph;
  for (const f of files) assert.ok(unitOf(path.join(ROOT, f)).unit, f);
  // It reads multi-line imports and the root's re-exports.
  assert.ok(edges.some((e) => e.from === "common/src/index.ts" && e.to === "common/src/experiment/loop.ts"), "reads the root's re-exports");
  assert.ok(edges.length > 150, `found ${edges.length} imports`);
  // Planted: data -> experiment (up the layers, and a circle with experiment -> data), local <-> sagemaker (peers),
  // the manager -> the loop (up the layers inside experiment/).
  const planted = [
    { from: "common/src/data/records.ts", to: "common/src/experiment/ids.ts", spec: "../experiment/ids" },
    { from: "common/src/platform/local/jobs.ts", to: "common/src/platform/sagemaker/tar.ts", spec: "../sagemaker/tar" },
    { from: "common/src/experiment/manager.ts", to: "common/src/experiment/loop.ts", spec: "./loop" },
    { from: "common/src/util/random.ts", to: "common/src/util/process.ts", spec: "./process" },
    { from: "common/src/util/process.ts", to: "common/src/util/random.ts", spec: "./random" },
  ];
  const found = violations({ ...graph, edges: [...edges, ...planted] });
  assert.ok(found.includes("common/src/data/records.ts -> common/src/experiment/ids.ts"), found.join("\n"));
  assert.ok(found.some((v) => v.startsWith("circle between folders:") && v.includes("common/data") && v.includes("common/experiment")), found.join("\n"));
  assert.ok(found.includes("common/src/platform/local/jobs.ts -> common/src/platform/sagemaker/tar.ts (peers)"), found.join("\n"));
  assert.ok(found.includes("common/src/experiment/manager.ts -> common/src/experiment/loop.ts"), "the manager may not import the loop built on it");
  assert.ok(found.includes("circle between files: common/src/util/process.ts, common/src/util/random.ts"), found.join("\n"));
});
