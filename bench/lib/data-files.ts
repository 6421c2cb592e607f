/**
 * Shuttle-derived logged data for the benches: N joined records (a shuttle row drawn with a seed,
 * a uniformly random action logged with probability 1/7, reward 1 when it is the row's class)
 * written as the kit's CSV, JSON lines and VW text — the same records in each format, each line
 * exactly what the kit's own writers (joinedCsvLine, JSON.stringify, joinedRecordToVw) produce.
 * The observation text of each shuttle row is formatted once, so writing 1M records takes seconds.
 */
import * as fs from "node:fs";
import { JoinedRecord } from "@cbkit/common";
import { Rng } from "@cbkit/common/util";
import { joinedCsvLine, joinedRecordToVw, JOINED_CSV_HEADER } from "@cbkit/common/data";
import { loadStatlogData } from "@cbkit/sim_app";

export type DataFormat = "csv" | "jsonl" | "vw";

export const EXTENSION: Record<DataFormat, string> = { csv: ".csv", jsonl: ".jsonl", vw: ".vw" };

/** Writes `n` records to `file` in `format`; returns the file's size in bytes. */
export function writeShuttleRecords(file: string, n: number, format: DataFormat, seed = "bench-data"): number {
  const data = loadStatlogData();
  const nf = data.numFeatures;
  const rng = new Rng(seed);
  const obsCsv = new Map<number, string>();
  const obsVw = new Map<number, string>();
  const obsJson = new Map<number, string>();
  const fd = fs.openSync(file, "w");
  let chunk: string[] = format === "csv" ? [JOINED_CSV_HEADER] : [];
  const flush = () => {
    if (chunk.length > 0) fs.writeSync(fd, chunk.join("\n") + "\n");
    chunk = [];
  };
  for (let i = 0; i < n; i++) {
    const row = rng.int(data.numRows);
    const action = rng.int(7) + 1;
    const observation = Array.from(data.contexts.subarray(row * nf, (row + 1) * nf));
    const record: JoinedRecord = { reward: data.labels[row] === action ? 1 : 0, event_id: `event-${i}`, action, action_prob: 1 / 7, model_id: "bench", observation, sample_prob: 0.5 };
    let line: string;
    if (format === "csv") {
      let obs = obsCsv.get(row);
      if (obs === undefined) obsCsv.set(row, (obs = observation.join(", ")));
      line = `"${record.reward}","${record.event_id}","${action}","${record.action_prob}","bench","[${obs}]","0.5"`;
      if (i === 0 && line !== joinedCsvLine(record)) throw new Error("bench CSV differs from joinedCsvLine's");
    } else if (format === "jsonl") {
      let obs = obsJson.get(row);
      if (obs === undefined) obsJson.set(row, (obs = JSON.stringify(observation)));
      line = `{"reward":${record.reward},"event_id":"${record.event_id}","action":${action},"action_prob":${record.action_prob},"model_id":"bench","observation":${obs},"sample_prob":0.5}`;
      if (i === 0 && line !== JSON.stringify(record)) throw new Error("bench JSON line differs from JSON.stringify's");
    } else {
      let obs = obsVw.get(row);
      if (obs === undefined) obsVw.set(row, (obs = observation.map((v, j) => `${j + 1}:${v}`).join(" ")));
      line = `${action}:${1 - record.reward}:${record.action_prob} | ${obs}`;
      if (i === 0 && line !== joinedRecordToVw(record)) throw new Error("bench VW line differs from joinedRecordToVw's");
    }
    chunk.push(line);
    if (chunk.length >= 16384) flush();
  }
  flush();
  fs.closeSync(fd);
  return fs.statSync(file).size;
}
