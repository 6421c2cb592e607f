/** Files that hold secrets (an endpoint's tokens and state): written whole, readable by the owner only. */
import * as fs from "node:fs";

/** Mode of a file only its owner may read and write. */
export const PRIVATE_FILE = 0o600;

/** Writes `text` to `file` with mode 0600 through a temporary file and a rename (never half written). */
export function writePrivateFile(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: PRIVATE_FILE });
  fs.chmodSync(tmp, PRIVATE_FILE); // the umask may have narrowed it further; never wider
  fs.renameSync(tmp, file);
}
