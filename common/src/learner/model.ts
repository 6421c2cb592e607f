/**
 * The model artifact: a folder with `model.json` (metadata and learning state, human readable)
 * and `weights.bin` (the weight rows, little-endian). Loading checks the format, the version, the
 * options, the sizes and a SHA-256 of the weights, and refuses with the reason.
 *
 * weights.bin layout (rows R, width W = regressors × actions):
 *   Int32 rowHash[R], zero padding to a multiple of 8 bytes, then Float64 w[R·W], G[R·W], N[R·W].
 */
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { FeatureMapState } from "./features";
import { GdState, WeightStore } from "./gd";
import { CbLearner, LearnerState } from "./learner";
import { LearnerError, LearnerOptions, resolveLearnerOptions } from "./options";

export const MODEL_FORMAT = "cbkit-cb-model";
export const MODEL_FORMAT_VERSION = 1;
export const MODEL_JSON = "model.json";
export const MODEL_WEIGHTS = "weights.bin";

export interface ModelMetadata {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  modelId: string;
  parentModelId: string | null;
  createdAt: string;
  /** Exploration policy and every learner option (with defaults applied). */
  algorithm: { explorationPolicy: string; options: LearnerOptions; vwArguments: string };
  /** One line: VW arguments, feature map with bins, feature count, probability floor (CbLearner.description). */
  description?: string;
  featureMap: FeatureMapState;
  numArms: number;
  examplesSeen: number;
  gd: GdState;
  weights: { file: string; rows: number; width: number; bytes: number; sha256: string; byteOrder: "little-endian" };
  /** What the training run that saved this model read: rows learned from, rows skipped and the first reasons (absent: saved without data, or by an older kit). */
  training?: TrainingRows;
}

/** The rows a training run used and skipped, with the first few reasons (`file:line: why`). */
export interface TrainingRows {
  used: number;
  skipped: number;
  firstSkipped: string[];
}

/** A model file that cannot be loaded; the message says why. */
export class ModelFormatError extends Error {
  constructor(readonly dir: string, reason: string) {
    super(`cannot load the model in ${dir}: ${reason}`);
    this.name = "ModelFormatError";
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The parts of weights.bin in order: the row hashes (padded to 8 bytes), then w, G and N. On a
 * little-endian machine (every one Node.js runs on in practice) the weight parts are views of the
 * store's own arrays: saving copies nothing.
 */
function weightParts(store: WeightStore): Buffer[] {
  const rows = store.numRows, width = store.width;
  const head = Buffer.alloc(Math.ceil((rows * 4) / 8) * 8);
  for (let r = 0; r < rows; r++) head.writeInt32LE(store.rowHash[r], r * 4);
  const cells = rows * width;
  return [head, ...[store.w, store.g, store.n].map((arr) => {
    if (LITTLE_ENDIAN) return Buffer.from(arr.buffer, arr.byteOffset, cells * 8);
    const b = Buffer.alloc(cells * 8);
    for (let i = 0; i < cells; i++) b.writeDoubleLE(arr[i], i * 8);
    return b;
  })];
}

/**
 * Where a model's numbers are not finite: the count of NaN / ±Infinity cells among the weights and
 * their learning-rate sums, and the first one; null when every number is finite. A model with one
 * such number answers NaN probabilities, so it is never saved and never loaded.
 */
export function nonFiniteWeights(w: ArrayLike<number>, g: ArrayLike<number>, n: ArrayLike<number>, width: number): { count: number; first: string } | null {
  let count = 0;
  let first = "";
  for (const [name, arr] of [["weight", w], ["gradient sum", g], ["normaliser", n]] as const) {
    for (let i = 0; i < arr.length; i++) {
      if (Number.isFinite(arr[i])) continue;
      if (count++ === 0) first = `${name} of row ${Math.floor(i / width)}, column ${i % width} is ${arr[i]}`;
    }
  }
  return count === 0 ? null : { count, first };
}

/** Why a learning state can not be saved or loaded (a number that is not finite), or null. */
function gdStateProblem(gd: GdState | undefined): string | null {
  if (!gd) return "the learning state (gd) is missing";
  const bad = (["totalWeight", "sumNormX", "minLabel", "maxLabel"] as const).filter((k) => typeof gd[k] !== "number" || !Number.isFinite(gd[k]));
  return bad.length === 0 ? null : `the learning state (gd) is not finite: ${bad.map((k) => `${k} = ${gd[k]}`).join(", ")}`;
}

/**
 * Saves the learner into `dir` (created if missing): model.json + weights.bin. A learner whose
 * weights or learning state hold NaN or Infinity is refused (LearnerError "weights"), so a training
 * job that overflowed fails instead of reporting Completed with a model nobody can load.
 */
export async function saveModel(
  learner: CbLearner,
  dir: string,
  meta: { modelId: string; parentModelId: string | null; training?: TrainingRows },
): Promise<ModelMetadata> {
  if (!meta || typeof meta.modelId !== "string" || meta.modelId === "") throw new LearnerError("modelId", "must be a non-empty string");
  if (meta.parentModelId !== null && typeof meta.parentModelId !== "string") throw new LearnerError("parentModelId", "must be a string or null");
  const store = learner.gd.store;
  const overflow = nonFiniteWeights(store.w, store.g, store.n, store.width);
  const stateProblem = gdStateProblem(learner.state.gd);
  if (overflow !== null || stateProblem !== null) {
    throw new LearnerError(
      "weights",
      `model ${meta.modelId} was not saved: ${overflow ? `${overflow.count} of its numbers are not finite (the ${overflow.first})` : stateProblem}. ` +
        "Training overflowed: check the data's rewards and features (they must keep the numeric contract, within ±1e9) and lower learning_rate",
    );
  }
  const parts = weightParts(store);
  const sha = createHash("sha256");
  for (const p of parts) sha.update(p);
  const state = learner.state;
  const metadata: ModelMetadata = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    modelId: meta.modelId,
    parentModelId: meta.parentModelId,
    createdAt: new Date().toISOString(),
    algorithm: { explorationPolicy: learner.options.explorationPolicy, options: { ...learner.options }, vwArguments: learner.vwArguments },
    description: learner.description,
    featureMap: state.featureMap,
    numArms: learner.numArms,
    examplesSeen: state.examplesSeen,
    gd: state.gd,
    weights: {
      file: MODEL_WEIGHTS,
      rows: store.numRows,
      width: store.width,
      bytes: parts.reduce((n, p) => n + p.length, 0),
      sha256: sha.digest("hex"),
      byteOrder: "little-endian",
    },
    ...(meta.training ? { training: meta.training } : {}),
  };
  await fsp.mkdir(dir, { recursive: true });
  const fh = await fsp.open(path.join(dir, MODEL_WEIGHTS), "w");
  try {
    for (const p of parts) await fh.write(p);
  } finally {
    await fh.close();
  }
  await fsp.writeFile(path.join(dir, MODEL_JSON), JSON.stringify(metadata, null, 2) + "\n");
  return metadata;
}

/** Loads a saved model; the learner continues learning where the saved one stopped. */
export async function loadModel(dir: string): Promise<{ learner: CbLearner; metadata: ModelMetadata }> {
  const bad = (reason: string): never => {
    throw new ModelFormatError(dir, reason);
  };
  let text = "";
  try {
    text = await fsp.readFile(path.join(dir, MODEL_JSON), "utf8");
  } catch (e) {
    bad(`${MODEL_JSON} is missing or unreadable (${(e as Error).message}); is this a model folder saved by saveModel?`);
  }
  let m: ModelMetadata;
  try {
    m = JSON.parse(text) as ModelMetadata;
  } catch (e) {
    return bad(`${MODEL_JSON} is not valid JSON (${(e as Error).message})`);
  }
  if (!m || typeof m !== "object" || m.format !== MODEL_FORMAT) bad(`${MODEL_JSON} is not a ${MODEL_FORMAT} file (format = ${JSON.stringify(m?.format)})`);
  if (m.formatVersion !== MODEL_FORMAT_VERSION) bad(`format version ${m.formatVersion} is not supported (this kit reads version ${MODEL_FORMAT_VERSION})`);
  let options: LearnerOptions;
  try {
    options = resolveLearnerOptions(m.algorithm?.options as LearnerOptions);
  } catch (e) {
    return bad(`its options are invalid: ${(e as Error).message}`);
  }
  if (m.numArms !== options.numArms) bad(`numArms ${m.numArms} disagrees with the options' numArms ${options.numArms}`);
  const fm = m.featureMap;
  if (!fm || fm.kind !== options.featureMap || fm.bits !== options.bits) bad("the feature map does not match the options");
  if (!Number.isInteger(m.examplesSeen) || m.examplesSeen < 0) bad(`examplesSeen must be a non-negative integer, got ${m.examplesSeen}`);
  const gd = m.gd;
  const gdProblem = gdStateProblem(gd);
  if (gdProblem !== null) bad(`${gdProblem}; the model would answer NaN probabilities: train it again`);
  const wm = m.weights;
  if (!wm || !Number.isInteger(wm.rows) || !Number.isInteger(wm.width) || wm.rows < 0) bad("the weights description is missing or invalid");
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(path.join(dir, wm.file ?? MODEL_WEIGHTS));
  } catch (e) {
    return bad(`${wm.file} is missing or unreadable (${(e as Error).message})`);
  }
  if (bytes.length !== wm.bytes) bad(`${wm.file} has ${bytes.length} bytes, model.json says ${wm.bytes} (truncated or replaced?)`);
  const sha = createHash("sha256").update(bytes).digest("hex");
  if (sha !== wm.sha256) bad(`${wm.file} is corrupt: its SHA-256 ${sha.slice(0, 12)}… differs from the recorded ${String(wm.sha256).slice(0, 12)}…`);
  const rows = wm.rows, width = wm.width;
  const head = Math.ceil((rows * 4) / 8) * 8;
  const cells = rows * width;
  if (bytes.length !== head + 3 * cells * 8) bad(`${wm.file} size does not match ${rows} rows × ${width} columns`);
  // The weights stay in the buffer that was read (views, on a little-endian machine with the
  // buffer 8-byte aligned, as a large file's own buffer is); otherwise they are decoded once.
  const views = LITTLE_ENDIAN && bytes.byteOffset % 8 === 0;
  const rowHash = views ? new Int32Array(bytes.buffer, bytes.byteOffset, rows) : new Int32Array(rows);
  if (!views) for (let r = 0; r < rows; r++) rowHash[r] = bytes.readInt32LE(r * 4);
  const arrs = [0, 1, 2].map((k) => {
    const off = head + k * cells * 8;
    if (views) return new Float64Array(bytes.buffer, bytes.byteOffset + off, cells);
    const a = new Float64Array(cells);
    for (let i = 0; i < cells; i++) a[i] = bytes.readDoubleLE(off + i * 8);
    return a;
  });
  const overflow = nonFiniteWeights(arrs[0], arrs[1], arrs[2], width);
  if (overflow !== null) bad(`${wm.file} holds ${overflow.count} numbers that are not finite (the ${overflow.first}); the model would answer NaN probabilities: train it again`);
  const state: LearnerState = { examplesSeen: m.examplesSeen, gd: { ...gd }, featureMap: fm };
  let learner: CbLearner;
  try {
    learner = CbLearner.restore(options, WeightStore.fromArrays(width, rowHash, arrs[0], arrs[1], arrs[2]), state);
  } catch (e) {
    return bad((e as Error).message);
  }
  return { learner, metadata: m };
}
