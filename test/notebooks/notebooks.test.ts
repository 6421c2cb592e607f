/**
 * Executes every notebooks/*.ipynb with the real Jupyter client and the kit's `cbkit` kernel
 * (tslab), fails on any cell error (showing the cell and the error), then runs the notebook's
 * output checks from checks/<notebook name>.ts when there is one. A notebook that another test
 * file in this folder executes itself (it names the notebook file) is left to that file, so no
 * notebook runs twice here. Without Jupyter the suite is skipped, except in CI. (The notebooks in
 * the browser front ends: test/browser/frontends.test.ts.)
 */
import { test } from "node:test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as harness from "./harness";
import { executeNotebook, jupyterMissing, listNotebooks, type ExecutedNotebook } from "./harness";

const skip = jupyterMissing("test/notebooks/notebooks.test.ts");

/** The other test files of this folder that execute the notebook `name`. */
function coveredElsewhere(name: string): string[] {
  const self = path.basename(__filename);
  return fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith(".test.js") && f !== self)
    .filter((f) => fs.readFileSync(path.join(__dirname, f), "utf8").includes(`"${name}"`));
}

for (const name of listNotebooks().filter((n) => coveredElsewhere(n).length === 0)) {
  const base = name.replace(/\.ipynb$/, "");
  test(`notebook ${name} runs top to bottom and shows what it should`, { skip, timeout: 20 * 60_000 }, async (t) => {
    const nb = await executeNotebook(name);
    if (harness.kernelNote) t.diagnostic(harness.kernelNote);
    t.diagnostic(`${name}: ${nb.seconds.toFixed(1)} s (kernel start ${nb.report.kernel_start_seconds ?? "?"} s)`);
    const checks = path.join(__dirname, "checks", `${base}.js`);
    if (fs.existsSync(checks)) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(checks) as { default: (nb: ExecutedNotebook) => void | Promise<void> };
      await mod.default(nb);
    } else {
      t.diagnostic(`${name}: no output checks (add test/notebooks/checks/${base}.ts)`);
    }
  });
}
