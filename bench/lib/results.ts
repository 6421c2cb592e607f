/**
 * A bench's figures: each printed next to its baseline from the same run (VW, a bare Node.js
 * server, an earlier commit) and its target, and saved to bench-output/<bench>.json, which
 * `npm run bench` (run-all.ts) gathers into bench-output/results.json for
 * scripts/bench-tables.js to write the README's and docs' measured tables from.
 *
 * A target applies to the ratio figure / baseline when there is a baseline, to the figure itself
 * only where none exists. A missed target sets the process's exit code to 1, so the bench — and
 * `npm run bench` — fails instead of printing MISSED and exiting 0.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findProjectRoot } from "@cbkit/common/config";

export type Comparison = ">=" | "<=" | "<" | ">" | "==";

export interface Target {
  op: Comparison;
  value: number;
  /** What the target applies to: the ratio figure / baseline, or the figure itself. */
  on: "ratio" | "value";
}

export interface Baseline {
  /** What the baseline is, e.g. "bare Node.js HTTP server", "VW 9.11", "commit ba40228". */
  name: string;
  value: number;
}

export interface Figure {
  /** What was measured (one table row). */
  name: string;
  value: number;
  unit: string;
  baseline?: Baseline;
  /** value / baseline.value. */
  ratio?: number;
  target?: Target;
  /** null when the figure has no target (information only). */
  ok: boolean | null;
  /** The individual runs the value is the median of, when there were several. */
  runs?: number[];
  note?: string;
}

export interface BenchOutput {
  bench: string;
  startedAt: string;
  finishedAt: string;
  /** One-minute load average at the start and at the end. */
  load: [number, number];
  cpus: number;
  figures: Figure[];
}

/** Folder of the bench results (gitignored). */
export function benchOutputDir(root: string = findProjectRoot()): string {
  return path.join(root, "bench-output");
}

export { median } from "./measure";

export function meets(x: number, t: Target): boolean {
  switch (t.op) {
    case ">=": return x >= t.value;
    case "<=": return x <= t.value;
    case "<": return x < t.value;
    case ">": return x > t.value;
    case "==": return x === t.value;
  }
}

/** "≥ 0.6× bare server" or "< 10 ms". */
export function targetText(t: Target, unit: string, baselineName?: string): string {
  const op = { ">=": "≥", "<=": "≤", "<": "<", ">": ">", "==": "=" }[t.op];
  return t.on === "ratio" ? `${op} ${t.value}× ${baselineName ?? "baseline"}` : `${op} ${formatNumber(t.value)}${unit ? ` ${unit}` : ""}`;
}

/** Numbers as a reader expects them in a table: 18,200; 4.1; 0.013. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x === 0 ? "0" : x.toPrecision(2);
}

/**
 * The figure with its ratio and verdict, as BenchResults records it; for a bench that shows the
 * verdict (e.g. in its own table) before it records the figure.
 */
export function checkFigure(f: Omit<Figure, "ok" | "ratio">): Figure {
  // A zero baseline (a 0 ms p50 rounded by the load generator) has no ratio.
  const ratio = f.baseline !== undefined && f.baseline.value !== 0 ? f.value / f.baseline.value : undefined;
  if (f.target?.on === "ratio" && f.baseline === undefined) throw new Error(`bench figure '${f.name}': a ratio target needs a baseline`);
  const ok = f.target === undefined ? null : meets(f.target.on === "ratio" ? (ratio ?? NaN) : f.value, f.target);
  return { ...f, ratio, ok };
}

export class BenchResults {
  private readonly figures: Figure[] = [];
  private readonly startedAt = new Date().toISOString();
  private readonly load0 = os.loadavg()[0];

  constructor(readonly bench: string) {}

  /** Records a figure and prints it with its baseline, ratio, target and verdict. */
  add(f: Omit<Figure, "ok" | "ratio">): Figure {
    const figure = checkFigure(f);
    const { ratio, ok: checked } = figure;
    this.figures.push(figure);
    const value = `${formatNumber(f.value)} ${f.unit}`.trim();
    const base = f.baseline ? `  vs ${f.baseline.name} ${formatNumber(f.baseline.value)} ${f.unit}${ratio === undefined ? "" : ` = ${ratio.toFixed(2)}×`}` : "";
    const target = f.target ? `  target ${targetText(f.target, f.unit, f.baseline?.name)}: ${checked ? "ok" : "MISSED"}` : "";
    console.log(`${f.name.padEnd(50)} ${value.padStart(14)}${base}${target}`);
    return figure;
  }

  get missed(): Figure[] {
    return this.figures.filter((f) => f.ok === false);
  }

  /** Writes bench-output/<bench>.json; sets exit code 1 when a target was missed. */
  save(): string {
    const out: BenchOutput = {
      bench: this.bench,
      startedAt: this.startedAt,
      finishedAt: new Date().toISOString(),
      load: [this.load0, os.loadavg()[0]],
      cpus: os.cpus().length,
      figures: this.figures,
    };
    const dir = benchOutputDir();
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${this.bench}.json`);
    fs.writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
    const missed = this.missed;
    if (missed.length > 0) {
      console.log(`${this.bench}: ${missed.length} target(s) missed: ${missed.map((f) => f.name).join("; ")}`);
      process.exitCode = 1;
    }
    return file;
  }
}
