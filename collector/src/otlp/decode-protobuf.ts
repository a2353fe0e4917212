import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { ERR_BAD_OTLP } from "../errors.js";
import {
  type AttributeLimiter,
  checkSpanStart,
  InvalidItemError,
  MAX_VALUE_DEPTH,
  markTruncated,
  setAttribute,
} from "./attributes.js";
import { keyFromUtf8, utf8Slice } from "./key-cache.js";
import type {
  Attributes,
  AttrValue,
  DecodedLogRecord,
  DecodedSpan,
  DecodeResult,
  Resource,
  Scope,
  SpanEvent,
  StatusCode,
} from "./types.js";

/*
 * OTLP/protobuf -> the flat decoded types.
 *
 * The request is read field by field with protobufjs's Reader straight into DecodedSpan /
 * DecodedLogRecord. Going through `Type.decode()` first would build a message object per
 * KeyValue, AnyValue and Long and then walk them again: about twice the cost per span, on the
 * path that has to sustain 30k spans/s. The field numbers below are the ones of the vendored
 * protos in collector/proto, and `otlpTypes()` checks them against those files when it loads
 * them (it also provides the response types).
 *
 * Wire rules followed: fields may come in any order (containers are decoded after their
 * resource/scope is known), unknown fields and known fields with an unexpected wire type are
 * skipped, the last value of a singular field wins, and every length is checked against its
 * enclosing message.
 */

// Tags: (field number << 3) | wire type. Wire types: 0 varint, 1 fixed64, 2 length-delimited.
const T = {
  request: { resource: 0x0a }, // Export*ServiceRequest.resource_spans / resource_logs = 1
  resourceSpans: { resource: 0x0a, scopeSpans: 0x12 },
  scopeSpans: { scope: 0x0a, spans: 0x12 },
  resource: { attributes: 0x0a },
  scope: { name: 0x0a, version: 0x12 },
  span: {
    traceId: 0x0a, // 1
    spanId: 0x12, // 2
    parentSpanId: 0x22, // 4
    name: 0x2a, // 5
    kind: 0x30, // 6, enum
    startTime: 0x39, // 7, fixed64
    endTime: 0x41, // 8, fixed64
    attributes: 0x4a, // 9
    events: 0x5a, // 11
    status: 0x7a, // 15
  },
  event: { time: 0x09, name: 0x12, attributes: 0x1a },
  status: { message: 0x12, code: 0x18 },
  keyValue: { key: 0x0a, value: 0x12 },
  anyValue: {
    string: 0x0a, // 1
    bool: 0x10, // 2
    int: 0x18, // 3
    double: 0x21, // 4, fixed64
    array: 0x2a, // 5
    kvlist: 0x32, // 6
    bytes: 0x3a, // 7
  },
  list: { values: 0x0a }, // ArrayValue.values / KeyValueList.values = 1
  logRecord: {
    time: 0x09, // 1, fixed64
    severityText: 0x1a, // 3
    body: 0x2a, // 5
    attributes: 0x32, // 6
    traceId: 0x4a, // 9
    spanId: 0x52, // 10
    observedTime: 0x59, // 11, fixed64
    eventName: 0x62, // 12
  },
} as const;

/** [message, field, tag] rows checked against the vendored .proto files at load. */
const SCHEMA: ReadonlyArray<readonly [string, string, number]> = [
  ["collector.trace.v1.ExportTraceServiceRequest", "resourceSpans", T.request.resource],
  ["collector.logs.v1.ExportLogsServiceRequest", "resourceLogs", T.request.resource],
  ["trace.v1.ResourceSpans", "resource", T.resourceSpans.resource],
  ["trace.v1.ResourceSpans", "scopeSpans", T.resourceSpans.scopeSpans],
  ["trace.v1.ScopeSpans", "scope", T.scopeSpans.scope],
  ["trace.v1.ScopeSpans", "spans", T.scopeSpans.spans],
  ["logs.v1.ResourceLogs", "resource", T.resourceSpans.resource],
  ["logs.v1.ResourceLogs", "scopeLogs", T.resourceSpans.scopeSpans],
  ["logs.v1.ScopeLogs", "scope", T.scopeSpans.scope],
  ["logs.v1.ScopeLogs", "logRecords", T.scopeSpans.spans],
  ["resource.v1.Resource", "attributes", T.resource.attributes],
  ["common.v1.InstrumentationScope", "name", T.scope.name],
  ["common.v1.InstrumentationScope", "version", T.scope.version],
  ...Object.entries(T.span).map(([f, tag]) => ["trace.v1.Span", f.replace(/Time$/, "TimeUnixNano"), tag] as const),
  ["trace.v1.Span.Event", "timeUnixNano", T.event.time],
  ["trace.v1.Span.Event", "name", T.event.name],
  ["trace.v1.Span.Event", "attributes", T.event.attributes],
  ["trace.v1.Status", "message", T.status.message],
  ["trace.v1.Status", "code", T.status.code],
  ["common.v1.KeyValue", "key", T.keyValue.key],
  ["common.v1.KeyValue", "value", T.keyValue.value],
  ...Object.entries(T.anyValue).map(([f, tag]) => ["common.v1.AnyValue", `${f}Value`, tag] as const),
  ["common.v1.ArrayValue", "values", T.list.values],
  ["common.v1.KeyValueList", "values", T.list.values],
  ...Object.entries(T.logRecord).map(
    ([f, tag]) =>
      ["logs.v1.LogRecord", f.replace(/Time$/, "TimeUnixNano").replace(/^time$/, "timeUnixNano"), tag] as const,
  ),
];

const WIRE_TYPES: Readonly<Record<string, number>> = {
  double: 1,
  fixed64: 1,
  sfixed64: 1,
  fixed32: 5,
  sfixed32: 5,
  float: 5,
  string: 2,
  bytes: 2,
};

interface OtlpTypes {
  traceResponse: protobuf.Type;
  logsResponse: protobuf.Type;
}

let loaded: OtlpTypes | undefined;

/**
 * The vendored protos sit in collector/proto. This file runs from collector/src/otlp (tests) or
 * collector/dist/otlp (build): both are two levels below the package root.
 */
function protoDir(): string {
  const dir = fileURLToPath(new URL("../../proto/", import.meta.url));
  if (!existsSync(join(dir, "opentelemetry"))) throw new Error(`OTLP .proto files not found in ${dir}`);
  return dir;
}

/**
 * Parses the vendored .proto files on first use, checks the field numbers the decoder relies on,
 * and keeps the response types.
 */
function otlpTypes(): OtlpTypes {
  if (loaded !== undefined) return loaded;
  const dir = protoDir();
  const root = new protobuf.Root();
  // Imports in the protos are relative to the proto root ("opentelemetry/proto/...").
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(dir, target));
  protobuf.loadSync(
    [
      "opentelemetry/proto/collector/trace/v1/trace_service.proto",
      "opentelemetry/proto/collector/logs/v1/logs_service.proto",
    ],
    root,
  );
  root.resolveAll();
  for (const [message, fieldName, tag] of SCHEMA) {
    const f = root.lookupType(`opentelemetry.proto.${message}`).fields[fieldName];
    const wireType = f === undefined ? -1 : f.resolvedType instanceof protobuf.Type ? 2 : (WIRE_TYPES[f.type] ?? 0);
    if (f === undefined || ((f.id << 3) | wireType) !== tag) {
      throw new Error(`vendored OTLP protos disagree with the decoder on ${message}.${fieldName}`);
    }
  }
  loaded = {
    traceResponse: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse"),
    logsResponse: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse"),
  };
  return loaded;
}

const EMPTY_RESPONSE = Buffer.alloc(0);

/** Builds an ExportTraceServiceResponse / ExportLogsServiceResponse body. */
export function encodeResponseProtobuf(
  signal: "traces" | "logs",
  partial: { rejected: number; message: string },
): Buffer {
  // A response with nothing rejected is the empty message: zero bytes.
  if (partial.rejected <= 0) return EMPTY_RESPONSE;
  const types = otlpTypes();
  const type = signal === "traces" ? types.traceResponse : types.logsResponse;
  const counter = signal === "traces" ? "rejectedSpans" : "rejectedLogRecords";
  const payload = { partialSuccess: { [counter]: partial.rejected, errorMessage: partial.message } };
  const bytes = type.encode(type.fromObject(payload)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---- requests ---------------------------------------------------------------------------------

/** A body that is not valid protobuf for the message being read. */
class CorruptError extends Error {}

interface Cursor {
  r: protobuf.Reader;
  buf: Buffer;
  limiter: AttributeLimiter;
}

type ItemDecoder<T> = (c: Cursor, end: number, resource: Resource, scope: Scope) => T;

export function decodeTracesProtobuf(body: Buffer, limiter: AttributeLimiter): DecodeResult<DecodedSpan> {
  return decodeRequest(body, limiter, "ExportTraceServiceRequest", decodeSpan);
}

export function decodeLogsProtobuf(body: Buffer, limiter: AttributeLimiter): DecodeResult<DecodedLogRecord> {
  return decodeRequest(body, limiter, "ExportLogsServiceRequest", decodeLogRecord);
}

/**
 * Export{Trace,Logs}ServiceRequest: Resource{Spans,Logs} > Scope{Spans,Logs} > items. Both
 * signals share the layout and field numbers down to the items.
 */
function decodeRequest<T>(
  body: Buffer,
  limiter: AttributeLimiter,
  messageName: string,
  decodeItem: ItemDecoder<T>,
): DecodeResult<T> {
  otlpTypes();
  const c: Cursor = { r: protobuf.Reader.create(body), buf: body, limiter };
  const result: DecodeResult<T> = { items: [], rejected: 0, rejectReason: "" };
  try {
    const end = body.length;
    while (c.r.pos < end) {
      const tag = c.r.uint32();
      if (tag === T.request.resource) {
        const groupEnd = subEnd(c, end);
        decodeResourceGroup(c, groupEnd, decodeItem, result);
        c.r.pos = groupEnd;
      } else {
        skip(c, tag, end);
      }
    }
  } catch (err) {
    if (isWireError(err)) {
      throw ERR_BAD_OTLP(`body is not a valid protobuf ${messageName}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  return result;
}

/**
 * Errors that mean "not valid protobuf": ours, protobufjs's reader running past the buffer
 * ("index out of range", a RangeError, as is a stack overflow on absurd nesting) or meeting an
 * undefined wire type. Anything else is a bug and is left to surface as such.
 */
function isWireError(err: unknown): err is Error {
  return (
    err instanceof CorruptError ||
    err instanceof RangeError ||
    (err instanceof Error && err.message.startsWith("invalid wire type"))
  );
}

function decodeResourceGroup<T>(c: Cursor, end: number, decodeItem: ItemDecoder<T>, result: DecodeResult<T>) {
  const { r } = c;
  let resource: Resource | undefined;
  const scopes: number[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T.resourceSpans.resource) {
      const e = subEnd(c, end);
      resource = decodeResource(c, e);
    } else if (tag === T.resourceSpans.scopeSpans) {
      const e = subEnd(c, end);
      scopes.push(r.pos, e);
      r.pos = e;
    } else {
      skip(c, tag, end);
    }
  }
  resource ??= { attributes: {} };
  // Resource and scope objects are shared by every item of their group (read-only downstream).
  for (let i = 0; i < scopes.length; i += 2) {
    r.pos = scopes[i] as number;
    decodeScopeGroup(c, scopes[i + 1] as number, resource, decodeItem, result);
  }
}

function decodeScopeGroup<T>(
  c: Cursor,
  end: number,
  resource: Resource,
  decodeItem: ItemDecoder<T>,
  result: DecodeResult<T>,
) {
  const { r } = c;
  let scope: Scope | undefined;
  const items: number[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T.scopeSpans.scope) {
      const e = subEnd(c, end);
      scope = decodeScope(c, e);
    } else if (tag === T.scopeSpans.spans) {
      const e = subEnd(c, end);
      items.push(r.pos, e);
      r.pos = e;
    } else {
      skip(c, tag, end);
    }
  }
  scope ??= { name: "", version: "" };
  for (let i = 0; i < items.length; i += 2) {
    const itemEnd = items[i + 1] as number;
    r.pos = items[i] as number;
    try {
      result.items.push(decodeItem(c, itemEnd, resource, scope));
    } catch (err) {
      if (!(err instanceof InvalidItemError)) throw err;
      if (result.rejected === 0) result.rejectReason = err.message;
      result.rejected++;
    }
    r.pos = itemEnd;
  }
}

function decodeResource(c: Cursor, end: number): Resource {
  const { r } = c;
  const attributes: Attributes = {};
  c.limiter.begin();
  try {
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === T.resource.attributes) decodeKeyValue(c, subEnd(c, end), attributes, "");
      else skip(c, tag, end);
    }
  } catch (err) {
    // Every item below shares this resource: a malformed one makes the whole body bad.
    if (err instanceof InvalidItemError) throw new CorruptError(`resource: ${err.message}`);
    throw err;
  }
  markTruncated(attributes, c.limiter.take());
  return { attributes };
}

function decodeScope(c: Cursor, end: number): Scope {
  const { r } = c;
  let name = "";
  let version = "";
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T.scope.name) name = readString(c, end);
    else if (tag === T.scope.version) version = readString(c, end);
    else skip(c, tag, end);
  }
  return { name, version };
}

const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;

function decodeSpan(c: Cursor, end: number, resource: Resource, scope: Scope): DecodedSpan {
  const { r, buf } = c;
  let traceIdAt = -1;
  let traceIdLen = 0;
  let spanIdAt = -1;
  let spanIdLen = 0;
  let parentAt = -1;
  let parentLen = 0;
  let name = "";
  let kind = 0;
  let startTimeUs = 0;
  let endTimeUs = 0;
  const attributes: Attributes = {};
  const events: SpanEvent[] = [];
  let status: DecodedSpan["status"] = { code: 0, message: "" };
  c.limiter.begin();
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case T.span.traceId:
        traceIdLen = r.uint32();
        traceIdAt = r.pos;
        r.pos = checkedEnd(c, traceIdLen, end);
        break;
      case T.span.spanId:
        spanIdLen = r.uint32();
        spanIdAt = r.pos;
        r.pos = checkedEnd(c, spanIdLen, end);
        break;
      case T.span.parentSpanId:
        parentLen = r.uint32();
        parentAt = r.pos;
        r.pos = checkedEnd(c, parentLen, end);
        break;
      case T.span.name:
        name = readString(c, end);
        break;
      case T.span.kind:
        kind = r.int32();
        break;
      case T.span.startTime:
        startTimeUs = readNanosAsMicros(c, end);
        break;
      case T.span.endTime:
        endTimeUs = readNanosAsMicros(c, end);
        break;
      case T.span.attributes:
        decodeKeyValue(c, subEnd(c, end), attributes, "");
        break;
      case T.span.events:
        events.push(decodeEvent(c, subEnd(c, end), `events[${events.length}].`));
        break;
      case T.span.status:
        status = decodeStatus(c, subEnd(c, end));
        break;
      default:
        skip(c, tag, end);
    }
  }
  // OTLP trace.proto: an ID of the wrong length or all zeroes is invalid. Such a span cannot be
  // joined to its trace, so it is rejected (partial success) rather than stored under a bad key.
  if (!isValidId(buf, traceIdAt, traceIdLen, TRACE_ID_BYTES)) {
    throw new InvalidItemError(`span "${name}": trace_id must be 16 bytes and not all zero`);
  }
  if (!isValidId(buf, spanIdAt, spanIdLen, SPAN_ID_BYTES)) {
    throw new InvalidItemError(`span "${name}": span_id must be 8 bytes and not all zero`);
  }
  if (parentLen !== 0 && parentLen !== SPAN_ID_BYTES) {
    throw new InvalidItemError(`span "${name}": parent_span_id must be empty or 8 bytes`);
  }
  checkSpanStart(`span "${name}"`, startTimeUs, Date.now() * 1000);
  markTruncated(attributes, c.limiter.take());
  return {
    traceId: buf.toString("hex", traceIdAt, traceIdAt + traceIdLen),
    spanId: buf.toString("hex", spanIdAt, spanIdAt + spanIdLen),
    // Some SDKs send eight zero bytes for "no parent".
    parentSpanId: isValidId(buf, parentAt, parentLen, SPAN_ID_BYTES)
      ? buf.toString("hex", parentAt, parentAt + parentLen)
      : "",
    name,
    kind: kind >= 0 && kind <= 5 ? kind : 0,
    startTimeUs,
    endTimeUs,
    attributes,
    events,
    status,
    resource,
    scope,
  };
}

function decodeEvent(c: Cursor, end: number, keyPrefix: string): SpanEvent {
  const { r } = c;
  const event: SpanEvent = { name: "", timeUs: 0, attributes: {} };
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T.event.time) event.timeUs = readNanosAsMicros(c, end);
    else if (tag === T.event.name) event.name = readString(c, end);
    else if (tag === T.event.attributes) decodeKeyValue(c, subEnd(c, end), event.attributes, keyPrefix);
    else skip(c, tag, end);
  }
  return event;
}

function decodeStatus(c: Cursor, end: number): DecodedSpan["status"] {
  const { r } = c;
  let code = 0;
  let message = "";
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T.status.code) code = r.int32();
    else if (tag === T.status.message) message = readString(c, end);
    else skip(c, tag, end);
  }
  return { code: code === 1 || code === 2 ? (code as StatusCode) : 0, message };
}

function decodeLogRecord(c: Cursor, end: number, resource: Resource, scope: Scope): DecodedLogRecord {
  const { r, buf } = c;
  let timeUs = 0;
  let observedUs = 0;
  let severityText = "";
  let eventName = "";
  let traceIdAt = -1;
  let traceIdLen = 0;
  let spanIdAt = -1;
  let spanIdLen = 0;
  let body: AttrValue = null;
  const attributes: Attributes = {};
  c.limiter.begin();
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case T.logRecord.time:
        timeUs = readNanosAsMicros(c, end);
        break;
      case T.logRecord.observedTime:
        observedUs = readNanosAsMicros(c, end);
        break;
      case T.logRecord.severityText:
        severityText = readString(c, end);
        break;
      case T.logRecord.body:
        body = decodeAnyValue(c, subEnd(c, end), "body", 0);
        break;
      case T.logRecord.attributes:
        decodeKeyValue(c, subEnd(c, end), attributes, "");
        break;
      case T.logRecord.traceId:
        traceIdLen = r.uint32();
        traceIdAt = r.pos;
        r.pos = checkedEnd(c, traceIdLen, end);
        break;
      case T.logRecord.spanId:
        spanIdLen = r.uint32();
        spanIdAt = r.pos;
        r.pos = checkedEnd(c, spanIdLen, end);
        break;
      case T.logRecord.eventName:
        eventName = readString(c, end);
        break;
      default:
        skip(c, tag, end);
    }
  }
  markTruncated(attributes, c.limiter.take());
  if (eventName === "") {
    // Before LogRecord.event_name (OTLP 1.5), events carried their name in this attribute.
    const legacy = attributes["event.name"];
    if (typeof legacy === "string") eventName = legacy;
  }
  return {
    timeUs: timeUs !== 0 ? timeUs : observedUs,
    // Log records may omit IDs; an invalid one means "not associated" (logs.proto), not rejection.
    traceId: isValidId(buf, traceIdAt, traceIdLen, TRACE_ID_BYTES)
      ? buf.toString("hex", traceIdAt, traceIdAt + traceIdLen)
      : "",
    spanId: isValidId(buf, spanIdAt, spanIdLen, SPAN_ID_BYTES)
      ? buf.toString("hex", spanIdAt, spanIdAt + spanIdLen)
      : "",
    eventName,
    severityText,
    body,
    attributes,
    resource,
    scope,
  };
}

// ---- values -----------------------------------------------------------------------------------

/** One KeyValue into `attrs`. The value is read after the key (fields may come in any order). */
function decodeKeyValue(c: Cursor, end: number, attrs: Attributes, keyPrefix: string): void {
  const { r } = c;
  let key = "";
  let valueAt = -1;
  let valueEnd = -1;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T.keyValue.key) {
      key = readKey(c, end);
    } else if (tag === T.keyValue.value) {
      valueEnd = subEnd(c, end);
      valueAt = r.pos;
      r.pos = valueEnd;
    } else {
      skip(c, tag, end);
    }
  }
  let value: AttrValue = null;
  if (valueAt >= 0) {
    r.pos = valueAt;
    value = decodeAnyValue(c, valueEnd, keyPrefix === "" ? key : keyPrefix + key, 0);
    r.pos = end;
  }
  setAttribute(attrs, key, value);
}

/** AnyValue -> plain value; an unset oneof is null. `key` names the attribute for truncation. */
function decodeAnyValue(c: Cursor, end: number, key: string, depth: number): AttrValue {
  const { r, buf, limiter } = c;
  let value: AttrValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case T.anyValue.string: {
        const len = r.uint32();
        const at = r.pos;
        r.pos = checkedEnd(c, len, end);
        value = limiter.strFromUtf8(buf, at, at + len, key);
        break;
      }
      case T.anyValue.int:
        value = longToNumber(r.int64());
        break;
      case T.anyValue.double:
        checkedEnd(c, 8, end);
        value = r.double();
        break;
      case T.anyValue.bool:
        value = r.bool();
        break;
      case T.anyValue.array: {
        const e = subEnd(c, end);
        value = decodeArrayValue(c, e, key, depth + 1);
        break;
      }
      case T.anyValue.kvlist: {
        const e = subEnd(c, end);
        value = decodeKvlistValue(c, e, key, depth + 1);
        break;
      }
      case T.anyValue.bytes: {
        const len = r.uint32();
        const at = r.pos;
        r.pos = checkedEnd(c, len, end);
        // Copied: a view would keep the whole request body alive.
        value = new Uint8Array(limiter.bytes(buf.subarray(at, at + len), key));
        break;
      }
      default:
        skip(c, tag, end);
    }
  }
  return value;
}

function decodeArrayValue(c: Cursor, end: number, key: string, depth: number): AttrValue[] {
  if (depth > MAX_VALUE_DEPTH) throw new InvalidItemError(`attribute "${key}": value nested too deeply`);
  const { r } = c;
  const out: AttrValue[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T.list.values) out.push(decodeAnyValue(c, subEnd(c, end), key, depth));
    else skip(c, tag, end);
  }
  return out;
}

function decodeKvlistValue(c: Cursor, end: number, key: string, depth: number): { [k: string]: AttrValue } {
  if (depth > MAX_VALUE_DEPTH) throw new InvalidItemError(`attribute "${key}": value nested too deeply`);
  const { r } = c;
  const out: { [k: string]: AttrValue } = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag !== T.list.values) {
      skip(c, tag, end);
      continue;
    }
    // Nested KeyValue: same layout as an attribute, but truncation is reported under `key`.
    const kvEnd = subEnd(c, end);
    let k = "";
    let value: AttrValue = null;
    while (r.pos < kvEnd) {
      const t = r.uint32();
      if (t === T.keyValue.key) k = readKey(c, kvEnd);
      else if (t === T.keyValue.value) value = decodeAnyValue(c, subEnd(c, kvEnd), key, depth);
      else skip(c, t, kvEnd);
    }
    setAttribute(out, k, value);
  }
  return out;
}

// ---- wire primitives --------------------------------------------------------------------------

/** Reads a length prefix and returns where that sub-message ends, within `end`. */
function subEnd(c: Cursor, end: number): number {
  const len = c.r.uint32();
  return checkedEnd(c, len, end);
}

function checkedEnd(c: Cursor, len: number, end: number): number {
  const e = c.r.pos + len;
  if (e > end) throw new CorruptError(`field of ${len} bytes at offset ${c.r.pos} overruns its message`);
  return e;
}

function readString(c: Cursor, end: number): string {
  const len = c.r.uint32();
  const at = c.r.pos;
  c.r.pos = checkedEnd(c, len, end);
  // Node's decoder maps invalid UTF-8 to U+FFFD; it never throws.
  return utf8Slice(c.buf, at, at + len);
}

function readKey(c: Cursor, end: number): string {
  const len = c.r.uint32();
  const at = c.r.pos;
  c.r.pos = checkedEnd(c, len, end);
  return keyFromUtf8(c.buf, at, at + len);
}

function skip(c: Cursor, tag: number, end: number): void {
  if (tag === 0) throw new CorruptError(`invalid tag 0 at offset ${c.r.pos}`);
  c.r.skipType(tag & 7);
  if (c.r.pos > end) throw new CorruptError(`field ${tag >>> 3} overruns its message`);
}

/**
 * fixed64 nanoseconds -> whole microseconds, exactly: with n = hi * 2^32 + lo and
 * 2^32 = 4294967 * 1000 + 296, n / 1000 = hi * 4294967 + (hi * 296 + lo) / 1000, and every
 * intermediate value stays below 2^53.
 */
function readNanosAsMicros(c: Cursor, end: number): number {
  const at = c.r.pos;
  c.r.pos = checkedEnd(c, 8, end);
  const lo = c.buf.readUInt32LE(at);
  const hi = c.buf.readUInt32LE(at + 4);
  return hi * 4294967 + Math.floor((hi * 296 + lo) / 1000);
}

/** int64 -> number (beyond 2^53 precision is lost, see AttrValue). */
function longToNumber(v: { low: number; high: number; unsigned: boolean } | number): number {
  if (typeof v === "number") return v;
  return (v.unsigned ? v.high >>> 0 : v.high) * 4294967296 + (v.low >>> 0);
}

function isValidId(buf: Buffer, at: number, len: number, expected: number): boolean {
  if (len !== expected || at < 0) return false;
  for (let i = at; i < at + len; i++) if (buf[i] !== 0) return true;
  return false;
}
