/**
 * Plotly charts that work offline without carrying plotly.js in the notebook.
 *
 * The library is plotly.js's basic build (scatter, bar and pie traces; `plotly.js-basic-dist-min`,
 * 1.1 MB): the full build (`plotly.js-dist`, 4.9 MB minified) takes 2–3 s to start in the browser
 * and freezes the page meanwhile, the basic one about 0.4 s, and the kit draws only scatter and bar.
 *
 * Where the library comes from:
 * - In the kit's `cbkit` kernel, the kernel copies the bundle into its own kernelspec folder once
 *   (scripts/kernel-launcher.js says where that is), and every Jupyter front end — JupyterLab 4,
 *   Notebook 7 and the classic Notebook — serves a kernelspec's files at
 *   `<base url>kernelspecs/<kernel>/<file>`, whichever folder Jupyter was started in. Each chart's
 *   output holds only its data and a small loader that adds that script to the page once.
 * - Elsewhere (another kernel, or a kernelspec folder the kernel cannot write) the bundle is
 *   inlined into the notebook once per kernel, as a fallback.
 *
 * Each chart's element starts with a short note naming the chart; the loader replaces it with the
 * chart. Where no script runs (a notebook opened without trust, a static view) the note stays, so a
 * chart never shows as an empty box.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { PlotlyFigure } from "./figures";
import { escapeHtml, kernelDisplay } from "./kernel";

export interface ChartOptions {
  /** Height in pixels (default 420). */
  height?: number;
}

/** The npm package of the plotly.js build the kit ships. */
export const PLOTLY_PACKAGE = "plotly.js-basic-dist-min";
/** Trace types that build draws (a trace without `type` is a scatter). */
export const CHART_TRACE_TYPES: readonly string[] = ["scatter", "bar", "pie"];

let bundle: { version: string; code: string } | undefined;
/** servedPlotly's answer per kernelspec folder (null: not possible there). */
const served = new Map<string, { url: string } | null>();
let libraryShown = false;
let chartCount = 0;

/** The plotly.js bundle shipped in node_modules (read once). */
export function plotlyBundle(): { version: string; code: string; file: string } {
  const file = require.resolve(PLOTLY_PACKAGE);
  if (!bundle) {
    const code = fs.readFileSync(file, "utf8").replace(/<\/script/gi, "<\\/script");
    const version = (/plotly\.js .*?v(\d+\.\d+\.\d+)/.exec(code.slice(0, 200)) ?? ["", "unknown"])[1];
    bundle = { version, code };
  }
  return { ...bundle, file };
}

/**
 * The kernelspec folder of the running kernel (the cbkit launcher exports it), or undefined
 * outside the kit's kernel.
 */
function kernelspecDir(): string | undefined {
  const dir = process.env.CBKIT_KERNELSPEC_DIR;
  return dir && fs.existsSync(path.join(dir, "kernel.json")) ? dir : undefined;
}

/**
 * Puts plotly.js into the running kernel's kernelspec folder (once per version) and returns the
 * path the Jupyter server serves it at, relative to the server's base URL; undefined when that is
 * not possible here (then the bundle is inlined).
 */
export function servedPlotly(): { url: string } | undefined {
  const dir = kernelspecDir();
  if (!dir) return undefined;
  if (served.has(dir)) return served.get(dir) ?? undefined;
  served.set(dir, null);
  const { file, version } = plotlyBundle();
  const name = `plotly-basic-${version}.min.js`;
  const target = path.join(dir, name);
  try {
    if (!fs.existsSync(target) || fs.statSync(target).size !== fs.statSync(file).size) {
      // Copy, then rename: a page may be fetching the file while another kernel writes it.
      const partial = `${target}.${process.pid}.partial`;
      fs.copyFileSync(file, partial);
      fs.renameSync(partial, target);
    }
  } catch {
    return undefined;
  }
  const url = { url: `kernelspecs/${encodeURIComponent(path.basename(dir))}/${name}` };
  served.set(dir, url);
  return url;
}

/** JSON for embedding in a script: `<` escaped so no string can close the script element. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x ?? null).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

const NOTE_STYLE = "font-family:sans-serif;font-size:13px;color:#555;border:1px dashed #bbb;padding:12px;margin:4px 0";

/** What a chart's element shows until plotly.js draws it (and instead of it, where no script runs). */
function chartNote(figure: PlotlyFigure): string {
  const title = (figure.layout as { title?: string | { text?: string } } | undefined)?.title;
  const text = typeof title === "string" ? title : title?.text;
  const traces = figure.data.map((t) => (t as { name?: string }).name).filter((n): n is string => Boolean(n));
  return (
    `<div class="cbkit-chart-note" style="${NOTE_STYLE}">` +
    `<b>Chart${text ? `: ${escapeHtml(text)}` : ""}</b>${traces.length ? ` (${escapeHtml(traces.join(", "))})` : ""}<br>` +
    "Not drawn here: Jupyter runs a chart's script only in a notebook it trusts. Run this cell " +
    "again (or use Trust Notebook) to draw it.</div>"
  );
}

/**
 * The page-side loader, run by every chart's script (and, with no chart, by showPlotlyLibrary to
 * start loading early): draws at once when window.Plotly is there; otherwise queues the chart and,
 * the first time on the page, adds the library's script from the Jupyter server (`src`, relative
 * to the base URL). With `src` null the library comes inline (plotlyLibraryHtml), which flushes
 * the queue itself.
 */
const LOADER = `function (id, figure, src, height) {
  var L = (window.__cbkitPlotly = window.__cbkitPlotly || { waiting: [] });
  var el = id && document.getElementById(id);
  var note = function (text) {
    el.innerHTML = '<div class="cbkit-chart-note" style="${NOTE_STYLE}"></div>';
    el.firstChild.textContent = text;
  };
  var draw = function () {
    el.innerHTML = "";
    el.style.height = height + "px";
    window.Plotly.newPlot(el, figure.data, figure.layout, figure.config);
  };
  if (window.Plotly) return el && draw();
  if (L.error) return el && note(L.error);
  if (el) {
    L.waiting.push({ draw: draw, note: note });
    note("Loading the chart library…");
  }
  if (L.script) return;
  if (!src) {
    if (el) setTimeout(function () {
      if (!window.Plotly) note("plotly.js is not loaded on this page (the output that held it was cleared): run showPlotlyLibrary(true) from @cbkit/common in a cell, then re-run this one.");
    }, 3000);
    return;
  }
  var fail = function (why) {
    L.error = why;
    L.waiting.splice(0).forEach(function (w) { w.note(why); });
  };
  var config = document.getElementById("jupyter-config-data");
  var base = document.body.getAttribute("data-base-url");
  try { if (config) base = JSON.parse(config.textContent).baseUrl; } catch (e) { base = null; }
  if (!base) return fail("This chart draws inside Jupyter, which serves its chart library (plotly.js); this page is not a Jupyter page.");
  var s = document.createElement("script");
  s.src = base.replace(/\\/?$/, "/") + src;
  s.setAttribute("data-cbkit", "plotly-library");
  var started = performance.now();
  s.onload = function () {
    if (!window.Plotly) return fail("The chart library at " + s.src + " did not define Plotly.");
    // How long fetching and starting the library took (the browser tests read it).
    L.loadMs = Math.round(performance.now() - started);
    L.waiting.splice(0).forEach(function (w) { w.draw(); });
  };
  s.onerror = function () {
    fail("The chart library could not be loaded from " + s.src + ": run \`npm run install-kernel\` in the kit's folder, restart the kernel and run this cell again.");
  };
  L.script = s;
  document.head.appendChild(s);
}`;

/** A script that runs the loader with these arguments. */
function loaderScript(id: string | null, spec: object | null, height: number): string {
  return `<script type="text/javascript">\n(${LOADER})(${scriptJson(id)}, ${scriptJson(spec)}, ${scriptJson(servedPlotly()?.url ?? null)}, ${height});\n</script>`;
}

/** Refuses trace types the shipped plotly.js build cannot draw (they would show an empty chart). */
function checkTraceTypes(figure: PlotlyFigure): void {
  figure.data.forEach((trace, i) => {
    const type = (trace as { type?: string }).type ?? "scatter";
    if (!CHART_TRACE_TYPES.includes(type)) {
      throw new Error(
        `chart trace ${i} has type "${type}", which the kit's plotly.js build (${PLOTLY_PACKAGE}) does not draw; ` +
          `use one of: ${CHART_TRACE_TYPES.join(", ")}`,
      );
    }
  });
}

/**
 * The HTML of one chart: an element holding a note (see chartNote) and a script that draws the
 * figure into it with plotly.js, loading the library first when the page does not have it yet.
 */
export function plotlyHtml(figure: PlotlyFigure, options: ChartOptions = {}): string {
  checkTraceTypes(figure);
  const id = `cbkit-chart-${process.pid}-${Date.now().toString(36)}-${chartCount++}`;
  const height = options.height ?? 420;
  const config = { responsive: true, displaylogo: false, ...(figure.config ?? {}) };
  const spec = { data: figure.data, layout: figure.layout ?? {}, config };
  return (
    // The element takes the chart's height when the chart is drawn; until then it holds the note.
    `<div id="${escapeHtml(id)}" class="cbkit-chart" style="width:100%">${chartNote(figure)}</div>\n` + loaderScript(id, spec, height)
  );
}

/**
 * A `<script>` element holding the whole plotly.js bundle (the fallback when the kernel cannot
 * serve it). Loading it twice on one page is harmless (the second copy is skipped); charts waiting
 * for it are drawn when it has run.
 */
export function plotlyLibraryHtml(): string {
  const { version, code } = plotlyBundle();
  return (
    `<!-- plotly.js v${version}, inlined from node_modules/${PLOTLY_PACKAGE} by the bandit kit (works offline) -->\n` +
    `<script type="text/javascript" data-cbkit="plotly-library">\n` +
    `if (!window.Plotly) {\n${code}\n}\n` +
    `((window.__cbkitPlotly || {}).waiting || []).splice(0).forEach(function (w) { w.draw(); });\n` +
    `</script>`
  );
}

/**
 * Makes the chart library available to the notebook's page, once per kernel (`force`: again, and
 * say where it comes from). In the cbkit kernel this starts loading it from the Jupyter server, so
 * it is ready when the first chart comes (the charts would load it themselves); elsewhere it
 * inlines the bundle.
 */
export function showPlotlyLibrary(force = false): void {
  const d = kernelDisplay();
  if (!d || (libraryShown && !force)) return;
  if (servedPlotly()) {
    const { version } = plotlyBundle();
    const where = `Charts: plotly.js ${escapeHtml(version)} (basic build), served by Jupyter from the kernel's folder; nothing is fetched from the internet.`;
    d.html((force ? `<div class="cbkit-chart-library" style="font-family:sans-serif;font-size:12px;color:#666">${where}</div>` : "") + loaderScript(null, null, 0));
  } else {
    d.html(plotlyLibraryHtml());
  }
  libraryShown = true;
}

/** Shows a plotly chart in the notebook (outside a kernel, prints a one-line note instead). */
export function showChart(data: object[], layout: object = {}, options: ChartOptions & { config?: object } = {}): void {
  const d = kernelDisplay();
  if (!d) {
    checkTraceTypes({ data });
    const title = (layout as { title?: string | { text?: string } }).title;
    const t = typeof title === "string" ? title : title?.text;
    console.log(`[chart${t ? `: ${t}` : ""} — ${data.length} trace(s); shown in a notebook]`);
    return;
  }
  // Served: the chart loads the library itself. Inline: the library must be on the page first.
  if (!servedPlotly()) showPlotlyLibrary();
  d.html(plotlyHtml({ data, layout, config: options.config }, options));
}

/** Shows a figure built by the helpers of figures.ts (or any `{ data, layout }`). */
export function showFigure(figure: PlotlyFigure, options: ChartOptions = {}): void {
  showChart(figure.data, figure.layout ?? {}, { ...options, config: figure.config });
}
