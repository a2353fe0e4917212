/**
 * Attribution and everything around a call: withAttributes across async boundaries, W3C baggage
 * carrying it to a second service, scores recorded later from elsewhere, traceLLMCall for other
 * clients, and `captureContent: false` (set for this whole file).
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import Anthropic from "@anthropic-ai/sdk";
import { context, propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  anthropicInputTokens,
  countWords,
  fakeReplyText,
  openaiChatPromptTokens,
} from "../collector/src/fake-provider/index.js";
import { observeAnthropic, observeOpenAI, recordScore, traceLLMCall, withAttributes } from "../sdk/src/index.js";
import { expectedCost, type Harness, inSession, type Row, session, startHarness } from "../sdk/test/e2e-harness.js";

let h: Harness;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  h = await startHarness({ team: "platform", captureContent: false });
  openai = observeOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: `${h.fake.url}/v1`, maxRetries: 0 }));
  anthropic = observeAnthropic(new Anthropic({ apiKey: "sk-ant-test", baseURL: h.fake.url, maxRetries: 0 }));
});

afterAll(async () => {
  await h?.close();
});

const ask = (text: string) => ({ model: "gpt-4o-mini", messages: [{ role: "user" as const, content: text }] });

describe("withAttributes", () => {
  it("follows the call across awaits, timers and callbacks; nested scopes merge; init's team is the default", async () => {
    const outside = session("outside");
    const afterTimer = session("after-timer");
    const nested = session("nested");
    await openai.chat.completions.create(ask("outside any scope"), inSession(outside));
    await withAttributes({ team: "growth", feature: "onboarding", tags: { plan: "pro" } }, async () => {
      await sleep(5);
      await new Promise<void>((resolve, reject) => {
        setTimeout(() => {
          openai.chat.completions
            .create(ask("from a timer callback"), inSession(afterTimer))
            .then(() => resolve(), reject);
        }, 1);
      });
      await withAttributes({ feature: "welcome-email", user: "user-42", tags: { locale: "fr" } }, () =>
        openai.chat.completions.create(ask("nested scope"), inSession(nested)),
      );
    });

    expect(await h.call(outside)).toMatchObject({ team: "platform", feature: "", user_id: "", tags: {} });
    expect(await h.call(afterTimer)).toMatchObject({ team: "growth", feature: "onboarding", tags: { plan: "pro" } });
    expect(await h.call(nested)).toMatchObject({
      team: "growth",
      feature: "welcome-email",
      user_id: "user-42",
      tags: { plan: "pro", locale: "fr" },
    });
  });

  it("travels as W3C baggage to a second service, whose calls carry it and join the trace", async () => {
    const id = session("service-b");
    // Service B: a plain HTTP server that restores the incoming trace context and baggage.
    let seenHeaders: IncomingHttpHeaders = {};
    const serviceB: Server = createServer((req, res) => {
      seenHeaders = req.headers;
      const incoming = propagation.extract(ROOT_CONTEXT, req.headers);
      context
        .with(incoming, () =>
          anthropic.messages.create({
            model: "claude-sonnet-4-6",
            max_tokens: 64,
            messages: [{ role: "user", content: "Called from service A" }],
          }),
        )
        .then(
          () => res.end("done"),
          () => res.writeHead(500).end(),
        );
    });
    await new Promise<void>((resolve) => serviceB.listen(0, "127.0.0.1", resolve));
    const port = (serviceB.address() as AddressInfo).port;

    // Service A: inside its own span and attribution scope, calls B with the propagated headers.
    const tracer = trace.getTracer("service-a");
    const parent = await withAttributes(
      { team: "search", project: "ranking", user: "u-7", session: id, tags: { experiment: "b" } },
      () =>
        tracer.startActiveSpan("call-service-b", async (span) => {
          const headers: Record<string, string> = {};
          propagation.inject(context.active(), headers);
          const res = await fetch(`http://127.0.0.1:${port}/`, { headers });
          expect(await res.text()).toBe("done");
          span.end();
          return span.spanContext();
        }),
    );
    await new Promise<void>((resolve) => serviceB.close(() => resolve()));

    expect(String(seenHeaders["baggage"])).toContain("tokenmeter.team=search");
    const row = await h.call(id);
    expect(row).toMatchObject({
      trace_id: parent.traceId,
      parent_span_id: parent.spanId,
      provider: "anthropic",
      team: "search",
      project: "ranking",
      user_id: "u-7",
      session_id: id,
      tags: { experiment: "b" },
      input_tokens: anthropicInputTokens({
        model: "claude-sonnet-4-6",
        max_tokens: 64,
        messages: [{ role: "user", content: "Called from service A" }],
      }),
    });
  });
});

describe("recordScore", () => {
  async function scoresOf(traceId: string): Promise<Row[]> {
    const res = await h.collector.app.inject({ method: "GET", url: `/api/v1/traces/${traceId}` });
    expect(res.statusCode).toBe(200);
    return (res.json() as { scores: Row[] }).scores;
  }

  it("attaches a score from another process-like context, with only the ids of the call", async () => {
    const id = session("scored");
    await openai.chat.completions.create(ask("Rate this answer"), inSession(id));
    const call = await h.call(id);
    // What a feedback endpoint elsewhere would receive: two strings, no context, no init.
    const ids = JSON.parse(JSON.stringify({ traceId: call["trace_id"], spanId: call["span_id"] })) as {
      traceId: string;
      spanId: string;
    };
    const result = await context.with(ROOT_CONTEXT, () =>
      recordScore(
        { ...ids, name: "user_feedback", value: 1, label: "thumbs_up", comment: "exactly right" },
        { endpoint: h.url },
      ),
    );
    expect(result).toMatchObject({ ok: true });
    const scores = await scoresOf(ids.traceId);
    expect(scores).toEqual([
      expect.objectContaining({
        trace_id: ids.traceId,
        span_id: ids.spanId,
        name: "user_feedback",
        value: 1,
        label: "thumbs_up",
        comment: "exactly right",
        source: "sdk",
      }),
    ]);
  });

  it("defaults to the active span, and never throws: bad input and an unreachable collector are results", async () => {
    const spanContext = await traceLLMCall({ provider: "openai", model: "gpt-4o-mini" }, async (call) => {
      expect(await recordScore({ name: "auto_eval", value: 0.5 })).toMatchObject({ ok: true });
      return call.spanContext();
    });
    const scores = await scoresOf(spanContext.traceId);
    expect(scores).toEqual([expect.objectContaining({ span_id: spanContext.spanId, name: "auto_eval", value: 0.5 })]);

    expect(await recordScore({ name: "no_trace", value: 1 })).toMatchObject({ ok: false });
    expect(await recordScore({ traceId: spanContext.traceId, name: "empty" })).toMatchObject({ ok: false });
    expect(
      await recordScore({ traceId: spanContext.traceId, name: "x".repeat(300), value: 1 }, { endpoint: h.url }),
    ).toMatchObject({ ok: false, status: 400 });
    expect(
      await recordScore(
        { traceId: spanContext.traceId, name: "offline", value: 1 },
        { endpoint: "http://127.0.0.1:9", timeoutMs: 2000 },
      ),
    ).toMatchObject({ ok: false });
  });
});

describe("traceLLMCall", () => {
  it("records a call made with any other client, and rethrows its errors unchanged", async () => {
    const id = session("custom-client");
    const body = ask("Raw HTTP call");
    const reply = await traceLLMCall(
      { provider: "openai", model: "gpt-4o-mini", attributes: { session: id, feature: "raw-http" } },
      async (call) => {
        const res = await fetch(`${h.fake.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer sk-test" },
          body: JSON.stringify(body),
        });
        const json = (await res.json()) as OpenAI.ChatCompletion;
        call.setUsage({ inputTokens: json.usage?.prompt_tokens, outputTokens: json.usage?.completion_tokens });
        call.setResponse({ id: json.id, model: json.model, finishReasons: ["stop"] });
        call.setInput([{ role: "user", content: "Raw HTTP call" }]);
        return json.choices[0]?.message.content;
      },
    );
    expect(reply).toBe(fakeReplyText("Raw HTTP call"));
    const input = openaiChatPromptTokens(body);
    const output = countWords(fakeReplyText("Raw HTTP call"));
    expect(await h.call(id)).toMatchObject({
      provider: "openai",
      operation: "chat",
      feature: "raw-http",
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: input,
      output_tokens: output,
      cost_usd: expectedCost({ input: 0.15, output: 0.6 }, { input, output }),
      finish_reason: "stop",
      status: "ok",
      input: "",
    });

    const failedId = session("custom-client-error");
    const boom = new Error("client exploded");
    await expect(
      traceLLMCall({ provider: "ollama", model: "llama3.1", attributes: { session: failedId } }, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await h.call(failedId)).toMatchObject({
      status: "error",
      error_type: "Error",
      provider: "ollama",
      priced: 0,
    });
  });
});

describe("captureContent: false", () => {
  it("stores no prompt or completion, and still every token", async () => {
    const id = session("no-content");
    const body = {
      model: "claude-sonnet-4-6",
      max_tokens: 64,
      system: "Private instructions",
      messages: [{ role: "user" as const, content: "Private question" }],
    };
    await anthropic.messages.create(body, inSession(id));
    expect(await h.call(id)).toMatchObject({
      input: "",
      output: "",
      input_tokens: anthropicInputTokens(body),
      output_tokens: countWords(fakeReplyText("Private question")),
      tokens_estimated: 0,
      status: "ok",
    });
    const sent = h.fake.requests.at(-1);
    expect(JSON.stringify(sent?.body)).toContain("Private question");
  });
});
