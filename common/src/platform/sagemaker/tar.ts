/**
 * A small reader for the `.tar.gz` artifacts SageMaker writes (`model.tar.gz`, `output.tar.gz`):
 * regular files only, ustar / GNU long names / pax `path` records. Used to read the evaluation
 * score and to unpack a model for warm start, without a tar dependency. And its writer, for the
 * one artifact the kit packs itself (the first model without data, built on this machine).
 */
import { gunzipSync, gzipSync } from "node:zlib";

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

/** Writes `value` as a NUL-terminated octal field of `length` bytes. */
function putOctal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(value.toString(8).padStart(length - 1, "0") + "\0", offset, length, "ascii");
}

/**
 * A gzip-compressed ustar archive of regular files, as `tar -czf` makes them (mode 0644, owner 0).
 * Paths are relative, at most 100 bytes; longer ones are refused rather than cut.
 */
export function writeTarGz(entries: readonly TarEntry[], mtime: Date = new Date()): Buffer {
  const blocks: Buffer[] = [];
  const seconds = Math.floor(mtime.getTime() / 1000);
  for (const entry of entries) {
    const name = Buffer.from(entry.path, "utf8");
    if (name.length === 0 || name.length > 100 || entry.path.startsWith("/") || entry.path.split("/").includes(".."))
      throw new Error(`tar entry '${entry.path}': a relative path of 1-100 bytes without '..' is needed`);
    const header = Buffer.alloc(BLOCK);
    name.copy(header, 0);
    putOctal(header, 100, 8, 0o644);
    putOctal(header, 108, 8, 0);
    putOctal(header, 116, 8, 0);
    putOctal(header, 124, 12, entry.data.length);
    putOctal(header, 136, 12, seconds);
    header.write("0", 156, 1, "ascii"); // a regular file
    header.write("ustar\0" + "00", 257, 8, "ascii");
    // The checksum is the byte sum of the header with its own field read as eight spaces.
    header.fill(0x20, 148, 156);
    const sum = header.reduce((total, byte) => total + byte, 0);
    header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
    blocks.push(header, entry.data, Buffer.alloc((BLOCK - (entry.data.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK)); // end-of-archive marker
  return gzipSync(Buffer.concat(blocks));
}
