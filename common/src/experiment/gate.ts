/**
 * The deploy gate (config workflow.deploy_gate): whether the loop replaces the champion (the model
 * serving) by the challenger (the model just trained), both scored on the same data.
 *
 *   ci      (the default) the upper end of the challenger's confidence interval is below the
 *           champion's estimated cost: the challenger must be better beyond its own uncertainty,
 *           so a lucky estimate on a small eval split does not replace a good model;
 *   point   challenger cost <= champion cost (the original's rule);
 *   always  every challenger is deployed.
 *
 * The rules are the config schema's list (DEPLOY_GATE_RULES); costs are smaller-is-better.
 */
import { DEPLOY_GATE_RULES, type DeployGateRule } from "../config/schema";
import { distinctDecimals, formatDifference } from "../display/figures";
import type { OpeEstimate } from "../ope/score";

export type GateRule = DeployGateRule;

/** What the gate reads of a score (an `OpeEstimate`): the estimated cost and its interval. */
export type GateScore = Pick<OpeEstimate, "value" | "ci">;

/** Returns the rule when it is one of the gate's; otherwise throws a RangeError naming `field`. */
export function checkGateRule(rule: unknown, field = "gate"): GateRule {
  if ((DEPLOY_GATE_RULES as readonly unknown[]).includes(rule)) return rule as GateRule;
  const allowed = `${DEPLOY_GATE_RULES.slice(0, -1).join(", ")} or ${DEPLOY_GATE_RULES[DEPLOY_GATE_RULES.length - 1]}`;
  throw new RangeError(`${field} must be ${allowed}, got '${String(rule)}'`);
}

/** Whether the challenger replaces the champion under `rule`. */
export function gatePasses(rule: GateRule, challenger: GateScore, champion: GateScore): boolean {
  if (rule === "always") return true;
  if (rule === "point") return challenger.value <= champion.value;
  return challenger.ci.upper < champion.value;
}

/** The gate's reason in words, with enough digits to tell two close costs apart. */
export function gateReason(rule: GateRule, challenger: GateScore, champion: GateScore): string {
  if (rule === "always") return "gate always: every challenger is deployed";
  const diff = challenger.value - champion.value;
  if (rule === "point") {
    const d = distinctDecimals([challenger.value, champion.value]);
    const op = diff <= 0 ? "<=" : ">";
    return `challenger cost ${challenger.value.toFixed(d)} ${op} champion ${champion.value.toFixed(d)} (difference ${formatDifference(diff, d)})`;
  }
  const upper = challenger.ci.upper;
  const d = distinctDecimals([upper, champion.value]);
  const op = upper < champion.value ? "<" : ">=";
  return (
    `challenger upper bound ${upper.toFixed(d)} ${op} champion cost ${champion.value.toFixed(d)}` +
    ` (costs ${challenger.value.toFixed(d)} vs ${champion.value.toFixed(d)}, difference ${formatDifference(diff, d)})`
  );
}
