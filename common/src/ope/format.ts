/** A plain-text table of estimates, for CLIs and logs. */
import { ESTIMATOR_NAMES } from "./types";
import type { EstimatorName, OpeEstimate } from "./types";

function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n.a.";
}

/**
 * One line per estimate: value (average cost, smaller is better), the primary interval and the
 * normal one, n, effective sample size, and a note for biased estimators.
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
      [r.biased ? "biased (reward model only)" : "", r.warnings.length > 0 ? `see warning${r.warnings.length > 1 ? "s" : ""}` : ""].filter(Boolean).join("; "),
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
