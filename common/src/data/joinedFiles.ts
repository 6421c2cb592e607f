/**
 * Reading and writing joined-record files: one streaming reader for CSV, JSON lines and VW text.
 *
 * CSV: the original's shape — a header with the record keys, every field double-quoted, the
 * observation as a list `[0.12, -0.5, ...]` — read with RFC 4180 quoting (a doubled quote inside
 * quotes is a quote; quoted fields may span lines), unquoted fields accepted too.
 * JSON lines (.jsonl / .ndjson / .json): one object per line (a .json file may also hold one array
 * of objects, read whole: up to MAX_JSON_ARRAY_BYTES); `observation` may be an array or its JSON
 * text; integer event ids keep every digit.
 * VW text (.vw / .txt / .dat, given as a file): labelled `--cb` lines (see vwText.ts).
 *
 * How: every format goes through the same loop (lines.ts: whole lines a few MB at a time in one
 * reused buffer) into column batches (columns.ts). Each format has a fast path that reads the
 * usual line straight from its bytes, and a general path (strings, JSON.parse) that takes any line
 * the fast path does not recognise and names what is wrong with a bad one. Memory stays bounded
 * whatever the file's size: a batch holds one chunk's rows.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { numberAt, parseNumber, parsedEnd, utf8 } from "./bytes";
import { ColumnBuilder, ColumnOptions, JoinedColumns, recordAt } from "./columns";
import { LineParser, MAX_LINE_BYTES, RowReport, firstByte, lineChunks, lineTooLong, parseLines } from "./lines";
import { DataFileError, JOINED_RECORD_COLUMNS, JoinedRecord, ReadOptions, joinedRecordProblem, joinedRowProblem } from "./records";
import { VW_TEXT_EXTENSIONS, VwTextRows } from "./vwText";

export { numberAt } from "./bytes";
export type { JoinedColumns, ColumnOptions } from "./columns";
export type { LineParser, RowReport } from "./lines";

/** File name endings read by readJoinedRecords in a folder. */
export const JOINED_FILE_EXTENSIONS = [".csv", ".jsonl", ".ndjson", ".json"];
/** A .json file holding one array is parsed whole; larger ones must be JSON lines. */
export const MAX_JSON_ARRAY_BYTES = 1 << 26;
const MAX_MALFORMED_REASONS = 5;

/** Options of readJoinedRecords. */
export interface JoinedReadOptions extends ReadOptions {
  /** Event ids of VW text rows: this prefix and the line number (default "vw-"). */
  vwEventIdPrefix?: string;
}

type Format = "csv" | "json" | "vw";

/**
 * An async iterable of the records of a file or of every joined-data file under a folder (sorted
 * by path). Rows that cannot be parsed or fail `joinedRecordProblem` yield nothing; they are
 * counted in `malformed`, and the first few reasons (`file:line: why`) kept in `malformedReasons`
 * (CbLearner.train adds both to its report). With `strict`, the first such row throws a
 * DataFileError instead. A CSV header without the needed columns always throws.
 * Every way of reading (records, record batches, column batches, sync or async) reads the files
 * again from the start, so one reader can be read more than once.
 */
export class JoinedRecordReader implements AsyncIterable<JoinedRecord> {
  malformed = 0;
  readonly malformedReasons: string[] = [];
  /** Rows yielded so far (by the current or last read). */
  rows = 0;
  readonly strict: boolean;
  readonly vwEventIdPrefix: string;
  /** Data lines (records, good or bad; no header, no blank line) met per file. */
  private readonly dataLines = new Map<string, number>();
  constructor(readonly source: string, options: JoinedReadOptions = {}) {
    this.strict = options.strict === true;
    this.vwEventIdPrefix = options.vwEventIdPrefix ?? "vw-";
  }

  /**
   * Why the reader gave no record, in words naming the file(s): no data file, an empty file, a
   * header without rows, or every row skipped (with the first reasons). Call after reading.
   */
  whyNoRecords(): string {
    let files: string[];
    try {
      files = this.files();
    } catch (e) {
      return (e as Error).message;
    }
    if (files.length === 0) return `${this.source} holds no joined-data file (${JOINED_FILE_EXTENSIONS.join(", ")})`;
    const parts = files.map((f) => {
      const n = this.dataLines.get(f) ?? 0;
      if (n > 0) return `${f}: all ${n} ${formatOf(f) === "vw" ? "line(s)" : "row(s)"} skipped`;
      if (firstByte(f) < 0) return `${f} is empty`;
      return formatOf(f) === "csv" ? `${f} has a header but no rows` : `${f} has no records`;
    });
    const reasons = this.malformedReasons.length > 0 ? ` (first reasons: ${this.malformedReasons.join("; ")})` : "";
    return `no usable record: ${parts.join("; ")}${reasons}`;
  }

  /** The files that will be read, in order. */
  files(): string[] {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.source);
    } catch {
      throw new Error(`joined data not found: ${this.source} (give a .csv/.jsonl file or a folder of them)`);
    }
    if (st.isFile()) return [this.source];
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (JOINED_FILE_EXTENSIONS.some((x) => e.name.toLowerCase().endsWith(x))) out.push(p);
      }
    };
    walk(this.source);
    return out.sort();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<JoinedRecord> {
    for await (const batch of this.batches()) for (const r of batch) yield r;
  }

  /** The records in batches (one per chunk of the file). */
  async *batches(): AsyncGenerator<JoinedRecord[]> {
    for await (const c of this.columnBatches({ ids: true })) {
      const out = new Array<JoinedRecord>(c.n);
      for (let i = 0; i < c.n; i++) out[i] = recordAt(c, i);
      yield out;
    }
  }

  /**
   * The records as column batches (one per chunk of a file), without a record object per row:
   * the fast way through a large file (training, scoring). Rows are validated and counted as by
   * the record iterator. Between chunks the event loop gets a turn.
   */
  async *columnBatches(options: ColumnOptions = {}): AsyncGenerator<JoinedColumns> {
    for (const c of this.columnBatchesSync(options)) {
      yield c;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** columnBatches, synchronously. */
  *columnBatchesSync(options: ColumnOptions = {}): Generator<JoinedColumns> {
    // Each read starts afresh: the counts describe the last read (a reader may be read again).
    this.rows = 0;
    this.malformed = 0;
    this.malformedReasons.length = 0;
    this.dataLines.clear();
    for (const file of this.files()) {
      const format = formatOf(file);
      if (format === "json" && firstByte(file) === 91) {
        const b = new ColumnBuilder(file, options.ids === true);
        const report = this.reportFor(file);
        this.jsonArray(file, b, report);
        this.dataLines.set(file, report.lines);
        this.rows += b.n;
        if (b.n > 0) yield b.finish();
        continue;
      }
      const report = this.reportFor(file);
      const parser: LineParser =
        format === "csv" ? new CsvRows(file, report) : format === "vw" ? new VwTextRows(file, report, this.vwEventIdPrefix) : new JsonRows(file, report);
      for (const chunk of lineChunks(file)) {
        const b = new ColumnBuilder(file, options.ids === true);
        parseLines(chunk, parser, b);
        this.dataLines.set(file, report.lines);
        this.rows += b.n;
        if (b.n > 0) yield b.finish();
      }
      parser.end();
    }
  }

  /** The report of one file's rows (its line count goes to dataLines after each chunk). */
  private reportFor(file: string): RowReport {
    return { lines: 0, bad: (line, reason) => this.bad(file, line, reason) };
  }

  private bad(file: string, line: number, reason: string): void {
    if (this.strict) throw new DataFileError(file, line, `${reason} (strict mode fails on any skipped row)`);
    this.malformed++;
    if (this.malformedReasons.length < MAX_MALFORMED_REASONS) this.malformedReasons.push(`${file}:${line}: ${reason}`);
  }

  private jsonArray(file: string, out: ColumnBuilder, report: RowReport): void {
    const size = fs.statSync(file).size;
    if (size > MAX_JSON_ARRAY_BYTES) {
      throw new DataFileError(file, 1, `holds one JSON array of ${(size / 1e6).toFixed(0)} MB; arrays are read whole, up to ${MAX_JSON_ARRAY_BYTES / (1 << 20)} MB (MAX_JSON_ARRAY_BYTES): write larger data as JSON lines (.jsonl, one object per line), which is read streaming`);
    }
    let arr: unknown;
    try {
      arr = JSON.parse(quoteBigEventIds(fs.readFileSync(file, "utf8")));
    } catch (e) {
      report.bad(1, `not valid JSON (${(e as Error).message})`);
      return;
    }
    if (!Array.isArray(arr)) return;
    for (let i = 0; i < arr.length; i++) {
      report.lines++;
      const r = recordOfObject(arr[i], i + 1, report);
      if (r) out.push(r, i + 1);
    }
  }
}

/** Reads joined records from a file or a folder (see JoinedRecordReader). */
export function readJoinedRecords(pathOrDir: string, options: JoinedReadOptions = {}): JoinedRecordReader {
  return new JoinedRecordReader(pathOrDir, options);
}

function formatOf(file: string): Format {
  const f = file.toLowerCase();
  if (f.endsWith(".csv")) return "csv";
  if (VW_TEXT_EXTENSIONS.some((x) => f.endsWith(x))) return "vw";
  return "json";
}

// ---------------------------------------------------------------- CSV

interface CsvColumns {
  count: number;
  reward: number;
  eventId: number;
  action: number;
  actionProb: number;
  modelId: number;
  observation: number;
  sampleProb: number;
}

const MAX_CSV_FIELDS = 64;

/** CSV rows: the header, then records (fast path from bytes; general path for quoting, errors). */
class CsvRows implements LineParser {
  private cols: CsvColumns | null = null;
  /** A record whose quoted field spans lines, and its first line. */
  private pending: string | null = null;
  private pendingLine = 0;
  private readonly starts = new Int32Array(MAX_CSV_FIELDS);
  private readonly ends = new Int32Array(MAX_CSV_FIELDS);

  constructor(private readonly file: string, private readonly report: RowReport) {}

  line(b: Buffer, s: number, e: number, n: number, out: ColumnBuilder): void {
    const cols = this.cols;
    if (cols !== null && this.pending === null) {
      const k = scanCsvBytes(b, s, e, this.starts, this.ends);
      if (k === -2) return; // an empty line
      if (k === cols.count && this.fastRow(b, cols, out, n)) {
        this.report.lines++;
        return;
      }
    }
    // General path: the header, escaped quotes, quoted line breaks, malformed rows.
    let text = b.toString("utf8", s, e);
    let at = n;
    if (this.pending !== null) {
      text = this.pending + "\n" + text;
      at = this.pendingLine;
    }
    const fields = splitCsvStrict(text);
    if (fields === null) {
      if (text.length > MAX_LINE_BYTES) throw lineTooLong(this.file, at);
      if (this.pending === null) this.pendingLine = n;
      this.pending = text;
      return;
    }
    this.pending = null;
    if (fields.length === 1 && fields[0].trim() === "") return;
    if (this.cols === null) {
      this.cols = csvColumns(this.file, fields);
      if (this.cols.count > MAX_CSV_FIELDS) throw new DataFileError(this.file, at, `the CSV header has ${this.cols.count} columns; joined data has ${JOINED_RECORD_COLUMNS.length} (at most ${MAX_CSV_FIELDS} are read)`);
      return;
    }
    this.report.lines++;
    const r = csvRecord(fields, this.cols, (reason) => this.report.bad(at, reason));
    if (r !== null) out.push(r, at);
  }

  end(): void {
    if (this.pending !== null) this.report.bad(this.pendingLine, "unterminated quoted field at the end of the file");
  }

  /** One row from byte field bounds into the builder; false sends the row to the general path. */
  private fastRow(b: Buffer, c: CsvColumns, out: ColumnBuilder, n: number): boolean {
    const starts = this.starts, ends = this.ends;
    const reward = numberAt(b, starts[c.reward], ends[c.reward]);
    const action = numberAt(b, starts[c.action], ends[c.action]);
    const prob = numberAt(b, starts[c.actionProb], ends[c.actionProb]);
    let sp = 0;
    if (c.sampleProb >= 0) {
      sp = numberAt(b, starts[c.sampleProb], ends[c.sampleProb]);
      if (sp - sp !== 0) return false;
    }
    let s = starts[c.observation];
    let e = ends[c.observation] - 1;
    while (s <= e && b[s] === 32) s++;
    while (e > s && b[e] === 32) e--;
    if (s >= e || b[s] !== 91 || b[e] !== 93) return false; // [ ... ]
    const mark = out.obsLength;
    if (numberListInto(b, s + 1, e + 1, out) !== e) {
      out.obsLength = mark;
      return false;
    }
    // Anything the record check refuses goes to the general path, which reports it.
    if (joinedRowProblem(reward, action, prob, out.obs, mark, out.obsLength) !== null) {
      out.obsLength = mark;
      return false;
    }
    if (out.ids) {
      out.endRow(reward, action, prob, n, c.eventId >= 0 ? utf8(b, starts[c.eventId], ends[c.eventId]) : "", c.modelId >= 0 ? utf8(b, starts[c.modelId], ends[c.modelId]) : "", sp);
    } else out.endRow(reward, action, prob, n);
    return true;
  }
}

/**
 * Comma-separated numbers from b[s] up to the `]` that closes the list, before e, into the
 * builder's observation: the index of that `]`, or −1 if an item is not a number (or there is
 * none) or no `]` comes. The list is read once, its end found on the way.
 */
function numberListInto(b: Buffer, s: number, e: number, out: ColumnBuilder): number {
  let i = s;
  for (;;) {
    while (i < e && b[i] === 32) i++;
    const v = parseNumber(b, i, e);
    if (v !== v) return -1;
    i = parsedEnd;
    while (i < e && b[i] === 32) i++;
    out.pushObs(v);
    if (i >= e) return -1;
    if (b[i] === 93) return i;
    if (b[i] !== 44) return -1;
    i++;
  }
}

function csvColumns(file: string, header: string[]): CsvColumns {
  const names = header.map((h) => h.trim());
  const missing = ["observation", "action", "action_prob", "reward"].filter((c) => !names.includes(c));
  if (missing.length > 0) {
    // The whole file is unusable: never skipped quietly.
    throw new DataFileError(file, 1, `the CSV header lacks ${missing.join(", ")} (found: ${names.join(", ")}); joined data needs ${JOINED_RECORD_COLUMNS.join(", ")}`);
  }
  const at = (c: string) => names.indexOf(c);
  return { count: names.length, reward: at("reward"), eventId: at("event_id"), action: at("action"), actionProb: at("action_prob"), modelId: at("model_id"), observation: at("observation"), sampleProb: at("sample_prob") };
}

function csvRecord(f: string[], c: CsvColumns, bad: (reason: string) => void): JoinedRecord | null {
  if (f.length !== c.count) {
    bad(`has ${f.length} fields, the header has ${c.count}`);
    return null;
  }
  const field = (k: string, v: string): number | null => {
    const x = toNumber(v);
    if (x === null) bad(`${k} is not a finite number: ${JSON.stringify(v)}`);
    return x;
  };
  const reward = field("reward", f[c.reward]);
  if (reward === null) return null;
  const action = field("action", f[c.action]);
  if (action === null) return null;
  const actionProb = field("action_prob", f[c.actionProb]);
  if (actionProb === null) return null;
  let sampleProb = 0;
  if (c.sampleProb >= 0) {
    const v = field("sample_prob", f[c.sampleProb]);
    if (v === null) return null;
    sampleProb = v;
  }
  const observation = parseNumberList(f[c.observation]);
  if (observation === null) {
    bad(`observation is not a list of numbers: ${JSON.stringify(f[c.observation].slice(0, 60))}`);
    return null;
  }
  const r: JoinedRecord = {
    reward,
    event_id: c.eventId >= 0 ? f[c.eventId] : "",
    action,
    action_prob: actionProb,
    model_id: c.modelId >= 0 ? f[c.modelId] : "",
    observation,
    sample_prob: sampleProb,
  };
  return checked(r, bad);
}

/** The record, or null after reporting why joinedRecordProblem refuses it. */
function checked(r: JoinedRecord, bad: (reason: string) => void): JoinedRecord | null {
  const problem = joinedRecordProblem(r);
  if (problem === null) return r;
  bad(problem);
  return null;
}

/** Field bounds (quotes excluded) of bytes b[ls, le): the count, −2 for an empty line, −1 for the general path. */
function scanCsvBytes(b: Buffer, ls: number, le: number, starts: Int32Array, ends: Int32Array): number {
  if (ls === le) return -2;
  let i = ls;
  let k = 0;
  const max = starts.length;
  for (;;) {
    if (k === max) return -1;
    if (b[i] === 34) {
      let q = b.indexOf(34, i + 1);
      if (q < 0 || q >= le) q = le;
      if (q >= le || b[q + 1] === 34) return -1;
      starts[k] = i + 1;
      ends[k++] = q;
      if (q + 1 === le) return k;
      if (b[q + 1] !== 44) return -1;
      i = q + 2;
    } else {
      let c = i;
      while (c < le && b[c] !== 44) c++;
      starts[k] = i;
      ends[k++] = c;
      if (c >= le) return k;
      i = c + 1;
    }
  }
}

function toNumber(s: string): number | null {
  if (s.length === 0) return null;
  const x = +s;
  return x - x === 0 ? x : null; // finite
}

// ---------------------------------------------------------------- JSON lines

const KEY_REWARD = 1, KEY_EVENT_ID = 2, KEY_ACTION = 3, KEY_ACTION_PROB = 4, KEY_MODEL_ID = 5, KEY_OBSERVATION = 6, KEY_SAMPLE_PROB = 7;
const JSON_KEYS: Record<string, number> = { reward: KEY_REWARD, event_id: KEY_EVENT_ID, action: KEY_ACTION, action_prob: KEY_ACTION_PROB, model_id: KEY_MODEL_ID, observation: KEY_OBSERVATION, sample_prob: KEY_SAMPLE_PROB };

/** JSON lines: a fast path for flat objects of numbers, plain strings and a number array; JSON.parse for the rest. */
class JsonRows implements LineParser {
  constructor(private readonly file: string, private readonly report: RowReport) {}

  line(b: Buffer, s: number, e: number, n: number, out: ColumnBuilder): void {
    while (s < e && (b[s] === 32 || b[s] === 9)) s++;
    if (s === e) return; // a blank line
    const mark = out.obsLength;
    if (jsonLineFast(b, s, e, n, out)) {
      this.report.lines++;
      return;
    }
    out.obsLength = mark; // the fast path may have read part of the observation
    const text = b.toString("utf8", s, e);
    if (text.trim() === "") return;
    this.report.lines++;
    let o: unknown;
    try {
      o = JSON.parse(quoteBigEventIds(text));
    } catch (err) {
      this.report.bad(n, `not valid JSON (${(err as Error).message})`);
      return;
    }
    const r = recordOfObject(o, n, this.report);
    if (r) out.push(r, n);
  }

  end(): void {}
}

function skipWs(b: Buffer, i: number, e: number): number {
  while (i < e) {
    const c = b[i];
    if (c !== 32 && c !== 9) return i;
    i++;
  }
  return i;
}

/** The byte index just past a JSON number or literal starting at i (ends at , } ] or a space). */
function tokenEnd(b: Buffer, i: number, e: number): number {
  while (i < e) {
    const c = b[i];
    if (c === 44 || c === 125 || c === 93 || c === 32 || c === 9) return i;
    i++;
  }
  return i;
}

/**
 * One JSON-lines record straight from bytes, or false to let the general path read the line:
 * the fast path takes a flat object whose known keys hold numbers, plain strings (no escapes)
 * and, for observation, an array of numbers; whatever else it meets sends the line back (the
 * caller then drops what it pushed of the observation).
 */
function jsonLineFast(b: Buffer, s: number, e: number, n: number, out: ColumnBuilder): boolean {
  if (b[s] !== 123) return false;
  let reward = NaN, action = NaN, prob = NaN, sp = 0;
  let evS = -1, evE = -1, midS = -1, midE = -1;
  let hasObs = false;
  const mark = out.obsLength;
  let i = skipWs(b, s + 1, e);
  let keyIndex = 0;
  if (b[i] === 125) return false; // {}
  for (;;) {
    if (b[i] !== 34) return false;
    const ks = i + 1;
    let ke = ks;
    while (ke < e && b[ke] !== 34 && b[ke] !== 92) ke++;
    if (ke >= e || b[ke] === 92) return false;
    const key = keyOf(b, ks, ke, keyIndex++);
    i = skipWs(b, ke + 1, e);
    if (b[i] !== 58) return false;
    i = skipWs(b, i + 1, e);
    const c = b[i];
    if (c === 34) {
      let q = i + 1;
      while (q < e && b[q] !== 34 && b[q] !== 92) q++;
      if (q >= e || b[q] === 92) return false;
      if (key === KEY_EVENT_ID) { evS = i + 1; evE = q; }
      else if (key === KEY_MODEL_ID) { midS = i + 1; midE = q; }
      else if (key !== 0) return false; // a number given as text, the observation as text: general path
      i = q + 1;
    } else if (c === 91) {
      if (key !== KEY_OBSERVATION || hasObs) return false;
      const q = numberListInto(b, skipWs(b, i + 1, e), e, out);
      if (q < 0) return false; // not numbers (an empty list too): the general path reports it
      hasObs = true;
      i = q + 1;
    } else {
      const te = tokenEnd(b, i, e);
      if (key === 0) {
        if (c === 123) return false; // a nested object: general path
      } else if (key === KEY_EVENT_ID) {
        // An integer id keeps every digit (as the general path quotes it); anything else: general path.
        let d = b[i] === 45 ? i + 1 : i;
        if (d >= te) return false;
        for (; d < te; d++) if (b[d] < 48 || b[d] > 57) return false;
        evS = i;
        evE = te;
      } else {
        const v = numberAt(b, i, te);
        if (v - v !== 0) return false;
        if (key === KEY_REWARD) reward = v;
        else if (key === KEY_ACTION) action = v;
        else if (key === KEY_ACTION_PROB) prob = v;
        else if (key === KEY_SAMPLE_PROB) sp = v;
        else return false; // model_id or observation as a number
      }
      i = te;
    }
    i = skipWs(b, i, e);
    if (b[i] === 44) {
      i = skipWs(b, i + 1, e);
      continue;
    }
    if (b[i] !== 125) return false;
    if (skipWs(b, i + 1, e) !== e) return false;
    break;
  }
  if (!hasObs || reward !== reward || action !== action || prob !== prob) return false;
  if (joinedRowProblem(reward, action, prob, out.obs, mark, out.obsLength) !== null) return false;
  if (out.ids) out.endRow(reward, action, prob, n, evS >= 0 ? utf8(b, evS, evE) : "", midS >= 0 ? utf8(b, midS, midE) : "", sp);
  else out.endRow(reward, action, prob, n);
  return true;
}

/** The known keys' bytes, in the order the kit writes them (JOINED_RECORD_COLUMNS). */
const KEY_BYTES: Buffer[] = JOINED_RECORD_COLUMNS.map((k) => Buffer.from(k, "latin1"));
const KEY_IDS: number[] = JOINED_RECORD_COLUMNS.map((k) => JSON_KEYS[k]);

/** The known key b[ks, ke) names (KEY_*), 0 for another key; the key at `expected` (the writer's order) is tried first. */
function keyOf(b: Buffer, ks: number, ke: number, expected: number): number {
  const len = ke - ks;
  for (let t = 0; t < KEY_BYTES.length; t++) {
    const k = (expected + t) % KEY_BYTES.length;
    const name = KEY_BYTES[k];
    if (name.length !== len || name[0] !== b[ks] || name[len - 1] !== b[ke - 1]) continue;
    let j = 1;
    while (j < len - 1 && name[j] === b[ks + j]) j++;
    if (j >= len - 1) return KEY_IDS[k];
  }
  return 0;
}

/** A JSON value (parsed) as a record, or null after reporting why not. */
function recordOfObject(o: unknown, n: number, report: RowReport): JoinedRecord | null {
  const bad = (reason: string) => report.bad(n, reason);
  if (o === null || typeof o !== "object" || Array.isArray(o)) {
    bad("expected a JSON object per line");
    return null;
  }
  const g = o as Record<string, unknown>;
  const get = (k: string) => (g[k] === undefined || g[k] === null ? undefined : g[k]);
  const num = (k: string, required: boolean): number | null => {
    const v = get(k);
    if (v === undefined) {
      if (required) bad(`${k} is missing`);
      return required ? null : 0;
    }
    const x = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
    if (!Number.isFinite(x)) {
      bad(`${k} is not a finite number: ${JSON.stringify(v)}`);
      return null;
    }
    return x;
  };
  const reward = num("reward", true);
  if (reward === null) return null;
  const action = num("action", true);
  if (action === null) return null;
  const actionProb = num("action_prob", true);
  if (actionProb === null) return null;
  const sampleProb = num("sample_prob", false);
  if (sampleProb === null) return null;
  const obsRaw = get("observation");
  let observation: number[] | null = null;
  if (Array.isArray(obsRaw)) observation = obsRaw.every((x) => typeof x === "number") ? (obsRaw as number[]) : null;
  else if (typeof obsRaw === "string") observation = parseNumberList(obsRaw);
  if (observation === null) {
    bad(`observation is not a list of numbers: ${JSON.stringify(obsRaw)?.slice(0, 60)}`);
    return null;
  }
  const ev = get("event_id");
  const mid = get("model_id");
  return checked({
    reward,
    event_id: ev === undefined ? "" : String(ev),
    action,
    action_prob: actionProb,
    model_id: mid === undefined ? "" : String(mid),
    observation,
    sample_prob: sampleProb,
  }, bad);
}

/** splitCsv, or null when a quoted field is still open at the end of the text (it spans lines). */
function splitCsvStrict(line: string): string[] | null {
  const out: string[] = [];
  const n = line.length;
  let i = 0;
  for (;;) {
    if (i < n && line.charCodeAt(i) === 34) {
      let j = i + 1;
      let q = line.indexOf('"', j);
      if (q < 0) return null;
      let s = "";
      while (line.charCodeAt(q + 1) === 34) {
        s += line.slice(j, q) + '"';
        j = q + 2;
        q = line.indexOf('"', j);
        if (q < 0) return null;
      }
      out.push(s === "" ? line.slice(j, q) : s + line.slice(j, q));
      const c = line.indexOf(",", q + 1);
      if (c < 0) return out;
      i = c + 1;
    } else {
      const c = line.indexOf(",", i);
      if (c < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

/** Splits one CSV record into fields (RFC 4180). */
export function splitCsv(line: string): string[] {
  const strict = splitCsvStrict(line);
  if (strict !== null) return strict;
  const out: string[] = [];
  const n = line.length;
  let i = 0;
  for (;;) {
    if (i < n && line.charCodeAt(i) === 34) {
      let s = "";
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) { s += line.slice(j); i = n; break; }
        s += line.slice(j, q);
        if (line.charCodeAt(q + 1) === 34) { s += '"'; j = q + 2; continue; }
        i = q + 1;
        break;
      }
      out.push(s);
      const c = line.indexOf(",", i);
      if (c < 0) return out;
      i = c + 1;
    } else {
      const c = line.indexOf(",", i);
      if (c < 0) { out.push(line.slice(i)); return out; }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

/** Parses `[1, 2.5, -3e-2]` (JSON or Python list text) into numbers; null if not such a list. */
export function parseNumberList(s: string): number[] | null {
  const a = s.indexOf("["), b = s.lastIndexOf("]");
  if (a < 0 || b < a) return null;
  const out: number[] = [];
  let i = a + 1;
  let c = s.indexOf(",", i);
  if (c < 0 || c > b) {
    const t = s.slice(i, b);
    if (t.trim() === "") return out;
    c = b;
  }
  for (;;) {
    const t = s.slice(i, c);
    const v = +t;
    if (v - v !== 0 || (v === 0 && !/[0-9]/.test(t))) return null;
    out.push(v);
    if (c === b) return out;
    i = c + 1;
    c = s.indexOf(",", i);
    if (c < 0 || c > b) c = b;
  }
}

function quoteBigEventIds(text: string): string {
  return text.indexOf('"event_id"') < 0 ? text : text.replace(/("event_id"\s*:\s*)(-?\d+)(?=\s*[,}\]])/g, '$1"$2"');
}

function csvQuote(s: string): string {
  return s.indexOf('"') < 0 ? `"${s}"` : `"${s.replace(/"/g, '""')}"`;
}

/** One CSV line (no newline) of a record in the original's shape. */
export function joinedCsvLine(r: JoinedRecord): string {
  let obs = "";
  const o = r.observation;
  for (let i = 0; i < o.length; i++) obs += i === 0 ? String(o[i]) : `, ${o[i]}`;
  return `"${r.reward}",${csvQuote(String(r.event_id))},"${r.action}","${r.action_prob}",${csvQuote(String(r.model_id))},"[${obs}]","${r.sample_prob}"`;
}

/** The CSV header line (quoted, as the original writes it). */
export const JOINED_CSV_HEADER = JOINED_RECORD_COLUMNS.map(csvQuote).join(",");

/** Writes records as the original's quoted CSV (header + one line per record); returns the count. */
export async function writeJoinedCsv(file: string, records: Iterable<JoinedRecord> | AsyncIterable<JoinedRecord>): Promise<number> {
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const fh = await fs.promises.open(file, "w");
  let count = 0;
  try {
    let chunk: string[] = [JOINED_CSV_HEADER];
    const flush = async () => {
      if (chunk.length > 0) await fh.write(chunk.join("\n") + "\n");
      chunk = [];
    };
    const each = async (r: JoinedRecord) => {
      chunk.push(joinedCsvLine(r));
      count++;
      if (chunk.length >= 8192) await flush();
    };
    if (Symbol.asyncIterator in (records as object)) for await (const r of records as AsyncIterable<JoinedRecord>) await each(r);
    else for (const r of records as Iterable<JoinedRecord>) await each(r);
    await flush();
  } finally {
    await fh.close();
  }
  return count;
}
