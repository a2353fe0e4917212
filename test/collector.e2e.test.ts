import { readFileSync } from "node:fs";
import { join } from "node:path";
import { context, trace } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPMetricExporter as OTLPMetricJsonExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OTLPMetricProtoExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as OTLPJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_RESPONSE_CONTENT_CHARS, MAX_TRACE_ROWS } from "../collector/src/api/calls-routes.js";
import type { Collector } from "../collector/src/app.js";
import { intAttr, listeningCollector, otlpJsonTraces, strAttr } from "./helpers/collector.js";

let collector: Collector;
let url: string;

beforeAll(async () => {
  ({ collector, url } = await listeningCollector());
});

afterAll(async () => {
  await collector?.close();
});

function providerWith(exporter: SpanExporter, resource: Record<string, string>) {
  return new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
}

type Row = Record<string, unknown>;

async function callsOfTrace(traceId: string): Promise<Row[]> {
  const res = await collector.app.inject({ method: "GET", url: `/api/v1/calls?trace_id=${traceId}` });
  expect(res.statusCode).toBe(200);
  return (res.json() as { calls: Row[] }).calls;
}

// Yesterday noon (UTC): inside the default content retention, which blanks older content on insert.
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000 + 12 * 3_600_000;

describe("OTLP from the official OpenTelemetry JS exporters", () => {
  it("latest GenAI convention over OTLP/JSON becomes one exact, priced llm_calls row", async () => {
    const provider = providerWith(new OTLPJsonExporter({ url: `${url}/v1/traces` }), {
      "service.name": "support-bot",
      "deployment.environment.name": "production",
    });
    const tracer = provider.getTracer("genai-app", "1.0.0");
    const agent = tracer.startSpan("invoke_agent support", {
      startTime: T0,
      attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support" },
    });
    const ctx = trace.setSpan(context.active(), agent);
    const span = tracer.startSpan(
      "chat gpt-4o",
      {
        kind: 2,
        startTime: T0 + 10,
        attributes: {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "gpt-4o",
          "gen_ai.response.model": "gpt-4o-2024-08-06",
          "gen_ai.response.id": "chatcmpl-123",
          "gen_ai.request.temperature": 0.2,
          "gen_ai.request.max_tokens": 512,
          "gen_ai.request.stream": true,
          "gen_ai.usage.input_tokens": 1200,
          "gen_ai.usage.cache_read.input_tokens": 1024,
          "gen_ai.usage.output_tokens": 300,
          "gen_ai.usage.reasoning.output_tokens": 0,
          "gen_ai.response.time_to_first_chunk": 0.25,
          "gen_ai.response.finish_reasons": ["stop"],
          "gen_ai.system_instructions": JSON.stringify([{ type: "text", content: "You are helpful." }]),
          "gen_ai.input.messages": JSON.stringify([
            { role: "user", parts: [{ type: "text", content: "Where is my order?" }] },
          ]),
          "gen_ai.output.messages": JSON.stringify([
            { role: "assistant", parts: [{ type: "text", content: "It ships today." }], finish_reason: "stop" },
          ]),
          "gen_ai.conversation.id": "conv-42",
          "user.id": "user-7",
          "tokenmeter.team": "payments",
          "tokenmeter.project": "checkout",
          "tokenmeter.feature": "order-status",
        },
      },
      ctx,
    );
    span.end(T0 + 1510);
    agent.end(T0 + 1600);
    await provider.forceFlush();
    await provider.shutdown();

    const traceId = span.spanContext().traceId;
    const calls = await callsOfTrace(traceId);
    expect(calls).toHaveLength(1); // the invoke_agent span is an aggregate, not a model call
    const c = calls[0]!;
    expect(c).toMatchObject({
      trace_id: traceId,
      span_id: span.spanContext().spanId,
      parent_span_id: agent.spanContext().spanId,
      timestamp: new Date(T0 + 10).toISOString().replace(/Z$/, "000Z"),
      service: "support-bot",
      environment: "production",
      team: "payments",
      project: "checkout",
      feature: "order-status",
      user_id: "user-7",
      session_id: "conv-42",
      source: "otlp",
      convention: "otel_genai",
      provider: "openai",
      operation: "chat",
      request_model: "gpt-4o",
      response_model: "gpt-4o-2024-08-06",
      response_id: "chatcmpl-123",
      input_tokens: 1200,
      output_tokens: 300,
      cache_read_tokens: 1024,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens_estimated: 0,
      // 176 uncached x $2.50/M + 1024 cached x $1.25/M + 300 output x $10/M
      // = 0.00044 + 0.00128 + 0.003 = 0.00472
      cost_usd: "0.00472",
      priced: 1,
      price_id: "openai/gpt-4o@2024-08-06",
      duration_ms: 1500,
      ttft_ms: 250,
      streamed: 1,
      status: "ok",
      error_type: "",
      finish_reason: "stop",
    });
    expect(JSON.parse(String(c["input"]))).toEqual([
      { role: "system", parts: [{ type: "text", content: "You are helpful." }] },
      { role: "user", parts: [{ type: "text", content: "Where is my order?" }] },
    ]);
    expect(JSON.parse(String(c["output"]))[0].parts[0].content).toBe("It ships today.");
    expect(JSON.parse(String(c["request_params"]))).toMatchObject({ temperature: 0.2, max_tokens: 512, stream: true });

    const tree = await collector.app.inject({ method: "GET", url: `/api/v1/traces/${traceId}` });
    expect(tree.statusCode).toBe(200);
    const body = tree.json() as {
      spans: Row[];
      tree: Array<{ operation: string; children: Array<{ call: Row | null }> }>;
    };
    expect(body.spans).toHaveLength(2);
    expect(body.tree).toHaveLength(1);
    expect(body.tree[0]?.operation).toBe("invoke_agent");
    expect(body.tree[0]?.children[0]?.call?.["span_id"]).toBe(span.spanContext().spanId);
  });

  it("deprecated convention over OTLP/protobuf: gen_ai.system, prompt_tokens and content events", async () => {
    const provider = providerWith(new OTLPProtoExporter({ url: `${url}/v1/traces` }), {
      "service.name": "legacy-worker",
      "deployment.environment": "staging",
    });
    const tracer = provider.getTracer("legacy");
    const span = tracer.startSpan("anthropic.chat", {
      startTime: T0,
      attributes: {
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.usage.prompt_tokens": 100,
        "gen_ai.usage.completion_tokens": 50,
        "enduser.id": "legacy-user",
      },
    });
    span.addEvent(
      "gen_ai.content.prompt",
      { "gen_ai.prompt": JSON.stringify([{ role: "user", content: "hi" }]) },
      T0 + 1,
    );
    span.addEvent("gen_ai.content.completion", { "gen_ai.completion": "hello there" }, T0 + 900);
    span.end(T0 + 1000);
    await provider.forceFlush();
    await provider.shutdown();

    const [c] = await callsOfTrace(span.spanContext().traceId);
    expect(c).toMatchObject({
      service: "legacy-worker",
      environment: "staging",
      user_id: "legacy-user",
      provider: "anthropic",
      operation: "chat",
      request_model: "claude-sonnet-4-5",
      input_tokens: 100,
      output_tokens: 50,
      // 100 x $3/M + 50 x $15/M = 0.0003 + 0.00075
      cost_usd: "0.00105",
      priced: 1,
      price_id: "anthropic/claude-sonnet-4-5@2025-09-29",
      duration_ms: 1000,
      ttft_ms: null,
      streamed: 0,
    });
    expect(JSON.parse(String(c?.["input"]))[0]).toMatchObject({
      role: "user",
      parts: [{ type: "text", content: "hi" }],
    });
    expect(String(c?.["output"])).toContain("hello there");
  });

  it("unknown model is stored unpriced (priced=0, cost NULL), never $0", async () => {
    const provider = providerWith(new OTLPProtoExporter({ url: `${url}/v1/traces` }), { "service.name": "lab" });
    const span = provider.getTracer("lab").startSpan("chat my-private-model", {
      startTime: T0,
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "vllm",
        "gen_ai.request.model": "my-private-model-7b",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
      },
    });
    span.end(T0 + 50);
    await provider.forceFlush();
    await provider.shutdown();
    const [c] = await callsOfTrace(span.spanContext().traceId);
    expect(c).toMatchObject({ priced: 0, cost_usd: null, price_id: "", input_tokens: 10, output_tokens: 5 });
    const metrics = await collector.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(
      /tokenmeter_llm_unpriced_calls_total\{provider="vllm",model="my-private-model-7b",team="unknown"\} 1/,
    );
  });

  it("usage missing falls back to the tokenizer and flags tokens_estimated", async () => {
    const provider = providerWith(new OTLPJsonExporter({ url: `${url}/v1/traces` }), { "service.name": "lab" });
    const span = provider.getTracer("lab").startSpan("chat gpt-4o-mini", {
      startTime: T0,
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.input.messages": JSON.stringify([
          { role: "user", parts: [{ type: "text", content: "Count the tokens in this sentence please." }] },
        ]),
        "gen_ai.output.messages": JSON.stringify([
          { role: "assistant", parts: [{ type: "text", content: "There are several tokens." }] },
        ]),
      },
    });
    span.end(T0 + 50);
    await provider.forceFlush();
    await provider.shutdown();
    const [c] = await callsOfTrace(span.spanContext().traceId);
    expect(c?.["tokens_estimated"]).toBe(1);
    expect(Number(c?.["input_tokens"])).toBeGreaterThan(5);
    expect(Number(c?.["output_tokens"])).toBeGreaterThan(3);
    expect(c?.["priced"]).toBe(1);
  });
});

/** OTLP/JSON spans of one service to /v1/traces, answered 200. */
async function postJsonSpans(service: string, spans: unknown[]): Promise<void> {
  const sent = await collector.app.inject({
    method: "POST",
    url: "/v1/traces",
    payload: JSON.stringify(otlpJsonTraces(service, spans)),
    headers: { "content-type": "application/json" },
  });
  expect(sent.statusCode).toBe(200);
}

describe("an app exporting every signal to tokenmeter", () => {
  it("its OTLP metrics are taken (200, nothing stored) by the official exporters, so the app logs no export error", async () => {
    for (const exporter of [
      new OTLPMetricJsonExporter({ url: `${url}/v1/metrics` }),
      new OTLPMetricProtoExporter({ url: `${url}/v1/metrics` }),
    ]) {
      const results: ExportResult[] = [];
      const reader = new PeriodicExportingMetricReader({
        exporter: {
          export: (metrics, done) =>
            exporter.export(metrics, (result) => {
              results.push(result);
              done(result);
            }),
          forceFlush: () => exporter.forceFlush(),
          shutdown: () => exporter.shutdown(),
        },
        exportIntervalMillis: 60_000,
      });
      const meters = new MeterProvider({
        resource: resourceFromAttributes({ "service.name": "app" }),
        readers: [reader],
      });
      meters.getMeter("app").createCounter("http.server.requests").add(3, { route: "/chat" });
      await meters.forceFlush();
      await meters.shutdown();
      expect(results.length).toBeGreaterThan(0);
      for (const r of results) expect(r).toEqual({ code: ExportResultCode.SUCCESS });
    }
    const metrics = await collector.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(/tokenmeter_ingest_requests_total\{signal="metrics",code="200"\} [1-9]/);
  });
});

describe("which build is running", () => {
  it("/metrics has tokenmeter_build_info with the version and the price book in force; /healthz the version", async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../collector/package.json"), "utf8")) as {
      version: string;
    };
    const catalog = JSON.parse(readFileSync(join(import.meta.dirname, "../collector/prices/catalog.json"), "utf8")) as {
      catalog_version: string;
    };
    const metrics = await collector.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain(
      `tokenmeter_build_info{version="${pkg.version}",price_book="${catalog.catalog_version}",nodejs="${process.version}"} 1`,
    );
    const health = await collector.app.inject({ method: "GET", url: "/healthz" });
    expect(health.json()).toEqual({ status: "ok", version: pkg.version });
  });
});

describe("read API paging", () => {
  it("next_cursor walks every call once, in order, ties in time included", async () => {
    const team = `paging-${Date.now()}`;
    const hex = (n: number, len: number) => n.toString(16).padStart(len, "0");
    // Seven calls, three of them in the same microsecond: the cursor has to break the tie.
    const starts = [0, 1, 1, 1, 2, 3, 4].map((k) => BigInt(T0 + k) * 1_000_000n + 123_456n);
    const spans = starts.map((start, i) => ({
      traceId: hex(0xfeed0000 + i, 32),
      spanId: hex(0xbeef0000 + i, 16),
      name: "chat gpt-4o-mini",
      kind: 3,
      startTimeUnixNano: `${start}`,
      endTimeUnixNano: `${start + 500_000_000n}`,
      attributes: [
        strAttr("gen_ai.operation.name", "chat"),
        strAttr("gen_ai.request.model", "gpt-4o-mini"),
        strAttr("tokenmeter.team", team),
        intAttr("gen_ai.usage.input_tokens", 10),
      ],
    }));
    await postJsonSpans("pager", spans);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await collector.app.inject({
        method: "GET",
        // Pages of two: the second one ends inside the group of three with the same time.
        url: `/api/v1/calls?team=${team}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      });
      expect(res.statusCode).toBe(200);
      const page = res.json() as { calls: Row[]; next_cursor?: string };
      seen.push(...page.calls.map((c) => `${c["timestamp"]} ${c["trace_id"]}`));
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== undefined && pages < 10);
    expect(pages).toBe(4);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    // Newest first; the same microsecond ordered by trace id, descending.
    expect(seen).toEqual([...seen].sort().reverse());
    // Microseconds survive the cursor: the newest call started 123 µs into its millisecond.
    expect(seen[0]?.split(" ")[0]).toBe(new Date(T0 + 4).toISOString().replace("Z", "123Z"));

    const bad = await collector.app.inject({ method: "GET", url: "/api/v1/calls?cursor=not-a-cursor" });
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as { error: { code: string; message: string } }).error).toMatchObject({
      code: "TM_ERR_BAD_REQUEST",
    });
  });

  it("content is bounded per response: a page of long-context calls ends early, a trace omits the rest and says so", async () => {
    const hex = (n: number, len: number) => n.toString(16).padStart(len, "0");
    const traceId = hex(0xc0a7e47, 32);
    // 40 calls of 900 KB prompts (36 MB): more than one response carries (32 MiB of content).
    const CALLS = 40;
    const call = (i: number) => ({
      traceId,
      spanId: hex(0xc0000 + i, 16),
      name: "chat gpt-4.1",
      kind: 3,
      startTimeUnixNano: `${BigInt(T0 + i) * 1_000_000n}`,
      endTimeUnixNano: `${BigInt(T0 + i + 1) * 1_000_000n}`,
      attributes: [
        strAttr("gen_ai.operation.name", "chat"),
        strAttr("gen_ai.provider.name", "openai"),
        strAttr("gen_ai.request.model", "gpt-4.1"),
        intAttr("gen_ai.usage.input_tokens", 225_000),
        intAttr("gen_ai.usage.output_tokens", 10),
        strAttr(
          "gen_ai.input.messages",
          JSON.stringify([{ role: "user", parts: [{ type: "text", content: `${i} ${"page ".repeat(180_000)}` }] }]),
        ),
      ],
    });
    for (let i = 0; i < CALLS; i += 10)
      await postJsonSpans(
        "long-context",
        Array.from({ length: 10 }, (_, k) => call(i + k)),
      );

    type Page = { calls: Row[]; next_cursor?: string };
    const get = async (url: string) => (await collector.app.inject({ method: "GET", url })).json();
    const first = (await get(`/api/v1/calls?trace_id=${traceId}&limit=100`)) as Page;
    expect(first.calls.length).toBeGreaterThan(20);
    expect(first.calls.length).toBeLessThan(CALLS);
    expect(first.next_cursor).toBeDefined();
    const second = (await get(`/api/v1/calls?trace_id=${traceId}&limit=100&cursor=${first.next_cursor}`)) as Page;
    const all = [...first.calls, ...second.calls];
    expect(all).toHaveLength(CALLS);
    expect(second.next_cursor).toBeUndefined();
    // Every call of both pages comes with its whole prompt, newest first.
    expect(all.map((c) => /"(\d+) page/.exec(String(c["input"]))?.[1])).toEqual(
      Array.from({ length: CALLS }, (_, i) => String(CALLS - 1 - i)),
    );
    for (const c of all) expect(String(c["input"]).length).toBeGreaterThan(900_000);
    const contentChars = first.calls.reduce((n, c) => n + String(c["input"]).length + String(c["output"]).length, 0);
    expect(contentChars).toBeLessThanOrEqual(MAX_RESPONSE_CONTENT_CHARS);

    const trace = (await get(`/api/v1/traces/${traceId}`)) as { calls: Row[]; content_truncated?: boolean };
    expect(trace.calls).toHaveLength(CALLS);
    expect(trace.content_truncated).toBe(true);
    const omitted = trace.calls.filter((c) => c["content_omitted"] === true);
    expect(omitted.length).toBeGreaterThan(0);
    for (const c of omitted) expect(c["input"]).toBeUndefined();
    // The earliest calls keep their content.
    expect(String(trace.calls[0]?.["input"])).toContain('"0 page');
  }, 60_000);

  it("a trace larger than one response holds is cut at its earliest 10,000 spans and says so", async () => {
    const hex = (n: number, len: number) => n.toString(16).padStart(len, "0");
    const span = (traceId: string, i: number) => ({
      traceId,
      spanId: hex(0xa0000 + i, 16),
      name: `step ${i}`,
      startTimeUnixNano: `${BigInt(T0 + i) * 1_000_000n}`,
      endTimeUnixNano: `${BigInt(T0 + i + 1) * 1_000_000n}`,
    });
    const big = hex(0xb16, 32);
    const small = hex(0x5e1, 32);
    const spans = [
      ...Array.from({ length: MAX_TRACE_ROWS + 1 }, (_, i) => span(big, i)),
      span(small, 0),
      span(small, 1),
    ];
    await postJsonSpans("agent", spans);
    const cut = (await collector.app.inject({ method: "GET", url: `/api/v1/traces/${big}` })).json() as {
      spans: Row[];
      truncated?: boolean;
    };
    expect(cut.spans).toHaveLength(MAX_TRACE_ROWS);
    expect(cut.truncated).toBe(true);
    expect(cut.spans[0]?.["name"]).toBe("step 0");
    expect(cut.spans.at(-1)?.["name"]).toBe(`step ${MAX_TRACE_ROWS - 1}`);
    const whole = (await collector.app.inject({ method: "GET", url: `/api/v1/traces/${small}` })).json() as {
      spans: Row[];
      truncated?: boolean;
    };
    expect(whole.spans).toHaveLength(2);
    expect(whole.truncated).toBeUndefined();
  });
});
