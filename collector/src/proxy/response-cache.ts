/**
 * Exact-match response cache. Opt-in per route, team or virtual key (proxy.cache in
 * tokenmeter.yaml). The key is a sha256 of the route, method, upstream path, the request body as
 * canonical JSON (keys sorted, so key order does not matter) and the caller's scope (virtual key
 * or team), so one tenant never receives another's answer. Entries expire after a TTL and the
 * least recently used go first when the entry or byte cap is reached.
 *
 * A streamed answer is stored as the SSE bytes the client received and replayed as such.
 */
import { createHash } from "node:crypto";

export interface CachedFacts {
  /** Usage of the original call (OTel semantics: input includes cache, output includes reasoning). */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  responseModel: string;
  responseId: string;
  finishReasons: readonly string[];
  /** Output messages (OTel shape) of the original call, "" when not captured. */
  output: string;
  /** What the original call cost, the amount a hit saves; null when unpriced. */
  costUsd: string | null;
}

export interface CachedResponse {
  status: number;
  statusText: string;
  /** Flat [name, value, ...] list, hop-by-hop headers removed. */
  headers: readonly string[];
  body: Buffer;
  streamed: boolean;
  facts: CachedFacts;
}

interface Entry {
  value: CachedResponse;
  expiresAt: number;
  bytes: number;
}

export interface ResponseCacheOptions {
  ttlMs: number;
  maxEntries: number;
  maxBytes: number;
  maxEntryBytes: number;
  now?: () => number;
}

export class ResponseCache {
  // A Map iterates in insertion order: re-inserting on every hit makes the first key the LRU.
  readonly #entries = new Map<string, Entry>();
  readonly #o: Required<ResponseCacheOptions>;
  #bytes = 0;

  constructor(opts: ResponseCacheOptions) {
    this.#o = { now: Date.now, ...opts };
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get maxEntryBytes(): number {
    return this.#o.maxEntryBytes;
  }

  get(key: string): CachedResponse | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.#o.now()) {
      this.#delete(key, e);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.value;
  }

  /** Stores a response; ignored when it alone exceeds the per-entry cap. */
  set(key: string, value: CachedResponse): void {
    let bytes = value.body.length + value.facts.output.length + 256;
    for (const h of value.headers) bytes += h.length;
    if (bytes > this.#o.maxEntryBytes || bytes > this.#o.maxBytes) return;
    const old = this.#entries.get(key);
    if (old !== undefined) this.#delete(key, old);
    while (this.#entries.size >= this.#o.maxEntries || this.#bytes + bytes > this.#o.maxBytes) {
      const oldest = this.#entries.entries().next();
      if (oldest.done) break;
      this.#delete(oldest.value[0], oldest.value[1]);
    }
    this.#entries.set(key, { value, expiresAt: this.#o.now() + this.#o.ttlMs, bytes });
    this.#bytes += bytes;
  }

  #delete(key: string, e: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= e.bytes;
  }
}

/** JSON with object keys sorted at every level: equal requests give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonicalJson(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = "{";
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(k)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

/** The cache key of one request. `scope` is the virtual key id or team ("" for neither). */
export function cacheKey(route: string, method: string, upstreamPath: string, body: unknown, scope: string): string {
  return createHash("sha256")
    .update(route)
    .update("\u0000")
    .update(method)
    .update("\u0000")
    .update(upstreamPath)
    .update("\u0000")
    .update(scope)
    .update("\u0000")
    .update(canonicalJson(body))
    .digest("hex");
}
