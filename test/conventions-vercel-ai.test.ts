/**
 * Vercel AI SDK: the real `ai` package with telemetry on and `@ai-sdk/openai` pointed at the
 * fake provider, exporting OTLP/HTTP to the in-test collector. Since v7 the SDK's spans come from
 * `@ai-sdk/otel`: `OpenTelemetry` (OTel GenAI spans: invoke_agent > step > chat) and
 * `LegacyOpenTelemetry` (the ai.* spans of earlier releases: ai.generateText > doGenerate).
 */
import { createOpenAI } from "@ai-sdk/openai";
import { LegacyOpenTelemetry, OpenTelemetry } from "@ai-sdk/otel";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { embed, generateText, streamText } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Collector } from "../collector/src/app.js";
import {
  countWords,
  type FakeProvider,
  openaiChatPromptTokens,
  reasoningTokensFor,
  startFakeProvider,
} from "../collector/src/fake-provider/index.js";
import {
  exportAtFlush,
  fetchTrace,
  lastRequestBody,
  lastSpanNamed,
  listeningCollector,
  parsed,
} from "./helpers/collector.js";

type Row = Record<string, unknown>;

let collector: Collector;
let fake: FakeProvider;
let provider: NodeTracerProvider;
let openai: ReturnType<typeof createOpenAI>;
const local = new InMemorySpanExporter();
/**
 * The current integration records runtime context (`runtimeContext: true`) on the invoke_agent
 * and step spans only, not on the chat span that becomes the row; its `enrichSpan` hook copies
 * the user and session onto every span under the keys the OTel convention uses.
 */
const current = new OpenTelemetry({
  runtimeContext: true,
  enrichSpan: ({ runtimeContext }) => {
    const out: Record<string, string> = {};
    if (typeof runtimeContext?.["userId"] === "string") out["user.id"] = runtimeContext["userId"];
    if (typeof runtimeContext?.["sessionId"] === "string") out["gen_ai.conversation.id"] = runtimeContext["sessionId"];
    return out;
  },
});
const legacy = new LegacyOpenTelemetry();

beforeAll(async () => {
  let url: string;
  ({ collector, url } = await listeningCollector());
  fake = await startFakeProvider();
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": "ai-sdk-app" }),
    spanProcessors: [exportAtFlush(url), new SimpleSpanProcessor(local)],
  });
  provider.register();
  openai = createOpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1` });
});

afterAll(async () => {
  await provider?.shutdown();
  await fake?.close();
  await collector?.close();
});

const traceOf = (traceId: string) => fetchTrace(collector, traceId);

const lastSpan = (name: string) => lastSpanNamed(local, name);

const lastBody = () => lastRequestBody(fake);

const RUNTIME = { userId: "user-ai-1", sessionId: "sess-ai-1", requestId: "req-1" };
const INCLUDE = { userId: true, sessionId: true } as const;

describe("Vercel AI SDK, current OTel GenAI spans (@ai-sdk/otel OpenTelemetry)", () => {
  it("generate-text-is-one-chat-call-under-aggregate-agent-and-step-spans", async () => {
    const result = await generateText({
      model: openai.chat("gpt-4o-mini"),
      system: "Be brief.",
      prompt: "What time do you open?",
      headers: { "x-fake-scenario": "cache" },
      runtimeContext: RUNTIME,
      telemetry: {
        isEnabled: true,
        functionId: "opening-hours",
        includeRuntimeContext: INCLUDE,
        integrations: [current],
      },
    });
    const body = lastBody();
    await provider.forceFlush();

    const chat = lastSpan("chat gpt-4o-mini");
    const t = await traceOf(chat.spanContext().traceId);
    const ops = Object.fromEntries(t.spans.map((s) => [String(s["operation"]), s["is_llm_call"]]));
    expect(ops).toEqual({ invoke_agent: 0, agent_step: 0, chat: 1 });
    expect(t.calls).toHaveLength(1);
    const prompt = openaiChatPromptTokens(body);
    expect(result.usage.inputTokens).toBe(prompt);
    const c = t.calls[0] as Row;
    expect(c).toMatchObject({
      span_id: chat.spanContext().spanId,
      service: "ai-sdk-app",
      convention: "vercel_ai",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: prompt,
      output_tokens: countWords("Echo: What time do you open?"),
      cache_read_tokens: Math.floor(prompt / 2),
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      priced: 1,
      streamed: 0,
      ttft_ms: null,
      finish_reason: "stop",
      user_id: "user-ai-1",
      session_id: "sess-ai-1",
    });
    expect(parsed(c["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be brief." }] },
      { role: "user", parts: [{ type: "text", content: "What time do you open?" }] },
    ]);
    expect(parsed(c["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Echo: What time do you open?" }], finish_reason: "stop" },
    ]);
  });

  it("stream-text-has-ttft-from-time-to-first-chunk", async () => {
    const result = streamText({
      model: openai.chat("gpt-4o-mini"),
      prompt: "Stream the opening hours",
      headers: { "x-fake-scenario": "slow_stream", "x-fake-chunk-delay-ms": "20" },
      telemetry: { isEnabled: true, integrations: [current] },
    });
    for await (const _ of result.textStream) {
      // drain
    }
    const usage = await result.usage;
    await provider.forceFlush();

    const chat = lastSpan("chat gpt-4o-mini");
    const seconds = Number(chat.attributes["gen_ai.client.operation.time_to_first_chunk"]);
    expect(seconds).toBeGreaterThan(0);
    const calls = (await traceOf(chat.spanContext().traceId)).calls;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      convention: "vercel_ai",
      input_tokens: usage.inputTokens,
      output_tokens: countWords("Echo: Stream the opening hours"),
      streamed: 1,
      ttft_ms: Math.round(seconds * 1_000_000) / 1000,
    });
  });

  it("reasoning-tokens-from-the-usage-details-the-integration-adds", async () => {
    // With `usage: true` the chat span carries ai.usage.outputTokenDetails.*, the only place the
    // current spans give reasoning tokens.
    const withUsage = new OpenTelemetry({ usage: true });
    const result = await generateText({
      model: openai.chat("o4-mini"),
      prompt: "Plan my week",
      telemetry: { isEnabled: true, integrations: [withUsage] },
    });
    await provider.forceFlush();
    const chat = lastSpan("chat o4-mini");
    const t = await traceOf(chat.spanContext().traceId);
    const visible = countWords("Echo: Plan my week");
    const reasoning = reasoningTokensFor(visible, undefined);
    expect(result.usage.outputTokenDetails.reasoningTokens).toBe(reasoning);
    expect(t.calls).toHaveLength(1);
    expect(t.calls[0]).toMatchObject({ output_tokens: visible + reasoning, reasoning_tokens: reasoning });
  });

  it("embed-outer-and-inner-embeddings-spans-count-once", async () => {
    const res = await embed({
      model: openai.embedding("text-embedding-3-small"),
      value: "opening hours",
      telemetry: { isEnabled: true, integrations: [current] },
    });
    await provider.forceFlush();
    const spans = local.getFinishedSpans().filter((s) => s.name === "embeddings text-embedding-3-small");
    const inner = spans[spans.length - 2] as ReadableSpan;
    const t = await traceOf(inner.spanContext().traceId);
    // The outer span groups the inner one: its row says it is no call, as it has no call row.
    expect(t.spans.filter((s) => s["is_llm_call"] === 1).map((s) => s["span_id"])).toEqual([
      inner.spanContext().spanId,
    ]);
    expect(t.calls).toHaveLength(1);
    expect(t.calls[0]).toMatchObject({
      // The inner span (the provider request) carries the usage and is kept.
      span_id: inner.spanContext().spanId,
      convention: "vercel_ai",
      operation: "embeddings",
      input_tokens: res.usage.tokens,
      tokens_estimated: 0,
    });
  });
});

describe("Vercel AI SDK, legacy ai.* spans (@ai-sdk/otel LegacyOpenTelemetry)", () => {
  it("generate-text-counts-the-do-generate-span-and-skips-the-outer-one", async () => {
    const result = await generateText({
      model: openai.chat("o4-mini"),
      prompt: "Plan my day",
      runtimeContext: RUNTIME,
      experimental_telemetry: {
        isEnabled: true,
        functionId: "day-planner",
        includeRuntimeContext: INCLUDE,
        integrations: [legacy],
      },
    });
    const body = lastBody();
    await provider.forceFlush();

    const inner = lastSpan("ai.generateText.doGenerate");
    const outer = lastSpan("ai.generateText");
    const t = await traceOf(inner.spanContext().traceId);
    expect(t.spans.find((s) => s["span_id"] === outer.spanContext().spanId)).toMatchObject({
      convention: "vercel_ai",
      operation: "ai.generateText",
      is_llm_call: 0,
    });
    expect(t.calls).toHaveLength(1);
    const visible = countWords("Echo: Plan my day");
    const reasoning = reasoningTokensFor(visible, undefined);
    expect(result.usage.outputTokens).toBe(visible + reasoning);
    const c = t.calls[0] as Row;
    expect(c).toMatchObject({
      span_id: inner.spanContext().spanId,
      convention: "vercel_ai",
      provider: "openai",
      operation: "chat",
      request_model: "o4-mini",
      response_model: "o4-mini-2025-04-16",
      response_id: result.response.id,
      input_tokens: openaiChatPromptTokens(body),
      output_tokens: visible + reasoning,
      reasoning_tokens: reasoning,
      cache_read_tokens: 0,
      tokens_estimated: 0,
      streamed: 0,
      finish_reason: "stop",
      user_id: "user-ai-1",
      session_id: "sess-ai-1",
      tags: { function_id: "day-planner" },
    });
    expect(parsed(c["input"])).toEqual([{ role: "user", parts: [{ type: "text", content: "Plan my day" }] }]);
    expect(parsed(c["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Echo: Plan my day" }], finish_reason: "stop" },
    ]);
  });

  it("stream-text-do-stream-has-ttft-from-ms-to-first-chunk", async () => {
    const result = streamText({
      model: openai.chat("gpt-4o-mini"),
      system: "Be brief.",
      prompt: "Stream legacy spans",
      headers: { "x-fake-scenario": "slow_stream", "x-fake-chunk-delay-ms": "20" },
      experimental_telemetry: { isEnabled: true, integrations: [legacy] },
    });
    for await (const _ of result.textStream) {
      // drain
    }
    const usage = await result.usage;
    await provider.forceFlush();

    const inner = lastSpan("ai.streamText.doStream");
    const ms = Number(inner.attributes["ai.response.msToFirstChunk"]);
    expect(ms).toBeGreaterThan(0);
    const calls = (await traceOf(inner.spanContext().traceId)).calls;
    expect(calls).toHaveLength(1);
    const c = calls[0] as Row;
    expect(c).toMatchObject({
      span_id: inner.spanContext().spanId,
      convention: "vercel_ai",
      provider: "openai",
      input_tokens: usage.inputTokens,
      output_tokens: usage.outputTokens,
      streamed: 1,
      ttft_ms: Math.round(ms * 1000) / 1000,
    });
    expect(parsed(c["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be brief." }] },
      { role: "user", parts: [{ type: "text", content: "Stream legacy spans" }] },
    ]);
    expect(JSON.parse(String(c["request_params"]))).toMatchObject({ stream: true });
  });

  it("embed-counts-the-do-embed-span", async () => {
    const res = await embed({
      model: openai.embedding("text-embedding-3-small"),
      value: "legacy embedding",
      experimental_telemetry: { isEnabled: true, integrations: [legacy] },
    });
    await provider.forceFlush();
    const inner = lastSpan("ai.embed.doEmbed");
    const calls = (await traceOf(inner.spanContext().traceId)).calls;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      span_id: inner.spanContext().spanId,
      operation: "embeddings",
      provider: "openai",
      request_model: "text-embedding-3-small",
      input_tokens: res.usage.tokens,
      output_tokens: 0,
      tokens_estimated: 0,
    });
    expect(parsed(calls[0]?.["input"])).toEqual([
      { role: "user", parts: [{ type: "text", content: "legacy embedding" }] },
    ]);
  });
});
