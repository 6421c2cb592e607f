/**
 * Drives a notebook in a real Jupyter front end in Chromium, as an attendee does: open it, Run All,
 * wait until every cell has run and the kernel is idle, then save it. Records what the checks
 * need: every request the page made, the kernel indicator through the run, each chart (drawn, with
 * traces), each diagram (loaded), error outputs, how long the main thread froze (long tasks) and how
 * long the first chart took from appearing to being drawn; and the saved file's size. A second
 * visit opens a changed copy of the saved notebook, which Jupyter does not trust (as a notebook
 * received from someone else), and records what each chart shows there.
 *
 * JupyterLab 4 and Notebook 7 share JupyterLab's application (window.jupyterapp, its commands and
 * DOM); the classic Notebook 6 has its own (window.Jupyter).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import type { FrontEndName, JupyterServer } from "./jupyter";

/** Page-side expressions (strings: the tests compile without the DOM library). */
interface FrontEndDriver {
  /** True once the notebook is open (its cells and outputs loaded). */
  opened: string;
  /** True once the notebook is open and its kernel connected and idle. */
  ready: string;
  runAll: string;
  save: string;
  /** { pending, unexecuted }: code cells queued or running, and code cells without a count. */
  cells: string;
  /** The kernel indicator element, and its state ("busy" / "idle" / ...) as an expression on `el`. */
  indicator: string;
  indicatorState: string;
  /** The element holding the open notebook (other notebooks may sit in hidden tabs). */
  root: string;
  /** Output areas and the images of rendered markdown. */
  outputs: string;
  markdownImages: string;
}

const LAB: FrontEndDriver = {
  opened: `(() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget; return !!(w && w.content && w.context && w.context.isReady); })()`,
  ready: `(() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!(w && w.content && w.context && w.context.isReady && k && k.connectionStatus === "connected" && k.status === "idle"); })()`,
  runAll: `window.jupyterapp.commands.execute("notebook:run-all-cells")`,
  save: `window.jupyterapp.commands.execute("docmanager:save")`,
  cells: `(() => { const cells = window.jupyterapp.shell.currentWidget.content.widgets.filter((c) => c.model.type === "code");
    const prompt = (c) => (c.node.querySelector(".jp-InputPrompt") || {}).textContent || "";
    return { pending: cells.filter((c) => prompt(c).includes("*")).length, unexecuted: cells.filter((c) => c.model.executionCount === null).length }; })()`,
  indicator: ".jp-Notebook-ExecutionIndicator",
  indicatorState: `el.getAttribute("data-status")`,
  root: `window.jupyterapp.shell.currentWidget.node`,
  outputs: ".jp-OutputArea-output",
  markdownImages: ".jp-MarkdownOutput img",
};

const CLASSIC: FrontEndDriver = {
  opened: `!!(window.Jupyter && window.Jupyter.notebook && window.Jupyter.notebook._fully_loaded)`,
  ready: `(() => { const nb = window.Jupyter && window.Jupyter.notebook;
    return !!(nb && nb._fully_loaded && nb.kernel && nb.kernel.is_connected() && (document.querySelector("#kernel_indicator_icon") || {}).title === "Kernel Idle"); })()`,
  runAll: `window.Jupyter.notebook.execute_all_cells()`,
  save: `window.Jupyter.notebook.save_notebook()`,
  cells: `(() => { const cells = window.Jupyter.notebook.get_cells().filter((c) => c.cell_type === "code");
    return { pending: cells.filter((c) => c.input_prompt_number === "*").length, unexecuted: cells.filter((c) => c.input_prompt_number === undefined || c.input_prompt_number === null).length }; })()`,
  indicator: "#kernel_indicator_icon",
  indicatorState: `(el.title || "").replace(/^Kernel /, "").toLowerCase()`,
  root: `document`,
  outputs: ".output_subarea",
  markdownImages: ".text_cell_render img",
};

export const DRIVERS: Record<FrontEndName, FrontEndDriver> = { jupyterlab: LAB, notebook7: LAB, classic: CLASSIC };

export interface ChartState {
  drawn: boolean;
  /** Plotly trace groups drawn (an empty plot has none). */
  traces: number;
  height: number;
  /** The text shown instead of a chart (the kit's note), if any. */
  note: string;
}

export interface NotebookRun {
  frontEnd: FrontEndName;
  notebook: string;
  /** From Run All until every cell has run and the kernel is idle. */
  seconds: number;
  /** Kernel indicator states seen during the run, and idle states shown while a cell still ran. */
  indicatorStates: string[];
  idleWhileRunning: { at: number; pending: number; showingNow: string }[];
  charts: ChartState[];
  diagrams: { src: string; loaded: boolean }[];
  /** Outputs showing plotly's JSON or the drawing script as text instead of a chart. */
  rawChartText: string[];
  pageErrors: string[];
  /** Main-thread tasks over 50 ms during the run, longest first (ms). */
  longTasksMs: number[];
  /** From the first chart element on the page to the first chart drawn (ms). */
  chartLoadMs: number | null;
  /** Fetching and starting the chart library, as the kit's loader measured it (ms). */
  libraryLoadMs: number | null;
  /** Fetch time of the chart library's script (ms), when the page fetched one. */
  libraryFetchMs: number | null;
  savedFile: string;
  savedBytes: number;
  screenshots: string[];
}

/** Every URL a browser context requests (pages, scripts, XHR, websockets), for the offline check. */
export function recordRequests(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on("request", (r) => urls.push(r.url()));
  context.on("page", (p) => p.on("websocket", (ws) => urls.push(ws.url())));
  for (const p of context.pages()) p.on("websocket", (ws) => urls.push(ws.url()));
  return urls;
}

/**
 * The requested URLs that went to the network but not to 127.0.0.1. Other schemes never leave the
 * browser (data:, blob:, about:, and attachment:, which JupyterLab puts in a diagram's src before
 * it resolves the attachment).
 */
export function offMachine(urls: readonly string[]): string[] {
  return urls.filter((u) => {
    if (!/^(https?|wss?|ftp):/i.test(u)) return false;
    try {
      return new URL(u).hostname !== "127.0.0.1";
    } catch {
      return true;
    }
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a notebook page and waits until its kernel is idle (`until: "opened"`: only until the notebook shows). */
export async function openNotebook(context: BrowserContext, server: JupyterServer, rel: string, options: { until?: "ready" | "opened"; timeoutMs?: number } = {}): Promise<Page> {
  const timeout = options.timeoutMs ?? 120_000;
  const page = await context.newPage();
  page.on("dialog", (d) => void d.dismiss());
  await page.goto(server.notebookUrl(rel), { waitUntil: "load", timeout });
  await page.waitForFunction(DRIVERS[server.frontEnd][options.until ?? "ready"], undefined, { timeout, polling: 250 });
  return page;
}

/** Installs the recorders for one run: long tasks, indicator states, chart timing. */
function instrument(d: FrontEndDriver): string {
  return `(() => {
    const rec = (window.__cbkitRun = { t0: performance.now(), longTasks: [], states: [], idleWhileRunning: [], firstChart: null, firstDrawn: null });
    new PerformanceObserver((l) => l.getEntries().forEach((e) => rec.longTasks.push(Math.round(e.duration)))).observe({ type: "longtask" });
    const cells = () => ${d.cells};
    const el = document.querySelector(${JSON.stringify(d.indicator)});
    const state = () => ${d.indicatorState};
    if (el) new MutationObserver(() => {
      const s = state();
      const at = Math.round(performance.now() - rec.t0);
      rec.states.push(s);
      // An idle indicator while a cell is still queued or running a moment later is untrue.
      if (s === "idle") setTimeout(() => { const p = cells().pending; if (p > 0) rec.idleWhileRunning.push({ at: at, pending: p, showingNow: state() }); }, 250);
    }).observe(el, { attributes: true });
    const root = ${d.root};
    new MutationObserver(() => {
      if (rec.firstChart === null && root.querySelector(".cbkit-chart")) rec.firstChart = performance.now();
      if (rec.firstDrawn === null && root.querySelector(".cbkit-chart svg.main-svg")) rec.firstDrawn = performance.now();
    }).observe(root === document ? document.body : root, { childList: true, subtree: true });
  })()`;
}

/**
 * The text an element shows, without its scripts and styles (innerText would also drop the text of
 * cells scrolled out of view, which JupyterLab does not lay out).
 */
const SHOWN_TEXT = `((el) => { const w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT); let t = "";
  for (let n = w.nextNode(); n; n = w.nextNode()) if (!n.parentElement.closest("script, style")) t += n.data; return t; })`;

const CHARTS = (root: string) => `[...${root}.querySelectorAll(".cbkit-chart")].map((e) => ({
  drawn: !!e.querySelector("svg.main-svg"),
  traces: e.querySelectorAll("svg.main-svg g.trace").length,
  height: Math.round(e.getBoundingClientRect().height),
  note: e.querySelector(".cbkit-chart-note") ? ${SHOWN_TEXT}(e.querySelector(".cbkit-chart-note")).trim() : "",
}))`;

/** Text of outputs that shows a chart's JSON or script instead of the chart. */
const RAW_CHART_TEXT = (d: FrontEndDriver) => `[...${d.root}.querySelectorAll(${JSON.stringify(d.outputs)})]
  .map((o) => ${SHOWN_TEXT}(o)).filter((t) => /newPlot\\(|"layout"\\s*:|"data"\\s*:\\s*\\[\\{|window\\.Plotly/.test(t)).map((t) => t.slice(0, 200))`;

const DIAGRAMS = (d: FrontEndDriver) => `[...${d.root}.querySelectorAll(${JSON.stringify(d.markdownImages)})]
  .map((i) => ({ src: i.getAttribute("src").slice(0, 60), loaded: i.complete && i.naturalWidth > 0 }))`;

/** Takes a screenshot of the whole notebook (the viewport grown to the notebook's height) and of each chart. */
async function screenshots(page: Page, d: FrontEndDriver, dir: string, name: string): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const charts = (await page.evaluateHandle(`[...${d.root}.querySelectorAll(".cbkit-chart")]`).then((h) => h.getProperties()).then((m) => [...m.values()].map((v) => v.asElement()).filter((e) => e !== null)));
  for (let i = 0; i < charts.length; i++) {
    const file = path.join(dir, `${name}-chart-${i + 1}.png`);
    await charts[i].scrollIntoViewIfNeeded();
    await charts[i].screenshot({ path: file });
    files.push(file);
  }
  // The notebook scrolls inside an element: back to its top, and the window grown to its height.
  const height = (await page.evaluate(`(() => { const all = [...document.querySelectorAll("*")];
    all.forEach((e) => { if (e.scrollTop) e.scrollTop = 0; }); return Math.max(...all.map((e) => e.scrollHeight)); })()`)) as number;
  await page.setViewportSize({ width: 1280, height: Math.min(Math.max(900, height + 200), 16_000) });
  await sleep(1000);
  const full = path.join(dir, `${name}.png`);
  await page.screenshot({ path: full });
  await page.setViewportSize({ width: 1280, height: 900 });
  return [full, ...files];
}

/**
 * Runs a notebook of the server's root (`rel`, e.g. "notebooks/0_setup_and_data.ipynb") top to
 * bottom in the page, saves it and returns what was seen.
 */
export async function runNotebook(
  context: BrowserContext,
  server: JupyterServer,
  rel: string,
  options: { shotDir: string; timeoutMs?: number },
): Promise<NotebookRun> {
  const d = DRIVERS[server.frontEnd];
  const page = await openNotebook(context, server, rel);
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(String(e.message ?? e)));
  try {
    await page.evaluate(instrument(d));
    const started = Date.now();
    // Run All, as the menu does (without waiting here for the command's promise).
    await page.evaluate(`(() => { Promise.resolve(${d.runAll}).catch(() => undefined); return true; })()`);
    // Done: every code cell ran (has a count), none is queued or running, and the kernel is idle.
    const done = `(() => { const c = ${d.cells}; return c.pending === 0 && c.unexecuted === 0 && ${d.ready}; })()`;
    await page.waitForFunction(done, undefined, { timeout: options.timeoutMs ?? 600_000, polling: 250 });
    const seconds = (Date.now() - started) / 1000;
    // Let the last outputs render and the charts draw (the library may still be on its way).
    await page.waitForFunction(`[...${d.root}.querySelectorAll(".cbkit-chart")].every((e) => e.querySelector("svg.main-svg") || ${SHOWN_TEXT}(e).trim())`, undefined, { timeout: 30_000, polling: 250 }).catch(() => undefined);
    await sleep(1500);
    const rec = (await page.evaluate(`(() => { const r = window.__cbkitRun; return { longTasks: r.longTasks, states: r.states, idleWhileRunning: r.idleWhileRunning,
      chartLoadMs: r.firstChart === null || r.firstDrawn === null ? null : Math.round(r.firstDrawn - r.firstChart),
      libraryLoadMs: window.__cbkitPlotly && window.__cbkitPlotly.loadMs !== undefined ? window.__cbkitPlotly.loadMs : null,
      library: performance.getEntriesByType("resource").filter((e) => /plotly/.test(e.name)).map((e) => Math.round(e.duration)) }; })()`)) as {
      longTasks: number[];
      states: string[];
      idleWhileRunning: NotebookRun["idleWhileRunning"];
      chartLoadMs: number | null;
      libraryLoadMs: number | null;
      library: number[];
    };
    const charts = (await page.evaluate(CHARTS(d.root))) as ChartState[];
    const diagrams = (await page.evaluate(DIAGRAMS(d))) as NotebookRun["diagrams"];
    const rawChartText = (await page.evaluate(RAW_CHART_TEXT(d))) as string[];
    const name = path.basename(rel, ".ipynb");
    const shots = await screenshots(page, d, options.shotDir, name);
    await page.evaluate(d.save);
    const savedFile = path.join(server.root, rel);
    await sleep(500);
    return {
      frontEnd: server.frontEnd,
      notebook: name,
      seconds,
      indicatorStates: rec.states,
      idleWhileRunning: rec.idleWhileRunning,
      charts,
      diagrams,
      rawChartText,
      pageErrors,
      longTasksMs: [...rec.longTasks].sort((a, b) => b - a),
      chartLoadMs: rec.chartLoadMs,
      libraryLoadMs: rec.libraryLoadMs,
      libraryFetchMs: rec.library[0] ?? null,
      savedFile,
      savedBytes: fs.statSync(savedFile).size,
      screenshots: shots,
    };
  } finally {
    await page.close();
    await server.stopKernels();
  }
}

/**
 * Opens a copy of a saved notebook with one metadata field changed, so Jupyter no longer trusts it
 * (its signature does not match), as when the notebook comes from someone else; returns what each
 * chart shows. The copy is written beside the saved file as `<name>-received.ipynb`.
 */
export async function openUntrusted(
  context: BrowserContext,
  server: JupyterServer,
  rel: string,
  options: { shotDir: string; expectedCharts: number },
): Promise<{ charts: ChartState[]; notes: number; screenshots: string[] }> {
  const saved = path.join(server.root, rel);
  const nb = JSON.parse(fs.readFileSync(saved, "utf8")) as { metadata: Record<string, unknown> };
  nb.metadata.cbkit_received = true;
  const copyRel = rel.replace(/\.ipynb$/, "-received.ipynb");
  fs.writeFileSync(path.join(server.root, copyRel), JSON.stringify(nb, null, 1) + "\n");
  const page = await openNotebook(context, server, copyRel, { until: "opened" });
  const d = DRIVERS[server.frontEnd];
  // Jupyter's sanitizer may drop the chart element's class: count the notes by their text too.
  const notes = `[...${d.root}.querySelectorAll(${JSON.stringify(d.outputs)})]
    .reduce((n, o) => n + (${SHOWN_TEXT}(o).match(/Not drawn here/g) || []).length, 0)`;
  try {
    // The outputs render a moment after the notebook opens.
    await page.waitForFunction(`${notes} + ${d.root}.querySelectorAll(".cbkit-chart svg.main-svg").length >= ${options.expectedCharts}`, undefined, { timeout: 30_000, polling: 250 }).catch(() => undefined);
    await sleep(500);
    const charts = (await page.evaluate(CHARTS(d.root))) as ChartState[];
    const shots = await screenshots(page, d, options.shotDir, path.basename(copyRel, ".ipynb"));
    return { charts, notes: (await page.evaluate(notes)) as number, screenshots: shots };
  } finally {
    await page.close();
    await server.stopKernels();
  }
}
