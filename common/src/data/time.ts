/**
 * The sane window of event times (epoch seconds): decision and reward timestamps the kit takes in
 * lie between 2000-01-01 and one day after now. "The earliest reward per event wins", so a reward
 * stamped −1e20 (or 1970, a clock that was never set) would win against every real one; a time
 * more than a day ahead is a clock or a unit error (milliseconds given as seconds land in the year
 * 50000). The day of slack leaves room for clocks of other machines that run ahead.
 */
import { showValue } from "./numbers";

/** 2000-01-01T00:00:00Z: no bandit event of this kit is older. */
export const EARLIEST_EVENT_TIME = Date.UTC(2000, 0, 1) / 1000;

/** How far ahead of this machine's clock an event time may be (seconds). */
export const FUTURE_SLACK_SECONDS = 24 * 3600;

/** The window as epoch seconds [earliest, latest] at `nowSeconds`. */
export function eventTimeWindow(nowSeconds = Date.now() / 1000): { earliest: number; latest: number } {
  return { earliest: EARLIEST_EVENT_TIME, latest: nowSeconds + FUTURE_SLACK_SECONDS };
}

/** The rule in words, for errors and docs. */
export const EVENT_TIME_RULE = "epoch seconds between 2000-01-01 and one day after now";

/** Why an event time is not allowed ("must be ..."), or null. */
export function eventTimeProblem(value: unknown, nowSeconds = Date.now() / 1000): string | null {
  const { earliest, latest } = eventTimeWindow(nowSeconds);
  if (typeof value === "number" && Number.isFinite(value) && value >= earliest && value <= latest) return null;
  const hint =
    typeof value === "number" && value > latest && value / 1000 <= latest ? " (it looks like milliseconds: divide by 1000)" : "";
  return `must be ${EVENT_TIME_RULE}, got ${showValue(value)}${hint}`;
}
