/**
 * What the proxy adds on top of passthrough: attribution (headers, virtual keys), the response
 * cache, rate limits, pre-request hooks with reservations, stream-usage injection, named
 * upstreams, and failing open when telemetry fails.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openaiChatPromptTokens, SCENARIO_HEADER } from "../collector/src/fake-provider/index.js";
import type { PreRequestHook, ProxyRequestContext } from "../collector/src/proxy/hooks.js";
import { sha256Hex } from "../collector/src/proxy/index.js";
import { type Harness, maskVolatile, newTrace, type Relay, startHarness, startRelay } from "./proxy-harness.js";

const VK_OPENAI = "tm_live_payments_8c1f0e";
const VK_ANTHROPIC = "tm_live_research_77aa01";
const VK_LIMITED = "tm_live_limited_0042";
const REAL_OPENAI = "sk-real-openai-secret-value-123";
const REAL_ANTHROPIC = "sk-ant-real-secret-value-456";

interface HookLog {
  contexts: ProxyRequestContext[];
  settled: Array<number | null>;
  released: number;
}
const hookLog: HookLog = { contexts: [], settled: [], released: 0 };

const budgetHook: PreRequestHook = {
  name: "test-budget",
  beforeRequest(ctx) {
    hookLog.contexts.push(ctx);
    if (ctx.team === "broke") {
      return {
        allow: false,
        status: 429,
        code: "budget_exceeded",
        message: 'Budget "broke-monthly" is exhausted (spent $100.00 of $100.00).',
        retryAfter: 3600,
      };
    }
    return {
      allow: true,
      reservation: {
        settle: (usd) => hookLog.settled.push(usd),
        release: () => {
          hookLog.released++;
        },
      },
    };
  },
};

let h: Harness;
let relay: Relay;

beforeAll(async () => {
  relay = await startRelay();
  h = await startHarness({
    proxy: {
      openaiBaseUrl: `${relay.url}/v1`,
      anthropicBaseUrl: `${relay.url}/v1`,
      upstreams: {
        groq: { baseUrl: `${relay.url}/v1`, provider: "groq" },
        cached: { baseUrl: `${relay.url}/v1`, provider: "openai" },
      },
      virtualKeys: [
        {
          id: "vk-payments",
          sha256: sha256Hex(VK_OPENAI),
          team: "payments",
          project: "checkout",
          providerKeyEnv: "TEST_REAL_OPENAI_KEY",
        },
        {
          id: "vk-research",
          sha256: sha256Hex(VK_ANTHROPIC),
          team: "research",
          providerKeyEnv: { anthropic: "TEST_REAL_ANTHROPIC_KEY" },
        },
        {
          id: "vk-limited",
          sha256: sha256Hex(VK_LIMITED),
          team: "limited-key-team",
          providerKeyEnv: "TEST_REAL_OPENAI_KEY",
          rateLimit: { requestsPerMinute: 60, burst: 2 },
        },
      ],
      rateLimits: {
        teams: { throttled: { requestsPerMinute: 60, burst: 2 }, slowpoke: { requestsPerMinute: 1, burst: 1 } },
      },
      cache: { routes: ["cached"], teams: ["cachers"], ttlSeconds: 60 },
    },
    env: { TEST_REAL_OPENAI_KEY: REAL_OPENAI, TEST_REAL_ANTHROPIC_KEY: REAL_ANTHROPIC },
    hooks: [budgetHook],
  });
  relay.setTarget(h.fake.port);
});

afterAll(async () => {
  await h?.close();
  await relay?.close();
});

beforeEach(() => {
  h.fake.reset();
});

function openai(apiKey = "sk-test-key", route = "openai", headers: Record<string, string> = {}) {
  return new OpenAI({ apiKey, baseURL: `${h.proxy.url}/${route}/v1`, maxRetries: 0, defaultHeaders: headers });
}

const CHAT = { model: "gpt-4o", messages: [{ role: "user" as const, content: "policy check" }] };

async function everythingStoredFor(traceId: string): Promise<string> {
  const calls = await h.calls(traceId);
  const spans = await h.spans(traceId);
  return JSON.stringify({ calls, spans });
}

describe("virtual keys", () => {
  it("OpenAI: the real key goes upstream, the virtual key never does; team/project from the key", async () => {
    const t = newTrace();
    const sentBefore = relay.sent().length;
    const r = await openai(VK_OPENAI).chat.completions.create(CHAT, { headers: { traceparent: t.traceparent } });
    expect(r.choices[0]?.message.content).toBe("Echo: policy check");

    expect(h.fake.requests.at(-1)?.headers["authorization"]).toBe("[set]");
    const wire = relay.sent().slice(sentBefore);
    expect(wire).toMatch(new RegExp(`\\r\\nauthorization: Bearer ${REAL_OPENAI}\\r\\n`, "i"));
    expect(wire).not.toContain(VK_OPENAI);

    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ team: "payments", project: "checkout", source: "proxy", status: "ok" });
    expect(row?.["tags"]).toMatchObject({ virtual_key: "vk-payments" });
    const stored = await everythingStoredFor(t.traceId);
    for (const secret of [VK_OPENAI, REAL_OPENAI, "sk-test-key"]) {
      expect(stored).not.toContain(secret);
      expect(h.logs()).not.toContain(secret);
    }
    expect(stored.toLowerCase()).not.toContain("authorization");
  });

  it("Anthropic: a key in x-api-key is swapped for the real one in x-api-key", async () => {
    const t = newTrace();
    const sentBefore = relay.sent().length;
    const client = new Anthropic({ apiKey: VK_ANTHROPIC, baseURL: `${h.proxy.url}/anthropic`, maxRetries: 0 });
    await client.messages.create(
      { model: "claude-haiku-4-5", max_tokens: 50, messages: [{ role: "user", content: "hi" }] },
      { headers: { traceparent: t.traceparent } },
    );
    expect(h.fake.requests.at(-1)?.headers["x-api-key"]).toBe("[set]");
    const wire = relay.sent().slice(sentBefore);
    expect(wire).toMatch(new RegExp(`\\r\\nx-api-key: ${REAL_ANTHROPIC}\\r\\n`, "i"));
    expect(wire).not.toContain(VK_ANTHROPIC);
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ team: "research", provider: "anthropic" });
    const stored = await everythingStoredFor(t.traceId);
    expect(stored).not.toContain(VK_ANTHROPIC);
    expect(stored).not.toContain(REAL_ANTHROPIC);
    expect(h.logs()).not.toContain(REAL_ANTHROPIC);
  });

  it("an unknown virtual key gets the provider's 401 and nothing goes upstream", async () => {
    const err = await openai("tm_live_not_a_real_key")
      .chat.completions.create(CHAT)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("invalid_api_key");
    expect(h.fake.requests).toHaveLength(0);
  });

  it("a virtual key without a provider key for the route is refused, not forwarded", async () => {
    const err = await openai(VK_ANTHROPIC)
      .chat.completions.create(CHAT)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("virtual_key_unconfigured");
    expect(h.fake.requests).toHaveLength(0);
  });
});

describe("attribution headers", () => {
  it("x-tokenmeter-* fill the row and are stripped before forwarding; other headers pass", async () => {
    const t = newTrace();
    await openai().chat.completions.create(CHAT, {
      headers: {
        traceparent: t.traceparent,
        "x-tokenmeter-team": "search",
        "x-tokenmeter-project": "ranking",
        "x-tokenmeter-user": "user-42",
        "x-tokenmeter-session": "sess-9",
        "x-tokenmeter-feature": "autocomplete",
        "x-tokenmeter-tags": "tier=gold,region=eu",
        "x-custom-header": "kept",
      },
    });
    const sent = h.fake.requests.at(-1)?.headers ?? {};
    expect(Object.keys(sent).filter((k) => k.startsWith("x-tokenmeter-"))).toEqual([]);
    expect(sent["x-custom-header"]).toBe("kept");
    expect(sent["traceparent"]).toBe(t.traceparent);
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({
      team: "search",
      project: "ranking",
      user_id: "user-42",
      session_id: "sess-9",
      feature: "autocomplete",
      tags: { tier: "gold", region: "eu" },
    });
  });

  it("a named upstream is served at /<name>/v1 with its provider name", async () => {
    const t = newTrace();
    const r = await openai("sk-groq", "groq").chat.completions.create(
      { model: "llama-3.3-70b-versatile", messages: [{ role: "user", content: "hi groq" }] },
      { headers: { traceparent: t.traceparent } },
    );
    expect(r.choices[0]?.message.content).toBe("Echo: hi groq");
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ provider: "groq", request_model: "llama-3.3-70b-versatile", source: "proxy" });
  });
});

describe("response cache", () => {
  it("a repeated request is answered from the cache: same bytes, cache_hit=1, its would-be cost as savings", async () => {
    const body = { model: "gpt-4o", messages: [{ role: "user", content: "cache me" }], temperature: 0 };
    const send = async (b: unknown, traceparent: string) =>
      fetch(`${h.proxy.url}/cached/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-test-key", traceparent },
        body: JSON.stringify(b),
      });
    const first = newTrace();
    const r1 = await send(body, first.traceparent);
    const t1 = await r1.text();
    expect(r1.headers.get("x-tokenmeter-cache")).toBeNull();
    // Same JSON with its keys in another order: same cache entry.
    const second = newTrace();
    const r2 = await send({ temperature: 0, messages: body.messages, model: "gpt-4o" }, second.traceparent);
    expect(r2.status).toBe(200);
    expect(r2.headers.get("x-tokenmeter-cache")).toBe("hit");
    expect(await r2.text()).toBe(t1);
    expect(h.fake.requests).toHaveLength(1);

    const [row1] = await h.calls(first.traceId);
    const [row2] = await h.calls(second.traceId);
    expect(row1).toMatchObject({ cache_hit: 0, input_tokens: openaiChatPromptTokens(body), status: "ok" });
    // A hit is priced at what the call would have cost: spend leaves cache_hit rows out and
    // counts their cost as savings.
    expect(row2).toMatchObject({
      cache_hit: 1,
      status: "ok",
      input_tokens: row1?.["input_tokens"],
      output_tokens: row1?.["output_tokens"],
      tokens_estimated: 0,
      cost_usd: row1?.["cost_usd"],
      priced: 1,
      response_model: "gpt-4o-2024-08-06",
      finish_reason: "stop",
    });
    expect(JSON.parse(String(row2?.["output"]))[0].parts[0].content).toBe("Echo: cache me");

    const metrics = await h.collector.metrics.registry.metrics();
    expect(metrics).toMatch(/tokenmeter_proxy_cache_lookups_total\{route="cached",result="hit"\} 1/);
    expect(metrics).toMatch(/tokenmeter_proxy_cache_savings_usd_total\{route="cached",team="unknown"\} [0-9.e-]+/);
  });

  it("a streamed answer is replayed as the recorded SSE bytes", async () => {
    const body = {
      model: "gpt-4o",
      messages: [{ role: "user" as const, content: "stream from the cache" }],
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const send = () =>
      fetch(`${h.proxy.url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-tokenmeter-team": "cachers", authorization: "Bearer k" },
        body: JSON.stringify(body),
      });
    const t1 = await (await send()).text();
    const r2 = await send();
    expect(r2.headers.get("content-type")).toContain("text/event-stream");
    expect(r2.headers.get("x-tokenmeter-cache")).toBe("hit");
    expect(await r2.text()).toBe(t1);
    expect(h.fake.requests).toHaveLength(1);

    // The official client reads the replay like a live stream.
    const client = openai("k", "openai", { "x-tokenmeter-team": "cachers" });
    let text = "";
    for await (const c of await client.chat.completions.create({ ...body, stream: true })) {
      text += c.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe("Echo: stream from the cache");
    expect(h.fake.requests).toHaveLength(1);
  });

  it("entries are scoped: another team misses; cache-control: no-cache bypasses", async () => {
    const body = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "scoped" }] });
    const send = (team: string, extra: Record<string, string> = {}) =>
      fetch(`${h.proxy.url}/cached/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-tokenmeter-team": team, ...extra },
        body,
      });
    expect((await send("a")).headers.get("x-tokenmeter-cache")).toBeNull();
    expect((await send("a")).headers.get("x-tokenmeter-cache")).toBe("hit");
    expect((await send("b")).headers.get("x-tokenmeter-cache")).toBeNull();
    expect((await send("a", { "cache-control": "no-cache" })).headers.get("x-tokenmeter-cache")).toBeNull();
    expect(h.fake.requests).toHaveLength(3);
  });
});

describe("rate limits", () => {
  it("per team: 429 in OpenAI's error shape with Retry-After, recorded", async () => {
    const client = openai("sk-test-key", "openai", { "x-tokenmeter-team": "throttled" });
    await client.chat.completions.create(CHAT);
    await client.chat.completions.create(CHAT);
    const t = newTrace();
    const err = await client.chat.completions
      .create(CHAT, { headers: { traceparent: t.traceparent } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.error).toEqual({
      message: expect.stringContaining('team "throttled"'),
      type: "rate_limit_exceeded",
      param: null,
      code: "rate_limited",
    });
    expect(Number(e.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(h.fake.requests).toHaveLength(2);
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({
      team: "throttled",
      status: "error",
      error_type: "rate_limited",
      http_status: 429,
      input_tokens: 0,
      cost_usd: "0",
    });
  });

  it("per virtual key, and in Anthropic's error shape on the Anthropic route", async () => {
    const client = openai(VK_LIMITED);
    await client.chat.completions.create(CHAT);
    await client.chat.completions.create(CHAT);
    const err = await client.chat.completions.create(CHAT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toContain('virtual key "vk-limited"');

    const send = () =>
      fetch(`${h.proxy.url}/anthropic/v1/messages`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-tokenmeter-team": "slowpoke",
          "anthropic-version": "2023-06-01",
        },
        body: JSON.stringify({ model: "claude-haiku-4-5", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
      });
    expect((await send()).status).toBe(200);
    const raw = await send();
    expect(raw.status).toBe(429);
    expect(raw.headers.get("retry-after")).not.toBeNull();
    const body = (await raw.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: expect.stringContaining("slowpoke") },
    });
  });
});

describe("pre-request hooks", () => {
  it("a rejecting hook answers 429 naming the budget; nothing goes upstream; the row says why", async () => {
    const t = newTrace();
    const client = openai("sk-test-key", "openai", { "x-tokenmeter-team": "broke" });
    const err = await client.chat.completions
      .create(CHAT, { headers: { traceparent: t.traceparent } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.code).toBe("budget_exceeded");
    expect(e.message).toContain('Budget "broke-monthly"');
    expect(e.headers.get("retry-after")).toBe("3600");
    expect(h.fake.requests).toHaveLength(0);
    const [row] = await h.calls(t.traceId);
    expect(row).toMatchObject({ team: "broke", status: "error", error_type: "budget_exceeded", http_status: 429 });

    const anth = await new Anthropic({
      apiKey: "k",
      baseURL: `${h.proxy.url}/anthropic`,
      maxRetries: 0,
      defaultHeaders: { "x-tokenmeter-team": "broke" },
    }).messages
      .create({ model: "claude-haiku-4-5", max_tokens: 5, messages: [{ role: "user", content: "x" }] })
      .catch((x: unknown) => x);
    expect(anth).toBeInstanceOf(Anthropic.RateLimitError);
    expect((anth as InstanceType<typeof Anthropic.APIError>).error).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: expect.stringContaining("broke-monthly") },
    });
  });

  it("hooks see the call; reservations are settled with the actual cost, released when nothing was billed", async () => {
    hookLog.contexts.length = 0;
    hookLog.settled.length = 0;
    hookLog.released = 0;
    const t = newTrace();
    await openai("sk-test-key", "openai", {
      "x-tokenmeter-team": "payments",
      "x-tokenmeter-tags": "env=prod",
    }).chat.completions.create({ ...CHAT, max_tokens: 100 }, { headers: { traceparent: t.traceparent } });
    const ctx = hookLog.contexts[0];
    expect(ctx).toMatchObject({
      route: "openai",
      apiFormat: "openai",
      provider: "openai",
      path: "/chat/completions",
      model: "gpt-4o",
      team: "payments",
      virtualKeyId: "",
      tags: { env: "prod" },
    });
    expect(ctx?.estimatedCostUsd).toBeGreaterThan(0);
    const [row] = await h.calls(t.traceId);
    expect(hookLog.settled).toEqual([Number(row?.["cost_usd"])]);

    await openai()
      .chat.completions.create(CHAT, { headers: { [SCENARIO_HEADER]: "rate_limit" } })
      .catch(() => undefined);
    expect(hookLog.released).toBe(1);
    expect(hookLog.settled).toHaveLength(1);
  });
});

describe("stream usage injection", () => {
  let inj: Harness;
  beforeAll(async () => {
    inj = await startHarness({ proxy: { injectStreamUsage: true } });
  });
  afterAll(async () => {
    await inj?.close();
  });

  it("the client gets the stream it asked for, byte for byte; the row gets exact usage", async () => {
    const body = JSON.stringify({
      model: "gpt-4o",
      messages: [{ role: "user", content: "inject usage please" }],
      stream: true,
    });
    const headers = { "content-type": "application/json", authorization: "Bearer sk-test-key" };
    const direct = await (await fetch(`${inj.fake.url}/v1/chat/completions`, { method: "POST", headers, body })).text();
    const t = newTrace();
    const proxied = await (
      await fetch(`${inj.proxy.url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { ...headers, traceparent: t.traceparent },
        body,
      })
    ).text();
    expect(maskVolatile(proxied)).toBe(maskVolatile(direct));
    expect(proxied).not.toContain('"usage"');
    const upstreamBody = inj.fake.requests.at(-1)?.body as { stream_options?: { include_usage?: boolean } };
    expect(upstreamBody.stream_options?.include_usage).toBe(true);
    const [row] = await inj.calls(t.traceId);
    expect(row).toMatchObject({ tokens_estimated: 0, output_tokens: 4, streamed: 1 });
  });

  it("a client that asked for usage still receives its usage chunk", async () => {
    const client = new OpenAI({ apiKey: "k", baseURL: `${inj.proxy.url}/openai/v1`, maxRetries: 0 });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of await client.chat.completions.create({
      ...CHAT,
      stream: true,
      stream_options: { include_usage: true },
    })) {
      if (c.usage) usage = c.usage;
    }
    expect(usage?.completion_tokens).toBe(3);
  });
});

describe("fail open", () => {
  it("a sink that throws: the user's call is unaffected, the loss is counted", async () => {
    const broken = await startHarness({
      wrapSink: () => ({
        emit() {
          throw new Error("telemetry is down");
        },
        close: async () => {},
      }),
    });
    try {
      const client = new OpenAI({ apiKey: "k", baseURL: `${broken.proxy.url}/openai/v1`, maxRetries: 0 });
      const r = await client.chat.completions.create(CHAT);
      expect(r.choices[0]?.message.content).toBe("Echo: policy check");
      let streamed = "";
      for await (const c of await client.chat.completions.create({ ...CHAT, stream: true })) {
        streamed += c.choices[0]?.delta.content ?? "";
      }
      expect(streamed).toBe("Echo: policy check");
      const metrics = await broken.collector.metrics.registry.metrics();
      expect(metrics).toMatch(/tokenmeter_telemetry_dropped_total\{component="proxy"\} 2/);
    } finally {
      await broken.close();
    }
  });

  it("a pipeline that rejects (storage down): calls go through, spans are counted as dropped", async () => {
    const down = await startHarness({
      wrapSink: (sink) => sink,
    });
    try {
      // Storage refusing writes: the writer's admission check throws, as it does when the queue is full.
      const writer = down.collector.writer as unknown as { admit(rows: number): void };
      writer.admit = () => {
        throw new Error("queue full");
      };
      const client = new OpenAI({ apiKey: "k", baseURL: `${down.proxy.url}/openai/v1`, maxRetries: 0 });
      for (let i = 0; i < 3; i++) {
        const r = await client.chat.completions.create(CHAT);
        expect(r.choices[0]?.message.content).toBe("Echo: policy check");
      }
      // Spans reach the pipeline in batches (span-sink.ts): wait for the batch.
      const deadline = Date.now() + 5000;
      let metrics = "";
      while (Date.now() < deadline) {
        metrics = await down.collector.metrics.registry.metrics();
        if (/tokenmeter_telemetry_dropped_total\{component="proxy"\} 3/.test(metrics)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(metrics).toMatch(/tokenmeter_telemetry_dropped_total\{component="proxy"\} 3/);
    } finally {
      await down.close();
    }
  });
});
