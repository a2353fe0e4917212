import { columnsOf } from "../storage/row-format.js";
import type { CallSummary } from "./process-batch.js";

/**
 * How call summaries cross from an ingest worker to the main thread: as one array of values
 * per call, in the order of SUMMARY_FIELDS, rebuilt into objects on arrival. Structured clone
 * writes every property name of every object it copies; arrays of values skip that. Measured
 * for 500 calls: 2.4 µs a call packed, copied and rebuilt, against 3.9 µs as objects.
 */

/** Every key of CallSummary, each once (the compiler rejects a list that misses one). */
const SUMMARY_FIELDS = columnsOf<CallSummary>()([
  "timestamp",
  "trace_id",
  "span_id",
  "parent_span_id",
  "convention",
  "operation",
  "tokens_estimated",
  "team",
  "project",
  "user_id",
  "environment",
  "provider",
  "request_model",
  "response_model",
  "status",
  "source",
  "error_type",
  "duration_ms",
  "ttft_ms",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "priced",
  "cost_usd",
  "cache_hit",
  "has_content",
]);

export type PackedCalls = unknown[][];

// Compiled once, reading and writing each field at a fixed name (monomorphic, as row-format.ts
// does for its line encoders). The names are the constants above.
const pack = new Function("c", `return [${SUMMARY_FIELDS.map((f) => `c.${f}`).join(", ")}];`) as (
  c: CallSummary,
) => unknown[];
const unpack = new Function("v", `return { ${SUMMARY_FIELDS.map((f, i) => `${f}: v[${i}]`).join(", ")} };`) as (
  v: unknown[],
) => CallSummary;

/** Calls as arrays of values, for postMessage. */
export function packCalls(calls: readonly CallSummary[]): PackedCalls {
  return calls.map(pack);
}

/** The calls packCalls() packed, as objects again. */
export function unpackCalls(packed: PackedCalls): CallSummary[] {
  return packed.map(unpack);
}
