/**
 * The local object store: a folder `<workspace>/bucket` laid out like the original's S3 bucket.
 * URIs are `file://` URLs of the real files, so the user can open them; any URI that resolves
 * outside the bucket folder is refused. Writes go to a temporary file and are renamed into place,
 * so a reader never sees half an object.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { asDiskFull } from "../../util/disk";
import { ObjectStoreError, type ObjectInfo, type ObjectStore } from "../types";

let tmpCounter = 0;

export class LocalObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    fs.mkdirSync(this.root, { recursive: true });
  }

  uriOf(key: string): string {
    return pathToFileURL(this.pathOfKey(key)).href;
  }

  keyOf(uri: string): string {
    return path.relative(this.root, this.pathOf(uri)).split(path.sep).join("/");
  }

  /** The local file path of a URI of this store (throws for foreign or escaping URIs). */
  pathOf(uri: string): string {
    if (typeof uri !== "string" || !uri.startsWith("file://")) {
      throw new ObjectStoreError(String(uri), `'${uri}' is not a local object URI: expected file://${this.root}/...`);
    }
    let p: string;
    try {
      p = path.resolve(fileURLToPath(uri));
    } catch (err) {
      throw new ObjectStoreError(uri, `'${uri}' is not a valid file URI: ${(err as Error).message}`);
    }
    if (p !== this.root && !p.startsWith(this.root + path.sep)) {
      throw new ObjectStoreError(uri, `'${uri}' is outside the local bucket ${this.root}`);
    }
    return p;
  }

  private pathOfKey(key: string): string {
    const parts = key.split("/").filter((s) => s.length > 0);
    if (parts.some((s) => s === "." || s === "..")) throw new ObjectStoreError(key, `object key '${key}' contains '.' or '..'`);
    return path.join(this.root, ...parts);
  }

  async put(uri: string, body: string | Uint8Array): Promise<void> {
    await this.writeVia(this.pathOf(uri), (tmp) => fs.promises.writeFile(tmp, body));
  }

  async putFile(uri: string, localPath: string): Promise<void> {
    await this.writeVia(this.pathOf(uri), (tmp) => fs.promises.copyFile(localPath, tmp));
  }

  /**
   * Writes `target` through a temporary file renamed into place. A failed write removes its
   * temporary file (a full disk keeps nothing half-written) and becomes a DiskFullError naming the
   * object when the disk is full.
   */
  private async writeVia(target: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const tmp = `${target}.tmp-${process.pid}-${++tmpCounter}`;
    try {
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      await write(tmp);
      await fs.promises.rename(tmp, target);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      throw asDiskFull(err, target, "the local object store");
    }
  }

  async get(uri: string): Promise<Buffer> {
    const p = this.pathOf(uri);
    try {
      return await fs.promises.readFile(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new ObjectStoreError(uri, `object ${uri} does not exist`);
      throw err;
    }
  }

  async exists(uri: string): Promise<boolean> {
    try {
      return (await fs.promises.stat(this.pathOf(uri))).isFile();
    } catch {
      return false;
    }
  }

  async list(prefixUri: string): Promise<ObjectInfo[]> {
    const base = this.pathOf(prefixUri);
    const out: ObjectInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return;
        throw err;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile() && !e.name.includes(".tmp-")) {
          const st = await fs.promises.stat(p);
          out.push({
            uri: pathToFileURL(p).href,
            key: path.relative(this.root, p).split(path.sep).join("/"),
            size: st.size,
            lastModified: st.mtime.toISOString(),
          });
        }
      }
    };
    try {
      const st = await fs.promises.stat(base);
      if (st.isFile()) {
        return [{ uri: pathToFileURL(base).href, key: this.keyOf(prefixUri), size: st.size, lastModified: st.mtime.toISOString() }];
      }
    } catch {
      return [];
    }
    await walk(base);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(uri: string, options: { recursive?: boolean } = {}): Promise<number> {
    const p = this.pathOf(uri);
    if (options.recursive) {
      const n = (await this.list(uri)).length;
      await fs.promises.rm(p, { recursive: true, force: true });
      return n;
    }
    try {
      await fs.promises.unlink(p);
      return 1;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw err;
    }
  }

  async download(prefixUri: string, localDir: string): Promise<string[]> {
    const base = this.pathOf(prefixUri);
    const files: string[] = [];
    for (const o of await this.list(prefixUri)) {
      const src = this.pathOf(o.uri);
      const rel = src === base ? path.basename(src) : path.relative(base, src);
      const dst = path.join(localDir, rel);
      try {
        await fs.promises.mkdir(path.dirname(dst), { recursive: true });
        await fs.promises.copyFile(src, dst);
      } catch (err) {
        throw asDiskFull(err, dst, `downloading ${o.uri}`);
      }
      files.push(dst);
    }
    return files;
  }
}
