import { describe, expect, it } from "vitest";
import type { Attributes, DecodedSpan, SpanEvent } from "../otlp/types.js";
import { openLlmetryAdapter } from "./openllmetry.js";
import { START_US, spanMaker } from "./test-span.js";
import type { CallFacts } from "./types.js";

const makeSpan = spanMaker({
  name: "openai.chat",
  kind: 3,
  endTimeUs: START_US + 2_000_000,
  resource: { attributes: { "service.name": "py-app" } },
  scope: { name: "opentelemetry.instrumentation.openai.v1", version: "0.40.0" },
});

function chunk(offsetUs: number): SpanEvent {
  return { name: "gen_ai.content.completion.chunk", timeUs: START_US + offsetUs, attributes: {} };
}

function extract(span: DecodedSpan): CallFacts {
  expect(openLlmetryAdapter.detect(span)).toBe(true);
  expect(openLlmetryAdapter.classify(span).isModelCall).toBe(true);
  return openLlmetryAdapter.extract(span);
}

/** A Python OpenLLMetry Anthropic span, as the instrumentation writes it. */
const ANTHROPIC_STREAM: Attributes = {
  "llm.request.type": "chat",
  "gen_ai.system": "Anthropic",
  "gen_ai.request.model": "claude-sonnet-4-5",
  "gen_ai.response.model": "claude-sonnet-4-5-20250929",
  "llm.is_streaming": true,
  "gen_ai.prompt.0.role": "system",
  "gen_ai.prompt.0.content": "You are terse.",
  "gen_ai.prompt.1.role": "user",
  "gen_ai.prompt.1.content": JSON.stringify([
    { type: "text", text: "Look at this" },
    { type: "image_url", image_url: { url: "https://example.com/a.png" } },
  ]),
  "gen_ai.completion.0.role": "assistant",
  "gen_ai.completion.0.content": "A chart.",
  "gen_ai.completion.0.finish_reason": "end_turn",
  // Anthropic style: prompt_tokens excludes the cache.
  "gen_ai.usage.prompt_tokens": 20,
  "gen_ai.usage.completion_tokens": 5,
  "gen_ai.usage.cache_read_input_tokens": 1000,
  "gen_ai.usage.cache_creation_input_tokens": 200,
  "traceloop.association.properties.user_id": "u-1",
  "traceloop.association.properties.session_id": "s-1",
  "traceloop.association.properties.tenant": "acme",
  "traceloop.workflow.name": "summarise",
};

describe("openllmetry adapter", () => {
  it("python-anthropic-stream-with-indexed-keys-and-chunk-events", () => {
    const f = extract(makeSpan(ANTHROPIC_STREAM, { events: [chunk(350_000), chunk(420_000)] }));
    expect(f).toMatchObject({
      provider: "anthropic",
      operation: "chat",
      request_model: "claude-sonnet-4-5",
      response_model: "claude-sonnet-4-5-20250929",
      input_tokens: 1220,
      output_tokens: 5,
      cache_read_tokens: 1000,
      cache_write_tokens: 200,
      ttft_ms: 350,
      streamed: 1,
      finish_reason: "end_turn",
      usageMissing: false,
      userId: "u-1",
      sessionId: "s-1",
      tags: { tenant: "acme", workflow: "summarise" },
    });
    expect(JSON.parse(f.input)).toEqual([
      { role: "system", parts: [{ type: "text", content: "You are terse." }] },
      {
        role: "user",
        parts: [
          { type: "text", content: "Look at this" },
          { type: "uri", uri: "https://example.com/a.png", modality: "image" },
        ],
      },
    ]);
    expect(JSON.parse(f.output)).toEqual([
      { role: "assistant", finish_reason: "end_turn", parts: [{ type: "text", content: "A chart." }] },
    ]);
  });

  it("older-llm-content-completion-chunk-event-name-gives-ttft-too", () => {
    const events: SpanEvent[] = [{ name: "llm.content.completion.chunk", timeUs: START_US + 90_500, attributes: {} }];
    expect(extract(makeSpan(ANTHROPIC_STREAM, { events })).ttft_ms).toBe(90.5);
  });

  it("reasoning-tokens-from-the-openllmetry-key", () => {
    const f = extract(
      makeSpan({
        "llm.request.type": "chat",
        "gen_ai.system": "OpenAI",
        "gen_ai.request.model": "o3-mini",
        "gen_ai.usage.prompt_tokens": 100,
        "gen_ai.usage.completion_tokens": 900,
        "gen_ai.usage.reasoning_tokens": 800,
      }),
    );
    expect(f).toMatchObject({ input_tokens: 100, output_tokens: 900, reasoning_tokens: 800 });
  });

  it("completion-tool-calls-become-tool-call-parts", () => {
    const f = extract(
      makeSpan({
        "llm.request.type": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.finish_reason": "tool_calls",
        "gen_ai.completion.0.tool_calls.0.id": "call_1",
        "gen_ai.completion.0.tool_calls.0.name": "lookup",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"q":"x"}',
      }),
    );
    expect(JSON.parse(f.output)).toEqual([
      {
        role: "assistant",
        finish_reason: "tool_calls",
        parts: [{ type: "tool_call", id: "call_1", name: "lookup", arguments: { q: "x" } }],
      },
    ]);
    expect(f.finish_reason).toBe("tool_calls");
    expect(f.usageMissing).toBe(true);
  });

  it.each([
    ["completion", "text_completion", true],
    ["embedding", "embeddings", true],
    ["rerank", "rerank", false],
  ])("llm-request-type-%s-is-operation-%s", (type, operation, isCall) => {
    expect(openLlmetryAdapter.classify(makeSpan({ "llm.request.type": type }))).toEqual({
      convention: "openllmetry",
      operation,
      isModelCall: isCall,
    });
  });

  it.each(["workflow", "task", "agent", "tool"])("traceloop-span-kind-%s-is-an-aggregate", (kind) => {
    const span = makeSpan({ "traceloop.span.kind": kind, "traceloop.workflow.name": "w" });
    expect(openLlmetryAdapter.detect(span)).toBe(true);
    expect(openLlmetryAdapter.classify(span)).toEqual({
      convention: "openllmetry",
      operation: kind,
      isModelCall: false,
    });
  });

  it("detects-current-js-spans-by-scope", () => {
    const span = makeSpan(
      { "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai" },
      { scope: { name: "@traceloop/instrumentation-openai", version: "0.27.0" } },
    );
    expect(openLlmetryAdapter.detect(span)).toBe(true);
    expect(openLlmetryAdapter.detect(makeSpan({ "gen_ai.operation.name": "chat" }))).toBe(false);
  });
});

describe("openllmetry provider names", () => {
  it.each([
    // Python opentelemetry-instrumentation-bedrock: gen_ai.system "AWS".
    ["opentelemetry.instrumentation.bedrock", "AWS", "aws.bedrock"],
    // @traceloop/instrumentation-vertexai 0.27 (dist/index.js) and its Python twin: "Google".
    ["@traceloop/instrumentation-vertexai", "Google", "gcp.vertex_ai"],
    ["opentelemetry.instrumentation.vertexai", "Google", "gcp.vertex_ai"],
    ["opentelemetry.instrumentation.google_generativeai", "Google", "gcp.gemini"],
    ["opentelemetry.instrumentation.mistralai", "MistralAI", "mistral_ai"],
    ["opentelemetry.instrumentation.openai.v1", "Azure", "azure.ai.openai"],
  ])("scope-%s-system-%s-is-%s", (scope, system, expected) => {
    const span = makeSpan(
      { "llm.request.type": "chat", "gen_ai.system": system, "gen_ai.request.model": "m" },
      { scope: { name: scope, version: "0.40.0" } },
    );
    expect(extract(span).provider).toBe(expected);
  });
});
