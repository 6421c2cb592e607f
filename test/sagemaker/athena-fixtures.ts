/**
 * Fixtures for the join tests: one set of decisions and rewards, written both as the local
 * endpoint's decision log and as SageMaker data-capture lines, with duplicates, late and missing
 * rewards, rewards without decisions and non-decision requests.
 */
import type { RewardRecord } from "@cbkit/common";
import { splitValueOf } from "@cbkit/common/data";
import type { DecisionRecord } from "@cbkit/common/platform";
import { Rng } from "@cbkit/common/util";

export const T0 = Date.parse("2026-11-28T10:00:00Z") / 1000;

export function makeDecisions(n: number, seed = 3): DecisionRecord[] {
  const rng = new Rng(seed);
  const out: DecisionRecord[] = [];
  for (let i = 0; i < n; i++) {
    const event_id = `ev-${String(i).padStart(4, "0")}`;
    const pmf = [0.7, 0.1, 0.1, 0.1];
    const action = 1 + rng.int(4);
    out.push({
      event_id,
      action,
      action_prob: pmf[action - 1],
      action_probs: pmf,
      model_id: i < n / 2 ? "exp-athena-model-a" : "exp-athena-model-b",
      observation: Array.from({ length: 3 }, () => Math.round(rng.next() * 1000) / 1000),
      sample_prob: splitValueOf(event_id),
      timestamp: T0 + i * 60 + 0.125,
      type: "actions",
    });
  }
  // The same event logged twice (a retried delivery): the earlier one must win.
  out.push({ ...out[5], action: out[5].action === 1 ? 2 : 1, timestamp: out[5].timestamp + 30 });
  return out;
}

export function makeRewards(decisions: DecisionRecord[]): RewardRecord[] {
  const rewards: RewardRecord[] = [];
  const unique = decisions.slice(0, decisions.length - 1);
  unique.forEach((d, i) => {
    if (i % 7 === 3) return; // no reward: dropped, or given the default
    rewards.push({ event_id: d.event_id, reward: i % 3 === 0 ? 0 : 1, timestamp: d.timestamp + 5 });
  });
  // Duplicate rewards: the earliest wins.
  rewards.push({ event_id: unique[1].event_id, reward: 0, timestamp: unique[1].timestamp + 100 });
  rewards.push({ event_id: unique[2].event_id, reward: 1 - rewards[2].reward, timestamp: unique[2].timestamp + 1 });
  // A reward without timestamp counts as latest.
  rewards.push({ event_id: unique[4].event_id, reward: 0 });
  // Rewards for events nobody decided.
  rewards.push({ event_id: "ev-unknown-1", reward: 1, timestamp: T0 });
  return rewards;
}

export interface CaptureLine {
  captureData: {
    endpointInput: { observedContentType: string; mode: "INPUT"; data: string; encoding: "JSON" | "CSV" | "BASE64" };
    endpointOutput: { observedContentType: string; mode: "OUTPUT"; data: string; encoding: "JSON" | "CSV" | "BASE64" };
  };
  eventMetadata: { eventId: string; inferenceId?: string; inferenceTime: string };
  eventVersion: "0";
}

/** The endpoint's answer to one decision request (a JSON object, as serve.ts writes it). */
const answerOf = (d: DecisionRecord) => ({
  action: d.action,
  action_prob: d.action_prob,
  action_probs: d.action_probs,
  event_id: d.event_id,
  model_id: d.model_id,
  sample_prob: d.sample_prob,
  timestamp: d.timestamp,
});

/** What SageMaker data capture writes for one InvokeEndpoint of the Predictor. */
export function captureLine(d: DecisionRecord, options: { base64?: boolean } = {}): CaptureLine {
  const request = JSON.stringify({ request_type: "observation", observation: d.observation });
  const response = JSON.stringify(answerOf(d));
  const enc = (s: string) => (options.base64 ? Buffer.from(s).toString("base64") : s);
  const encoding = options.base64 ? ("BASE64" as const) : ("JSON" as const);
  return {
    captureData: {
      endpointInput: { observedContentType: "application/json", mode: "INPUT", data: enc(request), encoding },
      endpointOutput: { observedContentType: "application/json", mode: "OUTPUT", data: enc(response), encoding },
    },
    eventMetadata: { eventId: `uuid-${d.event_id}-${d.timestamp}`, inferenceId: d.event_id, inferenceTime: new Date(d.timestamp * 1000).toISOString() },
    eventVersion: "0",
  };
}

/**
 * What SageMaker data capture writes for one `getActions` call: ONE record for the whole
 * `application/jsonlines` request, the bodies as text when jsonlines is listed in
 * CaptureContentTypeHeader, base64 otherwise, and no inferenceId (a batch has none).
 */
export function batchCaptureLine(ds: DecisionRecord[], options: { base64?: boolean } = {}): CaptureLine {
  const request = ds.map((d) => JSON.stringify({ observation: d.observation, event_id: d.event_id })).join("\n") + "\n";
  const response = ds.map((d) => JSON.stringify(answerOf(d))).join("\n") + "\n";
  const enc = (s: string) => (options.base64 ? Buffer.from(s).toString("base64") : s);
  const encoding = options.base64 ? ("BASE64" as const) : ("JSON" as const);
  return {
    captureData: {
      endpointInput: { observedContentType: "application/jsonlines", mode: "INPUT", data: enc(request), encoding },
      endpointOutput: { observedContentType: "application/jsonlines", mode: "OUTPUT", data: enc(response), encoding },
    },
    eventMetadata: { eventId: `uuid-batch-${ds[0].event_id}`, inferenceTime: new Date(ds[0].timestamp * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") },
    eventVersion: "0",
  };
}

/** A captured `model_id` probe (no decision): must not reach the join. */
export function probeLine(time: number): CaptureLine {
  return {
    captureData: {
      endpointInput: { observedContentType: "application/json", mode: "INPUT", data: '{"request_type":"model_id","observation":null}', encoding: "JSON" },
      endpointOutput: { observedContentType: "application/json", mode: "OUTPUT", data: '{"model_id":"exp-athena-model-b"}', encoding: "JSON" },
    },
    eventMetadata: { eventId: "uuid-probe", inferenceTime: new Date(time * 1000).toISOString() },
    eventVersion: "0",
  };
}

/** `yyyy/MM/dd/HH` of an epoch-seconds time. */
export function hourOf(t: number): string {
  const d = new Date(t * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${p(d.getUTCHours())}`;
}
