/**
 * Runs every benchmark under bench/ one after another (never in parallel: they measure speed on
 * a shared 2-core machine) and prints each one's output. `npm run bench -- learner` runs only the
 * benchmarks whose file name contains "learner"; arguments after the filter go to each of them
 * (`npm run bench -- soak --minutes 10`).
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";

const filter = process.argv[2] ?? "";
/** Modules the benchmarks share (not benchmarks themselves). */
const LIBRARIES = new Set(["run-all.js", "python.js", "vw.js"]);
const passOn = process.argv.slice(3);
const benches = readdirSync(__dirname)
  .filter((f) => f.endsWith(".js") && !LIBRARIES.has(f) && f.includes(filter))
  .sort();

let failed = 0;
for (const file of benches) {
  console.log(`\n=== bench/${file.replace(/\.js$/, ".ts")} ===`);
  const run = spawnSync(process.execPath, ["--expose-gc", path.join(__dirname, file), ...passOn], { stdio: "inherit" });
  if (run.status !== 0) {
    failed++;
    console.log(`bench/${file} exited with ${run.status ?? run.signal}`);
  }
}
console.log(`\n${benches.length - failed} of ${benches.length} benchmarks ran to completion`);
process.exit(failed === 0 ? 0 : 1);
