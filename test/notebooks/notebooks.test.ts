/**
 * Executes every notebooks/*.ipynb with the real Jupyter client and the kit's `cbkit` kernel
 * (tslab), fails on any cell error (showing the cell and the error), then runs the notebook's output checks from
 * checks/<notebook name>.ts when there is one, and opens its HTML export in headless Chromium. A
 * notebook that another test file in this folder executes itself (it names the notebook file) is
 * left to that file, so no notebook runs twice (two runs would share the workspace). Without
 * Jupyter the suite is skipped, except in CI.
 */
import { test } from "node:test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as harness from "./harness";
import { executeNotebook, findJupyterPython, listNotebooks, type ExecutedNotebook } from "./harness";
import { assertRendersInBrowser, browserAvailable, launchBrowser } from "../browser/render";

const jupyter = findJupyterPython();
const skip = !jupyter && !process.env.CI ? "Jupyter (python3-nbclient) not installed; see .ci/run" : false;

/** The other test files of this folder that execute the notebook `name`. */
function coveredElsewhere(name: string): string[] {
  const self = path.basename(__filename);
  return fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith(".test.js") && f !== self)
    .filter((f) => fs.readFileSync(path.join(__dirname, f), "utf8").includes(`"${name}"`));
}

const noBrowser = skip ? "no Jupyter" : browserAvailable();

for (const name of listNotebooks().filter((n) => coveredElsewhere(n).length === 0)) {
  const base = name.replace(/\.ipynb$/, "");
  test(`notebook ${name} runs top to bottom, shows what it should and draws in Chromium`, { skip, timeout: 20 * 60_000 }, async (t) => {
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
    if (noBrowser) {
      t.diagnostic(`browser check skipped: ${noBrowser}`);
      return;
    }
    const browser = await launchBrowser();
    try {
      const page = await assertRendersInBrowser(browser, nb.outputPath);
      t.diagnostic(`${name} in Chromium: ${page.charts.length} chart(s) drawn, screenshot ${page.screenshot}`);
    } finally {
      await browser.close();
    }
  });
}
