import { gzipSync } from "node:zlib";
import { context, type HrTime, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import {
  JsonLogsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufTraceSerializer,
} from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { isTokenmeterError } from "../errors.js";
import { TRUNCATED_ATTRIBUTES_KEY } from "./attributes.js";
import { type DecodeLimits, decodeLogs, decodeTraces, encodeLogsResponse, encodeTracesResponse } from "./decode.js";
import type { DecodedSpan } from "./types.js";

// Payloads come from the official OpenTelemetry JS serializers, byte-identical to what the
// OTLP/HTTP exporters send.

const PROTOBUF = "application/x-protobuf";
const JSON_TYPE = "application/json";
const LIMITS: DecodeLimits = { maxBodyBytes: 32 * 1024 * 1024, maxAttributeValueBytes: 1024 * 1024 };

const RESOURCE = { "service.name": "checkout", "deployment.environment.name": "staging" };

function recordSpans(build: (tracer: Tracer) => void): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(RESOURCE),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  build(provider.getTracer("tokenmeter-tests", "1.2.3"));
  return exporter.getFinishedSpans();
}

function protobufTraces(spans: ReadableSpan[]): Buffer {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (!bytes) throw new Error("serializer returned nothing");
  return Buffer.from(bytes);
}

function jsonTraces(spans: ReadableSpan[]): Buffer {
  const bytes = JsonTraceSerializer.serializeRequest(spans);
  if (!bytes) throw new Error("serializer returned nothing");
  return Buffer.from(bytes);
}

/** A copy of `span` with other attributes and/or span context. */
function patched(
  span: ReadableSpan,
  patch: { attributes?: Record<string, unknown>; traceId?: string; spanId?: string },
): ReadableSpan {
  const ctx = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => ({ ...ctx, traceId: patch.traceId ?? ctx.traceId, spanId: patch.spanId ?? ctx.spanId }),
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    // The OTLP encoders take any AnyValue (bytes, maps, mixed arrays); the tracing API's
    // attribute type only admits primitives and homogeneous arrays.
    attributes: (patch.attributes ?? span.attributes) as ReadableSpan["attributes"],
    links: span.links,
    events: span.events,
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

function micros(t: HrTime): number {
  return t[0] * 1_000_000 + Math.floor(t[1] / 1000);
}

/** Runs `fn`, which must throw a TokenmeterError; returns it. */
function thrown(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    if (isTokenmeterError(err)) return err;
    throw err;
  }
  throw new Error("expected a TokenmeterError");
}

const ALL_KINDS: Record<string, unknown> = {
  "gen_ai.request.model": "gpt-4o",
  "gen_ai.usage.input_tokens": 1234,
  "big.int": 2 ** 40,
  "negative.int": -42,
  "gen_ai.request.temperature": 0.25,
  "gen_ai.request.stream": true,
  "gen_ai.response.finish_reasons": ["stop", "length"],
  "mixed.array": [1, "two", 3.5, false],
  "empty.array": [],
  "tool.arguments": { city: "Paris", days: 3, nested: { ok: true, tags: ["a"] } },
  "request.digest": new Uint8Array([0, 1, 254, 255]),
  "unicode.text": "héllo wörld — 日本語 🚀",
};

/** A parent and a CLIENT child with every attribute kind, an event and an error status. */
function genAiSpans(): ReadableSpan[] {
  const spans = recordSpans((tracer) => {
    const parent = tracer.startSpan("invoke_agent support", { startTime: [1_700_000_000, 0] });
    const child = tracer.startSpan(
      "chat gpt-4o",
      { kind: SpanKind.CLIENT, startTime: [1_700_000_000, 123_456_789] },
      trace.setSpan(context.active(), parent),
    );
    child.addEvent("gen_ai.choice", { "gen_ai.choice.index": 0, message: "hi there" }, [1_700_000_000, 500_000_999]);
    child.setStatus({ code: SpanStatusCode.ERROR, message: "rate limited" });
    child.end([1_700_000_001, 987_654_321]);
    parent.end([1_700_000_002, 0]);
  });
  const [child, parent] = spans;
  if (!child || !parent) throw new Error("expected two spans");
  return [patched(child, { attributes: ALL_KINDS }), parent];
}

describe("decodeTraces: round trip of exporter payloads", () => {
  it("decodes a protobuf payload with every attribute kind, events, status, parent, resource and scope", () => {
    const [child, parent] = genAiSpans();
    if (!child || !parent) throw new Error("fixture");
    const result = decodeTraces(protobufTraces([child, parent]), PROTOBUF, undefined, LIMITS);

    expect(result.rejected).toBe(0);
    expect(result.rejectReason).toBe("");
    expect(result.items).toHaveLength(2);
    const decoded = result.items.find((s) => s.name === "chat gpt-4o");
    const expected: DecodedSpan = {
      traceId: child.spanContext().traceId,
      spanId: child.spanContext().spanId,
      parentSpanId: parent.spanContext().spanId,
      name: "chat gpt-4o",
      kind: 3, // OTLP SPAN_KIND_CLIENT (the API's CLIENT is 2)
      startTimeUs: 1_700_000_000_123_456,
      endTimeUs: 1_700_000_001_987_654,
      attributes: {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1234,
        "big.int": 2 ** 40,
        "negative.int": -42,
        "gen_ai.request.temperature": 0.25,
        "gen_ai.request.stream": true,
        "gen_ai.response.finish_reasons": ["stop", "length"],
        "mixed.array": [1, "two", 3.5, false],
        "empty.array": [],
        "tool.arguments": { city: "Paris", days: 3, nested: { ok: true, tags: ["a"] } },
        "request.digest": new Uint8Array([0, 1, 254, 255]),
        "unicode.text": "héllo wörld — 日本語 🚀",
      },
      events: [
        {
          name: "gen_ai.choice",
          timeUs: 1_700_000_000_500_000,
          attributes: { "gen_ai.choice.index": 0, message: "hi there" },
        },
      ],
      status: { code: 2, message: "rate limited" },
      resource: { attributes: RESOURCE },
      scope: { name: "tokenmeter-tests", version: "1.2.3" },
    };
    // The SDK adds its telemetry.sdk.* resource attributes; only ours are asserted.
    expect(decoded).toMatchObject({ ...expected, resource: { attributes: expect.objectContaining(RESOURCE) } });
    expect(decoded?.attributes).toEqual(expected.attributes);
    expect(decoded?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(decoded?.spanId).toMatch(/^[0-9a-f]{16}$/);

    const root = result.items.find((s) => s.name === "invoke_agent support");
    expect(root?.parentSpanId).toBe("");
    expect(root?.kind).toBe(1);
    expect(root?.status).toEqual({ code: 0, message: "" });
    expect(root?.startTimeUs).toBe(micros(parent.startTime));
  });

  it("decodes the JSON payload of the same spans to exactly the same result", () => {
    const spans = genAiSpans();
    const fromProtobuf = decodeTraces(protobufTraces(spans), PROTOBUF, undefined, LIMITS);
    const fromJson = decodeTraces(jsonTraces(spans), JSON_TYPE, undefined, LIMITS);
    expect(fromJson).toEqual(fromProtobuf);
  });

  it("accepts media types in any case and with parameters such as charset", () => {
    const spans = genAiSpans();
    expect(decodeTraces(protobufTraces(spans), "Application/X-Protobuf", undefined, LIMITS).items).toHaveLength(2);
    expect(decodeTraces(jsonTraces(spans), "application/json; charset=utf-8", undefined, LIMITS).items).toHaveLength(2);
    // The registered name of the same encoding, which some senders use.
    expect(decodeTraces(protobufTraces(spans), "application/protobuf", undefined, LIMITS).items).toHaveLength(2);
  });

  it("reads gzip bodies (protobuf and JSON) and accepts identity as no encoding", () => {
    const spans = genAiSpans();
    const plain = decodeTraces(protobufTraces(spans), PROTOBUF, undefined, LIMITS);
    expect(decodeTraces(gzipSync(protobufTraces(spans)), PROTOBUF, "gzip", LIMITS)).toEqual(plain);
    expect(decodeTraces(gzipSync(jsonTraces(spans)), JSON_TYPE, "GZIP", LIMITS)).toEqual(plain);
    expect(decodeTraces(protobufTraces(spans), PROTOBUF, "identity", LIMITS)).toEqual(plain);
  });

  it("returns no items for an empty protobuf body or an empty JSON request", () => {
    expect(decodeTraces(Buffer.alloc(0), PROTOBUF, undefined, LIMITS)).toEqual({
      items: [],
      rejected: 0,
      rejectReason: "",
    });
    expect(decodeTraces(Buffer.from("{}"), JSON_TYPE, undefined, LIMITS).items).toEqual([]);
  });
});

describe("decodeTraces: request-level errors", () => {
  const body = () => protobufTraces(genAiSpans());

  it("rejects an unsupported content type with 415", () => {
    for (const type of ["text/plain", "", "application/protobuf-ish", "application/grpc"]) {
      const err = thrown(() => decodeTraces(body(), type, undefined, LIMITS));
      expect(err.code).toBe("TM_ERR_UNSUPPORTED_MEDIA_TYPE");
      expect(err.statusCode).toBe(415);
    }
  });

  it("rejects a content encoding it does not take with 415 (stacked codings included)", () => {
    for (const encoding of ["snappy", "lz4", "gzip, br", "compress"]) {
      expect(thrown(() => decodeTraces(body(), PROTOBUF, encoding, LIMITS)).code).toBe("TM_ERR_UNSUPPORTED_ENCODING");
    }
  });

  it("answers 413 for a gzip bomb without inflating it past the limit", () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const err = thrown(() => decodeTraces(bomb, PROTOBUF, "gzip", { ...LIMITS, maxBodyBytes: 1024 * 1024 }));
    expect(err.code).toBe("TM_ERR_BODY_TOO_LARGE");
    expect(err.statusCode).toBe(413);
  });

  it("answers 413 for a gzip body that inflates to just over the limit, and accepts one at the limit", () => {
    const raw = body();
    const gz = gzipSync(raw);
    expect(decodeTraces(gz, PROTOBUF, "gzip", { ...LIMITS, maxBodyBytes: raw.length }).items).toHaveLength(2);
    expect(thrown(() => decodeTraces(gz, PROTOBUF, "gzip", { ...LIMITS, maxBodyBytes: raw.length - 1 })).code).toBe(
      "TM_ERR_BODY_TOO_LARGE",
    );
  });

  it("answers 413 for an uncompressed body over the limit", () => {
    const raw = body();
    expect(thrown(() => decodeTraces(raw, PROTOBUF, undefined, { ...LIMITS, maxBodyBytes: 100 })).code).toBe(
      "TM_ERR_BODY_TOO_LARGE",
    );
  });

  it("answers 400 for a corrupt gzip stream", () => {
    const gz = gzipSync(body());
    for (const bad of [gz.subarray(0, gz.length >> 1), Buffer.from("not gzip at all"), Buffer.alloc(0)]) {
      expect(thrown(() => decodeTraces(bad, PROTOBUF, "gzip", LIMITS)).code).toBe("TM_ERR_BAD_OTLP");
    }
  });

  it("answers 400 for a protobuf body truncated at any byte", () => {
    const [child] = genAiSpans();
    if (!child) throw new Error("fixture");
    const raw = protobufTraces([child]);
    for (let cut = 1; cut < raw.length; cut++) {
      const err = thrown(() => decodeTraces(raw.subarray(0, cut), PROTOBUF, undefined, LIMITS));
      expect(err.code).toBe("TM_ERR_BAD_OTLP");
      expect(err.statusCode).toBe(400);
    }
  });

  it("never fails with anything but a 400 on randomly corrupted protobuf bytes", () => {
    const raw = body();
    let seed = 0x5eed;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let round = 0; round < 300; round++) {
      const corrupted = Buffer.from(raw);
      for (let n = 0; n < 1 + (round % 4); n++)
        corrupted[Math.floor(random() * corrupted.length)] = Math.floor(random() * 256);
      try {
        decodeTraces(corrupted, PROTOBUF, undefined, LIMITS);
      } catch (err) {
        expect(isTokenmeterError(err) && err.code).toBe("TM_ERR_BAD_OTLP");
      }
    }
  });

  it("answers 400 for a body that is not JSON or not an OTLP request object", () => {
    for (const text of ["not json", "[]", "null", '"x"', '{"resourceSpans": {}}', '{"resourceSpans": [1]}']) {
      expect(thrown(() => decodeTraces(Buffer.from(text), JSON_TYPE, undefined, LIMITS)).code).toBe("TM_ERR_BAD_OTLP");
    }
    const wrongInner = [
      { resourceSpans: [{ scopeSpans: 3 }] },
      { resourceSpans: [{ scopeSpans: [{ spans: "x" }] }] },
      { resourceSpans: [{ resource: { attributes: [{ key: 1 }] }, scopeSpans: [] }] },
      { resourceSpans: [{ scopeSpans: [{ scope: { name: 7 }, spans: [] }] }] },
    ];
    for (const req of wrongInner) {
      expect(thrown(() => decodeTraces(Buffer.from(JSON.stringify(req)), JSON_TYPE, undefined, LIMITS)).code).toBe(
        "TM_ERR_BAD_OTLP",
      );
    }
  });
});

describe("decodeTraces: per-span validation (partial success)", () => {
  function spansWithBadIds(): ReadableSpan[] {
    const spans = recordSpans((tracer) => {
      for (const name of ["good-1", "zero-trace-id", "empty-span-id", "short-trace-id", "good-2"])
        tracer.startSpan(name).end();
    });
    return spans.map((span) => {
      if (span.name === "zero-trace-id") return patched(span, { traceId: "0".repeat(32) });
      if (span.name === "empty-span-id") return patched(span, { spanId: "" });
      if (span.name === "short-trace-id") return patched(span, { traceId: "abcd".repeat(4) });
      return span;
    });
  }

  it("rejects protobuf spans with a missing, short or all-zero id and keeps their siblings", () => {
    const result = decodeTraces(protobufTraces(spansWithBadIds()), PROTOBUF, undefined, LIMITS);
    expect(result.items.map((s) => s.name)).toEqual(["good-1", "good-2"]);
    expect(result.rejected).toBe(3);
    expect(result.rejectReason).not.toBe("");
  });

  it("rejects the same spans in JSON and keeps their siblings", () => {
    const result = decodeTraces(jsonTraces(spansWithBadIds()), JSON_TYPE, undefined, LIMITS);
    expect(result.items.map((s) => s.name)).toEqual(["good-1", "good-2"]);
    expect(result.rejected).toBe(3);
  });

  it("rejects spans whose start time is missing, before 2000 or more than a day ahead; keeps the others", () => {
    const ids = { traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174" };
    const ns = (ms: number) => `${BigInt(ms) * 1_000_000n}`;
    const now = Date.now();
    const spans: Array<{ traceId: string; spanId: string; name: string; startTimeUnixNano?: string }> = [
      { ...ids, name: "missing" },
      { ...ids, name: "zero", startTimeUnixNano: "0" },
      { ...ids, name: "epoch", startTimeUnixNano: "1000" },
      { ...ids, name: "year-2100", startTimeUnixNano: ns(Date.UTC(2100, 0, 1)) },
      { ...ids, name: "a-day-and-a-minute-ahead", startTimeUnixNano: ns(now + 86_460_000) },
      { ...ids, name: "an-hour-ahead", startTimeUnixNano: ns(now + 3_600_000) },
      { ...ids, name: "last-year", startTimeUnixNano: ns(now - 365 * 86_400_000) },
    ];
    const json = decodeTraces(
      Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] })),
      JSON_TYPE,
      undefined,
      LIMITS,
    );
    expect(json.items.map((s) => s.name)).toEqual(["an-hour-ahead", "last-year"]);
    expect(json.rejected).toBe(5);
    expect(json.rejectReason).toBe('span "missing": startTimeUnixNano is missing');
    // The protobuf decoder applies the same rule.
    const Request = protobuf
      .loadSync(
        new URL("../../proto/opentelemetry/proto/collector/trace/v1/trace_service.proto", import.meta.url).pathname,
        Object.assign(new protobuf.Root(), {
          resolvePath: (_origin: string, target: string) =>
            target.startsWith("/") ? target : new URL(`../../proto/${target}`, import.meta.url).pathname,
        }),
      )
      .lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
    const proto = Request.encode(
      Request.fromObject({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: spans.map((s) => ({
                  traceId: Buffer.from(s.traceId, "hex"),
                  spanId: Buffer.from(s.spanId, "hex"),
                  name: s.name,
                  startTimeUnixNano: s.startTimeUnixNano ?? "0",
                })),
              },
            ],
          },
        ],
      }),
    ).finish();
    const decoded = decodeTraces(Buffer.from(proto), PROTOBUF, undefined, LIMITS);
    expect(decoded.items.map((s) => s.name)).toEqual(["an-hour-ahead", "last-year"]);
    expect(decoded.rejected).toBe(5);
  });

  it("rejects JSON spans whose fields have the wrong type and keeps the valid one", () => {
    const ids = { traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174" };
    const good = { ...ids, name: "good", kind: 3, startTimeUnixNano: "1700000000000000000" };
    const spans = [
      good,
      { ...ids, name: 5 },
      { ...ids, name: "bad-int", attributes: [{ key: "n", value: { intValue: "12abc" } }] },
      { ...ids, name: "bad-attributes", attributes: "x" },
      { ...ids, name: "bad-time", startTimeUnixNano: "-1" },
      { ...ids, name: "bad-kind", kind: "SPAN_KIND_SIDEWAYS" },
      { ...ids, name: "bad-status", status: { code: 2, message: 9 } },
      { ...ids, name: "bad-event", events: [{ name: "e", attributes: [{ key: "k", value: { boolValue: "yes" } }] }] },
      { ...ids, name: "base64-id", traceId: "W47/95gDgQPSabYzgT/GDA==" },
      42,
    ];
    const body = Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }));
    const result = decodeTraces(body, JSON_TYPE, undefined, LIMITS);
    expect(result.items.map((s) => s.name)).toEqual(["good"]);
    expect(result.rejected).toBe(spans.length - 1);
  });

  it("accepts proto field names, enum names, uppercase hex and int64 as string or number in JSON", () => {
    const span = {
      trace_id: "5B8EFFF798038103D269B633813FC60C",
      span_id: "EEE19B7EC3C1B174",
      parent_span_id: "0000000000000000",
      name: "snake",
      kind: "SPAN_KIND_CLIENT",
      start_time_unix_nano: "1700000000123456789",
      endTimeUnixNano: 1_700_000_001_000_000_000,
      attributes: [
        { key: "s", value: { string_value: "v" } },
        { key: "i", value: { int_value: "-5" } },
        { key: "d", value: { double_value: "Infinity" } },
        { key: "n", value: { doubleValue: "NaN" } },
        { key: "b", value: { bytes_value: "AAH+/w==" } },
        { key: "a", value: { array_value: {} } },
        { key: "kv", value: { kvlist_value: { values: [{ key: "x", value: { bool_value: false } }] } } },
        { key: "empty", value: {} },
        { key: "absent" },
      ],
      status: { code: "STATUS_CODE_ERROR", message: "boom" },
    };
    const body = {
      resource_spans: [{ resource: { attributes: [] }, scope_spans: [{ scope: { name: "s" }, spans: [span] }] }],
    };
    const result = decodeTraces(Buffer.from(JSON.stringify(body)), JSON_TYPE, undefined, LIMITS);
    expect(result.rejected).toBe(0);
    expect(result.items[0]).toEqual({
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: "eee19b7ec3c1b174",
      parentSpanId: "",
      name: "snake",
      kind: 3,
      startTimeUs: 1_700_000_000_123_456,
      endTimeUs: 1_700_000_001_000_000,
      attributes: {
        s: "v",
        i: -5,
        d: Number.POSITIVE_INFINITY,
        n: Number.NaN,
        b: new Uint8Array([0, 1, 254, 255]),
        a: [],
        kv: { x: false },
        empty: null,
        absent: null,
      },
      events: [],
      status: { code: 2, message: "boom" },
      resource: { attributes: {} },
      scope: { name: "s", version: "" },
    });
  });

  it("keeps a __proto__ attribute key as data instead of changing the object's prototype", () => {
    const [span] = recordSpans((tracer) => tracer.startSpan("p").end());
    if (!span) throw new Error("fixture");
    const hostile = patched(span, { attributes: JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') });
    for (const [body, type] of [
      [protobufTraces([hostile]), PROTOBUF],
      [jsonTraces([hostile]), JSON_TYPE],
    ] as const) {
      const attrs = decodeTraces(body, type, undefined, LIMITS).items[0]?.attributes ?? {};
      expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
      expect(Object.keys(attrs).sort()).toEqual(["__proto__", "ok"]);
      expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    }
  });

  it("rejects a span whose attribute value nests deeper than the limit and keeps its siblings", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 100; i++) deep = [deep];
    const spans = recordSpans((tracer) => {
      tracer.startSpan("deep").end();
      tracer.startSpan("flat").end();
    }).map((s) => (s.name === "deep" ? patched(s, { attributes: { deep } }) : s));
    for (const [body, type] of [
      [protobufTraces(spans), PROTOBUF],
      [jsonTraces(spans), JSON_TYPE],
    ] as const) {
      const result = decodeTraces(body, type, undefined, LIMITS);
      expect(result.items.map((s) => s.name)).toEqual(["flat"]);
      expect(result.rejected).toBe(1);
    }
  });
});

describe("decodeTraces: attribute size limit", () => {
  it("truncates a 10 MB attribute to the limit on a character boundary and keeps the span", () => {
    const huge = "€".repeat(3_500_000); // 3 bytes each: 10.5 MB of UTF-8
    const [span] = recordSpans((tracer) => {
      tracer
        .startSpan("chat", { attributes: { "gen_ai.input.messages": huge, "gen_ai.request.model": "gpt-4o" } })
        .end();
    });
    if (!span) throw new Error("fixture");
    const limits = { maxBodyBytes: 32 * 1024 * 1024, maxAttributeValueBytes: 1_000_000 };
    for (const [body, type] of [
      [protobufTraces([span]), PROTOBUF],
      [jsonTraces([span]), JSON_TYPE],
    ] as const) {
      const result = decodeTraces(body, type, undefined, limits);
      expect(result.rejected).toBe(0);
      const attrs = result.items[0]?.attributes ?? {};
      // 1,000,000 bytes hold 333,333 whole euro signs (999,999 bytes).
      expect(attrs["gen_ai.input.messages"]).toBe("€".repeat(333_333));
      expect(attrs["gen_ai.request.model"]).toBe("gpt-4o");
      expect(attrs[TRUNCATED_ATTRIBUTES_KEY]).toEqual(["gen_ai.input.messages"]);
    }
  });

  it("truncates long strings nested in arrays, maps and events and lists where they were", () => {
    const long = "x".repeat(50);
    const [span] = recordSpans((tracer) => {
      const s = tracer.startSpan("chat");
      s.addEvent("gen_ai.user.message", { content: long, short: "ok" });
      s.end();
    });
    if (!span) throw new Error("fixture");
    const withNested = patched(span, {
      attributes: { list: ["a", long], map: { inner: long }, bytes: new Uint8Array(60) },
    });
    for (const [body, type] of [
      [protobufTraces([withNested]), PROTOBUF],
      [jsonTraces([withNested]), JSON_TYPE],
    ] as const) {
      const decoded = decodeTraces(body, type, undefined, { ...LIMITS, maxAttributeValueBytes: 10 }).items[0];
      expect(decoded?.attributes["list"]).toEqual(["a", "x".repeat(10)]);
      expect(decoded?.attributes["map"]).toEqual({ inner: "x".repeat(10) });
      expect(decoded?.attributes["bytes"]).toEqual(new Uint8Array(10));
      expect(decoded?.events[0]?.attributes).toEqual({ content: "x".repeat(10), short: "ok" });
      expect(decoded?.attributes[TRUNCATED_ATTRIBUTES_KEY]).toEqual(["list", "map", "bytes", "events[0].content"]);
    }
  });
});

describe("decodeTraces: protobuf wire edge cases", () => {
  it("replaces invalid UTF-8 in protobuf strings with U+FFFD instead of failing", () => {
    const [span] = recordSpans((tracer) => {
      tracer.startSpan("NAME-MARK", { attributes: { "KEY-MARK": "VALUE-MARK tail" } }).end();
    });
    if (!span) throw new Error("fixture");
    const body = protobufTraces([span]);
    for (const marker of ["NAME-MARK", "KEY-MARK", "VALUE-MARK"]) {
      const at = body.indexOf(marker);
      expect(at).toBeGreaterThanOrEqual(0);
      body[at] = 0xff; // never valid in UTF-8
      body[at + 1] = 0xc3; // a lead byte followed by ASCII: truncated sequence
    }
    const result = decodeTraces(body, PROTOBUF, undefined, LIMITS);
    expect(result.rejected).toBe(0);
    const decoded = result.items[0];
    expect(decoded?.name).toBe("\uFFFD\uFFFDME-MARK");
    expect(decoded?.attributes["\uFFFD\uFFFDY-MARK"]).toBe("\uFFFD\uFFFDLUE-MARK tail");
  });

  it("decodes fields in any order, as the protobuf wire format allows", () => {
    const [span] = recordSpans((tracer) => tracer.startSpan("reordered").end());
    if (!span) throw new Error("fixture");
    const root = protobuf.loadSync(
      ["trace/v1/trace.proto"].map((p) => new URL(`../../proto/opentelemetry/proto/${p}`, import.meta.url).pathname),
      Object.assign(new protobuf.Root(), {
        resolvePath: (_origin: string, target: string) =>
          target.startsWith("/") ? target : new URL(`../../proto/${target}`, import.meta.url).pathname,
      }),
    );
    const ResourceSpans = root.lookupType("opentelemetry.proto.trace.v1.ResourceSpans");
    const id = (hex: string) => Buffer.from(hex, "hex");
    const ctx = span.spanContext();
    // Concatenated encodings merge: here scope_spans comes before resource.
    const scopeFirst = Buffer.concat([
      ResourceSpans.encode(
        ResourceSpans.fromObject({
          scopeSpans: [
            {
              scope: { name: "late-scope" },
              spans: [
                {
                  traceId: id(ctx.traceId),
                  spanId: id(ctx.spanId),
                  name: "reordered",
                  startTimeUnixNano: "1700000000000000000",
                },
              ],
            },
          ],
        }),
      ).finish(),
      ResourceSpans.encode(
        ResourceSpans.fromObject({
          resource: { attributes: [{ key: "service.name", value: { stringValue: "late" } }] },
        }),
      ).finish(),
    ]);
    const body = Buffer.from(protobuf.Writer.create().uint32(0x0a).bytes(scopeFirst).finish());
    const decoded = decodeTraces(body, PROTOBUF, undefined, LIMITS).items[0];
    expect(decoded?.resource.attributes).toEqual({ "service.name": "late" });
    expect(decoded?.scope.name).toBe("late-scope");
    expect(decoded?.traceId).toBe(ctx.traceId);
  });
});

describe("decodeLogs", () => {
  function recordLogs() {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({
      resource: resourceFromAttributes(RESOURCE),
      processors: [new SimpleLogRecordProcessor({ exporter })],
    });
    const logger = provider.getLogger("gen-ai-events", "0.9.0");
    const [span] = recordSpans((tracer) => {
      const s = tracer.startSpan("chat");
      logger.emit({
        eventName: "gen_ai.client.inference.operation.details",
        timestamp: [1_700_000_000, 250_000_999],
        severityNumber: 9,
        severityText: "INFO",
        body: { "gen_ai.input.messages": [{ role: "user", parts: [{ type: "text", content: "hi" }] }] },
        attributes: { "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 12 },
        context: trace.setSpan(context.active(), s),
      });
      s.end();
    });
    logger.emit({ body: "legacy event", attributes: { "event.name": "gen_ai.user.message" } });
    if (!span) throw new Error("fixture");
    return { records: exporter.getFinishedLogRecords(), span };
  }

  function body(serializer: typeof ProtobufLogsSerializer, records: ReturnType<typeof recordLogs>["records"]) {
    const bytes = serializer.serializeRequest(records);
    if (!bytes) throw new Error("serializer returned nothing");
    return Buffer.from(bytes);
  }

  it("decodes event_name, body, attributes, severity and the span context from protobuf", () => {
    const { records, span } = recordLogs();
    const result = decodeLogs(body(ProtobufLogsSerializer, records), PROTOBUF, undefined, LIMITS);
    expect(result.rejected).toBe(0);
    expect(result.items).toHaveLength(2);
    expect(result.items[0]).toMatchObject({
      timeUs: 1_700_000_000_250_000,
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      eventName: "gen_ai.client.inference.operation.details",
      severityText: "INFO",
      body: { "gen_ai.input.messages": [{ role: "user", parts: [{ type: "text", content: "hi" }] }] },
      attributes: { "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 12 },
      resource: { attributes: expect.objectContaining(RESOURCE) },
      scope: { name: "gen-ai-events", version: "0.9.0" },
    });
    // No event_name: the event.name attribute of older senders names the event.
    expect(result.items[1]).toMatchObject({
      eventName: "gen_ai.user.message",
      body: "legacy event",
      traceId: "",
      spanId: "",
    });
  });

  it("decodes the JSON payload of the same records to exactly the same result", () => {
    const { records } = recordLogs();
    const fromProtobuf = decodeLogs(body(ProtobufLogsSerializer, records), PROTOBUF, undefined, LIMITS);
    const fromJson = decodeLogs(body(JsonLogsSerializer, records), JSON_TYPE, undefined, LIMITS);
    expect(fromJson).toEqual(fromProtobuf);
  });

  it("falls back to the observed time and rejects JSON records with wrong types", () => {
    const records = [
      {
        observedTimeUnixNano: "1700000000000001000",
        body: { stringValue: "x" },
        event_name: "e",
        severityNumber: "SEVERITY_NUMBER_WARN",
      },
      { severityText: 3 },
      { body: { intValue: true } },
      { traceId: 12 },
      "nope",
    ];
    const req = { resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] };
    const result = decodeLogs(Buffer.from(JSON.stringify(req)), JSON_TYPE, undefined, LIMITS);
    expect(result.items).toHaveLength(1);
    expect(result.items[0]).toMatchObject({ timeUs: 1_700_000_000_000_001, eventName: "e", body: "x" });
    expect(result.rejected).toBe(4);
  });

  it("truncates a long log body and lists it as truncated", () => {
    const req = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: "é".repeat(10) } }] }] }] };
    const decoded = decodeLogs(Buffer.from(JSON.stringify(req)), JSON_TYPE, undefined, {
      ...LIMITS,
      maxAttributeValueBytes: 5,
    }).items[0];
    expect(decoded?.body).toBe("éé");
    expect(decoded?.attributes[TRUNCATED_ATTRIBUTES_KEY]).toEqual(["body"]);
  });
});

describe("encodeTracesResponse / encodeLogsResponse", () => {
  it("encodes partial_success in protobuf only when something was rejected", () => {
    const partial = encodeTracesResponse({ rejected: 3, message: "3 span(s) rejected" }, false);
    expect(Buffer.isBuffer(partial)).toBe(true);
    expect(ProtobufTraceSerializer.deserializeResponse(partial as Buffer)).toEqual({
      partialSuccess: { rejectedSpans: 3, errorMessage: "3 span(s) rejected" },
    });
    const full = encodeTracesResponse({ rejected: 0, message: "" }, false) as Buffer;
    expect(full.length).toBe(0);
    expect(ProtobufTraceSerializer.deserializeResponse(full).partialSuccess).toBeUndefined();

    const logs = encodeLogsResponse({ rejected: 2, message: "bad records" }, false) as Buffer;
    expect(ProtobufLogsSerializer.deserializeResponse(logs)).toEqual({
      partialSuccess: { rejectedLogRecords: 2, errorMessage: "bad records" },
    });
  });

  it("encodes the response as OTLP/JSON for JSON requests", () => {
    expect(JSON.parse(encodeTracesResponse({ rejected: 1, message: "m" }, true) as string)).toEqual({
      partialSuccess: { rejectedSpans: 1, errorMessage: "m" },
    });
    expect(JSON.parse(encodeTracesResponse({ rejected: 0, message: "" }, true) as string)).toEqual({});
    expect(JSON.parse(encodeLogsResponse({ rejected: 4, message: "m" }, true) as string)).toEqual({
      partialSuccess: { rejectedLogRecords: 4, errorMessage: "m" },
    });
  });
});
