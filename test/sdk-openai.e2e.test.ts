/**
 * The official `openai` client, observed by the SDK, against the fake provider; the SDK exports
 * to a real collector and each test reads back the llm_calls row it stored, field by field.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  countWords,
  fakeReplyText,
  openaiChatPromptTokens,
  openaiCompletionPromptTokens,
  openaiResponsesInputTokens,
  reasoningTokensFor,
  textTokens,
  toolCallTokens,
} from "../collector/src/fake-provider/index.js";
import { TIME_TOOL, WEATHER_TOOL } from "../collector/src/fake-provider/test-tools.js";
import { observeOpenAI } from "../sdk/src/index.js";
import {
  expectedCost,
  type Harness,
  inSession,
  type Prices,
  parseJson,
  session,
  startHarness,
} from "../sdk/test/e2e-harness.js";

const GPT_4O_MINI: Prices = { input: 0.15, output: 0.6, cacheRead: 0.075 };
const O4_MINI: Prices = { input: 1.1, output: 4.4, cacheRead: 0.275 };
const EMBEDDING_3_SMALL: Prices = { input: 0.02, output: 0 };

let h: Harness;
let openai: OpenAI;

beforeAll(async () => {
  h = await startHarness();
  openai = observeOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: `${h.fake.url}/v1`, maxRetries: 0 }), {
    attributes: { team: "payments", project: "checkout" },
  });
});

afterAll(async () => {
  await h?.close();
});

function userText(text: string) {
  return [{ role: "user" as const, content: text }];
}

describe("chat.completions.create", () => {
  it("plain call: exact usage, cost, content, params and attribution; withResponse() still works", async () => {
    const id = session("chat");
    const body = {
      model: "gpt-4o-mini",
      temperature: 0.2,
      max_tokens: 200,
      messages: [
        { role: "system" as const, content: "You answer questions about orders." },
        { role: "user" as const, content: "Where is my order 4711?" },
      ],
    };
    const { data, response } = await openai.chat.completions
      .create(body, inSession(id, { "x-tokenmeter-feature": "order-status", "x-tokenmeter-tags": "tier=gold" }))
      .withResponse();
    expect(response.status).toBe(200);
    const reply = fakeReplyText("Where is my order 4711?");
    expect(data.choices[0]?.message.content).toBe(reply);
    const input = openaiChatPromptTokens(body);
    const output = countWords(reply);
    expect(data.usage).toMatchObject({ prompt_tokens: input, completion_tokens: output });
    // The attribution headers never reach the provider.
    const sent = h.fake.requests.at(-1);
    expect(Object.keys(sent?.headers ?? {}).filter((k) => k.startsWith("x-tokenmeter"))).toEqual([]);

    const row = await h.call(id);
    expect(row).toMatchObject({
      service: "sdk-e2e",
      environment: "test",
      team: "payments",
      project: "checkout",
      feature: "order-status",
      session_id: id,
      source: "sdk",
      convention: "otel_genai",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      response_id: data.id,
      input_tokens: input,
      output_tokens: output,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      cost_usd: expectedCost(GPT_4O_MINI, { input, output }),
      priced: 1,
      price_id: "openai/gpt-4o-mini@2024-07-18",
      streamed: 0,
      ttft_ms: null,
      status: "ok",
      error_type: "",
      finish_reason: "stop",
      tags: { tier: "gold" },
    });
    expect(row["trace_id"]).toMatch(/^[0-9a-f]{32}$/);
    expect(Number(row["duration_ms"])).toBeGreaterThan(0);
    expect(parseJson(row["request_params"])).toEqual({ temperature: 0.2, max_tokens: 200 });
    expect(parseJson(row["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "You answer questions about orders." }] },
      { role: "user", parts: [{ type: "text", content: "Where is my order 4711?" }] },
    ]);
    expect(parseJson(row["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: reply }], finish_reason: "stop" },
    ]);
  });

  it("streamed with stream_options.include_usage: usage chunk, TTFT, assembled output", async () => {
    const id = session("chat-stream");
    const body = {
      model: "gpt-4o-mini",
      stream: true as const,
      stream_options: { include_usage: true },
      messages: userText("Stream the delivery window for my parcel please"),
    };
    const stream = await openai.chat.completions.create(body, inSession(id));
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    const reply = fakeReplyText("Stream the delivery window for my parcel please");
    expect(text).toBe(reply);
    const input = openaiChatPromptTokens(body);
    const output = countWords(reply);
    expect(usage).toMatchObject({ prompt_tokens: input, completion_tokens: output });

    const row = await h.call(id);
    expect(row).toMatchObject({
      operation: "chat",
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: input,
      output_tokens: output,
      tokens_estimated: 0,
      cost_usd: expectedCost(GPT_4O_MINI, { input, output }),
      streamed: 1,
      status: "ok",
      finish_reason: "stop",
    });
    expect(Number(row["ttft_ms"])).toBeGreaterThan(0);
    expect(Number(row["ttft_ms"])).toBeLessThanOrEqual(Number(row["duration_ms"]));
    expect(parseJson(row["request_params"])).toEqual({ stream: true });
    expect(parseJson(row["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: reply }], finish_reason: "stop" },
    ]);
  });

  it("parallel tool calls, plain and streamed, and the tool results of the next turn", async () => {
    const tools = [WEATHER_TOOL, TIME_TOOL];
    const body = { model: "gpt-4o-mini", messages: userText("What is the weather in Paris right now?"), tools };

    const plainId = session("tools");
    const completion = await openai.chat.completions.create(body, inSession(plainId));
    const calls = completion.choices[0]?.message.tool_calls ?? [];
    expect(calls.map((c) => (c.type === "function" ? c.function.name : ""))).toEqual(["get_weather", "get_time"]);
    let output = 0;
    const expectedParts: unknown[] = [];
    for (const c of calls) {
      if (c.type !== "function") continue;
      output += toolCallTokens(c.function.name, c.function.arguments);
      expectedParts.push({
        type: "tool_call",
        id: c.id,
        name: c.function.name,
        arguments: JSON.parse(c.function.arguments),
      });
    }
    const input = openaiChatPromptTokens(body);
    const row = await h.call(plainId);
    expect(row).toMatchObject({ input_tokens: input, output_tokens: output, finish_reason: "tool_calls" });
    expect(parseJson(row["output"])).toEqual([
      { role: "assistant", parts: expectedParts, finish_reason: "tool_calls" },
    ]);

    const streamId = session("tools-stream");
    const stream = await openai.chat.completions.create(
      { ...body, stream: true, stream_options: { include_usage: true } },
      inSession(streamId),
    );
    const streamedIds: string[] = [];
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) if (tc.id) streamedIds.push(tc.id);
    }
    const streamed = await h.call(streamId);
    expect(streamed).toMatchObject({ input_tokens: input, output_tokens: output, finish_reason: "tool_calls" });
    const streamedOutput = parseJson(streamed["output"]) as {
      parts: { id: string; name: string; arguments: unknown }[];
    }[];
    expect(streamedOutput[0]?.parts.map((p) => [p.id, p.name, p.arguments])).toEqual(
      expectedParts.map((p, i) => {
        const part = p as { name: string; arguments: unknown };
        return [streamedIds[i], part.name, part.arguments];
      }),
    );

    const followId = session("tools-follow-up");
    const weatherCall = calls[0];
    if (weatherCall?.type !== "function") throw new Error("expected a function call");
    const followUp = {
      model: "gpt-4o-mini",
      tools,
      messages: [
        ...body.messages,
        { role: "assistant" as const, content: null, tool_calls: [weatherCall] },
        { role: "tool" as const, tool_call_id: weatherCall.id, content: "18 degrees and sunny" },
      ],
    };
    await openai.chat.completions.create(followUp, inSession(followId));
    const follow = await h.call(followId);
    expect(follow).toMatchObject({ input_tokens: openaiChatPromptTokens(followUp), finish_reason: "stop" });
    expect(parseJson(follow["input"])).toEqual([
      { role: "user", parts: [{ type: "text", content: "What is the weather in Paris right now?" }] },
      { role: "assistant", parts: [expectedParts[0]] },
      { role: "tool", parts: [{ type: "tool_call_response", id: weatherCall.id, response: "18 degrees and sunny" }] },
    ]);
  });

  it("n > 1: one output message per choice, usage of all choices", async () => {
    const id = session("n3");
    const body = { model: "gpt-4o-mini", n: 3, messages: userText("Give me three taglines") };
    const completion = await openai.chat.completions.create(body, inSession(id));
    expect(completion.choices).toHaveLength(3);
    const reply = fakeReplyText("Give me three taglines");
    const row = await h.call(id);
    expect(row).toMatchObject({
      input_tokens: openaiChatPromptTokens(body),
      output_tokens: 3 * countWords(reply),
      finish_reason: "stop",
    });
    expect(parseJson(row["request_params"])).toEqual({ choice_count: 3 });
    const message = { role: "assistant", parts: [{ type: "text", content: reply }], finish_reason: "stop" };
    expect(parseJson(row["output"])).toEqual([message, message, message]);
  });

  it("reasoning model with prompt caching: reasoning and cache-read tokens, priced apart", async () => {
    const id = session("reasoning");
    const body = { model: "o4-mini", reasoning_effort: "low" as const, messages: userText("Plan my week") };
    const completion = await openai.chat.completions.create(body, inSession(id, { "x-fake-scenario": "cache" }));
    const visible = countWords(fakeReplyText("Plan my week"));
    const reasoning = reasoningTokensFor(visible, "low");
    const input = openaiChatPromptTokens(body);
    const cacheRead = Math.floor(input / 2);
    expect(completion.usage?.completion_tokens_details?.reasoning_tokens).toBe(reasoning);

    const row = await h.call(id);
    expect(row).toMatchObject({
      request_model: "o4-mini",
      response_model: "o4-mini-2025-04-16",
      input_tokens: input,
      cache_read_tokens: cacheRead,
      output_tokens: visible + reasoning,
      reasoning_tokens: reasoning,
      cost_usd: expectedCost(O4_MINI, { input, cacheRead, output: visible + reasoning }),
      price_id: "openai/o4-mini@2025-04-16",
    });
    expect(parseJson(row["request_params"])).toEqual({ reasoning_level: "low" });
  });

  it("the stream helper: chat.completions.stream().finalChatCompletion()", async () => {
    const id = session("chat-helper");
    const runner = openai.chat.completions.stream(
      { model: "gpt-4o-mini", messages: userText("Use the helper"), stream_options: { include_usage: true } },
      inSession(id),
    );
    const final = await runner.finalChatCompletion();
    const reply = fakeReplyText("Use the helper");
    expect(final.choices[0]?.message.content).toBe(reply);
    const row = await h.call(id);
    expect(row).toMatchObject({ streamed: 1, status: "ok", output_tokens: countWords(reply), tokens_estimated: 0 });
  });

  it("asResponse() hands back the raw response; the call is recorded without reading its body", async () => {
    const id = session("raw");
    const raw = await openai.chat.completions
      .create({ model: "gpt-4o-mini", messages: userText("Raw please") }, inSession(id))
      .asResponse();
    const json = (await raw.json()) as { object: string };
    expect(json.object).toBe("chat.completion");
    const row = await h.call(id);
    expect(row).toMatchObject({ status: "ok", http_status: 200, request_model: "gpt-4o-mini", output: "" });
  });

  it("the redact hook rewrites captured text before it leaves the process; the call itself is untouched", async () => {
    const id = session("redact");
    const masked = observeOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: `${h.fake.url}/v1`, maxRetries: 0 }), {
      redact: (text) => text.replaceAll("4711", "[order-no]"),
    });
    const completion = await masked.chat.completions.create(
      { model: "gpt-4o-mini", messages: userText("Cancel order 4711 please") },
      inSession(id),
    );
    const reply = fakeReplyText("Cancel order 4711 please");
    expect(completion.choices[0]?.message.content).toBe(reply);
    const row = await h.call(id);
    expect(parseJson(row["input"])).toEqual([
      { role: "user", parts: [{ type: "text", content: "Cancel order [order-no] please" }] },
    ]);
    expect(parseJson(row["output"])).toEqual([
      {
        role: "assistant",
        parts: [{ type: "text", content: reply.replaceAll("4711", "[order-no]") }],
        finish_reason: "stop",
      },
    ]);
  });

  it("an inline image: the prompt keeps its kind and size, not megabytes of base64; a small one is kept", async () => {
    const id = session("image");
    const photo = Buffer.alloc(600_000, 7).toString("base64");
    const icon = Buffer.alloc(300, 9).toString("base64");
    await openai.chat.completions.create(
      {
        model: "gpt-4o-mini",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is in these pictures?" },
              { type: "image_url", image_url: { url: `data:image/png;base64,${photo}` } },
              { type: "image_url", image_url: { url: `data:image/gif;base64,${icon}` } },
            ],
          },
        ],
      },
      inSession(id),
    );
    const row = await h.call(id);
    expect(parseJson(row["input"])).toEqual([
      {
        role: "user",
        parts: [
          { type: "text", content: "What is in these pictures?" },
          { type: "blob", modality: "image", mime_type: "image/png", content: "", content_omitted_bytes: 600_000 },
          { type: "blob", modality: "image", mime_type: "image/gif", content: icon },
        ],
      },
    ]);
  });

  it("clients derived with withOptions() are observed with the same options", async () => {
    const id = session("with-options");
    await openai
      .withOptions({ timeout: 10_000 })
      .chat.completions.create({ model: "gpt-4o-mini", messages: userText("Derived client") }, inSession(id));
    const row = await h.call(id);
    expect(row).toMatchObject({ team: "payments", project: "checkout", status: "ok" });
  });
});

describe("responses.create", () => {
  it("plain: instructions as system instructions, exact usage", async () => {
    const id = session("responses");
    const body = { model: "gpt-4o-mini", instructions: "Be brief.", input: "Summarize my order status" };
    const response = await openai.responses.create(body, inSession(id));
    const reply = fakeReplyText("Summarize my order status");
    expect(response.output_text).toBe(reply);
    const input = openaiResponsesInputTokens(body);
    const output = countWords(reply);
    const row = await h.call(id);
    expect(row).toMatchObject({
      operation: "chat",
      response_id: response.id,
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: input,
      output_tokens: output,
      cost_usd: expectedCost(GPT_4O_MINI, { input, output }),
      streamed: 0,
      finish_reason: "stop",
    });
    expect(parseJson(row["input"])).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be brief." }] },
      { role: "user", parts: [{ type: "text", content: "Summarize my order status" }] },
    ]);
    expect(parseJson(row["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: reply }], finish_reason: "stop" },
    ]);
  });

  it("streamed: response events, usage from response.completed, TTFT", async () => {
    const id = session("responses-stream");
    const body = { model: "gpt-4o-mini", input: "Stream a short answer", stream: true as const };
    const stream = await openai.responses.create(body, inSession(id));
    const types = new Set<string>();
    let text = "";
    for await (const event of stream) {
      types.add(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    expect(types.has("response.completed")).toBe(true);
    const reply = fakeReplyText("Stream a short answer");
    expect(text).toBe(reply);
    const row = await h.call(id);
    expect(row).toMatchObject({
      input_tokens: openaiResponsesInputTokens(body),
      output_tokens: countWords(reply),
      streamed: 1,
      status: "ok",
      finish_reason: "stop",
      tokens_estimated: 0,
    });
    expect(Number(row["ttft_ms"])).toBeGreaterThan(0);
    expect(parseJson(row["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: reply }], finish_reason: "stop" },
    ]);
  });

  it("the stream helper: responses.stream().finalResponse()", async () => {
    const id = session("responses-helper");
    const stream = openai.responses.stream({ model: "gpt-4o-mini", input: "Helper answer" }, inSession(id));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(fakeReplyText("Helper answer"));
    const row = await h.call(id);
    expect(row).toMatchObject({ streamed: 1, status: "ok", output_tokens: countWords(final.output_text) });
  });
});

describe("embeddings.create and completions.create", () => {
  it("embeddings: input tokens only, priced, input recorded as text parts", async () => {
    const id = session("embeddings");
    const inputs = ["first document to embed", "second one"];
    const result = await openai.embeddings.create({ model: "text-embedding-3-small", input: inputs }, inSession(id));
    expect(result.data).toHaveLength(2);
    const input = textTokens(inputs[0] ?? "") + textTokens(inputs[1] ?? "");
    const row = await h.call(id);
    expect(row).toMatchObject({
      operation: "embeddings",
      request_model: "text-embedding-3-small",
      input_tokens: input,
      output_tokens: 0,
      tokens_estimated: 0,
      cost_usd: expectedCost(EMBEDDING_3_SMALL, { input, output: 0 }),
      priced: 1,
    });
    expect(parseJson(row["input"])).toEqual([
      { role: "user", parts: inputs.map((content) => ({ type: "text", content })) },
    ]);
  });

  it("legacy completions: text_completion, and an unpriced model stays unpriced (never $0)", async () => {
    const id = session("completions");
    const body = { model: "gpt-3.5-turbo-instruct", prompt: "Say this is a test", max_tokens: 20 };
    const completion = await openai.completions.create(body, inSession(id));
    const reply = fakeReplyText("Say this is a test");
    expect(completion.choices[0]?.text).toBe(reply);
    const row = await h.call(id);
    expect(row).toMatchObject({
      operation: "text_completion",
      input_tokens: openaiCompletionPromptTokens(body),
      output_tokens: countWords(reply),
      finish_reason: "stop",
      priced: 0,
      cost_usd: null,
    });
    expect(parseJson(row["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: reply }], finish_reason: "stop" },
    ]);
  });
});
