import { describe, expect, it } from "vitest";
import type { CallSummary } from "../ingest/process-batch.js";
import { createCollectorMetrics } from "./collector-metrics.js";

const BASE: CallSummary = {
  timestamp: 0,
  trace_id: "t",
  span_id: "s",
  parent_span_id: "",
  convention: "otel_genai",
  operation: "chat",
  tokens_estimated: 0,
  team: "a",
  project: "",
  user_id: "",
  environment: "",
  provider: "openai",
  request_model: "gpt-4o",
  response_model: "gpt-4o",
  status: "ok",
  source: "sdk",
  error_type: "",
  duration_ms: 0,
  ttft_ms: null,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  priced: 1,
  cost_usd: null,
  cache_hit: 0,
  has_content: 0,
};

async function llmLines(calls: CallSummary[]): Promise<string[]> {
  const m = createCollectorMetrics({ maxLabelValues: 2, defaultMetrics: false });
  for (const c of calls) m.recordCall(c);
  const text = await m.registry.metrics();
  return text
    .split("\n")
    .filter((l) => l.startsWith("tokenmeter_llm_"))
    .sort();
}

describe("call metrics", () => {
  it("calls-tokens-by-kind-cost-unpriced-errors-and-histograms-per-series, labels capped to other", async () => {
    const lines = await llmLines([
      {
        ...BASE,
        duration_ms: 1500,
        ttft_ms: 300,
        input_tokens: 100,
        output_tokens: 20,
        cache_read_tokens: 64,
        cost_usd: "0.00045",
      },
      { ...BASE, duration_ms: 90, input_tokens: 10, output_tokens: 5, reasoning_tokens: 3, cost_usd: "0.0001" },
      {
        ...BASE,
        provider: "anthropic",
        request_model: "claude-x",
        response_model: "",
        team: "b",
        status: "error",
        error_type: "429",
        source: "proxy",
        duration_ms: 12,
        priced: 0,
      },
      // A third provider, model and team: past maxLabelValues (2), all three become "other".
      {
        ...BASE,
        provider: "vllm",
        request_model: "m3",
        response_model: "",
        team: "c",
        status: "cancelled",
        source: "otlp",
        duration_ms: 5000,
        ttft_ms: 40,
        input_tokens: 7,
        output_tokens: 1,
        cache_write_tokens: 9,
        priced: 0,
      },
    ]);
    expect(lines.filter((l) => !l.includes("_bucket"))).toEqual([
      `tokenmeter_llm_call_duration_seconds_count{provider="anthropic",model="claude-x",team="b",status="error",source="proxy"} 1`,
      `tokenmeter_llm_call_duration_seconds_count{provider="openai",model="gpt-4o",team="a",status="ok",source="sdk"} 2`,
      `tokenmeter_llm_call_duration_seconds_count{provider="other",model="other",team="other",status="cancelled",source="otlp"} 1`,
      `tokenmeter_llm_call_duration_seconds_sum{provider="anthropic",model="claude-x",team="b",status="error",source="proxy"} 0.012`,
      `tokenmeter_llm_call_duration_seconds_sum{provider="openai",model="gpt-4o",team="a",status="ok",source="sdk"} 1.59`,
      `tokenmeter_llm_call_duration_seconds_sum{provider="other",model="other",team="other",status="cancelled",source="otlp"} 5`,
      `tokenmeter_llm_calls_total{provider="anthropic",model="claude-x",team="b",status="error",source="proxy"} 1`,
      `tokenmeter_llm_calls_total{provider="openai",model="gpt-4o",team="a",status="ok",source="sdk"} 2`,
      `tokenmeter_llm_calls_total{provider="other",model="other",team="other",status="cancelled",source="otlp"} 1`,
      `tokenmeter_llm_cost_usd_total{provider="openai",model="gpt-4o",team="a"} 0.00055`,
      `tokenmeter_llm_errors_total{provider="anthropic",model="claude-x",team="b",error_type="429"} 1`,
      `tokenmeter_llm_time_to_first_token_seconds_count{provider="openai",model="gpt-4o",team="a",source="sdk"} 1`,
      `tokenmeter_llm_time_to_first_token_seconds_count{provider="other",model="other",team="other",source="otlp"} 1`,
      `tokenmeter_llm_time_to_first_token_seconds_sum{provider="openai",model="gpt-4o",team="a",source="sdk"} 0.3`,
      `tokenmeter_llm_time_to_first_token_seconds_sum{provider="other",model="other",team="other",source="otlp"} 0.04`,
      `tokenmeter_llm_token_usage_count{provider="openai",model="gpt-4o",type="input"} 2`,
      `tokenmeter_llm_token_usage_count{provider="openai",model="gpt-4o",type="output"} 2`,
      `tokenmeter_llm_token_usage_count{provider="other",model="other",type="input"} 1`,
      `tokenmeter_llm_token_usage_count{provider="other",model="other",type="output"} 1`,
      `tokenmeter_llm_token_usage_sum{provider="openai",model="gpt-4o",type="input"} 110`,
      `tokenmeter_llm_token_usage_sum{provider="openai",model="gpt-4o",type="output"} 25`,
      `tokenmeter_llm_token_usage_sum{provider="other",model="other",type="input"} 7`,
      `tokenmeter_llm_token_usage_sum{provider="other",model="other",type="output"} 1`,
      `tokenmeter_llm_tokens_total{provider="openai",model="gpt-4o",team="a",kind="cache_read"} 64`,
      `tokenmeter_llm_tokens_total{provider="openai",model="gpt-4o",team="a",kind="input"} 110`,
      `tokenmeter_llm_tokens_total{provider="openai",model="gpt-4o",team="a",kind="output"} 25`,
      `tokenmeter_llm_tokens_total{provider="openai",model="gpt-4o",team="a",kind="reasoning"} 3`,
      `tokenmeter_llm_tokens_total{provider="other",model="other",team="other",kind="cache_write"} 9`,
      `tokenmeter_llm_tokens_total{provider="other",model="other",team="other",kind="input"} 7`,
      `tokenmeter_llm_tokens_total{provider="other",model="other",team="other",kind="output"} 1`,
      `tokenmeter_llm_unpriced_calls_total{provider="other",model="other",team="other"} 1`,
    ]);
    // Buckets are cumulative: 90 ms falls in le=0.16, 1.5 s in le=2.56.
    const bucket = (le: string) =>
      `tokenmeter_llm_call_duration_seconds_bucket{provider="openai",model="gpt-4o",team="a",status="ok",source="sdk",le="${le}"}`;
    expect(lines).toContain(`${bucket("0.08")} 0`);
    expect(lines).toContain(`${bucket("0.16")} 1`);
    expect(lines).toContain(`${bucket("1.28")} 1`);
    expect(lines).toContain(`${bucket("2.56")} 2`);
    expect(lines).toContain(`${bucket("+Inf")} 2`);
  });
});
