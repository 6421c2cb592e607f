/**
 * The Statlog (Shuttle) data: parsing shuttle.trn, finding it, and the original's preprocessing
 * (drop rare classes, z-score the features, one reward per action). Parsed files are cached per
 * path (and size/mtime) because tests, notebooks and benchmarks load the same file many times.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultShuttleDataFile, findProjectRoot } from "@cbkit/common/config";

/** Number of features per row of shuttle.trn. */
export const SHUTTLE_NUM_FEATURES = 9;
/** Number of classes (and so of bandit actions) of the shuttle task. */
export const SHUTTLE_NUM_CLASSES = 7;
/** Classes whose share of rows is below this are dropped, as in the original (0.05 %). */
export const SHUTTLE_CLASS_THRESHOLD = 0.0005;

const SHUTTLE_SOURCE =
  "the UCI Statlog (Shuttle) data set, https://archive.ics.uci.edu/dataset/148/statlog+shuttle " +
  "(file shuttle.trn): `npm run data` downloads it and checks its sha256";

/** The raw file: features row-major (numRows × 9) and the class label 1..7 of each row. */
export interface ShuttleRawData {
  file: string;
  numRows: number;
  numFeatures: number;
  features: Float64Array;
  labels: Uint8Array;
}

/** The preprocessed bandit problem. */
export interface StatlogData {
  file: string;
  /** Rows kept after the class filter. */
  numRows: number;
  numFeatures: number;
  numActions: number;
  /** Normalised features, row-major (numRows × numFeatures). */
  contexts: Float64Array;
  /** True class of each kept row, 1-based (the rewarding action). */
  labels: Uint8Array;
  /** Rows per class 1..7 in the file (index 0 = class 1). */
  classCountsBefore: number[];
  /** Rows per class 1..7 after the filter. */
  classCountsAfter: number[];
  /** Classes dropped by the filter (1-based). */
  droppedClasses: number[];
  /** Column means and (population) standard deviations used for the z-scores; 0 std stored as 1. */
  means: number[];
  stds: number[];
}

/** Something that may carry a data file setting: a loaded Config, or just `{ data_file }`. */
export interface DataFileSetting {
  data_file?: string | null;
  /** Path of the config file; a relative data_file is taken relative to its folder. */
  path?: string | null;
  projectRoot?: string;
}

/**
 * The data file to use: `data_file` from the config (relative to the config file's folder), else
 * `<projectRoot>/../shared/data/shuttle.trn`.
 */
export function resolveShuttleDataFile(config?: DataFileSetting | null): string {
  const setting = config?.data_file;
  if (setting) {
    const base = config?.path ? path.dirname(config.path) : (config?.projectRoot ?? findProjectRoot());
    return path.resolve(base, setting);
  }
  return defaultShuttleDataFile(config?.projectRoot ?? findProjectRoot());
}

function missingFileError(file: string): Error {
  return new Error(
    `shuttle data file not found: ${file}\n` +
      `Put shuttle.trn at ../shared/data/shuttle.trn relative to the project root ` +
      `(${defaultShuttleDataFile()}), or set data_file in config.yaml to where it is.\n` +
      `Get it from ${SHUTTLE_SOURCE}.`,
  );
}

const rawCache = new Map<string, { stamp: string; data: ShuttleRawData }>();
const preparedCache = new Map<string, { stamp: string; data: StatlogData }>();

function stampOf(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw missingFileError(file);
    throw e;
  }
  if (!st.isFile()) throw new Error(`shuttle data path is not a file: ${file}`);
  return `${st.size}:${st.mtimeMs}`;
}

/** Splits a line into whitespace-separated tokens (space, tab, CR). */
function tokens(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    let c = line.charCodeAt(i);
    while (i < n && (c === 32 || c === 9 || c === 13)) c = line.charCodeAt(++i);
    if (i >= n) break;
    const s = i;
    while (i < n && c !== 32 && c !== 9 && c !== 13) c = line.charCodeAt(++i);
    out.push(line.slice(s, i));
  }
  return out;
}

/** A token as a number: a fast path for plain integers, Number() for the rest; NaN if invalid. */
function toNumber(tok: string): number {
  let v = 0;
  let i = 0;
  let neg = false;
  const n = tok.length;
  if (tok.charCodeAt(0) === 45) {
    neg = true;
    i = 1;
  }
  if (i < n && n - i < 15) {
    for (; i < n; i++) {
      const d = tok.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return tok.trim() === "" ? NaN : Number(tok);
      v = v * 10 + d;
    }
    return neg ? -v : v;
  }
  return tok.trim() === "" ? NaN : Number(tok);
}

/** Parses shuttle.trn text; errors name the file and the 1-based line. */
export function parseShuttleText(text: string, file = "<text>"): ShuttleRawData {
  const lines = text.split("\n");
  const nf = SHUTTLE_NUM_FEATURES;
  const features = new Float64Array(lines.length * nf);
  const labels = new Uint8Array(lines.length);
  let n = 0;
  for (let li = 0; li < lines.length; li++) {
    const fields = tokens(lines[li]);
    if (fields.length === 0) continue;
    const where = `${file}:${li + 1}`;
    if (fields.length !== nf + 1) {
      throw new Error(
        `${where}: expected ${nf + 1} whitespace-separated columns (9 features and the class label), found ${fields.length}`,
      );
    }
    for (let j = 0; j < nf; j++) {
      const v = toNumber(fields[j]);
      if (!Number.isFinite(v)) {
        throw new Error(`${where}: column ${j + 1} is not a number: "${fields[j]}"`);
      }
      features[n * nf + j] = v;
    }
    const label = toNumber(fields[nf]);
    if (!Number.isInteger(label) || label < 1 || label > SHUTTLE_NUM_CLASSES) {
      throw new Error(
        `${where}: the class label (column ${nf + 1}) must be an integer 1..${SHUTTLE_NUM_CLASSES}, found "${fields[nf]}"`,
      );
    }
    labels[n] = label;
    n++;
  }
  if (n === 0) throw new Error(`${file}: no data rows`);
  return { file, numRows: n, numFeatures: nf, features: features.slice(0, n * nf), labels: labels.slice(0, n) };
}

/**
 * Reads and parses shuttle.trn (cached per path while the file is unchanged). The file defaults to
 * `resolveShuttleDataFile()`. The returned arrays are shared: do not modify them.
 */
export function loadShuttleData(file?: string | null): ShuttleRawData {
  const resolved = path.resolve(file ?? resolveShuttleDataFile());
  const stamp = stampOf(resolved);
  const hit = rawCache.get(resolved);
  if (hit && hit.stamp === stamp) return hit.data;
  const data = parseShuttleText(fs.readFileSync(resolved, "utf8"), resolved);
  rawCache.set(resolved, { stamp, data });
  return data;
}

/** Counts rows per class 1..numClasses (index 0 = class 1). */
export function countClasses(labels: ArrayLike<number>, numClasses = SHUTTLE_NUM_CLASSES): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i] - 1]++;
  return counts;
}

/**
 * The original's preprocessing: drop classes under `threshold` of the rows, then z-score each
 * feature over the kept rows with the population std (a zero std becomes 1). Row order is kept.
 */
export function preprocessShuttle(raw: ShuttleRawData, threshold = SHUTTLE_CLASS_THRESHOLD): StatlogData {
  const nf = raw.numFeatures;
  const before = countClasses(raw.labels);
  const keepClass = before.map((c) => c / raw.numRows >= threshold);
  const droppedClasses = before.flatMap((c, i) => (c > 0 && !keepClass[i] ? [i + 1] : []));
  let n = 0;
  for (let i = 0; i < raw.numRows; i++) if (keepClass[raw.labels[i] - 1]) n++;
  const contexts = new Float64Array(n * nf);
  const labels = new Uint8Array(n);
  let r = 0;
  for (let i = 0; i < raw.numRows; i++) {
    if (!keepClass[raw.labels[i] - 1]) continue;
    contexts.set(raw.features.subarray(i * nf, (i + 1) * nf), r * nf);
    labels[r++] = raw.labels[i];
  }
  const means = new Array<number>(nf).fill(0);
  const stds = new Array<number>(nf).fill(0);
  for (let j = 0; j < nf; j++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += contexts[i * nf + j];
    const mean = sum / n;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const d = contexts[i * nf + j] - mean;
      ss += d * d;
    }
    const std = Math.sqrt(ss / n);
    means[j] = mean;
    stds[j] = std === 0 ? 1 : std;
    for (let i = 0; i < n; i++) contexts[i * nf + j] = (contexts[i * nf + j] - mean) / stds[j];
  }
  return {
    file: raw.file,
    numRows: n,
    numFeatures: nf,
    numActions: SHUTTLE_NUM_CLASSES,
    contexts,
    labels,
    classCountsBefore: before,
    classCountsAfter: countClasses(labels),
    droppedClasses,
    means,
    stds,
  };
}

/** Loads and preprocesses the data file (cached per path). The arrays are shared: do not modify. */
export function loadStatlogData(file?: string | null): StatlogData {
  const resolved = path.resolve(file ?? resolveShuttleDataFile());
  const raw = loadShuttleData(resolved);
  const stamp = stampOf(resolved);
  const hit = preparedCache.get(resolved);
  if (hit && hit.stamp === stamp && hit.data.file === raw.file) return hit.data;
  const data = preprocessShuttle(raw);
  preparedCache.set(resolved, { stamp, data });
  return data;
}

/** One row per class: counts and shares before and after the filter (for tables and charts). */
export interface ClassSummaryRow {
  class: number;
  rows_before: number;
  share_before: number;
  rows_after: number;
  share_after: number;
  kept: boolean;
}

export function classSummary(data: StatlogData): ClassSummaryRow[] {
  const totalBefore = data.classCountsBefore.reduce((a, b) => a + b, 0);
  return data.classCountsBefore.map((c, i) => ({
    class: i + 1,
    rows_before: c,
    share_before: c / totalBefore,
    rows_after: data.classCountsAfter[i],
    share_after: data.classCountsAfter[i] / data.numRows,
    kept: data.classCountsAfter[i] > 0,
  }));
}
