/**
 * OpenLLMetry (Traceloop), two real generations of it around the official `openai` client,
 * talking to the fake provider:
 * - @traceloop/node-server-sdk (current), exporting with its own OTLP exporter to the in-test
 *   collector (`baseUrl`): OTel GenAI keys plus traceloop.association.properties.* and
 *   traceloop.workflow.name;
 * - @traceloop/instrumentation-openai 0.22 (the older, still common encoding: llm.request.type,
 *   indexed gen_ai.prompt.N.* / gen_ai.completion.N.*, gen_ai.usage.prompt_tokens) with a
 *   NodeTracerProvider.
 * Both support openai < 7 (0.22: < 6), so they wrap the v6 and v5 clients. Besides:
 * @traceloop/instrumentation-anthropic around @anthropic-ai/sdk (Anthropic's uncached
 * input_tokens), and the node-server-sdk exporting the Vercel AI SDK's legacy spans, which it
 * rewrites.
 */

import { createOpenAI } from "@ai-sdk/openai";
import { LegacyOpenTelemetry } from "@ai-sdk/otel";
import * as anthropicModule from "@anthropic-ai/sdk";
import { trace } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { AnthropicInstrumentation } from "@traceloop/instrumentation-anthropic";
import * as traceloop from "@traceloop/node-server-sdk";
import { generateText } from "ai";
import * as openaiV5 from "openai-v5";
import * as openaiV6 from "openai-v6";
import { OpenAIInstrumentation as LegacyOpenAIInstrumentation } from "traceloop-instrumentation-openai-legacy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Collector } from "../collector/src/app.js";
import {
  countWords,
  type FakeProvider,
  openaiChatPromptTokens,
  openaiCompletionPromptTokens,
  startFakeProvider,
  toolCallTokens,
} from "../collector/src/fake-provider/index.js";
import {
  exportAtFlush,
  fetchTrace,
  lastSpanNamed,
  listeningCollector,
  parsed,
  requestBodies,
} from "./helpers/collector.js";

type Row = Record<string, unknown>;
type TraceloopOpenAI = NonNullable<
  NonNullable<Parameters<typeof traceloop.initialize>[0]>["instrumentModules"]
>["openAI"];

let collector: Collector;
let fake: FakeProvider;
let legacyProvider: BasicTracerProvider;
const legacySpans = new InMemorySpanExporter();

beforeAll(async () => {
  let url: string;
  ({ collector, url } = await listeningCollector());
  fake = await startFakeProvider();

  // Traceloop's documented switch: without it, streamed calls get a tiktoken estimate that the
  // span does not mark as one (the SDK ignores the stream's usage chunk).
  process.env["TRACELOOP_ENRICH_TOKENS"] = "false";
  traceloop.initialize({
    appName: "tl-app",
    baseUrl: url,
    apiKey: "tl-test-key",
    traceloopSyncEnabled: false,
    silenceInitializationMessage: true,
    // The SDK's option is typed against the `openai` package it finds (here v7's types).
    instrumentModules: { openAI: openaiV6.OpenAI as unknown as TraceloopOpenAI },
  });

  legacyProvider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "tl-legacy-app" }),
    spanProcessors: [exportAtFlush(url), new SimpleSpanProcessor(legacySpans)],
  });
  const legacy = new LegacyOpenAIInstrumentation({ traceContent: true });
  legacy.setTracerProvider(legacyProvider);
  legacy.manuallyInstrument(openaiV5.OpenAI);
  const anthropicInstrumentation = new AnthropicInstrumentation({ traceContent: true });
  anthropicInstrumentation.setTracerProvider(legacyProvider);
  // The manual entry point also wraps the legacy Completions resource, which @anthropic-ai/sdk
  // 1.x no longer has: a stand-in takes that wrap, Messages is the SDK's own.
  const { Anthropic } = anthropicModule;
  const withCompletions = Object.assign(Object.create(Anthropic), { Completions: class {} });
  // The instrumentation types the module against the CommonJS build's declarations.
  type AnthropicModule = Parameters<typeof anthropicInstrumentation.manuallyInstrument>[0];
  anthropicInstrumentation.manuallyInstrument({
    ...anthropicModule,
    Anthropic: withCompletions,
  } as unknown as AnthropicModule);
});

afterAll(async () => {
  await legacyProvider?.shutdown();
  await fake?.close();
  await collector?.close();
});

const traceOf = (traceId: string) => fetchTrace(collector, traceId);

const legacySpan = (name: string) => lastSpanNamed(legacySpans, name);

const bodies = () => requestBodies(fake);

describe("OpenLLMetry: @traceloop/node-server-sdk", () => {
  it("workflow-with-association-properties-gives-user-session-tags-and-one-row-per-call", async () => {
    const client = new openaiV6.OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 });
    fake.reset();
    let traceId = "";
    await traceloop.withWorkflow(
      {
        name: "support_flow",
        associationProperties: { user_id: "user-tl-1", session_id: "sess-tl-1", tier: "gold" },
      },
      async () => {
        traceId = trace.getActiveSpan()?.spanContext().traceId ?? "";
        await client.chat.completions.create({
          model: "gpt-4o-mini",
          messages: [
            { role: "system", content: "Be brief." },
            { role: "user", content: "Summarise my last order" },
          ],
        });
        const stream = await client.chat.completions.create({
          model: "gpt-4o-mini",
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: "user", content: "Stream the summary" }],
        });
        for await (const _ of stream) {
          // drain
        }
      },
    );
    const [first] = bodies();
    await traceloop.forceFlush();

    const t = await traceOf(traceId);
    const workflow = t.spans.find((s) => s["name"] === "support_flow.workflow");
    expect(workflow).toMatchObject({ convention: "openllmetry", operation: "workflow", is_llm_call: 0 });
    expect(t.calls).toHaveLength(2);
    // Rows come in start order; the SDK's spans do not say whether a call streamed.
    const [plain, streamed] = t.calls;
    const common = {
      service: "tl-app",
      convention: "openllmetry",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      user_id: "user-tl-1",
      session_id: "sess-tl-1",
      tags: { tier: "gold", workflow: "support_flow" },
      finish_reason: "stop",
      status: "ok",
    };
    expect(plain).toMatchObject({
      ...common,
      input_tokens: openaiChatPromptTokens(first ?? {}),
      output_tokens: countWords("Echo: Summarise my last order"),
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      streamed: 0,
      ttft_ms: null,
      priced: 1,
    });
    expect(parsed(plain?.["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be brief." }] },
      { role: "user", parts: [{ type: "text", content: "Summarise my last order" }] },
    ]);
    expect(parsed(plain?.["output"])).toEqual([
      { role: "assistant", finish_reason: "stop", parts: [{ type: "text", content: "Echo: Summarise my last order" }] },
    ]);
    // The JS SDK records no usage for streams (and no chunk events): our estimate, flagged.
    expect(streamed).toMatchObject({ ...common, tokens_estimated: 1, streamed: 0, ttft_ms: null });
    expect(Number(streamed?.["input_tokens"])).toBeGreaterThan(0);
    expect(parsed(streamed?.["output"])).toEqual([
      { role: "assistant", finish_reason: "stop", parts: [{ type: "text", content: "Echo: Stream the summary" }] },
    ]);
  });
});

describe("OpenLLMetry: @traceloop/node-server-sdk exporting the Vercel AI SDK's legacy spans", () => {
  it("rewritten-ai-spans-keep-their-content-and-provider", async () => {
    // The SDK's span processor rewrites the AI SDK's ai.* keys (transformAiSdkSpanAttributes)
    // before they leave the process: prompt and response move to gen_ai.input / output.messages,
    // ai.model.* is deleted. (ai 7 writes no ai.telemetry.metadata.*, which it would move to
    // traceloop.association.properties.*: the normalizer test covers those.)
    const openai = createOpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1` });
    let traceId = "";
    await traceloop.withWorkflow({ name: "ai_sdk_flow" }, async () => {
      traceId = trace.getActiveSpan()?.spanContext().traceId ?? "";
      await generateText({
        model: openai.chat("gpt-4o-mini"),
        prompt: "Where is my parcel?",
        experimental_telemetry: { isEnabled: true, integrations: [new LegacyOpenTelemetry()] },
      });
    });
    await traceloop.forceFlush();

    const t = await traceOf(traceId);
    expect(t.calls).toHaveLength(1);
    const c = t.calls[0] as Row;
    expect(c).toMatchObject({
      convention: "vercel_ai",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      tokens_estimated: 0,
    });
    expect(parsed(c["input"])).toEqual([{ role: "user", parts: [{ type: "text", content: "Where is my parcel?" }] }]);
    expect(parsed(c["output"])).toMatchObject([
      { role: "assistant", parts: [{ type: "text", content: "Echo: Where is my parcel?" }] },
    ]);
  });
});

describe("OpenLLMetry: @traceloop/instrumentation-openai 0.22 (indexed keys)", () => {
  it("indexed-prompt-and-completion-keys-become-messages-and-usage", async () => {
    const client = new openaiV5.OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 });
    fake.reset();
    const weather = {
      type: "function" as const,
      function: {
        name: "get_weather",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    };
    const chat = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "You answer weather questions." },
        { role: "user", content: "Weather in Lyon tomorrow?" },
      ],
      tools: [weather],
    });
    const completion = await client.completions.create({ model: "gpt-3.5-turbo-instruct", prompt: "Say hi politely" });
    const [chatBody, completionBody] = bodies();
    await legacyProvider.forceFlush();

    const chatRows = (await traceOf(legacySpan("openai.chat").spanContext().traceId)).calls;
    expect(chatRows).toHaveLength(1);
    const c = chatRows[0] as Row;
    const args = JSON.stringify({ city: "Paris, France" });
    expect(c).toMatchObject({
      service: "tl-legacy-app",
      convention: "openllmetry",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: openaiChatPromptTokens(chatBody ?? {}),
      output_tokens: toolCallTokens("get_weather", args),
      cache_read_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      streamed: 0,
      finish_reason: "tool_calls",
    });
    expect(chat.usage?.prompt_tokens).toBe(c["input_tokens"]);
    expect(parsed(c["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "You answer weather questions." }] },
      { role: "user", parts: [{ type: "text", content: "Weather in Lyon tomorrow?" }] },
    ]);
    expect(parsed(c["output"])).toEqual([
      {
        role: "assistant",
        finish_reason: "tool_calls",
        parts: [{ type: "tool_call", id: "", name: "get_weather", arguments: { city: "Paris, France" } }],
      },
    ]);

    const textRows = (await traceOf(legacySpan("openai.completion").spanContext().traceId)).calls;
    expect(textRows).toHaveLength(1);
    expect(textRows[0]).toMatchObject({
      convention: "openllmetry",
      operation: "text_completion",
      input_tokens: openaiCompletionPromptTokens(completionBody ?? {}),
      output_tokens: completion.usage?.completion_tokens,
      tokens_estimated: 0,
    });
    expect(parsed(textRows[0]?.["input"])).toEqual([
      { role: "user", parts: [{ type: "text", content: "Say hi politely" }] },
    ]);
  });
});

describe("OpenLLMetry: @traceloop/instrumentation-anthropic 0.27", () => {
  it("anthropic-input-tokens-get-the-cache-write-and-read-added-back", async () => {
    const client = new anthropicModule.Anthropic({ apiKey: "sk-ant-test", baseURL: fake.url, maxRetries: 0 });
    fake.reset();
    const system = `You are the returns assistant of shop ${process.pid}. Refunds within 30 days.`;
    const body = {
      model: "claude-sonnet-4-6",
      max_tokens: 64,
      system: [{ type: "text" as const, text: system, cache_control: { type: "ephemeral" as const } }],
      // Longer than the cached system prompt: a cache smaller than the input it is part of.
      messages: [{ role: "user" as const, content: `Can I return my boots? ${"They pinch at the heel. ".repeat(12)}` }],
    };
    const write = await client.messages.create(body);
    const read = await client.messages.create(body);
    await legacyProvider.forceFlush();
    // Anthropic's input_tokens leaves the cached prefix out; the span copies it as is.
    expect(write.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(read.usage.cache_read_input_tokens).toBeGreaterThan(0);
    expect(read.usage.input_tokens).toBeGreaterThan(read.usage.cache_read_input_tokens ?? 0);

    const spans = legacySpans
      .getFinishedSpans()
      .filter((s) => s.instrumentationScope.name === "@traceloop/instrumentation-anthropic");
    const [writeSpan, readSpan] = spans.slice(-2);
    const writeRow = (await traceOf(writeSpan?.spanContext().traceId ?? "")).calls[0];
    const readRow = (await traceOf(readSpan?.spanContext().traceId ?? "")).calls[0];
    const cacheWrite = write.usage.cache_creation_input_tokens ?? 0;
    const cacheRead = read.usage.cache_read_input_tokens ?? 0;
    expect(writeRow).toMatchObject({
      convention: "openllmetry",
      provider: "anthropic",
      input_tokens: write.usage.input_tokens + cacheWrite,
      cache_write_tokens: cacheWrite,
      cache_read_tokens: 0,
      output_tokens: write.usage.output_tokens,
      tokens_estimated: 0,
    });
    expect(readRow).toMatchObject({
      input_tokens: read.usage.input_tokens + cacheRead,
      cache_read_tokens: cacheRead,
      cache_write_tokens: 0,
    });
  });
});
