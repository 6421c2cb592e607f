/**
 * The self-contained HTML report of a workshop run: plotly.js is read from node_modules and
 * inlined (no CDN, opens offline). Charts: rolling mean reward (window 100) against the oracle and
 * the majority baseline; per-loop estimated costs of challenger and champion with their intervals
 * and the deploy decisions; then the loop table.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { distinctDecimals, type Config, type OpeEstimate } from "@cbkit/common";
import { resolveWorkspaceDir } from "@cbkit/common/config";
import { clipInterval, escapeHtml as esc, plotlyBundle, rollingMean } from "@cbkit/common/display";
import { registerExperimentFile } from "@cbkit/common/experiment";
import type { WorkshopResult } from "./run";

const f4 = (x: number) => x.toFixed(4);

/** The JSON of a value, safe inside a <script> element. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, "\\u003c");
}

/** The report as one self-contained HTML page (plotly.js inlined from node_modules, no CDN). */
export function renderReport(result: WorkshopResult): string {
  const window = 100;
  const rolling = rollingMean(result.rewards, window);
  const x = rolling.map((_, i) => i + 1);
  const loops = result.loops.map((r) => r.loop);
  const rewardTraces = [
    { x, y: rolling, name: `bandit (rolling mean, window ${window})`, type: "scatter", mode: "lines", line: { width: 3 } },
    { x: [1, x.length], y: [result.oracleReward, result.oracleReward], name: "oracle", type: "scatter", mode: "lines", line: { dash: "dash" } },
    { x: [1, x.length], y: [result.majorityReward, result.majorityReward], name: "always the majority class", type: "scatter", mode: "lines", line: { dash: "dot" } },
  ];
  // Intervals clipped to the possible costs (the score's range, [0, 1] by default).
  const err = (rows: OpeEstimate[]) => ({
    type: "data",
    symmetric: false,
    array: rows.map((r) => clipInterval(r).upper - r.value),
    arrayminus: rows.map((r) => r.value - clipInterval(r).lower),
  });
  /** "score [lower, upper]" clipped, with digits enough to tell the two models apart. */
  const cost = (r: OpeEstimate, other: number) => {
    const d = Math.max(4, distinctDecimals([r.value, other]));
    const c = clipInterval(r);
    return `${c.score.toFixed(d)} [${c.lower.toFixed(d)}, ${c.upper.toFixed(d)}]`;
  };
  const challenger = result.loops.map((r) => r.challenger);
  const champion = result.loops.map((r) => r.champion);
  const deployedLoops = result.loops.filter((r) => r.deployed);
  const scoreTraces = [
    { x: loops.map((l) => l - 0.1), y: champion.map((s) => s.value), error_y: err(champion), name: "champion (hosted)", type: "scatter", mode: "markers" },
    { x: loops.map((l) => l + 0.1), y: challenger.map((s) => s.value), error_y: err(challenger), name: "challenger (new)", type: "scatter", mode: "markers" },
    {
      x: deployedLoops.map((r) => r.loop + 0.1),
      y: deployedLoops.map((r) => r.challenger.value),
      name: "deployed",
      type: "scatter",
      mode: "markers",
      marker: { symbol: "star", size: 14, color: "green" },
    },
  ];
  const rows = result.loops
    .map(
      (r) =>
        `<tr><td>${r.loop}</td><td>${f4(r.meanReward)}</td><td>${r.joined.train}/${r.joined.eval}</td>` +
        `<td>${cost(r.champion, r.challenger.value)}</td>` +
        `<td>${cost(r.challenger, r.champion.value)}</td>` +
        `<td>${r.deployed ? "yes" : "no"}</td><td>${esc(r.hostedModelId)}</td><td>${r.seconds.toFixed(2)}</td></tr>`,
    )
    .join("\n");
  const total = result.rewards.reduce((s, v) => s + v, 0) / Math.max(1, result.rewards.length);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Workshop report ${esc(result.experimentId)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}</style>
<script>${plotlyBundle().code}</script></head>
<body>
<h1>Contextual-bandit workshop: ${esc(result.experimentId)}</h1>
<p>Seed ${result.seed}; ${result.loops.length} loops of ${result.loops.length ? result.rewards.length / result.loops.length : 0} interactions through the endpoint (${result.requestBatch === 1 ? "one request per user" : `up to ${result.requestBatch} decisions per request`});
deploy gate <b>${esc(result.gate)}</b>${result.gate === "ci" ? " (deploy only when the challenger's upper confidence bound is below the champion's estimated cost)" : ""},
both models scored on ${result.gateOn === "holdout" ? "the holdout (every eval split so far)" : "the newest eval split"};
run time ${result.seconds.toFixed(1)} s.</p>
<p>Mean reward in the loops ${f4(total)}; oracle ${f4(result.oracleReward)}; always the majority class ${f4(result.majorityReward)};
uniform random ${f4(result.randomReward)}. Warm-start data cost (1 − mean reward) ${f4(result.baselineCost)};
first model's estimated cost ${cost(result.first, result.first.value)}.</p>
<h2>Rolling mean reward</h2><div id="rewards" style="height:480px"></div>
<h2>Estimated cost per loop (smaller is better, with confidence intervals)</h2><div id="scores" style="height:420px"></div>
<h2>Loops</h2>
<table><tr><th>loop</th><th>mean reward</th><th>joined train/eval</th><th>champion cost [CI]</th><th>challenger cost [CI]</th><th>deployed</th><th>hosted model</th><th>seconds</th></tr>
${rows}
</table>
<script>
Plotly.newPlot("rewards", ${scriptJson(rewardTraces)}, {xaxis:{title:{text:"Interactions (a new model may be deployed after every batch)"}},yaxis:{title:{text:"Rolling mean reward"},range:[0,1.05]},legend:{orientation:"h",x:0,y:1.12},margin:{t:60}}, {responsive:true});
Plotly.newPlot("scores", ${scriptJson(scoreTraces)}, {xaxis:{title:{text:"Loop"},dtick:1},yaxis:{title:{text:"Estimated average cost"}},legend:{orientation:"h",x:0,y:1.12},margin:{t:60}}, {responsive:true});
</script>
</body></html>
`;
}

export function writeReport(result: WorkshopResult, file: string): string {
  const target = path.resolve(file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, renderReport(result));
  return target;
}

/** Where npm start writes the report of an experiment by default: `<workspace>/reports/<experiment>.html`. */
export function defaultReportFile(config: Pick<Config, "workspace" | "dir">, experimentId: string): string {
  return path.join(resolveWorkspaceDir(config), "reports", `${experimentId}.html`);
}

/**
 * Writes the report to `file`, or to the default file; the default file is registered with the
 * experiment, so `cleanResource({ deleteData: true })` (notebook 4) removes it with the experiment's
 * data. A file the user chose is theirs to keep.
 */
export function writeWorkshopReport(result: WorkshopResult, config: Pick<Config, "workspace" | "dir">, file?: string): string {
  const target = writeReport(result, file ?? defaultReportFile(config, result.experimentId));
  if (file === undefined) registerExperimentFile(config, result.experimentId, target);
  return target;
}
