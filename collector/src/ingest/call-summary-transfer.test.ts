import { describe, expect, it } from "vitest";
import { packCalls, unpackCalls } from "./call-summary-transfer.js";
import type { CallSummary } from "./process-batch.js";

const call: CallSummary = {
  timestamp: 1_790_000_000_000_001,
  trace_id: "t".repeat(32),
  span_id: "s".repeat(16),
  parent_span_id: "",
  convention: "otel_genai",
  operation: "chat",
  tokens_estimated: 0,
  team: "payments",
  project: "storefront",
  user_id: "u1",
  environment: "prod",
  provider: "openai",
  request_model: "gpt-4o-mini",
  response_model: "gpt-4o-mini-2024-07-18",
  status: "ok",
  source: "sdk",
  error_type: "",
  duration_ms: 812.5,
  ttft_ms: null,
  input_tokens: 800,
  output_tokens: 150,
  cache_read_tokens: 512,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  priced: 1,
  cost_usd: "0.000123",
  cache_hit: 0,
  has_content: 1,
};

describe("call summaries across threads", () => {
  it("a packed call survives structured clone and comes back equal, every field", () => {
    const back = unpackCalls(structuredClone(packCalls([call, { ...call, span_id: "x", cost_usd: null }])));
    expect(back).toEqual([call, { ...call, span_id: "x", cost_usd: null }]);
    expect(Object.keys(back[0] as object).sort()).toEqual(Object.keys(call).sort());
  });
});
