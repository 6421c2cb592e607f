/**
 * The readers' one way through a file: its complete lines, a few MB of bytes at a time, in one
 * reused buffer, so memory stays bounded whatever the file's size. A line longer than
 * MAX_LINE_BYTES is refused with a DataFileError naming the file, the line and the limit (no
 * joined-data, JSON-lines or VW-text record comes near it; such a line is a file without line
 * breaks).
 */
import * as fs from "node:fs";
import type { ColumnBuilder } from "./columns";
import { DataFileError } from "./records";

/** Bytes read per step. */
export const READ_CHUNK_BYTES = 1 << 20;
/** The longest line (or CSV record with quoted line breaks) a reader accepts: 16 MB. */
export const MAX_LINE_BYTES = 1 << 24;

/** Whole lines of a file: buf[start, end), every line ending with "\n" (one is added after the last). */
export interface LineChunk {
  buf: Buffer;
  start: number;
  end: number;
  /** Number (1-based) of the chunk's first line. */
  firstLine: number;
}

/** The refusal of a line over MAX_LINE_BYTES. */
export function lineTooLong(file: string, line: number): DataFileError {
  return new DataFileError(file, line, `the line is longer than ${MAX_LINE_BYTES / (1 << 20)} MB, the readers' limit per line (MAX_LINE_BYTES): is this a joined-data file with one record per line?`);
}

/**
 * The file's lines, chunk by chunk (a leading UTF-8 byte-order mark is dropped). The chunk's
 * buffer is reused by the next one: take what you need from it before asking for more.
 */
export function* lineChunks(file: string): Generator<LineChunk> {
  const fd = fs.openSync(file, "r");
  try {
    let buf = Buffer.allocUnsafe(READ_CHUNK_BYTES * 2);
    let rest = 0; // bytes of an unfinished line kept at the start of buf
    let line = 1;
    let first = true;
    for (;;) {
      if (buf.length - rest < READ_CHUNK_BYTES) {
        if (rest > MAX_LINE_BYTES) throw lineTooLong(file, line);
        const bigger = Buffer.allocUnsafe(rest + READ_CHUNK_BYTES * 2);
        buf.copy(bigger, 0, 0, rest);
        buf = bigger;
      }
      const read = fs.readSync(fd, buf, rest, READ_CHUNK_BYTES, null);
      let total = rest + read;
      const start = 0;
      if (first) {
        first = false;
        if (total >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
          buf.copy(buf, 0, 3, total);
          total -= 3;
        }
      }
      if (read === 0) {
        if (total === 0) return;
        if (total > MAX_LINE_BYTES) throw lineTooLong(file, line);
        buf[total++] = 10; // close the last line
        yield { buf, start, end: total, firstLine: line };
        return;
      }
      const last = buf.lastIndexOf(10, total - 1);
      if (last < 0) {
        rest = total;
        continue;
      }
      const end = last + 1;
      yield { buf, start, end, firstLine: line };
      for (let i = buf.indexOf(10, start); i >= 0 && i < end; i = buf.indexOf(10, i + 1)) line++;
      buf.copy(buf, 0, end, total);
      rest = total - end;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The first non-blank byte of a file (after a byte-order mark), or -1; reads at most 64 KB. */
export function firstByte(file: string): number {
  const fd = fs.openSync(file, "r");
  try {
    const b = Buffer.alloc(1 << 16);
    const n = fs.readSync(fd, b, 0, b.length, 0);
    let i = n >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
    while (i < n && (b[i] === 32 || b[i] === 9 || b[i] === 10 || b[i] === 13)) i++;
    return i < n ? b[i] : -1;
  } finally {
    fs.closeSync(fd);
  }
}

/** Where a format parser reports: the data lines it met, the rows it skipped. */
export interface RowReport {
  /** Data lines met (records, good or bad; no header, no blank line). */
  lines: number;
  bad(line: number, reason: string): void;
}

/** One format's parser: fed every line of one file, in order. */
export interface LineParser {
  /** The line in b[s, e) (no line break), numbered n. */
  line(b: Buffer, s: number, e: number, n: number, out: ColumnBuilder): void;
  /** After the last line. */
  end(): void;
}


/** Feeds the lines of a chunk to a parser (a CR before the line break is dropped). */
export function parseLines(chunk: LineChunk, parser: LineParser, out: ColumnBuilder): void {
  const b = chunk.buf;
  let n = chunk.firstLine;
  let s = chunk.start;
  const end = chunk.end;
  while (s < end) {
    const nl = b.indexOf(10, s);
    const e = nl > s && b[nl - 1] === 13 ? nl - 1 : nl;
    parser.line(b, s, e, n++, out);
    s = nl + 1;
  }
}

