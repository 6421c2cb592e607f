/**
 * Workshop benchmark: the `npm start` job (node sim_app/dist/workshop/main.js, 15 loops × 500
 * interactions with evaluation and gating) timed end to end as a child process; median of
 * `--runs` (default 3). Extra arguments after `--` go to the workshop.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const RUNS = (() => {
  const i = process.argv.indexOf("--runs");
  return i >= 0 ? Number(process.argv[i + 1]) : 3;
})();
const extra = process.argv.includes("--") ? process.argv.slice(process.argv.indexOf("--") + 1) : [];
const main = path.resolve(__dirname, "..", "..", "sim_app", "dist", "workshop", "main.js");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const times: number[] = [];
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-bench-workshop-"));
let last = "";
for (let r = 0; r < RUNS; r++) {
  const t = performance.now();
  const run = spawnSync(process.execPath, [main, "--report", path.join(reportDir, `run-${r}.html`), ...extra], { encoding: "utf8" });
  const seconds = (performance.now() - t) / 1000;
  if (run.status !== 0) {
    console.error(run.stdout, run.stderr);
    process.exit(1);
  }
  times.push(seconds);
  last = run.stdout;
}
fs.rmSync(reportDir, { recursive: true, force: true });
const m = median(times);
const summary = last.split("\n").find((l) => l.startsWith("mean reward")) ?? "";
console.log(`workshop benchmark (npm start: 15 loops × 500 with evaluation), load avg ${os.loadavg()[0].toFixed(1)}`);
console.log(`${"wall time, median of " + RUNS}`.padEnd(44) + `${m.toFixed(1).padStart(10)} s   target < 30 s      ${m < 30 ? "ok" : "MISSED"}`);
console.log(`runs: ${times.map((x) => x.toFixed(1)).join(", ")} s; ${summary}`);
