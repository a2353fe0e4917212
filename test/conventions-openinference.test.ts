/**
 * OpenInference: the real @arizeai/openinference-instrumentation-openai around the official
 * `openai` client, talking to the fake provider, exporting OTLP/HTTP to an in-test collector.
 */
import { setMetadata, setSession, setTags, setUser, traceAgent } from "@arizeai/openinference-core";
import { OpenAIInstrumentation } from "@arizeai/openinference-instrumentation-openai";
import {
  EVALUATION_EXPLANATION,
  EVALUATION_LABEL,
  EVALUATION_NAME,
  EVALUATION_SCORE,
  EVALUATIONS,
} from "@arizeai/openinference-semantic-conventions";
import { context } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Collector } from "../collector/src/app.js";
import {
  countWords,
  type FakeProvider,
  openaiChatPromptTokens,
  reasoningTokensFor,
  startFakeProvider,
  toolCallTokens,
} from "../collector/src/fake-provider/index.js";
import { exportAtFlush, lastRequestBody, lastSpanNamed, listeningCollector, parsed } from "./helpers/collector.js";

type Row = Record<string, unknown>;

let collector: Collector;
let fake: FakeProvider;
let provider: NodeTracerProvider;
let client: OpenAI;
const local = new InMemorySpanExporter();

beforeAll(async () => {
  let url: string;
  ({ collector, url } = await listeningCollector());
  fake = await startFakeProvider();
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": "oi-app" }),
    spanProcessors: [exportAtFlush(url), new SimpleSpanProcessor(local)],
  });
  provider.register();
  const instrumentation = new OpenAIInstrumentation({ tracerProvider: provider });
  instrumentation.manuallyInstrument(OpenAI);
  client = new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await provider?.shutdown();
  await fake?.close();
  await collector?.close();
});

async function getJson<T>(url: string): Promise<T> {
  const res = await collector.app.inject({ method: "GET", url });
  expect(res.statusCode).toBe(200);
  return res.json() as T;
}

async function trace(traceId: string): Promise<{ spans: Row[]; calls: Row[]; scores: Row[]; tree: TreeNode[] }> {
  return getJson(`/api/v1/traces/${traceId}`);
}

interface TreeNode {
  name: string;
  operation: string;
  call: Row | null;
  scores: Row[];
  children: TreeNode[];
}

const spanNamed = (name: string) => lastSpanNamed(local, name);

describe("OpenInference (@arizeai/openinference-instrumentation-openai)", () => {
  it("agent-run-with-a-tool-calling-chat-becomes-one-call-under-an-aggregate-agent-span", async () => {
    const weather = {
      type: "function" as const,
      function: {
        name: "get_weather",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    };
    let ctx = setSession(context.active(), { sessionId: "sess-oi-1" });
    ctx = setUser(ctx, { userId: "user-oi-1" });
    ctx = setMetadata(ctx, { tenant: "acme", plan: "pro" });
    ctx = setTags(ctx, ["beta", "eu"]);
    const agent = traceAgent(
      async () =>
        client.chat.completions.create(
          {
            model: "gpt-4o-mini",
            messages: [
              { role: "system", content: "You answer weather questions." },
              { role: "user", content: "What is the weather in Paris?" },
            ],
            tools: [weather],
          },
          { headers: { "x-fake-scenario": "cache" } },
        ),
      {
        name: "weather-agent",
        attributes: {
          [`${EVALUATIONS}.0.${EVALUATION_NAME}`]: "helpfulness",
          [`${EVALUATIONS}.0.${EVALUATION_SCORE}`]: 0.9,
          [`${EVALUATIONS}.0.${EVALUATION_LABEL}`]: "helpful",
          [`${EVALUATIONS}.0.${EVALUATION_EXPLANATION}`]: "called the right tool",
        },
      },
    );
    const completion = await context.with(ctx, agent);
    const body = lastRequestBody(fake);
    await provider.forceFlush();

    const llmSpan = spanNamed("OpenAI Chat Completions");
    const traceId = llmSpan.spanContext().traceId;
    const t = await trace(traceId);
    expect(t.calls).toHaveLength(1);
    const c = t.calls[0] as Row;
    const prompt = openaiChatPromptTokens(body);
    const args = JSON.stringify({ city: "Paris, France" });
    expect(completion.usage?.prompt_tokens).toBe(prompt);
    expect(c).toMatchObject({
      span_id: llmSpan.spanContext().spanId,
      service: "oi-app",
      source: "otlp",
      convention: "openinference",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: prompt,
      output_tokens: toolCallTokens("get_weather", args),
      cache_read_tokens: Math.floor(prompt / 2),
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      priced: 1,
      ttft_ms: null,
      streamed: 0,
      status: "ok",
      finish_reason: "tool_calls",
      user_id: "user-oi-1",
      session_id: "sess-oi-1",
      reported_cost_usd: null,
      tags: { tenant: "acme", plan: "pro", beta: "true", eu: "true" },
    });
    expect(c["cost_usd"]).not.toBeNull();
    expect(parsed(c["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "You answer weather questions." }] },
      { role: "user", parts: [{ type: "text", content: "What is the weather in Paris?" }] },
    ]);
    expect(parsed(c["output"])).toEqual([
      {
        role: "assistant",
        parts: [
          {
            type: "tool_call",
            id: completion.choices[0]?.message.tool_calls?.[0]?.id,
            name: "get_weather",
            arguments: { city: "Paris, France" },
          },
        ],
      },
    ]);

    // The AGENT span is stored as a span, not a call, and carries the evaluation.
    const agentSpan = spanNamed("weather-agent");
    const agentRow = t.spans.find((s) => s["span_id"] === agentSpan.spanContext().spanId);
    expect(agentRow).toMatchObject({ convention: "openinference", operation: "agent", is_llm_call: 0 });
    expect(t.scores).toEqual([
      expect.objectContaining({
        span_id: agentSpan.spanContext().spanId,
        name: "helpfulness",
        value: 0.9,
        label: "helpful",
        comment: "called the right tool",
        source: "telemetry",
      }),
    ]);
    expect(t.tree).toHaveLength(1);
    expect(t.tree[0]?.operation).toBe("agent");
    expect(t.tree[0]?.children[0]?.call?.["span_id"]).toBe(llmSpan.spanContext().spanId);
  });

  it("streamed-reasoning-call-keeps-content-and-estimates-the-usage-the-ts-instrumentation-drops", async () => {
    const stream = await client.chat.completions.create({
      model: "o4-mini",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Stream me a short answer" }],
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    await provider.forceFlush();

    // The fake did report usage; the TypeScript instrumentation skips the usage chunk.
    const visible = countWords("Echo: Stream me a short answer");
    expect(usage?.completion_tokens).toBe(visible + reasoningTokensFor(visible, undefined));

    const span = spanNamed("OpenAI Chat Completions");
    const calls = (await trace(span.spanContext().traceId)).calls;
    expect(calls).toHaveLength(1);
    const c = calls[0] as Row;
    expect(c).toMatchObject({
      convention: "openinference",
      provider: "openai",
      operation: "chat",
      request_model: "o4-mini",
      response_model: "o4-mini",
      streamed: 1,
      // No "First Token Stream Event" from the TypeScript instrumentation (Python adds one).
      ttft_ms: null,
      tokens_estimated: 1,
      finish_reason: "stop",
      cache_read_tokens: 0,
      reasoning_tokens: 0,
    });
    expect(Number(c["input_tokens"])).toBeGreaterThan(0);
    expect(Number(c["output_tokens"])).toBeGreaterThan(0);
    expect(JSON.parse(String(c["request_params"]))).toEqual({ stream: true });
    expect(parsed(c["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Echo: Stream me a short answer" }] },
    ]);
  });

  it("embedding-span-is-an-embeddings-call", async () => {
    await client.embeddings.create({ model: "text-embedding-3-small", input: "embed me please" });
    await provider.forceFlush();
    const span = spanNamed("OpenAI Embeddings");
    const calls = (await trace(span.spanContext().traceId)).calls;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      convention: "openinference",
      provider: "openai",
      operation: "embeddings",
      request_model: "text-embedding-3-small",
      // The instrumentation records no token counts for embeddings: estimated from the text.
      tokens_estimated: 1,
      output_tokens: 0,
    });
    expect(parsed(calls[0]?.["input"])).toEqual([
      { role: "user", parts: [{ type: "text", content: "embed me please" }] },
    ]);
  });
});
