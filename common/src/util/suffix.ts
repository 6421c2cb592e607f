import { randomInt } from "node:crypto";

let lastMs = 0;

/**
 * A 12-character, lexicographically sortable, unique-enough suffix for ids: milliseconds since the
 * epoch (monotonic within a process) plus three random base-36 characters, so two ids made in the
 * same millisecond, even by two processes, do not collide.
 */
export function sortableSuffix(now = Date.now()): string {
  const ms = Math.max(now, lastMs + 1);
  lastMs = ms;
  const rand = randomInt(0, 36 ** 3).toString(36).padStart(3, "0");
  return ms.toString(36).padStart(9, "0") + rand;
}
