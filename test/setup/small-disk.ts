/**
 * A real small file system for the full-disk tests: a tmpfs of a few megabytes mounted on a temp
 * folder (needs root, as the tests run in CI). `fill` takes all but `leave` bytes with a filler
 * file and `free` removes it, so a test can make the disk full and free again at will.
 *
 * Without root (a developer's machine) the tests skip with a message naming the test and how to
 * run it; under CI=true a failed mount fails instead, so CI can never skip them silently.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface SmallDisk {
  /** The mount point. */
  dir: string;
  /** Free bytes on it now. */
  freeBytes(): number;
  /** Takes all free space but about `leave` bytes (tmpfs counts whole 4 KB pages). */
  fill(leave?: number): void;
  /** Removes the filler. */
  free(): void;
  /** Unmounts (lazily: a process that still holds a file does not block it) and removes the folder. */
  unmount(): void;
}

/** Mounts a tmpfs of `bytes`; returns a reason to skip instead when that is impossible here (never under CI). */
export function mountSmallDisk(label: string, bytes: number): SmallDisk | { skip: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cbkit-disk-${label}-`));
  try {
    if (typeof process.getuid === "function" && process.getuid() !== 0) throw new Error("not running as root");
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    const why = `${label}: needs a ${Math.round(bytes / 1024)} KB tmpfs, which needs root (mount -t tmpfs): ${(err as Error).message.split("\n")[0]}. Run the tests as root (CI does)`;
    if (process.env.CI === "true") throw new Error(why);
    return { skip: why };
  }
  return {
    dir,
    ...filler(dir),
    unmount() {
      try {
        execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      } catch {
        /* already unmounted */
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fill and free a mounted folder (also from a child process that was given the folder). */
export function filler(dir: string): Pick<SmallDisk, "freeBytes" | "fill" | "free"> {
  const filler = path.join(dir, "filler.bin");
  const freeBytes = () => {
    const st = fs.statfsSync(dir);
    return Number(st.bavail) * Number(st.bsize);
  };
  return {
    freeBytes,
    fill(leave = 0) {
      const size = Math.max(0, freeBytes() - leave);
      const fd = fs.openSync(filler, "a");
      try {
        const chunk = Buffer.alloc(1024 * 1024);
        for (let left = size; left > 0; ) {
          const n = Math.min(left, chunk.length);
          try {
            fs.writeSync(fd, chunk, 0, n);
          } catch {
            break; // full already
          }
          left -= n;
        }
      } finally {
        fs.closeSync(fd);
      }
    },
    free() {
      fs.rmSync(filler, { force: true });
    },
  };
}
