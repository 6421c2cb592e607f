/**
 * Joined records as columns: what the readers produce a chunk of a file at a time, so a large
 * file is read without building an object per record. Row i's observation is
 * obs[offsets[i] .. offsets[i + 1]).
 */
import type { JoinedRecord } from "./records";

export interface JoinedColumns {
  n: number;
  reward: Float64Array;
  action: Float64Array;
  actionProb: Float64Array;
  offsets: Int32Array;
  obs: Float64Array;
  /** Line (CSV/JSON lines/VW text) of each row, for error messages. */
  line: Int32Array;
  file: string;
  /** With `ids` (see ColumnOptions): each row's event id, model id and sample_prob. */
  eventId?: string[];
  modelId?: string[];
  sampleProb?: Float64Array;
  /** VW text `--cb --eval` lines: the evaluated action before the label (0 on other rows); with `ids`. */
  evalAction?: Int32Array;
}

/** What a reader puts in its column batches besides the training columns. */
export interface ColumnOptions {
  /** Also the event ids, model ids, sample_prob (and VW's evaluated actions): what records need. */
  ids?: boolean;
}

const START_ROWS = 4096;

/** Builds one JoinedColumns batch, growing its arrays as rows come. */
export class ColumnBuilder {
  n = 0;
  obsLength = 0;
  reward = new Float64Array(START_ROWS);
  action = new Float64Array(START_ROWS);
  actionProb = new Float64Array(START_ROWS);
  line = new Int32Array(START_ROWS);
  offsets = new Int32Array(START_ROWS + 1);
  obs = new Float64Array(START_ROWS * 16);
  readonly eventId: string[] | null;
  readonly modelId: string[] | null;
  sampleProb: Float64Array | null;
  evalAction: Int32Array | null;

  constructor(readonly file: string, readonly ids = false) {
    this.eventId = ids ? [] : null;
    this.modelId = ids ? [] : null;
    this.sampleProb = ids ? new Float64Array(START_ROWS) : null;
    this.evalAction = ids ? new Int32Array(START_ROWS) : null;
  }

  pushObs(v: number): void {
    if (this.obsLength === this.obs.length) {
      const a = new Float64Array(this.obs.length * 2);
      a.set(this.obs);
      this.obs = a;
    }
    this.obs[this.obsLength++] = v;
  }

  /** Ends the row whose observation was pushed since the last row; ids only when the builder keeps them. */
  endRow(reward: number, action: number, prob: number, line: number, eventId?: string, modelId?: string, sampleProb = 0, evalAction = 0): void {
    if (this.n === this.reward.length) this.grow(this.n * 2);
    const i = this.n++;
    this.reward[i] = reward;
    this.action[i] = action;
    this.actionProb[i] = prob;
    this.line[i] = line;
    this.offsets[i + 1] = this.obsLength;
    if (this.eventId !== null) {
      this.eventId.push(eventId ?? "");
      (this.modelId as string[]).push(modelId ?? "");
      (this.sampleProb as Float64Array)[i] = sampleProb;
      (this.evalAction as Int32Array)[i] = evalAction;
    }
  }

  /** A whole row at once (the general parsing paths). */
  push(r: JoinedRecord, line: number, evalAction = 0): void {
    const o = r.observation;
    for (let j = 0; j < o.length; j++) this.pushObs(o[j]);
    this.endRow(r.reward, r.action, r.action_prob, line, r.event_id, r.model_id, r.sample_prob, evalAction);
  }

  private grow(m: number): void {
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(m);
      b.set(a);
      return b;
    };
    this.reward = f64(this.reward);
    this.action = f64(this.action);
    this.actionProb = f64(this.actionProb);
    const l = new Int32Array(m);
    l.set(this.line);
    this.line = l;
    const o = new Int32Array(m + 1);
    o.set(this.offsets);
    this.offsets = o;
    if (this.sampleProb !== null) this.sampleProb = f64(this.sampleProb);
    if (this.evalAction !== null) {
      const e = new Int32Array(m);
      e.set(this.evalAction);
      this.evalAction = e;
    }
  }

  finish(): JoinedColumns {
    const n = this.n;
    const out: JoinedColumns = {
      n,
      reward: this.reward.subarray(0, n),
      action: this.action.subarray(0, n),
      actionProb: this.actionProb.subarray(0, n),
      offsets: this.offsets.subarray(0, n + 1),
      obs: this.obs.subarray(0, this.obsLength),
      line: this.line.subarray(0, n),
      file: this.file,
    };
    if (this.eventId !== null) {
      out.eventId = this.eventId;
      out.modelId = this.modelId as string[];
      out.sampleProb = (this.sampleProb as Float64Array).subarray(0, n);
      out.evalAction = (this.evalAction as Int32Array).subarray(0, n);
    }
    return out;
  }
}

/** Row i of a column batch with ids as a JoinedRecord (observation as a plain array). */
export function recordAt(c: JoinedColumns, i: number): JoinedRecord {
  const a = c.offsets[i], b = c.offsets[i + 1];
  const observation = new Array<number>(b - a);
  for (let j = a; j < b; j++) observation[j - a] = c.obs[j];
  return {
    reward: c.reward[i],
    event_id: c.eventId ? c.eventId[i] : "",
    action: c.action[i],
    action_prob: c.actionProb[i],
    model_id: c.modelId ? c.modelId[i] : "",
    observation,
    sample_prob: c.sampleProb ? c.sampleProb[i] : 0,
  };
}
