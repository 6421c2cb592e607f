/**
 * The container's entry points: the scripts a job or an endpoint runs as a process
 * (`node <script> --root <folder>`), the same files the container image starts. Local mode spawns
 * them from here; a test that runs one as a process asks here too, never for a build path.
 */
import * as path from "node:path";

export type EntryPoint = "train" | "evaluate" | "serve";

/** The absolute path of an entry point's script (next to this module in the build). */
export function entryPointScript(kind: EntryPoint): string {
  return path.join(__dirname, `${kind}.js`);
}
