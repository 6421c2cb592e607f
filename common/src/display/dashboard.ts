/**
 * Live dashboards for the workshop notebooks, redrawn in place with tslab `newDisplay()`:
 *
 * - `LoopDashboard`: the end-to-end loop — rolling mean reward against the oracle and the
 *   majority baseline, per-loop challenger/champion scores with intervals, deploy decisions.
 * - `InferenceMonitor`: requests per second, errors, latency and which model served each request
 *   while a blue/green deployment happens.
 *
 * Both keep their numbers in plain fields (for tests and summaries) and only render through the
 * chart helpers of this folder (plotly.js served locally, no CDN). Outside a kernel they print short text.
 */
import { costOfReward } from "../data/rewards";
import type { ScoreView } from "../ope";
import { plotlyHtml, showChart, showPlotlyLibrary } from "./chart";
import { escapeHtml, inKernel, liveDisplay, type LiveDisplay } from "./kernel";
import { clipInterval, compareCosts, distinctDecimals, formatDifference, formatScore, type PlotlyFigure } from "./figures";
import { tableHtml } from "./table";

/** Rolling mean over `window` values; the first `window - 1` entries are null (as in the original plot). */
export function rollingMean(values: readonly number[], window = 100): (number | null)[] {
  if (!(Number.isInteger(window) && window >= 1)) throw new RangeError(`window must be an integer >= 1, got ${window}`);
  const out: (number | null)[] = new Array(values.length).fill(null);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= window) sum -= values[i - window];
    if (i >= window - 1) out[i] = sum / window;
  }
  return out;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const COLORS = { bandit: "#1f77b4", oracle: "#2ca02c", majority: "#ff7f0e", challenger: "#9467bd", champion: "#8c564b", deploy: "#2e7d32", keep: "#c62828", observed: "#7f7f7f" };

// ------------------------------------------------------------------------------------------------
// The end-to-end loop

/** One loop of the end-to-end workflow. */
export interface LoopResult {
  /** 1-based loop number. */
  loop: number;
  /** The reward of every interaction of the loop, in order. */
  rewards: readonly number[];
  /** Off-policy score of the newly trained model (average cost, smaller is better): an `OpeEstimate`, or its value and interval. */
  challenger?: ScoreView | null;
  /** Score of the model that served the loop, on the same data. */
  champion?: ScoreView | null;
  /** Whether the challenger was deployed after this loop. */
  deployed: boolean;
  /** The model that served the loop's requests. */
  servedModelId?: string;
  /** The model trained after the loop. */
  trainedModelId?: string;
  /** Wall time of the loop in seconds. */
  seconds?: number;
}

export interface LoopDashboardOptions {
  title?: string;
  /** Number of loops planned (for the header). */
  totalLoops?: number;
  /** Interactions per loop (x-axis marks). */
  batchSize?: number;
  /** Rolling-mean window (default 100). */
  window?: number;
  /** Mean reward of the oracle (default 1). */
  oracleReward?: number;
  /** Mean reward of always choosing the majority class. */
  majorityReward?: number;
  /** Chart height in pixels (default 380 for rewards, 300 for scores). */
  height?: number;
}

/** Figure: rolling mean reward vs. oracle and majority, with deploy / not-deployed markers per loop. */
export function rewardChartFigure(loops: readonly LoopResult[], options: LoopDashboardOptions = {}): PlotlyFigure {
  const rewards = loops.flatMap((l) => l.rewards);
  const window = options.window ?? 100;
  const x = rewards.map((_, i) => i + 1);
  const oracle = options.oracleReward ?? 1;
  const data: object[] = [
    { type: "scatter", mode: "lines", name: `bandit (rolling mean, window ${window})`, x, y: rollingMean(rewards, window), line: { color: COLORS.bandit, width: 3 } },
    { type: "scatter", mode: "lines", name: `oracle (${oracle.toFixed(2)})`, x: [1, Math.max(2, rewards.length)], y: [oracle, oracle], line: { color: COLORS.oracle, dash: "dash", width: 2 } },
  ];
  if (options.majorityReward !== undefined) {
    const m = options.majorityReward;
    data.push({ type: "scatter", mode: "lines", name: `always class 1 (${m.toFixed(3)})`, x: [1, Math.max(2, rewards.length)], y: [m, m], line: { color: COLORS.majority, dash: "dot", width: 2 } });
  }
  // Markers at the end of each loop: was the model trained on it deployed?
  let end = 0;
  const ends = loops.map((l) => (end += l.rewards.length));
  const markers = (deployed: boolean) => {
    const ls = loops.map((l, i) => ({ l, x: ends[i] })).filter((p) => p.l.deployed === deployed);
    return {
      type: "scatter",
      mode: "markers",
      name: deployed ? "new model deployed" : "not deployed (champion kept)",
      x: ls.map((p) => p.x),
      y: ls.map(() => 1.07),
      marker: { symbol: deployed ? "triangle-down" : "x", size: 11, color: deployed ? COLORS.deploy : COLORS.keep },
      text: ls.map((p) => `loop ${p.l.loop}: ${deployed ? "deployed" : "not deployed"}${p.l.trainedModelId ? `<br>${p.l.trainedModelId}` : ""}`),
      hoverinfo: "text",
    };
  };
  data.push(markers(true), markers(false));
  const shapes = ends.map((xe, i) => ({
    type: "line",
    x0: xe,
    x1: xe,
    y0: 0,
    y1: 1.04,
    line: { color: loops[i].deployed ? COLORS.deploy : COLORS.keep, width: 1, dash: loops[i].deployed ? "solid" : "dot" },
    opacity: 0.35,
  }));
  const batch = options.batchSize ?? loops[0]?.rewards.length;
  return {
    data,
    layout: {
      title: { text: options.title ?? "Rolling mean reward" },
      xaxis: { title: { text: `interactions${batch ? ` (a new model may be deployed every ${batch})` : ""}` }, rangemode: "tozero" },
      yaxis: { title: { text: "rolling mean reward" }, range: [0, 1.12] },
      legend: { orientation: "h", y: -0.22 },
      margin: { t: 50, r: 20, b: 90, l: 60 },
      shapes,
    },
  };
}

/** Figure: per-loop challenger and champion scores (average cost) with their intervals. */
export function loopScoresFigure(loops: readonly LoopResult[], options: { title?: string } = {}): PlotlyFigure {
  const scored = (pick: (l: LoopResult) => ScoreView | null | undefined, name: string, color: string, offset: number) => {
    const ls = loops.filter((l) => pick(l));
    // Intervals are clipped to the possible costs [0, 1] (older scores may reach beyond).
    const c = ls.map((l) => clipInterval(pick(l)!));
    const isChallenger = name.startsWith("challenger");
    return {
      type: "scatter",
      mode: "markers",
      name,
      x: ls.map((l) => l.loop + offset),
      y: c.map((s) => s.score),
      error_y: { type: "data", symmetric: false, array: c.map((s) => s.upper - s.score), arrayminus: c.map((s) => s.score - s.lower), color, thickness: 1.5, width: 4 },
      marker: { color, size: 8, symbol: ls.map((l) => (isChallenger && l.deployed ? "circle" : isChallenger ? "circle-open" : "square")) },
      text: ls.map((l) => `loop ${l.loop}: ${formatScore(pick(l)!, 4)}${l.deployed ? " · deployed" : ""}`),
      hoverinfo: "text",
    };
  };
  const observed = {
    type: "scatter",
    mode: "lines+markers",
    name: "observed cost of the serving model",
    x: loops.map((l) => l.loop),
    y: loops.map((l) => costOfReward(mean(l.rewards))),
    line: { color: COLORS.observed, dash: "dot", width: 1.5 },
    marker: { size: 5 },
  };
  return {
    data: [scored((l) => l.challenger, "challenger (new model)", COLORS.challenger, -0.12), scored((l) => l.champion, "champion (serving model)", COLORS.champion, 0.12), observed],
    layout: {
      title: { text: options.title ?? "Counterfactual scores per loop (average cost, lower is better; bars: intervals)" },
      xaxis: { title: { text: "loop" }, dtick: 1 },
      yaxis: { title: { text: "estimated cost" }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.25 },
      margin: { t: 50, r: 20, b: 80, l: 60 },
    },
  };
}

/**
 * One row per loop: mean reward, scores (intervals clipped to [0, 1]), their difference and the
 * decision. The costs get more digits when the challenger's and the champion's would print equal.
 */
export function loopSummaryRows(loops: readonly LoopResult[]): Record<string, unknown>[] {
  return loops.map((l) => {
    const both = l.challenger && l.champion;
    const d = both ? distinctDecimals([l.challenger!.value, l.champion!.value]) : 3;
    const diff = both ? l.challenger!.value - l.champion!.value : null;
    return {
      loop: l.loop,
      mean_reward: mean(l.rewards),
      challenger_cost: l.challenger ? formatScore(l.challenger, d) : "",
      champion_cost: l.champion ? formatScore(l.champion, d) : "",
      difference: diff === null ? "" : formatDifference(diff, d),
      decision: l.deployed ? "deployed" : "kept champion",
      served_by: l.servedModelId ?? "",
      seconds: l.seconds ?? null,
    };
  });
}

/**
 * The end-to-end dashboard: `add()` a loop and it redraws in place. A status line above the charts
 * (`status()`) changes cheaply between loops without redrawing the charts.
 */
export class LoopDashboard {
  readonly loops: LoopResult[] = [];
  readonly options: LoopDashboardOptions;
  private statusDisplay: LiveDisplay | null = null;
  private chartDisplay: LiveDisplay | null = null;
  private readonly started = Date.now();
  private statusText = "starting";

  constructor(options: LoopDashboardOptions = {}) {
    this.options = options;
    if (inKernel()) {
      showPlotlyLibrary();
      this.statusDisplay = liveDisplay();
      this.chartDisplay = liveDisplay();
      this.renderStatus();
      this.chartDisplay.html(`<div class="cbkit-dashboard-waiting" style="color:#666;font-family:sans-serif">The dashboard appears after the first loop…</div>`);
    }
  }

  /** All rewards so far, in order. */
  get rewards(): number[] {
    return this.loops.flatMap((l) => l.rewards);
  }

  /** Mean reward of the given 1-based loops (inclusive range), NaN when none ran. */
  meanReward(fromLoop = 1, toLoop = Infinity): number {
    return mean(this.loops.filter((l) => l.loop >= fromLoop && l.loop <= toLoop).flatMap((l) => l.rewards));
  }

  /** Mean of the rolling-mean series (ignoring its empty start), as the original's final cell. */
  meanRollingReward(): number {
    return mean(rollingMean(this.rewards, this.options.window ?? 100).filter((v): v is number => v !== null));
  }

  get deployCount(): number {
    return this.loops.filter((l) => l.deployed).length;
  }

  /** Replaces the status line (e.g. "loop 3: training the challenger"). */
  status(text: string): void {
    this.statusText = text;
    if (this.statusDisplay) this.renderStatus();
  }

  /** Adds a finished loop and redraws the charts. */
  add(loop: LoopResult): void {
    this.loops.push({ ...loop, rewards: [...loop.rewards] });
    if (this.chartDisplay) {
      this.chartDisplay.html(this.html());
      this.renderStatus();
    } else {
      const l = this.loops[this.loops.length - 1];
      const scores = l.challenger && l.champion ? `challenger ${compareCosts(l.challenger.value, l.champion.value)}` : "not evaluated";
      console.log(`loop ${l.loop}: mean reward ${mean(l.rewards).toFixed(3)}, ${scores} -> ${l.deployed ? "deployed" : "not deployed"}`);
    }
  }

  /** The header line: progress through the loops and running numbers. */
  headerHtml(): string {
    const total = this.options.totalLoops;
    const last = this.loops[this.loops.length - 1];
    const parts = [
      `<b>${escapeHtml(this.options.title ?? "End-to-end loop")}</b>`,
      `loop ${this.loops.length}${total ? ` / ${total}` : ""}`,
      last ? `last loop mean reward <b>${mean(last.rewards).toFixed(3)}</b>` : "",
      this.loops.length ? `all loops <b>${this.meanReward().toFixed(3)}</b>` : "",
      `deployed ${this.deployCount} of ${this.loops.length}`,
      `${((Date.now() - this.started) / 1000).toFixed(1)} s`,
    ].filter(Boolean);
    return parts.join(" · ");
  }

  /** Header, both charts and the last loops' table, as one HTML block. */
  html(): string {
    const h = this.options.height ?? 380;
    const recent = loopSummaryRows(this.loops.slice(-5)).reverse();
    return (
      `<div class="cbkit-dashboard" style="font-family:sans-serif">` +
      `<div style="font-size:14px;margin:4px 0">${this.headerHtml()}</div>` +
      plotlyHtml(rewardChartFigure(this.loops, this.options), { height: h }) +
      plotlyHtml(loopScoresFigure(this.loops), { height: Math.round(h * 0.8) }) +
      `<div style="font-size:12px">${tableHtml(recent, { caption: "Latest loops", digits: 3 })}</div>` +
      `</div>`
    );
  }

  private renderStatus(): void {
    this.statusDisplay?.html(
      `<div class="cbkit-dashboard-status" style="font-family:sans-serif;font-size:13px;color:#333"><b>Status:</b> ${escapeHtml(this.statusText)} — ${this.headerHtml()}</div>`,
    );
  }

  /** Final status line (the charts keep the last loop). */
  finish(text = "done"): void {
    this.status(text);
  }

  /** Shows the final rolling-reward chart as a separate (static) output. */
  showFinalChart(title = "Rolling mean reward over the whole run"): void {
    const f = rewardChartFigure(this.loops, { ...this.options, title });
    showChart(f.data, f.layout, { height: 460 });
  }
}

// ------------------------------------------------------------------------------------------------
// The inference loop

export interface InferenceSummary {
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  /** Requests served per model id, in order of first appearance. */
  byModel: { modelId: string; requests: number; firstAt: number; lastAt: number }[];
  /** How often consecutive responses switched model id. */
  switches: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Error messages seen (first few, with counts). */
  errorKinds: { message: string; count: number }[];
  events: { at: number; label: string }[];
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/**
 * Counts requests, errors and serving model ids over time, and redraws a small dashboard in
 * place at most every `refreshMs` (default 500 ms): numbers, a per-second stacked bar chart by
 * model id with event markers (e.g. the deployment), and a per-model table.
 */
export class InferenceMonitor {
  /** The clock starts with the first request or event (showing the dashboard itself takes a moment). */
  private started = 0;
  private requests = 0;
  private errors = 0;
  private readonly perSecond: Map<string, number>[] = [];
  private readonly errorsPerSecond: number[] = [];
  private readonly models = new Map<string, { requests: number; firstAt: number; lastAt: number }>();
  private readonly latencies: number[] = [];
  private readonly errorKinds = new Map<string, number>();
  private readonly events: { at: number; label: string }[] = [];
  private lastModel: string | null = null;
  private switches = 0;
  private lastDraw = 0;
  private readonly display: LiveDisplay | null;
  private finished = false;

  constructor(private readonly options: { title?: string; refreshMs?: number; height?: number } = {}) {
    if (inKernel()) {
      showPlotlyLibrary();
      this.display = liveDisplay();
      this.display.html(`<div style="font-family:sans-serif;color:#666">waiting for the first request…</div>`);
    } else {
      this.display = null;
    }
  }

  /** Seconds since the first request or event (0 before). */
  get elapsed(): number {
    return this.started === 0 ? 0 : (Date.now() - this.started) / 1000;
  }

  /** Starts the clock now (done automatically by the first request or event). */
  start(): void {
    if (this.started === 0) this.started = Date.now();
  }

  private second(): number {
    this.start();
    const s = Math.floor(this.elapsed);
    while (this.perSecond.length <= s) {
      this.perSecond.push(new Map());
      this.errorsPerSecond.push(0);
    }
    return s;
  }

  /** One answered request: which model served it and how long it took. */
  success(modelId: string, latencyMs: number): void {
    const s = this.second();
    this.requests++;
    const bucket = this.perSecond[s];
    bucket.set(modelId, (bucket.get(modelId) ?? 0) + 1);
    const m = this.models.get(modelId);
    if (m) {
      m.requests++;
      m.lastAt = this.elapsed;
    } else {
      this.models.set(modelId, { requests: 1, firstAt: this.elapsed, lastAt: this.elapsed });
    }
    if (this.lastModel !== null && this.lastModel !== modelId) this.switches++;
    this.lastModel = modelId;
    if (this.latencies.length < 1_000_000) this.latencies.push(latencyMs);
    this.maybeRender();
  }

  /** One failed request. */
  failure(err: unknown): void {
    const s = this.second();
    this.requests++;
    this.errors++;
    this.errorsPerSecond[s]++;
    const msg = String((err as Error)?.message ?? err).slice(0, 200);
    this.errorKinds.set(msg, (this.errorKinds.get(msg) ?? 0) + 1);
    this.maybeRender();
  }

  /** Marks a moment on the chart (e.g. "deploy started"). */
  event(label: string): void {
    this.start();
    this.events.push({ at: this.elapsed, label });
    this.render();
  }

  summary(): InferenceSummary {
    const seconds = this.elapsed;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      requests: this.requests,
      errors: this.errors,
      seconds,
      requestsPerSecond: seconds > 0 ? this.requests / seconds : 0,
      byModel: [...this.models.entries()].map(([modelId, m]) => ({ modelId, ...m })),
      switches: this.switches,
      latencyMs: { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] ?? NaN },
      errorKinds: [...this.errorKinds.entries()].map(([message, count]) => ({ message, count })),
      events: [...this.events],
    };
  }

  /** Final redraw; returns the summary. */
  finish(): InferenceSummary {
    this.finished = true;
    this.render();
    return this.summary();
  }

  private maybeRender(): void {
    if (Date.now() - this.lastDraw >= (this.options.refreshMs ?? 500)) this.render();
  }

  /** Redraws now (in a kernel) or prints a one-line status (outside). */
  render(): void {
    this.lastDraw = Date.now();
    if (!this.display) {
      if (this.finished) console.log(this.statusLine());
      return;
    }
    this.display.html(this.html());
  }

  private currentRate(): number {
    // Requests of the last complete second (the current one is still filling).
    const s = Math.floor(this.elapsed);
    const b = s >= 1 ? this.perSecond[s - 1] : this.perSecond[0];
    return b ? [...b.values()].reduce((a, c) => a + c, 0) + (this.errorsPerSecond[s >= 1 ? s - 1 : 0] ?? 0) : 0;
  }

  statusLine(): string {
    const s = this.summary();
    return (
      `${s.requests} requests in ${s.seconds.toFixed(1)} s (${s.requestsPerSecond.toFixed(0)}/s), ${s.errors} errors, ` +
      `models: ${s.byModel.map((m) => `${m.modelId} ${m.requests}`).join(", ")}; p50 ${s.latencyMs.p50.toFixed(2)} ms, p99 ${s.latencyMs.p99.toFixed(2)} ms`
    );
  }

  /** Figure: requests per second, stacked by serving model id, errors in red, events as lines. */
  figure(): PlotlyFigure {
    const ids = [...this.models.keys()];
    const x = this.perSecond.map((_, i) => i);
    const palette = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22"];
    const data: object[] = ids.map((id, k) => ({
      type: "bar",
      name: `model …${id.slice(-12)}`,
      x,
      y: this.perSecond.map((b) => b.get(id) ?? 0),
      marker: { color: palette[k % palette.length] },
      hovertext: id,
    }));
    data.push({ type: "bar", name: "errors", x, y: this.errorsPerSecond, marker: { color: "#d62728" } });
    const shapes = this.events.map((e) => ({ type: "line", x0: e.at - 0.5, x1: e.at - 0.5, yref: "paper", y0: 0, y1: 1, line: { color: "#444", dash: "dash", width: 1.5 } }));
    // Labels alternate sides (a "starts"/"done" pair reads left and right of its lines).
    const annotations = this.events.map((e, i) => ({ x: e.at - 0.5, yref: "paper", y: 1.02, yanchor: "bottom", text: escapeHtml(e.label), showarrow: false, xanchor: i % 2 === 0 ? "right" : "left", font: { size: 11 }, bgcolor: "rgba(255,255,255,0.85)" }));
    return {
      data,
      layout: {
        title: { text: this.options.title ?? "Requests per second by serving model" },
        barmode: "stack",
        bargap: 0.05,
        xaxis: { title: { text: "seconds since start" } },
        yaxis: { title: { text: "requests / s" }, rangemode: "tozero" },
        legend: { orientation: "h", y: -0.25, traceorder: "normal" },
        margin: { t: 70, r: 20, b: 80, l: 60 },
        shapes,
        annotations,
      },
    };
  }

  html(): string {
    const s = this.summary();
    const stat = (label: string, value: string, color = "#222") =>
      `<div style="padding:4px 12px;border:1px solid #ddd;border-radius:6px;min-width:7em"><div style="font-size:11px;color:#666">${escapeHtml(label)}</div><div style="font-size:20px;font-weight:600;color:${color}">${escapeHtml(value)}</div></div>`;
    const models = s.byModel.map((m) => ({ model_id: m.modelId, requests: m.requests, first_seen_s: +m.firstAt.toFixed(1), last_seen_s: +m.lastAt.toFixed(1) }));
    return (
      `<div class="cbkit-inference-monitor" style="font-family:sans-serif">` +
      `<div style="display:flex;gap:8px;flex-wrap:wrap;margin:4px 0">` +
      stat(this.finished ? "state" : "running for", this.finished ? "finished" : `${s.seconds.toFixed(0)} s`) +
      stat("requests", s.requests.toLocaleString("en-US")) +
      stat("requests / s (last second)", this.currentRate().toFixed(0)) +
      stat("average requests / s", s.requestsPerSecond.toFixed(0)) +
      stat("errors", String(s.errors), s.errors === 0 ? "#2e7d32" : "#c62828") +
      stat("model switches", String(s.switches)) +
      stat("latency p50 / p99", `${s.latencyMs.p50.toFixed(1)} / ${s.latencyMs.p99.toFixed(1)} ms`) +
      `</div>` +
      plotlyHtml(this.figure(), { height: this.options.height ?? 340 }) +
      `<div style="font-size:12px">${tableHtml(models, { caption: "Requests served per model id" })}</div>` +
      (s.errorKinds.length ? `<div style="font-size:12px">${tableHtml(s.errorKinds, { caption: "Errors" })}</div>` : "") +
      `</div>`
    );
  }
}
