import type { LlmCallRow } from "../../storage/rows.js";
import { llmCallRow } from "../../storage/test-row.js";
import { createEvalInput, type EvalInput } from "./index.js";

/** Shared fixture for the evaluator tests: a successful, priced OpenAI chat call with no captured content. */
export const BASE_ROW: LlmCallRow = llmCallRow({
  timestamp: 1_790_000_000_000_000,
  trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
  span_id: "00f067aa0ba902b7",
  service: "checkout-api",
  environment: "prod",
  team: "payments",
  project: "assistant",
  request_model: "gpt-4o",
  response_model: "gpt-4o-2024-08-06",
  input_tokens: 120,
  output_tokens: 40,
  cost_usd: "0.0007",
  priced: 1,
  price_id: "openai/gpt-4o",
  duration_ms: 850,
});

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
