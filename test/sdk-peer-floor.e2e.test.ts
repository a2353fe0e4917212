/**
 * The oldest clients the SDK's peer ranges accept (`openai` >= 4.0.0, `@anthropic-ai/sdk` >=
 * 0.20.0, installed under aliases as dev dependencies), observed by the SDK against the fake
 * provider, into a real collector: each stored row must hold what the client itself received.
 * The other e2e suites run the current majors.
 */
import AnthropicFloor from "anthropic-sdk-v0.20.0";
import { VERSION as ANTHROPIC_VERSION } from "anthropic-sdk-v0.20.0/version";
import OpenAIFloor from "openai-v4.0.0";
import { VERSION as OPENAI_VERSION } from "openai-v4.0.0/version";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { observeAnthropic, observeOpenAI } from "../sdk/src/index.js";
import { type Harness, inSession, parseJson, session, startHarness } from "../sdk/test/e2e-harness.js";

/** Usage as OpenAI sends it; the 4.0.0 client's types predate the stream's usage chunk. */
interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

let h: Harness;
let openai: OpenAIFloor;
let anthropic: AnthropicFloor;

beforeAll(async () => {
  h = await startHarness({ team: "legacy" });
  openai = observeOpenAI(new OpenAIFloor({ apiKey: "sk-test", baseURL: `${h.fake.url}/v1`, maxRetries: 0 }));
  anthropic = observeAnthropic(new AnthropicFloor({ apiKey: "sk-ant-test", baseURL: h.fake.url, maxRetries: 0 }));
});

afterAll(async () => {
  await h?.close();
});

describe("openai 4.0.0", () => {
  it("is the version under test", () => {
    expect(OPENAI_VERSION).toBe("4.0.0");
  });

  it("chat completion: usage, cost, content and attribution as the client received them", async () => {
    const id = session("oa4-chat");
    const completion = await openai.chat.completions.create(
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "What is a peer dependency?" }] },
      inSession(id),
    );
    const usage = completion.usage as Usage;
    const choice = completion.choices[0];
    const row = await h.call(id);
    expect(row).toMatchObject({
      provider: "openai",
      operation: "chat",
      team: "legacy",
      request_model: "gpt-4o-mini",
      response_model: completion.model,
      response_id: completion.id,
      input_tokens: usage.prompt_tokens,
      output_tokens: usage.completion_tokens,
      streamed: 0,
      status: "ok",
      priced: 1,
    });
    expect(Number(row["cost_usd"])).toBeGreaterThan(0);
    expect(parseJson(row["output"])).toEqual([
      {
        role: "assistant",
        parts: [{ type: "text", content: choice?.message.content }],
        finish_reason: choice?.finish_reason,
      },
    ]);
  });

  it("streamed chat completion with include_usage: the usage chunk, TTFT and the text the consumer read", async () => {
    const id = session("oa4-stream");
    // stream_options came after 4.0.0: the client passes it through as a body field.
    const body = {
      model: "gpt-4o-mini",
      messages: [{ role: "user" as const, content: "Stream a short answer" }],
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const stream = await openai.chat.completions.create(body, inSession(id));
    let text = "";
    let usage: Usage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      const chunkUsage = (chunk as { usage?: Usage | null }).usage;
      if (chunkUsage) usage = chunkUsage;
    }
    expect(usage).toBeDefined();
    const row = await h.call(id);
    expect(row).toMatchObject({
      input_tokens: usage?.prompt_tokens,
      output_tokens: usage?.completion_tokens,
      streamed: 1,
      status: "ok",
      tokens_estimated: 0,
    });
    expect(Number(row["ttft_ms"])).toBeGreaterThan(0);
    expect(parseJson(row["output"])).toMatchObject([{ role: "assistant", parts: [{ type: "text", content: text }] }]);
  });

  it("embeddings", async () => {
    const id = session("oa4-embed");
    const result = await openai.embeddings.create({ model: "text-embedding-3-small", input: "floor" }, inSession(id));
    const row = await h.call(id);
    expect(row).toMatchObject({ operation: "embeddings", input_tokens: result.usage.prompt_tokens, status: "ok" });
  });
});

describe("@anthropic-ai/sdk 0.20.0", () => {
  it("is the version under test", () => {
    expect(ANTHROPIC_VERSION).toBe("0.20.0");
  });

  it("message: usage and content as the client received them", async () => {
    const id = session("an020-message");
    const message = await anthropic.messages.create(
      { model: "claude-sonnet-4-6", max_tokens: 200, messages: [{ role: "user", content: "Name a prime number" }] },
      inSession(id),
    );
    const row = await h.call(id);
    expect(row).toMatchObject({
      provider: "anthropic",
      operation: "chat",
      team: "legacy",
      response_id: message.id,
      input_tokens: message.usage.input_tokens,
      output_tokens: message.usage.output_tokens,
      finish_reason: message.stop_reason,
      streamed: 0,
      status: "ok",
      priced: 1,
    });
    expect(parseJson(row["output"])).toMatchObject([
      { role: "assistant", parts: [{ type: "text", content: message.content[0]?.text }] },
    ]);
  });

  it("stream: true and the messages.stream() helper: message_start and message_delta usage", async () => {
    const id = session("an020-stream");
    const stream = await anthropic.messages.create(
      { model: "claude-sonnet-4-6", max_tokens: 200, messages: [{ role: "user", content: "Stream it" }], stream: true },
      inSession(id),
    );
    let input = 0;
    let output = 0;
    for await (const event of stream) {
      if (event.type === "message_start") input = event.message.usage.input_tokens;
      if (event.type === "message_delta") output = event.usage.output_tokens;
    }
    expect(await h.call(id)).toMatchObject({ input_tokens: input, output_tokens: output, streamed: 1, status: "ok" });

    const helperId = session("an020-helper");
    const final = await anthropic.messages
      .stream(
        { model: "claude-sonnet-4-6", max_tokens: 200, messages: [{ role: "user", content: "Helper" }] },
        inSession(helperId),
      )
      .finalMessage();
    expect(await h.call(helperId)).toMatchObject({
      input_tokens: final.usage.input_tokens,
      output_tokens: final.usage.output_tokens,
      streamed: 1,
    });
  });
});
