/**
 * What both join engines (local DuckDB, Athena) say about a join in the same words: the error of
 * an empty split, and one warning per kind of row the join left out. The counts come from the
 * shared SQL (join/sql.ts).
 */
import type { JoinCounts, JoinRequest } from "./types";

/** The file name of a join's event ids under `ObjectLayout.joinedIdsPrefix` (local engine). */
export const JOINED_IDS_FILE = "joined-ids.csv";

/** One sentence per kind of left-out row with a count above 0. */
export function joinWarnings(counts: JoinCounts): string[] {
  const out: string[] = [];
  if (counts.invalidRewards)
    out.push(
      `${counts.invalidRewards} reward row(s) left out: the reward is not a number in [min_reward, max_reward] ` +
        "(NaN, Infinity, text, an unreadable line; config.yaml workflow.min_reward / workflow.max_reward)",
    );
  if (counts.invalidRewardTimes)
    out.push(`${counts.invalidRewardTimes} reward row(s) left out: the timestamp is not epoch seconds between 2000-01-01 and one day after now`);
  if (counts.alreadyJoined)
    out.push(`${counts.alreadyJoined} decision(s) left out: an earlier successful join of this experiment already joined their event ids (a decision joins once)`);
  return out;
}

/** The error of a join whose train or eval split would be empty; carries the counts for the join record. */
export function emptySplitError(request: Pick<JoinRequest, "joinJobId" | "ratio">, counts: JoinCounts): Error & { counts: JoinCounts } {
  const leftOut = [
    counts.alreadyJoined ? `already joined ${counts.alreadyJoined}` : "",
    counts.invalidRewards ? `invalid rewards ${counts.invalidRewards}` : "",
    counts.invalidRewardTimes ? `rewards with a bad timestamp ${counts.invalidRewardTimes}` : "",
    counts.malformedDecisions ? `unreadable decisions ${counts.malformedDecisions}` : "",
  ].filter(Boolean);
  const err = new Error(
    `join ${request.joinJobId}: the ${counts.train === 0 ? "train" : "eval"} split is empty ` +
      `(train ${counts.train}, eval ${counts.eval}, decisions ${counts.decisions}, rewards ${counts.rewards}, ` +
      `unmatched rewards ${counts.unmatchedRewards}${leftOut.length ? `, ${leftOut.join(", ")}` : ""}, ratio ${request.ratio}); ` +
      (counts.alreadyJoined && counts.train + counts.eval === 0
        ? "every rewarded decision was joined before: collect new interactions and their rewards first"
        : "collect more interactions, check that the rewards' event ids match the decisions, or change the ratio"),
  ) as Error & { counts: JoinCounts };
  err.counts = counts;
  return err;
}
