import { utf8Slice } from "./key-cache.js";
import type { Attributes, AttrValue } from "./types.js";

/*
 * Building decoded attribute maps, shared by the protobuf and JSON decoders: the value size
 * limit and its truncation marker, and safe key assignment.
 */

/** Span/log attribute listing the keys whose values were cut to the size limit. */
export const TRUNCATED_ATTRIBUTES_KEY = "tokenmeter.truncated_attributes";

/**
 * AnyValue nesting deeper than this is refused: GenAI payloads nest a few levels, and a bound
 * keeps a hostile body from exhausting the stack in the recursive decoders.
 */
export const MAX_VALUE_DEPTH = 64;

/** Thrown while decoding an item that cannot be kept; the decoder counts it as rejected. */
export class InvalidItemError extends Error {
  override name = "InvalidItemError";
}

/** No model call starts before 2000: a zero or tiny start time is an unset field. */
const EARLIEST_START_US = Date.UTC(2000, 0, 1) * 1000;
/** How far ahead of the collector's clock a span may start: clocks drift, years ahead is a bug. */
export const MAX_START_AHEAD_US = 24 * 3600 * 1_000_000;

/**
 * A span's start time must be set and plausible. Stored as sent, a missing one would file the
 * call under 1970 (outside every time range, unpriced) and one decades ahead under a month that
 * spend queries and retention never reach; rejected instead (partial success, with this message).
 */
export function checkSpanStart(what: string, startUs: number, nowUs: number): void {
  if (startUs === 0) throw new InvalidItemError(`${what}: startTimeUnixNano is missing`);
  if (startUs < EARLIEST_START_US) throw new InvalidItemError(`${what}: startTimeUnixNano is before 2000-01-01`);
  if (startUs > nowUs + MAX_START_AHEAD_US) {
    throw new InvalidItemError(`${what}: startTimeUnixNano is more than a day ahead of the collector's clock`);
  }
}

/**
 * Per-item bookkeeping for the attribute size limit. One instance serves a whole request:
 * `begin()` before each span/log record, then `take()` for the keys cut while decoding it.
 */
export class AttributeLimiter {
  readonly maxBytes: number;
  private truncated: string[] | undefined;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  begin(): void {
    this.truncated = undefined;
  }

  /** Returns `s`, or its longest UTF-8 prefix within the limit (recording `key` as truncated). */
  str(s: string, key: string): string {
    // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings skip the byte count entirely.
    if (s.length * 3 <= this.maxBytes) return s;
    if (s.length <= this.maxBytes && Buffer.byteLength(s, "utf8") <= this.maxBytes) return s;
    this.note(key);
    return truncateUtf8(s, this.maxBytes);
  }

  /** A UTF-8 string of `buf[start, end)`, cut to the limit without decoding the excess. */
  strFromUtf8(buf: Buffer, start: number, end: number, key: string): string {
    if (end - start <= this.maxBytes) return utf8Slice(buf, start, end);
    this.note(key);
    const cut = utf8Slice(buf, start, utf8Boundary(buf, start, start + this.maxBytes));
    // Invalid input decodes to U+FFFD (3 bytes each), which can outgrow the limit again.
    return Buffer.byteLength(cut, "utf8") <= this.maxBytes ? cut : truncateUtf8(cut, this.maxBytes);
  }

  /** `b` cut to the limit (a view, not a copy). */
  bytes(b: Uint8Array, key: string): Uint8Array {
    if (b.length <= this.maxBytes) return b;
    this.note(key);
    return b.subarray(0, this.maxBytes);
  }

  note(key: string): void {
    if (this.truncated === undefined) this.truncated = [key];
    else if (!this.truncated.includes(key)) this.truncated.push(key);
  }

  /** Keys truncated since `begin()`, or undefined when none. */
  take(): string[] | undefined {
    const t = this.truncated;
    this.truncated = undefined;
    return t;
  }
}

/**
 * The largest `end' <= end` such that `buf[start, end')` does not stop inside a multi-byte
 * character: while the first byte left out is a continuation byte, the character straddling the
 * cut is incomplete, so cut before its lead byte.
 */
export function utf8Boundary(buf: Uint8Array, start: number, end: number): number {
  let e = end;
  while (e > start && ((buf[e] ?? 0) & 0xc0) === 0x80) e--;
  return e;
}

/**
 * The longest prefix of `s` whose UTF-8 encoding fits in `maxBytes`, never splitting a character.
 * Only the first `maxBytes` code units are encoded: each takes at least one byte, so they cover
 * the cut.
 */
export function truncateUtf8(s: string, maxBytes: number): string {
  const head = s.length > maxBytes ? s.slice(0, maxBytes) : s;
  const buf = Buffer.from(head, "utf8");
  if (buf.length <= maxBytes) return head;
  return buf.toString("utf8", 0, utf8Boundary(buf, 0, maxBytes));
}

/** Sets `attrs[key]`; a `__proto__` key becomes an own property instead of replacing the prototype. */
export function setAttribute(attrs: Attributes, key: string, value: AttrValue): void {
  if (key === "__proto__") {
    Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    attrs[key] = value;
  }
}

/** Adds the truncation marker, merged with one the sender may already have set. */
export function markTruncated(attrs: Attributes, keys: string[] | undefined): void {
  if (keys === undefined) return;
  const prior = attrs[TRUNCATED_ATTRIBUTES_KEY];
  if (Array.isArray(prior)) {
    for (const k of prior) if (typeof k === "string" && !keys.includes(k)) keys.push(k);
  }
  attrs[TRUNCATED_ATTRIBUTES_KEY] = keys;
}
