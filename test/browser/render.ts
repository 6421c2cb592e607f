/**
 * Renders executed notebooks the way a reader sees them: exports each to HTML with nbconvert
 * (diagrams embedded), opens the page in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core, no network) and reports whether every plotly chart drew its SVG and every image
 * loaded. A full-page screenshot goes to test-output/screenshots/.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { findJupyterPython, projectRoot } from "../notebooks/harness";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const htmlDir = path.join(projectRoot, "test-output", "html");
export const screenshotDir = path.join(projectRoot, "test-output", "screenshots");

export interface RenderedPage {
  name: string;
  htmlPath: string;
  screenshot: string;
  /** Every `.cbkit-chart` element of the page and whether plotly drew into it. */
  charts: { id: string; drawn: boolean; height: number }[];
  /** Every <img>: its source (shortened) and whether it loaded. */
  images: { src: string; loaded: boolean }[];
  /** Uncaught page errors. */
  pageErrors: string[];
  /** Requests that left the machine (should be none: everything is inlined). */
  networkRequests: string[];
  seconds: number;
}

/** Why the browser check cannot run here, or false when it can. In CI it must run: .ci/run installs Chromium. */
export function browserAvailable(): string | false {
  const missing = !fs.existsSync(CHROMIUM)
    ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`
    : !findJupyterPython()
      ? "no Python with nbconvert/nbclient (see .ci/run)"
      : false;
  if (missing && process.env.CI) throw new Error(`the browser check must run in CI, but: ${missing}`);
  return missing;
}

/**
 * Exports an executed notebook to HTML, opens it in Chromium and asserts what a reader must see:
 * every plotly chart drew its SVG, every diagram loaded, nothing came from the network, no script
 * error.
 */
export async function assertRendersInBrowser(
  browser: Browser,
  executedNotebook: string,
  elementShots: [string, string][] = [],
): Promise<RenderedPage> {
  const page = await renderPage(browser, exportHtml(executedNotebook), { elementShots });
  assert.deepEqual(page.charts.filter((c) => !c.drawn).map((c) => c.id), [], "every plotly chart drew its svg.main-svg in Chromium");
  assert.ok(page.charts.every((c) => c.height > 100), "charts have a visible height");
  assert.deepEqual(page.images.filter((i) => !i.loaded).map((i) => i.src), [], "every diagram loaded");
  assert.deepEqual(page.networkRequests, [], "nothing fetched from the network (plotly inlined, no CDN)");
  assert.deepEqual(page.pageErrors, [], "no script error on the page");
  return page;
}

/**
 * Exports an executed notebook to HTML with its images embedded. The notebooks link diagrams as
 * `images/x.svg` (beside them); executed copies live in test-output/notebooks/, so
 * test-output/notebooks/images points at notebooks/images for the export to find them.
 */
export function exportHtml(executedNotebook: string): string {
  const py = findJupyterPython();
  if (!py) throw new Error("no Python with nbconvert found");
  const link = path.join(path.dirname(executedNotebook), "images");
  if (!fs.existsSync(link)) fs.symlinkSync(path.join(projectRoot, "notebooks", "images"), link, "dir");
  fs.mkdirSync(htmlDir, { recursive: true });
  const r = spawnSync(py, ["-m", "nbconvert", "--to", "html", "--HTMLExporter.embed_images=True", "--output-dir", htmlDir, executedNotebook], {
    encoding: "utf8",
    env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" },
    timeout: 120_000,
  });
  const out = path.join(htmlDir, path.basename(executedNotebook).replace(/\.ipynb$/, ".html"));
  if (r.status !== 0 || !fs.existsSync(out)) throw new Error(`nbconvert --to html failed for ${executedNotebook} (exit ${r.status}):\n${(r.stderr ?? "").slice(-3000)}`);
  return out;
}

// Page-side expressions (strings: this project compiles without the DOM library).
const ALL_CHARTS_DRAWN = `[...document.querySelectorAll(".cbkit-chart")].every((e) => e.querySelector("svg.main-svg"))`;
const CHARTS = `[...document.querySelectorAll(".cbkit-chart")].map((e) => ({ id: e.id, drawn: !!e.querySelector("svg.main-svg"), height: e.getBoundingClientRect().height }))`;
const IMAGES = `[...document.querySelectorAll("img")].map((e) => ({ src: e.src.slice(0, 60), loaded: e.complete && e.naturalWidth > 0 }))`;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Opens an HTML page, waits until the charts have drawn (or `timeoutMs` passed), and inspects it. */
export async function renderPage(
  browser: Browser,
  htmlPath: string,
  options: { timeoutMs?: number; /** [CSS selector, file prefix]: extra screenshots of single elements. */ elementShots?: [string, string][] } = {},
): Promise<RenderedPage> {
  const name = path.basename(htmlPath).replace(/\.html$/, "");
  const started = Date.now();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  const networkRequests: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(String(e.message ?? e)));
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith("file:") && !u.startsWith("data:") && !u.startsWith("blob:") && !u.startsWith("about:")) networkRequests.push(u);
  });
  try {
    await page.goto(`file://${htmlPath}`, { waitUntil: "load", timeout: options.timeoutMs ?? 90_000 });
    // Charts draw when the inlined plotly bundle has run; give them time on a busy machine.
    await page.waitForFunction(ALL_CHARTS_DRAWN, undefined, { timeout: options.timeoutMs ?? 30_000, polling: 250 }).catch(() => undefined);
    const charts = (await page.evaluate(CHARTS)) as RenderedPage["charts"];
    const images = (await page.evaluate(IMAGES)) as RenderedPage["images"];
    fs.mkdirSync(screenshotDir, { recursive: true });
    const screenshot = path.join(screenshotDir, `${name}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    for (const [selector, prefix] of options.elementShots ?? []) {
      const els = await page.$$(selector);
      for (let i = 0; i < els.length; i++) await els[i].screenshot({ path: path.join(screenshotDir, `${prefix}-${i + 1}.png`) });
    }
    return { name, htmlPath, screenshot, charts, images, pageErrors, networkRequests, seconds: (Date.now() - started) / 1000 };
  } finally {
    await page.close();
  }
}
