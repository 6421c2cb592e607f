/** Tables: estimates as plain text (CLIs and logs), and the estimator registry as Markdown (docs/ope.md). */
import { ESTIMATORS, ESTIMATOR_NAMES, DEFAULT_ESTIMATOR } from "./estimators";
import type { EstimatorName } from "./estimators";
import type { OpeEstimate } from "./score";

function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n.a.";
}

/**
 * One line per estimate: value (average cost, smaller is better), the primary interval and the
 * normal one, n, effective sample size, and a note for biased estimators and for estimates
 * clipped to the possible range of costs.
 */
export function formatEstimateTable(results: Partial<Record<EstimatorName, OpeEstimate>> | readonly OpeEstimate[]): string {
  const list: OpeEstimate[] = Array.isArray(results)
    ? [...(results as readonly OpeEstimate[])]
    : ESTIMATOR_NAMES.map((e) => (results as Partial<Record<EstimatorName, OpeEstimate>>)[e]).filter((x): x is OpeEstimate => x !== undefined);
  const head = ["estimator", "cost", "ci (primary)", "normal ci", "n", "ess", "note"];
  const body = list.map((r) => {
    const level = Math.round(r.confidence * 100);
    return [
      r.estimator,
      fmt(r.value),
      `[${fmt(r.ci.lower)}, ${fmt(r.ci.upper)}] ${level}% ${r.ci.method}`,
      `[${fmt(r.normalCi.lower)}, ${fmt(r.normalCi.upper)}]`,
      String(r.n),
      fmt(r.effectiveSampleSize, 1),
      [
        r.biased ? "biased (reward model only)" : "",
        r.clipped.length > 0 && r.range ? `clipped to [${fmt(r.range.lower)}, ${fmt(r.range.upper)}]` : "",
        r.warnings.length > 0 ? `see warning${r.warnings.length > 1 ? "s" : ""}` : "",
      ].filter(Boolean).join("; "),
    ];
  });
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((row) => row[j].length)));
  const line = (cells: string[]) => cells.map((c, j) => (j === 0 || j >= 6 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  ").trimEnd();
  // Estimators share the weights, so their warnings repeat: print each text once.
  const warnings = [...new Set(list.flatMap((r) => r.warnings))];
  return (
    [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n") +
    "\ncost = 1 − reward (smaller is better)\n" +
    warnings.map((w) => `warning: ${w}\n`).join("")
  );
}

/** The shape comparePolicies returns (declared here to keep this module free of evaluate.ts). */
interface ComparisonLike {
  target: Partial<Record<EstimatorName, OpeEstimate>>;
  baseline: Partial<Record<EstimatorName, OpeEstimate>>;
  difference: Partial<Record<EstimatorName, OpeEstimate>>;
}

/**
 * One line per estimator of a comparePolicies result: each policy's cost, the paired difference
 * target − baseline with its primary interval, and the verdict at that interval's confidence.
 */
export function formatComparisonTable(c: ComparisonLike, names: { target?: string; baseline?: string } = {}): string {
  const t = names.target ?? "target";
  const b = names.baseline ?? "baseline";
  const head = ["estimator", `${t} cost`, `${b} cost`, `difference ${t} − ${b}`, "verdict"];
  const body = ESTIMATOR_NAMES.filter((e) => c.difference[e] && c.target[e] && c.baseline[e]).map((e) => {
    const d = c.difference[e] as OpeEstimate;
    const level = Math.round(d.confidence * 100);
    const verdict = !(Number.isFinite(d.ci.lower) && Number.isFinite(d.ci.upper))
      ? "n.a."
      : d.ci.upper < 0
        ? `${t} is better`
        : d.ci.lower > 0
          ? `${b} is better`
          : "no clear difference";
    return [
      e,
      fmt((c.target[e] as OpeEstimate).value),
      fmt((c.baseline[e] as OpeEstimate).value),
      `${d.value >= 0 ? "+" : ""}${fmt(d.value)} [${fmt(d.ci.lower)}, ${fmt(d.ci.upper)}] ${level}%`,
      verdict + (d.biased ? " (biased estimator)" : "") + (d.clipped.length > 0 ? " (clipped to the possible range)" : ""),
    ];
  });
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((row) => row[j].length)));
  const line = (cells: string[]) => cells.map((x, j) => (j === 0 || j === 4 ? x.padEnd(widths[j]) : x.padStart(widths[j]))).join("  ").trimEnd();
  const warnings = [...new Set(ESTIMATOR_NAMES.flatMap((e) => c.difference[e]?.warnings ?? []))];
  return (
    [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n") +
    "\ncost = 1 − reward (smaller is better); a negative difference favours " + t + "\n" +
    warnings.map((w) => `warning: ${w}\n`).join("")
  );
}

/**
 * The estimator registry as a Markdown table, in table order: name, estimate, what it is, whether
 * it is biased, whether it needs a cost model, and its intervals. docs/ope.md holds it between its
 * estimators markers (regenerate: node scripts/ope-estimators-table.js).
 */
export function estimatorsMarkdownTable(): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const lines = [
    "| name | estimate (means over the n logged rows) | what it is | notes | biased | cost model | intervals (primary first) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const e of ESTIMATORS) {
    const name = e === DEFAULT_ESTIMATOR ? `\`${e.name}\` (**default**)` : `\`${e.name}\``;
    const biased = e.biased ? `**yes**: ${esc(e.warning ?? "biased by construction")}` : "no";
    lines.push(`| ${name} | ${esc(e.formula)} | ${esc(e.title)} | ${esc(e.description)} | ${biased} | ${e.needsCostModel ? "yes" : "no"} | ${e.intervals.join(", ")} |`);
  }
  return lines.join("\n");
}

const TABLE_START = "<!-- estimators:start (generated from ope/estimators.ts by scripts/ope-estimators-table.js) -->";
const TABLE_END = "<!-- estimators:end -->";

/** A document (docs/ope.md) with the text between its estimators markers replaced by the current table. */
export function withEstimatorsTable(doc: string): string {
  const a = doc.indexOf(TABLE_START);
  const b = doc.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error(`no estimators table markers (${TABLE_START} ... ${TABLE_END})`);
  return doc.slice(0, a + TABLE_START.length) + "\n" + estimatorsMarkdownTable() + "\n" + doc.slice(b);
}
