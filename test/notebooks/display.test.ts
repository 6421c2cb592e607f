/** The notebook display helpers, outside a kernel (the notebook tests cover them inside one). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatCell, inKernel, plotlyBundle, plotlyHtml, plotlyLibraryHtml, tableHtml, tableText } from "@cbkit/common/display";

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

test("plotly: the bundle comes from node_modules, and chart data cannot close the script", () => {
  const b = plotlyBundle();
  assert.match(b.file, /node_modules[\\/]plotly\.js-dist-min[\\/]plotly\.min\.js$/);
  assert.match(b.version, /^\d+\.\d+\.\d+$/);
  const lib = plotlyLibraryHtml();
  assert.equal((lib.match(/<\/script/gi) ?? []).length, 1, "only the closing tag");
  assert.doesNotMatch(lib, /<script[^>]*\bsrc\s*=/i, "no script loaded from elsewhere");
  const html = plotlyHtml({ data: [{ type: "bar", x: ["</script><script>alert(1)</script>"], y: [1] }], layout: { title: { text: "t" } } });
  assert.equal((html.match(/<\/script/gi) ?? []).length, 1);
  assert.match(html, /Plotly\.newPlot\(/);
  const other = plotlyHtml({ data: [] });
  assert.notEqual(/id="([^"]+)"/.exec(html)?.[1], /id="([^"]+)"/.exec(other)?.[1], "unique chart ids");
});
