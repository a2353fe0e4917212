import { describe, expect, it } from "vitest";
import type { Attributes, SpanEvent } from "../otlp/types.js";
import { otelGenAiAdapter } from "./otel-genai.js";
import {
  createNormalizer,
  dedupeCalls,
  defaultAdapters,
  eventsJson,
  isContentKey,
  MAX_ATTRIBUTE_VALUE_CHARS,
  MAX_EVENTS_JSON_CHARS,
  type NormalizedCall,
} from "./registry.js";
import { START_US, spanMaker } from "./test-span.js";
import type { CallFacts, ConventionAdapter } from "./types.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const RESOURCE = {
  attributes: {
    "service.name": "support-bot",
    "deployment.environment.name": "production",
    "telemetry.sdk.language": "nodejs",
  },
};

const makeSpan = spanMaker({
  parentSpanId: "53995c3f42cd8ad8",
  name: "chat gpt-4o",
  kind: 3,
  endTimeUs: START_US + 1_234_500,
  resource: RESOURCE,
  scope: { name: "@opentelemetry/instrumentation-openai", version: "0.5.0" },
});

const CHAT_ATTRS: Attributes = {
  "gen_ai.operation.name": "chat",
  "gen_ai.provider.name": "openai",
  "gen_ai.request.model": "gpt-4o",
  "gen_ai.response.model": "gpt-4o-2024-08-06",
  "gen_ai.usage.input_tokens": 120,
  "gen_ai.usage.output_tokens": 30,
  "gen_ai.request.stop_sequences": ["\n\n"],
  "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Where is my order?"}]}]',
  "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"On its way."}]}]',
  "tokenmeter.team": "support",
  "tokenmeter.cache_hit": true,
};

const normalizer = createNormalizer(defaultAdapters, { team: "unassigned", project: "default", environment: "dev" });

describe("normalizeSpan", () => {
  it("chat-span-gets-a-call-row-and-a-span-row", () => {
    const { call, spanRow, scores } = normalizer.normalizeSpan(makeSpan(CHAT_ATTRS), "otlp");
    expect(call).toMatchObject({
      timestamp: START_US,
      trace_id: TRACE,
      span_id: "00f067aa0ba902b7",
      parent_span_id: "53995c3f42cd8ad8",
      service: "support-bot",
      environment: "production",
      team: "support",
      project: "default",
      source: "otlp",
      convention: "otel_genai",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o",
      response_model: "gpt-4o-2024-08-06",
      input_tokens: 120,
      output_tokens: 30,
      duration_ms: 1234.5,
      status: "ok",
      redacted: 0,
      cache_hit: 1,
      usageMissing: false,
      reportedCostUsd: null,
      tags: {},
    });
    expect(call?.input).toBe(CHAT_ATTRS["gen_ai.input.messages"]);
    expect(JSON.parse(call?.request_params ?? "")).toEqual({ stop_sequences: ["\n\n"] });
    expect(spanRow).toMatchObject({
      timestamp: START_US,
      end_timestamp: START_US + 1_234_500,
      name: "chat gpt-4o",
      kind: 3,
      service: "support-bot",
      scope_name: "@opentelemetry/instrumentation-openai",
      duration_ms: 1234.5,
      convention: "otel_genai",
      operation: "chat",
      is_llm_call: 1,
      events: "[]",
    });
    expect(scores).toEqual([]);
  });

  it("span-copy-drops-content-and-facts-the-call-row-already-holds", () => {
    const { spanRow } = normalizer.normalizeSpan(
      makeSpan({ ...CHAT_ATTRS, "app.request_id": "req-9", "tokenmeter.truncated_attributes": ["x"] }),
      "sdk",
    );
    expect(spanRow.attributes["gen_ai.input.messages"]).toBeUndefined();
    expect(spanRow.attributes["gen_ai.output.messages"]).toBeUndefined();
    // Usage, models, params and attribution live in llm_calls; the app's own keys stay.
    expect(Object.keys(spanRow.attributes).filter((k) => k.startsWith("gen_ai."))).toEqual([]);
    expect(spanRow.attributes["tokenmeter.cache_hit"]).toBeUndefined();
    expect(spanRow.attributes).toMatchObject({
      "app.request_id": "req-9",
      "tokenmeter.truncated_attributes": '["x"]',
    });
    expect(spanRow.resource_attributes).toEqual({
      "service.name": "support-bot",
      "deployment.environment.name": "production",
      "telemetry.sdk.language": "nodejs",
    });
  });

  it("content-on-a-span-without-call-row-is-kept-apart-as-content", () => {
    const { call, spanRow } = normalizer.normalizeSpan(
      makeSpan({
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.input.messages": "[]",
        "gen_ai.tool.call.arguments": '{"q":"x"}',
        "traceloop.entity.output": "done",
        "retrieval.documents.0.document.content": "doc",
        "gen_ai.agent.name": "helper",
      }),
      "otlp",
    );
    expect(call).toBeNull();
    expect(spanRow.content_attributes).toEqual({
      "gen_ai.input.messages": "[]",
      "gen_ai.tool.call.arguments": '{"q":"x"}',
      "traceloop.entity.output": "done",
      "retrieval.documents.0.document.content": "doc",
    });
    expect(spanRow.attributes["gen_ai.agent.name"]).toBe("helper");
    expect(spanRow.attributes["gen_ai.input.messages"]).toBeUndefined();
  });

  it("content-events-are-stripped-from-span-copy-when-the-call-holds-them", () => {
    const events: SpanEvent[] = [
      {
        name: "gen_ai.user.message",
        timeUs: START_US,
        attributes: { content: "secret prompt", "gen_ai.system": "openai" },
      },
      {
        name: "gen_ai.client.inference.operation.details",
        timeUs: START_US,
        attributes: { "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"x"}]}]' },
      },
    ];
    const { call, spanRow } = normalizer.normalizeSpan(
      makeSpan({ "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o" }, { events }),
      "otlp",
    );
    expect(call?.input).toContain("secret prompt");
    expect(spanRow.events).not.toContain("secret prompt");
    expect(JSON.parse(spanRow.events)).toEqual([
      { name: "gen_ai.user.message", time_us: START_US, attributes: { "gen_ai.system": "openai" } },
      { name: "gen_ai.client.inference.operation.details", time_us: START_US, attributes: {} },
    ]);
  });

  it("zero-usage-on-a-call-with-a-prompt-is-unknown-not-zero", () => {
    // openlit 1.15 dist/instrumentation/vercel-ai/wrapper.js with ai >= 5: it reads
    // usage.promptTokens / completionTokens (AI SDK 4's names), so it writes 0 / 0 and cost 0.
    const openlitVercel = makeSpan(
      {
        "telemetry.sdk.name": "openlit",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "vercel_ai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 0,
        "gen_ai.usage.output_tokens": 0,
        "gen_ai.usage.cost": 0,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Where is my order?"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"On its way."}]}]',
      },
      { scope: { name: "openlit", version: "1.15.0" } },
    );
    expect(normalizer.normalizeSpan(openlitVercel, "otlp").call).toMatchObject({
      convention: "openlit",
      usageMissing: true,
      reportedCostUsd: null,
    });
    // A proxy cache hit used no tokens; a failed call may have used none; no prompt, nothing to go on.
    const cacheHit = { ...CHAT_ATTRS, "gen_ai.usage.input_tokens": 0, "gen_ai.usage.output_tokens": 0 };
    expect(normalizer.normalizeSpan(makeSpan(cacheHit), "otlp").call?.usageMissing).toBe(false);
    const failed = makeSpan(openlitVercel.attributes, { status: { code: 2, message: "boom" } });
    expect(normalizer.normalizeSpan(failed, "otlp").call?.usageMissing).toBe(false);
  });

  it("invoke-agent-aggregate-gets-span-row-only", () => {
    const { call, spanRow } = normalizer.normalizeSpan(
      makeSpan({
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "triage",
        "gen_ai.usage.input_tokens": 5000,
      }),
      "otlp",
    );
    expect(call).toBeNull();
    expect(spanRow).toMatchObject({ convention: "otel_genai", operation: "invoke_agent", is_llm_call: 0 });
  });

  it("non-genai-span-gets-span-row-with-no-convention", () => {
    const { call, spanRow } = normalizer.normalizeSpan(
      makeSpan({ "http.request.method": "GET", "url.full": "https://example.com" }, { name: "GET", kind: 2 }),
      "otlp",
    );
    expect(call).toBeNull();
    expect(spanRow).toMatchObject({ convention: "", operation: "", is_llm_call: 0, service: "support-bot" });
  });

  it("evaluation-events-on-a-non-genai-span-still-give-scores", () => {
    const { scores } = normalizer.normalizeSpan(
      makeSpan(
        {},
        {
          events: [
            {
              name: "gen_ai.evaluation.result",
              timeUs: START_US + 5,
              attributes: { "gen_ai.evaluation.name": "Helpfulness", "gen_ai.evaluation.score.value": 0.9 },
            },
          ],
        },
      ),
      "otlp",
    );
    expect(scores).toEqual([{ name: "Helpfulness", value: 0.9, label: "", comment: "", timeUs: START_US + 5 }]);
  });

  it("attributes-and-events-are-bounded", () => {
    const big = "x".repeat(MAX_ATTRIBUTE_VALUE_CHARS + 100);
    const events: SpanEvent[] = Array.from({ length: 200 }, (_, i) => ({
      name: "log",
      timeUs: START_US + i,
      attributes: { message: big },
    }));
    const { spanRow } = normalizer.normalizeSpan(
      makeSpan({ "app.blob": big, bytes: new Uint8Array([255]) }, { events }),
      "otlp",
    );
    expect(spanRow.attributes["app.blob"]).toHaveLength(MAX_ATTRIBUTE_VALUE_CHARS);
    expect(spanRow.attributes["bytes"]).toBe("/w==");
    expect(spanRow.events.length).toBeLessThanOrEqual(MAX_EVENTS_JSON_CHARS + 200);
    const parsed = JSON.parse(spanRow.events) as { name: string; attributes: Record<string, string> }[];
    expect(parsed.at(-1)?.name).toBe("tokenmeter.events_truncated");
    expect(Number(parsed.at(-1)?.attributes["dropped"])).toBe(200 - (parsed.length - 1));
  });

  it("earlier-adapter-wins-over-otel-genai", () => {
    const custom: ConventionAdapter = {
      name: "openllmetry",
      detect: (span) => span.attributes["llm.request.type"] !== undefined,
      classify: () => ({ convention: "openllmetry", operation: "chat", isModelCall: true }),
      extract: (span) => ({ ...otelGenAiAdapter.extract(span), tags: { workflow: "w1" } }),
    };
    const n = createNormalizer([custom, ...defaultAdapters], {});
    const { call } = n.normalizeSpan(
      makeSpan({ "llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o" }),
      "otlp",
    );
    expect(call?.convention).toBe("openllmetry");
    expect(call?.tags).toEqual({ workflow: "w1" });
  });

  it("throwing-adapter-still-stores-the-span", () => {
    const errors: string[] = [];
    const broken: ConventionAdapter = {
      name: "broken",
      detect: () => true,
      classify: () => ({ convention: "broken", operation: "chat", isModelCall: true }),
      extract: (): CallFacts => {
        throw new Error("unexpected shape");
      },
    };
    const n = createNormalizer([broken], {}, { onAdapterError: (_e, name) => errors.push(name) });
    const { call, spanRow } = n.normalizeSpan(makeSpan(CHAT_ATTRS), "otlp");
    expect(call).toBeNull();
    expect(spanRow.is_llm_call).toBe(0);
    expect(spanRow.content_attributes["gen_ai.input.messages"]).toBeDefined();
    expect(errors).toEqual(["broken"]);
  });

  it("events-json-of-no-events-is-empty-array", () => {
    expect(eventsJson([], false)).toBe("[]");
  });

  it("content-keys", () => {
    expect(isContentKey("gen_ai.input.messages")).toBe(true);
    expect(isContentKey("gen_ai.prompt.0.content")).toBe(true);
    expect(isContentKey("llm.input_messages.0.message.content")).toBe(true);
    expect(isContentKey("gen_ai.prompt.name")).toBe(false);
    expect(isContentKey("gen_ai.request.model")).toBe(false);
  });
});

describe("dedupeCalls", () => {
  function call(spanId: string, parent: string, extra: Partial<NormalizedCall> = {}): NormalizedCall {
    const { call: c } = normalizer.normalizeSpan(
      makeSpan(
        {
          "gen_ai.operation.name": "chat",
          "gen_ai.request.model": "gpt-4o",
          "gen_ai.usage.input_tokens": 100,
          "gen_ai.usage.output_tokens": 10,
        },
        { spanId, parentSpanId: parent },
      ),
      "otlp",
    );
    if (c === null) throw new Error("expected a call");
    return { ...c, ...extra };
  }

  it("framework-span-wrapping-provider-span-keeps-the-innermost", () => {
    const outer = call("aaaaaaaaaaaaaaaa", "");
    const inner = call("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa");
    expect(dedupeCalls([outer, inner])).toEqual([inner]);
  });

  it("wrapper-usage-moves-to-inner-span-without-usage", () => {
    const outer = call("aaaaaaaaaaaaaaaa", "", { input_tokens: 700, output_tokens: 70 });
    const mid = call("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa", { usageMissing: true, input_tokens: 0, output_tokens: 0 });
    const inner = call("cccccccccccccccc", "bbbbbbbbbbbbbbbb", {
      usageMissing: true,
      input_tokens: 0,
      output_tokens: 0,
    });
    const kept = dedupeCalls([inner, mid, outer]);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({
      span_id: "cccccccccccccccc",
      usageMissing: false,
      input_tokens: 700,
      output_tokens: 70,
    });
    expect(inner.usageMissing).toBe(true);
  });

  it("different-model-or-operation-is-not-a-duplicate", () => {
    const outer = call("aaaaaaaaaaaaaaaa", "");
    const otherModel = call("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa", { request_model: "gpt-4o-mini" });
    expect(dedupeCalls([outer, otherModel])).toHaveLength(2);
    const embed = call("cccccccccccccccc", "aaaaaaaaaaaaaaaa", { operation: "embeddings" });
    expect(dedupeCalls([outer, embed])).toHaveLength(2);
  });

  it("accepts-callers-typed-against-the-ids-only", () => {
    const fn: <T extends { trace_id: string; span_id: string; parent_span_id: string }>(calls: T[]) => T[] =
      dedupeCalls;
    expect(fn([{ trace_id: TRACE, span_id: "a", parent_span_id: "" }])).toHaveLength(1);
  });

  it("sibling-calls-and-other-traces-are-kept", () => {
    const a = call("aaaaaaaaaaaaaaaa", "ffffffffffffffff");
    const b = call("bbbbbbbbbbbbbbbb", "ffffffffffffffff");
    const otherTrace = { ...call("cccccccccccccccc", "aaaaaaaaaaaaaaaa"), trace_id: "0".repeat(32) };
    expect(dedupeCalls([a, b, otherTrace])).toHaveLength(3);
  });
});
