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
import { StringDecoder } from "node:string_decoder";
import { JOINED_RECORD_COLUMNS, JoinedRecord } from "./records";

/** File name endings read by readJoinedRecords. */
export const JOINED_FILE_EXTENSIONS = [".csv", ".jsonl", ".ndjson", ".json"];
const MAX_MALFORMED_REASONS = 5;
const CHUNK = 1 << 22;

/**
 * An async iterable of the records of a file or of every joined-data file under a folder (sorted
 * by path). Rows that cannot be parsed yield nothing; they are counted in `malformed`, and the
 * first few reasons kept in `malformedReasons` (CbLearner.train adds both to its report).
 */
export class JoinedRecordReader implements AsyncIterable<JoinedRecord> {
  malformed = 0;
  readonly malformedReasons: string[] = [];
  /** Rows yielded so far. */
  rows = 0;
  constructor(readonly source: string) {}

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
    this.malformed++;
    if (this.malformedReasons.length < MAX_MALFORMED_REASONS) this.malformedReasons.push(`${file}:${line}: ${reason}`);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<JoinedRecord> {
    for (const file of this.files()) {
      const isCsv = file.toLowerCase().endsWith(".csv");
      let parser: ((line: string, n: number) => JoinedRecord | null) | null = null;
      let pending = "";
      let pendingLine = 0;
      for await (const [line, n] of lines(file)) {
        if (!isCsv) {
          if (line.trim() === "") continue;
          if (n === 1 && line.trimStart().startsWith("[")) {
            yield* this.jsonArray(file);
            break;
          }
          const r = this.parseJsonLine(file, line, n);
          if (r) { this.rows++; yield r; }
          continue;
        }
        // CSV: join physical lines while a quoted field is open.
        let text = line;
        if (pending !== "") text = pending + "\n" + line;
        if (quoteOpen(text)) {
          if (pending === "") pendingLine = n;
          pending = text;
          continue;
        }
        const at = pending !== "" ? pendingLine : n;
        pending = "";
        if (text.trim() === "") continue;
        if (parser === null) {
          parser = this.csvParser(file, splitCsv(text));
          if (parser === null) break;
          continue;
        }
        const r = parser(text, at);
        if (r) { this.rows++; yield r; }
      }
      if (pending !== "") this.bad(file, pendingLine, "unterminated quoted field at the end of the file");
    }
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

  private csvParser(file: string, header: string[]): ((line: string, n: number) => JoinedRecord | null) | null {
    const cols = header.map((h) => h.trim());
    const missing = ["observation", "action", "action_prob", "reward"].filter((c) => !cols.includes(c));
    if (missing.length > 0) {
      this.bad(file, 1, `the CSV header lacks ${missing.join(", ")} (found: ${cols.join(", ")})`);
      return null;
    }
    const idx = new Map(cols.map((c, i) => [c, i]));
    return (line, n) => {
      const f = splitCsv(line);
      if (f.length !== cols.length) {
        this.bad(file, n, `has ${f.length} fields, the header has ${cols.length}`);
        return null;
      }
      return this.build(file, n, (k) => {
        const i = idx.get(k);
        return i === undefined ? undefined : f[i];
      });
    };
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
    return {
      reward,
      event_id: ev === undefined ? "" : String(ev),
      action,
      action_prob: actionProb,
      model_id: mid === undefined ? "" : String(mid),
      observation,
      sample_prob: sampleProb,
    };
  }
}

/** Reads joined records from a file or a folder (see JoinedRecordReader). */
export function readJoinedRecords(pathOrDir: string): JoinedRecordReader {
  return new JoinedRecordReader(pathOrDir);
}

/** Lines of a file with 1-based numbers, read in large chunks. */
async function* lines(file: string): AsyncGenerator<[string, number]> {
  const fh = await fs.promises.open(file, "r");
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const dec = new StringDecoder("utf8");
    let rest = "";
    let n = 0;
    let first = true;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      let text = rest + dec.write(buf.subarray(0, bytesRead));
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        if (nl < 0) break;
        const stop = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        yield [text.slice(start, stop), ++n];
        start = nl + 1;
      }
      rest = text.slice(start);
    }
    rest += dec.end();
    if (rest !== "") yield [rest.endsWith("\r") ? rest.slice(0, -1) : rest, ++n];
  } finally {
    await fh.close();
  }
}

function quoteOpen(text: string): boolean {
  let open = false;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) open = !open;
  return open;
}

/** Splits one CSV record into fields (RFC 4180). */
export function splitCsv(line: string): string[] {
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
  if (s.slice(i, b).trim() === "") return out;
  while (i <= b) {
    let c = s.indexOf(",", i);
    if (c < 0 || c > b) c = b;
    const t = s.slice(i, c);
    const v = Number(t);
    if (!Number.isFinite(v) || t.trim() === "") return null;
    out.push(v);
    i = c + 1;
  }
  return out;
}

function quoteBigEventIds(text: string): string {
  return text.indexOf('"event_id"') < 0 ? text : text.replace(/("event_id"\s*:\s*)(-?\d+)(?=\s*[,}\]])/g, '$1"$2"');
}

function csvQuote(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** One CSV line (no newline) of a record in the original's shape. */
export function joinedCsvLine(r: JoinedRecord): string {
  return [
    csvQuote(String(r.reward)),
    csvQuote(String(r.event_id)),
    csvQuote(String(r.action)),
    csvQuote(String(r.action_prob)),
    csvQuote(String(r.model_id)),
    csvQuote(`[${Array.from(r.observation, String).join(", ")}]`),
    csvQuote(String(r.sample_prob)),
  ].join(",");
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
