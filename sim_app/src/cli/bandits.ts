#!/usr/bin/env node
/**
 * The `bandits` command:
 *   bandits simulate   the notebook's continual-learning protocol on shuttle (any learner settings)
 *   bandits evaluate   off-policy estimators on a logged file against a model or per-row actions
 *   bandits train      train (or warm-start) a model from joined-record files or VW text
 *   bandits describe   what a saved model is: learner, feature map and bins, probability floor
 *   bandits predict    a saved model's action, its probability and the pmf for every context of a file
 *
 * Data files are read streaming (CSV, JSON lines or VW text, a chunk at a time), so a file of any
 * size trains, scores and evaluates in bounded memory.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
// Subpaths, not the root: the root loads the experiment manager and the platforms too, which
// this command never uses (about 30 ms of every run's start-up).
import { Config, findProjectRoot, loadConfig } from "@cbkit/common/config";
import { DataFileError, DEFAULT_REWARD_RANGE, JoinedRecordReader, readJoinedRecords, readVwTextRecords, rewardRangeOf, type JoinedRecord, type RewardBounds } from "@cbkit/common/data";
import { CbLearner, LEARNER_PARAMETER_LIST, LearnerOptions, POLICIES, allowedText, learnerOptionsFromParameters, learnerSettings, loadModel, saveModel } from "@cbkit/common/learner";
import { ESTIMATOR_NAMES, ESTIMATORS, Estimator, EstimatorName, estimatorNamed, evaluatePolicy, formatEstimateTable } from "@cbkit/common/ope";
import { didYouMean, sortableSuffix } from "@cbkit/common/util";
import { SimulationResult, median, simulate } from "../simulate/simulate";

/** A usage error: printed with a hint, exit code 2. */
export class CliUsageError extends Error {}

/**
 * One flag of a command: its type, help, the placeholder of its value in the help (default <v>),
 * and for a required flag why it is needed (the error when it is missing).
 */
type Spec = { type: "string" | "boolean"; short?: string; help: string; value?: string; required?: string; param?: string };

/**
 * Learner flags, one per parameter of the learner's registry (policies.ts): the key in kebab-case
 * (or the parameter's own flag, --policy), its help and what it allows. The values in effect
 * (config file, flag or default) are listed by --help.
 */
const LEARNER_FLAGS: Record<string, Spec & { param: string }> = Object.fromEntries(
  LEARNER_PARAMETER_LIST.map((p) => [p.flag ?? p.key.replace(/_/g, "-"), { type: "string", help: `${p.help}; ${allowedText(p)}`, param: p.key }]),
);

/** The flag of a learner parameter. */
const flagOf = (param: string): string | undefined => Object.entries(LEARNER_FLAGS).find(([, f]) => f.param === param)?.[0];

/** Data flags shared by train and evaluate. */
const DATA_FLAGS: Record<string, Spec> = {
  strict: { type: "boolean", help: "any row that would be skipped (unreadable, not a number, probability outside (0, 1], ...) is an error" },
  "min-reward": { type: "string", help: "smallest possible reward (config workflow.min_reward, else 0)" },
  "max-reward": { type: "string", help: "largest possible reward (config workflow.max_reward, else 1)" },
};

/** The config flags of the commands that take learner settings. */
const LEARNER_CONFIG_FLAGS: Record<string, Spec> = {
  config: { type: "string", value: "<file>", help: "learner settings from this config file's algor.algorithms_parameters (default: the project's config.yaml; flags override)" },
  "no-config": { type: "boolean", help: "ignore config.yaml: start from the learner's own (VW-like) defaults" },
};

const COMMON: Record<string, Spec> = {
  help: { type: "boolean", short: "h", help: "show this help" },
  json: { type: "boolean", help: "print JSON instead of a table" },
};

/**
 * The commands, each with its own flags; `learner` commands also take the learner and config
 * flags. A command's whole flag table (flagTable) is what --help lists, what the parser accepts
 * and what a mistyped flag is matched against.
 */
const COMMANDS: Record<string, { summary: string; flags: Record<string, Spec>; learner: boolean; usageNote?: string }> = {
  simulate: {
    summary: "run the notebook's protocol on shuttle: warm start, then loops of frozen-model decisions and retraining",
    learner: true,
    flags: {
      seeds: { type: "string", help: "seeds: N (= 1..N), a range 3-7, or a list 1,4,9 (default 1)" },
      loops: { type: "string", help: "retraining loops (default 15)" },
      "batch-size": { type: "string", help: "decisions per loop (default 500)" },
      "warm-start": { type: "string", help: "uniform-random warm-start decisions (default 100)" },
      "train-on-all": { type: "boolean", help: "retrain on every record of a loop, not only its train split" },
      "data-file": { type: "string", value: "<file>", help: "shuttle.trn (default: config data_file or ../shared/data/shuttle.trn)" },
    },
  },
  evaluate: {
    summary: `estimate a policy's average cost on logged data (${ESTIMATORS.map((e) => e.name.toUpperCase()).join(", ")} with 95% intervals)`,
    usageNote: "(--model <dir> | --actions <file>)",
    learner: false,
    flags: {
      data: { type: "string", value: "<file|dir>", required: "the logged file or folder to evaluate on", help: "logged data: joined-record CSV / JSON lines (file or folder), or VW text (.vw/.txt)" },
      ...DATA_FLAGS,
      config: { type: "string", value: "<file>", help: "read the reward range from this config file (default: the project's config.yaml)" },
      "no-config": { type: "boolean", help: "ignore config.yaml" },
      model: { type: "string", value: "<dir>", help: "a model folder saved by the kit: its full pmf is the target policy" },
      actions: { type: "string", value: "<file>", help: "per-row target actions, 1-based: one per line or a JSON array (or 'vw' to use the evaluated actions of VW --eval lines)" },
      estimators: { type: "string", help: `comma-separated subset of ${ESTIMATOR_NAMES.join(",")} (default all)` },
      seed: { type: "string", help: "bootstrap seed (default 1)" },
      bootstrap: { type: "string", help: "bootstrap samples (default 1000; 0 = normal intervals only)" },
    },
  },
  predict: {
    summary: "score contexts with a saved model: the action it draws, its probability and the full pmf of every row",
    learner: false,
    flags: {
      model: { type: "string", value: "<dir>", required: "the model folder to score with", help: "a model folder saved by the kit" },
      data: { type: "string", value: "<file|dir>", required: "the file or folder of contexts to score", help: "the contexts: joined-record CSV / JSON lines (file or folder), or VW text (.vw/.txt); the observation of each row is scored" },
      out: { type: "string", value: "<file>", help: "write the predictions to this file (default: standard output)" },
      format: { type: "string", value: "<csv|jsonl>", help: "csv (event_id,action,action_prob,pmf) or jsonl (one object per row); default: from --out's extension, else csv" },
      strict: DATA_FLAGS.strict,
    },
  },
  describe: {
    summary: "describe a saved model: learner, feature map with its bins, feature count, probability floor",
    learner: false,
    flags: {
      model: { type: "string", value: "<dir>", required: "the model folder to describe", help: "a model folder saved by the kit" },
    },
  },
  train: {
    summary: "train a model on logged data, optionally warm-starting from a saved model",
    learner: true,
    flags: {
      data: { type: "string", value: "<file|dir>", required: "the joined records to train on", help: "training data: joined-record CSV / JSON lines (file or folder), or VW text" },
      out: { type: "string", value: "<dir>", required: "the folder to save the model in", help: "folder to save the trained model in" },
      model: { type: "string", value: "<dir>", help: "warm-start from this saved model (learner options then come from it)" },
      "model-id": { type: "string", value: "<id>", help: "id of the new model (default: the --out folder's name and a unique suffix, e.g. model-mgk2x1f0a3c9)" },
      seed: { type: "string", help: "learner seed (config seed, else 1)" },
      ...DATA_FLAGS,
    },
  },
};

/** Every flag of a command in the order --help lists them: required first, then its own, learner, config and common flags. */
function flagTable(cmd: string): [string, Spec][] {
  const c = COMMANDS[cmd];
  const all = Object.entries({ ...c.flags, ...(c.learner ? { ...LEARNER_FLAGS, ...LEARNER_CONFIG_FLAGS } : {}), ...COMMON });
  return [...all.filter(([, s]) => s.required), ...all.filter(([, s]) => !s.required)];
}

/** The flag as written in help: --name, with its value's placeholder. */
const flagText = (name: string, s: Spec): string => `--${name}${s.type === "string" ? ` ${s.value ?? "<v>"}` : ""}`;

function helpText(cmd?: string, values: Record<string, string | boolean | undefined> = {}): string {
  if (!cmd) {
    return [
      "bandits — the contextual-bandit workshop kit's command line",
      "",
      "usage: bandits <command> [options]",
      "",
      ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(9)} ${c.summary}`),
      "",
      "bandits <command> --help shows the options of a command; bandits --version prints the kit's version.",
    ].join("\n");
  }
  const c = COMMANDS[cmd];
  const table = flagTable(cmd);
  const required = table.filter(([, s]) => s.required);
  const optional = table.filter(([, s]) => !s.required);
  const usage = ["bandits", cmd, ...required.map(([n, s]) => flagText(n, s)), ...(c.usageNote ? [c.usageNote] : []), "[options]"].join(" ");
  const w = Math.max(...table.map(([n, s]) => flagText(n, s).length));
  const rows = (flags: [string, Spec][]) => flags.map(([n, s]) => `  ${flagText(n, s).padEnd(w)}  ${s.help}`);
  const text = [`bandits ${cmd}: ${c.summary}`, "", `usage: ${usage}`, ""];
  if (required.length) text.push("required:", ...rows(required), "");
  text.push("options:", ...rows(optional));
  if (c.learner) text.push("", ...policiesText());
  if (c.learner) text.push("", ...effectiveSettingsText(values, cmd === "train"));
  return text.join("\n");
}

/** The exploration policies of --policy, each with how it explores and its own flags. */
function policiesText(): string[] {
  const w = Math.max(...POLICIES.map((p) => p.name.length));
  return [
    "exploration policies (--policy):",
    ...POLICIES.map((p) => `  ${p.name.padEnd(w)}  ${p.help}${p.parameters.length ? ` (${p.parameters.map((x) => `--${flagOf(x.key)}`).join(", ")})` : ""}`),
  ];
}

/** A setting in effect and where its value comes from. */
export interface EffectiveSetting {
  name: string;
  value: unknown;
  /** "flag --x", "config <file>" or "default". */
  source: string;
}

/**
 * The learner settings a command would use, each with its source: the registry's defaults (for
 * num_arms, which has none, the value config.yaml ships: the shuttle app's 7), then config.yaml's
 * algor.algorithms_parameters (--config, else the project's config.yaml; --no-config skips it),
 * then the learner flags, which win. With `withData`, also the seed and the reward range.
 */
export function effectiveSettings(values: Record<string, string | boolean | undefined>, withData = true): EffectiveSetting[] {
  const configFile = configFileOf(values);
  const config = configFile ? loadConfig(configFile) : null;
  const fromConfig = (config?.algor.algorithms_parameters ?? {}) as Record<string, unknown>;
  const out: EffectiveSetting[] = [];
  for (const p of LEARNER_PARAMETER_LIST) {
    const flag = flagOf(p.key);
    if (flag && values[flag] !== undefined) out.push({ name: p.key, value: values[flag], source: `flag --${flag}` });
    else if (fromConfig[p.key] !== undefined && fromConfig[p.key] !== null) out.push({ name: p.key, value: fromConfig[p.key], source: `config ${configFile}` });
    else out.push({ name: p.key, value: p.default ?? p.shipped, source: "default" });
  }
  if (withData) {
    const seed = values.seed !== undefined ? { value: values.seed, source: "flag --seed" } : config ? { value: config.seed, source: `config ${configFile}` } : { value: 1, source: "default" };
    out.push({ name: "seed", ...seed });
    out.push(...rewardSettings(values, config, configFile));
  }
  return out;
}

function rewardSettings(values: Record<string, string | boolean | undefined>, config: Config | null, configFile: string | null): EffectiveSetting[] {
  return (["min_reward", "max_reward"] as const).map((name) => {
    const flag = name === "min_reward" ? "min-reward" : "max-reward";
    if (values[flag] !== undefined) return { name, value: values[flag], source: `flag --${flag}` };
    if (config) return { name, value: config.workflow[name], source: `config ${configFile} (workflow.${name})` };
    return { name, value: name === "min_reward" ? DEFAULT_REWARD_RANGE.minReward : DEFAULT_REWARD_RANGE.maxReward, source: "default" };
  });
}

function effectiveSettingsText(values: Record<string, string | boolean | undefined>, withData: boolean): string[] {
  let settings: EffectiveSetting[];
  try {
    settings = effectiveSettings(values, withData);
  } catch (e) {
    return [`settings in effect: unavailable (${(e as Error).message})`];
  }
  const w = Math.max(...settings.map((s) => s.name.length));
  const vw = Math.max(...settings.map((s) => String(s.value).length));
  return ["settings in effect (value, where it comes from):", ...settings.map((s) => `  ${s.name.padEnd(w)}  ${String(s.value).padEnd(vw)}  ${s.source}`)];
}

type ParseOptions = Record<string, { type: "string" | "boolean"; short?: string }>;

/** The flag values of a command's arguments; an unknown flag is a usage error naming the closest known one. */
function parse(cmd: string, argv: string[]): Record<string, string | boolean | undefined> {
  const table = flagTable(cmd);
  const options: ParseOptions = Object.fromEntries(table.map(([n, s]) => [n, { type: s.type, ...(s.short ? { short: s.short } : {}) }]));
  const hint = `\nRun 'bandits ${cmd} --help' for the options.`;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    const unknown = (e as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? unknownOption(argv, options) : undefined;
    if (unknown) throw new CliUsageError(`Unknown option '${unknown}'${didYouMean(unknown, table.map(([n]) => `--${n}`))}${hint}`);
    throw new CliUsageError(`${(e as Error).message.replace(/\. To specify.*$/s, "")}${hint}`);
  }
  if (!values.help) {
    for (const [n, s] of table) if (s.required && values[n] === undefined) throw new CliUsageError(`--${n} is required: ${s.required}${hint}`);
  }
  return values;
}

/** The first option of `argv` that `options` does not know, as written (--polcy), read the way parseArgs reads it. */
function unknownOption(argv: string[], options: ParseOptions): string | undefined {
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) if (t.kind === "option" && !(t.name in options)) return t.rawName;
  return undefined;
}

function num(v: string | number | boolean | undefined, flag: string, dflt: number, opts: { int?: boolean; min?: number } = {}): number {
  if (v === undefined) return dflt;
  if (typeof v === "number") return v;
  const x = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(x) || (opts.int && !Number.isInteger(x)) || (opts.min !== undefined && x < opts.min)) {
    throw new CliUsageError(`--${flag} must be ${opts.int ? "an integer" : "a number"}${opts.min !== undefined ? ` >= ${opts.min}` : ""}, got ${JSON.stringify(v)}`);
  }
  return x;
}

/** Seeds from "N", "a-b" or "a,b,c". */
export function parseSeeds(v: string | undefined): number[] {
  if (v === undefined) return [1];
  const s = v.trim();
  let out: number[] = [];
  if (/^\d+$/.test(s)) out = Array.from({ length: Number(s) }, (_, i) => i + 1);
  else if (/^-?\d+\s*-\s*-?\d+$/.test(s)) {
    const [a, b] = s.split(/(?<=\d)\s*-\s*/).map(Number);
    for (let i = a; i <= b; i++) out.push(i);
  } else if (/^-?\d+(\s*,\s*-?\d+)*$/.test(s)) out = s.split(",").map((x) => Number(x.trim()));
  if (out.length === 0) throw new CliUsageError(`--seeds must be a count (10), a range (1-10) or a list (1,2,3), got ${JSON.stringify(v)}`);
  return out;
}

/** Learner parameters as snake_case, as effectiveSettings lists them. */
function learnerParams(values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  for (const s of effectiveSettings(values, false)) p[s.name] = s.value;
  return p;
}

/** The reward range in effect (flags, else the config's workflow.min_reward / max_reward, else [0, 1]). */
function rewardRange(values: Record<string, string | boolean | undefined>): RewardBounds {
  const configFile = configFileOf(values);
  const [lo, hi] = rewardSettings(values, configFile ? loadConfig(configFile) : null, configFile);
  const minReward = num(lo.value as string | undefined, "min-reward", DEFAULT_REWARD_RANGE.minReward);
  const maxReward = num(hi.value as string | undefined, "max-reward", DEFAULT_REWARD_RANGE.maxReward);
  try {
    return rewardRangeOf({ minReward, maxReward });
  } catch (e) {
    throw new CliUsageError(`${(e as Error).message}; in effect: min_reward ${minReward} (${lo.source}), max_reward ${maxReward} (${hi.source})`);
  }
}

/** The config file the learner settings come from, or null with --no-config. */
function configFileOf(values: Record<string, string | boolean | undefined>): string | null {
  if (values["no-config"]) return null;
  if (typeof values.config === "string") return values.config;
  const projectConfig = path.join(findProjectRoot(), "config.yaml");
  return fs.existsSync(projectConfig) ? projectConfig : null;
}

function toOptions(p: Record<string, unknown>, seed?: number | string): LearnerOptions {
  try {
    return learnerOptionsFromParameters(p, seed);
  } catch (e) {
    const field = (e as { field?: string }).field;
    const flag = field === undefined ? undefined : flagOf(field);
    throw new CliUsageError(flag ? `--${flag}: ${(e as Error).message.slice(String(field).length + 2)}` : (e as Error).message);
  }
}

/** The value of a required flag (parse refuses a command without it, with the flag table's reason). */
function requiredFlag(v: Record<string, string | boolean | undefined>, name: string): string {
  const x = v[name];
  if (typeof x !== "string") throw new CliUsageError(`--${name} is required`);
  return x;
}

/** The reader of --data (joined-record CSV / JSON lines, a folder of them, or VW text); a missing path is a usage error. */
function dataReader(data: string, strict: boolean): JoinedRecordReader {
  if (!fs.existsSync(data)) throw new CliUsageError(`--data: ${data} does not exist`);
  return readJoinedRecords(data, { strict });
}

/** The loud report of skipped rows. */
function skippedText(skipped: number, reasons: string[]): string {
  return `WARNING: skipped ${skipped} row(s) (--strict makes this an error); the first: ${reasons.join("; ")}`;
}

async function cmdSimulate(v: Record<string, string | boolean | undefined>, out: (s: string) => void): Promise<void> {
  const seeds = parseSeeds(v.seeds as string | undefined);
  const loops = num(v.loops, "loops", 15, { int: true, min: 1 });
  const batch = num(v["batch-size"], "batch-size", 500, { int: true, min: 1 });
  const warm = num(v["warm-start"], "warm-start", 100, { int: true, min: 0 });
  const params = learnerParams(v);
  toOptions(params, 1); // validate before running
  const runs: SimulationResult[] = [];
  for (const seed of seeds) {
    const r = await simulate({ learner: toOptions(params, seed), seed, loops, batchSize: batch, warmStart: warm, trainOnAll: v["train-on-all"] === true, dataFile: (v["data-file"] as string) ?? null });
    runs.push(r);
  }
  const opts = runs[0].learner.options;
  if (v.json) {
    out(JSON.stringify({
      learner: opts,
      vwArguments: runs[0].learner.vwArguments,
      loops, batchSize: batch, warmStart: warm,
      seeds: runs.map((r) => ({ seed: r.seed, loopRewards: r.loopRewards, overall: r.overall, loops11to15: r.lastFive, minLoggedProb: r.minLoggedProb })),
      median: { overall: median(runs.map((r) => r.overall)), loops11to15: median(runs.map((r) => r.lastFive)) },
      minLoggedProb: Math.min(...runs.map((r) => r.minLoggedProb)),
    }, null, 2));
    return;
  }
  out(`learner: ${runs[0].learner.vwArguments}${opts.featureMap !== "linear" ? ` (feature map ${opts.featureMap}${opts.featureMap === "bins" ? ` ${opts.numBins}, ${opts.binning}` : ""})` : ""}${opts.minProbability ? `, min probability ${opts.minProbability}` : ""}`);
  out(`protocol: warm start ${warm} uniform decisions, then ${loops} loops × ${batch} decisions (model frozen in a loop, retrained after it)`);
  out("");
  const head = ["seed", ...runs[0].loopRewards.map((_, i) => `L${i + 1}`), "overall", "L11-15", "min p"];
  const rows = runs.map((r) => [String(r.seed), ...r.loopRewards.map((x) => x.toFixed(3)), r.overall.toFixed(3), r.lastFive.toFixed(3), r.minLoggedProb.toExponential(1)]);
  if (runs.length > 1) {
    rows.push(["median", ...runs[0].loopRewards.map((_, i) => median(runs.map((r) => r.loopRewards[i])).toFixed(3)), median(runs.map((r) => r.overall)).toFixed(3), median(runs.map((r) => r.lastFive)).toFixed(3), Math.min(...runs.map((r) => r.minLoggedProb)).toExponential(1)]);
  }
  const w = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (c: string[]) => c.map((x, j) => x.padStart(w[j])).join(" ");
  out(line(head));
  for (const r of rows) out(line(r));
  out("\nmean reward per loop (oracle 1.0, always-class-1 0.784); min p = smallest probability of any action in any logged decision");
}

async function cmdEvaluate(v: Record<string, string | boolean | undefined>, out: (s: string) => void): Promise<void> {
  const data = requiredFlag(v, "data");
  if ((v.model === undefined) === (v.actions === undefined)) throw new CliUsageError("give exactly one target policy: --model <dir> or --actions <file>");
  const estimators = typeof v.estimators === "string" ? estimatorsOfFlag(v.estimators) : undefined;
  const seed = v.seed === undefined ? 1 : (v.seed as string);
  const bootstrapSamples = num(v.bootstrap, "bootstrap", 1000, { int: true, min: 0 });
  const range = rewardRange(v);
  const reader = dataReader(data, v.strict === true);
  let target: Parameters<typeof evaluatePolicy>[1];
  let targetName: string;
  if (typeof v.model === "string") {
    const { learner, metadata } = await loadModel(v.model);
    target = learner;
    targetName = `${metadata.modelId} in ${v.model} (${metadata.algorithm.vwArguments})`;
  } else {
    let actions: number[];
    if (v.actions === "vw") {
      actions = [];
      for await (const c of reader.columnBatches({ ids: true })) {
        const ev = c.evalAction as Int32Array;
        for (let i = 0; i < c.n; i++) {
          if (ev[i] === 0) throw new CliUsageError("--actions vw needs VW --eval lines (evaluated action before the label) on every row");
          actions.push(ev[i]);
        }
      }
    } else {
      const text = fs.readFileSync(v.actions as string, "utf8").trim();
      actions = text.startsWith("[") ? (JSON.parse(text) as number[]) : text.split(/\s+/).map(Number);
      let rows = 0;
      for await (const c of reader.columnBatches()) rows += c.n;
      if (actions.length !== rows) throw new CliUsageError(`--actions has ${actions.length} actions, the data has ${rows} rows`);
    }
    target = { actions };
    targetName = `per-row actions from ${v.actions}`;
  }
  let res;
  try {
    res = await evaluatePolicy(reader, target, { estimators, seed, bootstrapSamples, ...range });
  } catch (e) {
    if (reader.rows === 0 && !(e instanceof DataFileError)) throw new DataFileError(data, null, reader.whyNoRecords());
    throw e;
  }
  const rows = reader.rows;
  if (v.json) {
    out(JSON.stringify({ target: targetName, data, rows, skipped: reader.malformed, reasons: reader.malformedReasons, estimates: res }, null, 2));
    return;
  }
  out(`target: ${targetName}`);
  out(`data: ${data}: ${rows} rows`);
  if (reader.malformed) out(skippedText(reader.malformed, reader.malformedReasons));
  out("");
  out(formatEstimateTable(res).trimEnd());
}

/** `--estimators dr,ips`: the registry's estimators of those names; an unknown or empty list is a usage error with the choices. */
function estimatorsOfFlag(text: string): Estimator<EstimatorName>[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) throw new CliUsageError(`--estimators is empty; choose from ${ESTIMATOR_NAMES.join(", ")}`);
  return names.map((name) => {
    try {
      return estimatorNamed(name, "--estimators");
    } catch (error) {
      throw new CliUsageError((error as Error).message);
    }
  });
}

async function cmdTrain(v: Record<string, string | boolean | undefined>, out: (s: string) => void): Promise<void> {
  const data = requiredFlag(v, "data");
  const outDir = requiredFlag(v, "out");
  const strict = v.strict === true;
  const range = rewardRange(v);
  let learner: CbLearner;
  let parent: string | null = null;
  if (typeof v.model === "string") {
    const m = await loadModel(v.model);
    learner = m.learner;
    parent = m.metadata.modelId;
  } else {
    const settings = effectiveSettings(v);
    const seed = settings.find((x) => x.name === "seed")?.value as string | number;
    learner = CbLearner.create(toOptions(learnerParams(v), seed));
  }
  const t0 = process.hrtime.bigint();
  const reader = dataReader(data, strict);
  const report = await learner.train(reader, { strict, ...range });
  if (report.used === 0) {
    const why = reader.rows > 0 ? `all ${reader.rows} row(s) read were skipped (first reasons: ${report.reasons.join("; ")})` : reader.whyNoRecords();
    throw new DataFileError(data, null, `${why}; no model saved`);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const modelId = (v["model-id"] as string | undefined) ?? defaultModelId(outDir);
  await saveModel(learner, outDir, { modelId, parentModelId: parent });
  const summary = {
    modelId, parentModelId: parent, out: outDir, description: learner.description,
    used: report.used, skipped: report.skipped, reasons: report.reasons, examplesSeen: learner.examplesSeen, seconds, recordsPerSecond: report.used / seconds,
  };
  if (v.json) out(JSON.stringify(summary, null, 2));
  else {
    out(`trained ${modelId} on ${report.used} records in ${seconds.toFixed(2)} s (${Math.round(summary.recordsPerSecond)} records/s), ${learner.examplesSeen} examples seen in total`);
    out(`model: ${learner.description}`);
    if (report.skipped) out(skippedText(report.skipped, report.reasons));
    out(`saved to ${outDir}${parent ? ` (warm-started from ${parent})` : ""}`);
  }
}

/**
 * The id of a model trained into `outDir` without --model-id: the folder's name (made a safe id,
 * as the workshop's are) and a unique sortable suffix, e.g. `model-mgk2x1f0a3c9` for `--out model/`.
 * The suffix keeps apart the models of folders with the same name (every workshop model lives in a
 * folder called `model`), so a warm-started model does not name a parent with its own id.
 */
export function defaultModelId(outDir: string): string {
  const base = path.basename(path.resolve(outDir)).replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return `${base || "model"}-${sortableSuffix()}`;
}

/** Output of `bandits predict`: a header (CSV) and one line per row. */
const PREDICT_CSV_HEADER = "event_id,action,action_prob,pmf";

async function cmdPredict(v: Record<string, string | boolean | undefined>, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  const model = requiredFlag(v, "model");
  const data = requiredFlag(v, "data");
  const format = v.format ?? (typeof v.out === "string" && /\.(jsonl|ndjson)$/i.test(v.out) ? "jsonl" : "csv");
  if (format !== "csv" && format !== "jsonl") throw new CliUsageError(`--format must be csv or jsonl, got ${JSON.stringify(format)}`);
  const reader = dataReader(data, v.strict === true);
  const { learner, metadata } = await loadModel(model);
  const t0 = process.hrtime.bigint();
  const fd = typeof v.out === "string" ? fs.openSync(v.out, "w") : 1;
  const w = new ByteWriter(fd);
  const csv = format === "csv";
  let rows = 0;
  let closed = false; // the reader of standard output went away (e.g. `| head`): stop quietly
  try {
    if (csv) w.text(PREDICT_CSV_HEADER + "\n");
    const sep = csv ? ", " : ",";
    for await (const c of reader.columnBatches({ ids: true })) {
      const ids = c.eventId as string[];
      learner.predictColumns(c, (i, pmf) => {
        const id = ids[i] !== "" ? ids[i] : `${c.file}:${c.line[i]}`;
        const a = learner.sampleAction(pmf, id);
        if (csv) {
          w.text(csvText(id));
          w.text(",");
        } else {
          w.text('{"event_id":');
          w.text(JSON.stringify(id));
          w.text(',"action":');
        }
        w.int(a + 1);
        w.text(csv ? "," : ',"action_prob":');
        w.number(pmf[a]);
        w.text(csv ? ',"[' : ',"pmf":[');
        for (let j = 0; j < pmf.length; j++) {
          if (j > 0) w.text(sep);
          w.number(pmf[j]);
        }
        w.text(csv ? ']"\n' : "]}\n");
      });
      rows += c.n;
      try {
        w.flush();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
        closed = true;
        break;
      }
    }
  } finally {
    if (fd !== 1) fs.closeSync(fd);
  }
  if (closed) return;
  if (rows === 0) throw new DataFileError(data, null, reader.whyNoRecords());
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  // The summary goes where the predictions do not: stdout only when they went to a file.
  const say = typeof v.out === "string" ? out : err;
  if (v.json) {
    say(JSON.stringify({ modelId: metadata.modelId, data, out: v.out ?? null, format, rows, skipped: reader.malformed, reasons: reader.malformedReasons, seconds, rowsPerSecond: rows / seconds }, null, 2));
    return;
  }
  say(`predicted ${rows} rows with model ${metadata.modelId} in ${seconds.toFixed(2)} s (${Math.round(rows / seconds)} rows/s)${typeof v.out === "string" ? `; written to ${v.out}` : ""}`);
  if (reader.malformed) say(skippedText(reader.malformed, reader.malformedReasons));
}

/** A CSV field: quoted when it holds a comma, a quote or a line break. */
function csvText(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Output straight into a reused byte buffer (no string per line). Numbers are written exactly
 * (String(x), the shortest text that reads back as x), with the last few thousand remembered as
 * bytes: a policy's pmf takes few distinct values (egreedy: two), so most are formatted once.
 */
class ByteWriter {
  private buf = Buffer.allocUnsafe(1 << 20);
  private n = 0;
  private readonly numbers = new Map<number, Uint8Array>();
  constructor(private readonly fd: number) {}

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    this.buf.copy(bigger, 0, 0, this.n);
    this.buf = bigger;
  }

  text(s: string): void {
    this.room(s.length * 3);
    const b = this.buf;
    let n = this.n;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128) {
        this.n += b.write(s, this.n, "utf8");
        return;
      }
      b[n++] = c;
    }
    this.n = n;
  }

  int(x: number): void {
    this.text(String(x));
  }

  number(x: number): void {
    let t = this.numbers.get(x);
    if (t === undefined) {
      if (this.numbers.size >= 4096) this.numbers.clear();
      this.numbers.set(x, (t = Buffer.from(String(x), "latin1")));
    }
    this.room(t.length);
    const b = this.buf;
    let n = this.n;
    for (let i = 0; i < t.length; i++) b[n++] = t[i];
    this.n = n;
  }

  /** Writes out what is buffered. */
  flush(): void {
    let off = 0;
    while (off < this.n) off += fs.writeSync(this.fd, this.buf, off, this.n - off);
    this.n = 0;
  }
}

async function cmdDescribe(v: Record<string, string | boolean | undefined>, out: (s: string) => void): Promise<void> {
  const model = requiredFlag(v, "model");
  const { learner, metadata } = await loadModel(model);
  const o = learner.options;
  const fm = learner.state.featureMap;
  const info = {
    modelId: metadata.modelId,
    parentModelId: metadata.parentModelId,
    createdAt: metadata.createdAt,
    description: learner.description,
    vwArguments: learner.vwArguments,
    numArms: learner.numArms,
    numFeatures: learner.numFeatures,
    featureMap: fm.kind,
    bins: fm.kind === "bins" ? { perFeature: fm.numBins, binning: fm.binning, edges: fm.binEdges } : null,
    minProbability: o.minProbability,
    examplesSeen: learner.examplesSeen,
    options: o,
    settings: learnerSettings(o),
  };
  if (v.json) {
    out(JSON.stringify(info, null, 2));
    return;
  }
  out(`model ${info.modelId}${info.parentModelId ? ` (warm-started from ${info.parentModelId})` : ""}, created ${info.createdAt}`);
  out(`learner: ${info.vwArguments}`);
  out(`actions: ${info.numArms}; features: ${info.numFeatures ?? "not fixed yet"}`);
  if (fm.kind === "bins") {
    out(`feature map: bins, ${fm.numBins} per feature, ${fm.binning} edges${fm.binEdges === null ? " (not fitted yet)" : ""}`);
    for (const [name, edges] of Object.entries(fm.binEdges ?? {})) out(`  feature ${name}: edges ${edges.map((e) => Number(e.toPrecision(4))).join(", ")}`);
  } else out(`feature map: ${fm.kind}`);
  out(`probability floor: ${o.minProbability > 0 ? `${o.minProbability} (every action keeps at least this probability)` : "off (0)"}`);
  out(`examples seen: ${info.examplesSeen}; seed ${o.seed}`);
  out("settings (tunable: config.yaml's value applies to the next model trained from this one; fixed: every model of its line keeps it):");
  const w = Math.max(...info.settings.map((x) => x.key.length)), vw = Math.max(...info.settings.map((x) => String(x.value).length));
  for (const x of info.settings) out(`  ${x.key.padEnd(w)}  ${String(x.value).padEnd(vw)}  ${x.onRetrain}`);
}

/** The kit's version: the one in the package.json of the package that ships this command. */
export function kitVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string };
  return pkg.version;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + "\n"), err: (s: string) => void = (s) => process.stderr.write(s + "\n")): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
    out(helpText(rest[0] && COMMANDS[rest[0]] ? rest[0] : undefined));
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === "--version" || cmd === "-V") {
    out(`bandits ${kitVersion()}`);
    return 0;
  }
  if (!COMMANDS[cmd]) {
    const known = cmd.startsWith("-") ? ["--help", "--version"] : [...Object.keys(COMMANDS), "help"];
    err(`unknown ${cmd.startsWith("-") ? "option" : "command"} ${JSON.stringify(cmd)}${didYouMean(cmd, known)}; commands: ${Object.keys(COMMANDS).join(", ")}\nRun 'bandits --help' for the commands.`);
    return 2;
  }
  try {
    const v = parse(cmd, rest);
    if (v.help) {
      out(helpText(cmd, v));
      return 0;
    }
    if (cmd === "simulate") await cmdSimulate(v, out);
    else if (cmd === "evaluate") await cmdEvaluate(v, out);
    else if (cmd === "describe") await cmdDescribe(v, out);
    else if (cmd === "predict") await cmdPredict(v, out, err);
    else await cmdTrain(v, out);
    return 0;
  } catch (e) {
    if (e instanceof CliUsageError) {
      err(`bandits ${cmd}: ${e.message}`);
      return 2;
    }
    err(`bandits ${cmd}: ${(e as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
