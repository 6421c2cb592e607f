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
import { DataFileError, JoinedRecord, ReadOptions, joinedRecordProblem } from "./records";
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
 * Reads a VW text file of labelled bandit examples as joined records (reward = 1 − cost, event id
 * `<prefix><line>`). The same policy as the joined-record reader: lines that fail to parse, lack
 * a label or fail `joinedRecordProblem` are skipped and counted with the first few reasons
 * (`file:line: why`); with `strict` the first one throws a DataFileError. Vector features are
 * required (the joined-record shape).
 */
export function readVwTextRecords(file: string, eventIdPrefix = "vw-", options: ReadOptions = {}): VwTextRecords {
  const text = fs.readFileSync(file, "utf8");
  const records: JoinedRecord[] = [];
  const evalActions: (number | null)[] = [];
  const reasons: string[] = [];
  let skipped = 0;
  let read = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    read++;
    try {
      const ex = parseVwExample(line);
      if (!ex.label) throw new VwTextError("label", "missing (expected action:cost:probability before '|')");
      if (!Array.isArray(ex.features)) throw new VwTextError("features", "must be named 1..d in order to form an observation vector");
      const r: JoinedRecord = {
        reward: rewardOfCost(ex.label.cost),
        event_id: `${eventIdPrefix}${i + 1}`,
        action: ex.label.action,
        action_prob: ex.label.probability,
        model_id: "",
        observation: ex.features,
        sample_prob: 0,
      };
      const problem = joinedRecordProblem(r);
      if (problem !== null) throw new VwTextError("record", problem);
      records.push(r);
      evalActions.push(ex.evalAction);
    } catch (e) {
      if (!(e instanceof VwTextError)) throw e;
      if (options.strict) throw new DataFileError(file, i + 1, `${e.message} (strict mode fails on any skipped row)`);
      skipped++;
      if (reasons.length < 5) reasons.push(`${file}:${i + 1}: ${e.message}`);
    }
  }
  return { records, evalActions, lines: read, skipped, reasons };
}

/** Writes records as VW text lines; returns the count. */
export function writeVwText(file: string, records: Iterable<JoinedRecord>): number {
  const out: string[] = [];
  for (const r of records) out.push(joinedRecordToVw(r));
  fs.writeFileSync(file, out.length ? out.join("\n") + "\n" : "");
  return out.length;
}
