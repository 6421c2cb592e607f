/**
 * What the manager checks on the way in, before anything is stored or trained: joined records
 * and rewards against the task (reward range, number of actions, number of features from
 * config.yaml), and data URIs against the experiment's own prefix. Every error names the record,
 * the field, the value and the config key or option to fix.
 */
import type { Config } from "../config";
import { NUMBER_CONTRACT, numberProblem } from "../data/numbers";
import type { JoinedRecord } from "../data/records";
import { rewardProblem, type RewardBounds } from "../data/rewards";
import { splitRatioProblem } from "../data/split";
import type { ObjectStore } from "../platform/types";
import { InvalidUsageError } from "./errors";

/** The bounds a record must respect, from config.yaml. */
export interface TaskBounds extends RewardBounds {
  numArms: number;
  numFeatures: number;
}

export function taskBounds(config: Config): TaskBounds {
  return {
    minReward: config.workflow.min_reward,
    maxReward: config.workflow.max_reward,
    numArms: config.algor.algorithms_parameters.num_arms,
    numFeatures: config.algor.algorithms_parameters.num_features,
  };
}

/** Throws naming the record, the reward and the range keys unless the reward lies in the configured range. */
export function checkReward(reward: number, bounds: TaskBounds, where: string): void {
  const problem = rewardProblem(reward, bounds);
  if (problem !== null) throw new InvalidUsageError(`${where}: field 'reward' ${problem}`);
}

/** Throws an InvalidUsageError unless `ratio` splits joined data into two non-empty parts (data/split.ts's rule). */
export function checkJoinRatio(ratio: unknown): number {
  const problem = splitRatioProblem(ratio);
  if (problem !== null) throw new InvalidUsageError(`ratio ${problem}`);
  return ratio as number;
}

/**
 * Converts a record in the original's joined shape (also from Python: numeric ids, JSON text) to
 * ours, checking it against the task: an action in 1..num_arms, a reward in the configured range,
 * num_features numbers of context.
 */
export function normalizeJoinedRecord(r: unknown, index: number, bounds?: TaskBounds): JoinedRecord {
  const where = `joined record ${index}`;
  const bad = (field: string, why: string): never => {
    throw new InvalidUsageError(`${where}: field '${field}' ${why}`);
  };
  if (r === null || typeof r !== "object") bad("(record)", "must be an object with reward, event_id, action, action_prob, model_id, observation, sample_prob");
  const o = r as Record<string, unknown>;
  const num = (field: string): number => {
    const v = typeof o[field] === "string" ? Number(o[field]) : o[field];
    const problem = numberProblem(v);
    if (problem !== null) bad(field, typeof o[field] === "string" ? `${problem} (from the text ${JSON.stringify(o[field])})` : problem);
    return v as number;
  };
  let obs = o.observation;
  if (typeof obs === "string") {
    try {
      obs = JSON.parse(obs);
    } catch {
      bad("observation", "is a string but not a JSON array of numbers");
    }
  }
  if (!Array.isArray(obs) || obs.length === 0) bad("observation", `must be a non-empty array of numbers, each ${NUMBER_CONTRACT}`);
  const observation = obs as unknown[];
  observation.forEach((v, j) => {
    const problem = numberProblem(v);
    if (problem !== null) bad(`observation[${j}]`, problem);
  });
  if (bounds && observation.length !== bounds.numFeatures) {
    bad("observation", `has ${observation.length} features, the task has ${bounds.numFeatures} (config.yaml algor.algorithms_parameters.num_features)`);
  }
  const action = num("action");
  if (!Number.isInteger(action) || action < 1) bad("action", `must be a 1-based integer, got ${action}`);
  if (bounds && action > bounds.numArms) {
    bad("action", `is ${action}, outside 1..${bounds.numArms} (config.yaml algor.algorithms_parameters.num_arms); set num_arms to the app's number of actions`);
  }
  const actionProb = num("action_prob");
  if (!(actionProb > 0 && actionProb <= 1)) bad("action_prob", `must be in (0, 1], got ${actionProb}`);
  if (o.event_id === undefined || o.event_id === null || o.event_id === "") bad("event_id", "is missing");
  const reward = num("reward");
  if (bounds) checkReward(reward, bounds, where);
  return {
    reward,
    event_id: String(o.event_id),
    action,
    action_prob: actionProb,
    model_id: String(o.model_id ?? ""),
    observation: observation as number[],
    sample_prob: num("sample_prob"),
  };
}

/** Splits `scheme://authority/path` into its parts, the path as decoded segments. */
function parseObjectUri(uri: string): { scheme: string; authority: string; segments: string[] } | null {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^?#]*)$/.exec(uri);
  if (!m) return null;
  const segments: string[] = [];
  for (const raw of m[3].split("/")) {
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return null;
    }
    // An encoded '/' or '\' would make one segment two on some backends.
    if (s.includes("/") || s.includes("\\") || /[\x00-\x1f]/.test(s)) return null;
    if (s === "" || s === ".") continue;
    if (s === "..") {
      if (segments.length === 0) return null; // above the root
      segments.pop();
    } else segments.push(s);
  }
  return { scheme: m[1].toLowerCase(), authority: m[2], segments };
}

/**
 * Normalises a data URI (percent escapes decoded, '.', '..' and empty segments resolved) and
 * checks that it lies strictly below the experiment's prefix `<store>/<experiment id>/` — for
 * `file://` and `s3://` alike. Returns the URI in the store's own spelling, so what is stored and
 * passed on is the canonical form. `option` names the argument in the error.
 */
export function checkExperimentUri(store: ObjectStore, experimentPrefixKey: string, uri: unknown, option: string): string {
  const prefixUri = store.uriOf(experimentPrefixKey);
  const fix = `pass a URI under ${prefixUri}/ as the manager returns it (e.g. manager.lastJoinedJobTrainData, or the folder ingestRewards returned)`;
  if (typeof uri !== "string" || uri.length === 0) throw new InvalidUsageError(`${option} must be a URI string; ${fix}`);
  const parsed = parseObjectUri(uri);
  const prefix = parseObjectUri(prefixUri);
  if (!parsed || !prefix) throw new InvalidUsageError(`${option} ${JSON.stringify(uri)} is not a valid object URI (scheme://bucket/key, no encoded '/', no control characters); ${fix}`);
  const normalized = `${parsed.scheme}://${parsed.authority}/${parsed.segments.join("/")}`;
  const below =
    parsed.scheme === prefix.scheme &&
    parsed.authority === prefix.authority &&
    parsed.segments.length > prefix.segments.length &&
    prefix.segments.every((s, i) => parsed.segments[i] === s);
  if (!below) {
    throw new InvalidUsageError(
      `${option} ${JSON.stringify(uri)} ${normalized !== uri ? `resolves to ${normalized}, which is` : "is"} outside this experiment's data; ${fix}`,
    );
  }
  const key = [...experimentPrefixKey.split("/"), ...parsed.segments.slice(prefix.segments.length)].join("/");
  return store.uriOf(key);
}
