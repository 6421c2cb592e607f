/** The notebook display helpers, outside a kernel (the notebook tests cover them inside one). */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CHART_TRACE_TYPES, formatCell, inKernel, PLOTLY_PACKAGE, plotlyBundle, plotlyHtml, plotlyLibraryHtml, servedPlotly, showChart, tableHtml, tableText } from "@cbkit/common/display";

test("outside a kernel nothing loads tslab and the helpers fall back to text", () => {
  assert.equal(inKernel(), false);
});

test("tables from rows and from a DataFrame-shaped object, escaped and formatted", () => {
  const rows = [{ name: "<b>x</b>", value: 0.123456789, n: 3 }, { name: "y", value: 1e-7, extra: true }];
  const html = tableHtml(rows, { caption: "T & U" });
  assert.match(html, /<caption[^>]*>T &amp; U<\/caption>/);
  assert.match(html, /&lt;b&gt;x&lt;\/b&gt;/, "cells are escaped");
  assert.match(html, />0\.1235</);
  assert.match(html, />1\.000e-7</);
  assert.match(html, /<th style="text-align:left">extra<\/th>/, "columns from all rows");
  const df = { columns: ["a", "b"], values: [[1, "p"], [2, "q"]], index: ["r1", "r2"] };
  const dfHtml = tableHtml(df);
  assert.match(dfHtml, /<tr><th>r1<\/th><td[^>]*>1<\/td><td[^>]*>p<\/td><\/tr>/);
  assert.equal(tableText(df), "a  b\n-  -\n1  p\n2  q");
  const many = Array.from({ length: 60 }, (_, i) => ({ i }));
  assert.match(tableHtml(many, { maxRows: 10 }), /50 more rows not shown \(60 in all\)/);
  assert.equal(formatCell(null), "");
  assert.equal(formatCell([1, 2]), "[1,2]");
});

test("plotly: the basic bundle comes from node_modules, and chart data cannot close the script", () => {
  const b = plotlyBundle();
  assert.match(b.file, /node_modules[\\/]plotly\.js-basic-dist-min[\\/]plotly-basic\.min\.js$/);
  assert.equal(PLOTLY_PACKAGE, "plotly.js-basic-dist-min");
  assert.match(b.version, /^\d+\.\d+\.\d+$/);
  assert.ok(b.code.length < 2_000_000, `the basic build is small (${b.code.length} characters)`);
  const lib = plotlyLibraryHtml();
  assert.equal((lib.match(/<\/script/gi) ?? []).length, 1, "only the closing tag");
  assert.doesNotMatch(lib, /<script[^>]*\bsrc\s*=/i, "no script loaded from elsewhere");
  const html = plotlyHtml({ data: [{ type: "bar", x: ["</script><script>alert(1)</script>"], y: [1] }], layout: { title: { text: "t" } } });
  assert.equal((html.match(/<\/script/gi) ?? []).length, 1);
  assert.match(html, /Plotly\.newPlot\(/);
  const other = plotlyHtml({ data: [] });
  assert.notEqual(/id="([^"]+)"/.exec(html)?.[1], /id="([^"]+)"/.exec(other)?.[1], "unique chart ids");
});

test("a chart shows a note naming it until plotly.js draws it (and where no script runs)", () => {
  const html = plotlyHtml({ data: [{ type: "scatter", name: "a <b>", y: [1] }, { type: "bar", name: "b", y: [2] }], layout: { title: { text: "Costs & rewards" } } });
  const note = /<div class="cbkit-chart-note"[^>]*>(.*?)<\/div>/.exec(html)?.[1] ?? "";
  assert.match(note, /<b>Chart: Costs &amp; rewards<\/b> \(a &lt;b&gt;, b\)/, "title and trace names, escaped");
  assert.match(note, /Not drawn here: Jupyter runs a chart's script only in a notebook it trusts/);
  assert.doesNotMatch(html, /[\u{1F300}-\u{1FAFF}\u2600-\u27BF]/u, "no emoji (an empty box without emoji fonts)");
});

test("trace types the shipped build cannot draw are refused with the types it can", () => {
  assert.deepEqual([...CHART_TRACE_TYPES], ["scatter", "bar", "pie"]);
  assert.throws(() => plotlyHtml({ data: [{ y: [1] }, { type: "heatmap", z: [[1]] }] }), /chart trace 1 has type "heatmap", which the kit's plotly\.js build \(plotly\.js-basic-dist-min\) does not draw; use one of: scatter, bar, pie/);
  assert.throws(() => showChart([{ type: "surface" }]), /type "surface"/, "outside a kernel too");
});

test("outside the cbkit kernel nothing is served; in it, plotly.js is copied into the kernelspec once and named by version", () => {
  const saved = process.env.CBKIT_KERNELSPEC_DIR;
  const spec = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-spec-"));
  try {
    delete process.env.CBKIT_KERNELSPEC_DIR;
    assert.equal(servedPlotly(), undefined);
    process.env.CBKIT_KERNELSPEC_DIR = spec;
    assert.equal(servedPlotly(), undefined, "a folder without kernel.json is not a kernelspec");
    fs.writeFileSync(path.join(spec, "kernel.json"), "{}");
    const other = fs.mkdtempSync(path.join(spec, "cbkit-"));
    fs.writeFileSync(path.join(other, "kernel.json"), "{}");
    process.env.CBKIT_KERNELSPEC_DIR = other;
    const served = servedPlotly();
    const name = `plotly-basic-${plotlyBundle().version}.min.js`;
    assert.deepEqual(served, { url: `kernelspecs/${path.basename(other)}/${name}` });
    assert.ok(fs.readFileSync(path.join(other, name)).equals(fs.readFileSync(plotlyBundle().file)), "the bundle, byte for byte");
    assert.deepEqual(fs.readdirSync(other).sort(), ["kernel.json", name], "no partial file left");
    assert.match(plotlyHtml({ data: [] }), new RegExp(`"kernelspecs/${path.basename(other)}/${name.replace(/\./g, "\\.")}"`), "charts load it from there");
  } finally {
    if (saved === undefined) delete process.env.CBKIT_KERNELSPEC_DIR;
    else process.env.CBKIT_KERNELSPEC_DIR = saved;
    fs.rmSync(spec, { recursive: true, force: true });
  }
});
