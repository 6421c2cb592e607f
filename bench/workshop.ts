/**
 * Workshop benchmark: the `npm start` job (node sim_app/dist/workshop/main.js: warm start, 15
 * loops × 500 interactions with evaluation and gating) timed end to end as a child process;
 * median of `--runs` (default 3), with the breakdown it prints (warm start, each step's total).
 * Each run gets a config whose workspace is a temp folder (removed after), so no experiment is
 * left in the project's workspace.
 *
 * `--baseline DIR`: a built checkout of an earlier commit (e.g. `git worktree add /tmp/old
 * ba40228 && (cd /tmp/old && cp -a ../<this>/node_modules . && npm run build)`), run interleaved
 * with this one and shown beside it (or env CBKIT_WORKSHOP_BASELINE=DIR under `npm run bench`).
 * The target stays the issue's absolute < 10 s: an earlier commit is a reference, not a bar.
 * Extra arguments after `--` go to the workshop.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { findProjectRoot } from "@cbkit/common/config";
import { resolveShuttleDataFile } from "@cbkit/sim_app";
import { loadConfig } from "@cbkit/common";
import { BenchResults, median } from "./lib/results";

const argValue = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const RUNS = Number(argValue("runs") ?? 3);
/** `--baseline DIR`, or env CBKIT_WORKSHOP_BASELINE (what `npm run bench` passes on to no other bench). */
const BASELINE = argValue("baseline") ?? process.env.CBKIT_WORKSHOP_BASELINE;
const extra = process.argv.includes("--") ? process.argv.slice(process.argv.indexOf("--") + 1) : [];
const TARGET_SECONDS = 10;

interface WorkshopRun {
  seconds: number;
  summary: string;
  /** The breakdown's lines: label -> seconds (none from a checkout that does not print one). */
  steps: Map<string, number>;
}

/** One `npm start` of the checkout at `dir`, in a temp workspace. */
function runWorkshop(dir: string, tmp: string, tag: string): WorkshopRun {
  // The checkout's own config.yaml, with the workspace in `tmp` and the data file spelled out.
  const config = YAML.parse(fs.readFileSync(path.join(dir, "config.yaml"), "utf8")) as Record<string, unknown>;
  config.workspace = path.join(tmp, `ws-${tag}`);
  config.data_file = resolveShuttleDataFile(loadConfig());
  const configFile = path.join(tmp, `config-${tag}.yaml`);
  fs.writeFileSync(configFile, YAML.stringify(config));
  const t = performance.now();
  const run = spawnSync(process.execPath, [path.join(dir, "sim_app", "dist", "workshop", "main.js"), "--config", configFile, "--report", path.join(tmp, `report-${tag}.html`), ...extra], {
    encoding: "utf8",
    cwd: dir,
  });
  const seconds = (performance.now() - t) / 1000;
  const summary = run.stdout.split("\n").find((l) => l.startsWith("mean reward")) ?? "";
  // An old checkout may fail after its summary (e.g. writing a report with a module since renamed): its loops ran.
  if (summary === "") throw new Error(`the workshop in ${dir} failed (exit ${run.status}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
  const steps = new Map<string, number>();
  for (const m of run.stdout.matchAll(/^ {2}(.+?)\s+(\d+\.\d+) s\s+\d+ %$/gm)) steps.set(m[1].trim(), Number(m[2]));
  fs.rmSync(config.workspace as string, { recursive: true, force: true });
  return { seconds, summary, steps };
}

function gitCommit(dir: string): string {
  return spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8" }).stdout.trim() || path.basename(dir);
}

function main(): void {
  const root = findProjectRoot();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-bench-workshop-"));
  const results = new BenchResults("workshop");
  try {
    const now: WorkshopRun[] = [];
    const before: WorkshopRun[] = [];
    for (let r = 0; r < RUNS; r++) {
      if (BASELINE) before.push(runWorkshop(path.resolve(BASELINE), tmp, `baseline-${r}`));
      now.push(runWorkshop(root, tmp, `run-${r}`));
    }
    console.log(`workshop benchmark (npm start: warm start + 15 loops × 500 with evaluation), ${RUNS} runs${BASELINE ? ` interleaved with ${BASELINE}` : ""}; load avg ${os.loadavg()[0].toFixed(1)}`);
    const seconds = now.map((r) => r.seconds);
    results.add({
      name: `npm start, median of ${RUNS}`,
      value: median(seconds),
      unit: "s",
      runs: seconds,
      ...(BASELINE ? { baseline: { name: `commit ${gitCommit(BASELINE)}`, value: median(before.map((r) => r.seconds)) } } : {}),
      target: { op: "<", value: TARGET_SECONDS, on: "value" },
    });
    for (const label of now[0].steps.keys()) {
      results.add({ name: `  ${label}`, value: median(now.map((r) => r.steps.get(label) ?? NaN)), unit: "s" });
    }
    console.log(`runs: ${seconds.map((x) => x.toFixed(1)).join(", ")} s${BASELINE ? `; baseline ${before.map((r) => r.seconds.toFixed(1)).join(", ")} s` : ""}; ${now[now.length - 1].summary}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    results.save();
  }
}

main();
