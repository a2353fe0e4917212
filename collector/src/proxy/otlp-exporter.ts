/**
 * OTLP/HTTP (protobuf) exporter for `tokenmeter proxy --collector URL`: the proxy runs apart
 * from the collector and ships its spans to the collector's /v1/traces like any other sender.
 * Messages are encoded with protobufjs from the vendored OTLP protos (collector/proto).
 *
 * Spans wait in a bounded queue and go out in batches, one request at a time. Retryable answers
 * (429, 502, 503, 504 and network errors, OTLP/HTTP spec "Retryable Response Codes") keep the
 * batch and back off, honouring Retry-After; other errors drop it. Whatever cannot be queued or
 * is dropped is counted in tokenmeter_telemetry_dropped_total{component="proxy"}.
 */
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Counter } from "prom-client";
import protobuf from "protobufjs";
import { Agent, request } from "undici";
import type { Logger } from "../logger.js";
import type { Attributes, AttrValue, DecodedSpan } from "../otlp/types.js";
import type { SpanSink } from "./span-sink.js";

let requestType: protobuf.Type | undefined;

/** ExportTraceServiceRequest from collector/proto (two levels above src/proxy and dist/proxy). */
function traceRequestType(): protobuf.Type {
  if (requestType !== undefined) return requestType;
  const dir = fileURLToPath(new URL("../../proto/", import.meta.url));
  if (!existsSync(join(dir, "opentelemetry"))) throw new Error(`OTLP .proto files not found in ${dir}`);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(dir, target));
  protobuf.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto", root);
  root.resolveAll();
  requestType = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
  return requestType;
}

type AnyValueObject =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: number }
  | { doubleValue: number }
  | { bytesValue: Uint8Array }
  | { arrayValue: { values: AnyValueObject[] } }
  | Record<string, never>;

function isStringArray(v: readonly AttrValue[]): boolean {
  for (const x of v) if (typeof x !== "string") return false;
  return true;
}

/** Scalars and string arrays as themselves; messages and other structures as JSON strings. */
function anyValue(v: AttrValue): AnyValueObject {
  switch (typeof v) {
    case "string":
      return { stringValue: v };
    case "boolean":
      return { boolValue: v };
    case "number":
      return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
    default:
      if (v === null) return {};
      if (v instanceof Uint8Array) return { bytesValue: v };
      if (Array.isArray(v) && isStringArray(v))
        return { arrayValue: { values: v.map((s) => ({ stringValue: s as string })) } };
      return { stringValue: JSON.stringify(v) };
  }
}

function keyValues(attrs: Attributes): { key: string; value: AnyValueObject }[] {
  const out: { key: string; value: AnyValueObject }[] = [];
  for (const key in attrs) {
    const v = attrs[key];
    if (v !== undefined) out.push({ key, value: anyValue(v) });
  }
  return out;
}

function nanos(us: number): string {
  return (BigInt(Math.round(us)) * 1000n).toString();
}

/** Encodes spans as one ExportTraceServiceRequest, grouped by resource and scope. */
export function encodeSpans(spans: readonly DecodedSpan[]): Uint8Array {
  const byResource = new Map<DecodedSpan["resource"], Map<string, { scope: DecodedSpan["scope"]; spans: unknown[] }>>();
  for (const s of spans) {
    let scopes = byResource.get(s.resource);
    if (scopes === undefined) {
      scopes = new Map();
      byResource.set(s.resource, scopes);
    }
    const scopeKey = `${s.scope.name}\u0000${s.scope.version}`;
    let group = scopes.get(scopeKey);
    if (group === undefined) {
      group = { scope: s.scope, spans: [] };
      scopes.set(scopeKey, group);
    }
    group.spans.push({
      traceId: Buffer.from(s.traceId, "hex"),
      spanId: Buffer.from(s.spanId, "hex"),
      parentSpanId: s.parentSpanId === "" ? Buffer.alloc(0) : Buffer.from(s.parentSpanId, "hex"),
      name: s.name,
      kind: s.kind,
      startTimeUnixNano: nanos(s.startTimeUs),
      endTimeUnixNano: nanos(s.endTimeUs),
      attributes: keyValues(s.attributes),
      events: s.events.map((e) => ({
        timeUnixNano: nanos(e.timeUs),
        name: e.name,
        attributes: keyValues(e.attributes),
      })),
      status: { code: s.status.code, message: s.status.message },
    });
  }
  const resourceSpans: unknown[] = [];
  for (const [resource, scopes] of byResource) {
    resourceSpans.push({
      resource: { attributes: keyValues(resource.attributes) },
      scopeSpans: [...scopes.values()].map((g) => ({
        scope: { name: g.scope.name, version: g.scope.version },
        spans: g.spans,
      })),
    });
  }
  const type = traceRequestType();
  return type.encode(type.fromObject({ resourceSpans })).finish();
}

export interface OtlpHttpSinkOptions {
  /** The collector's base URL (`http://collector:4318`); spans go to `<url>/v1/traces`. */
  url: string;
  /** Extra request headers, e.g. `authorization: Bearer <ingest token>`. */
  headers?: Readonly<Record<string, string>>;
  dropped: Pick<Counter.Internal, "inc">;
  logger: Logger;
  maxBufferedSpans: number;
  maxBatch?: number;
  /** Longest a span waits for its batch. */
  flushIntervalMs?: number;
  timeoutMs?: number;
  /** How long close() keeps trying to deliver what is queued. */
  closeTimeoutMs?: number;
}

const RETRYABLE = new Set([429, 502, 503, 504]);

/**
 * Most characters of span attributes one request carries: the collector takes 32 MiB per
 * request by default, and 512 calls with long prompts hold far more. A batch ends at maxBatch
 * spans or here, whichever comes first (a larger span goes alone).
 */
export const MAX_REQUEST_CHARS = 8 * 1024 * 1024;
/** Ids, names, keys and numbers of a span, beside its string values. */
const SPAN_OVERHEAD_CHARS = 1024;

/**
 * About how many characters a value takes on the wire: its strings and keys, a few for each
 * other value. Messages and other structures travel as JSON (anyValue); walking them estimates
 * that without serializing the content a second time just to measure it.
 */
function valueChars(v: unknown, depth = 0): number {
  if (typeof v === "string") return v.length + 2;
  if (v === null || typeof v !== "object") return 8;
  if (v instanceof Uint8Array) return v.length;
  if (depth >= 32) return 0;
  let n = 2;
  if (Array.isArray(v)) {
    for (const item of v) n += valueChars(item, depth + 1) + 1;
  } else {
    for (const [key, item] of Object.entries(v)) n += key.length + 3 + valueChars(item, depth + 1);
  }
  return n;
}

function attributeChars(attrs: Attributes): number {
  let n = 0;
  for (const key in attrs) n += key.length + valueChars(attrs[key]);
  return n;
}

/** How many spans from the head of `queue` make the next request. */
export function nextBatchLength(queue: readonly DecodedSpan[], maxSpans: number, maxChars: number): number {
  let chars = 0;
  let n = 0;
  for (const span of queue) {
    if (n >= maxSpans) break;
    let size = SPAN_OVERHEAD_CHARS + attributeChars(span.attributes);
    for (const event of span.events) size += attributeChars(event.attributes);
    if (n > 0 && chars + size > maxChars) break;
    chars += size;
    n++;
  }
  return n;
}

/** A collector's traces URL from its base URL; the traces URL it prints at start works as well. */
export function collectorTracesUrl(url: string): string {
  return `${url.replace(/\/+$/, "").replace(/\/v1\/traces$/, "")}/v1/traces`;
}

export function createOtlpHttpSink(opts: OtlpHttpSinkOptions): SpanSink {
  const endpoint = collectorTracesUrl(opts.url);
  const maxBatch = opts.maxBatch ?? 512;
  const flushIntervalMs = opts.flushIntervalMs ?? 200;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 4 });
  const headers = { "content-type": "application/x-protobuf", ...opts.headers };
  // Validate the protos at construction so a broken install fails at start, not on first export.
  traceRequestType();

  let queue: DecodedSpan[] = [];
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> | undefined;
  let backoffMs = 0;
  let retryAt = 0;
  let closed = false;

  /** One batch; true when it was delivered or dropped for good, false to retry later. */
  async function send(batch: DecodedSpan[]): Promise<boolean> {
    let body: Uint8Array;
    try {
      body = encodeSpans(batch);
    } catch (err) {
      opts.dropped.inc(batch.length);
      opts.logger.warn({ err: { message: (err as Error).message } }, "proxy spans could not be encoded");
      return true;
    }
    try {
      const res = await request(endpoint, {
        method: "POST",
        headers,
        body,
        dispatcher: agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return true;
      if (RETRYABLE.has(res.statusCode)) {
        const ra = Number(res.headers["retry-after"]);
        if (Number.isFinite(ra) && ra > 0) backoffMs = Math.min(ra * 1000, 60_000);
        return false;
      }
      opts.dropped.inc(batch.length);
      opts.logger.warn({ status: res.statusCode }, "collector refused proxy spans");
      return true;
    } catch (err) {
      opts.logger.debug({ err: { message: (err as Error).message } }, "collector unreachable; proxy spans kept");
      return false;
    }
  }

  async function drain(): Promise<void> {
    while (queue.length > 0 && Date.now() >= retryAt) {
      const batch = queue.slice(0, nextBatchLength(queue, maxBatch, MAX_REQUEST_CHARS));
      queue = queue.slice(batch.length);
      if (await send(batch)) {
        backoffMs = 0;
        continue;
      }
      // Keep the batch at the head; what no longer fits the bound is lost and counted.
      const room = Math.max(0, opts.maxBufferedSpans - queue.length);
      if (room < batch.length) opts.dropped.inc(batch.length - room);
      queue = batch.slice(0, room).concat(queue);
      backoffMs = Math.min(Math.max(backoffMs * 2, 500), 30_000);
      retryAt = Date.now() + backoffMs;
      break;
    }
  }

  function kick(): void {
    if (sending !== undefined) return;
    sending = drain().finally(() => {
      sending = undefined;
    });
  }

  timer = setInterval(kick, flushIntervalMs);
  timer.unref();

  return {
    emit(span) {
      if (closed || queue.length >= opts.maxBufferedSpans) {
        opts.dropped.inc();
        return;
      }
      queue.push(span);
      if (queue.length >= maxBatch) kick();
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      const deadline = Date.now() + (opts.closeTimeoutMs ?? 5000);
      while (queue.length > 0 && Date.now() < deadline) {
        if (sending !== undefined) await sending;
        retryAt = Math.min(retryAt, Date.now());
        const before = queue.length;
        await drain();
        if (queue.length >= before)
          await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now()))));
      }
      if (sending !== undefined) await sending;
      if (queue.length > 0) opts.dropped.inc(queue.length);
      queue = [];
      await agent.close();
    },
  };
}
