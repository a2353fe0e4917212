/**
 * Row shapes of the ClickHouse tables, as the writer encodes them (row-format.ts). Column names
 * match the DDL in migrations.ts and the contract in ARCHITECTURE.md.
 */

export type CallSource = "sdk" | "proxy" | "otlp";
export type CallStatus = "ok" | "error" | "cancelled";

export interface LlmCallRow {
  /** Call start as Unix microseconds (DateTime64(6)). */
  timestamp: number;
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  service: string;
  environment: string;
  team: string;
  project: string;
  user_id: string;
  session_id: string;
  feature: string;
  source: CallSource;
  convention: string;
  provider: string;
  operation: string;
  request_model: string;
  response_model: string;
  response_id: string;
  prompt_name: string;
  prompt_version: string;
  /** Includes cache reads and writes. */
  input_tokens: number;
  /** Includes reasoning tokens. */
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  /** 1 when any token count was estimated locally (usage missing). */
  tokens_estimated: number;
  /** Decimal as a string with up to 9 decimals; null when unpriced. */
  cost_usd: string | null;
  /**
   * Catalog list cost at the call's service tier (FOCUS ListCost), beside the effective
   * `cost_usd`; equal to it when no contract or tier applies, null when unpriced.
   */
  list_cost_usd: string | null;
  /** Cost the sender reported itself (OpenLIT gen_ai.usage.cost, llm.cost.total, ...); null when none. */
  reported_cost_usd: string | null;
  priced: number;
  /** Catalog entry and version used, e.g. "openai/gpt-4o@2024-08-06"; "" when unpriced. */
  price_id: string;
  duration_ms: number;
  /** Time to first token/chunk in ms; null when not streamed or unknown. */
  ttft_ms: number | null;
  streamed: number;
  status: CallStatus;
  error_type: string;
  finish_reason: string;
  http_status: number;
  /** Request parameters (temperature, max_tokens, ...) as a JSON object string. */
  request_params: string;
  /** Normalized input messages as a JSON string (see normalize/messages.ts). */
  input: string;
  /** Normalized output messages as a JSON string. */
  output: string;
  redacted: number;
  /** 1 when the proxy served this call from its response cache. */
  cache_hit: number;
  tags: Record<string, string>;
}

export interface SpanRow {
  timestamp: number;
  end_timestamp: number;
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: number;
  service: string;
  scope_name: string;
  status_code: number;
  status_message: string;
  duration_ms: number;
  /** Which normalize adapter recognised it ("" when none). */
  convention: string;
  /** gen_ai.operation.name or the convention's equivalent ("" when none). */
  operation: string;
  /** 1 when this span produced an llm_calls row. */
  is_llm_call: number;
  attributes: Record<string, string>;
  /**
   * The attributes that hold content (prompts, responses, tool arguments and results, retrieved
   * documents): redacted, and kept for the content retention rather than the rows'.
   */
  content_attributes: Record<string, string>;
  resource_attributes: Record<string, string>;
  /** Span events as a JSON array string. */
  events: string;
}

export interface ScoreRow {
  timestamp: number;
  score_id: string;
  trace_id: string;
  span_id: string;
  name: string;
  value: number | null;
  label: string;
  /** "api" | "sdk" | "evaluator" | "telemetry" | "annotation" ... */
  source: string;
  comment: string;
  data_type: "numeric" | "categorical" | "boolean";
}
