/**
 * The local object store: a folder `<workspace>/bucket` laid out like the original's S3 bucket.
 * URIs are `file://` URLs of the real files, so the user can open them; any URI that resolves
 * outside the bucket folder is refused. Writes go to a temporary file and are renamed into place,
 * so a reader never sees half an object.
 *
 * The bucket holds no symbolic links: an object path that passes through a link (to /etc/passwd,
 * to another experiment's folder) is refused, and a link met while listing or copying a folder is
 * skipped with a warning, so nothing is ever read from outside the object's own folder.
 *
 * URIs are built by `pathToFileURL` and read by `fileURLToPath` (never `file://${path}`, which is
 * malformed for a Windows path); the two pure functions below take the path flavour, so tests
 * check Windows paths on any machine.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { asDiskFull } from "../../util/disk";
import { ObjectStoreError, type ObjectInfo, type ObjectStore } from "../types";

let tmpCounter = 0;

/** How paths are spelled: the host's, or Windows's (`path.win32`) in tests. */
export interface PathFlavor {
  path: path.PlatformPath;
  windows: boolean;
}
const HOST: PathFlavor = { path, windows: process.platform === "win32" };

/** The file URI of an object key under a bucket folder (`.`/`..` segments refused). */
export function objectUriOf(root: string, key: string, flavor: PathFlavor = HOST): string {
  const parts = key.split("/").filter((s) => s.length > 0);
  if (parts.some((s) => s === "." || s === "..")) throw new ObjectStoreError(key, `object key '${key}' contains '.' or '..'`);
  return pathToFileURL(flavor.path.join(root, ...parts), { windows: flavor.windows }).href;
}

/** The local path of a file URI that lies under the bucket folder `root` (else ObjectStoreError naming the rule). */
export function objectPathOf(root: string, uri: string, flavor: PathFlavor = HOST): string {
  const rootUri = pathToFileURL(root, { windows: flavor.windows }).href;
  if (typeof uri !== "string" || !uri.startsWith("file://")) {
    throw new ObjectStoreError(String(uri), `'${uri}' is not a local object URI: expected ${rootUri}/...`);
  }
  let p: string;
  try {
    p = flavor.path.resolve(fileURLToPath(uri, { windows: flavor.windows }));
  } catch (err) {
    throw new ObjectStoreError(uri, `'${uri}' is not a valid file URI: ${(err as Error).message}`);
  }
  const base = flavor.path.resolve(root);
  // Windows paths compare without regard to case (C:\Work and c:\work are one folder).
  const fold = (x: string) => (flavor.windows ? x.toLowerCase() : x);
  if (fold(p) !== fold(base) && !fold(p).startsWith(fold(base + flavor.path.sep))) {
    throw new ObjectStoreError(uri, `'${uri}' is outside the local bucket ${base}`);
  }
  return p;
}

export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  /** The bucket folder with links resolved (macOS: /var is /private/var). */
  private readonly realRoot: string;

  /** `warn` reports links skipped while listing (default: stderr). */
  constructor(
    root: string,
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
  ) {
    this.root = path.resolve(root);
    fs.mkdirSync(this.root, { recursive: true });
    this.realRoot = fs.realpathSync(this.root);
  }

  uriOf(key: string): string {
    return objectUriOf(this.root, key);
  }

  keyOf(uri: string): string {
    return path.relative(this.root, this.pathOf(uri)).split(path.sep).join("/");
  }

  /**
   * The local file path of a URI of this store: throws for foreign or escaping URIs, and for a
   * path that passes through a symbolic link (its existing part must resolve to itself).
   */
  pathOf(uri: string): string {
    const p = objectPathOf(this.root, uri);
    let existing = p;
    while (existing !== this.root && !fs.existsSync(existing)) existing = path.dirname(existing);
    if (existing === this.root) return p;
    let real: string;
    try {
      real = fs.realpathSync(existing);
    } catch {
      return p; // removed in between: nothing to follow
    }
    if (real !== path.join(this.realRoot, path.relative(this.root, existing))) {
      throw new ObjectStoreError(
        uri,
        `'${uri}' passes through a symbolic link (${existing} leads to ${real}): the local bucket does not follow links out of an object's folder; remove the link`,
      );
    }
    return p;
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
        if (e.isSymbolicLink()) {
          this.warn(`skipped ${p}: a symbolic link in the local bucket is never followed (it could lead out of the experiment's folder); remove it`);
          continue;
        }
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
