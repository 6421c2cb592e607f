/**
 * Warm-start data (uniform random logging over the shuttle users) and the historical baseline
 * (1 − mean reward of logged data).
 */
import * as fs from "node:fs";
import { JoinedRecord } from "@cbkit/common";
import { WARM_START_MODEL_ID, costOfReward, splitValueOf } from "@cbkit/common/data";
import { Rng } from "@cbkit/common/util";
import { loadStatlogData } from "./data";
import { AppShapeConfig, checkAppMatchesConfig } from "./app-config";

export interface WarmStartOptions {
  dataFile?: string | null;
  batchSize: number;
  seed?: number | string;
  /** A loaded config: refused (AppConfigMismatchError) when its num_arms / num_features are not the data's. */
  config?: AppShapeConfig | null;
}

/**
 * `batchSize` records logged by a uniform random policy: random user (with replacement), random
 * action 1..7 with action_prob 1/7. Event ids are unique strings `warm-start-<seed>-<i>`;
 * sample_prob = splitValueOf(event_id) (hashUnit with SPLIT_SEED), the value the endpoint stores
 * too, so SQL splits on `sample_prob <= ratio` agree with `splitOf`.
 */
export function prepareStatlogWarmStartData(options: WarmStartOptions): JoinedRecord[];
export function prepareStatlogWarmStartData(
  dataFile: string | null | undefined,
  batchSize: number,
  seed?: number | string,
): JoinedRecord[];
export function prepareStatlogWarmStartData(
  first: string | null | undefined | WarmStartOptions,
  batchSizeArg?: number,
  seedArg: number | string = 1,
): JoinedRecord[] {
  const o: WarmStartOptions =
    first !== null && typeof first === "object" ? first : { dataFile: first, batchSize: batchSizeArg!, seed: seedArg };
  const batchSize = o.batchSize;
  const seed = o.seed ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 0) {
    throw new RangeError(`batchSize must be a non-negative integer, got ${batchSize}`);
  }
  const data = loadStatlogData(o.dataFile);
  if (o.config) checkAppMatchesConfig(data, o.config);
  const rng = Rng.derive(seed, "warm-start");
  const nf = data.numFeatures;
  const k = data.numActions;
  const out: JoinedRecord[] = new Array(batchSize);
  for (let i = 0; i < batchSize; i++) {
    const row = rng.int(data.numRows);
    const action = rng.int(k) + 1;
    const eventId = `warm-start-${seed}-${i}`;
    out[i] = {
      reward: data.labels[row] === action ? 1 : 0,
      event_id: eventId,
      action,
      action_prob: 1 / k,
      model_id: WARM_START_MODEL_ID,
      observation: Array.from(data.contexts.subarray(row * nf, (row + 1) * nf)),
      sample_prob: splitValueOf(eventId),
    };
  }
  return out;
}

/** Splits one CSV line into fields (RFC 4180 quoting: "" inside quotes is a quote). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let s = "";
      i++;
      for (;;) {
        if (i >= line.length) break;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            s += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += line[i++];
      }
      out.push(s);
      i++; // the comma
    } else {
      const j = line.indexOf(",", i);
      const end = j < 0 ? line.length : j;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

/** The rewards of a joined-data file: CSV with a header (the original's shape) or JSON lines. */
function rewardsFromFile(file: string): number[] {
  const text = fs.readFileSync(file, "utf8");
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) return [];
  const rewards: number[] = [];
  if (lines[0].trimStart().startsWith("{")) {
    lines.forEach((l, i) => {
      const r = Number((JSON.parse(l) as { reward?: unknown }).reward);
      if (!Number.isFinite(r)) throw new Error(`${file}:${i + 1}: reward is not a number`);
      rewards.push(r);
    });
    return rewards;
  }
  const col = csvFields(lines[0]).indexOf("reward");
  if (col < 0) throw new Error(`${file}: the CSV header has no "reward" column`);
  for (let i = 1; i < lines.length; i++) {
    const r = Number(csvFields(lines[i])[col]);
    if (!Number.isFinite(r)) throw new Error(`${file}:${i + 1}: reward is not a number`);
    rewards.push(r);
  }
  return rewards;
}

/**
 * The historical baseline cost: 1 − mean reward of logged records (an array of records or a CSV /
 * JSON-lines file of joined data). Uniform random logging gives ≈ 6/7 ≈ 0.857.
 */
export function evaluateHistoricalData(recordsOrFile: Iterable<{ reward: number }> | string): number {
  const rewards =
    typeof recordsOrFile === "string" ? rewardsFromFile(recordsOrFile) : Array.from(recordsOrFile, (r) => r.reward);
  if (rewards.length === 0) throw new Error("evaluateHistoricalData: no records to evaluate");
  let sum = 0;
  for (const r of rewards) sum += r;
  return costOfReward(sum / rewards.length);
}
