/**
 * The official `@anthropic-ai/sdk` client with its baseURL on the proxy (`<proxy>/anthropic`),
 * against the fake provider. Anthropic reports input WITHOUT the prompt-cache tokens; the rows
 * hold input WITH them (OTel semantics).
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  anthropicInputTokens,
  countWords,
  fakeThinkingText,
  SCENARIO_HEADER,
  toolCallTokens,
} from "../collector/src/fake-provider/index.js";
import { comparableHeaders, type Harness, maskVolatile, newTrace, startHarness } from "./proxy-harness.js";

let h: Harness;
let proxied: Anthropic;
let direct: Anthropic;

beforeAll(async () => {
  h = await startHarness();
  proxied = new Anthropic({ apiKey: "sk-ant-test-key", baseURL: `${h.proxy.url}/anthropic`, maxRetries: 0 });
  direct = new Anthropic({ apiKey: "sk-ant-test-key", baseURL: h.fake.url, maxRetries: 0 });
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => {
  h.fake.reset();
});

function traced(extra: Record<string, string> = {}) {
  const t = newTrace();
  return { t, opts: { headers: { traceparent: t.traceparent, ...extra } } };
}

const LONG_SYSTEM = "You are a meticulous assistant. ".repeat(40);

describe("messages through the proxy", () => {
  it("non-streamed: same answer as direct, one exact row", async () => {
    const { t, opts } = traced();
    const body = {
      model: "claude-sonnet-4-6",
      max_tokens: 256,
      system: "Be kind.",
      messages: [{ role: "user" as const, content: "hello from anthropic" }],
    };
    const viaProxy = await proxied.messages.create(body, opts);
    const viaDirect = await direct.messages.create(body);
    expect({ ...viaProxy, id: "" }).toEqual({ ...viaDirect, id: "" });

    const [row] = await h.calls(t.traceId);
    const input = anthropicInputTokens(body);
    expect(row).toMatchObject({
      trace_id: t.traceId,
      source: "proxy",
      provider: "anthropic",
      operation: "chat",
      request_model: "claude-sonnet-4-6",
      response_model: "claude-sonnet-4-6",
      response_id: viaProxy.id,
      input_tokens: input,
      output_tokens: countWords("Echo: hello from anthropic"),
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      tokens_estimated: 0,
      priced: 1,
      streamed: 0,
      status: "ok",
      finish_reason: "end_turn",
      http_status: 200,
    });
    expect(JSON.parse(String(row?.["request_params"]))).toEqual({ max_tokens: 256 });
    expect(JSON.parse(String(row?.["input"]))).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be kind." }] },
      { role: "user", parts: [{ type: "text", content: "hello from anthropic" }] },
    ]);
  });

  it("prompt cache: input includes cache writes, then reads; cache columns filled", async () => {
    const body = {
      model: "claude-sonnet-4-6",
      max_tokens: 100,
      system: [{ type: "text" as const, text: LONG_SYSTEM, cache_control: { type: "ephemeral" as const } }],
      messages: [{ role: "user" as const, content: "first question" }],
    };
    const total = anthropicInputTokens(body);
    const first = traced();
    const r1 = await proxied.messages.create(body, first.opts);
    expect(r1.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    const second = traced();
    const r2 = await proxied.messages.create(body, second.opts);
    expect(r2.usage.cache_read_input_tokens).toBeGreaterThan(0);

    const [row1] = await h.calls(first.t.traceId);
    const [row2] = await h.calls(second.t.traceId);
    expect(row1).toMatchObject({
      input_tokens: total,
      cache_write_tokens: r1.usage.cache_creation_input_tokens,
      cache_read_tokens: 0,
    });
    expect(row2).toMatchObject({
      input_tokens: total,
      cache_read_tokens: r2.usage.cache_read_input_tokens,
      cache_write_tokens: 0,
    });
    expect(r2.usage.input_tokens + (r2.usage.cache_read_input_tokens ?? 0)).toBe(total);
    // A cache read is cheaper than the same tokens written.
    expect(Number(row2?.["cost_usd"])).toBeLessThan(Number(row1?.["cost_usd"]));
  });

  it("streamed, with thinking and the cache: usage from message_start + message_delta, ttft", async () => {
    const { t, opts } = traced({ [SCENARIO_HEADER]: "cache" });
    const body = {
      model: "claude-sonnet-4-6",
      max_tokens: 500,
      thinking: { type: "enabled" as const, budget_tokens: 200 },
      messages: [{ role: "user" as const, content: "think then answer" }],
    };
    const stream = proxied.messages.stream(body, opts);
    const final = await stream.finalMessage();
    const total = anthropicInputTokens(body);
    const thinking = fakeThinkingText("think then answer");
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({
      input_tokens: total,
      cache_read_tokens: Math.floor(total / 2),
      output_tokens: final.usage.output_tokens,
      reasoning_tokens: countWords(thinking),
      tokens_estimated: 0,
      streamed: 1,
      finish_reason: "end_turn",
    });
    expect(row?.["ttft_ms"]).not.toBeNull();
    const out = JSON.parse(String(row?.["output"]))[0].parts;
    expect(out[0]).toEqual({ type: "reasoning", content: thinking });
    expect(out[1]).toEqual({ type: "text", content: "Echo: think then answer" });
  });

  it("tools, streamed: tool_use recorded with its arguments", async () => {
    const { t, opts } = traced();
    const stream = proxied.messages.stream(
      {
        model: "claude-haiku-4-5",
        max_tokens: 200,
        tools: [
          {
            name: "get_weather",
            description: "weather",
            input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
        ],
        messages: [{ role: "user", content: "What's the weather in Paris?" }],
      },
      opts,
    );
    const final = await stream.finalMessage();
    const toolUse = final.content.find((b) => b.type === "tool_use");
    expect(toolUse?.type).toBe("tool_use");
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ finish_reason: "tool_use", streamed: 1, output_tokens: final.usage.output_tokens });
    const parts = JSON.parse(String(row?.["output"]))[0].parts as Array<Record<string, unknown>>;
    const call = parts.find((p) => p["type"] === "tool_call");
    expect(call).toMatchObject({ name: "get_weather", arguments: { city: "Paris, France" } });
    expect(final.usage.output_tokens).toBeGreaterThanOrEqual(toolCallTokens("get_weather", '{"city":"Paris, France"}'));
  });
});

describe("errors and raw passthrough", () => {
  it("429: RateLimitError with the same body and headers as direct", async () => {
    const { t, opts } = traced({ [SCENARIO_HEADER]: "rate_limit" });
    const body = { model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user" as const, content: "x" }] };
    const p = await proxied.messages.create(body, opts).catch((e: unknown) => e);
    const d = await direct.messages
      .create(body, { headers: { [SCENARIO_HEADER]: "rate_limit" } })
      .catch((e: unknown) => e);
    expect(p).toBeInstanceOf(Anthropic.RateLimitError);
    const pe = p as InstanceType<typeof Anthropic.RateLimitError>;
    const de = d as InstanceType<typeof Anthropic.RateLimitError>;
    expect(pe.status).toBe(429);
    expect({ ...(pe.error as object), request_id: "" }).toEqual({ ...(de.error as object), request_id: "" });
    expect(comparableHeaders(pe.headers)).toEqual(comparableHeaders(de.headers));
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ status: "error", error_type: "429", http_status: 429, input_tokens: 0 });
  });

  it("529 overloaded passes through", async () => {
    const { t, opts } = traced({ [SCENARIO_HEADER]: "overloaded" });
    const err = await proxied.messages
      .create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "x" }] }, opts)
      .catch((e: unknown) => e);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ status: "error", error_type: "529" });
  });

  it("raw bytes of a streamed answer match a direct call", async () => {
    const body = JSON.stringify({
      model: "claude-sonnet-4-6",
      max_tokens: 300,
      stream: true,
      messages: [{ role: "user", content: "compare my bytes" }],
    });
    const headers = {
      "content-type": "application/json",
      "x-api-key": "sk-ant-test-key",
      "anthropic-version": "2023-06-01",
    };
    const d = await fetch(`${h.fake.url}/v1/messages`, { method: "POST", headers, body });
    const p = await fetch(`${h.proxy.url}/anthropic/v1/messages`, { method: "POST", headers, body });
    expect(p.status).toBe(d.status);
    expect(comparableHeaders(p.headers)).toEqual(comparableHeaders(d.headers));
    const [pt, dt] = [await p.text(), await d.text()];
    expect(maskVolatile(pt)).toBe(maskVolatile(dt));
    expect(pt.length).toBe(dt.length);
  });
});
