/**
 * Every executed notebook in test-output/notebooks/ (written by the notebook tests) as a reader
 * sees it: exported to HTML, opened in headless Chromium; each plotly chart must have drawn its SVG,
 * each diagram must have loaded, nothing may be fetched from the network. Screenshots go to
 * test-output/screenshots/. Notebooks not executed yet (or older than their source) are skipped
 * with a note: the workshop notebook test runs these same checks right after executing them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { listNotebooks, notebooksDir, outputDir } from "../notebooks/harness";
import { browserAvailable, exportHtml, launchBrowser, renderPage } from "./render";

const unavailable = browserAvailable();

test("executed notebooks render in headless Chromium with every chart drawn", { skip: unavailable, timeout: 10 * 60_000 }, async (t) => {
  const fresh = listNotebooks().filter((name) => {
    const executed = path.join(outputDir, name);
    return fs.existsSync(executed) && fs.statSync(executed).mtimeMs >= fs.statSync(path.join(notebooksDir, name)).mtimeMs;
  });
  const stale = listNotebooks().filter((name) => !fresh.includes(name));
  if (stale.length) t.diagnostic(`not executed since their last change (skipped): ${stale.join(", ")}`);
  if (fresh.length === 0) {
    t.skip("no executed notebooks in test-output/notebooks yet (run the notebook tests first)");
    return;
  }
  const browser = await launchBrowser();
  try {
    for (const name of fresh) {
      await t.test(name, async (st) => {
        const page = await renderPage(browser, exportHtml(path.join(outputDir, name)));
        st.diagnostic(`${name}: ${page.charts.length} chart(s), ${page.images.length} image(s), ${page.seconds.toFixed(1)} s, screenshot ${page.screenshot}`);
        assert.deepEqual(page.charts.filter((c) => !c.drawn).map((c) => c.id), [], "every plotly chart drew its svg.main-svg");
        assert.ok(page.charts.every((c) => c.height > 100), "charts have a visible height");
        assert.deepEqual(page.images.filter((i) => !i.loaded).map((i) => i.src), [], "every image loaded");
        assert.deepEqual(page.networkRequests, [], "nothing is fetched from the network");
        assert.deepEqual(page.pageErrors, [], "no script error on the page");
      });
    }
  } finally {
    await browser.close();
  }
});
