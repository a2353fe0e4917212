/**
 * `tokenmeter proxy --collector URL`: the proxy in its own process (here: its own server and
 * registry) exporting its spans over OTLP/HTTP to a remote collector.
 */
import OpenAI from "openai";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCollector, type Collector } from "../collector/src/app.js";
import { type FakeProvider, startFakeProvider } from "../collector/src/fake-provider/index.js";
import { decodeTraces } from "../collector/src/otlp/decode.js";
import type { DecodedSpan } from "../collector/src/otlp/types.js";
import {
  collectorTracesUrl,
  createOtlpHttpSink,
  encodeSpans,
  type ProxyServer,
  startProxy,
  telemetryDroppedCounter,
} from "../collector/src/proxy/index.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";
import { newTrace, type Row } from "./proxy-harness.js";

let fake: FakeProvider;
let collector: Collector;
let collectorUrl: string;

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  fake = await startFakeProvider();
  collector = await buildCollector({ config: testConfig(dir), storage, logger: silentLogger });
  collectorUrl = await collector.app.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await collector?.close();
  await fake?.close();
});

async function standaloneProxy(
  target: string,
  maxBufferedSpans = 1000,
): Promise<{ proxy: ProxyServer & { url: string }; registry: Registry }> {
  const { dir } = await embeddedStorage();
  const config = testConfig(dir, { proxy: { openaiBaseUrl: `${fake.url}/v1`, maxBufferedSpans } });
  const registry = new Registry();
  const sink = createOtlpHttpSink({
    url: target,
    dropped: telemetryDroppedCounter(registry).labels({ component: "proxy" }),
    logger: silentLogger,
    maxBufferedSpans,
    flushIntervalMs: 20,
    closeTimeoutMs: 300,
  });
  const proxy = await startProxy({
    config,
    logger: silentLogger,
    sink,
    registry,
    env: {},
    serveMetrics: true,
    host: "127.0.0.1",
    port: 0,
  });
  return { proxy, registry };
}

async function callsOf(traceId: string): Promise<Row[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await collector.app.inject({ method: "GET", url: `/api/v1/calls?trace_id=${traceId}` });
    const calls = (res.json() as { calls: Row[] }).calls;
    if (calls.length > 0 || Date.now() > deadline) return calls;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("standalone proxy exporting OTLP", () => {
  it("spans reach the remote collector as source=proxy rows", async () => {
    const { proxy } = await standaloneProxy(collectorUrl);
    try {
      const client = new OpenAI({ apiKey: "k", baseURL: `${proxy.url}/openai/v1`, maxRetries: 0 });
      const t = newTrace();
      await client.chat.completions
        .create(
          {
            model: "gpt-4o",
            messages: [{ role: "user", content: "over the wire" }],
            stream: true,
            stream_options: { include_usage: true },
          },
          { headers: { traceparent: t.traceparent, "x-tokenmeter-team": "remote" } },
        )
        .then(async (s) => {
          for await (const _ of s) {
            // drain
          }
        });
      const [row] = await callsOf(t.traceId);
      expect(row).toMatchObject({
        trace_id: t.traceId,
        parent_span_id: t.parentSpanId,
        source: "proxy",
        team: "remote",
        provider: "openai",
        request_model: "gpt-4o",
        output_tokens: 4,
        tokens_estimated: 0,
        streamed: 1,
        status: "ok",
      });
      expect(JSON.parse(String(row?.["input"]))[0]).toEqual({
        role: "user",
        parts: [{ type: "text", content: "over the wire" }],
      });
      const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
      expect(metrics).toContain('tokenmeter_proxy_requests_total{route="openai",code="200"} 1');
      // Nothing lost, and the series is there at 0: the first loss is an increase alerts see.
      expect(metrics).toContain('tokenmeter_telemetry_dropped_total{component="proxy"} 0');
    } finally {
      await proxy.close(500);
    }
  });

  it("collector down: calls are unaffected, spans beyond the bounded buffer are counted as dropped", async () => {
    const { proxy, registry } = await standaloneProxy("http://127.0.0.1:9", 2);
    try {
      const client = new OpenAI({ apiKey: "k", baseURL: `${proxy.url}/openai/v1`, maxRetries: 0 });
      for (let i = 0; i < 5; i++) {
        const r = await client.chat.completions.create({
          model: "gpt-4o",
          messages: [{ role: "user", content: "hi" }],
        });
        expect(r.choices[0]?.message.content).toBe("Echo: hi");
      }
    } finally {
      await proxy.close(500);
    }
    // 5 spans, room for 2: at least 3 dropped at once, the 2 held are dropped when close gives up.
    expect(await registry.metrics()).toMatch(/tokenmeter_telemetry_dropped_total\{component="proxy"\} 5/);
  });

  it("spans with long prompts go in requests the collector takes: a burst of 150 is stored whole", async () => {
    const registry = new Registry();
    const dropped = telemetryDroppedCounter(registry).labels({ component: "proxy" });
    const sink = createOtlpHttpSink({
      url: collectorUrl,
      dropped,
      logger: silentLogger,
      maxBufferedSpans: 1000,
      flushIntervalMs: 20,
      closeTimeoutMs: 30_000,
    });
    // 150 calls of 300 KB prompts, queued at once: 45 MB, over one request's 32 MiB limit.
    const traceId = "feedfacefeedfacefeedfacefeedface";
    const prompt = JSON.stringify([{ role: "user", parts: [{ type: "text", content: "word ".repeat(60_000) }] }]);
    const start = Date.now() * 1000;
    for (let i = 0; i < 150; i++) {
      sink.emit({
        traceId,
        spanId: (i + 1).toString(16).padStart(16, "0"),
        parentSpanId: "",
        name: "chat gpt-4o-mini",
        kind: 3,
        startTimeUs: start + i,
        endTimeUs: start + i + 1000,
        attributes: {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "gpt-4o-mini",
          "gen_ai.usage.input_tokens": 60_000,
          "gen_ai.usage.output_tokens": 1,
          "gen_ai.input.messages": prompt,
          "tokenmeter.source": "proxy",
        },
        events: [],
        status: { code: 0, message: "" },
        resource: { attributes: { "service.name": "tokenmeter-proxy" } },
        scope: { name: "@tokenmeter/proxy", version: "0.1.0" },
      });
    }
    await sink.close();
    expect((await registry.getSingleMetricAsString("tokenmeter_telemetry_dropped_total")).trim()).not.toMatch(
      / [1-9]\d*$/m,
    );
    // Every page, following next_cursor (a page of calls this long ends at the response's content bound).
    const rows: Row[] = [];
    for (let cursor: string | undefined = ""; cursor !== undefined; ) {
      const res = await collector.app.inject({
        method: "GET",
        url: `/api/v1/calls?trace_id=${traceId}&limit=1000${cursor ? `&cursor=${cursor}` : ""}`,
      });
      const page = res.json() as { calls: Row[]; next_cursor?: string };
      rows.push(...page.calls);
      cursor = page.next_cursor;
    }
    expect(new Set(rows.map((r) => r["span_id"])).size).toBe(150);
  }, 60_000);

  it("the encoder round-trips through the collector's OTLP decoder", () => {
    const span: DecodedSpan = {
      traceId: "0123456789abcdef0123456789abcdef",
      spanId: "0123456789abcdef",
      parentSpanId: "",
      name: "chat gpt-4o",
      kind: 3,
      startTimeUs: 1_790_000_000_000_000,
      endTimeUs: 1_790_000_000_250_000,
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.response.time_to_first_chunk": 0.125,
        "gen_ai.request.stream": true,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.input.messages": [{ role: "user", content: "hi" }],
      },
      events: [],
      status: { code: 2, message: "boom" },
      resource: { attributes: { "service.name": "tokenmeter-proxy" } },
      scope: { name: "@tokenmeter/proxy", version: "0.1.0" },
    };
    const bytes = encodeSpans([span]);
    const decoded = decodeTraces(Buffer.from(bytes), "application/x-protobuf", undefined, {
      maxBodyBytes: 1 << 20,
      maxAttributeValueBytes: 1 << 20,
    });
    expect(decoded.rejected).toBe(0);
    const [d] = decoded.items;
    expect(d).toMatchObject({
      traceId: span.traceId,
      spanId: span.spanId,
      parentSpanId: "",
      name: span.name,
      kind: 3,
      startTimeUs: span.startTimeUs,
      endTimeUs: span.endTimeUs,
      status: { code: 2, message: "boom" },
      scope: span.scope,
    });
    expect(d?.attributes).toEqual({
      ...span.attributes,
      "gen_ai.input.messages": JSON.stringify([{ role: "user", content: "hi" }]),
    });
    expect(d?.resource.attributes).toEqual({ "service.name": "tokenmeter-proxy" });
  });
});

describe("collector URL", () => {
  it("the proxy takes the collector's base URL or the traces URL it prints at start", () => {
    expect(collectorTracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces");
    expect(collectorTracesUrl("http://collector:4318/")).toBe("http://collector:4318/v1/traces");
    expect(collectorTracesUrl("http://collector:4318/v1/traces")).toBe("http://collector:4318/v1/traces");
    expect(collectorTracesUrl("https://gw.example.com/tm/")).toBe("https://gw.example.com/tm/v1/traces");
  });
});
