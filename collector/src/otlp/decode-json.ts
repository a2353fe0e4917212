import { ERR_BAD_OTLP } from "../errors.js";
import {
  type AttributeLimiter,
  checkSpanStart,
  InvalidItemError,
  MAX_VALUE_DEPTH,
  markTruncated,
  setAttribute,
} from "./attributes.js";
import { internKey } from "./key-cache.js";
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
 * OTLP/JSON -> the flat decoded types, by hand over JSON.parse output (a schema library would cost
 * more than the parse on this path). The mapping follows the OTLP spec's JSON encoding
 * (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): lowerCamelCase keys (the
 * proto field names are accepted too, as the protobuf JSON mapping allows), trace/span ids as hex,
 * 64-bit integers as strings or numbers, enums as integers (names accepted), bytes as base64.
 *
 * A container that is not the expected shape (request, ResourceSpans, ScopeSpans, resource,
 * scope) makes the whole body undecodable: 400. A span or log record with a wrong-typed field is
 * dropped and counted, and its siblings are kept (partial success).
 */

type JsonObject = { [key: string]: unknown };

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Field by JSON name, else by proto name; JSON null means "not set" in the protobuf mapping. */
function field(o: JsonObject, jsonName: string, protoName?: string): unknown {
  const v = protoName === undefined ? o[jsonName] : (o[jsonName] ?? o[protoName]);
  return v === null ? undefined : v;
}

function parseJson(body: Buffer): unknown {
  let text = body.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw ERR_BAD_OTLP(`body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/** A repeated container field: absent -> [], otherwise must be an array (else 400). */
function containerList(o: JsonObject, jsonName: string, protoName: string, path: string): unknown[] {
  const v = field(o, jsonName, protoName);
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw ERR_BAD_OTLP(`${path}.${jsonName} must be an array`);
  return v;
}

function containerObject(v: unknown, path: string): JsonObject {
  if (!isObject(v)) throw ERR_BAD_OTLP(`${path} must be an object`);
  return v;
}

export function decodeTracesJson(body: Buffer, limiter: AttributeLimiter): DecodeResult<DecodedSpan> {
  const req = containerObject(parseJson(body), "ExportTraceServiceRequest");
  const result: DecodeResult<DecodedSpan> = { items: [], rejected: 0, rejectReason: "" };
  const resourceSpans = containerList(req, "resourceSpans", "resource_spans", "request");
  for (let r = 0; r < resourceSpans.length; r++) {
    const rsPath = `resourceSpans[${r}]`;
    const rs = containerObject(resourceSpans[r], rsPath);
    const resource = convertResource(field(rs, "resource"), limiter, rsPath);
    const scopeSpans = containerList(rs, "scopeSpans", "scope_spans", rsPath);
    for (let s = 0; s < scopeSpans.length; s++) {
      const ssPath = `${rsPath}.scopeSpans[${s}]`;
      const ss = containerObject(scopeSpans[s], ssPath);
      const scope = convertScope(field(ss, "scope"), `${ssPath}.scope`);
      for (const span of containerList(ss, "spans", "spans", ssPath)) {
        try {
          result.items.push(convertSpan(span, resource, scope, limiter));
        } catch (err) {
          if (!(err instanceof InvalidItemError)) throw err;
          if (result.rejected === 0) result.rejectReason = err.message;
          result.rejected++;
        }
      }
    }
  }
  return result;
}

export function decodeLogsJson(body: Buffer, limiter: AttributeLimiter): DecodeResult<DecodedLogRecord> {
  const req = containerObject(parseJson(body), "ExportLogsServiceRequest");
  const result: DecodeResult<DecodedLogRecord> = { items: [], rejected: 0, rejectReason: "" };
  const resourceLogs = containerList(req, "resourceLogs", "resource_logs", "request");
  for (let r = 0; r < resourceLogs.length; r++) {
    const rlPath = `resourceLogs[${r}]`;
    const rl = containerObject(resourceLogs[r], rlPath);
    const resource = convertResource(field(rl, "resource"), limiter, rlPath);
    const scopeLogs = containerList(rl, "scopeLogs", "scope_logs", rlPath);
    for (let s = 0; s < scopeLogs.length; s++) {
      const slPath = `${rlPath}.scopeLogs[${s}]`;
      const sl = containerObject(scopeLogs[s], slPath);
      const scope = convertScope(field(sl, "scope"), `${slPath}.scope`);
      for (const rec of containerList(sl, "logRecords", "log_records", slPath)) {
        try {
          result.items.push(convertLogRecord(rec, resource, scope, limiter));
        } catch (err) {
          if (!(err instanceof InvalidItemError)) throw err;
          if (result.rejected === 0) result.rejectReason = err.message;
          result.rejected++;
        }
      }
    }
  }
  return result;
}

/** ExportTraceServiceResponse / ExportLogsServiceResponse as OTLP/JSON. */
export function encodeResponseJson(signal: "traces" | "logs", partial: { rejected: number; message: string }): string {
  if (partial.rejected <= 0) return "{}";
  const counter = signal === "traces" ? "rejectedSpans" : "rejectedLogRecords";
  return JSON.stringify({ partialSuccess: { [counter]: partial.rejected, errorMessage: partial.message } });
}

// ---- containers -------------------------------------------------------------------------------

function convertResource(v: unknown, limiter: AttributeLimiter, path: string): Resource {
  if (v === undefined) return { attributes: {} };
  const o = containerObject(v, `${path}.resource`);
  limiter.begin();
  try {
    const attributes = convertAttributes(field(o, "attributes"), limiter, "");
    markTruncated(attributes, limiter.take());
    return { attributes };
  } catch (err) {
    // Every item below shares this resource: a malformed one makes the whole body bad.
    if (err instanceof InvalidItemError) throw ERR_BAD_OTLP(`${path}.resource: ${err.message}`);
    throw err;
  }
}

function convertScope(v: unknown, path: string): Scope {
  if (v === undefined) return { name: "", version: "" };
  const o = containerObject(v, path);
  const name = field(o, "name") ?? "";
  const version = field(o, "version") ?? "";
  if (typeof name !== "string" || typeof version !== "string") {
    throw ERR_BAD_OTLP(`${path}: name and version must be strings`);
  }
  return { name, version };
}

// ---- items ------------------------------------------------------------------------------------

const SPAN_KINDS = new Map<string, number>([
  ["SPAN_KIND_UNSPECIFIED", 0],
  ["SPAN_KIND_INTERNAL", 1],
  ["SPAN_KIND_SERVER", 2],
  ["SPAN_KIND_CLIENT", 3],
  ["SPAN_KIND_PRODUCER", 4],
  ["SPAN_KIND_CONSUMER", 5],
]);

const STATUS_CODES = new Map<string, number>([
  ["STATUS_CODE_UNSET", 0],
  ["STATUS_CODE_OK", 1],
  ["STATUS_CODE_ERROR", 2],
]);

/** SEVERITY_NUMBER_UNSPECIFIED = 0, then TRACE = 1, TRACE2 .. TRACE4, DEBUG = 5, ... FATAL4 = 24. */
const SEVERITY_NUMBERS = new Map<string, number>([["SEVERITY_NUMBER_UNSPECIFIED", 0]]);
for (const [i, level] of ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].entries()) {
  for (const [j, suffix] of ["", "2", "3", "4"].entries()) {
    SEVERITY_NUMBERS.set(`SEVERITY_NUMBER_${level}${suffix}`, i * 4 + j + 1);
  }
}

function convertSpan(v: unknown, resource: Resource, scope: Scope, limiter: AttributeLimiter): DecodedSpan {
  if (!isObject(v)) throw new InvalidItemError("span is not a JSON object");
  const name = field(v, "name") ?? "";
  if (typeof name !== "string") throw new InvalidItemError("span: name must be a string");
  const what = `span "${name}"`;
  const traceId = hexId(field(v, "traceId", "trace_id"), 32);
  if (traceId === undefined || traceId === "") {
    throw new InvalidItemError(`${what}: traceId must be 32 hex characters and not all zero`);
  }
  const spanId = hexId(field(v, "spanId", "span_id"), 16);
  if (spanId === undefined || spanId === "") {
    throw new InvalidItemError(`${what}: spanId must be 16 hex characters and not all zero`);
  }
  const rawParent = field(v, "parentSpanId", "parent_span_id");
  // Empty string means root (OTLP/JSON); eight zero bytes are sent by some SDKs for the same.
  const parentSpanId = rawParent === undefined || rawParent === "" ? "" : hexId(rawParent, 16);
  if (parentSpanId === undefined)
    throw new InvalidItemError(`${what}: parentSpanId must be empty or 16 hex characters`);
  const kind = enumValue(field(v, "kind"), SPAN_KINDS, what, "kind");

  limiter.begin();
  const attributes = convertAttributes(field(v, "attributes"), limiter, "", what);
  const events = convertEvents(field(v, "events"), limiter, what);
  markTruncated(attributes, limiter.take());

  let status: DecodedSpan["status"] = { code: 0, message: "" };
  const rawStatus = field(v, "status");
  if (rawStatus !== undefined) {
    if (!isObject(rawStatus)) throw new InvalidItemError(`${what}: status must be an object`);
    const code = enumValue(field(rawStatus, "code"), STATUS_CODES, what, "status.code");
    const message = field(rawStatus, "message") ?? "";
    if (typeof message !== "string") throw new InvalidItemError(`${what}: status.message must be a string`);
    status = { code: code === 1 || code === 2 ? (code as StatusCode) : 0, message };
  }

  const startTimeUs = nanosToMicros(field(v, "startTimeUnixNano", "start_time_unix_nano"), what, "startTimeUnixNano");
  checkSpanStart(what, startTimeUs, Date.now() * 1000);
  return {
    traceId,
    spanId,
    parentSpanId,
    name,
    kind: kind >= 0 && kind <= 5 ? kind : 0,
    startTimeUs,
    endTimeUs: nanosToMicros(field(v, "endTimeUnixNano", "end_time_unix_nano"), what, "endTimeUnixNano"),
    attributes,
    events,
    status,
    resource,
    scope,
  };
}

function convertEvents(v: unknown, limiter: AttributeLimiter, what: string): SpanEvent[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new InvalidItemError(`${what}: events must be an array`);
  const events: SpanEvent[] = [];
  for (let i = 0; i < v.length; i++) {
    const ev: unknown = v[i];
    if (!isObject(ev)) throw new InvalidItemError(`${what}: events[${i}] must be an object`);
    const name = field(ev, "name") ?? "";
    if (typeof name !== "string") throw new InvalidItemError(`${what}: events[${i}].name must be a string`);
    events.push({
      name,
      timeUs: nanosToMicros(field(ev, "timeUnixNano", "time_unix_nano"), what, `events[${i}].timeUnixNano`),
      attributes: convertAttributes(field(ev, "attributes"), limiter, `events[${i}].`, what),
    });
  }
  return events;
}

function convertLogRecord(v: unknown, resource: Resource, scope: Scope, limiter: AttributeLimiter): DecodedLogRecord {
  if (!isObject(v)) throw new InvalidItemError("log record is not a JSON object");
  const what = "log record";
  const severityText = field(v, "severityText", "severity_text") ?? "";
  if (typeof severityText !== "string") throw new InvalidItemError(`${what}: severityText must be a string`);
  const rawEventName = field(v, "eventName", "event_name") ?? "";
  if (typeof rawEventName !== "string") throw new InvalidItemError(`${what}: eventName must be a string`);
  // The number itself is not kept, but a wrong type still marks the record as malformed.
  enumValue(field(v, "severityNumber", "severity_number"), SEVERITY_NUMBERS, what, "severityNumber");
  // Log records may omit IDs; an invalid one means "not associated" (logs.proto), but a value
  // of the wrong JSON type is a malformed record.
  const traceId = hexId(field(v, "traceId", "trace_id"), 32, what, "traceId") ?? "";
  const spanId = hexId(field(v, "spanId", "span_id"), 16, what, "spanId") ?? "";
  const time = nanosToMicros(field(v, "timeUnixNano", "time_unix_nano"), what, "timeUnixNano");
  const observed = nanosToMicros(
    field(v, "observedTimeUnixNano", "observed_time_unix_nano"),
    what,
    "observedTimeUnixNano",
  );

  limiter.begin();
  const attributes = convertAttributes(field(v, "attributes"), limiter, "", what);
  const rawBody = field(v, "body");
  const body = rawBody === undefined ? null : convertValue(rawBody, limiter, "body", 0, what);
  markTruncated(attributes, limiter.take());

  let eventName = rawEventName;
  if (eventName === "") {
    // Before LogRecord.event_name (OTLP 1.5), events carried their name in this attribute.
    const legacy = attributes["event.name"];
    if (typeof legacy === "string") eventName = legacy;
  }
  return {
    timeUs: time !== 0 ? time : observed,
    traceId,
    spanId,
    eventName,
    severityText,
    body,
    attributes,
    resource,
    scope,
  };
}

// ---- values -----------------------------------------------------------------------------------

function convertAttributes(v: unknown, limiter: AttributeLimiter, prefix: string, what = "resource"): Attributes {
  const attrs: Attributes = {};
  if (v === undefined) return attrs;
  if (!Array.isArray(v)) throw new InvalidItemError(`${what}: ${prefix}attributes must be an array`);
  for (let i = 0; i < v.length; i++) {
    const kv: unknown = v[i];
    if (!isObject(kv) || typeof kv["key"] !== "string") {
      throw new InvalidItemError(`${what}: ${prefix}attributes[${i}] must be an object with a string key`);
    }
    const key = internKey(kv["key"]);
    const raw = field(kv, "value");
    const value = raw === undefined ? null : convertValue(raw, limiter, prefix + key, 0, what);
    setAttribute(attrs, key, value);
  }
  return attrs;
}

const INTEGER = /^-?\d+$/;
const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** AnyValue: exactly one of its oneof members, by JSON or proto name; `{}` is the empty value. */
function convertValue(v: unknown, limiter: AttributeLimiter, key: string, depth: number, what: string): AttrValue {
  if (!isObject(v)) throw new InvalidItemError(`${what}: attribute "${key}" value must be an AnyValue object`);
  const bad = (member: string) => new InvalidItemError(`${what}: attribute "${key}" has an invalid ${member}`);

  const s = field(v, "stringValue", "string_value");
  if (s !== undefined) {
    if (typeof s !== "string") throw bad("stringValue");
    return limiter.str(s, key);
  }
  const i = field(v, "intValue", "int_value");
  if (i !== undefined) {
    if (typeof i === "number" && Number.isInteger(i)) return i;
    if (typeof i === "string" && INTEGER.test(i)) return Number(i);
    throw bad("intValue");
  }
  const b = field(v, "boolValue", "bool_value");
  if (b !== undefined) {
    if (typeof b !== "boolean") throw bad("boolValue");
    return b;
  }
  const d = field(v, "doubleValue", "double_value");
  if (d !== undefined) {
    if (typeof d === "number") return d;
    // The protobuf JSON mapping writes non-finite doubles (and may write any double) as strings.
    if (typeof d === "string") {
      if (DECIMAL.test(d)) return Number(d);
      if (d === "NaN") return Number.NaN;
      if (d === "Infinity") return Number.POSITIVE_INFINITY;
      if (d === "-Infinity") return Number.NEGATIVE_INFINITY;
    }
    throw bad("doubleValue");
  }
  const bytes = field(v, "bytesValue", "bytes_value");
  if (bytes !== undefined) {
    if (typeof bytes !== "string" || !BASE64.test(bytes)) throw bad("bytesValue");
    return new Uint8Array(limiter.bytes(Buffer.from(bytes, "base64"), key));
  }
  const arr = field(v, "arrayValue", "array_value");
  if (arr !== undefined) {
    if (depth >= MAX_VALUE_DEPTH) throw bad("arrayValue (nested too deeply)");
    if (!isObject(arr)) throw bad("arrayValue");
    const values = field(arr, "values") ?? [];
    if (!Array.isArray(values)) throw bad("arrayValue");
    const out: AttrValue[] = [];
    for (const item of values) out.push(convertValue(item, limiter, key, depth + 1, what));
    return out;
  }
  const kvlist = field(v, "kvlistValue", "kvlist_value");
  if (kvlist !== undefined) {
    if (depth >= MAX_VALUE_DEPTH) throw bad("kvlistValue (nested too deeply)");
    if (!isObject(kvlist)) throw bad("kvlistValue");
    const values = field(kvlist, "values") ?? [];
    if (!Array.isArray(values)) throw bad("kvlistValue");
    const out: { [k: string]: AttrValue } = {};
    for (const kv of values) {
      if (!isObject(kv) || typeof kv["key"] !== "string") throw bad("kvlistValue");
      const raw = field(kv, "value");
      setAttribute(out, kv["key"], raw === undefined ? null : convertValue(raw, limiter, key, depth + 1, what));
    }
    return out;
  }
  return null;
}

const HEX = /^[0-9a-fA-F]+$/;
const ZEROS = /^0+$/;

/**
 * A hex trace/span id of `length` characters, lowercased. Returns "" for a valid-looking but
 * all-zero id and undefined for anything else; with `what`, a non-string throws instead.
 */
function hexId(v: unknown, length: number, what?: string, name?: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string") {
    if (what !== undefined) throw new InvalidItemError(`${what}: ${name} must be a hex string`);
    return undefined;
  }
  if (v.length !== length || !HEX.test(v)) return undefined;
  return ZEROS.test(v) ? "" : v.toLowerCase();
}

/** An enum as its integer or its name. */
function enumValue(v: unknown, names: Map<string, number>, what: string, name: string): number {
  if (v === undefined) return 0;
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string") {
    const n = names.get(v);
    if (n !== undefined) return n;
    if (INTEGER.test(v)) return Number(v);
  }
  throw new InvalidItemError(`${what}: ${name} must be an enum integer or name`);
}

const NANOS = /^\d{1,20}$/;

/** fixed64 nanoseconds (string or number) -> whole microseconds; absent is 0. */
function nanosToMicros(v: unknown, what: string, name: string): number {
  if (v === undefined) return 0;
  if (typeof v === "string" && NANOS.test(v)) {
    // Dropping the last three digits divides exactly, without going through a lossy double.
    return v.length <= 3 ? 0 : Number(v.slice(0, -3));
  }
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return Math.floor(v / 1000);
  throw new InvalidItemError(`${what}: ${name} must be an unsigned integer (string or number)`);
}
