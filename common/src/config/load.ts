/**
 * Reading config.yaml: YAML syntax errors with their line, then a validation against the schema
 * that reports every problem at once (path, the value found, what is allowed, and the line).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Document, LineCounter } from "yaml";

/** The YAML library, loaded by the first config read (commands that read no config never load it). */
const yaml = (): typeof import("yaml") => require("yaml") as typeof import("yaml");
import { CONFIG_SCHEMA, REMOVED_CONFIG_KEYS, ConfigValues, ConfigObjectNode, ConfigSchemaNode } from "./schema";
import { findProjectRoot } from "./paths";
import { NUMBER_CONTRACT, numberProblem } from "../data/numbers";
import { rewardRangeIssue, rewardProblem } from "../data/rewards";
import { didYouMean } from "../util/suggest";
import { learnerParameterProblems } from "../learner/options";

/** One problem in a config file. */
export interface ConfigIssue {
  /** Dotted key path, e.g. `algor.algorithms_parameters.epsilon` ("" for the whole file). */
  path: string;
  /** The value found, rendered for people ("(missing)" when absent). */
  found: string;
  /** What is allowed. */
  expected: string;
  /** 1-based line in the file, when known. */
  line?: number;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  readonly source: string;
  constructor(source: string, issues: ConfigIssue[]) {
    const lines = issues.map(
      (i) => `  - ${i.path || "(document)"}${i.line ? ` (line ${i.line})` : ""}: found ${i.found}; expected ${i.expected}`,
    );
    super(`${source}: ${issues.length} problem${issues.length === 1 ? "" : "s"} in the config\n${lines.join("\n")}`);
    this.name = "ConfigError";
    this.issues = issues;
    this.source = source;
  }
}

/** The validated config: every key of the schema with defaults applied, plus where it came from. */
export type Config = ConfigValues & {
  /** Accepted but questionable settings (e.g. cfa_type: dm). */
  warnings: string[];
  /** Absolute path of the file, or null when parsed from text. */
  path: string | null;
  /** Folder relative paths in the config (workspace, data_file) are taken from. */
  dir: string;
  projectRoot: string;
};

/** The config.yaml of the project root. */
export function defaultConfigPath(): string {
  return path.join(findProjectRoot(), "config.yaml");
}

/** Reads and validates a config file (default: config.yaml of the project root). */
export function loadConfig(file?: string): Config {
  const resolved = path.resolve(file ?? defaultConfigPath());
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(resolved);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new Error(`config file not found: ${resolved} (the project ships one as config.yaml in its root: ${defaultConfigPath()})`);
    }
    if (code === "EISDIR") {
      throw new ConfigError(resolved, [{ path: "", found: "a folder", expected: `a config file, not a folder (did you mean ${path.join(resolved, "config.yaml")}?)` }]);
    }
    throw new ConfigError(resolved, [{ path: "", found: `a file that cannot be read (${code ?? (e as Error).message})`, expected: "a readable config file" }]);
  }
  return parseConfig(decodeConfigText(bytes, resolved), resolved, resolved);
}

/** The text of a config file, which must be UTF-8 (a byte-order mark is allowed); else a ConfigError saying so. */
export function decodeConfigText(bytes: Uint8Array, source: string): string {
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  const nul = bytes.indexOf(0);
  if (utf16 || nul >= 0) {
    const what = utf16 ? "UTF-16 (it starts with a UTF-16 byte-order mark)" : `a NUL byte at offset ${nul} (UTF-16 text, or not text at all)`;
    throw new ConfigError(source, [{ path: "", found: what, expected: "UTF-8 text: save the file as UTF-8 (in PowerShell: Set-Content -Encoding utf8)" }]);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const line = firstInvalidUtf8Line(bytes);
    throw new ConfigError(source, [{ path: "", found: "bytes that are not valid UTF-8", expected: "UTF-8 text: save the file as UTF-8", line }]);
  }
}

/** The 1-based line of the first byte sequence that is not UTF-8. */
function firstInvalidUtf8Line(bytes: Uint8Array): number | undefined {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let start = 0;
  let line = 1;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    try {
      decoder.decode(bytes.subarray(start, end));
    } catch {
      return line;
    }
    start = end + 1;
    line++;
  }
  return undefined;
}

/**
 * Parses and validates config text. `sourceName` names it in errors; `file` (optional) is the
 * path relative settings are resolved against (default: the project root).
 */
export function parseConfig(text: string, sourceName = "config.yaml", file: string | null = null): Config {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      sourceName,
      doc.errors.map((e) => ({
        path: "",
        found: `YAML syntax error (${e.code}): ${e.message.split("\n")[0]}`,
        expected: "valid YAML",
        line: e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line,
      })),
    );
  }
  let raw: unknown;
  try {
    // An alias expanding into more than 100 nodes is refused (a "billion laughs" file would take all memory).
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(sourceName, [
      {
        path: "",
        found: `YAML aliases that expand too far (${(e as Error).message})`,
        expected: "a config without nested aliases (*name) that repeat large parts of the file: write the values out",
      },
    ]);
  }
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const lineOf = (keys: string[], ofKey = false): number | undefined => lineInDoc(doc, lineCounter, keys, ofKey);
  const value = validateObject(CONFIG_SCHEMA, raw ?? undefined, [], issues, warnings, lineOf, raw === null || raw === undefined);
  if (value) crossFieldChecks(value as unknown as ConfigValues, issues, warnings, lineOf);
  const dir = file ? path.dirname(path.resolve(file)) : findProjectRoot();
  if (value) checkDataFile(value as unknown as ConfigValues, dir, issues, lineOf);
  if (issues.length > 0) {
    // In file order; issues without a line (missing top-level keys) last.
    const order = issues.map((issue, i) => ({ issue, i }));
    order.sort((a, b) => (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) || a.i - b.i);
    throw new ConfigError(sourceName, order.map((o) => o.issue));
  }
  return {
    ...(value as unknown as ConfigValues),
    warnings,
    path: file ? path.resolve(file) : null,
    dir,
    projectRoot: findProjectRoot(),
  };
}

/** A data_file that is set must be a file that exists (else the workshop fails much later). */
function checkDataFile(c: ConfigValues, dir: string, issues: ConfigIssue[], lineOf: LineOf): void {
  if (typeof c.data_file !== "string") return;
  const file = path.resolve(dir, c.data_file);
  let found: string | null = null;
  try {
    if (!fs.statSync(file).isFile()) found = `${JSON.stringify(c.data_file)}, which is a folder (${file})`;
  } catch {
    found = `${JSON.stringify(c.data_file)}, which does not exist (${file})`;
  }
  if (found) issues.push({ path: "data_file", found, expected: "the shuttle.trn file (relative to the config file's folder), or null for ../shared/data/shuttle.trn", line: lineOf(["data_file"]) });
}

/** Why a string is not a usable file-system path, or null. */
export function pathProblem(v: string): string | null {
  if (v.trim() === "") return "an empty path (it would be the config file's own folder)";
  if (v.includes("\0")) return "a NUL character";
  if (/[\u0001-\u001f\u007f]/.test(v)) return "a control character";
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v)) return "a broken Unicode escape (a lone surrogate: not valid UTF-8 in a file name)";
  return null;
}

type LineOf = (keys: string[], ofKey?: boolean) => number | undefined;

/**
 * Rules between keys, checked after each key is valid on its own (a key that failed its own
 * check is undefined here and skipped).
 */
function crossFieldChecks(c: ConfigValues, issues: ConfigIssue[], warnings: string[], lineOf: LineOf): void {
  const min = c.workflow?.min_reward;
  const max = c.workflow?.max_reward;
  const range = typeof min === "number" && typeof max === "number" ? rewardRangeIssue(min, max) : null;
  if (range !== null) {
    const key = range.key.split(".");
    issues.push({ path: range.key, found: range.found, expected: range.expected, line: lineOf(key) ?? lineOf(["workflow", "min_reward"]) });
  }
  // The default reward is a reward like any other: inside the range, or every join would give
  // decisions a reward that training then refuses.
  const defaultReward = c.workflow?.default_reward;
  if (range === null && typeof min === "number" && typeof max === "number" && typeof defaultReward === "number") {
    const problem = rewardProblem(defaultReward, { minReward: min, maxReward: max });
    if (problem !== null) issues.push({ path: "workflow.default_reward", found: String(defaultReward), expected: `a reward in [${min}, ${max}] or null: it ${problem}`, line: lineOf(["workflow", "default_reward"]) });
  }
  for (const table of ["experiment_db", "model_db", "join_db"] as const) {
    const t = c.resource?.shared_resource?.[table];
    if (!t || t.rcu === undefined || t.wcu === undefined || (t.rcu === null) === (t.wcu === null)) continue;
    const [missing, given] = t.rcu === null ? ["rcu", "wcu"] : ["wcu", "rcu"];
    const at = ["resource", "shared_resource", table];
    issues.push({
      path: [...at, missing].join("."),
      found: `not set, while ${given} is ${t[given as "rcu" | "wcu"]}`,
      expected: `an integer >= 1 as well (a provisioned table needs both rcu and wcu), or no ${given} for on-demand billing`,
      line: lineOf([...at, given]),
    });
  }
  if (c.local_mode === false && c.soft_deployment === true)
    warnings.push(
      "soft_deployment is true but local_mode is false: SageMaker endpoints have no hot swap, so every deploy is a blue/green UpdateEndpoint " +
        "(the old fleet serves until the new one is healthy). Set soft_deployment: false to silence this warning.",
    );
  // The original sample's stack created BanditsIAMRole; this kit creates no role, so an old config
  // would point the jobs at a role that may not exist.
  if (c.resource?.shared_resource?.iam_role?.role_name === LEGACY_ROLE_NAME && !c.sagemaker?.role_arn)
    warnings.push(
      `resource.shared_resource.iam_role.role_name is ${LEGACY_ROLE_NAME}, the role the original sample's CloudFormation stack created; ` +
        "this kit creates no role. Create the execution role as docs/sagemaker.md section 2.1 shows and name it here, or set sagemaker.role_arn.",
    );
  // Rules between the learner's keys (the model's weight budget, the probability floor), from its registry.
  const learner = c.algor?.algorithms_parameters;
  if (learner)
    for (const p of learnerParameterProblems(learner as unknown as Record<string, unknown>))
      issues.push({
        path: `algor.algorithms_parameters.${p.key}`,
        found: p.found,
        expected: p.expected,
        line: lineOf(["algor", "algorithms_parameters", p.key]) ?? lineOf(["algor", "algorithms_parameters"], true),
      });
}

const LEGACY_ROLE_NAME = "BanditsIAMRole";

function lineInDoc(doc: Document, lc: LineCounter, keys: string[], ofKey: boolean): number | undefined {
  // Walk the YAML tree to the key's pair; report the key's line (or the value's).
  let node: unknown = doc.contents;
  let keyNode: unknown;
  const { isMap, isNode } = yaml();
  for (const k of keys) {
    if (!isMap(node)) return undefined;
    const pair = node.items.find((p) => (isNode(p.key) ? (p.key as { value?: unknown }).value : p.key) === k);
    if (!pair) return undefined;
    keyNode = pair.key;
    node = pair.value;
  }
  const target = ofKey ? keyNode : (node ?? keyNode);
  if (isNode(target) && target.range) return lc.linePos(target.range[0]).line;
  if (isNode(keyNode) && keyNode.range) return lc.linePos(keyNode.range[0]).line;
  return undefined;
}

/** Renders a found value for an error message. */
function show(v: unknown): string {
  if (v === undefined) return "(missing)";
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `a list ${truncate(JSON.stringify(v))}`;
  if (typeof v === "object") return `a mapping ${truncate(JSON.stringify(v))}`;
  return `${String(v)} (${typeof v})`;
}

function truncate(s: string): string {
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

/** What a node allows, in words. */
export function describeConfigAllowed(node: ConfigSchemaNode): string {
  const orNull = "nullable" in node && node.nullable ? " or null" : "";
  switch (node.kind) {
    case "object":
      return `a mapping with keys ${Object.keys(node.fields).join(", ")}`;
    case "boolean":
      return `true or false${orNull}`;
    case "string":
      return node.enum ? `one of ${node.enum.join(", ")}${orNull}` : `a string${orNull}`;
    case "number": {
      const what = node.integer ? "an integer" : "a number";
      const parts: string[] = [];
      if (node.min !== undefined && node.min === node.max) return `exactly ${node.min}${orNull}`;
      if (node.min !== undefined && node.max !== undefined) parts.push(`in [${node.min}, ${node.max}]`);
      else if (node.min !== undefined) parts.push(`>= ${node.min}`);
      else if (node.max !== undefined) parts.push(`<= ${node.max}`);
      if (node.exclusiveMin !== undefined && node.exclusiveMax !== undefined) parts.push(`in (${node.exclusiveMin}, ${node.exclusiveMax})`);
      else if (node.exclusiveMin !== undefined) parts.push(`> ${node.exclusiveMin}`);
      else if (node.exclusiveMax !== undefined) parts.push(`< ${node.exclusiveMax}`);
      return `${what}${parts.length ? " " + parts.join(" and ") : ""}${orNull}`;
    }
  }
}

function validateObject(
  node: ConfigObjectNode,
  raw: unknown,
  at: string[],
  issues: ConfigIssue[],
  warnings: string[],
  lineOf: LineOf,
  emptyDocument = false,
): Record<string, unknown> | undefined {
  const p = at.join(".");
  if (raw === undefined || raw === null) {
    if (emptyDocument) {
      issues.push({ path: p, found: "an empty document", expected: describeConfigAllowed(node) });
      return undefined;
    }
    raw = {};
  }
  if (typeof raw !== "object" || Array.isArray(raw)) {
    issues.push({ path: p, found: show(raw), expected: describeConfigAllowed(node), line: lineOf(at) });
    return undefined;
  }
  const input = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const known = Object.keys(node.fields);
  for (const key of Object.keys(input)) {
    const removed = REMOVED_CONFIG_KEYS[[...at, key].join(".")];
    if (removed !== undefined && !(key in node.fields)) {
      const line = lineOf([...at, key], true);
      warnings.push(`${[...at, key].join(".")}${line ? ` (line ${line})` : ""} is no longer used and was ignored: ${removed}.`);
      continue;
    }
    if (!(key in node.fields)) {
      issues.push({
        path: [...at, key].join("."),
        found: `an unknown key${didYouMean(key, known)}`,
        expected: `one of the keys ${known.join(", ")}${p ? ` under ${p}` : " at the top level"}`,
        line: lineOf([...at, key], true),
      });
    }
  }
  for (const key of known) {
    const child = node.fields[key];
    const keys = [...at, key];
    const v = input[key];
    if (child.kind === "object") {
      if (v === undefined && child.required) {
        issues.push({ path: keys.join("."), found: "(missing)", expected: describeConfigAllowed(child), line: at.length ? lineOf(at, true) : undefined });
        continue;
      }
      out[key] = validateObject(child, v, keys, issues, warnings, lineOf);
      continue;
    }
    out[key] = validateLeaf(child, v, keys, issues, warnings, lineOf);
  }
  return out;
}

function validateLeaf(
  node: Exclude<ConfigSchemaNode, ConfigObjectNode>,
  v: unknown,
  keys: string[],
  issues: ConfigIssue[],
  warnings: string[],
  lineOf: LineOf,
): unknown {
  const p = keys.join(".");
  const fail = () => {
    const parent = keys.slice(0, -1);
    issues.push({
      path: p,
      found: show(v),
      expected: describeConfigAllowed(node) + (node.reason && v !== undefined && v !== null ? ` (${node.reason})` : ""),
      line: v !== undefined ? lineOf(keys) : parent.length ? lineOf(parent, true) : undefined,
    });
    return undefined;
  };
  if (v === undefined) {
    if (node.required) return fail();
    return node.default ?? null;
  }
  if (v === null) return node.nullable ? null : fail();
  let ok: boolean;
  switch (node.kind) {
    case "boolean":
      ok = typeof v === "boolean";
      break;
    case "string":
      if (node.path && typeof v === "string" && pathProblem(v) !== null) {
        issues.push({ path: p, found: `${show(v)}: ${pathProblem(v)}`, expected: `${describeConfigAllowed(node)} (a file-system path: not empty, no control characters, valid Unicode)`, line: lineOf(keys) });
        return undefined;
      }
      ok = typeof v === "string" && (!node.enum || node.enum.includes(v));
      if (typeof v === "string" && node.enum && !ok) {
        issues.push({ path: p, found: `${show(v)}${didYouMean(v, node.enum)}`, expected: describeConfigAllowed(node), line: lineOf(keys) });
        return undefined;
      }
      break;
    case "number":
      // Every number of the config keeps the kit's numeric contract (data/numbers.ts), whatever
      // the key's own bounds: ±1e308 or .inf would reach the learner and the estimators as is.
      // Integer keys (counts, seeds) are hashed or counted, never multiplied into a model: they
      // only have to be exact (a safe integer), so a seed like 1712345678 stays allowed.
      if (typeof v === "number" && (node.integer ? Number.isFinite(v) && !Number.isSafeInteger(v) : numberProblem(v) !== null)) {
        const rule = node.integer ? `an exact integer (at most ${Number.MAX_SAFE_INTEGER} in size)` : NUMBER_CONTRACT;
        issues.push({ path: p, found: show(v), expected: `${describeConfigAllowed(node)}; every number in config.yaml is ${rule}`, line: lineOf(keys) });
        return undefined;
      }
      ok =
        typeof v === "number" &&
        Number.isFinite(v) &&
        (!node.integer || Number.isInteger(v)) &&
        (node.min === undefined || v >= node.min) &&
        (node.max === undefined || v <= node.max) &&
        (node.exclusiveMin === undefined || v > node.exclusiveMin) &&
        (node.exclusiveMax === undefined || v < node.exclusiveMax);
      break;
  }
  if (!ok) return fail();
  const w = node.warn ? (node.warn as (value: unknown) => string | undefined)(v) : undefined;
  if (w) warnings.push(w);
  return v;
}

/**
 * The image URI with `{AWS_REGION}` replaced. Resolved when needed (SageMaker mode), so local mode
 * never needs a region.
 */
export function resolveImageUri(config: Pick<Config, "image">, region: string | null | undefined): string {
  if (!config.image.includes("{AWS_REGION}")) return config.image;
  if (!region) {
    throw new Error(
      `image "${config.image}" contains {AWS_REGION} but no region is known: set sagemaker.region in config.yaml or AWS_REGION in the environment`,
    );
  }
  return config.image.split("{AWS_REGION}").join(region);
}

/** The local-mode workspace folder (absolute); `paths` is the path flavour (`path.win32` in tests). */
export function resolveWorkspaceDir(config: Pick<Config, "workspace" | "dir">, paths: path.PlatformPath = path): string {
  return paths.resolve(config.dir, config.workspace);
}
