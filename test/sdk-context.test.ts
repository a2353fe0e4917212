/**
 * The SDK's context manager switches Node 20's async hooks on only when a context has to follow
 * `await`s: an app calling its model from the root context never pays a promise hook for the
 * SDK, export included, and withAttributes still carries attribution across awaits.
 */
import { executionAsyncId } from "node:async_hooks";
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { context, ROOT_CONTEXT, SpanStatusCode, trace } from "@opentelemetry/api";
import { hrTimeToMicroseconds } from "@opentelemetry/core";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeProvider, startFakeProvider } from "../collector/src/fake-provider/index.js";
import { init, type ObserveOptions, observeOpenAI, traceLLMCall, withAttributes } from "../sdk/src/index.js";

let fake: FakeProvider;
const exported = new InMemorySpanExporter();
let handle: ReturnType<typeof init>;

beforeAll(async () => {
  fake = await startFakeProvider();
  handle = init({ serviceName: "ctx-app", exporter: exported });
});

afterAll(async () => {
  await handle?.shutdown();
  await fake?.close();
});

/** Node tracks promises (a hook per promise) only while some async hook or storage is on. */
const promisesTracked = async () => (await Promise.resolve().then(() => executionAsyncId())) !== 0;

const manager = () => (context as unknown as { _getContextManager(): { tracking?: boolean } })._getContextManager();

/** An OpenAI client observed by the SDK, against the fake provider unless `baseURL` says otherwise. */
function observedClient(options?: ObserveOptions, baseURL = `${fake.url}/v1`): OpenAI {
  return observeOpenAI(new OpenAI({ apiKey: "sk-test", baseURL, maxRetries: 0 }), options);
}

/** One streamed chat call (usage included) with `prompt`, read to its end. */
async function streamToEnd(client: OpenAI, prompt: string): Promise<void> {
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: prompt }],
  });
  for await (const _ of stream);
}

describe("async context only when needed", () => {
  it("root-context-calls-and-their-export-leave-async-context-tracking-off", async () => {
    const client = observedClient();
    for (let i = 0; i < 3; i++) await streamToEnd(client, `Root call ${i}`);
    // The batch span processor exports inside a tracing-suppressed context.
    await handle.forceFlush();
    expect(exported.getFinishedSpans().filter((s) => s.name === "chat gpt-4o-mini")).toHaveLength(3);
    expect(await promisesTracked()).toBe(false);
    expect(manager().tracking).toBe(false);
    expect(context.active()).toBe(ROOT_CONTEXT);
  });

  it("withAttributes-switches-tracking-on-and-attribution-follows-awaits", async () => {
    expect(manager().tracking).toBe(false);
    const client = observedClient();
    const activeAfterAwait = await withAttributes({ team: "payments", user: "u-ctx" }, async () => {
      await sleep(5);
      await client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "In context" }],
      });
      return context.active() !== ROOT_CONTEXT;
    });
    expect(activeAfterAwait).toBe(true);
    expect(manager().tracking).toBe(true);
    expect(await promisesTracked()).toBe(true);
    await handle.forceFlush();
    const span = exported.getFinishedSpans().find((s) => s.attributes["tokenmeter.user"] === "u-ctx");
    expect(span?.attributes).toMatchObject({ "tokenmeter.team": "payments" });
  });
});

/** Wall-clock microseconds on the clock OpenTelemetry timestamps use. */
const nowMicros = () => (performance.timeOrigin + performance.now()) * 1000;

describe("spans of root-context calls open when the call ends", () => {
  it("a-root-call's-span-carries-the-call's-own-start-and-end-times", async () => {
    const client = observedClient();
    exported.reset();
    const before = nowMicros();
    await streamToEnd(client, "Timed call");
    const after = nowMicros();
    await handle.forceFlush();
    const [span] = exported.getFinishedSpans();
    const start = hrTimeToMicroseconds(span?.startTime ?? [0, 0]);
    const end = hrTimeToMicroseconds(span?.endTime ?? [0, 0]);
    // Opened after the answer, the span still starts before the request went out. The SDK pins
    // its spans to the wall clock with a millisecond correction (Date.now()), hence the margin;
    // the duration is one clock's difference, exact.
    expect(start).toBeGreaterThanOrEqual(before - 1000);
    expect(end).toBeLessThanOrEqual(after + 1000);
    expect(end).toBeGreaterThan(start);
    expect(end - start).toBeLessThanOrEqual(after - before);
    expect(hrTimeToMicroseconds(span?.duration ?? [0, 0])).toBeCloseTo(end - start, 0);
    const ttft = span?.attributes["gen_ai.response.time_to_first_chunk"];
    expect(typeof ttft === "number" && ttft > 0 && ttft * 1e6 <= end - start).toBe(true);
  });

  it("time-to-first-chunk-never-exceeds-the-span's-duration (a span opened at the call's start)", async () => {
    exported.reset();
    // Under withAttributes the span opens when the call starts; a first chunk that comes just
    // before the end makes the two figures as close as they get.
    await withAttributes({ feature: "ttft" }, async () => {
      for (let i = 0; i < 50; i++) {
        await traceLLMCall({ provider: "openai", model: "gpt-4o-mini" }, async (call) => {
          call.recordFirstChunk();
        });
      }
    });
    await handle.forceFlush();
    const spans = exported.getFinishedSpans().filter((s) => s.name === "chat gpt-4o-mini");
    expect(spans).toHaveLength(50);
    const over = spans.filter((span) => {
      const ttft = span.attributes["gen_ai.response.time_to_first_chunk"];
      return typeof ttft !== "number" || ttft * 1e6 > hrTimeToMicroseconds(span.duration);
    });
    expect(over).toHaveLength(0);
  });

  it("a-failed-root-call's-exception-is-timed-within-its-span", async () => {
    // Nothing listens on port 9 here: the connection is refused.
    const client = observedClient(undefined, "http://127.0.0.1:9/v1");
    exported.reset();
    await expect(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "No server" }] }),
    ).rejects.toThrow();
    await handle.forceFlush();
    const [span] = exported.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    const event = span?.events.find((e) => e.name === "exception");
    const at = hrTimeToMicroseconds(event?.time ?? [0, 0]);
    expect(at).toBeGreaterThanOrEqual(hrTimeToMicroseconds(span?.startTime ?? [0, 0]));
    expect(at).toBeLessThanOrEqual(hrTimeToMicroseconds(span?.endTime ?? [0, 0]));
  });
});

describe("content is serialized at export with the SDK's own provider", () => {
  it("what-the-app-changes-in-its-request-after-the-call-does-not-reach-the-recorded-prompt", async () => {
    const client = observedClient();
    exported.reset();
    const part = { type: "input_video", video: { url: "https://videos.example/a.mp4" } };
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: "user", content: [part] as unknown as OpenAI.ChatCompletionContentPart[] },
    ];
    await client.chat.completions.create({ model: "gpt-4o-mini", messages });
    // Both only happen after the call; the span is exported later still.
    part.video.url = "https://videos.example/changed.mp4";
    messages.push({ role: "user", content: "a later turn" });
    await handle.forceFlush();
    const [span] = exported.getFinishedSpans();
    expect(JSON.parse(String(span?.attributes["gen_ai.input.messages"]))).toEqual([
      { role: "user", parts: [{ type: "input_video", video: { url: "https://videos.example/a.mp4" } }] },
    ]);
  });

  it("a-redact-hook-failing-at-export-costs-only-that-content", async () => {
    const client = observedClient({
      redact: () => {
        throw new Error("redactor bug");
      },
    });
    exported.reset();
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Redact me" }],
    });
    expect(completion.choices[0]?.message.content).toBeTruthy();
    await handle.forceFlush();
    const [span] = exported.getFinishedSpans();
    expect(span?.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
    expect(span?.attributes["gen_ai.input.messages"]).toBeUndefined();
    expect(span?.attributes["gen_ai.output.messages"]).toBeUndefined();
  });
});

describe("spans of ended calls are written in batches", () => {
  it("an-ended-call's-span-is-written-on-the-next-turn-of-the-event-loop-without-a-flush", async () => {
    const client = observedClient();
    exported.reset();
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Batched" }] });
    await new Promise((resolve) => setImmediate(resolve));
    // The provider's own flush exports what its processor holds, and no more: the span is there.
    const provider = (
      trace.getTracerProvider() as unknown as { getDelegate(): { forceFlush(): Promise<void> } }
    ).getDelegate();
    await provider.forceFlush();
    expect(exported.getFinishedSpans().map((s) => s.name)).toEqual(["chat gpt-4o-mini"]);
  });

  it("forty-calls-ending-together-each-export-one-span-with-its-own-prompt", async () => {
    // More than two batches' worth (16) end in the same turns: none lost, none mixed up.
    const client = observedClient();
    exported.reset();
    await Promise.all(Array.from({ length: 40 }, (_, i) => streamToEnd(client, `Parallel call ${i}`)));
    await handle.forceFlush();
    const prompts = exported
      .getFinishedSpans()
      .map((s) => JSON.parse(String(s.attributes["gen_ai.input.messages"]))[0].parts[0].content as string);
    expect(prompts.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `Parallel call ${i}`).sort());
  });

  it("a-script-that-ends-without-flushing-still-exports-its-last-call", async () => {
    // A separate process: init, one call, no flush, no shutdown; the exporter prints what it gets.
    const sdk = fileURLToPath(new URL("../sdk/dist/index.js", import.meta.url));
    const script = `
      import OpenAI from "openai";
      import { init, observeOpenAI } from ${JSON.stringify(sdk)};
      init({ serviceName: "short-script", exporter: {
        export(spans, done) { for (const s of spans) console.log("exported " + s.name); done({ code: 0 }); },
        shutdown: async () => {}, forceFlush: async () => {},
      } });
      const client = observeOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: ${JSON.stringify(`${fake.url}/v1`)}, maxRetries: 0 }));
      await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Last words" }] });
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
    });
    expect(stdout.trim().split("\n")).toEqual(["exported chat gpt-4o-mini"]);
  });
});
