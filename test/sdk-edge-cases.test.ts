/**
 * Edge cases of the SDK's promise never to break the host call, in an app that set up
 * OpenTelemetry itself before `init` (the SDK attaches its exporter to the app's provider):
 * cancelled and teed streams, provider errors and network errors reaching the caller
 * unchanged, and instrumentation failures leaving the call exactly as it is without the SDK.
 */
import Anthropic from "@anthropic-ai/sdk";
import { trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  anthropicInputTokens,
  CHUNK_DELAY_HEADER,
  countWords,
  fakeReplyText,
  openaiChatPromptTokens,
  REPLY_WORDS_HEADER,
  SCENARIO_HEADER,
} from "../collector/src/fake-provider/index.js";
import { observeAnthropic, observeOpenAI } from "../sdk/src/index.js";
import { type Harness, inSession, parseJson, type Row, session, startHarness } from "../sdk/test/e2e-harness.js";
import { freePort } from "./helpers/net.js";

/** A span processor of the app's own setup that can be told to throw, as a buggy one would. */
class FaultyProcessor implements SpanProcessor {
  failOn: "nothing" | "start" | "end" = "nothing";
  onStart(): void {
    if (this.failOn === "start") throw new Error("faulty processor: onStart");
  }
  onEnd(): void {
    if (this.failOn === "end") throw new Error("faulty processor: onEnd");
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const appExporter = new InMemorySpanExporter();
const faulty = new FaultyProcessor();
let appProvider: NodeTracerProvider;
let h: Harness;
let openai: OpenAI;
let plainOpenAI: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  h = await startHarness({}, () => {
    appProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(appExporter), faulty] });
    appProvider.register();
  });
  const options = { apiKey: "sk-test", baseURL: `${h.fake.url}/v1`, maxRetries: 0 };
  openai = observeOpenAI(new OpenAI(options));
  plainOpenAI = new OpenAI(options);
  anthropic = observeAnthropic(new Anthropic({ apiKey: "sk-ant-test", baseURL: h.fake.url, maxRetries: 0 }));
});

afterAll(async () => {
  await h?.close();
  await appProvider?.shutdown();
});

beforeEach(() => {
  faulty.failOn = "nothing";
});

function sdkSpans(): ReadableSpan[] {
  return appExporter.getFinishedSpans().filter((s) => s.instrumentationScope.name === "@tokenmeter/sdk");
}

describe("an app with its own OpenTelemetry setup", () => {
  it("init attaches to the app's provider: spans reach the app's exporter and tokenmeter, GenAI spans only", async () => {
    expect(h.handle).toMatchObject({ mode: "attached", exporting: true });
    const id = session("attached");
    const tracer = trace.getTracer("app");
    const appSpanId = await tracer.startActiveSpan("handle-request", async (span) => {
      await openai.chat.completions.create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] },
        inSession(id),
      );
      span.end();
      return span.spanContext().spanId;
    });
    const row = await h.call(id);
    expect(row).toMatchObject({ source: "sdk", status: "ok", parent_span_id: appSpanId });
    expect(sdkSpans().some((s) => s.spanContext().spanId === row["span_id"])).toBe(true);
    // The app's own span went to the app's exporter, not to tokenmeter.
    const tree = await h.collector.app.inject({ method: "GET", url: `/api/v1/traces/${String(row["trace_id"])}` });
    const spans = (tree.json() as { spans: Row[] }).spans;
    expect(spans.map((s) => s["span_id"])).toEqual([row["span_id"]]);
  });
});

describe("streams", () => {
  it("stream-cancelled-mid-response", async () => {
    // OpenAI: the consumer breaks out after three content chunks of a slow stream.
    const openaiId = session("cancel-openai");
    const stream = await openai.chat.completions.create(
      { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "Tell me a long story" }] },
      inSession(openaiId, { [SCENARIO_HEADER]: "slow_stream", [CHUNK_DELAY_HEADER]: "5", [REPLY_WORDS_HEADER]: "40" }),
    );
    let received = "";
    let contentChunks = 0;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) {
        received += delta;
        if (++contentChunks === 3) break;
      }
    }
    expect(stream.controller.signal.aborted).toBe(true);
    const cancelled = await h.call(openaiId);
    expect(cancelled).toMatchObject({ status: "cancelled", error_type: "cancelled", streamed: 1 });
    expect(Number(cancelled["ttft_ms"])).toBeGreaterThan(0);
    // Only what the consumer received is recorded; no usage arrived, so the collector estimates.
    expect(parseJson(cancelled["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: received }] },
    ]);
    expect(cancelled["tokens_estimated"]).toBe(1);

    // Anthropic: the consumer aborts the request after the first text; message_start already
    // reported the input side, which is the usage seen so far.
    const anthropicId = session("cancel-anthropic");
    const body = {
      model: "claude-sonnet-4-6",
      max_tokens: 512,
      stream: true as const,
      messages: [{ role: "user" as const, content: "Write a poem about rivers" }],
    };
    const events = await anthropic.messages.create(
      body,
      inSession(anthropicId, {
        [SCENARIO_HEADER]: "slow_stream",
        [CHUNK_DELAY_HEADER]: "5",
        [REPLY_WORDS_HEADER]: "40",
      }),
    );
    let firstText = "";
    for await (const event of events) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
        firstText = event.delta.text;
        events.controller.abort();
      }
    }
    expect(firstText).not.toBe("");
    const aborted = await h.call(anthropicId);
    expect(aborted).toMatchObject({
      status: "cancelled",
      input_tokens: anthropicInputTokens(body),
      output_tokens: 1,
      tokens_estimated: 0,
      streamed: 1,
    });
    expect(parseJson(aborted["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: firstText }] },
    ]);
  });

  it("a stream aborted before anyone reads it is recorded as cancelled", async () => {
    const id = session("abort-unread");
    const stream = await openai.chat.completions.create(
      { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "Never mind" }] },
      inSession(id, { [SCENARIO_HEADER]: "slow_stream", [CHUNK_DELAY_HEADER]: "20" }),
    );
    stream.controller.abort();
    expect(await h.call(id)).toMatchObject({ status: "cancelled", streamed: 1, ttft_ms: null });
  });

  it("stream-teed-and-read-twice", async () => {
    const id = session("tee-openai");
    const body = {
      model: "gpt-4o-mini",
      stream: true as const,
      stream_options: { include_usage: true },
      messages: [{ role: "user" as const, content: "Split this stream in two" }],
    };
    const stream = await openai.chat.completions.create(body, inSession(id));
    const [left, right] = stream.tee();
    const read = async (s: AsyncIterable<OpenAI.ChatCompletionChunk>) => {
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of s) chunks.push(c);
      return chunks;
    };
    const first = await read(left);
    const second = await read(right);
    expect(second).toEqual(first);
    const reply = fakeReplyText("Split this stream in two");
    expect(first.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(reply);
    // One call, counted once, although its events were read twice.
    const row = await h.call(id);
    expect(row).toMatchObject({
      status: "ok",
      input_tokens: openaiChatPromptTokens(body),
      output_tokens: countWords(reply),
      tokens_estimated: 0,
    });
    expect(parseJson(row["output"])).toEqual([
      { role: "assistant", parts: [{ type: "text", content: reply }], finish_reason: "stop" },
    ]);

    // Anthropic branches read concurrently.
    const anthropicId = session("tee-anthropic");
    const events = await anthropic.messages.create(
      { model: "claude-sonnet-4-6", max_tokens: 64, stream: true, messages: [{ role: "user", content: "Tee me" }] },
      inSession(anthropicId),
    );
    const [a, b] = events.tee();
    const count = async (s: AsyncIterable<unknown>) => {
      let n = 0;
      for await (const _ of s) n++;
      return n;
    };
    const [na, nb] = await Promise.all([count(a), count(b)]);
    expect(na).toBe(nb);
    expect(await h.call(anthropicId)).toMatchObject({
      status: "ok",
      output_tokens: countWords(fakeReplyText("Tee me")),
    });
  });

  it("toReadableStream() still serializes every event, and the call completes", async () => {
    const id = session("readable");
    const stream = await openai.chat.completions.create(
      { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "As a web stream" }] },
      inSession(id),
    );
    const text = await new Response(stream.toReadableStream()).text();
    const events = text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as OpenAI.ChatCompletionChunk);
    expect(events.map((e) => e.choices[0]?.delta.content ?? "").join("")).toBe(fakeReplyText("As a web stream"));
    expect(await h.call(id)).toMatchObject({ status: "ok", finish_reason: "stop" });
  });
});

describe("errors reach the caller unchanged", () => {
  it("provider-429-rethrown-unchanged", async () => {
    const id = session("429");
    const body = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Too many requests" }] };
    const pending = openai.chat.completions.create(body, inSession(id, { [SCENARIO_HEADER]: "rate_limit" }));
    const err = await pending.catch((e: unknown) => e);
    // The very object the client's own response promise rejected with: nothing wrapped or replaced it.
    expect(await pending.asResponse().catch((e: unknown) => e)).toBe(err);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const plainErr = await plainOpenAI.chat.completions
      .create(body, { headers: { [SCENARIO_HEADER]: "rate_limit" } })
      .catch((e: unknown) => e);
    expect(Object.getPrototypeOf(err)).toBe(Object.getPrototypeOf(plainErr));
    const facts = (e: unknown) => {
      const x = e as InstanceType<typeof OpenAI.RateLimitError>;
      return [x.status, x.message, x.error, x.code, x.type, x.param, x.headers.get("retry-after")];
    };
    expect(facts(err)).toEqual(facts(plainErr));

    const row = await h.call(id);
    expect(row).toMatchObject({ status: "error", error_type: "RateLimitError", http_status: 429, output: "" });

    // Anthropic, on a streamed call: rejected before any event, same class, recorded the same way.
    const anthropicId = session("429-anthropic");
    const anthropicErr = await anthropic.messages
      .create(
        { model: "claude-sonnet-4-6", max_tokens: 64, stream: true, messages: [{ role: "user", content: "Again" }] },
        inSession(anthropicId, { [SCENARIO_HEADER]: "rate_limit" }),
      )
      .catch((e: unknown) => e);
    expect(anthropicErr).toBeInstanceOf(Anthropic.RateLimitError);
    expect(await h.call(anthropicId)).toMatchObject({
      status: "error",
      error_type: "RateLimitError",
      http_status: 429,
    });
  });

  it("network-error", async () => {
    // Nothing listens on the port any more: the connection is refused.
    const port = await freePort();
    const options = { apiKey: "sk-test", baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 };
    const offline = observeOpenAI(new OpenAI(options));
    const id = session("refused");
    const body = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Anyone there?" }] };
    const err = await offline.chat.completions.create(body, inSession(id)).catch((e: unknown) => e);
    const plainErr = await new OpenAI(options).chat.completions.create(body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(Object.getPrototypeOf(err)).toBe(Object.getPrototypeOf(plainErr));
    expect((err as Error).message).toBe((plainErr as Error).message);
    expect(await h.call(id)).toMatchObject({ status: "error", error_type: "APIConnectionError", http_status: 0 });

    // The connection drops halfway through a stream: the consumer gets the client's error, the
    // call is recorded as failed with what arrived before.
    const dropId = session("dropped");
    const stream = await openai.chat.completions.create(
      { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "Drop the line midway please" }] },
      inSession(dropId, { [SCENARIO_HEADER]: "disconnect_mid_stream", [REPLY_WORDS_HEADER]: "30" }),
    );
    let received = "";
    const streamErr = await (async () => {
      for await (const chunk of stream) received += chunk.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);
    // undici's fetch reports it as `TypeError: terminated`, caused by a socket error: the
    // cause's code says what happened.
    expect(streamErr).toBeInstanceOf(TypeError);
    expect((streamErr as Error & { cause?: { code?: unknown } }).cause?.code).toBe("UND_ERR_SOCKET");
    const dropped = await h.call(dropId);
    expect(dropped).toMatchObject({ status: "error", error_type: "UND_ERR_SOCKET", streamed: 1 });
    expect(parseJson(dropped["output"])).toEqual([{ role: "assistant", parts: [{ type: "text", content: received }] }]);
  });
});

describe("the SDK failing", () => {
  /** A completion without what legitimately differs between two calls (ids, timestamps). */
  function comparable(value: unknown): unknown {
    return JSON.parse(JSON.stringify(value), (key, v: unknown) =>
      key === "id" || key === "created" || key === "created_at" ? "<varies>" : v,
    );
  }

  async function both(body: OpenAI.ChatCompletionCreateParamsNonStreaming, client = openai) {
    const observed = await client.chat.completions.create(body);
    const plain = await plainOpenAI.chat.completions.create(body);
    return { observed: comparable(observed), plain: comparable(plain) };
  }

  async function bothStreamed(body: OpenAI.ChatCompletionCreateParamsStreaming) {
    const read = async (client: OpenAI) => {
      const chunks: unknown[] = [];
      for await (const c of await client.chat.completions.create(body)) chunks.push(c);
      return comparable(chunks);
    };
    return { observed: await read(openai), plain: await read(plainOpenAI) };
  }

  it("instrumentation-failure-leaves-call-untouched", async () => {
    const body = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Same answer, please" }] };
    const streamed = { ...body, stream: true as const, stream_options: { include_usage: true } };
    const spansBefore = sdkSpans().length;

    // The app's span processor throws when a span starts: the SDK cannot even open its span.
    faulty.failOn = "start";
    const atStart = await both(body);
    expect(atStart.observed).toEqual(atStart.plain);
    const streamAtStart = await bothStreamed(streamed);
    expect(streamAtStart.observed).toEqual(streamAtStart.plain);
    expect(sdkSpans().length).toBe(spansBefore);

    // ... or when a span ends, after the response has been recorded on it.
    faulty.failOn = "end";
    const atEnd = await both(body);
    expect(atEnd.observed).toEqual(atEnd.plain);
    const streamAtEnd = await bothStreamed(streamed);
    expect(streamAtEnd.observed).toEqual(streamAtEnd.plain);
    faulty.failOn = "nothing";

    // A redact hook that throws: the call is untouched and recorded, only without its content.
    const redactFails = observeOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: `${h.fake.url}/v1`, maxRetries: 0 }), {
      redact: () => {
        throw new Error("redactor bug");
      },
    });
    const id = session("redact-fails");
    const observed = await redactFails.chat.completions.create(body, inSession(id));
    const plain = await plainOpenAI.chat.completions.create(body);
    expect(comparable(observed)).toEqual(comparable(plain));
    const row = await h.call(id);
    expect(row).toMatchObject({
      status: "ok",
      input: "",
      output: "",
      input_tokens: openaiChatPromptTokens(body),
      output_tokens: countWords(fakeReplyText("Same answer, please")),
      tokens_estimated: 0,
    });
  });
});
