/**
 * A small reader for the `.tar.gz` artifacts SageMaker writes (`model.tar.gz`, `output.tar.gz`):
 * regular files only, ustar / GNU long names / pax `path` records. Used to read the evaluation
 * score and to unpack a model for warm start, without a tar dependency.
 */
import { gunzipSync } from "node:zlib";

export interface TarEntry {
  /** Path inside the archive, without a leading `./`. */
  path: string;
  data: Buffer;
}

const BLOCK = 512;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString("utf8");
}

function octal(header: Buffer, offset: number, length: number): number {
  const text = field(header, offset, length).trim();
  const value = text === "" ? 0 : parseInt(text, 8);
  if (!Number.isFinite(value)) throw new Error(`corrupt tar header: size field '${text}'`);
  return value;
}

function paxPath(data: Buffer): string | undefined {
  // Records are "<len> <key>=<value>\n".
  let found: string | undefined;
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const length = parseInt(data.subarray(pos, space).toString("ascii"), 10);
    if (!Number.isFinite(length) || length <= 0) break;
    const record = data.subarray(space + 1, pos + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (record.slice(0, eq) === "path") found = record.slice(eq + 1);
    pos += length;
  }
  return found;
}

/** The regular files of a tar archive (gzip-compressed or not). */
export function readTar(archive: Buffer): TarEntry[] {
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const entries: TarEntry[] = [];
  let pos = 0;
  let nextPath: string | undefined;
  while (pos + BLOCK <= tar.length) {
    const header = tar.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 0x30);
    const dataStart = pos + BLOCK;
    if (dataStart + size > tar.length) throw new Error("corrupt tar archive: truncated entry");
    const data = tar.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L") {
      nextPath = data.toString("utf8").replace(/\0+$/, "");
      continue;
    }
    if (type === "x") {
      nextPath = paxPath(data) ?? nextPath;
      continue;
    }
    const magic = field(header, 257, 6);
    const prefix = magic.startsWith("ustar") ? field(header, 345, 155) : "";
    const name = nextPath ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    nextPath = undefined;
    if (type !== "0" && type !== "\0" && type !== "7") continue; // directories, links, ...
    entries.push({ path: name.replace(/^(\.\/)+/, ""), data: Buffer.from(data) });
  }
  return entries;
}
