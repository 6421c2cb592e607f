/**
 * Tables for notebooks: an array of row objects or a danfojs DataFrame rendered as an HTML table
 * (a plain text table outside a kernel). danfojs is recognised by shape, not imported, so using a
 * table does not load TensorFlow.
 */
import { escapeHtml, kernelDisplay } from "./kernel";

/** What a danfojs DataFrame offers that we need. */
export interface DataFrameLike {
  columns: string[];
  /** Rows of cells (a Series would give a flat array; it is shown as one column). */
  values: readonly unknown[];
  index?: readonly (string | number)[];
}

/** Row objects (keys become columns, in first-seen order) or a danfojs DataFrame. */
export type TableInput = readonly object[] | DataFrameLike;

export interface TableOptions {
  /** Shown above the table. */
  caption?: string;
  /** Significant digits of non-integer numbers (default 4). */
  digits?: number;
  /** Rows beyond this are elided with a note (default 50). */
  maxRows?: number;
  /** Show the DataFrame index / row numbers (default: true for DataFrames, false for rows). */
  showIndex?: boolean;
}

function isDataFrame(x: unknown): x is DataFrameLike {
  return typeof x === "object" && x !== null && !Array.isArray(x) && Array.isArray((x as DataFrameLike).columns) && Array.isArray((x as DataFrameLike).values);
}

/** Normalises rows or a DataFrame to columns + cell values + index. */
export function tableData(input: TableInput): { columns: string[]; rows: unknown[][]; index: (string | number)[] } {
  if (isDataFrame(input)) {
    const rows = input.values.map((r) => (Array.isArray(r) ? r : [r]));
    return { columns: input.columns.map(String), rows, index: input.index ? [...input.index] : rows.map((_, i) => i) };
  }
  const objects = input as readonly Record<string, unknown>[];
  const columns: string[] = [];
  for (const r of objects) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  return { columns, rows: objects.map((r) => columns.map((c) => r[c])), index: objects.map((_, i) => i) };
}

/** Below this magnitude a number is floating-point rounding noise and shows as 0. */
export const TINY = 1e-12;

/** A cell as text: numbers with `digits` significant digits (|v| < TINY as 0), objects as JSON. */
export function formatCell(v: unknown, digits = 4): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    // Rounding noise (a constant column's std of 1.39e-16) reads as a real value: show 0.
    if (a < TINY) return "0";
    return a !== 0 && (a < 1e-4 || a >= 1e9) ? v.toExponential(digits - 1) : String(Number(v.toPrecision(digits)));
  }
  if (typeof v === "string") return v;
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

/** The HTML of a table (class "cbkit-table"). */
export function tableHtml(input: TableInput, options: TableOptions = {}): string {
  const { columns, rows, index } = tableData(input);
  const digits = options.digits ?? 4;
  const maxRows = options.maxRows ?? 50;
  const showIndex = options.showIndex ?? isDataFrame(input);
  const shown = rows.slice(0, maxRows);
  const th = (s: string, right = false) => `<th style="text-align:${right ? "right" : "left"}">${escapeHtml(s)}</th>`;
  const numeric = columns.map((_, j) => shown.length > 0 && shown.every((r) => typeof r[j] === "number" || r[j] == null));
  const head = `<tr>${showIndex ? "<th></th>" : ""}${columns.map((c, j) => th(c, numeric[j])).join("")}</tr>`;
  const body = shown
    .map(
      (r, i) =>
        `<tr>${showIndex ? `<th>${escapeHtml(String(index[i]))}</th>` : ""}${r
          .map((v, j) => `<td style="text-align:${numeric[j] ? "right" : "left"}">${escapeHtml(formatCell(v, digits))}</td>`)
          .join("")}</tr>`,
    )
    .join("\n");
  const more = rows.length > shown.length ? `<p><i>${rows.length - shown.length} more rows not shown (${rows.length} in all)</i></p>` : "";
  const caption = options.caption ? `<caption style="caption-side:top;text-align:left;font-weight:bold">${escapeHtml(options.caption)}</caption>` : "";
  return `<table class="cbkit-table">${caption}<thead>${head}</thead><tbody>\n${body}\n</tbody></table>${more}`;
}

/** A fixed-width text rendering of a table (for logs and outside a kernel). */
export function tableText(input: TableInput, options: TableOptions = {}): string {
  const { columns, rows } = tableData(input);
  const digits = options.digits ?? 4;
  const shown = rows.slice(0, options.maxRows ?? 50).map((r) => r.map((v) => formatCell(v, digits)));
  const widths = columns.map((c, j) => Math.max(c.length, ...shown.map((r) => r[j].length)));
  const line = (cells: string[]) => cells.map((c, j) => c.padEnd(widths[j])).join("  ").trimEnd();
  const out = [line(columns), line(widths.map((w) => "-".repeat(w))), ...shown.map(line)];
  if (options.caption) out.unshift(options.caption);
  if (rows.length > shown.length) out.push(`... ${rows.length - shown.length} more rows`);
  return out.join("\n");
}

/** Shows rows or a danfojs DataFrame as an HTML table in the notebook (text outside a kernel). */
export function showTable(input: TableInput, options: TableOptions = {}): void {
  const d = kernelDisplay();
  if (d) d.html(tableHtml(input, options));
  else console.log(tableText(input, options));
}
