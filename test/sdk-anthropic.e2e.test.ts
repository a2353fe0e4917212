/**
 * The official `@anthropic-ai/sdk` client, observed by the SDK, against the fake provider; each
 * test reads back the llm_calls row the collector stored. Anthropic reports input tokens WITHOUT
 * the prompt-cache reads and writes; the rows must hold the OTel totals (cache included).
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  anthropicInputTokens,
  countWords,
  fakeReplyText,
  fakeThinkingText,
  MESSAGE_OVERHEAD_TOKENS,
  textTokens,
  toolCallTokens,
} from "../collector/src/fake-provider/index.js";
import { observeAnthropic } from "../sdk/src/index.js";
import {
  expectedCost,
  type Harness,
  inSession,
  type Prices,
  parseJson,
  session,
  startHarness,
} from "../sdk/test/e2e-harness.js";

const MODEL = "claude-sonnet-4-6";
const SONNET_4_6: Prices = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };
const PRICE_ID = "anthropic/claude-sonnet-4-6@2026-03-13";

const WEATHER_TOOL = {
  name: "get_weather",
  description: "Current weather for a city",
  input_schema: {
    type: "object" as const,
    properties: { location: { type: "string" } },
    required: ["location"],
  },
};

let h: Harness;
let anthropic: Anthropic;

beforeAll(async () => {
  h = await startHarness({ team: "research" });
  anthropic = observeAnthropic(new Anthropic({ apiKey: "sk-ant-test", baseURL: h.fake.url, maxRetries: 0 }));
});

afterAll(async () => {
  await h?.close();
});

describe("messages.create", () => {
  it("plain call: system prompt, exact usage and cost, content, init's team", async () => {
    const id = session("messages");
    const body = {
      model: MODEL,
      max_tokens: 256,
      temperature: 0.5,
      system: "You are a concise assistant.",
      messages: [{ role: "user" as const, content: "Hello Claude, how are you today?" }],
    };
    const message = await anthropic.messages.create(body, inSession(id));
    const reply = fakeReplyText("Hello Claude, how are you today?");
    expect(message.content).toEqual([{ type: "text", text: reply }]);
    const input = anthropicInputTokens(body);
    const output = countWords(reply);
    expect(message.usage.input_tokens).toBe(input);

    const row = await h.call(id);
    expect(row).toMatchObject({
      team: "research",
      source: "sdk",
      provider: "anthropic",
      operation: "chat",
      request_model: MODEL,
      response_model: MODEL,
      response_id: message.id,
      input_tokens: input,
      output_tokens: output,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      cost_usd: expectedCost(SONNET_4_6, { input, output }),
      priced: 1,
      price_id: PRICE_ID,
      streamed: 0,
      status: "ok",
      finish_reason: "end_turn",
    });
    expect(parseJson(row["request_params"])).toEqual({ max_tokens: 256, temperature: 0.5 });
    expect(parseJson(row["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "You are a concise assistant." }] },
      { role: "user", parts: [{ type: "text", content: "Hello Claude, how are you today?" }] },
    ]);
    expect(parseJson(row["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: reply }], finish_reason: "end_turn" },
    ]);
  });

  it("prompt caching: the write, then the read, each counted inside input_tokens and priced apart", async () => {
    const system = `You are the support assistant of shop ${process.pid}. Policies: refunds within 30 days; exchanges within 60 days; express shipping on request.`;
    const body = {
      model: MODEL,
      max_tokens: 128,
      system: [{ type: "text" as const, text: system, cache_control: { type: "ephemeral" as const } }],
      messages: [{ role: "user" as const, content: "Can I still return my jacket?" }],
    };
    const total = anthropicInputTokens(body);
    // The cached prefix ends at the system block's breakpoint (fake rule: its text + message overhead).
    const prefix = textTokens(system) + MESSAGE_OVERHEAD_TOKENS;
    const output = countWords(fakeReplyText("Can I still return my jacket?"));

    const writeId = session("cache-write");
    const first = await anthropic.messages.create(body, inSession(writeId));
    expect(first.usage).toMatchObject({
      input_tokens: total - prefix,
      cache_creation_input_tokens: prefix,
      cache_read_input_tokens: 0,
    });
    expect(await h.call(writeId)).toMatchObject({
      input_tokens: total,
      cache_write_tokens: prefix,
      cache_read_tokens: 0,
      output_tokens: output,
      cost_usd: expectedCost(SONNET_4_6, { input: total, cacheWrite: prefix, output }),
    });

    const readId = session("cache-read");
    const second = await anthropic.messages.create(body, inSession(readId));
    expect(second.usage).toMatchObject({ input_tokens: total - prefix, cache_read_input_tokens: prefix });
    expect(await h.call(readId)).toMatchObject({
      input_tokens: total,
      cache_read_tokens: prefix,
      cache_write_tokens: 0,
      cost_usd: expectedCost(SONNET_4_6, { input: total, cacheRead: prefix, output }),
    });
  });

  it("extended thinking, streamed: thinking tokens as reasoning, reasoning part in the output, TTFT", async () => {
    const id = session("thinking");
    const question = "Why is the sky blue at noon?";
    const body = {
      model: MODEL,
      max_tokens: 2048,
      thinking: { type: "enabled" as const, budget_tokens: 1024 },
      messages: [{ role: "user" as const, content: question }],
      stream: true as const,
    };
    const stream = await anthropic.messages.create(body, inSession(id));
    let thinking = "";
    let text = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "thinking_delta")
        thinking += event.delta.thinking;
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
    }
    expect(thinking).toBe(fakeThinkingText(question));
    expect(text).toBe(fakeReplyText(question));
    const thinkingTokens = countWords(thinking);
    const output = thinkingTokens + countWords(text);
    const input = anthropicInputTokens(body);

    const row = await h.call(id);
    expect(row).toMatchObject({
      input_tokens: input,
      output_tokens: output,
      reasoning_tokens: thinkingTokens,
      cost_usd: expectedCost(SONNET_4_6, { input, output }),
      streamed: 1,
      status: "ok",
      finish_reason: "end_turn",
      tokens_estimated: 0,
    });
    expect(Number(row["ttft_ms"])).toBeGreaterThan(0);
    expect(parseJson(row["request_params"])).toEqual({ max_tokens: 2048, stream: true, reasoning_level: "enabled" });
    expect(parseJson(row["output"])).toEqual([
      {
        role: "assistant",
        parts: [
          { type: "reasoning", content: thinking },
          { type: "text", content: text },
        ],
        finish_reason: "end_turn",
      },
    ]);
  });

  it("tool use, plain and through messages.stream().finalMessage(), then the tool result", async () => {
    const body = {
      model: MODEL,
      max_tokens: 512,
      tools: [WEATHER_TOOL],
      messages: [{ role: "user" as const, content: "What's the weather like in Lyon?" }],
    };
    const plainId = session("tool-use");
    const message = await anthropic.messages.create(body, inSession(plainId));
    expect(message.stop_reason).toBe("tool_use");
    let output = 0;
    const parts: unknown[] = [];
    for (const block of message.content) {
      if (block.type === "text") {
        output += countWords(block.text);
        parts.push({ type: "text", content: block.text });
      } else if (block.type === "tool_use") {
        output += toolCallTokens(block.name, JSON.stringify(block.input));
        parts.push({ type: "tool_call", id: block.id, name: block.name, arguments: block.input });
      }
    }
    const input = anthropicInputTokens(body);
    const row = await h.call(plainId);
    expect(row).toMatchObject({ input_tokens: input, output_tokens: output, finish_reason: "tool_use" });
    expect(parseJson(row["output"])).toEqual([{ role: "assistant", parts, finish_reason: "tool_use" }]);

    const streamId = session("tool-use-stream");
    const final = await anthropic.messages.stream(body, inSession(streamId)).finalMessage();
    const toolUse = final.content.find((b) => b.type === "tool_use");
    if (toolUse?.type !== "tool_use") throw new Error("expected a tool_use block");
    const streamed = await h.call(streamId);
    expect(streamed).toMatchObject({
      input_tokens: input,
      output_tokens: output,
      streamed: 1,
      finish_reason: "tool_use",
    });
    const streamedOut = parseJson(streamed["output"]) as { parts: Record<string, unknown>[] }[];
    expect(streamedOut[0]?.parts.at(-1)).toEqual({
      type: "tool_call",
      id: toolUse.id,
      name: "get_weather",
      arguments: toolUse.input,
    });

    const followId = session("tool-result");
    const followUp = {
      ...body,
      messages: [
        ...body.messages,
        { role: "assistant" as const, content: message.content },
        {
          role: "user" as const,
          content: [{ type: "tool_result" as const, tool_use_id: toolUse.id, content: "14 degrees, light rain" }],
        },
      ],
    };
    await anthropic.messages.create(followUp, inSession(followId));
    const follow = await h.call(followId);
    expect(follow).toMatchObject({ input_tokens: anthropicInputTokens(followUp), finish_reason: "end_turn" });
    const followInput = parseJson(follow["input"]) as { role: string; parts: unknown[] }[];
    expect(followInput.at(-1)).toEqual({
      role: "user",
      parts: [{ type: "tool_call_response", id: toolUse.id, response: "14 degrees, light rain" }],
    });
  });

  it("one call, one span: the client's own tracing is switched off for the calls the SDK records", async () => {
    // Recent clients emit their own span per API call when a tracer provider is registered (here
    // the SDK's); for an observed call it would be a second row of the same call.
    expect(await h.calls({ source: "otlp" })).toEqual([]);
    expect(await h.calls({ source: "sdk", provider: "anthropic" })).toHaveLength(7);
  });
});
