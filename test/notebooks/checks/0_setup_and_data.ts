/** What notebook 0 must show. */
import assert from "node:assert/strict";
import type { ExecutedNotebook } from "../harness";

export default function check(nb: ExecutedNotebook): void {
  // The config is shown: the settings table with the original's keys, and no warnings.
  const configHtml = nb.htmlOutputs("config").join("\n");
  for (const key of ["algor.algorithms_parameters.exploration_policy", "algor.algorithms_parameters.cfa_type", "local_mode", "soft_deployment", "workflow.deploy_gate"]) {
    assert.ok(configHtml.includes(key), `config table shows ${key}`);
  }
  // Only what the reader needs on the first page: no SageMaker, IAM or table keys.
  for (const key of ["resource.", "iam_role", "sagemaker.", "image"]) assert.ok(!configHtml.includes(`>${key}`), `config table leaves out ${key}`);
  assert.match(nb.outputsText("config"), /config OK, no warnings/);
  assert.match(nb.outputsText("config"), /local mode/);

  // The data summary.
  assert.match(nb.outputsText("data"), /users \(rows kept\): 43,483/);
  assert.match(nb.outputsText("data"), /dropped by the 0\.05 % filter: 6, 7/);

  // The danfojs class table: 7 classes, 5 of them kept.
  const table = nb.htmlOutputs("class-table").join("\n");
  assert.match(table, /<table class="cbkit-table">/);
  const rows = [...table.matchAll(/<tr><th>\d+<\/th>(.*?)<\/tr>/g)].map((m) => [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]));
  assert.equal(rows.length, 7, "one row per class");
  const kept = rows.filter((r) => r[r.length - 1] === "true").map((r) => Number(r[0]));
  assert.deepEqual(kept, [1, 2, 3, 4, 5], "the 5 remaining classes");
  assert.deepEqual(rows.map((r) => Number(r[3])), [34108, 37, 132, 6748, 2458, 0, 0], "rows after the filter");

  // The plotly chart: the library served by Jupyter from the kernel's folder (not in the notebook,
  // no CDN), the chart's data with a small loader, and a note where no script runs.
  const allHtml = nb.htmlOutputs();
  assert.match(nb.htmlOutputs("imports").join(""), /class="cbkit-chart-library"[^>]*>Charts: plotly\.js \d+\.\d+\.\d+ \(basic build\), served by Jupyter/);
  assert.deepEqual(allHtml.filter((h) => h.includes('data-cbkit="plotly-library"')), [], "plotly.js is not inlined");
  assert.ok(allHtml.every((h) => h.length < 50_000), `every output is small (largest ${Math.max(...allHtml.map((h) => h.length))} characters)`);
  for (const h of allHtml) {
    assert.doesNotMatch(h, /<script[^>]*\bsrc\s*=\s*["']?https?:/i, "no script loaded from the network");
  }
  const chart = nb.htmlOutputs("class-chart").join("\n");
  assert.match(chart, /Plotly\.newPlot\(/);
  assert.match(chart, /"kernelspecs\/cbkit\/plotly-basic-\d+\.\d+\.\d+\.min\.js"/, "loaded from the cbkit kernelspec");
  assert.match(chart, /<b>Chart: Class frequencies \(log scale\)<\/b>/, "the note names the chart");

  // The reward rule: its source, and one user's reward for each of the 7 actions (a single 1).
  assert.match(nb.outputsText("reward-rule"), /rewardOf\(userId, action\)[\s\S]*=== action \? 1 : 0/);
  const rewardRows = [...nb.htmlOutputs("reward-rule").join("").matchAll(/<tr><td[^>]*>(\d)<\/td><td[^>]*>(\d)<\/td><\/tr>/g)];
  assert.equal(rewardRows.length, 7, "a reward per action");
  assert.equal(rewardRows.filter((m) => m[2] === "1").length, 1, "exactly one action pays");

  // The glossary and the exercises are there.
  const md = nb.cells.filter((c) => c.cell_type === "markdown").map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n");
  for (const term of ["**policy**", "**pmf**", "**IPS**", "**SNIPS**", "**DM**", "**DR**", "**hot swap**", "**blue/green**", "**split value**", "## Try this"]) assert.ok(md.includes(term), `notebook 0 explains ${term}`);

  // Baselines.
  const baselines = nb.htmlOutputs("baselines").join("\n");
  assert.match(baselines, /oracle/);
  assert.match(baselines, /0\.7844/);

  // Warm start: uniform random logging costs about 6/7.
  const cost = Number(/historical \(uniform random\) cost on 100 records: ([\d.]+)/.exec(nb.outputsText("warm-start"))?.[1]);
  assert.ok(cost > 0.7 && cost < 0.98, `warm-start cost ${cost}`);
}
