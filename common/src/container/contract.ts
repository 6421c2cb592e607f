/**
 * SageMaker's training-job container contract, shared by the local job runner and the container
 * image: under a root (`/opt/ml` in the container, a job folder in the local workspace)
 *
 *   input/config/hyperparameters.json   every value a string
 *   input/data/<channel>/               `training`, `evaluation`, `pretrained_model`
 *   model/                              what the job leaves behind (the model, or score.json)
 *   output/failure                      the reason, when the job fails
 *
 * The root comes from `--root <dir>` or env `SM_ROOT`, default `/opt/ml`.
 *
 * The serving container's request limits (SERVING_LIMITS) are at the end of this file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { rewardRangeOf, type RewardBounds } from "../data/rewards";

export type Channel = "training" | "evaluation" | "pretrained_model";

export interface JobPaths {
  root: string;
  hyperparameters: string;
  channel(name: Channel): string;
  modelDir: string;
  outputDir: string;
  failureFile: string;
}

export function jobPaths(root: string): JobPaths {
  const r = path.resolve(root);
  return {
    root: r,
    hyperparameters: path.join(r, "input", "config", "hyperparameters.json"),
    channel: (name) => path.join(r, "input", "data", name),
    modelDir: path.join(r, "model"),
    outputDir: path.join(r, "output"),
    failureFile: path.join(r, "output", "failure"),
  };
}

/** The root from argv (`--root <dir>`), env `SM_ROOT`, or `/opt/ml`. */
export function rootFromArgs(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): string {
  const i = argv.indexOf("--root");
  if (i >= 0 && argv[i + 1]) return argv[i + 1];
  return env.SM_ROOT ?? "/opt/ml";
}

/** A numeric hyperparameter (every value arrives as a string), or its default. */
export function numberHyperparameter(hp: Record<string, string>, key: string, dflt: number): number;
export function numberHyperparameter(hp: Record<string, string>, key: string): number | undefined;
export function numberHyperparameter(hp: Record<string, string>, key: string, dflt?: number): number | undefined {
  const raw = hp[key];
  if (raw === undefined || raw.trim() === "") return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new Error(`hyperparameter '${key}' must be a number, got '${raw}'`);
  return v;
}

/** A boolean hyperparameter: "true"/"false" (any case), "1"/"0"; absent = false. */
export function booleanHyperparameter(hp: Record<string, string>, key: string): boolean {
  const raw = hp[key];
  if (raw === undefined || raw.trim() === "") return false;
  const v = raw.trim().toLowerCase();
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new Error(`hyperparameter '${key}' must be true or false, got '${raw}'`);
}

/** The reward range of a job (hyperparameters `min_reward` / `max_reward`, default [0, 1]), checked by data/rewards.ts. */
export function rewardRangeHyperparameters(hp: Record<string, string>): RewardBounds {
  return rewardRangeOf({ minReward: numberHyperparameter(hp, "min_reward"), maxReward: numberHyperparameter(hp, "max_reward") });
}

/** Reads hyperparameters.json; SageMaker passes every value as a string. */
export function readHyperparameters(paths: JobPaths): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(paths.hyperparameters, "utf8");
  } catch {
    return {};
  }
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) out[k] = typeof v === "string" ? v : JSON.stringify(v);
  return out;
}

/** Hyperparameters as SageMaker wants them: every value a string (objects as JSON). */
export function stringifyHyperparameters(p: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined || v === null) continue;
    out[k] = typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v);
  }
  return out;
}

/**
 * Lays out a job folder as SageMaker does before a job starts: the config and model folders and
 * hyperparameters.json (the local job runner, and SageMaker mode's first model built without a job).
 */
export function writeJobFolder(root: string, hyperparameters: Record<string, string>): JobPaths {
  const paths = jobPaths(root);
  fs.mkdirSync(path.dirname(paths.hyperparameters), { recursive: true });
  fs.mkdirSync(paths.modelDir, { recursive: true });
  fs.writeFileSync(paths.hyperparameters, JSON.stringify(hyperparameters, null, 2));
  return paths;
}

/** The regular files under `dir` (recursively), as sorted paths relative to it with `/`: what a job's model folder uploads. */
export function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)).split(path.sep).join("/"))
    .sort();
}

/** True when the channel folder exists and holds at least one file (recursively). */
export function channelHasFiles(dir: string): boolean {
  if (!fs.existsSync(dir)) return false;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop() as string;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isFile()) return true;
      if (e.isDirectory()) stack.push(path.join(d, e.name));
    }
  }
  return false;
}

/** A job's failure reason as its failure file says it: `<error name>: <message>`. */
export const failureReason = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

export function writeFailure(paths: JobPaths, err: unknown): void {
  fs.mkdirSync(paths.outputDir, { recursive: true });
  fs.writeFileSync(paths.failureFile, failureReason(err) + "\n");
}

export type JobLog = (line: string) => void;

/** The score file an evaluation job writes into its model folder. */
export const SCORE_FILE = "score.json";

/** Runs an entry point as a process: exit code 0 on success, 1 (after writing the failure file) on error. */
export function runAsMain(job: (paths: JobPaths, log: JobLog) => Promise<unknown>): void {
  const paths = jobPaths(rootFromArgs());
  const log: JobLog = (line) => process.stdout.write(line + "\n");
  job(paths, log).then(
    () => process.exit(0),
    (err: unknown) => {
      try {
        writeFailure(paths, err);
      } finally {
        process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
      }
    },
  );
}

// ------------------------------------------------------------------ serving container

/**
 * The serving container's request limits (read by serve.ts): each has a config key, an env var
 * (what local hosting and SageMaker CreateModel set), an argv flag (which wins over the env) and
 * the range the endpoint starts with (outside it, it refuses to start).
 */
export const SERVING_LIMITS = {
  maxDecisionsPerRequest: {
    configKey: "endpoint.max_decisions_per_request",
    env: "MAX_DECISIONS_PER_REQUEST",
    flag: "max-decisions-per-request",
    default: 10000,
    integer: true,
    min: 1,
    // A sanity bound, above what any 6 MB body holds (a decision line takes at least 20 bytes): a
    // larger value is a mistake. config.yaml's own bound is lower (MAX_DECISIONS_BOUND).
    max: 1_000_000,
  },
  requestTimeoutSeconds: {
    configKey: "endpoint.request_timeout_seconds",
    env: "REQUEST_TIMEOUT_SECONDS",
    flag: "request-timeout-seconds",
    default: 30,
    integer: false,
    // config.yaml's range (ENDPOINT_FIELDS.request_timeout_seconds).
    min: 0.01,
    max: 3600,
  },
} as const;

/** The env vars that carry the `endpoint` config section's limits to a serving container. */
export function servingLimitsEnvironment(limits: { maxDecisionsPerRequest: number; requestTimeoutSeconds: number }): Record<string, string> {
  return {
    [SERVING_LIMITS.maxDecisionsPerRequest.env]: String(limits.maxDecisionsPerRequest),
    [SERVING_LIMITS.requestTimeoutSeconds.env]: String(limits.requestTimeoutSeconds),
  };
}
