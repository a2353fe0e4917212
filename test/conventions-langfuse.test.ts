/**
 * Langfuse: the real @langfuse/otel span processor and @langfuse/openai (observeOpenAI) around
 * the official `openai` client, talking to the fake provider. The processor's exporter is
 * pointed at the in-test collector (Langfuse's default exporter posts to its own
 * /api/public/otel path). Also: a Langfuse generation and the @opentelemetry/instrumentation-openai
 * span of the same call, nested and side by side, count once.
 */

import { observeOpenAI } from "@langfuse/openai";
import { LangfuseSpanProcessor } from "@langfuse/otel";
import { propagateAttributes, startActiveObservation } from "@langfuse/tracing";
import { metrics } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OpenAIInstrumentation } from "@opentelemetry/instrumentation-openai";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import OpenAI from "openai";
import * as openaiV6 from "openai-v6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Collector } from "../collector/src/app.js";
import {
  countWords,
  type FakeProvider,
  openaiChatPromptTokens,
  reasoningTokensFor,
  startFakeProvider,
} from "../collector/src/fake-provider/index.js";
import { fetchTrace, lastRequestBody, lastSpanNamed, listeningCollector, parsed } from "./helpers/collector.js";

type Row = Record<string, unknown>;

let collector: Collector;
let fake: FakeProvider;
let provider: NodeTracerProvider;
const local = new InMemorySpanExporter();

beforeAll(async () => {
  let url: string;
  ({ collector, url } = await listeningCollector());
  fake = await startFakeProvider();
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": "lf-app" }),
    spanProcessors: [
      new LangfuseSpanProcessor({
        exporter: new OTLPTraceExporter({ url: `${url}/v1/traces` }),
        environment: "staging",
        // One export at flush time, so a trace's spans reach the collector in one batch.
        flushInterval: 60,
      }),
      new SimpleSpanProcessor(local),
    ],
  });
  provider.register();

  // The openai instrumentation supports openai <7: it patches the v6 client only.
  const instrumentation = new OpenAIInstrumentation();
  instrumentation.setTracerProvider(provider);
  instrumentation.setMeterProvider(metrics.getMeterProvider());
  for (const def of instrumentation.getModuleDefinitions()) def.patch?.(openaiV6);
});

afterAll(async () => {
  await provider?.shutdown();
  await fake?.close();
  await collector?.close();
});

const traceOf = (traceId: string) => fetchTrace(collector, traceId);

const lastSpan = (name: string) => lastSpanNamed(local, name);

const lastBody = () => lastRequestBody(fake);

describe("Langfuse (@langfuse/otel + @langfuse/openai)", () => {
  const client = () =>
    observeOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 }), {
      userId: "user-lf-1",
      sessionId: "sess-lf-1",
      tags: ["beta"],
      traceName: "support-chat",
    });

  it("observe-openai-chat-with-cached-prompt-becomes-one-exact-row", async () => {
    const res = await client().chat.completions.create(
      {
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Where is my parcel right now?" },
        ],
      },
      { headers: { "x-fake-scenario": "cache" } },
    );
    const body = lastBody();
    await provider.forceFlush();

    const gen = lastSpan("OpenAI.chat");
    const calls = (await traceOf(gen.spanContext().traceId)).calls;
    expect(calls).toHaveLength(1);
    const prompt = openaiChatPromptTokens(body);
    expect(res.usage?.prompt_tokens).toBe(prompt);
    const c = calls[0] as Row;
    expect(c).toMatchObject({
      span_id: gen.spanContext().spanId,
      service: "lf-app",
      convention: "langfuse",
      // Langfuse records no provider.
      provider: "",
      operation: "chat",
      request_model: "gpt-4o-mini-2024-07-18",
      // usage_details says input 50% uncached + input_cached_tokens: stored input includes both.
      input_tokens: prompt,
      cache_read_tokens: Math.floor(prompt / 2),
      output_tokens: countWords("Echo: Where is my parcel right now?"),
      reasoning_tokens: 0,
      cache_write_tokens: 0,
      tokens_estimated: 0,
      priced: 1,
      streamed: 0,
      ttft_ms: null,
      user_id: "user-lf-1",
      session_id: "sess-lf-1",
      tags: { beta: "true", environment: "staging", trace_name: "support-chat" },
    });
    expect(parsed(c["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be brief." }] },
      { role: "user", parts: [{ type: "text", content: "Where is my parcel right now?" }] },
    ]);
    expect(parsed(c["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Echo: Where is my parcel right now?" }] },
    ]);
  });

  it("observe-openai-stream-has-ttft-from-completion-start-and-reasoning-in-output", async () => {
    const stream = await client().chat.completions.create(
      {
        model: "o4-mini",
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "Think then answer" }],
      },
      { headers: { "x-fake-scenario": "slow_stream", "x-fake-chunk-delay-ms": "40" } },
    );
    for await (const _ of stream) {
      // drain
    }
    const body = lastBody();
    await provider.forceFlush();

    const gen = lastSpan("OpenAI.chat");
    const calls = (await traceOf(gen.spanContext().traceId)).calls;
    expect(calls).toHaveLength(1);
    const visible = countWords("Echo: Think then answer");
    const reasoning = reasoningTokensFor(visible, undefined);
    const c = calls[0] as Row;
    const started = gen.attributes["langfuse.observation.completion_start_time"];
    const expectedTtft =
      Date.parse(JSON.parse(String(started)) as string) - (gen.startTime[0] * 1000 + gen.startTime[1] / 1e6);
    expect(c).toMatchObject({
      convention: "langfuse",
      operation: "chat",
      request_model: "o4-mini",
      input_tokens: openaiChatPromptTokens(body),
      output_tokens: visible + reasoning,
      reasoning_tokens: reasoning,
      cache_read_tokens: 0,
      streamed: 1,
      tokens_estimated: 0,
      user_id: "user-lf-1",
      session_id: "sess-lf-1",
    });
    expect(Number(c["ttft_ms"])).toBeGreaterThan(0);
    // completion_start_time has millisecond precision.
    expect(Math.abs(Number(c["ttft_ms"]) - expectedTtft)).toBeLessThan(1);
    expect(Number(c["ttft_ms"])).toBeLessThan(Number(c["duration_ms"]));
    expect(parsed(c["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Echo: Think then answer" }] },
    ]);
  });

  it("observe-openai-embeddings-are-an-embeddings-call", async () => {
    await client().embeddings.create({ model: "text-embedding-3-small", input: "a sentence to embed" });
    await provider.forceFlush();
    const gen = lastSpan("OpenAI.embeddings");
    const calls = (await traceOf(gen.spanContext().traceId)).calls;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      convention: "langfuse",
      operation: "embeddings",
      request_model: "text-embedding-3-small",
      // observeOpenAI records no usage for embeddings: estimated from the input text.
      tokens_estimated: 1,
      output_tokens: 0,
      user_id: "user-lf-1",
    });
  });

  it("generation-wrapping-an-instrumented-call-counts-once-and-keeps-both-sides-facts", async () => {
    const v6 = new openaiV6.OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 });
    let traceId = "";
    await propagateAttributes({ userId: "user-lf-2", sessionId: "sess-lf-2" }, () =>
      startActiveObservation(
        "answer-question",
        async (generation) => {
          traceId = generation.otelSpan.spanContext().traceId;
          generation.update({ model: "gpt-4o-mini", input: [{ role: "user", content: "Nested call please" }] });
          const res = await v6.chat.completions.create({
            model: "gpt-4o-mini",
            messages: [{ role: "user", content: "Nested call please" }],
          });
          generation.update({ output: res.choices[0]?.message });
        },
        { asType: "generation" },
      ),
    );
    const body = lastBody();
    await provider.forceFlush();

    const t = await traceOf(traceId);
    // Two model-call spans were stored, one call row; only the span with the row is marked a call.
    expect(t.spans.filter((s) => s["is_llm_call"] === 1).map((s) => s["span_id"])).toEqual([t.calls[0]?.["span_id"]]);
    expect(t.calls).toHaveLength(1);
    const inner = lastSpan("chat gpt-4o-mini");
    const c = t.calls[0] as Row;
    expect(c).toMatchObject({
      // The provider span is kept (innermost, with the exact usage) ...
      span_id: inner.spanContext().spanId,
      convention: "otel_genai",
      provider: "openai",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: openaiChatPromptTokens(body),
      output_tokens: countWords("Echo: Nested call please"),
      tokens_estimated: 0,
      user_id: "user-lf-2",
      session_id: "sess-lf-2",
      // ... with what only the Langfuse generation knew filled in.
      tags: { environment: "staging" },
    });
    // instrumentation-openai sends content as log events; the prompt comes from the generation.
    expect(parsed(c["input"])).toEqual([{ role: "user", parts: [{ type: "text", content: "Nested call please" }] }]);
    expect(parsed(c["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Echo: Nested call please" }] },
    ]);
  });

  it("observe-openai-beside-the-openai-instrumentation-counts-once", async () => {
    const observed = observeOpenAI(new openaiV6.OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1` }), {
      userId: "user-lf-3",
    });
    let traceId = "";
    await startActiveObservation(
      "support-agent",
      async (agent) => {
        traceId = agent.otelSpan.spanContext().traceId;
        // Two parallel calls, each seen by both instrumentations: two rows, not four or one.
        await Promise.all([
          observed.chat.completions.create({
            model: "gpt-4o-mini",
            messages: [{ role: "user", content: "First one" }],
          }),
          observed.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Second" }] }),
        ]);
      },
      { asType: "agent" },
    );
    await provider.forceFlush();

    const t = await traceOf(traceId);
    // Four model-call spans, two calls: the sibling copies are not marked as calls.
    expect(t.spans.filter((s) => s["is_llm_call"] === 1)).toHaveLength(2);
    expect(t.calls).toHaveLength(2);
    const byOutput = new Map(t.calls.map((c) => [String(c["output"]), c]));
    const first = [...byOutput.entries()].find(([out]) => out.includes("Echo: First one"))?.[1];
    const second = [...byOutput.entries()].find(([out]) => out.includes("Echo: Second"))?.[1];
    expect(first).toMatchObject({
      output_tokens: countWords("Echo: First one"),
      provider: "openai",
      user_id: "user-lf-3",
      operation: "chat",
    });
    expect(second).toMatchObject({ output_tokens: countWords("Echo: Second"), provider: "openai" });
    const agentRow = t.spans.find((s) => s["name"] === "support-agent");
    expect(agentRow).toMatchObject({ convention: "langfuse", operation: "agent", is_llm_call: 0 });
  });
});
