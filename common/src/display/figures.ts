/**
 * Ready-made plotly figures and number formats for the notebooks, so a notebook cell says what it
 * shows ("the costs with their intervals") instead of spelling out a plotly spec.
 *
 * Costs are 1 - reward, so they live in [1 - max_reward, 1 - min_reward] ([0, 1] by default): an
 * interval beyond that range (a normal-approximation interval on a small split can be) is clipped
 * when shown — to the range the evaluation recorded in the score (`range`), else to [0, 1] —
 * so no chart or table promises an impossible cost.
 */
import type { ScoreView } from "../ope";

/** A plotly figure: traces, layout and config as plotly.js takes them (chart.ts draws it). */
export interface PlotlyFigure {
  data: object[];
  layout?: object;
  config?: object;
}

/**
 * A score's point and interval ends as drawn: clipped to the possible costs (the score's recorded
 * `range`, else [0, 1]); without an interval, both ends are the point.
 */
export function clipInterval(s: ScoreView): { score: number; lower: number; upper: number } {
  const [min, max] = s.range ? [s.range.lower, s.range.upper] : [0, 1];
  const clip = (x: number) => Math.min(max, Math.max(min, x));
  return { score: clip(s.value), lower: clip(s.ci?.lower ?? s.value), upper: clip(s.ci?.upper ?? s.value) };
}

/**
 * Decimals needed so that different numbers do not print the same: `minDigits` (default 3), more
 * (up to 8) while two of them still round equal.
 */
export function distinctDecimals(values: readonly number[], minDigits = 3): number {
  for (let d = minDigits; d < 8; d++) {
    const seen = new Map<string, number>();
    let clash = false;
    for (const v of values) {
      const t = (v === 0 ? 0 : v).toFixed(d).replace(/^-(0\.0*)$/, "$1");
      const other = seen.get(t);
      if (other !== undefined && other !== v) clash = true;
      seen.set(t, v);
    }
    if (!clash) return d;
  }
  return 8;
}

/** "0.0123 [0.0080, 0.0170]" with the interval clipped to the possible costs. */
export function formatScore(s: ScoreView, decimals = 3): string {
  const c = clipInterval(s);
  return s.ci ? `${c.score.toFixed(decimals)} [${c.lower.toFixed(decimals)}, ${c.upper.toFixed(decimals)}]` : c.score.toFixed(decimals);
}

/**
 * A signed difference with at least `minDecimals` decimals, and more (up to 8) until a non-zero
 * difference shows a non-zero digit: "+0.050", "-0.0004", never "-0.000".
 */
export function formatDifference(diff: number, minDecimals = 3): string {
  let d = minDecimals;
  while (d < 8 && diff !== 0 && Math.abs(diff) < 0.5 * 10 ** -d) d++;
  return `${diff > 0 ? "+" : diff < 0 ? "-" : ""}${Math.abs(diff).toFixed(d)}`;
}

/**
 * Challenger against champion in words, with enough digits that the two costs differ when they
 * do, and their difference: "0.0123 vs 0.0127 (difference -0.0004)".
 */
export function compareCosts(challenger: number, champion: number): string {
  const d = distinctDecimals([challenger, champion]);
  return `${challenger.toFixed(d)} vs ${champion.toFixed(d)} (difference ${formatDifference(challenger - champion, d)})`;
}

/** Bars, one group per series (a single series for one colour per bar). */
export function barFigure(
  labels: readonly string[],
  series: readonly { name?: string; values: readonly number[]; colors?: readonly string[]; text?: readonly string[] }[],
  options: { title: string; yTitle: string; logY?: boolean; yRange?: [number, number] },
): PlotlyFigure {
  return {
    data: series.map((s) => ({
      type: "bar",
      name: s.name,
      x: [...labels],
      y: [...s.values],
      ...(s.colors ? { marker: { color: [...s.colors] } } : {}),
      // Labels above the bars may reach past the axis range: draw them anyway (never clipped).
      ...(s.text ? { text: [...s.text], textposition: "outside", cliponaxis: false } : {}),
    })),
    layout: {
      title: { text: options.title },
      barmode: "group",
      showlegend: series.length > 1,
      legend: { orientation: "h" },
      // A log axis labels each power of ten only: plotly's 2 and 5 between them overlap at this height.
      yaxis: { title: { text: options.yTitle }, ...(options.logY ? { type: "log", dtick: 1 } : {}), ...(options.yRange ? { range: options.yRange } : {}) },
    },
  };
}

/** Estimated costs as points with their (clipped) intervals; a row without interval is a point. */
export function costFigure(rows: readonly ({ label: string; color?: string } & ScoreView)[], title: string): PlotlyFigure {
  const c = rows.map((r) => clipInterval(r));
  return {
    data: [
      {
        type: "scatter",
        mode: "markers+text",
        x: rows.map((r) => r.label),
        y: c.map((r) => r.score),
        text: rows.map((r) => r.value.toFixed(distinctDecimals(rows.map((x) => x.value)))),
        textposition: "middle right",
        marker: { size: 14, color: rows.map((r, i) => r.color ?? ["#5e35b1", "#8c564b", "#9e9e9e"][i % 3]) },
        error_y: { type: "data", symmetric: false, array: c.map((r) => r.upper - r.score), arrayminus: c.map((r) => r.score - r.lower) },
      },
    ],
    layout: {
      title: { text: title },
      yaxis: { title: { text: "average cost (1 - reward), lower is better" }, range: [0, 1.05] },
      xaxis: { type: "category" },
    },
  };
}

/** The probability of each action in one decision; the chosen action in green. */
export function pmfFigure(pmf: readonly number[], chosenAction: number): PlotlyFigure {
  return barFigure(
    pmf.map((_, a) => `action ${a + 1}`),
    [{ values: pmf, colors: pmf.map((_, a) => (a + 1 === chosenAction ? "#2e7d32" : "#90a4ae")), text: pmf.map((p) => p.toPrecision(3)) }],
    { title: "The distribution the action was drawn from (chosen action in green)", yTitle: "probability", yRange: [0, 1.15] },
  );
}

/** One line per series over 1-based steps (e.g. mean reward per loop by exploration policy). */
export function linesFigure(
  series: readonly { name: string; y: readonly number[] }[],
  options: { title: string; xTitle: string; yTitle: string; yRange?: [number, number] },
): PlotlyFigure {
  return {
    data: series.map((s) => ({ type: "scatter", mode: "lines+markers", name: s.name, x: s.y.map((_, i) => i + 1), y: [...s.y] })),
    layout: {
      title: { text: options.title },
      xaxis: { title: { text: options.xTitle }, dtick: 1 },
      yaxis: { title: { text: options.yTitle }, ...(options.yRange ? { range: options.yRange } : {}) },
    },
  };
}
