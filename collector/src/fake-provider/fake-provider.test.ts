import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  anthropicInputTokens,
  countWords,
  type FakeProvider,
  fakeThinkingText,
  openaiChatPromptTokens,
  openaiResponsesInputTokens,
  REFUSAL_TEXT,
  SCENARIO_HEADER,
  startFakeProvider,
  textTokens,
  toolCallTokens,
} from "./index.js";
import { TIME_TOOL, WEATHER_TOOL } from "./test-tools.js";

let fake: FakeProvider;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  fake = await startFakeProvider();
  openai = new OpenAI({ apiKey: "sk-test-key", baseURL: `${fake.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: "sk-ant-test-key", baseURL: fake.url, maxRetries: 0 });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.reset();
});

const scenario = (name: string) => ({ headers: { [SCENARIO_HEADER]: name } });

/** Reads a raw SSE body into its frames (event name + parsed data). */
async function sseFrames(res: Response): Promise<{ event: string | undefined; data: string }[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((f) => f !== "")
    .map((frame) => {
      let event: string | undefined;
      let data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data = line.slice(6);
      }
      return { event, data };
    });
}

describe("OpenAI chat completions", () => {
  it("answers a plain request like the real API, with a dated response model and exact usage", async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "hello there" }] })
      .withResponse();
    // 4 per message + ceil(11 / 4) + 3 for the reply primer.
    const promptTokens = 4 + 3 + 3;
    expect(data).toEqual({
      id: expect.stringMatching(/^chatcmpl-[A-Za-z0-9]{29}$/),
      object: "chat.completion",
      created: expect.any(Number),
      model: "gpt-4o-2024-08-06",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Echo: hello there", refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: 3,
        total_tokens: promptTokens + 3,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      service_tier: "default",
      system_fingerprint: expect.stringMatching(/^fp_[0-9a-f]{10}$/),
    });
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    expect(Number(response.headers.get("openai-processing-ms"))).toBeGreaterThanOrEqual(0);
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("10000");
  });

  it("records what the upstream received, with credentials masked", async () => {
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    expect(fake.requests).toHaveLength(1);
    const [recorded] = fake.requests;
    expect(recorded).toMatchObject({
      method: "POST",
      path: "/v1/chat/completions",
      query: "",
      body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] },
      scenarios: [],
    });
    expect(recorded?.headers["authorization"]).toBe("[set]");
    expect(JSON.stringify(recorded)).not.toContain("sk-test-key");
  });

  it("streams word by word and ends with a usage chunk only when include_usage is set", async () => {
    const messages = [{ role: "user" as const, content: "stream this sentence please" }];
    const stream = await openai.chat.completions.create({
      model: "gpt-4o",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toMatchObject({ prompt_tokens: openaiChatPromptTokens({ messages }), completion_tokens: 5 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "", refusal: null });
    expect(chunks.at(-2)?.choices[0]).toMatchObject({ delta: {}, finish_reason: "stop" });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe("Echo: stream this sentence please");
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "gpt-4o-2024-08-06")).toBe(true);

    const plain = await openai.chat.completions.create({ model: "gpt-4o", messages, stream: true });
    const plainChunks = [];
    for await (const chunk of plain) plainChunks.push(chunk);
    expect(plainChunks.some((c) => "usage" in c)).toBe(false);
    expect(plainChunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
  });

  it("sends the real SSE framing: data lines, then [DONE]", async () => {
    const res = await fetch(`${fake.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const frames = await sseFrames(res);
    expect(frames.every((f) => f.event === undefined)).toBe(true);
    expect(frames.at(-1)?.data).toBe("[DONE]");
  });

  it("stream-no-usage-even-when-include-usage-requested (tokenizer fallback)", async () => {
    const stream = await openai.chat.completions.create(
      {
        model: "gpt-4o",
        messages: [{ role: "user", content: "x" }],
        stream: true,
        stream_options: { include_usage: true },
      },
      scenario("stream_no_usage"),
    );
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => c.usage != null)).toBe(false);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
  });

  it("returns parallel tool calls that the stream helper assembles", async () => {
    const stream = openai.chat.completions.stream({
      model: "gpt-4.1",
      messages: [{ role: "user", content: "What's the weather in Paris?" }],
      tools: [WEATHER_TOOL, TIME_TOOL],
      stream_options: { include_usage: true },
    });
    const completion = await stream.finalChatCompletion();
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBeNull();
    const calls = (choice?.message.tool_calls ?? []).map((c) =>
      c.type === "function" ? { id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) } : null,
    );
    expect(calls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        name: "get_weather",
        args: { location: "Paris, France", unit: "celsius" },
      },
      { id: expect.stringMatching(/^call_/), name: "get_time", args: { timezone: "example" } },
    ]);
    expect(calls[0]?.id).not.toBe(calls[1]?.id);
    const expected =
      toolCallTokens("get_weather", '{"location":"Paris, France","unit":"celsius"}') +
      toolCallTokens("get_time", '{"timezone":"example"}');
    expect(completion.usage?.completion_tokens).toBe(expected);
  });

  it("calls one tool when parallel_tool_calls is false, and answers after a tool result", async () => {
    const first = await openai.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "weather please" }],
      tools: [WEATHER_TOOL, TIME_TOOL],
      parallel_tool_calls: false,
    });
    const calls = first.choices[0]?.message.tool_calls ?? [];
    expect(calls).toHaveLength(1);
    const call = calls[0];
    if (call?.type !== "function") throw new Error("expected a function call");
    const second = await openai.chat.completions.create({
      model: "gpt-4o",
      messages: [
        { role: "user", content: "weather please" },
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", tool_call_id: call.id, content: "sunny, 21C" },
      ],
      tools: [WEATHER_TOOL, TIME_TOOL],
    });
    expect(second.choices[0]?.message.content).toBe("Echo: sunny, 21C");
    expect(second.choices[0]?.message.tool_calls).toBeUndefined();
    expect(second.choices[0]?.finish_reason).toBe("stop");
  });

  it("returns n choices and bills all of them", async () => {
    const res = await openai.chat.completions.create({
      model: "gpt-4o",
      n: 3,
      messages: [{ role: "user", content: "a b" }],
    });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(res.choices.every((c) => c.message.content === "Echo: a b")).toBe(true);
    expect(res.usage?.completion_tokens).toBe(9);
  });

  it("reports reasoning tokens for reasoning models, scaled by effort", async () => {
    const messages = [{ role: "user" as const, content: "think about this" }];
    const medium = await openai.chat.completions.create({ model: "o4-mini", messages });
    expect(medium.model).toBe("o4-mini-2025-04-16");
    expect(medium.usage?.completion_tokens_details?.reasoning_tokens).toBe(16);
    expect(medium.usage?.completion_tokens).toBe(4 + 16);
    const low = await openai.chat.completions.create({ model: "gpt-5", messages, reasoning_effort: "low" });
    expect(low.usage?.completion_tokens_details?.reasoning_tokens).toBe(8);
  });

  it("reports cached prompt tokens for long prompts and under the cache scenario", async () => {
    const messages = [{ role: "user" as const, content: "x".repeat(5000) }];
    const long = await openai.chat.completions.create({ model: "gpt-4o", messages });
    // 4 + 1250 + 3 = 1257 prompt tokens; cached in 128-token steps.
    expect(long.usage?.prompt_tokens).toBe(1257);
    expect(long.usage?.prompt_tokens_details?.cached_tokens).toBe(1152);
    const forced = await openai.chat.completions.create(
      { model: "gpt-4o", messages: [{ role: "user", content: "short" }] },
      scenario("cache"),
    );
    expect(forced.usage?.prompt_tokens_details?.cached_tokens).toBe(Math.floor(9 / 2));
  });

  it("cuts the answer at max_completion_tokens and under the length scenario", async () => {
    const capped = await openai.chat.completions.create({
      model: "gpt-4o",
      max_completion_tokens: 2,
      messages: [{ role: "user", content: "one two three four" }],
    });
    expect(capped.choices[0]).toMatchObject({ message: { content: "Echo: one" }, finish_reason: "length" });
    expect(capped.usage?.completion_tokens).toBe(2);
    const forced = await openai.chat.completions.create({
      model: "fake-length",
      messages: [{ role: "user", content: "one two three" }],
    });
    expect(forced.choices[0]).toMatchObject({ message: { content: "Echo: one" }, finish_reason: "length" });
  });

  it("answers with a refusal", async () => {
    const res = await openai.chat.completions.create(
      { model: "gpt-4o", messages: [{ role: "user", content: "x" }] },
      scenario("refusal"),
    );
    expect(res.choices[0]?.message).toMatchObject({ content: null, refusal: REFUSAL_TEXT });
    const stream = await openai.chat.completions.create(
      { model: "gpt-4o", messages: [{ role: "user", content: "x" }], stream: true },
      scenario("refusal"),
    );
    let refusal = "";
    for await (const chunk of stream) refusal += chunk.choices[0]?.delta.refusal ?? "";
    expect(refusal).toBe(REFUSAL_TEXT);
  });

  it("replies with N lorem words when asked", async () => {
    const res = await openai.chat.completions.create(
      { model: "gpt-4o", messages: [{ role: "user", content: "x" }] },
      { headers: { "x-fake-reply-words": "50" } },
    );
    expect(countWords(res.choices[0]?.message.content ?? "")).toBe(50);
    expect(res.usage?.completion_tokens).toBe(50);
  });
});

describe("OpenAI Responses", () => {
  it("streams the real event sequence that responses.stream() assembles", async () => {
    const input = "Summarize the plan";
    const stream = openai.responses.stream({ model: "gpt-4.1", input, instructions: "Be brief." });
    const types: string[] = [];
    const sequence: number[] = [];
    stream.on("event", (event) => {
      types.push(event.type);
      sequence.push(event.sequence_number);
    });
    const final = await stream.finalResponse();
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      // One delta per word of "Echo: Summarize the plan".
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(sequence).toEqual(types.map((_, i) => i));
    expect(final.id).toMatch(/^resp_/);
    expect(final.status).toBe("completed");
    expect(final.model).toBe("gpt-4.1-2025-04-14");
    expect(final.output_text).toBe("Echo: Summarize the plan");
    expect(final.output[0]).toMatchObject({
      type: "message",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: "Echo: Summarize the plan", annotations: [] }],
    });
    const inputTokens = openaiResponsesInputTokens({ input, instructions: "Be brief." });
    expect(inputTokens).toBe(4 + textTokens(input) + 4 + textTokens("Be brief.") + 3);
    expect(final.usage).toEqual({
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 4,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + 4,
    });
  });

  it("returns function_call items and a reasoning item for reasoning models", async () => {
    const res = await openai.responses.create({
      model: "o3",
      input: [{ role: "user", content: "What's the weather?" }],
      tools: [
        {
          type: "function",
          name: "get_weather",
          strict: true,
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      ],
    });
    expect(res.output.map((o) => o.type)).toEqual(["reasoning", "function_call"]);
    expect(res.output[1]).toMatchObject({
      type: "function_call",
      name: "get_weather",
      arguments: '{"city":"Paris, France"}',
      call_id: expect.stringMatching(/^call_/),
      status: "completed",
    });
    const visible = toolCallTokens("get_weather", '{"city":"Paris, France"}');
    expect(res.usage?.output_tokens_details.reasoning_tokens).toBe(visible * 4);

    const stream = openai.responses.stream({
      model: "gpt-4o",
      input: "weather?",
      tools: [{ type: "function", name: "get_weather", strict: false, parameters: { type: "object", properties: {} } }],
    });
    const final = await stream.finalResponse();
    expect(final.output[0]).toMatchObject({ type: "function_call", name: "get_weather", arguments: "{}" });
  });

  it("reports an incomplete response when cut by max_output_tokens", async () => {
    const res = await openai.responses.create({ model: "gpt-4o", input: "one two three four", max_output_tokens: 2 });
    expect(res.status).toBe("incomplete");
    expect(res.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(res.usage?.output_tokens).toBe(2);
  });
});

describe("OpenAI embeddings, completions and models", () => {
  it("returns base64 float32 vectors the SDK decodes to the same floats", async () => {
    const decoded = await openai.embeddings.create({ model: "text-embedding-3-small", input: ["alpha", "beta"] });
    expect(fake.requests.at(-1)?.body).toMatchObject({ encoding_format: "base64" });
    const floats = await openai.embeddings.create({
      model: "text-embedding-3-small",
      input: ["alpha", "beta"],
      encoding_format: "float",
    });
    expect(decoded.data).toHaveLength(2);
    expect(decoded.data[0]?.embedding).toHaveLength(8);
    expect(decoded.data[0]?.embedding).toEqual(floats.data[0]?.embedding);
    expect(decoded.data[0]?.embedding).not.toEqual(decoded.data[1]?.embedding);
    const norm = Math.hypot(...(floats.data[0]?.embedding ?? []));
    expect(norm).toBeCloseTo(1, 5);
    // ceil(5 / 4) + ceil(4 / 4)
    expect(decoded.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(decoded.model).toBe("text-embedding-3-small");
    const wide = await openai.embeddings.create({ model: "text-embedding-3-large", input: "x", dimensions: 32 });
    expect(wide.data[0]?.embedding).toHaveLength(32);
  });

  it("serves legacy completions, plain and streamed", async () => {
    const res = await openai.completions.create({ model: "gpt-3.5-turbo-instruct", prompt: "Say hi" });
    expect(res).toMatchObject({
      object: "text_completion",
      choices: [{ text: "Echo: Say hi", index: 0, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 },
    });
    const stream = await openai.completions.create({
      model: "gpt-3.5-turbo-instruct",
      prompt: "Say hi",
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("Echo: Say hi");
    expect(usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it("lists models", async () => {
    const ids: string[] = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    expect(ids).toContain("gpt-4o");
    expect(ids).toContain("text-embedding-3-small");
  });
});

describe("Anthropic messages", () => {
  const SYSTEM = "You are a meticulous assistant. ".repeat(12).trim();

  it("answers a plain request with Anthropic usage fields", async () => {
    const { data, response } = await anthropic.messages
      .create({ model: "claude-haiku-4-5", max_tokens: 256, messages: [{ role: "user", content: "Hi there" }] })
      .withResponse();
    expect(data).toEqual({
      model: "claude-haiku-4-5",
      id: expect.stringMatching(/^msg_01[A-Za-z0-9]{22}$/),
      type: "message",
      role: "assistant",
      content: [{ type: "text", text: "Echo: Hi there" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      stop_details: null,
      container: null,
      usage: {
        input_tokens: 4 + 2 + 3,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        output_tokens: 3,
        output_tokens_details: null,
        server_tool_use: null,
        service_tier: "standard",
        inference_geo: "global",
      },
    });
    expect(response.headers.get("request-id")).toMatch(/^req_011C/);
    expect(response.headers.get("anthropic-ratelimit-requests-limit")).toBe("4000");
    // Depending on its version the SDK sends the key as x-api-key or as a bearer token.
    const headers = fake.requests.at(-1)?.headers ?? {};
    expect(headers["x-api-key"] ?? headers["authorization"]).toBe("[set]");
    expect(JSON.stringify(fake.requests)).not.toContain("sk-ant-test-key");
  });

  it("writes the cache on the first request and reads it afterwards; input_tokens excludes both", async () => {
    const system = [{ type: "text" as const, text: SYSTEM, cache_control: { type: "ephemeral" as const } }];
    const first = await anthropic.messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 256,
      system,
      messages: [{ role: "user", content: "Hi there" }],
    });
    const systemTokens = 4 + textTokens(SYSTEM);
    const total = anthropicInputTokens({ system, messages: [{ role: "user", content: "Hi there" }] });
    expect(total).toBe(systemTokens + 6 + 3);
    expect(first.usage).toMatchObject({
      input_tokens: total - systemTokens,
      cache_creation_input_tokens: systemTokens,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: systemTokens, ephemeral_1h_input_tokens: 0 },
    });
    const second = await anthropic.messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 256,
      system,
      messages: [{ role: "user", content: "Hi there" }],
    });
    expect(second.usage).toMatchObject({
      input_tokens: total - systemTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: systemTokens,
    });

    // A later turn moves a second breakpoint forward: the old prefix is read, only the new part written.
    const third = await anthropic.messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 256,
      system,
      messages: [
        { role: "user", content: "Hi there" },
        { role: "assistant", content: "Echo: Hi there" },
        {
          role: "user",
          content: [{ type: "text", text: "And now?", cache_control: { type: "ephemeral", ttl: "1h" } }],
        },
      ],
    });
    const newPart = 6 + (4 + 4) + (4 + 2);
    expect(third.usage).toMatchObject({
      input_tokens: 3,
      cache_read_input_tokens: systemTokens,
      cache_creation_input_tokens: newPart,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: newPart },
    });
  });

  it("streams the real event sequence that messages.stream() assembles, thinking included", async () => {
    const prompt = "Tell me a joke";
    const stream = anthropic.messages.stream({
      model: "claude-sonnet-4-6",
      max_tokens: 1024,
      thinking: { type: "enabled", budget_tokens: 512 },
      messages: [{ role: "user", content: prompt }],
    });
    const types: string[] = [];
    stream.on("streamEvent", (event) => {
      types.push(event.type === "content_block_delta" ? `delta:${event.delta.type}` : event.type);
    });
    const message = await stream.finalMessage();
    const thinking = fakeThinkingText(prompt);
    const thinkingWords = countWords(thinking);
    expect(types[0]).toBe("message_start");
    expect(types.slice(1, 3)).toEqual(["content_block_start", "delta:thinking_delta"]);
    expect(types).toContain("delta:signature_delta");
    expect(types).toContain("delta:text_delta");
    expect(types.slice(-2)).toEqual(["message_delta", "message_stop"]);
    expect(message.content).toEqual([
      { type: "thinking", thinking, signature: expect.any(String) },
      { type: "text", text: "Echo: Tell me a joke" },
    ]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({
      input_tokens: 4 + textTokens(prompt) + 3,
      output_tokens: thinkingWords + 5,
      output_tokens_details: { thinking_tokens: thinkingWords },
    });
  });

  it("sends ping after the first content_block_start and repeats input usage in message_delta", async () => {
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "k" },
      body: JSON.stringify({
        model: "claude-haiku-4-5",
        max_tokens: 64,
        stream: true,
        messages: [{ role: "user", content: "Hi" }],
      }),
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const frames = await sseFrames(res);
    expect(frames.map((f) => f.event)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(frames.every((f) => (JSON.parse(f.data) as { type: string }).type === f.event)).toBe(true);
    const start = JSON.parse(frames[0]?.data ?? "{}") as { message: { usage: Record<string, unknown> } };
    expect(start.message.usage).toMatchObject({ input_tokens: 8, output_tokens: 1, cache_read_input_tokens: 0 });
    const delta = JSON.parse(frames[6]?.data ?? "{}") as Record<string, unknown>;
    expect(delta).toMatchObject({
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { input_tokens: 8, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 2 },
    });
  });

  it("calls tools in parallel, streaming input_json_delta pieces", async () => {
    const stream = anthropic.messages.stream({
      model: "claude-haiku-4-5",
      max_tokens: 512,
      tools: [
        {
          name: "get_weather",
          input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
        { name: "get_time", input_schema: { type: "object", properties: { tz: { type: "string" } } } },
      ],
      messages: [{ role: "user", content: "What's the weather like?" }],
    });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content.map((b) => b.type)).toEqual(["text", "tool_use", "tool_use"]);
    expect(message.content[1]).toMatchObject({ name: "get_weather", input: { city: "Paris, France" } });
    expect(message.content[2]).toMatchObject({ name: "get_time", input: { tz: "example" } });
    const toolUse = message.content[1];
    if (toolUse?.type !== "tool_use") throw new Error("expected tool_use");
    expect(toolUse.id).toMatch(/^toolu_01/);

    const answer = await anthropic.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 512,
      messages: [
        { role: "user", content: "What's the weather like?" },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: toolUse.id, name: "get_weather", input: toolUse.input }],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "Sunny" }] },
      ],
    });
    expect(answer.stop_reason).toBe("end_turn");
    expect(answer.content).toEqual([{ type: "text", text: "Echo: Sunny" }]);
  });

  it("stops at max_tokens and refuses on request", async () => {
    const capped = await anthropic.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 2,
      messages: [{ role: "user", content: "one two three" }],
    });
    expect(capped.stop_reason).toBe("max_tokens");
    expect(capped.content).toEqual([{ type: "text", text: "Echo: one" }]);
    expect(capped.usage.output_tokens).toBe(2);

    const refused = await anthropic.messages.create(
      { model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "x" }] },
      scenario("refusal"),
    );
    expect(refused.stop_reason).toBe("refusal");
    expect(refused.stop_details).toEqual({ type: "refusal", category: null, explanation: null });
  });

  it("counts tokens and lists models", async () => {
    const body = { model: "claude-haiku-4-5", messages: [{ role: "user" as const, content: "count me" }] };
    const counted = await anthropic.messages.countTokens(body);
    expect(counted.input_tokens).toBe(anthropicInputTokens(body));
    const page = await anthropic.models.list();
    expect(page.data[0]).toMatchObject({ type: "model", id: expect.stringMatching(/^claude-/) });
  });
});

describe("error and timing scenarios", () => {
  it("surfaces OpenAI errors as the SDK's typed errors, by header or model name", async () => {
    const byModel = openai.chat.completions.create({
      model: "fake-error-429",
      messages: [{ role: "user", content: "x" }],
    });
    await expect(byModel).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(byModel).rejects.toMatchObject({ status: 429, code: "rate_limit_exceeded" });
    const raw = await fetch(`${fake.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", [SCENARIO_HEADER]: "rate_limit" },
      body: JSON.stringify({ model: "gpt-4o", messages: [] }),
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get("retry-after")).toBe("1");
    expect(raw.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(await raw.json()).toMatchObject({ error: { type: "requests", param: null, code: "rate_limit_exceeded" } });

    const cases: [string, unknown, number][] = [
      ["auth", OpenAI.AuthenticationError, 401],
      ["bad_request", OpenAI.BadRequestError, 400],
      ["server_error", OpenAI.InternalServerError, 500],
      ["overloaded", OpenAI.InternalServerError, 503],
    ];
    for (const [name, type, status] of cases) {
      const call = openai.embeddings.create({ model: "text-embedding-3-small", input: "x" }, scenario(name));
      await expect(call).rejects.toBeInstanceOf(type as typeof OpenAI.APIError);
      await expect(call).rejects.toMatchObject({ status });
    }
  });

  it("surfaces Anthropic errors as the SDK's typed errors with request ids", async () => {
    const limited = anthropic.messages.create(
      { model: "claude-haiku-4-5", max_tokens: 8, messages: [{ role: "user", content: "x" }] },
      scenario("rate_limit"),
    );
    await expect(limited).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    await expect(limited).rejects.toMatchObject({
      status: 429,
      requestID: expect.stringMatching(/^req_011C/),
      error: { type: "error", error: { type: "rate_limit_error" } },
    });
    const overloaded = anthropic.messages.create({
      model: "fake-error-529",
      max_tokens: 8,
      messages: [{ role: "user", content: "x" }],
    });
    await expect(overloaded).rejects.toBeInstanceOf(Anthropic.OverloadedError);
    await expect(overloaded).rejects.toMatchObject({ status: 529 });
    const auth = anthropic.messages.create(
      { model: "claude-haiku-4-5", max_tokens: 8, messages: [{ role: "user", content: "x" }] },
      scenario("auth"),
    );
    await expect(auth).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const missing = anthropic.messages.create({ model: "claude-haiku-4-5", messages: [] } as unknown as {
      model: string;
      max_tokens: number;
      messages: [];
    });
    await expect(missing).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });

  it("rejects an unknown scenario name instead of silently succeeding", async () => {
    const call = openai.chat.completions.create(
      { model: "gpt-4o", messages: [{ role: "user", content: "x" }] },
      scenario("rate-limitt"),
    );
    await expect(call).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it("stream-cut-mid-response makes SDK iteration throw", async () => {
    const stream = await openai.chat.completions.create(
      { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "one two three four five six" }] },
      scenario("disconnect_mid_stream"),
    );
    const received: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
      })(),
    ).rejects.toThrow();
    expect(received.length).toBeGreaterThan(0);

    const anthropicStream = anthropic.messages.stream(
      { model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "one two three four" }] },
      scenario("disconnect_mid_stream"),
    );
    await expect(anthropicStream.finalMessage()).rejects.toThrow();
  });

  it("sends the provider's in-stream error event", async () => {
    const stream = await openai.chat.completions.create(
      { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "one two three four" }] },
      scenario("error_mid_stream"),
    );
    await expect(
      (async () => {
        for await (const _ of stream) {
          // drain
        }
      })(),
    ).rejects.toBeInstanceOf(OpenAI.APIError);
    const anthropicStream = anthropic.messages.stream(
      { model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "one two three four" }] },
      scenario("error_mid_stream"),
    );
    await expect(anthropicStream.finalMessage()).rejects.toMatchObject({
      error: { type: "error", error: { type: "overloaded_error" } },
    });
  });

  it("delays headers (slow) and paces chunks (slow_stream)", async () => {
    let started = performance.now();
    await openai.chat.completions.create(
      { model: "gpt-4o", messages: [{ role: "user", content: "x" }] },
      { headers: { [SCENARIO_HEADER]: "slow", "x-fake-delay-ms": "150" } },
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);

    started = performance.now();
    const stream = await openai.chat.completions.create(
      { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "a b c" }] },
      { headers: { [SCENARIO_HEADER]: "slow_stream", "x-fake-chunk-delay-ms": "30" } },
    );
    const arrivals: number[] = [];
    for await (const _ of stream) arrivals.push(performance.now() - started);
    // role + 4 words + finish chunk + [DONE], 30 ms apart.
    expect(arrivals).toHaveLength(6);
    expect((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(100);
  });

  it("hangs until the client times out, and close() still returns", async () => {
    const own = await startFakeProvider({ maxRecordedRequests: 2 });
    const client = new OpenAI({ apiKey: "k", baseURL: `${own.url}/v1`, maxRetries: 0, timeout: 200 });
    const call = client.chat.completions.create({ model: "fake-hang", messages: [{ role: "user", content: "x" }] });
    await expect(call).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    // A second hung request is still open when the server closes.
    void fetch(`${own.url}/v1/chat/completions`, {
      method: "POST",
      headers: { [SCENARIO_HEADER]: "hang" },
      body: "{}",
    }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.models.list();
    expect(own.requests).toHaveLength(2);
    expect(own.requests.map((r) => r.path)).toEqual(["/v1/chat/completions", "/v1/models"]);
    await own.close();
  });
});
