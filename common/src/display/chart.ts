/**
 * Plotly charts that work offline: the plotly.js bundle from node_modules/plotly.js-dist-min is inlined
 * into the notebook output once per kernel (no CDN), and every chart draws itself with it. This
 * renders in JupyterLab, the classic Notebook and nbconvert's HTML export.
 */
import * as fs from "node:fs";
import type { PlotlyFigure } from "./figures";
import { escapeHtml, kernelDisplay } from "./kernel";

export interface ChartOptions {
  /** Height in pixels (default 420). */
  height?: number;
}

const MISSING_LIBRARY_NOTE =
  '<p style="color:#a33">plotly.js is not loaded on this page (the output that held it was cleared or re-run): ' +
  "run <code>showPlotlyLibrary(true)</code> from @cbkit/common in a cell, then re-run this one.</p>";

let bundle: { version: string; code: string } | undefined;
let libraryShown = false;
let chartCount = 0;

/** The plotly.js bundle shipped in node_modules (read once). */
export function plotlyBundle(): { version: string; code: string; file: string } {
  const file = require.resolve("plotly.js-dist-min");
  if (!bundle) {
    const code = fs.readFileSync(file, "utf8").replace(/<\/script/gi, "<\\/script");
    const version = (/plotly\.js v(\d+\.\d+\.\d+)/.exec(code.slice(0, 200)) ?? ["", "unknown"])[1];
    bundle = { version, code };
  }
  return { ...bundle, file };
}

/**
 * A `<script>` element holding the whole plotly.js bundle. Loading it twice on one page is harmless
 * (the second copy is skipped); charts waiting for it are drawn when it has run.
 */
export function plotlyLibraryHtml(): string {
  const { version, code } = plotlyBundle();
  return (
    `<!-- plotly.js v${version}, inlined from node_modules/plotly.js-dist-min by the bandit kit (works offline) -->\n` +
    `<script type="text/javascript" data-cbkit="plotly-library">\n` +
    `if (!window.Plotly) {\n${code}\n}\n` +
    `(window.__cbkitPlotlyQueue || []).splice(0).forEach(function (draw) { draw(); });\n` +
    `</script>`
  );
}

/** JSON for embedding in a script: `<` escaped so no string can close the script element. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x ?? null).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * The HTML of one chart (a div and a script that draws it with window.Plotly). It does not contain
 * the library: show `plotlyLibraryHtml()` once before (showChart does that for you).
 */
export function plotlyHtml(figure: PlotlyFigure, options: ChartOptions = {}): string {
  const id = `cbkit-chart-${process.pid}-${Date.now().toString(36)}-${chartCount++}`;
  const height = options.height ?? 420;
  const config = { responsive: true, displaylogo: false, ...(figure.config ?? {}) };
  return (
    `<div id="${escapeHtml(id)}" class="cbkit-chart" style="width:100%;height:${height}px"></div>\n` +
    `<script type="text/javascript">\n(function () {\n` +
    `  var draw = function () { window.Plotly.newPlot(${scriptJson(id)}, ${scriptJson(figure.data)}, ${scriptJson(figure.layout ?? {})}, ${scriptJson(config)}); };\n` +
    `  if (window.Plotly) { draw(); return; }\n` +
    `  (window.__cbkitPlotlyQueue = window.__cbkitPlotlyQueue || []).push(draw);\n` +
    // Say so instead of staying blank when the output holding the library is gone.
    `  setTimeout(function () { var el = document.getElementById(${scriptJson(id)}); if (!window.Plotly && el && !el.hasChildNodes()) el.innerHTML = ${scriptJson(MISSING_LIBRARY_NOTE)}; }, 3000);\n` +
    `})();\n</script>`
  );
}

/**
 * Inlines plotly.js into the notebook, once per kernel; `force` inlines it again. The library
 * lives in the output of the cell that first showed it: a notebook that calls
 * `showPlotlyLibrary(true)` in its set-up cell keeps it there even when chart cells are re-run.
 */
export function showPlotlyLibrary(force = false): void {
  const d = kernelDisplay();
  if (!d || (libraryShown && !force)) return;
  d.html(plotlyLibraryHtml());
  libraryShown = true;
}

/** Shows a plotly chart in the notebook (outside a kernel, prints a one-line note instead). */
export function showChart(data: object[], layout: object = {}, options: ChartOptions & { config?: object } = {}): void {
  const d = kernelDisplay();
  if (!d) {
    const title = (layout as { title?: string | { text?: string } }).title;
    const t = typeof title === "string" ? title : title?.text;
    console.log(`[chart${t ? `: ${t}` : ""} — ${data.length} trace(s); shown in a notebook]`);
    return;
  }
  showPlotlyLibrary();
  d.html(plotlyHtml({ data, layout, config: options.config }, options));
}

/** Shows a figure built by the helpers of figures.ts (or any `{ data, layout }`). */
export function showFigure(figure: PlotlyFigure, options: ChartOptions = {}): void {
  showChart(figure.data, figure.layout ?? {}, { ...options, config: figure.config });
}
