import { describe, expect, it } from "vitest";
import type { CallSummary } from "./process-batch.js";
import { RecentCalls } from "./recent-calls.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

function call(span: string, parent: string, over: Partial<CallSummary> = {}): CallSummary {
  return {
    timestamp: 1_793_534_400_000_000,
    trace_id: TRACE,
    span_id: span,
    parent_span_id: parent,
    convention: "otel_genai",
    operation: "chat",
    tokens_estimated: 0,
    has_content: 0,
    team: "",
    project: "",
    user_id: "",
    environment: "",
    provider: "openai",
    request_model: "gpt-4o-mini",
    response_model: "gpt-4o-mini-2024-07-18",
    status: "ok",
    source: "otlp",
    error_type: "",
    duration_ms: 400,
    ttft_ms: null,
    input_tokens: 12,
    output_tokens: 5,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    priced: 1,
    cost_usd: "0.000005",
    cache_hit: 0,
    ...over,
  };
}

describe("RecentCalls: de-duplication across export batches", () => {
  it("a-wrapper-arriving-after-the-call-it-wraps-is-dropped", () => {
    const recent = new RecentCalls();
    expect(recent.admit([call("inner", "outer")]).drop).toEqual([]);
    const v = recent.admit([call("outer", "root", { convention: "openinference", has_content: 1 })]);
    expect(v.drop).toEqual([0]);
    // The wrapper had the messages, the kept call did not: they move under the kept span.
    expect(v.contentFor).toEqual([{ index: 0, trace_id: TRACE, span_id: "inner", timestamp: 1_793_534_400_000_000 }]);
  });

  it("a-call-arriving-after-its-wrapper-is-dropped", () => {
    const recent = new RecentCalls();
    recent.admit([call("outer", "root", { convention: "openinference", has_content: 1 })]);
    const v = recent.admit([call("inner", "outer")]);
    expect(v.drop).toEqual([0]);
    expect(v.contentFor).toEqual([]);
  });

  it("a-wrapper-of-a-wrapper-finds-the-kept-call-through-the-dropped-one", () => {
    const recent = new RecentCalls();
    recent.admit([call("inner", "mid")]);
    expect(recent.admit([call("mid", "outer", { convention: "openinference" })]).drop).toEqual([0]);
    expect(recent.admit([call("outer", "root", { convention: "langfuse" })]).drop).toEqual([0]);
  });

  it("a-re-sent-span-is-dropped", () => {
    const recent = new RecentCalls();
    recent.admit([call("a", "root"), call("b", "root", { request_model: "gpt-4.1" })]);
    expect(recent.admit([call("a", "root"), call("b", "root", { request_model: "gpt-4.1" })]).drop).toEqual([0, 1]);
  });

  it("a-sibling-from-another-instrumentation-with-the-same-usage-is-dropped", () => {
    const recent = new RecentCalls();
    recent.admit([call("openlit", "root", { convention: "openlit" })]);
    const v = recent.admit([
      call("traceloop", "root", { convention: "openllmetry", timestamp: 1_793_534_400_001_000 }),
    ]);
    expect(v.drop).toEqual([0]);
  });

  it("distinct-calls-under-one-parent-are-all-kept", () => {
    const recent = new RecentCalls();
    recent.admit([call("first", "agent")]);
    // Same convention, same parent: two calls of one agent step, not one call seen twice.
    expect(recent.admit([call("second", "agent")]).drop).toEqual([]);
    // Another instrumentation but other usage: another call.
    expect(recent.admit([call("third", "agent", { convention: "openlit", output_tokens: 9 })]).drop).toEqual([]);
    // A child of a call with another operation (a tool-calling chat spawning an embedding).
    expect(
      recent.admit([call("emb", "first", { operation: "embeddings", request_model: "text-embedding-3-small" })]).drop,
    ).toEqual([]);
  });

  it("span-ids-reused-in-another-trace-are-not-duplicates", () => {
    const recent = new RecentCalls();
    recent.admit([call("fixed", "outer")]);
    const other = "0af7651916cd43dd8448eb211c80319c";
    // The same span id, and a span named like the first call's parent, in another trace.
    expect(recent.admit([call("fixed", "outer", { trace_id: other })]).drop).toEqual([]);
    expect(recent.admit([call("outer", "root", { trace_id: other, convention: "openinference" })]).drop).toEqual([0]);
    expect(recent.admit([call("outer", "root", { convention: "openinference" })]).drop).toEqual([0]);
  });

  it("a-rolled-back-batch-counts-nothing-and-its-retry-is-kept", () => {
    const recent = new RecentCalls();
    const refused = recent.admit([call("inner", "outer")]);
    refused.rollback();
    expect(recent.admit([call("inner", "outer")]).drop).toEqual([]);
  });

  it("a-wrapper-dropped-for-a-call-rolled-back-later-does-not-eat-that-call-on-retry", () => {
    const recent = new RecentCalls();
    const first = recent.admit([call("inner", "outer")]);
    // The wrapper arrives while the inner call's batch is still being written: dropped.
    const wrapper = recent.admit([call("outer", "root", { convention: "openinference", has_content: 1 })]);
    expect(wrapper.drop).toEqual([0]);
    expect(wrapper.contentFor).toHaveLength(1);
    // Then the inner call's batch is refused and sent again: it must be stored.
    first.rollback();
    expect(recent.admit([call("inner", "outer")]).drop).toEqual([]);
  });

  it("content-handed-over-by-a-rolled-back-batch-is-handed-over-again", () => {
    const recent = new RecentCalls();
    recent.admit([call("inner", "outer")]);
    const wrapper = recent.admit([call("outer", "root", { convention: "openinference", has_content: 1 })]);
    expect(wrapper.contentFor).toHaveLength(1);
    wrapper.rollback();
    const retry = recent.admit([call("outer", "root", { convention: "openinference", has_content: 1 })]);
    expect(retry.drop).toEqual([0]);
    expect(retry.contentFor).toHaveLength(1);
  });

  it("the-oldest-calls-are-forgotten-beyond-capacity", () => {
    const recent = new RecentCalls(2);
    recent.admit([call("a", "r1"), call("b", "r2"), call("c", "r3")]);
    expect(recent.size).toBe(2);
    expect(recent.admit([call("a", "r1")]).drop).toEqual([]);
    expect(recent.admit([call("c", "r3")]).drop).toEqual([0]);
  });
});
