/**
 * OpenLIT: the real `openlit` SDK (its own tracer provider and OTLP exporter, pointed at the
 * in-test collector with `otlpEndpoint`) around the official `openai` client, talking to the
 * fake provider. OpenLIT prices calls itself: a fixed price list keeps its reported cost exact
 * and keeps the SDK from downloading one.
 */
import { type ProxyTracerProvider, trace } from "@opentelemetry/api";
import * as openaiModule from "openai";
import { Openlit } from "openlit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Collector } from "../collector/src/app.js";
import {
  countWords,
  type FakeProvider,
  openaiChatPromptTokens,
  startFakeProvider,
} from "../collector/src/fake-provider/index.js";
import { lastRequestBody, listeningCollector, parsed } from "./helpers/collector.js";

type Row = Record<string, unknown>;

/** USD per 1,000 tokens, OpenLIT's price-list unit. */
const PRICES = {
  chat: { "gpt-4o-mini": { promptPrice: 0.15, completionPrice: 0.6 } },
  embeddings: { "text-embedding-3-small": 0.02 },
};

let collector: Collector;
let fake: FakeProvider;
let client: openaiModule.OpenAI;

beforeAll(async () => {
  let url: string;
  ({ collector, url } = await listeningCollector());
  fake = await startFakeProvider();
  Openlit.init({
    applicationName: "lit-app",
    environment: "staging",
    otlpEndpoint: url,
    disableMetrics: true,
    pricingJson: PRICES,
    instrumentations: { openai: openaiModule },
  });
  client = new openaiModule.OpenAI({
    apiKey: "sk-test",
    baseURL: `${fake.url}/v1`,
    maxRetries: 0,
    fetch: slowFirstByteFetch,
  });
});

afterAll(async () => {
  await fake?.close();
  await collector?.close();
});

/**
 * OpenLIT times the first token from the moment the stream is first read, i.e. after the
 * response headers; the fake sends its first event with the headers. Holding back the body's
 * first bytes for a while gives that first token a measurable delay.
 */
const FIRST_BYTE_DELAY_MS = 120;

async function slowFirstByteFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, init);
  if (res.body === null || !res.headers.get("content-type")?.startsWith("text/event-stream")) return res;
  const reader = res.body.getReader();
  let first = true;
  // highWaterMark 0: nothing is pulled before the stream is first read, so the delay starts
  // when OpenLIT starts reading (its clock), not when the response is built.
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (first) {
          first = false;
          await new Promise((resolve) => setTimeout(resolve, FIRST_BYTE_DELAY_MS));
        }
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** OpenLIT registers its NodeTracerProvider globally; flushing it sends the batch. */
async function flush(): Promise<void> {
  const delegate = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as {
    forceFlush?: () => Promise<void>;
  };
  await delegate.forceFlush?.();
}

async function latestCall(model: string): Promise<Row> {
  const res = await collector.app.inject({
    method: "GET",
    url: `/api/v1/calls?model=${encodeURIComponent(model)}&limit=1&include_content=1`,
  });
  expect(res.statusCode).toBe(200);
  const row = (res.json() as { calls: Row[] }).calls[0];
  if (row === undefined) throw new Error(`no call for ${model}`);
  return row;
}

async function callsOfTrace(traceId: string): Promise<Row[]> {
  const res = await collector.app.inject({ method: "GET", url: `/api/v1/calls?trace_id=${traceId}` });
  return (res.json() as { calls: Row[] }).calls;
}

const lastBody = () => lastRequestBody(fake);

describe("OpenLIT (openlit SDK)", () => {
  it("chat-with-cached-prompt-keeps-openlit-cost-as-reported-and-prices-it-again", async () => {
    const res = await client.chat.completions.create(
      {
        model: "gpt-4o-mini",
        user: "end-user-9",
        temperature: 0.3,
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Which plan am I on today?" },
        ],
      },
      { headers: { "x-fake-scenario": "cache" } },
    );
    const body = lastBody();
    await flush();

    const c = await latestCall("gpt-4o-mini");
    const prompt = openaiChatPromptTokens(body);
    const output = countWords("Echo: Which plan am I on today?");
    expect(res.usage?.prompt_tokens).toBe(prompt);
    expect(c).toMatchObject({
      service: "lit-app",
      environment: "staging",
      convention: "openlit",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      response_id: res.id,
      input_tokens: prompt,
      output_tokens: output,
      cache_read_tokens: Math.floor(prompt / 2),
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      priced: 1,
      streamed: 0,
      ttft_ms: null,
      finish_reason: "stop",
      user_id: "end-user-9",
      tags: { application: "lit-app", environment: "staging" },
    });
    // OpenLIT's own price (no cache price in its list) is kept beside ours.
    expect(Number(c["reported_cost_usd"])).toBeCloseTo((prompt * 0.15 + output * 0.6) / 1000, 9);
    expect(c["cost_usd"]).not.toBeNull();
    expect(Number(c["cost_usd"])).not.toBeCloseTo(Number(c["reported_cost_usd"]), 9);
    expect(JSON.parse(String(c["request_params"]))).toMatchObject({ temperature: 0.3 });
    expect(parsed(c["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be brief." }] },
      { role: "user", parts: [{ type: "text", content: "Which plan am I on today?" }] },
    ]);
    expect(parsed(c["output"])).toEqual([
      {
        role: "assistant",
        parts: [{ type: "text", content: "Echo: Which plan am I on today?" }],
        finish_reason: "stop",
      },
    ]);
    expect(await callsOfTrace(String(c["trace_id"]))).toHaveLength(1);
  });

  it("streamed-call-has-ttft-from-time-to-first-token-seconds", async () => {
    const stream = await client.chat.completions.create(
      {
        model: "gpt-4.1-nano",
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "Stream slowly please" }],
      },
      { headers: { "x-fake-scenario": "slow_stream", "x-fake-chunk-delay-ms": "5" } },
    );
    let usage: openaiModule.OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    const body = lastBody();
    await flush();

    const c = await latestCall("gpt-4.1-nano");
    expect(c).toMatchObject({
      convention: "openlit",
      provider: "openai",
      request_model: "gpt-4.1-nano",
      input_tokens: openaiChatPromptTokens(body),
      output_tokens: usage?.completion_tokens,
      tokens_estimated: 0,
      streamed: 1,
      // The model is missing from OpenLIT's price list: it reports 0, stored as unknown.
      reported_cost_usd: null,
      priced: 1,
    });
    // The first event reached the stream reader FIRST_BYTE_DELAY_MS after the headers.
    expect(Number(c["ttft_ms"])).toBeGreaterThanOrEqual(FIRST_BYTE_DELAY_MS - 5);
    // OpenLIT measures with Date.now(): whole milliseconds.
    expect(Number.isInteger(Number(c["ttft_ms"]))).toBe(true);
    expect(Number(c["ttft_ms"])).toBeLessThanOrEqual(Number(c["duration_ms"]));
  });

  it("embeddings-call", async () => {
    const res = await client.embeddings.create({ model: "text-embedding-3-small", input: "lit embedding text" });
    await flush();
    const c = await latestCall("text-embedding-3-small");
    expect(c).toMatchObject({
      convention: "openlit",
      provider: "openai",
      operation: "embeddings",
      input_tokens: res.usage.prompt_tokens,
      output_tokens: 0,
      tokens_estimated: 0,
    });
    expect(Number(c["reported_cost_usd"])).toBeCloseTo((res.usage.prompt_tokens * 0.02) / 1000, 9);
  });
});
