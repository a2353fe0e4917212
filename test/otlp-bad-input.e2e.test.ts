import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCollector, type Collector } from "../collector/src/app.js";
import { otlpJsonTraces } from "./helpers/collector.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";

/**
 * Bad input over HTTP: each request gets the OTLP spec's status and a coded error, the process
 * keeps serving, and valid spans sent beside invalid ones are kept where the spec allows.
 */
let collector: Collector;
const MAX_BODY = 4 * 1024 * 1024;

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  collector = await buildCollector({
    config: testConfig(dir, { ingest: { maxBodyBytes: MAX_BODY, maxAttributeValueBytes: 64 * 1024 } }),
    storage,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await collector?.close();
});

const hex = (n: number, len: number) => n.toString(16).padStart(len, "0");
let seq = 1;

function jsonSpan(overrides: Record<string, unknown> = {}, attrs: Array<Record<string, unknown>> = []) {
  const n = seq++;
  return {
    traceId: hex(0xabc000 + n, 32),
    spanId: hex(0xdef000 + n, 16),
    name: "chat gpt-4o-mini",
    kind: 3,
    startTimeUnixNano: "1793534400000000000",
    endTimeUnixNano: "1793534400500000000",
    attributes: [
      { key: "gen_ai.operation.name", value: { stringValue: "chat" } },
      { key: "gen_ai.provider.name", value: { stringValue: "openai" } },
      { key: "gen_ai.request.model", value: { stringValue: "gpt-4o-mini" } },
      { key: "gen_ai.usage.input_tokens", value: { intValue: "10" } },
      { key: "gen_ai.usage.output_tokens", value: { intValue: 4 } },
      ...attrs,
    ],
    ...overrides,
  };
}

function jsonRequest(spans: unknown[]) {
  return otlpJsonTraces("bad-input-test", spans);
}

async function post(body: string | Buffer, headers: Record<string, string>) {
  return collector.app.inject({ method: "POST", url: "/v1/traces", payload: body, headers });
}

async function callCount(traceId: string): Promise<number> {
  const res = await collector.app.inject({ method: "GET", url: `/api/v1/calls?trace_id=${traceId}` });
  return (res.json() as { calls: unknown[] }).calls.length;
}

async function stillServing() {
  const span = jsonSpan();
  const res = await post(JSON.stringify(jsonRequest([span])), { "content-type": "application/json" });
  expect(res.statusCode).toBe(200);
  expect(await callCount(span.traceId)).toBe(1);
}

describe("bad OTLP input", () => {
  it("truncated protobuf -> 400 TM_ERR_BAD_OTLP with a google.rpc.Status body", async () => {
    // A valid ExportTraceServiceRequest prefix whose length-delimited field runs past the end.
    const body = Buffer.from([0x0a, 0xff, 0x01, 0x0a, 0x05, 0x01, 0x02]);
    const res = await post(body, { "content-type": "application/x-protobuf" });
    expect(res.statusCode).toBe(400);
    expect(res.headers["x-tokenmeter-error-code"]).toBe("TM_ERR_BAD_OTLP");
    expect(res.headers["content-type"]).toBe("application/x-protobuf");
    await stillServing();
  });

  it("a trailing or doubled slash in the path reaches the same endpoint", async () => {
    for (const path of ["/v1/traces/", "//v1/traces"]) {
      const span = jsonSpan();
      const res = await collector.app.inject({
        method: "POST",
        url: path,
        payload: JSON.stringify(jsonRequest([span])),
        headers: { "content-type": "application/json" },
      });
      expect(res.statusCode).toBe(200);
      expect(await callCount(span.traceId)).toBe(1);
    }
  });

  it("GET (a browser, a misconfigured sender) -> 405 with Allow: POST and a coded JSON message", async () => {
    for (const url of ["/v1/traces", "/v1/logs"]) {
      const res = await collector.app.inject({ method: "GET", url });
      expect(res.statusCode).toBe(405);
      expect(res.headers["allow"]).toBe("POST");
      expect(res.json()).toEqual({
        error: {
          code: "TM_ERR_METHOD_NOT_ALLOWED",
          message: `GET is not accepted here: ${url} takes OTLP/HTTP exports by POST (protobuf or JSON)`,
        },
      });
    }
    expect((await collector.app.inject({ method: "PUT", url: "/v1/traces", payload: "x" })).statusCode).toBe(405);
  });

  it("wrong content type -> 415 TM_ERR_UNSUPPORTED_MEDIA_TYPE", async () => {
    const res = await post("hello", { "content-type": "text/plain" });
    expect(res.statusCode).toBe(415);
    expect(res.headers["x-tokenmeter-error-code"]).toBe("TM_ERR_UNSUPPORTED_MEDIA_TYPE");
    expect(res.json()).toMatchObject({ code: 3 });
    await stillServing();
  });

  it("gzip body over the limit once inflated -> 413 (the compressed body is small)", async () => {
    const big = JSON.stringify(
      jsonRequest([jsonSpan({}, [{ key: "pad", value: { stringValue: "x".repeat(MAX_BODY + 1024) } }])]),
    );
    const gz = gzipSync(big);
    expect(gz.length).toBeLessThan(MAX_BODY / 10);
    const res = await post(gz, { "content-type": "application/json", "content-encoding": "gzip" });
    expect(res.statusCode).toBe(413);
    expect(res.headers["x-tokenmeter-error-code"]).toBe("TM_ERR_BODY_TOO_LARGE");
    await stillServing();
  });

  it("deflate and br bodies are taken like gzip: stored, capped once inflated, corrupt -> 400", async () => {
    for (const [coding, compress] of [
      ["deflate", deflateSync],
      ["br", brotliCompressSync],
    ] as const) {
      const span = jsonSpan();
      const ok = await post(compress(JSON.stringify(jsonRequest([span]))), {
        "content-type": "application/json",
        "content-encoding": coding,
      });
      expect(ok.statusCode).toBe(200);
      expect(await callCount(span.traceId)).toBe(1);
      const padded = jsonSpan({}, [{ key: "pad", value: { stringValue: "x".repeat(MAX_BODY + 1024) } }]);
      const bomb = await post(compress(JSON.stringify(jsonRequest([padded]))), {
        "content-type": "application/json",
        "content-encoding": coding,
      });
      expect(bomb.statusCode).toBe(413);
      const corrupt = await post(Buffer.from("definitely not compressed"), {
        "content-type": "application/json",
        "content-encoding": coding,
      });
      expect(corrupt.statusCode).toBe(400);
      expect(corrupt.headers["x-tokenmeter-error-code"]).toBe("TM_ERR_BAD_OTLP");
    }
    const unknown = await post("{}", { "content-type": "application/json", "content-encoding": "snappy" });
    expect(unknown.statusCode).toBe(415);
    await stillServing();
  });

  it("uncompressed body over the limit -> 413", async () => {
    const res = await post(Buffer.alloc(MAX_BODY + 10, 0x20), { "content-type": "application/json" });
    expect(res.statusCode).toBe(413);
    expect(res.headers["x-tokenmeter-error-code"]).toBe("TM_ERR_BODY_TOO_LARGE");
    await stillServing();
  });

  it("JSON that is not OTLP at all -> 400", async () => {
    const res = await post("{ not json", { "content-type": "application/json" });
    expect(res.statusCode).toBe(400);
    expect(res.headers["x-tokenmeter-error-code"]).toBe("TM_ERR_BAD_OTLP");
    const wrongShape = await post(JSON.stringify({ resourceSpans: "nope" }), { "content-type": "application/json" });
    expect(wrongShape.statusCode).toBe(400);
    await stillServing();
  });

  it("JSON with wrong types in one span: that span is rejected, its valid sibling kept (partial success)", async () => {
    const good = jsonSpan();
    const bad = jsonSpan({ startTimeUnixNano: { oops: true }, spanId: 12345 });
    const res = await post(JSON.stringify(jsonRequest([good, bad])), { "content-type": "application/json" });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { partialSuccess?: { rejectedSpans?: string | number; errorMessage?: string } };
    expect(Number(body.partialSuccess?.rejectedSpans)).toBe(1);
    expect(body.partialSuccess?.errorMessage).toBeTruthy();
    expect(await callCount(good.traceId)).toBe(1);
  });

  it("spans with missing ids are rejected and counted; the rest of the request is stored", async () => {
    const good = jsonSpan();
    const noTrace = jsonSpan({ traceId: "" });
    const zeroSpan = jsonSpan({ spanId: "0000000000000000" });
    const res = await post(JSON.stringify(jsonRequest([noTrace, good, zeroSpan])), {
      "content-type": "application/json",
    });
    expect(res.statusCode).toBe(200);
    expect(Number((res.json() as { partialSuccess: { rejectedSpans: string } }).partialSuccess.rejectedSpans)).toBe(2);
    expect(await callCount(good.traceId)).toBe(1);
    const metrics = await collector.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(/tokenmeter_spans_rejected_total\{signal="traces",reason="invalid_span"\} [1-9]/);
  });

  it("spans with a missing or absurd start time are rejected with the reason; the rest is stored", async () => {
    const good = jsonSpan();
    const unset = jsonSpan({ startTimeUnixNano: undefined });
    const ahead = jsonSpan({ startTimeUnixNano: `${BigInt(Date.UTC(2100, 0, 1)) * 1_000_000n}` });
    const res = await post(JSON.stringify(jsonRequest([unset, good, ahead])), { "content-type": "application/json" });
    expect(res.statusCode).toBe(200);
    const { partialSuccess } = res.json() as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(Number(partialSuccess.rejectedSpans)).toBe(2);
    expect(partialSuccess.errorMessage).toContain("startTimeUnixNano is missing");
    expect(await callCount(good.traceId)).toBe(1);
    expect(await callCount(unset.traceId)).toBe(0);
    expect(await callCount(ahead.traceId)).toBe(0);
  });

  it("absurd-numbers-reach-no-row-or-metric-and-nothing-waits-behind-them", async () => {
    // Values no column can hold: a batch the engine refused would be retried, holding up every
    // batch behind it. Token counts no call can have make the sender's usage unknown (unpriced,
    // not metered); other numbers are clamped to their columns.
    const absurd = jsonSpan({ kind: 300 }, [
      { key: "gen_ai.usage.input_tokens", value: { doubleValue: 1e300 } },
      { key: "gen_ai.usage.cache_read.input_tokens", value: { doubleValue: -1e300 } },
      { key: "http.response.status_code", value: { intValue: "-3" } },
      { key: "gen_ai.usage.cost", value: { doubleValue: 1e300 } },
    ]);
    const good = jsonSpan();
    const res = await post(JSON.stringify(jsonRequest([absurd, good])), { "content-type": "application/json" });
    expect(res.statusCode).toBe(200);
    const read = await collector.app.inject({ method: "GET", url: `/api/v1/calls?trace_id=${absurd.traceId}` });
    const [call] = (read.json() as { calls: Array<Record<string, unknown>> }).calls;
    expect(call).toMatchObject({ http_status: 0, cost_usd: null, priced: 0, reported_cost_usd: null });
    expect(call).toMatchObject({ input_tokens: 0, cache_read_tokens: 0, tokens_estimated: 0 });
    const metrics = await collector.app.inject({ method: "GET", url: "/metrics" });
    const counted = [...metrics.body.matchAll(/^tokenmeter_llm_tokens_total\{[^}]*\} (\S+)$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(counted.every((n) => n < 1e9)).toBe(true);
    expect(await callCount(good.traceId)).toBe(1);
    await stillServing();
  });

  it("a 10 MB attribute is truncated and the span kept", async () => {
    const { dir, storage } = await embeddedStorage();
    // A collector whose body limit admits the 10 MB attribute; the attribute cap truncates it.
    const big = await buildCollector({
      config: testConfig(dir, { ingest: { maxBodyBytes: 32 * 1024 * 1024, maxAttributeValueBytes: 256 * 1024 } }),
      storage,
      logger: silentLogger,
    });
    try {
      const span = jsonSpan({}, [{ key: "app.blob", value: { stringValue: "y".repeat(10 * 1024 * 1024) } }]);
      const res = await big.app.inject({
        method: "POST",
        url: "/v1/traces",
        payload: JSON.stringify(jsonRequest([span])),
        headers: { "content-type": "application/json" },
      });
      expect(res.statusCode).toBe(200);
      const trace = await big.app.inject({ method: "GET", url: `/api/v1/traces/${span.traceId}` });
      const spans = (trace.json() as { spans: Array<{ attributes: Record<string, string> }> }).spans;
      expect(spans).toHaveLength(1);
      expect(spans[0]?.attributes["tokenmeter.truncated_attributes"]).toContain("app.blob");
      expect(spans[0]?.attributes["app.blob"]?.length ?? 0).toBeLessThanOrEqual(256 * 1024);
    } finally {
      await big.close();
    }
  });

  it("invalid UTF-8 in a protobuf string is replaced, not fatal", async () => {
    const { ProtobufTraceSerializer } = await import("@opentelemetry/otlp-transformer");
    const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import(
      "@opentelemetry/sdk-trace-base"
    );
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const marker = "MARKER-UTF8-XYZ";
    const s = provider.getTracer("t").startSpan("chat m", {
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 1,
        "gen_ai.usage.output_tokens": 1,
        "app.text": marker,
      },
    });
    s.end();
    const bytes = Buffer.from(ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans()) as Uint8Array);
    // Overwrite the marker with bytes that are not valid UTF-8.
    const at = bytes.indexOf(Buffer.from(marker));
    expect(at).toBeGreaterThan(0);
    bytes[at] = 0xff;
    bytes[at + 1] = 0xfe;
    const res = await post(bytes, { "content-type": "application/x-protobuf" });
    expect(res.statusCode).toBe(200);
    expect(await callCount(s.spanContext().traceId)).toBe(1);
  });

  it("ingest token: missing bearer -> 401 coded, correct bearer -> 200", async () => {
    const { dir, storage } = await embeddedStorage();
    const guarded = await buildCollector({
      config: testConfig(dir, { server: { ingestToken: "s3cret-ingest", apiToken: "s3cret-api" } }),
      storage,
      logger: silentLogger,
    });
    try {
      const body = JSON.stringify(jsonRequest([jsonSpan()]));
      const denied = await guarded.app.inject({
        method: "POST",
        url: "/v1/traces",
        payload: body,
        headers: { "content-type": "application/json" },
      });
      expect(denied.statusCode).toBe(401);
      expect(denied.headers["x-tokenmeter-error-code"]).toBe("TM_ERR_UNAUTHORIZED");
      const ok = await guarded.app.inject({
        method: "POST",
        url: "/v1/traces",
        payload: body,
        headers: { "content-type": "application/json", authorization: "Bearer s3cret-ingest" },
      });
      expect(ok.statusCode).toBe(200);
      const api = await guarded.app.inject({ method: "GET", url: "/api/v1/calls" });
      expect(api.statusCode).toBe(401);
      expect((api.json() as { error: { code: string } }).error.code).toBe("TM_ERR_UNAUTHORIZED");
    } finally {
      await guarded.close();
    }
  });
});
