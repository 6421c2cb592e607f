/**
 * Runs every benchmark under bench/ one after another (never in parallel: they measure speed on
 * a shared 2-core machine) and prints each one's output. `npm run bench -- learner` runs only the
 * benchmarks whose file name contains "learner"; arguments after the filter go to each of them
 * (`npm run bench -- soak --minutes 10`).
 *
 * It is a check, not a printout: it exits 1 when a bench exits non-zero (a missed target, see
 * lib/results.ts) or leaves experiments behind in the project's workspace (a folder under
 * bucket/, an endpoint log or process file, a job folder that was not there before it ran). The
 * figures the benches saved go to bench-output/results.json, one file for the run, from which
 * scripts/bench-tables.js writes the measured tables of the README and docs.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findProjectRoot, loadConfig, resolveWorkspaceDir } from "@cbkit/common/config";
import { BenchOutput, benchOutputDir } from "./lib/results";

const filter = process.argv[2] ?? "";
const passOn = process.argv.slice(3);
const benches = readdirJs(__dirname).filter((f) => f !== "run-all.js" && f.includes(filter)) // shared modules live in lib/.sort();
const root = findProjectRoot();
const workspace = resolveWorkspaceDir(loadConfig());

function readdirJs(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith(".js"));
}

/** What of the workspace belongs to an experiment: bucket/<exp>, endpoints/<file>, jobs/<job>. */
function experimentEntries(ws: string): Set<string> {
  const entries = new Set<string>();
  for (const sub of ["bucket", "endpoints", "jobs"]) {
    const dir = path.join(ws, sub);
    if (fs.existsSync(dir)) for (const e of fs.readdirSync(dir)) entries.add(`${sub}/${e}`);
  }
  return entries;
}

interface RunRecord {
  bench: string;
  exit: number | string;
  seconds: number;
  leftBehind: string[];
  output: BenchOutput | null;
}

const outDir = benchOutputDir(root);
fs.mkdirSync(outDir, { recursive: true });
const startedAt = new Date().toISOString();
const load0 = os.loadavg()[0];
const runs: RunRecord[] = [];
for (const file of benches) {
  const name = file.replace(/\.js$/, "");
  console.log(`\n=== bench/${name}.ts ===`);
  const saved = path.join(outDir, `${name}.json`);
  fs.rmSync(saved, { force: true });
  const before = experimentEntries(workspace);
  const t0 = performance.now();
  const run = spawnSync(process.execPath, ["--expose-gc", path.join(__dirname, file), ...passOn], { stdio: "inherit" });
  const seconds = (performance.now() - t0) / 1000;
  const leftBehind = [...experimentEntries(workspace)].filter((e) => !before.has(e));
  const exit = run.status ?? run.signal ?? "unknown";
  if (exit !== 0) console.log(`bench/${file} exited with ${exit}`);
  if (leftBehind.length > 0) console.log(`bench/${file} left experiments behind in ${workspace}: ${leftBehind.join(", ")}`);
  const output = fs.existsSync(saved) ? (JSON.parse(fs.readFileSync(saved, "utf8")) as BenchOutput) : null;
  runs.push({ bench: name, exit, seconds, leftBehind, output });
}

const failed = runs.filter((r) => r.exit !== 0 || r.leftBehind.length > 0);
const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).stdout.trim();
const summary = {
  startedAt,
  finishedAt: new Date().toISOString(),
  commit,
  filter,
  args: passOn,
  node: process.version,
  cpus: os.cpus().length,
  load: [load0, os.loadavg()[0]],
  benches: runs,
};
const resultsFile = path.join(outDir, filter === "" && passOn.length === 0 ? "results.json" : "results-partial.json");
fs.writeFileSync(resultsFile, JSON.stringify(summary, null, 2) + "\n");

console.log(`\n${runs.length - failed.length} of ${runs.length} benchmarks met every target and left the workspace clean; figures in ${path.relative(root, resultsFile)}`);
for (const r of failed) {
  const missed = r.output?.figures.filter((f) => f.ok === false).map((f) => f.name) ?? [];
  console.log(`  ${r.bench}: exit ${r.exit}${missed.length ? `; missed: ${missed.join("; ")}` : ""}${r.leftBehind.length ? `; left behind: ${r.leftBehind.join(", ")}` : ""}`);
}
process.exit(failed.length === 0 ? 0 : 1);
