/**
 * The stored form of records, shared by both record stores (DuckDB locally, DynamoDB in SageMaker
 * mode): JSON text. Reading goes through `decodeRecord`, the one place that also reads what the
 * previous version of the kit wrote — its model records hold scores of another shape, which are
 * read into today's score (`scoreFromJson`) — and turns JSON's nulls in scores back into NaN.
 */
import { scoreFromJson } from "../ope";
import type { RecordKind, RecordTypes } from "./types";

/** A record as the text a store keeps. */
export function encodeRecord(value: unknown): string {
  return JSON.stringify(value);
}

/** A record from the text a store keeps; `source` names where it came from in errors. */
export function decodeRecord<K extends RecordKind>(kind: K, text: string, source: string): RecordTypes[K] {
  const value = JSON.parse(text) as RecordTypes[K];
  if (kind === "model") {
    const model = value as RecordTypes["model"];
    const scores = model.eval_scores ?? {};
    for (const uri of Object.keys(scores)) scores[uri] = scoreFromJson(scores[uri], `${source}: eval_scores[${JSON.stringify(uri)}]`);
  }
  return value;
}
