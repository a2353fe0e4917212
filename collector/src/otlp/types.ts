/**
 * The decoder's output: OTLP spans and log records flattened to plain objects, whatever the
 * wire format (protobuf or JSON). Every later stage reads only these shapes.
 */

/** An OTLP AnyValue as a plain JS value. int64 beyond 2^53 loses precision (never seen in GenAI data). */
export type AttrValue = string | number | boolean | null | Uint8Array | AttrValue[] | { [key: string]: AttrValue };

export type Attributes = Record<string, AttrValue>;

export interface Resource {
  attributes: Attributes;
}

export interface Scope {
  name: string;
  version: string;
}

export interface SpanEvent {
  name: string;
  /** Unix time in microseconds. */
  timeUs: number;
  attributes: Attributes;
}

/** OTLP status code: 0 unset, 1 ok, 2 error. */
export type StatusCode = 0 | 1 | 2;

export interface DecodedSpan {
  /** Lowercase hex, 32 chars. */
  traceId: string;
  /** Lowercase hex, 16 chars. */
  spanId: string;
  /** Lowercase hex, 16 chars, or "" for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** Unix time in microseconds. */
  startTimeUs: number;
  endTimeUs: number;
  attributes: Attributes;
  events: SpanEvent[];
  status: { code: StatusCode; message: string };
  resource: Resource;
  scope: Scope;
}

export interface DecodedLogRecord {
  /** Unix time in microseconds (time_unix_nano, else observed_time_unix_nano). */
  timeUs: number;
  traceId: string;
  spanId: string;
  /** OTLP LogRecord.event_name, or the `event.name` attribute for older senders. */
  eventName: string;
  severityText: string;
  body: AttrValue;
  attributes: Attributes;
  resource: Resource;
  scope: Scope;
}

/** What one request decoded to, plus the items dropped as invalid (reported as partial_success). */
export interface DecodeResult<T> {
  items: T[];
  rejected: number;
  /** Human-readable reason for the first rejected item, empty when none. */
  rejectReason: string;
}
