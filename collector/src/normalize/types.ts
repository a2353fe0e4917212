import type { DecodedSpan } from "../otlp/types.js";
import type { LlmCallRow } from "../storage/rows.js";

/**
 * What an adapter extracts from one span. Attribution and service come from the shared
 * attribution step (normalize/attribution.ts), cost from enrich/, so adapters only read the
 * facts their convention encodes.
 */
export type CallFacts = Pick<
  LlmCallRow,
  | "provider"
  | "operation"
  | "request_model"
  | "response_model"
  | "response_id"
  | "prompt_name"
  | "prompt_version"
  | "input_tokens"
  | "output_tokens"
  | "cache_read_tokens"
  | "cache_write_tokens"
  | "reasoning_tokens"
  | "ttft_ms"
  | "streamed"
  | "status"
  | "error_type"
  | "finish_reason"
  | "http_status"
  | "request_params"
  | "input"
  | "output"
> & {
  /** True when the span carried no usage at all (enrich/ then estimates tokens from content). */
  usageMissing: boolean;
  /** Cost reported by the sender in USD, when its convention carries one. */
  reportedCostUsd: number | null;
  /** Convention-specific user/session/tags, lowest precedence after tokenmeter.* and baggage. */
  userId: string;
  sessionId: string;
  tags: Record<string, string>;
};

/** Scores a convention carries inside spans (OpenInference evaluations.N.*, gen_ai.evaluation.result events). */
export interface SpanScore {
  name: string;
  value: number | null;
  label: string;
  comment: string;
  timeUs: number;
}

export interface SpanClassification {
  /** Adapter name, stored in `convention`. */
  convention: string;
  /** gen_ai.operation.name or equivalent ("" when the span says nothing). */
  operation: string;
  /** True for a model call that gets an llm_calls row (chat, text_completion, embeddings, ...). */
  isModelCall: boolean;
}

/**
 * One adapter per telemetry convention. `detect` must be cheap (a few key lookups): it runs on
 * every span. Adapters are tried in registry order; the first that detects wins.
 */
export interface ConventionAdapter {
  readonly name: string;
  detect(span: DecodedSpan): boolean;
  classify(span: DecodedSpan): SpanClassification;
  /** Only called when classify() said isModelCall. */
  extract(span: DecodedSpan): CallFacts;
  /** Scores carried in the span itself; optional. */
  scores?(span: DecodedSpan): SpanScore[];
}
