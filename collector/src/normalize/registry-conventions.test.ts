import { describe, expect, it } from "vitest";
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { createNormalizer, dedupeCalls, defaultAdapters, type NormalizedCall } from "./registry.js";
import { START_US, spanMaker } from "./test-span.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const makeSpan = spanMaker({
  name: "span",
  kind: 1,
  endTimeUs: START_US + 1_000_000,
  resource: { attributes: { "service.name": "app" } },
  scope: { name: "some-scope", version: "1" },
});

const normalizer = createNormalizer(defaultAdapters, {});

function conventionOf(span: DecodedSpan): string {
  return normalizer.normalizeSpan(span, "otlp").spanRow.convention;
}

function callOf(span: DecodedSpan): NormalizedCall {
  const { call } = normalizer.normalizeSpan(span, "otlp");
  if (call === null) throw new Error("expected a call");
  return call;
}

describe("detection order", () => {
  // Processors of the Traceloop and Langfuse SDKs stamp their keys on every span they see.
  const ambient: Attributes = {
    "traceloop.association.properties.user_id": "u",
    "traceloop.workflow.name": "wf",
    "langfuse.environment": "prod",
    "user.id": "u",
  };

  it.each([
    ["openinference", { "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o" }],
    ["langfuse", { "langfuse.observation.type": "generation" }],
    ["vercel_ai", { "ai.operationId": "ai.generateText.doGenerate", "gen_ai.system": "openai.chat" }],
    ["openlit", { "telemetry.sdk.name": "openlit", "gen_ai.operation.name": "chat" }],
    ["openllmetry", { "llm.request.type": "chat", "gen_ai.system": "OpenAI" }],
  ])("%s-span-is-claimed-by-its-own-adapter-despite-other-sdks-keys", (convention, attrs) => {
    expect(conventionOf(makeSpan({ ...ambient, ...(attrs as Attributes) }))).toBe(convention);
  });

  it("plain-otel-genai-span-stays-otel-genai", () => {
    expect(conventionOf(makeSpan({ "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai" }))).toBe(
      "otel_genai",
    );
  });
});

describe("spans copy of a call span", () => {
  it.each([
    [{ "openinference.span.kind": "LLM", "input.value": "secret prompt", "output.value": "secret answer" }],
    [{ "ai.operationId": "ai.generateText.doGenerate", "ai.prompt.messages": '[{"role":"user","content":"secret"}]' }],
    [{ "langfuse.observation.type": "generation", "langfuse.observation.input": "secret prompt" }],
    [{ "openinference.span.kind": "EMBEDDING", "embedding.embeddings.0.embedding.text": "secret text" }],
  ])("leaves-the-content-to-the-redacted-call-row-%#", (attrs: Attributes) => {
    const n = normalizer.normalizeSpan(makeSpan(attrs), "otlp");
    expect(n.call?.input).toContain("secret");
    expect(JSON.stringify(n.spanRow.attributes)).not.toContain("secret");
  });
});

describe("dedupeCalls across conventions", () => {
  const OTEL_CHAT: Attributes = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 50,
    "gen_ai.usage.output_tokens": 7,
  };

  function otelChat(spanId: string, parent: string, startOffsetUs = 1000): NormalizedCall {
    return callOf(
      makeSpan(OTEL_CHAT, {
        spanId,
        parentSpanId: parent,
        startTimeUs: START_US + startOffsetUs,
        endTimeUs: START_US + 900_000,
      }),
    );
  }

  function langfuseGeneration(spanId: string, parent: string, extra: Attributes = {}): NormalizedCall {
    return callOf(
      makeSpan(
        {
          "langfuse.observation.type": "generation",
          "langfuse.observation.model.name": "gpt-4o-mini-2024-07-18",
          "langfuse.observation.input": '[{"role":"user","content":"hi"}]',
          "langfuse.observation.completion_start_time": '"2026-01-01T00:00:00.250Z"',
          "langfuse.user.id": "user-1",
          "langfuse.trace.tags": ["beta"],
          ...extra,
        },
        { spanId, parentSpanId: parent },
      ),
    );
  }

  it("wrapper-through-a-non-call-span-is-matched-with-span-links", () => {
    const outer = langfuseGeneration("aaaaaaaaaaaaaaaa", "");
    const inner = otelChat("cccccccccccccccc", "bbbbbbbbbbbbbbbb");
    expect(dedupeCalls([outer, inner])).toHaveLength(2);
    const links = [{ trace_id: TRACE, span_id: "bbbbbbbbbbbbbbbb", parent_span_id: "aaaaaaaaaaaaaaaa" }];
    const kept = dedupeCalls([outer, inner], links);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({
      span_id: "cccccccccccccccc",
      convention: "otel_genai",
      input_tokens: 50,
      user_id: "user-1",
      ttft_ms: 250,
      streamed: 1,
      tags: { beta: "true" },
    });
    expect(JSON.parse(String(kept[0]?.input))).toEqual([{ role: "user", parts: [{ type: "text", content: "hi" }] }]);
  });

  it("wrapper-around-several-calls-is-a-grouping-and-is-dropped", () => {
    const outer = langfuseGeneration("aaaaaaaaaaaaaaaa", "", {
      "langfuse.observation.model.name": "",
      "langfuse.observation.usage_details": '{"input":100,"output":14}',
    });
    const first = otelChat("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa");
    const second = otelChat("cccccccccccccccc", "aaaaaaaaaaaaaaaa", 500_000);
    const kept = dedupeCalls([outer, first, second]);
    expect(kept.map((c) => c.span_id)).toEqual(["bbbbbbbbbbbbbbbb", "cccccccccccccccc"]);
  });

  it("wrapper-without-a-model-matches-the-one-call-it-wraps", () => {
    const outer = langfuseGeneration("aaaaaaaaaaaaaaaa", "", { "langfuse.observation.model.name": "" });
    const inner = otelChat("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa");
    expect(dedupeCalls([outer, inner]).map((c) => c.span_id)).toEqual(["bbbbbbbbbbbbbbbb"]);
  });

  it("siblings-of-two-conventions-with-equal-usage-are-one-call", () => {
    const gen = langfuseGeneration("aaaaaaaaaaaaaaaa", "ffffffffffffffff", {
      "langfuse.observation.usage_details": '{"input":50,"output":7}',
    });
    const otel = otelChat("bbbbbbbbbbbbbbbb", "ffffffffffffffff");
    const kept = dedupeCalls([gen, otel]);
    expect(kept).toHaveLength(1);
    // Same depth: the richer row (content, TTFT, user) is kept, the provider filled in.
    expect(kept[0]).toMatchObject({ span_id: "aaaaaaaaaaaaaaaa", convention: "langfuse", provider: "openai" });
  });

  it("siblings-with-different-usage-or-one-convention-stay-apart", () => {
    const gen = langfuseGeneration("aaaaaaaaaaaaaaaa", "ffffffffffffffff", {
      "langfuse.observation.usage_details": '{"input":51,"output":7}',
    });
    const otel = otelChat("bbbbbbbbbbbbbbbb", "ffffffffffffffff");
    expect(dedupeCalls([gen, otel])).toHaveLength(2);
    const twin = otelChat("cccccccccccccccc", "ffffffffffffffff");
    expect(dedupeCalls([otel, twin])).toHaveLength(2);
  });

  it("siblings-that-do-not-overlap-in-time-stay-apart", () => {
    const gen = callOf(
      makeSpan(
        {
          "langfuse.observation.type": "generation",
          "langfuse.observation.model.name": "gpt-4o-mini",
          "langfuse.observation.usage_details": '{"input":50,"output":7}',
        },
        {
          spanId: "aaaaaaaaaaaaaaaa",
          parentSpanId: "ffffffffffffffff",
          startTimeUs: START_US + 2_000_000,
          endTimeUs: START_US + 3_000_000,
        },
      ),
    );
    const otel = otelChat("bbbbbbbbbbbbbbbb", "ffffffffffffffff");
    expect(dedupeCalls([gen, otel])).toHaveLength(2);
  });

  it("two-parallel-calls-each-seen-twice-are-two-rows", () => {
    const genA = langfuseGeneration("a1a1a1a1a1a1a1a1", "ffffffffffffffff", {
      "langfuse.observation.usage_details": '{"input":50,"output":7}',
    });
    const genB = langfuseGeneration("b1b1b1b1b1b1b1b1", "ffffffffffffffff", {
      "langfuse.observation.usage_details": '{"input":50,"output":7}',
    });
    const otelA = otelChat("a2a2a2a2a2a2a2a2", "ffffffffffffffff", 1000);
    const otelB = otelChat("b2b2b2b2b2b2b2b2", "ffffffffffffffff", 1200);
    expect(dedupeCalls([genA, genB, otelA, otelB])).toHaveLength(2);
  });
});
