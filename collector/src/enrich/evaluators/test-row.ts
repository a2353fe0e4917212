import type { LlmCallRow } from "../../storage/rows.js";
import { createEvalInput, type EvalInput } from "./index.js";

/** Shared fixture for the evaluator tests: a successful, priced OpenAI chat call with no captured content. */
export const BASE_ROW: LlmCallRow = {
  timestamp: 1_790_000_000_000_000,
  trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
  span_id: "00f067aa0ba902b7",
  parent_span_id: "",
  service: "checkout-api",
  environment: "prod",
  team: "payments",
  project: "assistant",
  user_id: "",
  session_id: "",
  feature: "",
  source: "sdk",
  convention: "otel_genai",
  provider: "openai",
  operation: "chat",
  request_model: "gpt-4o",
  response_model: "gpt-4o-2024-08-06",
  response_id: "",
  prompt_name: "",
  prompt_version: "",
  input_tokens: 120,
  output_tokens: 40,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  tokens_estimated: 0,
  cost_usd: "0.0007",
  reported_cost_usd: null,
  priced: 1,
  price_id: "openai/gpt-4o",
  duration_ms: 850,
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
};

export function row(overrides: Partial<LlmCallRow> = {}): LlmCallRow {
  return { ...BASE_ROW, ...overrides };
}

export function call(overrides: Partial<LlmCallRow> = {}): EvalInput {
  return createEvalInput(row(overrides));
}

/** Normalized output messages (OTel GenAI parts), one assistant message per text. */
export function output(...texts: string[]): string {
  return JSON.stringify(
    texts.map((content) => ({ role: "assistant", parts: [{ type: "text", content }], finish_reason: "stop" })),
  );
}
