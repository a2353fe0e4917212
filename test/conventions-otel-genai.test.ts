/**
 * OTel GenAI convention from the real @opentelemetry/instrumentation-openai around the official
 * `openai` client (v6: the instrumentation supports openai < 7), talking to the fake provider,
 * exporting OTLP/HTTP to the in-test collector. Also: the same client instrumented by
 * OpenInference as well, so every call is seen twice, nested: still one row per call.
 */
import { OpenAIInstrumentation as OpenInferenceOpenAIInstrumentation } from "@arizeai/openinference-instrumentation-openai";
import { metrics, trace } from "@opentelemetry/api";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OpenAIInstrumentation } from "@opentelemetry/instrumentation-openai";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import type OpenAI from "openai";
import * as openaiV6 from "openai-v6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Collector } from "../collector/src/app.js";
import {
  countWords,
  type FakeProvider,
  openaiChatPromptTokens,
  startFakeProvider,
} from "../collector/src/fake-provider/index.js";
import { exportAtFlush, fetchTrace, lastSpanNamed, listeningCollector, requestBodies } from "./helpers/collector.js";

let collector: Collector;
let url: string;
let fake: FakeProvider;
let provider: NodeTracerProvider;
let loggerProvider: LoggerProvider;
let client: openaiV6.OpenAI;
const local = new InMemorySpanExporter();
const otel = new OpenAIInstrumentation({ captureMessageContent: true });
const openInference = new OpenInferenceOpenAIInstrumentation();

beforeAll(async () => {
  ({ collector, url } = await listeningCollector());
  fake = await startFakeProvider();
  const resource = resourceFromAttributes({ "service.name": "otel-app", "deployment.environment.name": "test" });
  provider = new NodeTracerProvider({
    resource,
    spanProcessors: [exportAtFlush(url), new SimpleSpanProcessor(local)],
  });
  provider.register();
  // Prompts and completions travel as OTLP log records (one per message), to /v1/logs.
  loggerProvider = new LoggerProvider({
    resource,
    processors: [
      new BatchLogRecordProcessor({
        exporter: new OTLPLogExporter({ url: `${url}/v1/logs` }),
        scheduledDelayMillis: 60_000,
      }),
    ],
  });
  otel.setTracerProvider(provider);
  otel.setLoggerProvider(loggerProvider);
  otel.setMeterProvider(metrics.getMeterProvider());
  // ESM imports bypass the require hook: apply the instrumentation's module patch directly.
  for (const def of otel.getModuleDefinitions()) def.patch?.(openaiV6);
  client = new openaiV6.OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await provider?.shutdown();
  await loggerProvider?.shutdown();
  await fake?.close();
  await collector?.close();
});

const traceOf = (traceId: string) => fetchTrace(collector, traceId);

const lastSpan = (name: string) => lastSpanNamed(local, name);

const bodies = () => requestBodies(fake);

describe("OTel GenAI (@opentelemetry/instrumentation-openai)", () => {
  it("chat-stream-and-embeddings-under-one-parent-are-three-exact-rows", async () => {
    fake.reset();
    const tracer = provider.getTracer("app");
    // The app puts the conventions' user and session keys on its own request span.
    const attrs = { "user.id": "u-otel", "session.id": "s-otel" };
    const traceId = await tracer.startActiveSpan("handle-request", { attributes: attrs }, async (root) => {
      const chat = await client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "How long is delivery?" },
        ],
      });
      const stream = await client.chat.completions.create({
        model: "gpt-4o-mini",
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "And for returns?" }],
      });
      let streamedUsage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) if (chunk.usage) streamedUsage = chunk.usage;
      const emb = await client.embeddings.create({ model: "text-embedding-3-small", input: "delivery times" });
      expect(chat.usage?.completion_tokens).toBe(countWords("Echo: How long is delivery?"));
      expect(streamedUsage?.completion_tokens).toBe(countWords("Echo: And for returns?"));
      expect(emb.usage.prompt_tokens).toBeGreaterThan(0);
      root.end();
      return root.spanContext().traceId;
    });
    const [chatBody, streamBody] = bodies();
    await Promise.all([provider.forceFlush(), loggerProvider.forceFlush()]);

    const t = await traceOf(traceId);
    expect(t.calls).toHaveLength(3);
    const [chat, streamed, embedding] = t.calls;
    const common = {
      service: "otel-app",
      environment: "test",
      convention: "otel_genai",
      provider: "openai",
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      status: "ok",
      priced: 1,
      user_id: "u-otel",
      session_id: "s-otel",
    };
    expect(chat).toMatchObject({
      ...common,
      operation: "chat",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: openaiChatPromptTokens(chatBody ?? {}),
      output_tokens: countWords("Echo: How long is delivery?"),
      finish_reason: "stop",
      streamed: 0,
      ttft_ms: null,
    });
    // The instrumentation sends prompts and completions as OTLP log records (one per message,
    // named by the `event.name` attribute), not on the span: the row's content comes from them.
    const text = (role: string, content: string, extra: Record<string, unknown> = {}) => ({
      role,
      parts: [{ type: "text", content }],
      ...extra,
    });
    expect(JSON.parse(String(chat?.["input"]))).toEqual([
      text("system", "Be brief."),
      text("user", "How long is delivery?"),
    ]);
    expect(JSON.parse(String(chat?.["output"]))).toEqual([
      text("assistant", "Echo: How long is delivery?", { finish_reason: "stop" }),
    ]);
    expect(streamed).toMatchObject({
      ...common,
      operation: "chat",
      input_tokens: openaiChatPromptTokens(streamBody ?? {}),
      output_tokens: countWords("Echo: And for returns?"),
      finish_reason: "stop",
      // It does not mark streams nor time the first chunk.
      streamed: 0,
      ttft_ms: null,
    });
    expect(JSON.parse(String(streamed?.["input"]))).toEqual([text("user", "And for returns?")]);
    expect(JSON.parse(String(streamed?.["output"]))).toEqual([
      text("assistant", "Echo: And for returns?", { finish_reason: "stop" }),
    ]);
    expect(embedding).toMatchObject({
      ...common,
      operation: "embeddings",
      request_model: "text-embedding-3-small",
      output_tokens: 0,
      // Embeddings emit no content events.
      input: "",
      output: "",
    });
    const root = t.spans.find((s) => s["name"] === "handle-request");
    expect(root).toMatchObject({ is_llm_call: 0, convention: "" });
  });

  it("same-call-seen-by-openinference-and-the-otel-instrumentation-counts-once", async () => {
    // Patched after the OTel instrumentation, OpenInference wraps it: its span is the parent.
    openInference.setTracerProvider(provider);
    openInference.manuallyInstrument(openaiV6.OpenAI as unknown as typeof OpenAI);
    fake.reset();
    try {
      await client.chat.completions.create(
        {
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: "Twice instrumented" }],
        },
        { headers: { "x-fake-scenario": "cache" } },
      );
    } finally {
      openInference.disable();
    }
    const [body] = bodies();
    await Promise.all([provider.forceFlush(), loggerProvider.forceFlush()]);

    const outer = lastSpan("OpenAI Chat Completions");
    const inner = lastSpan("chat gpt-4o-mini");
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    const t = await traceOf(outer.spanContext().traceId);
    // Only the inner span, whose row is stored, is marked a call; the wrapper is a grouping.
    expect(t.spans.filter((s) => s["is_llm_call"] === 1).map((s) => s["span_id"])).toEqual([
      inner.spanContext().spanId,
    ]);
    expect(t.calls).toHaveLength(1);
    const prompt = openaiChatPromptTokens(body ?? {});
    expect(t.calls[0]).toMatchObject({
      span_id: inner.spanContext().spanId,
      convention: "otel_genai",
      input_tokens: prompt,
      output_tokens: countWords("Echo: Twice instrumented"),
      tokens_estimated: 0,
    });
    // The OpenInference span recorded the messages the OTel span leaves to log events.
    expect(JSON.parse(String(t.calls[0]?.["input"]))).toEqual([
      { role: "user", parts: [{ type: "text", content: "Twice instrumented" }] },
    ]);
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it("same-call-exported-span-by-span-in-separate-requests-still-counts-once", async () => {
    // A simple span processor exports each span in its own request as it ends: the inner call
    // and its OpenInference wrapper reach the collector in different batches.
    const sent = new InMemorySpanExporter();
    const spanBySpan = new NodeTracerProvider({
      resource: resourceFromAttributes({ "service.name": "otel-app" }),
      spanProcessors: [
        new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${url}/v1/traces` })),
        new SimpleSpanProcessor(sent),
      ],
    });
    otel.setTracerProvider(spanBySpan);
    openInference.setTracerProvider(spanBySpan);
    openInference.manuallyInstrument(openaiV6.OpenAI as unknown as typeof OpenAI);
    fake.reset();
    try {
      await spanBySpan.getTracer("app").startActiveSpan("handle-request", async (root) => {
        await client.chat.completions.create({
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: "Split across exports" }],
        });
        root.end();
      });
    } finally {
      openInference.disable();
      otel.setTracerProvider(provider);
    }
    const [body] = bodies();
    await Promise.all([spanBySpan.forceFlush(), loggerProvider.forceFlush()]);
    const traceId = lastSpanNamed(sent, "handle-request").spanContext().traceId;
    await spanBySpan.shutdown();

    const t = await traceOf(traceId);
    expect(t.spans).toHaveLength(3);
    // Only the span whose call was stored is marked a call; the other arrived in its own request.
    expect(t.spans.filter((s) => s["is_llm_call"] === 1).map((s) => s["span_id"])).toEqual([t.calls[0]?.["span_id"]]);
    expect(t.calls).toHaveLength(1);
    expect(t.calls[0]).toMatchObject({
      input_tokens: openaiChatPromptTokens(body ?? {}),
      output_tokens: countWords("Echo: Split across exports"),
      tokens_estimated: 0,
      status: "ok",
    });
    expect(JSON.parse(String(t.calls[0]?.["input"]))).toEqual([
      { role: "user", parts: [{ type: "text", content: "Split across exports" }] },
    ]);
    const metrics = await collector.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(/^tokenmeter_calls_deduplicated_across_batches_total [1-9]/m);
  });
});
