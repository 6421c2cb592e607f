/**
 * Vowpal Wabbit's text format for contextual-bandit examples, so data can be checked against VW:
 *
 *   action:cost:probability | 1:v1 2:v2 ...      a logged decision (--cb / --cb_explore)
 *   | 1:v1 2:v2 ...                              an unlabelled example (prediction only)
 *   e action:cost:probability | ...              --cb --eval input: e is the evaluated action
 *
 * Vector features are named 1..d; named features keep their names. A feature without `:value`
 * has value 1. Namespaces other than the default are read as `namespace^feature`.
 */
import * as fs from "node:fs";
import { numberAt, parseNumber, parsedEnd } from "./bytes";
import { ColumnBuilder, recordAt } from "./columns";
import { LineParser, RowReport, lineChunks, parseLines } from "./lines";
import { DataFileError, JoinedRecord, ReadOptions, joinedRecordProblem, joinedRowProblem } from "./records";
import { costOfReward, rewardOfCost } from "./rewards";

export interface VwLabel {
  action: number;
  cost: number;
  probability: number;
}

export interface VwExample {
  label: VwLabel | null;
  /** --cb --eval lines: the evaluated policy's action before the label. */
  evalAction: number | null;
  /** A vector when the names are exactly 1..d in order, else named features. */
  features: number[] | Record<string, number>;
}

/** A VW text line that cannot be read; names the part. */
export class VwTextError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "VwTextError";
  }
}

function fmt(v: number): string {
  return String(v);
}

const BAD_NAME = /[\s:|]/;

/** Formats one example; features as a vector (named 1..d) or as named features. */
export function formatVwExample(features: ArrayLike<number> | Record<string, number>, label?: VwLabel | null, evalAction?: number | null): string {
  const parts: string[] = [];
  if (Array.isArray(features) || ArrayBuffer.isView(features)) {
    const v = features as ArrayLike<number>;
    for (let i = 0; i < v.length; i++) parts.push(`${i + 1}:${fmt(v[i])}`);
  } else {
    for (const [k, v] of Object.entries(features as Record<string, number>)) {
      if (BAD_NAME.test(k) || k === "") throw new VwTextError(`features.${k}`, "a VW feature name cannot be empty or contain spaces, ':' or '|'");
      parts.push(`${k}:${fmt(v)}`);
    }
  }
  const head = label ? `${label.action}:${fmt(label.cost)}:${fmt(label.probability)} ` : "";
  const ev = evalAction != null ? `${evalAction} ` : "";
  return `${ev}${head}| ${parts.join(" ")}`;
}

/** VW text of a joined record: action:(1 − reward):action_prob | 1:x1 ... (the original's line). */
export function joinedRecordToVw(r: JoinedRecord): string {
  return formatVwExample(r.observation, { action: r.action, cost: costOfReward(r.reward), probability: r.action_prob });
}

function parseLabel(tok: string): VwLabel {
  const p = tok.split(":");
  if (p.length !== 3) throw new VwTextError("label", `expected action:cost:probability, got ${JSON.stringify(tok)}`);
  const [action, cost, probability] = p.map(Number);
  if (!Number.isInteger(action) || action < 1) throw new VwTextError("action", `must be a 1-based integer, got ${JSON.stringify(p[0])}`);
  if (!Number.isFinite(cost)) throw new VwTextError("cost", `must be a finite number, got ${JSON.stringify(p[1])}`);
  if (!(probability > 0 && probability <= 1)) throw new VwTextError("probability", `must be in (0, 1], got ${JSON.stringify(p[2])}`);
  return { action, cost, probability };
}

/** Parses one VW text line. Throws VwTextError naming the part that is wrong. */
export function parseVwExample(line: string): VwExample {
  const bar = line.indexOf("|");
  if (bar < 0) throw new VwTextError("line", `has no '|' before the features: ${JSON.stringify(line.slice(0, 60))}`);
  const head = line.slice(0, bar).trim().split(/\s+/).filter((t) => t !== "");
  let label: VwLabel | null = null;
  let evalAction: number | null = null;
  for (const t of head) {
    if (t.includes(":")) {
      if (label) throw new VwTextError("label", "more than one label (multi-label cb examples are not supported)");
      label = parseLabel(t);
    } else {
      const a = Number(t);
      if (!Number.isInteger(a) || a < 1) throw new VwTextError("label", `unexpected token ${JSON.stringify(t)} before '|'`);
      evalAction = a;
    }
  }
  const names: string[] = [];
  const values: number[] = [];
  for (const seg of line.slice(bar + 1).split("|").map((s, i) => (i === 0 ? s : "|" + s))) {
    let body = seg.startsWith("|") ? seg.slice(1) : seg;
    let ns = "";
    if (!/^\s/.test(body) && body.length > 0) {
      const sp = body.search(/\s/);
      ns = sp < 0 ? body : body.slice(0, sp);
      body = sp < 0 ? "" : body.slice(sp);
      const colon = ns.indexOf(":");
      if (colon >= 0) ns = ns.slice(0, colon);
    }
    for (const tok of body.trim().split(/\s+/)) {
      if (tok === "") continue;
      const c = tok.lastIndexOf(":");
      const name = c < 0 ? tok : tok.slice(0, c);
      const v = c < 0 ? 1 : Number(tok.slice(c + 1));
      if (!Number.isFinite(v)) throw new VwTextError(`feature ${name}`, `value must be a finite number, got ${JSON.stringify(tok.slice(c + 1))}`);
      names.push(ns ? `${ns}^${name}` : name);
      values.push(v);
    }
  }
  const vector = names.every((n, i) => n === String(i + 1));
  let features: number[] | Record<string, number>;
  if (vector && names.length > 0) features = values;
  else {
    features = {};
    names.forEach((n, i) => ((features as Record<string, number>)[n] = values[i]));
  }
  return { label, evalAction, features };
}

/** File name endings read as VW text when a file is given (a folder is read for joined-data files only). */
export const VW_TEXT_EXTENSIONS = [".vw", ".txt", ".dat"];

/**
 * VW text rows, as a reader's line parser: labelled `--cb` lines become joined records
 * (reward = 1 − cost, event id `<prefix><line>`, the evaluated action of `--cb --eval` lines kept).
 * The usual line — `[evaluated action] action:cost:probability | 1:v1 2:v2 ...` — is read
 * straight from its bytes; any other line goes through parseVwExample, which names what is wrong.
 * Lines that fail to parse, lack a label, have named features (the joined-record shape is a
 * vector) or fail `joinedRecordProblem` are reported as skipped rows.
 */
export class VwTextRows implements LineParser {
  constructor(private readonly file: string, private readonly report: RowReport, private readonly eventIdPrefix = "vw-") {}

  line(b: Buffer, s: number, e: number, n: number, out: ColumnBuilder): void {
    while (s < e && (b[s] === 32 || b[s] === 9)) s++;
    if (s === e) return; // a blank line
    if (vwLineFast(b, s, e, n, out, this.eventIdPrefix)) {
      this.report.lines++;
      return;
    }
    const line = b.toString("utf8", s, e);
    if (line.trim() === "") return;
    this.report.lines++;
    try {
      const ex = parseVwExample(line);
      if (!ex.label) throw new VwTextError("label", "missing (expected action:cost:probability before '|')");
      if (!Array.isArray(ex.features)) throw new VwTextError("features", "must be named 1..d in order to form an observation vector");
      const r: JoinedRecord = {
        reward: rewardOfCost(ex.label.cost),
        event_id: `${this.eventIdPrefix}${n}`,
        action: ex.label.action,
        action_prob: ex.label.probability,
        model_id: "",
        observation: ex.features,
        sample_prob: 0,
      };
      const problem = joinedRecordProblem(r);
      if (problem !== null) throw new VwTextError("record", problem);
      out.push(r, n, ex.evalAction ?? 0);
    } catch (err) {
      if (!(err instanceof VwTextError)) throw err;
      this.report.bad(n, err.message);
    }
  }

  end(): void {}
}

function skipSpaces(b: Buffer, i: number, e: number): number {
  while (i < e && b[i] === 32) i++;
  return i;
}

/** One VW text line of the usual shape straight from bytes into the builder, or false for the general path. */
function vwLineFast(b: Buffer, s: number, e: number, n: number, out: ColumnBuilder, prefix: string): boolean {
  let i = s;
  let te = i;
  while (te < e && b[te] !== 32 && b[te] !== 124 && b[te] !== 58) te++;
  let evalAction = 0;
  if (te < e && b[te] === 32) {
    // An evaluated action before the label (--cb --eval).
    const a = numberAt(b, i, te);
    if (!(a >= 1 && a <= 2147483647 && Math.floor(a) === a)) return false;
    evalAction = a;
    i = skipSpaces(b, te, e);
    te = i;
    while (te < e && b[te] !== 32 && b[te] !== 124 && b[te] !== 58) te++;
  }
  if (te >= e || b[te] !== 58) return false;
  const c1 = te;
  let c2 = c1 + 1;
  while (c2 < e && b[c2] !== 58 && b[c2] !== 32 && b[c2] !== 124) c2++;
  if (c2 >= e || b[c2] !== 58) return false;
  let le = c2 + 1;
  while (le < e && b[le] !== 32 && b[le] !== 124 && b[le] !== 58) le++;
  if (le < e && b[le] === 58) return false;
  const action = numberAt(b, i, c1);
  const cost = numberAt(b, c1 + 1, c2);
  const prob = numberAt(b, c2 + 1, le);
  if (cost - cost !== 0) return false;
  i = skipSpaces(b, le, e);
  if (i >= e || b[i] !== 124) return false;
  i++;
  if (i < e && b[i] !== 32) return false; // a namespace: general path
  const mark = out.obsLength;
  let j = 1;
  for (;;) {
    i = skipSpaces(b, i, e);
    if (i >= e) break;
    // name:value with name = j (no leading zero)
    let t = i;
    let name = 0;
    if (b[t] === 48) return rollback(out, mark);
    while (t < e && b[t] >= 48 && b[t] <= 57 && name < 1e9) name = name * 10 + (b[t++] - 48);
    if (t === i || t >= e || b[t] !== 58 || name !== j) return rollback(out, mark);
    // The value is read where it stands; it must end at a space or the line's end.
    const v = parseNumber(b, t + 1, e);
    if (v - v !== 0 || (parsedEnd < e && b[parsedEnd] !== 32)) return rollback(out, mark);
    out.pushObs(v);
    j++;
    i = parsedEnd;
  }
  const reward = rewardOfCost(cost);
  if (joinedRowProblem(reward, action, prob, out.obs, mark, out.obsLength) !== null) return rollback(out, mark);
  if (out.ids) out.endRow(reward, action, prob, n, prefix + n, "", 0, evalAction);
  else out.endRow(reward, action, prob, n);
  return true;
}

function rollback(out: ColumnBuilder, mark: number): false {
  out.obsLength = mark;
  return false;
}

/** What readVwTextRecords returns. */
export interface VwTextRecords {
  records: JoinedRecord[];
  /** The evaluated action of `--cb --eval` lines (null on other lines), aligned with records. */
  evalActions: (number | null)[];
  /** Non-blank lines read (used or skipped). */
  lines: number;
  skipped: number;
  /** The first few reasons, `file:line: why`. */
  reasons: string[];
}

/**
 * Reads a whole VW text file of labelled bandit examples as joined records, in memory (for a
 * large file, read it streaming with readJoinedRecords, which takes VW text files too). The same
 * policy as the joined-record reader: bad lines are skipped and counted with the first few
 * reasons (`file:line: why`); with `strict` the first one throws a DataFileError.
 */
export function readVwTextRecords(file: string, eventIdPrefix = "vw-", options: ReadOptions = {}): VwTextRecords {
  const result: VwTextRecords = { records: [], evalActions: [], lines: 0, skipped: 0, reasons: [] };
  const report: RowReport = {
    get lines() {
      return result.lines;
    },
    set lines(n: number) {
      result.lines = n;
    },
    bad: (line, reason) => {
      if (options.strict) throw new DataFileError(file, line, `${reason} (strict mode fails on any skipped row)`);
      result.skipped++;
      if (result.reasons.length < 5) result.reasons.push(`${file}:${line}: ${reason}`);
    },
  };
  const parser = new VwTextRows(file, report, eventIdPrefix);
  for (const chunk of lineChunks(file)) {
    const out = new ColumnBuilder(file, true);
    parseLines(chunk, parser, out);
    const c = out.finish();
    for (let i = 0; i < c.n; i++) {
      result.records.push(recordAt(c, i));
      result.evalActions.push((c.evalAction as Int32Array)[i] || null);
    }
  }
  return result;
}

/** Writes records as VW text lines; returns the count. */
export function writeVwText(file: string, records: Iterable<JoinedRecord>): number {
  const out: string[] = [];
  for (const r of records) out.push(joinedRecordToVw(r));
  fs.writeFileSync(file, out.length ? out.join("\n") + "\n" : "");
  return out.length;
}
