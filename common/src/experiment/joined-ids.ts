/**
 * "A decision joins once per experiment": every successful join leaves the event ids it joined as
 * a CSV (one quoted column `event_id`) under `ObjectLayout.joinedIdsPrefix`; the next join (SQL,
 * both engines) and `ingestJoinedData` leave those ids out. Only joins whose record says SUCCEEDED
 * count, so a join killed half way leaves nothing that blocks its events; its holdout copy is
 * removed before the next join writes its own (`removeStrayHoldouts`), so the holdout never holds
 * an event id twice.
 */
import { JOINED_IDS_FILE } from "../platform/join-report";
import type { StepContext } from "./context";

const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;
const unquote = (cell: string) => (cell.length >= 2 && cell.startsWith('"') && cell.endsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell);

/** The ids of the experiment's successful joins, other than `exceptJoinId`. */
export async function successfulJoinIds(ctx: StepContext, exceptJoinId?: string): Promise<string[]> {
  const joins = await ctx.platform.records.list("join_job", ctx.experimentId);
  return joins.map((r) => r.value).filter((j) => j.current_state === "SUCCEEDED" && j.join_job_id !== exceptJoinId).map((j) => j.join_job_id);
}

/** The folder URI of a join's event ids. */
export function joinedIdsUri(ctx: StepContext, joinJobId: string): string {
  return ctx.platform.objects.uriOf(ctx.platform.layout.joinedIdsPrefix(ctx.experimentId, joinJobId));
}

/** Every event id the given joins joined (read from their id files; a join without one adds none). */
export async function readJoinedIds(ctx: StepContext, joinJobIds: readonly string[]): Promise<Set<string>> {
  const ids = new Set<string>();
  const objects = ctx.platform.objects;
  for (const joinJobId of joinJobIds) {
    for (const o of await objects.list(joinedIdsUri(ctx, joinJobId))) {
      if (!o.key.endsWith(".csv")) continue;
      const lines = (await objects.get(o.uri)).toString("utf8").split("\n");
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i].replace(/\r$/, "");
        if (line !== "") ids.add(unquote(line));
      }
    }
  }
  return ids;
}

/** Writes the ids a client-side join (`ingestJoinedData`) joined. */
export async function writeJoinedIds(ctx: StepContext, joinJobId: string, ids: readonly string[]): Promise<void> {
  const text = ["event_id", ...ids.map(quote)].join("\n") + "\n";
  await ctx.platform.objects.put(`${joinedIdsUri(ctx, joinJobId)}/${JOINED_IDS_FILE}`, text);
}

/**
 * Removes the holdout copies of joins that did not succeed (killed after copying, before their
 * record said SUCCEEDED): their events are joined again by a later join, whose copy would hold
 * them a second time. `keep` is the join running now. Returns the join ids removed.
 */
export async function removeStrayHoldouts(ctx: StepContext, succeeded: readonly string[], keep: string): Promise<string[]> {
  const objects = ctx.platform.objects;
  const holdout = ctx.holdoutDataUri;
  const prefix = `${objects.keyOf(holdout)}/`;
  const stray = new Set<string>();
  for (const o of await objects.list(holdout)) {
    const joinJobId = o.key.slice(prefix.length).split("/")[0];
    if (joinJobId && joinJobId !== keep && !succeeded.includes(joinJobId)) stray.add(joinJobId);
  }
  for (const joinJobId of stray) await objects.delete(`${holdout}/${joinJobId}`, { recursive: true });
  return [...stray];
}
