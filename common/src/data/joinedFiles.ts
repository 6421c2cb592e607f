/**
 * Reading and writing joined-record files.
 *
 * CSV: the original's shape — a header with the record keys, every field double-quoted, the
 * observation as a list `[0.12, -0.5, ...]` — read with RFC 4180 quoting (a doubled quote inside
 * quotes is a quote; quoted fields may span lines), unquoted fields accepted too.
 * JSON lines (.jsonl / .ndjson / .json): one object per line (a .json file may also hold one array
 * of objects); `observation` may be an array or its JSON text; integer event ids keep every digit.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isAscii } from "node:buffer";
import { StringDecoder } from "node:string_decoder";
import { DataFileError, JOINED_RECORD_COLUMNS, JoinedRecord, ReadOptions, joinedRecordProblem } from "./records";

/** File name endings read by readJoinedRecords. */
export const JOINED_FILE_EXTENSIONS = [".csv", ".jsonl", ".ndjson", ".json"];
const MAX_MALFORMED_REASONS = 5;
const CHUNK = 1 << 22;

/**
 * An async iterable of the records of a file or of every joined-data file under a folder (sorted
 * by path). Rows that cannot be parsed or fail `joinedRecordProblem` yield nothing; they are
 * counted in `malformed`, and the first few reasons (`file:line: why`) kept in `malformedReasons`
 * (CbLearner.train adds both to its report). With `strict`, the first such row throws a
 * DataFileError instead. A CSV header without the needed columns always throws.
 */
export class JoinedRecordReader implements AsyncIterable<JoinedRecord> {
  malformed = 0;
  readonly malformedReasons: string[] = [];
  /** Rows yielded so far. */
  rows = 0;
  readonly strict: boolean;
  /** Data lines (records, good or bad; no header, no blank line) met per file. */
  private readonly dataLines = new Map<string, number>();
  constructor(readonly source: string, options: ReadOptions = {}) {
    this.strict = options.strict === true;
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
      if (n > 0) return `${f}: all ${n} row(s) skipped`;
      if (fs.readFileSync(f, "utf8").trim() === "") return `${f} is empty`;
      return f.toLowerCase().endsWith(".csv") ? `${f} has a header but no rows` : `${f} has no records`;
    });
    const reasons = this.malformedReasons.length > 0 ? ` (first reasons: ${this.malformedReasons.join("; ")})` : "";
    return `no usable record: ${parts.join("; ")}${reasons}`;
  }

  private countLine(file: string): void {
    this.dataLines.set(file, (this.dataLines.get(file) ?? 0) + 1);
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

  private bad(file: string, line: number, reason: string): void {
    if (this.strict) throw new DataFileError(file, line, `${reason} (strict mode fails on any skipped row)`);
    this.malformed++;
    if (this.malformedReasons.length < MAX_MALFORMED_REASONS) this.malformedReasons.push(`${file}:${line}: ${reason}`);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<JoinedRecord> {
    for await (const batch of this.batches()) for (const r of batch) yield r;
  }

  /** The records in batches (one per chunk of the file): the fast way to consume a large file. */
  async *batches(): AsyncGenerator<JoinedRecord[]> {
    for (const file of this.files()) {
      if (file.toLowerCase().endsWith(".csv")) yield* this.csvBatches(file);
      else yield* this.jsonBatches(file);
    }
  }

  private async *csvBatches(file: string): AsyncGenerator<JoinedRecord[]> {
    let cols: CsvColumns | null = null;
    let pending: string | null = null;
    let pendingLine = 0;
    let done = false;
    for await (const chunk of lineChunks(file)) {
      if (done) break;
      const batch: JoinedRecord[] = [];
      const lines = chunk.lines;
      for (let li = 0; li < lines.length; li++) {
        const n = chunk.firstLine + li;
        let text = lines[li];
        let at = n;
        if (pending !== null) {
          text = pending + "\n" + text;
          at = pendingLine;
        }
        const fields = splitCsvStrict(text);
        if (fields === null) {
          if (pending === null) pendingLine = n;
          pending = text;
          continue;
        }
        pending = null;
        if (fields.length === 1 && fields[0].trim() === "") continue;
        if (cols === null) {
          cols = this.csvColumns(file, fields);
          if (cols === null) {
            done = true;
            break;
          }
          continue;
        }
        this.countLine(file);
        const r = this.csvRecord(file, at, fields, cols);
        if (r !== null) batch.push(r);
      }
      this.rows += batch.length;
      if (batch.length > 0) yield batch;
    }
    if (pending !== null) this.bad(file, pendingLine, "unterminated quoted field at the end of the file");
  }

  /**
   * The training columns of the records (reward, action, action_prob, observation), a chunk at a
   * time, without building record objects: the fast path of CbLearner.train for large files.
   * Rows are validated and counted exactly as by the record iterator.
   */
  async *columnBatches(): AsyncGenerator<JoinedColumns> {
    for (const file of this.files()) {
      if (!file.toLowerCase().endsWith(".csv")) {
        for await (const b of this.jsonBatches(file)) yield columnsOf(b);
        continue;
      }
      yield* this.csvColumnBatches(file);
    }
  }

  /**
   * CSV columns straight from the file's bytes: fields are found by scanning bytes (quotes,
   * commas and line breaks are ASCII, so this is safe for UTF-8) and numbers are parsed from the
   * bytes (see numberAt). A line with anything unusual — escaped quotes, a quoted line break, a
   * malformed field — goes to the general string parser, which also reports errors.
   */
  private async *csvColumnBatches(file: string): AsyncGenerator<JoinedColumns> {
    const fh = await fs.promises.open(file, "r");
    try {
      let work = Buffer.allocUnsafe(CHUNK * 2);
      let restLen = 0;
      const starts = new Int32Array(64), ends = new Int32Array(64);
      let cols: CsvColumns | null = null;
      let pending: string | null = null;
      let pendingLine = 0;
      let lineNo = 0;
      let first = true;
      let eof = false;
      let fastRows = 0;
      while (!eof) {
        if (work.length - restLen < CHUNK + 1) {
          const bigger = Buffer.allocUnsafe(restLen + CHUNK * 2);
          work.copy(bigger, 0, 0, restLen);
          work = bigger;
        }
        const { bytesRead } = await fh.read(work, restLen, CHUNK, null);
        let total = restLen + bytesRead;
        if (bytesRead === 0) {
          eof = true;
          if (restLen === 0) break;
          work[total++] = 10; // close the last line
        }
        const view = work.subarray(0, total);
        let ls = 0;
        if (first) {
          first = false;
          if (total >= 3 && view[0] === 0xef && view[1] === 0xbb && view[2] === 0xbf) ls = 3;
        }
        const out = new ColumnBuilder(file);
        for (;;) {
          const nl = view.indexOf(10, ls);
          if (nl < 0) break;
          const le = nl > ls && view[nl - 1] === 13 ? nl - 1 : nl;
          lineNo++;
          const at = ls;
          ls = nl + 1;
          if (cols !== null && pending === null) {
            const k = scanCsvBytes(view, at, le, starts, ends);
            if (k === -2) continue; // an empty line
            if (k === cols.count && this.fastRowBytes(view, starts, ends, cols, out, lineNo)) {
              fastRows++;
              continue;
            }
          }
          // General path: the header, escaped quotes, quoted line breaks, malformed rows.
          let line = view.toString("utf8", at, le);
          let n = lineNo;
          if (pending !== null) {
            line = pending + "\n" + line;
            n = pendingLine;
          }
          const fields = splitCsvStrict(line);
          if (fields === null) {
            if (pending === null) pendingLine = lineNo;
            pending = line;
            continue;
          }
          pending = null;
          if (fields.length === 1 && fields[0].trim() === "") continue;
          if (cols === null) {
            cols = this.csvColumns(file, fields);
            if (cols === null) return;
            if (cols.count > starts.length) throw new Error(`${file}: more than ${starts.length} columns`);
            continue;
          }
          this.countLine(file);
          const r = this.csvRecord(file, n, fields, cols);
          if (r !== null) out.push(r.reward, r.action, r.action_prob, r.observation, n);
        }
        if (fastRows > 0) this.dataLines.set(file, (this.dataLines.get(file) ?? 0) + fastRows);
        fastRows = 0;
        restLen = total - ls;
        work.copy(work, 0, ls, total);
        this.rows += out.n;
        if (out.n > 0) yield out.finish();
      }
      if (pending !== null) this.bad(file, pendingLine, "unterminated quoted field at the end of the file");
    } finally {
      await fh.close();
    }
  }

  /** One row from byte field bounds into the builder; false sends the row to the general path. */
  private fastRowBytes(b: Buffer, starts: Int32Array, ends: Int32Array, c: CsvColumns, out: ColumnBuilder, n: number): boolean {
    const reward = numberAt(b, starts[c.reward], ends[c.reward]);
    const action = numberAt(b, starts[c.action], ends[c.action]);
    const prob = numberAt(b, starts[c.actionProb], ends[c.actionProb]);
    if (reward - reward !== 0 || action - action !== 0 || prob - prob !== 0) return false;
    // Anything joinedRecordProblem would refuse goes to the general path, which reports it.
    if (!(prob > 0 && prob <= 1) || !(action >= 1) || Math.floor(action) !== action) return false;
    if (c.sampleProb >= 0) {
      const sp = numberAt(b, starts[c.sampleProb], ends[c.sampleProb]);
      if (sp - sp !== 0) return false;
    }
    let s = starts[c.observation];
    let e = ends[c.observation] - 1;
    while (s <= e && b[s] === 32) s++;
    while (e > s && b[e] === 32) e--;
    if (s > e || b[s] !== 91 || b[e] !== 93 || e === s) return false; // [ ... ]
    const mark = out.obsLength;
    let i = s + 1;
    let empty = true;
    for (let j = i; j < e; j++) if (b[j] !== 32) { empty = false; break; }
    if (empty) return false; // an empty observation: reported by the general path
    {
      for (;;) {
        let comma = i;
        while (comma < e && b[comma] !== 44) comma++;
        const v = numberAt(b, i, comma);
        if (v - v !== 0) {
          out.obsLength = mark;
          return false;
        }
        out.pushObs(v);
        if (comma >= e) break;
        i = comma + 1;
      }
    }
    out.endRow(reward, action, prob, n);
    return true;
  }

  private async *jsonBatches(file: string): AsyncGenerator<JoinedRecord[]> {
    let first = true;
    for await (const chunk of lineChunks(file)) {
      const batch: JoinedRecord[] = [];
      for (let li = 0; li < chunk.lines.length; li++) {
        const line = chunk.lines[li];
        if (line.trim() === "") continue;
        if (first && line.trimStart().startsWith("[")) {
          const all: JoinedRecord[] = [];
          for await (const r of this.jsonArray(file)) all.push(r);
          if (all.length) yield all;
          return;
        }
        first = false;
        this.countLine(file);
        const r = this.parseJsonLine(file, line, chunk.firstLine + li);
        if (r) batch.push(r);
      }
      this.rows += batch.length;
      if (batch.length > 0) yield batch;
    }
  }

  private csvColumns(file: string, header: string[]): CsvColumns | null {
    const names = header.map((h) => h.trim());
    const missing = ["observation", "action", "action_prob", "reward"].filter((c) => !names.includes(c));
    if (missing.length > 0) {
      // The whole file is unusable: never skipped quietly.
      throw new DataFileError(file, 1, `the CSV header lacks ${missing.join(", ")} (found: ${names.join(", ")}); joined data needs ${JOINED_RECORD_COLUMNS.join(", ")}`);
    }
    const at = (c: string) => names.indexOf(c);
    return { count: names.length, reward: at("reward"), eventId: at("event_id"), action: at("action"), actionProb: at("action_prob"), modelId: at("model_id"), observation: at("observation"), sampleProb: at("sample_prob") };
  }

  private csvRecord(file: string, n: number, f: string[], c: CsvColumns): JoinedRecord | null {
    if (f.length !== c.count) {
      this.bad(file, n, `has ${f.length} fields, the header has ${c.count}`);
      return null;
    }
    const reward = toNumber(f[c.reward]);
    if (reward === null) return this.badField(file, n, "reward", f[c.reward]);
    const action = toNumber(f[c.action]);
    if (action === null) return this.badField(file, n, "action", f[c.action]);
    const actionProb = toNumber(f[c.actionProb]);
    if (actionProb === null) return this.badField(file, n, "action_prob", f[c.actionProb]);
    let sampleProb = 0;
    if (c.sampleProb >= 0) {
      const v = toNumber(f[c.sampleProb]);
      if (v === null) return this.badField(file, n, "sample_prob", f[c.sampleProb]);
      sampleProb = v;
    }
    const observation = parseNumberList(f[c.observation]);
    if (observation === null) {
      this.bad(file, n, `observation is not a list of numbers: ${JSON.stringify(f[c.observation].slice(0, 60))}`);
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
    return this.checked(file, n, r);
  }

  /** The record, or null after reporting why joinedRecordProblem refuses it. */
  private checked(file: string, n: number, r: JoinedRecord): JoinedRecord | null {
    const problem = joinedRecordProblem(r);
    if (problem === null) return r;
    this.bad(file, n, problem);
    return null;
  }

  private badField(file: string, n: number, k: string, v: string): null {
    this.bad(file, n, `${k} is not a finite number: ${JSON.stringify(v)}`);
    return null;
  }

  private async *jsonArray(file: string): AsyncGenerator<JoinedRecord> {
    let arr: unknown;
    try {
      arr = JSON.parse(quoteBigEventIds(await fs.promises.readFile(file, "utf8")));
    } catch (e) {
      this.bad(file, 1, `not valid JSON (${(e as Error).message})`);
      return;
    }
    if (!Array.isArray(arr)) return;
    for (let i = 0; i < arr.length; i++) {
      this.countLine(file);
      const r = this.fromObject(file, i + 1, arr[i]);
      if (r) { this.rows++; yield r; }
    }
  }

  private parseJsonLine(file: string, line: string, n: number): JoinedRecord | null {
    let o: unknown;
    try {
      o = JSON.parse(quoteBigEventIds(line));
    } catch (e) {
      this.bad(file, n, `not valid JSON (${(e as Error).message})`);
      return null;
    }
    return this.fromObject(file, n, o);
  }

  private fromObject(file: string, n: number, o: unknown): JoinedRecord | null {
    if (o === null || typeof o !== "object" || Array.isArray(o)) {
      this.bad(file, n, "expected a JSON object per line");
      return null;
    }
    const g = o as Record<string, unknown>;
    const get = (k: string) => (g[k] === undefined || g[k] === null ? undefined : typeof g[k] === "string" ? (g[k] as string) : g[k]);
    return this.build(file, n, get);
  }

  private build(file: string, n: number, get: (k: string) => unknown): JoinedRecord | null {
    const num = (k: string, required: boolean): number | null => {
      const v = get(k);
      if (v === undefined) {
        if (required) this.bad(file, n, `${k} is missing`);
        return required ? null : 0;
      }
      const x = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
      if (!Number.isFinite(x)) {
        this.bad(file, n, `${k} is not a finite number: ${JSON.stringify(v)}`);
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
      this.bad(file, n, `observation is not a list of numbers: ${JSON.stringify(obsRaw)?.slice(0, 60)}`);
      return null;
    }
    const ev = get("event_id");
    const mid = get("model_id");
    return this.checked(file, n, {
      reward,
      event_id: ev === undefined ? "" : String(ev),
      action,
      action_prob: actionProb,
      model_id: mid === undefined ? "" : String(mid),
      observation,
      sample_prob: sampleProb,
    });
  }
}

/** Reads joined records from a file or a folder (see JoinedRecordReader). */
export function readJoinedRecords(pathOrDir: string, options: ReadOptions = {}): JoinedRecordReader {
  return new JoinedRecordReader(pathOrDir, options);
}


/** Training columns of a batch of records: row i has observation obs[offsets[i] .. offsets[i+1]). */
export interface JoinedColumns {
  n: number;
  reward: Float64Array;
  action: Float64Array;
  actionProb: Float64Array;
  offsets: Int32Array;
  obs: Float64Array;
  /** Line (CSV/JSON lines) of each row, for error messages. */
  line: Int32Array;
  file: string;
}

class ColumnBuilder {
  n = 0;
  obsLength = 0;
  reward = new Float64Array(4096);
  action = new Float64Array(4096);
  actionProb = new Float64Array(4096);
  line = new Int32Array(4096);
  offsets = new Int32Array(4097);
  obs = new Float64Array(4096 * 16);
  constructor(readonly file: string) {}

  pushObs(v: number): void {
    if (this.obsLength === this.obs.length) {
      const a = new Float64Array(this.obs.length * 2);
      a.set(this.obs);
      this.obs = a;
    }
    this.obs[this.obsLength++] = v;
  }

  endRow(reward: number, action: number, prob: number, line: number): void {
    if (this.n === this.reward.length) {
      const m = this.n * 2;
      for (const k of ["reward", "action", "actionProb"] as const) {
        const a = new Float64Array(m);
        a.set(this[k]);
        this[k] = a;
      }
      const l = new Int32Array(m);
      l.set(this.line);
      this.line = l;
      const o = new Int32Array(m + 1);
      o.set(this.offsets);
      this.offsets = o;
    }
    const i = this.n++;
    this.reward[i] = reward;
    this.action[i] = action;
    this.actionProb[i] = prob;
    this.line[i] = line;
    this.offsets[i + 1] = this.obsLength;
  }

  push(reward: number, action: number, prob: number, observation: ArrayLike<number>, line: number): void {
    for (let j = 0; j < observation.length; j++) this.pushObs(observation[j]);
    this.endRow(reward, action, prob, line);
  }

  finish(): JoinedColumns {
    const n = this.n;
    return {
      n,
      reward: this.reward.subarray(0, n),
      action: this.action.subarray(0, n),
      actionProb: this.actionProb.subarray(0, n),
      offsets: this.offsets.subarray(0, n + 1),
      obs: this.obs.subarray(0, this.obsLength),
      line: this.line.subarray(0, n),
      file: this.file,
    };
  }
}

function columnsOf(records: JoinedRecord[]): JoinedColumns {
  const b = new ColumnBuilder("");
  records.forEach((r, i) => b.push(r.reward, r.action, r.action_prob, r.observation, i + 1));
  return b.finish();
}

const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/**
 * The number written in bytes b[a, e) (ASCII), NaN if it is not one. Plain decimals whose digits
 * fit in 2^53 and that have at most 22 decimals are converted as digits / 10^k — both exact
 * doubles, so the one division rounds correctly and the result equals Number(text) (Clinger's fast
 * path); anything else (17-digit mantissas, exponents) goes through Number.
 */
export function numberAt(b: Buffer, a: number, e: number): number {
  while (a < e && b[a] === 32) a++;
  while (e > a && b[e - 1] === 32) e--;
  if (a >= e) return NaN;
  let i = a;
  const neg = b[i] === 45;
  if (neg || b[i] === 43) i++;
  let m = 0, digits = 0, scale = 0, dot = false;
  for (; i < e; i++) {
    const c = b[i];
    if (c >= 48 && c <= 57) {
      if (m > 900719925474099) return slowNumber(b, a, e);
      m = m * 10 + (c - 48);
      digits++;
      if (dot) scale++;
    } else if (c === 46 && !dot) dot = true;
    else return slowNumber(b, a, e);
  }
  if (digits === 0 || scale > 22) return slowNumber(b, a, e);
  const v = scale === 0 ? m : m / POW10[scale];
  return neg ? -v : v;
}

function slowNumber(b: Buffer, a: number, e: number): number {
  const v = +(b as unknown as { latin1Slice(a: number, e: number): string }).latin1Slice(a, e);
  return v - v === 0 ? v : NaN;
}

/** Field bounds (quotes excluded) of bytes b[ls, le): the count, −2 for an empty line, −1 for the general path. */
function scanCsvBytes(b: Uint8Array, ls: number, le: number, starts: Int32Array, ends: Int32Array): number {
  if (ls === le) return -2;
  let i = ls;
  let k = 0;
  const max = starts.length;
  for (;;) {
    if (k === max) return -1;
    if (b[i] === 34) {
      let q = i + 1;
      while (q < le && b[q] !== 34) q++;
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

function toNumber(s: string): number | null {
  if (s.length === 0) return null;
  const x = +s;
  return x - x === 0 ? x : null; // finite
}

/** The complete lines of a file, a large chunk at a time, with the number of the first line. */
async function* lineChunks(file: string): AsyncGenerator<{ lines: string[]; firstLine: number }> {
  const fh = await fs.promises.open(file, "r");
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const dec = new StringDecoder("utf8");
    let rest = "";
    let n = 1;
    let first = true;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      let text = rest + dec.write(buf.subarray(0, bytesRead));
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
      const lines: string[] = [];
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        if (nl < 0) break;
        lines.push(text.slice(start, nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl));
        start = nl + 1;
      }
      rest = text.slice(start);
      if (lines.length > 0) {
        yield { lines, firstLine: n };
        n += lines.length;
      }
    }
    rest += dec.end();
    if (rest !== "") yield { lines: [rest.endsWith("\r") ? rest.slice(0, -1) : rest], firstLine: n };
  } finally {
    await fh.close();
  }
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
