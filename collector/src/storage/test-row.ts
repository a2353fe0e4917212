import type { LlmCallRow, ScoreRow } from "./rows.js";

/**
 * An llm_calls row for seeding storage: an ok, unstreamed OpenAI chat call with no attribution,
 * no cache or reasoning tokens and no cost. Callers set what their scenario is about.
 */
export function llmCallRow(fields: Partial<LlmCallRow>): LlmCallRow {
  return {
    timestamp: 0,
    trace_id: "",
    span_id: "",
    parent_span_id: "",
    service: "",
    environment: "",
    team: "",
    project: "",
    user_id: "",
    session_id: "",
    feature: "",
    source: "sdk",
    convention: "otel_genai",
    provider: "openai",
    operation: "chat",
    request_model: "",
    response_model: "",
    response_id: "",
    prompt_name: "",
    prompt_version: "",
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    tokens_estimated: 0,
    cost_usd: null,
    reported_cost_usd: null,
    priced: 0,
    price_id: "",
    duration_ms: 0,
    ttft_ms: null,
    streamed: 0,
    status: "ok",
    error_type: "",
    finish_reason: "stop",
    http_status: 200,
    request_params: "{}",
    input: "",
    output: "",
    redacted: 0,
    cache_hit: 0,
    tags: {},
    ...fields,
    // List equals effective unless the scenario sets it, as ingest does without a contract.
    list_cost_usd: fields.list_cost_usd !== undefined ? fields.list_cost_usd : (fields.cost_usd ?? null),
  };
}

/** A numeric "helpfulness" score row, number `i`, with score id `${idPrefix}-${i}`. */
export function scoreRow(i: number, idPrefix = "s"): ScoreRow {
  return {
    timestamp: 1_790_000_000_000_000 + i,
    score_id: `${idPrefix}-${i}`,
    trace_id: "0af7651916cd43dd8448eb211c80319c",
    span_id: "b7ad6b7169203331",
    name: "helpfulness",
    value: i,
    label: "",
    source: "api",
    comment: "",
    data_type: "numeric",
  };
}
