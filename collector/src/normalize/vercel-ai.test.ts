import { describe, expect, it } from "vitest";
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { START_US, spanMaker } from "./test-span.js";
import type { CallFacts } from "./types.js";
import { vercelAiAdapter } from "./vercel-ai.js";

const makeSpan = spanMaker({
  parentSpanId: "1111111111111111",
  name: "ai.streamText.doStream",
  kind: 1,
  endTimeUs: START_US + 2_000_000,
  resource: { attributes: { "service.name": "next-app" } },
  scope: { name: "ai", version: "" },
});

function extract(span: DecodedSpan): CallFacts {
  expect(vercelAiAdapter.detect(span)).toBe(true);
  expect(vercelAiAdapter.classify(span).isModelCall).toBe(true);
  return vercelAiAdapter.extract(span);
}

/** An AI SDK 4.x doStream span (promptTokens/completionTokens, telemetry metadata). */
const V4_DO_STREAM: Attributes = {
  "ai.operationId": "ai.streamText.doStream",
  "ai.model.provider": "google.generative-ai",
  "ai.model.id": "gemini-2.0-flash",
  "ai.telemetry.functionId": "chat-route",
  "ai.telemetry.metadata.userId": "u-4",
  "ai.telemetry.metadata.sessionId": "s-4",
  "ai.telemetry.metadata.plan": "pro",
  "ai.settings.maxTokens": 256,
  "ai.settings.temperature": 0.5,
  "ai.prompt.messages": JSON.stringify([
    { role: "system", content: "Be kind." },
    { role: "user", content: [{ type: "text", text: "Hi there" }] },
    {
      role: "assistant",
      content: [{ type: "tool-call", toolCallId: "c1", toolName: "lookup", args: { q: "x" } }],
    },
    { role: "tool", content: [{ type: "tool-result", toolCallId: "c1", toolName: "lookup", result: "found" }] },
  ]),
  "ai.response.text": "Hello!",
  "ai.response.finishReason": "stop",
  "ai.response.model": "gemini-2.0-flash-001",
  "ai.response.id": "resp-1",
  "ai.usage.promptTokens": 40,
  "ai.usage.completionTokens": 3,
};

describe("vercel_ai adapter, legacy ai.* spans", () => {
  it("v4-do-stream-span-with-metadata-attribution-and-first-chunk-event", () => {
    const f = extract(
      makeSpan(V4_DO_STREAM, {
        events: [{ name: "ai.stream.firstChunk", timeUs: START_US + 230_000, attributes: {} }],
      }),
    );
    expect(f).toMatchObject({
      provider: "gcp.gemini",
      operation: "chat",
      request_model: "gemini-2.0-flash",
      response_model: "gemini-2.0-flash-001",
      response_id: "resp-1",
      input_tokens: 40,
      output_tokens: 3,
      usageMissing: false,
      ttft_ms: 230,
      streamed: 1,
      finish_reason: "stop",
      userId: "u-4",
      sessionId: "s-4",
      tags: { plan: "pro", function_id: "chat-route" },
    });
    expect(JSON.parse(f.request_params)).toEqual({ max_tokens: 256, temperature: 0.5, stream: true });
    expect(JSON.parse(f.input)).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be kind." }] },
      { role: "user", parts: [{ type: "text", content: "Hi there" }] },
      { role: "assistant", parts: [{ type: "tool_call", id: "c1", name: "lookup", arguments: { q: "x" } }] },
      { role: "tool", parts: [{ type: "tool_call_response", id: "c1", response: "found" }] },
    ]);
    expect(JSON.parse(f.output)).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Hello!" }], finish_reason: "stop" },
    ]);
  });

  it("v5-usage-details-include-cache-and-reasoning", () => {
    const f = extract(
      makeSpan({
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.provider": "anthropic.messages",
        "ai.model.id": "claude-sonnet-4-5",
        "ai.usage.inputTokens": 1500,
        "ai.usage.outputTokens": 900,
        "ai.usage.inputTokenDetails.cacheReadTokens": 1000,
        "ai.usage.inputTokenDetails.cacheWriteTokens": 300,
        "ai.usage.outputTokenDetails.reasoningTokens": 600,
        "ai.response.toolCalls": JSON.stringify([
          { toolCallType: "function", toolCallId: "t1", toolName: "search", input: '{"q":"ai"}' },
        ]),
      }),
    );
    expect(f).toMatchObject({
      provider: "anthropic",
      input_tokens: 1500,
      output_tokens: 900,
      cache_read_tokens: 1000,
      cache_write_tokens: 300,
      reasoning_tokens: 600,
      streamed: 0,
    });
    expect(JSON.parse(f.output)).toEqual([
      { role: "assistant", parts: [{ type: "tool_call", id: "t1", name: "search", arguments: { q: "ai" } }] },
    ]);
  });

  it.each(["ai.generateText", "ai.streamText", "ai.embed", "ai.embedMany", "ai.toolCall", "ai.generateObject"])(
    "outer-%s-span-is-an-aggregate",
    (operationId) => {
      expect(vercelAiAdapter.classify(makeSpan({ "ai.operationId": operationId }))).toEqual({
        convention: "vercel_ai",
        operation: operationId,
        isModelCall: false,
      });
    },
  );

  it("v5-google-output-tokens-get-the-reasoning-the-total-shows-they-leave-out", () => {
    // AI SDK 5 @ai-sdk/google: outputTokens = candidatesTokenCount, reasoningTokens =
    // thoughtsTokenCount, totalTokens = totalTokenCount (which counts both).
    const f = extract(
      makeSpan({
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.provider": "google.generative-ai",
        "ai.model.id": "gemini-2.5-flash",
        "ai.usage.inputTokens": 1000,
        "ai.usage.outputTokens": 500,
        "ai.usage.totalTokens": 1800,
        "ai.usage.reasoningTokens": 300,
      }),
    );
    expect(f).toMatchObject({ input_tokens: 1000, output_tokens: 800, reasoning_tokens: 300 });
    // A provider whose outputTokens includes reasoning (total = input + output) is left as is.
    const openai = extract(
      makeSpan({
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.provider": "openai.chat",
        "ai.model.id": "o4-mini",
        "ai.usage.inputTokens": 1000,
        "ai.usage.outputTokens": 800,
        "ai.usage.totalTokens": 1800,
        "ai.usage.reasoningTokens": 300,
      }),
    );
    expect(openai).toMatchObject({ output_tokens: 800, reasoning_tokens: 300 });
  });

  it("v5-anthropic-input-tokens-get-the-cache-its-provider-metadata-shows-they-leave-out", () => {
    // AI SDK 5 @ai-sdk/anthropic: inputTokens = usage.input_tokens, cachedInputTokens = the reads,
    // the writes only in the provider metadata, which also carries Anthropic's raw usage.
    const anthropicV5: Attributes = {
      "ai.operationId": "ai.generateText.doGenerate",
      "ai.model.provider": "anthropic.messages",
      "ai.model.id": "claude-sonnet-4-5",
      "ai.usage.inputTokens": 5000,
      "ai.usage.outputTokens": 100,
      "ai.usage.totalTokens": 5100,
      "ai.usage.cachedInputTokens": 1000,
      "ai.response.providerMetadata": JSON.stringify({
        anthropic: {
          usage: {
            input_tokens: 5000,
            output_tokens: 100,
            cache_creation_input_tokens: 2000,
            cache_read_input_tokens: 1000,
          },
          cacheCreationInputTokens: 2000,
        },
      }),
    };
    expect(extract(makeSpan(anthropicV5))).toMatchObject({
      input_tokens: 8000,
      output_tokens: 100,
      cache_read_tokens: 1000,
      cache_write_tokens: 2000,
    });
    // From v6 the SDK's inputTokens already includes the cache: it differs from the raw count.
    const v6 = extract(
      makeSpan({
        ...anthropicV5,
        "ai.usage.inputTokens": 8000,
        "ai.usage.totalTokens": 8100,
        "ai.usage.inputTokenDetails.cacheReadTokens": 1000,
        "ai.usage.inputTokenDetails.cacheWriteTokens": 2000,
      }),
    );
    expect(v6).toMatchObject({ input_tokens: 8000, cache_read_tokens: 1000, cache_write_tokens: 2000 });
  });

  it("generate-object-step-output-is-the-response-object", () => {
    // @ai-sdk/otel LegacyOpenTelemetry.onObjectStepEnd: the object as JSON text, no ai.response.text.
    const f = extract(
      makeSpan({
        "ai.operationId": "ai.generateObject.doGenerate",
        "ai.model.provider": "openai.chat",
        "ai.model.id": "gpt-4o-mini",
        "ai.response.object": '{"city":"Lyon","days":3}',
        "ai.response.finishReason": "stop",
        "ai.usage.inputTokens": 30,
        "ai.usage.outputTokens": 9,
      }),
    );
    expect(JSON.parse(f.output)).toEqual([
      { role: "assistant", parts: [{ type: "text", content: '{"city":"Lyon","days":3}' }], finish_reason: "stop" },
    ]);
  });

  it("span-rewritten-by-traceloop-node-server-sdk-keeps-content-user-session-and-tags", () => {
    // An AI SDK 4-6 doGenerate span after @traceloop/node-server-sdk 0.27
    // transformAiSdkSpanAttributes (dist/index.js transformLLMSpans): metadata moved to
    // traceloop.association.properties.*, messages to gen_ai.*.messages, ai.model.* deleted.
    const f = extract(
      makeSpan(
        {
          "ai.operationId": "ai.generateText.doGenerate",
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "gpt-4o-mini",
          "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
          "gen_ai.usage.input_tokens": 12,
          "gen_ai.usage.output_tokens": 5,
          "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: "Hi" }] }]),
          "gen_ai.output.messages": JSON.stringify([
            { role: "assistant", parts: [{ type: "text", content: "Hello!" }], finish_reason: "stop" },
          ]),
          "gen_ai.conversation.id": "s-9",
          "traceloop.association.properties.userId": "u-9",
          "traceloop.association.properties.sessionId": "s-9",
          "traceloop.association.properties.plan": "pro",
        },
        { name: "chat gpt-4o-mini" },
      ),
    );
    expect(f).toMatchObject({
      provider: "openai",
      request_model: "gpt-4o-mini",
      input_tokens: 12,
      output_tokens: 5,
      userId: "u-9",
      sessionId: "s-9",
      tags: { plan: "pro" },
    });
    expect(JSON.parse(f.input)).toEqual([{ role: "user", parts: [{ type: "text", content: "Hi" }] }]);
    expect(JSON.parse(f.output)).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Hello!" }], finish_reason: "stop" },
    ]);
  });

  it("do-embed-is-an-embeddings-call-with-its-values-as-input", () => {
    const f = extract(
      makeSpan({
        "ai.operationId": "ai.embedMany.doEmbed",
        "ai.model.provider": "openai.embedding",
        "ai.model.id": "text-embedding-3-small",
        "ai.values": ['"first"', '"second"'],
        "ai.usage.tokens": 4,
      }),
    );
    expect(f).toMatchObject({ operation: "embeddings", provider: "openai", input_tokens: 4, output_tokens: 0 });
    expect(JSON.parse(f.input)).toEqual([
      { role: "user", parts: [{ type: "text", content: "first" }] },
      { role: "user", parts: [{ type: "text", content: "second" }] },
    ]);
  });
});

describe("vercel_ai adapter, current gen_ai spans", () => {
  const chat: Attributes = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 4,
    "gen_ai.client.operation.duration": 0.5,
    "gen_ai.client.operation.time_to_first_chunk": 0.1234565,
    "ai.settings.context.userId": "u-7",
  };

  it("chat-span-ttft-from-time-to-first-chunk-seconds", () => {
    expect(extract(makeSpan(chat, { scope: { name: "gen_ai", version: "" } }))).toMatchObject({
      provider: "openai",
      input_tokens: 12,
      output_tokens: 4,
      ttft_ms: 123.457,
      streamed: 1,
      userId: "u-7",
    });
  });

  it("chat-span-reasoning-from-the-sdk-usage-details-key", () => {
    // @ai-sdk/otel OpenTelemetry({ usage: true }) writes reasoning only under this key.
    const f = extract(
      makeSpan(
        { ...chat, "gen_ai.usage.output_tokens": 900, "ai.usage.outputTokenDetails.reasoningTokens": 640 },
        { scope: { name: "gen_ai", version: "" } },
      ),
    );
    expect(f).toMatchObject({ output_tokens: 900, reasoning_tokens: 640 });
  });

  it("agent-and-step-spans-are-aggregates", () => {
    for (const op of ["invoke_agent", "agent_step", "execute_tool"]) {
      const span = makeSpan({ "gen_ai.operation.name": op }, { scope: { name: "gen_ai", version: "" } });
      expect(vercelAiAdapter.detect(span)).toBe(true);
      expect(vercelAiAdapter.classify(span).isModelCall).toBe(false);
    }
  });

  it("other-gen-ai-spans-are-left-to-other-adapters", () => {
    const span = makeSpan(
      { "gen_ai.operation.name": "chat" },
      { scope: { name: "@opentelemetry/instrumentation-openai", version: "0.21.0" } },
    );
    expect(vercelAiAdapter.detect(span)).toBe(false);
  });
});
