/**
 * The official `openai` client with its baseURL on the proxy, against the fake provider: what the
 * client receives matches a direct call, and every call leaves one exact llm_calls row.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  countWords,
  openaiChatPromptTokens,
  openaiCompletionPromptTokens,
  openaiResponsesInputTokens,
  reasoningTokensFor,
  SCENARIO_HEADER,
  textTokens,
  toolCallTokens,
} from "../collector/src/fake-provider/index.js";
import { WEATHER_TOOL } from "../collector/src/fake-provider/test-tools.js";
import {
  comparableHeaders,
  type Harness,
  maskVolatile,
  newTrace,
  type Relay,
  startHarness,
  startRelay,
} from "./proxy-harness.js";

let h: Harness;
let relay: Relay;
let proxied: OpenAI;
let direct: OpenAI;

beforeAll(async () => {
  relay = await startRelay();
  h = await startHarness({ proxy: { openaiBaseUrl: `${relay.url}/v1` } });
  relay.setTarget(h.fake.port);
  proxied = new OpenAI({ apiKey: "sk-test-key", baseURL: `${h.proxy.url}/openai/v1`, maxRetries: 0 });
  direct = new OpenAI({ apiKey: "sk-test-key", baseURL: `${h.fake.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await h?.close();
  await relay?.close();
});

beforeEach(() => {
  h.fake.reset();
});

function traced(extra: Record<string, string> = {}) {
  const t = newTrace();
  return { t, opts: { headers: { traceparent: t.traceparent, ...extra } } };
}

describe("chat completions through the proxy", () => {
  it("non-streamed: same answer as direct, one exact row", async () => {
    const { t, opts } = traced();
    const body = {
      model: "gpt-4o",
      messages: [
        { role: "system" as const, content: "You are terse." },
        { role: "user" as const, content: "hello there" },
      ],
      temperature: 0.2,
      max_tokens: 50,
    };
    const viaProxy = await proxied.chat.completions.create(body, opts);
    const viaDirect = await direct.chat.completions.create(body);
    expect({ ...viaProxy, id: "", created: 0 }).toEqual({ ...viaDirect, id: "", created: 0 });

    const [row] = await h.calls(t.traceId);
    const input = openaiChatPromptTokens(body);
    expect(row).toMatchObject({
      trace_id: t.traceId,
      parent_span_id: t.parentSpanId,
      service: "tokenmeter-proxy",
      source: "proxy",
      convention: "otel_genai",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o",
      response_model: "gpt-4o-2024-08-06",
      response_id: viaProxy.id,
      input_tokens: input,
      output_tokens: 3,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      priced: 1,
      price_id: "openai/gpt-4o@2024-08-06",
      ttft_ms: null,
      streamed: 0,
      status: "ok",
      error_type: "",
      finish_reason: "stop",
      http_status: 200,
      cache_hit: 0,
    });
    // input x $2.50/M + 3 x $10/M
    expect(Number(row?.["cost_usd"])).toBeCloseTo(input * 2.5e-6 + 3 * 10e-6, 12);
    expect(JSON.parse(String(row?.["request_params"]))).toEqual({ max_tokens: 50, temperature: 0.2 });
    expect(JSON.parse(String(row?.["input"]))).toEqual([
      { role: "system", parts: [{ type: "text", content: "You are terse." }] },
      { role: "user", parts: [{ type: "text", content: "hello there" }] },
    ]);
    expect(JSON.parse(String(row?.["output"]))).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Echo: hello there" }], finish_reason: "stop" },
    ]);
    expect(Number(row?.["duration_ms"])).toBeGreaterThan(0);
  });

  it("a-call-answered-through-the-proxy-is-in-the-very-next-read (no waiting, no polling)", async () => {
    const plain = traced();
    await proxied.chat.completions.create(
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "one" }] },
      plain.opts,
    );
    const streamed = traced();
    const stream = await proxied.chat.completions.create(
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "two" }], stream: true },
      streamed.opts,
    );
    for await (const _ of stream) {
      // read to the end
    }
    for (const { t } of [plain, streamed]) {
      const res = await h.collector.app.inject({ method: "GET", url: `/api/v1/calls?trace_id=${t.traceId}` });
      expect((res.json() as { calls: unknown[] }).calls, t.traceId).toHaveLength(1);
    }
  });

  it("streamed with include_usage: exact usage, ttft, streamed=1", async () => {
    const { t, opts } = traced();
    const body = {
      model: "gpt-4o-mini",
      messages: [{ role: "user" as const, content: "stream me a reply please" }],
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const stream = await proxied.chat.completions.create(body, opts);
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("Echo: stream me a reply please");
    expect(usage?.completion_tokens).toBe(6);

    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({
      source: "proxy",
      request_model: "gpt-4o-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: openaiChatPromptTokens(body),
      output_tokens: 6,
      tokens_estimated: 0,
      streamed: 1,
      status: "ok",
      finish_reason: "stop",
      http_status: 200,
    });
    expect(row?.["ttft_ms"]).not.toBeNull();
    expect(Number(row?.["ttft_ms"])).toBeLessThanOrEqual(Number(row?.["duration_ms"]));
    expect(JSON.parse(String(row?.["request_params"]))).toEqual({ stream: true });
    expect(JSON.parse(String(row?.["output"]))[0].parts[0].content).toBe(text);
  });

  it("streamed without usage: tokens estimated from the content (tokens_estimated=1)", async () => {
    const { t, opts } = traced();
    const stream = await proxied.chat.completions.create(
      { model: "gpt-4o", messages: [{ role: "user", content: "no usage in this stream" }], stream: true },
      opts,
    );
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Echo: no usage in this stream");
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ tokens_estimated: 1, streamed: 1, status: "ok", priced: 1, finish_reason: "stop" });
    expect(Number(row?.["input_tokens"])).toBeGreaterThan(0);
    expect(Number(row?.["output_tokens"])).toBeGreaterThan(0);
  });

  it("tools, non-streamed and streamed: tool calls recorded, finish_reason tool_calls", async () => {
    for (const stream of [false, true]) {
      const { t, opts } = traced();
      const body = {
        model: "gpt-4o",
        messages: [{ role: "user" as const, content: "What is the weather in Paris?" }],
        tools: [WEATHER_TOOL],
        ...(stream ? { stream: true as const, stream_options: { include_usage: true } } : {}),
      };
      let args = "";
      let name = "";
      if (stream) {
        const s = await proxied.chat.completions.create({ ...body, stream: true }, opts);
        for await (const chunk of s) {
          const tc = chunk.choices[0]?.delta.tool_calls?.[0];
          if (tc?.function?.name) name = tc.function.name;
          args += tc?.function?.arguments ?? "";
        }
      } else {
        const r = await proxied.chat.completions.create({ ...body, stream: false }, opts);
        const tc = r.choices[0]?.message.tool_calls?.[0];
        if (tc?.type === "function") {
          name = tc.function.name;
          args = tc.function.arguments;
        }
      }
      expect(name).toBe("get_weather");
      const [row] = await h.calls(t.traceId);
      expect(row).toMatchObject({
        finish_reason: "tool_calls",
        input_tokens: openaiChatPromptTokens(body),
        output_tokens: toolCallTokens("get_weather", args),
        tokens_estimated: 0,
        streamed: stream ? 1 : 0,
      });
      const out = JSON.parse(String(row?.["output"]));
      expect(out[0].parts[0]).toMatchObject({ type: "tool_call", name: "get_weather", arguments: JSON.parse(args) });
    }
  });
});

describe("other OpenAI endpoints", () => {
  it("Responses API, non-streamed and streamed (reasoning model)", async () => {
    for (const stream of [false, true]) {
      const { t, opts } = traced();
      const body = { model: "o4-mini", input: "Summarize the plan", instructions: "Be brief." };
      let text = "";
      if (stream) {
        const s = await proxied.responses.create({ ...body, stream: true }, opts);
        for await (const ev of s) if (ev.type === "response.output_text.delta") text += ev.delta;
      } else {
        text = (await proxied.responses.create(body, opts)).output_text;
      }
      expect(text).toBe("Echo: Summarize the plan");
      const visible = countWords(text);
      const reasoning = reasoningTokensFor(visible, "medium");
      const [row] = await h.calls(t.traceId);
      expect(row).toMatchObject({
        operation: "chat",
        request_model: "o4-mini",
        response_model: "o4-mini-2025-04-16",
        input_tokens: openaiResponsesInputTokens(body),
        output_tokens: visible + reasoning,
        reasoning_tokens: reasoning,
        tokens_estimated: 0,
        streamed: stream ? 1 : 0,
        status: "ok",
        finish_reason: "stop",
      });
      expect(JSON.parse(String(row?.["input"]))[0]).toEqual({
        role: "system",
        parts: [{ type: "text", content: "Be brief." }],
      });
    }
  });

  it("embeddings and legacy completions", async () => {
    const e = traced();
    await proxied.embeddings.create({ model: "text-embedding-3-small", input: ["alpha beta", "gamma"] }, e.opts);
    const [emb] = await h.calls(e.t.traceId);
    expect(emb).toMatchObject({
      operation: "embeddings",
      request_model: "text-embedding-3-small",
      input_tokens: textTokens("alpha beta") + textTokens("gamma"),
      output_tokens: 0,
      tokens_estimated: 0,
      priced: 1,
    });

    const c = traced();
    const body = { model: "gpt-3.5-turbo-instruct", prompt: "Say hello", max_tokens: 10 };
    const r = await proxied.completions.create(body, c.opts);
    const [cmp] = await h.calls(c.t.traceId);
    expect(cmp).toMatchObject({
      operation: "text_completion",
      input_tokens: openaiCompletionPromptTokens(body),
      output_tokens: countWords(r.choices[0]?.text ?? ""),
      finish_reason: "stop",
    });
  });
});

describe("byte-for-byte passthrough", () => {
  async function raw(url: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test-key", ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: comparableHeaders(res.headers), text: await res.text() };
  }

  const cases: Array<[string, unknown, Record<string, string>]> = [
    ["chat", { model: "gpt-4o", messages: [{ role: "user", content: "bytes please" }] }, {}],
    [
      "chat stream",
      { model: "gpt-4o", messages: [{ role: "user", content: "stream bytes" }], stream: true },
      { "x-fake-reply-words": "40" },
    ],
    [
      "chat stream with usage",
      {
        model: "gpt-4o",
        messages: [{ role: "user", content: "What is the weather?" }],
        tools: [WEATHER_TOOL],
        stream: true,
        stream_options: { include_usage: true },
      },
      {},
    ],
    ["responses stream", { model: "gpt-4o", input: "hi", stream: true }, {}],
    [
      "rate limited",
      { model: "gpt-4o", messages: [{ role: "user", content: "x" }] },
      { [SCENARIO_HEADER]: "rate_limit" },
    ],
    ["bad request", { model: "gpt-4o", messages: [] }, {}],
  ];

  for (const [name, body, headers] of cases) {
    it(`${name}: status, headers and body match a direct call`, async () => {
      const d = await raw(
        `${h.fake.url}/v1/${name.startsWith("responses") ? "responses" : "chat/completions"}`,
        body,
        headers,
      );
      const p = await raw(
        `${h.proxy.url}/openai/v1/${name.startsWith("responses") ? "responses" : "chat/completions"}`,
        body,
        headers,
      );
      expect(p.status).toBe(d.status);
      expect(p.headers).toEqual(d.headers);
      expect(maskVolatile(p.text)).toBe(maskVolatile(d.text));
      expect(p.text.length).toBe(d.text.length);
    });
  }

  it("GET /models and unknown endpoints pass through without a row", async () => {
    const d = await fetch(`${h.fake.url}/v1/models`, { headers: { authorization: "Bearer sk-test-key" } });
    const p = await fetch(`${h.proxy.url}/openai/v1/models`, { headers: { authorization: "Bearer sk-test-key" } });
    expect(p.status).toBe(200);
    expect(await p.text()).toBe(await d.text());
    const nf = await fetch(`${h.proxy.url}/openai/v1/no/such/thing`, { method: "POST", body: "{}" });
    expect(nf.status).toBe(404);
    const unknownRoute = await fetch(`${h.proxy.url}/nope/v1/chat/completions`, { method: "POST", body: "{}" });
    expect(unknownRoute.status).toBe(404);
    expect(((await unknownRoute.json()) as { error: { code: string } }).error.code).toBe("unknown_route");
  });
});

describe("provider errors pass through faithfully", () => {
  it("429: the SDK raises RateLimitError with the same body and headers as direct", async () => {
    const { t, opts } = traced({ [SCENARIO_HEADER]: "rate_limit" });
    const body = { model: "gpt-4o", messages: [{ role: "user" as const, content: "too fast" }] };
    const viaProxy = await proxied.chat.completions.create(body, opts).catch((e: unknown) => e);
    const viaDirect = await direct.chat.completions
      .create(body, { headers: { [SCENARIO_HEADER]: "rate_limit" } })
      .catch((e: unknown) => e);
    expect(viaProxy).toBeInstanceOf(OpenAI.RateLimitError);
    expect(viaDirect).toBeInstanceOf(OpenAI.RateLimitError);
    const p = viaProxy as InstanceType<typeof OpenAI.RateLimitError>;
    const d = viaDirect as InstanceType<typeof OpenAI.RateLimitError>;
    expect(p.status).toBe(429);
    expect(p.error).toEqual(d.error);
    expect(p.code).toBe("rate_limit_exceeded");
    expect(comparableHeaders(p.headers)).toEqual(comparableHeaders(d.headers));
    expect(p.headers.get("retry-after")).toBe("1");

    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({
      source: "proxy",
      status: "error",
      error_type: "429",
      http_status: 429,
      input_tokens: 0,
      output_tokens: 0,
      tokens_estimated: 0,
      cost_usd: "0",
    });
  });

  it("500 and 503 reach the client unchanged and are recorded with their status", async () => {
    for (const [scenario, status] of [
      ["server_error", 500],
      ["overloaded", 503],
    ] as const) {
      const { t, opts } = traced({ [SCENARIO_HEADER]: scenario });
      const err = await proxied.chat.completions
        .create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] }, opts)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
      const [row] = await h.calls(t.traceId);
      expect(row).toMatchObject({ status: "error", error_type: String(status), http_status: status });
    }
  });

  it("an error event inside a 200 stream is recorded as an error of that type", async () => {
    const { t, opts } = traced({ [SCENARIO_HEADER]: "error_mid_stream" });
    const stream = await proxied.chat.completions.create(
      { model: "gpt-4o", messages: [{ role: "user", content: "break midway" }], stream: true },
      opts,
    );
    const err = await (async () => {
      for await (const _ of stream) {
        // drain
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ status: "error", error_type: "server_error", http_status: 200, streamed: 1 });
  });

  it("an upstream that drops the connection mid-stream: the client's stream breaks too, the row says why", async () => {
    const { t, opts } = traced({ [SCENARIO_HEADER]: "disconnect_mid_stream", "x-fake-reply-words": "50" });
    const err = await (async () => {
      const stream = await proxied.chat.completions.create(
        { model: "gpt-4o", messages: [{ role: "user", content: "cut" }], stream: true },
        opts,
      );
      for await (const _ of stream) {
        // drain
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({
      status: "error",
      error_type: "upstream_disconnected",
      streamed: 1,
      tokens_estimated: 1,
    });
  });
});

describe("timeouts and disconnects", () => {
  it("client disconnect mid-stream: upstream request aborted, row cancelled with the tokens seen so far", async () => {
    const { t, opts } = traced({
      [SCENARIO_HEADER]: "slow_stream",
      "x-fake-chunk-delay-ms": "40",
      "x-fake-reply-words": "300",
    });
    const closedBefore = relay.closed();
    const controller = new AbortController();
    const stream = await proxied.chat.completions.create(
      { model: "gpt-4o", messages: [{ role: "user", content: "a long story" }], stream: true },
      { ...opts, signal: controller.signal },
    );
    let received = "";
    // The SDK ends the iteration quietly when its own signal aborts it.
    for await (const chunk of stream) {
      received += chunk.choices[0]?.delta.content ?? "";
      if (received.split(" ").length >= 5) controller.abort();
    }
    expect(received.split(" ").length).toBeLessThan(20);
    // The proxy closed its connection to the upstream (the fake stops writing to it).
    expect(await relay.waitForClosed(closedBefore + 1)).toBe(true);

    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({
      status: "cancelled",
      error_type: "cancelled",
      streamed: 1,
      tokens_estimated: 1,
      finish_reason: "",
      http_status: 200,
    });
    const output = JSON.parse(String(row?.["output"]))[0].parts[0].content as string;
    expect(output.startsWith(received)).toBe(true);
    expect(countWords(output)).toBeLessThan(100);
    expect(Number(row?.["output_tokens"])).toBeGreaterThan(0);
    expect(Number(row?.["output_tokens"])).toBeLessThan(100);
  });

  it("client timeout on a hung upstream: upstream request aborted, row cancelled", async () => {
    const { t, opts } = traced({ [SCENARIO_HEADER]: "hang" });
    const closedBefore = relay.closed();
    const err = await proxied.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "hello?" }] }, { ...opts, timeout: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(await relay.waitForClosed(closedBefore + 1)).toBe(true);
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ status: "cancelled", streamed: 0, http_status: 0 });
  });

  it("upstream timeout: 504 in OpenAI's error shape, recorded as timeout", async () => {
    const slow = await startHarness({ proxy: { upstreamHeadersTimeoutMs: 300 } });
    try {
      const client = new OpenAI({ apiKey: "sk-test-key", baseURL: `${slow.proxy.url}/openai/v1`, maxRetries: 0 });
      const { t, opts } = traced({ [SCENARIO_HEADER]: "hang" });
      const err = await client.chat.completions
        .create({ model: "gpt-4o", messages: [{ role: "user", content: "anyone?" }] }, opts)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      const e = err as InstanceType<typeof OpenAI.APIError>;
      expect(e.status).toBe(504);
      expect(e.code).toBe("timeout");
      const [row] = await slow.calls(t.traceId);
      expect(row).toMatchObject({ status: "error", error_type: "timeout", http_status: 504 });
    } finally {
      await slow.close();
    }
  });
});

describe("compressed answers", () => {
  it("a gzip answer reaches the client compressed, byte for byte, and is still read for usage", async () => {
    const { createServer } = await import("node:http");
    const { gzipSync } = await import("node:zlib");
    const answer = {
      id: "chatcmpl-gz",
      object: "chat.completion",
      created: 1,
      model: "gpt-4o-2024-08-06",
      choices: [{ index: 0, message: { role: "assistant", content: "zipped" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 11, completion_tokens: 1, total_tokens: 12 },
    };
    const gz = gzipSync(Buffer.from(JSON.stringify(answer)));
    const upstream = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, {
          "content-type": "application/json",
          "content-encoding": "gzip",
          "content-length": gz.length,
        });
        res.end(gz);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const port = (upstream.address() as import("node:net").AddressInfo).port;
    const gzh = await startHarness({
      proxy: { upstreams: { gz: { baseUrl: `http://127.0.0.1:${port}/v1`, provider: "openai" } } },
    });
    try {
      const t = newTrace();
      const { request } = await import("undici");
      const res = await request(`${gzh.proxy.url}/gz/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "accept-encoding": "gzip", traceparent: t.traceparent },
        body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "zip it" }] }),
      });
      expect(res.headers["content-encoding"]).toBe("gzip");
      expect(Buffer.from(await res.body.arrayBuffer()).equals(gz)).toBe(true);
      const [row] = await gzh.calls(t.traceId);
      expect(row).toMatchObject({ input_tokens: 11, output_tokens: 1, tokens_estimated: 0, finish_reason: "stop" });
      expect(JSON.parse(String(row?.["output"]))[0].parts[0].content).toBe("zipped");
    } finally {
      await gzh.close();
      await new Promise((r) => upstream.close(r));
    }
  });
});
