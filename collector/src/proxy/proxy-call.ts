/**
 * One request through the proxy, from arrival to the span it leaves behind.
 *
 *   headers (attribution, virtual key) -> body (model calls only) -> rate limits -> response
 *   cache -> pre-request hooks -> upstream (undici, pooled keep-alive) -> answer piped to the
 *   client chunk by chunk while a tap reads it -> span to the sink, reservations settled.
 *
 * The answer is written to the client before the tap looks at it, so telemetry never delays a
 * byte. Anything tokenmeter itself fails at (sink, hooks, parsing) is logged and counted; the
 * user's call goes on unchanged.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import type { Dispatcher, Pool } from "undici";
import { estimateTokens } from "../enrich/estimate-tokens.js";
import type { PriceBook } from "../enrich/price-book.js";
import { priceCall } from "../enrich/pricing.js";
import type { Rater } from "../finops/rating.js";
import type { Logger } from "../logger.js";
import { parseTagValue } from "../normalize/attribution.js";
import type { Attributes, AttrValue, Resource } from "../otlp/types.js";
import { CallCapture, isObj, type JsonObj, parseJson, type Usage } from "./call-capture.js";
import { anthropicJson, anthropicStreamEvent, newAnthropicUsageState } from "./extract-anthropic.js";
import { openaiJson, openaiStreamEvent, openaiUsageFromTail } from "./extract-openai.js";
import {
  parseTraceparent,
  type RequestMeta,
  responseHeaders,
  splitRequestHeaders,
  without,
  withoutCredentials,
} from "./headers.js";
import type { PreRequestHook, ProxyRequestContext, Reservation } from "./hooks.js";
import { type ProxyErrorReply, sendProviderError } from "./provider-errors.js";
import type { ProxyMetrics } from "./proxy-metrics.js";
import type { RateLimiter } from "./rate-limit.js";
import { type RequestFacts, requestFacts, requestParamAttributes } from "./request-facts.js";
import { type CachedResponse, cacheKey, type ResponseCache } from "./response-cache.js";
import type { MatchedRoute } from "./routes.js";
import { buildSpan, newSpanId, newTraceId, nowUs, operationOf, type UsageReport } from "./span.js";
import type { SpanSink } from "./span-sink.js";
import { SseParser } from "./sse-parser.js";
import { UsageChunkFilter } from "./usage-filter.js";
import type { VirtualKey, VirtualKeys } from "./virtual-keys.js";

/** What every call shares: built once by buildProxy. */
export interface ProxyContext {
  pool(origin: string): Pool;
  keys: VirtualKeys;
  limiter: RateLimiter;
  cache: ResponseCache | undefined;
  cacheTeams: ReadonlySet<string>;
  hooks: readonly PreRequestHook[];
  book: PriceBook;
  /** Contracts and service tiers on top of the catalog price, as the stored row is rated. */
  rater: Rater;
  sink: SpanSink;
  metrics: ProxyMetrics;
  logger: Logger;
  resource: Resource;
  /** 0 when content capture is off. */
  captureBytes: number;
  maxBodyBytes: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** Calls in progress, for a graceful close. */
  inflight: Set<ProxyCall>;
}

/** A non-streamed answer larger than this is not parsed whole; usage is read from its tail. */
const MAX_JSON_BYTES = 8 * 1024 * 1024;
const JSON_TAIL_BYTES = 64 * 1024;
const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** Output tokens assumed for a budget estimate when the request sets no cap. */
const DEFAULT_OUTPUT_ESTIMATE = 4096;

type Outcome = "ok" | "error" | "cancelled";

function headerString(h: IncomingHttpHeaders, name: string): string {
  const v = h[name];
  return typeof v === "string" ? v : Array.isArray(v) ? (v[0] ?? "") : "";
}

function decodeBody(buf: Buffer, encoding: string): Buffer | undefined {
  try {
    switch (encoding) {
      case "":
      case "identity":
        return buf;
      case "gzip":
      case "x-gzip":
        return gunzipSync(buf, { maxOutputLength: MAX_JSON_BYTES * 4 });
      case "deflate":
        return inflateSync(buf, { maxOutputLength: MAX_JSON_BYTES * 4 });
      case "br":
        return brotliDecompressSync(buf, { maxOutputLength: MAX_JSON_BYTES * 4 });
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/** The provider's error message from an error body, for the span's status message. */
function errorMessageOf(body: Buffer | undefined): string {
  if (body === undefined || body.length === 0) return "";
  const parsed = parseJson(body.toString("utf8"));
  if (isObj(parsed) && isObj(parsed["error"])) {
    const m = parsed["error"]["message"];
    if (typeof m === "string") return m.slice(0, 512);
  }
  return "";
}

function undiciCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : "";
}

function isTimeout(err: unknown): boolean {
  const code = undiciCode(err);
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" || code === "UND_ERR_CONNECT_TIMEOUT";
}

export class ProxyCall implements Dispatcher.DispatchHandler {
  readonly #ctx: ProxyContext;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #match: MatchedRoute;
  readonly #startPerf: number;
  readonly #startUs: number;

  #forward: string[] = [];
  #meta: RequestMeta | undefined;
  #vk: VirtualKey | undefined;
  #team = "";
  #project = "";

  #body: Buffer | undefined;
  #json: JsonObj | undefined;
  #facts: RequestFacts | undefined;
  #attrs: Attributes | undefined;
  #traceId = "";
  #parentSpanId = "";

  #controller: Dispatcher.DispatchController | undefined;
  #dispatched = false;
  #clientGone = false;
  #done = false;
  #status = 0;
  #firstByteMs = -1;
  #waitingDrain = false;
  /** Answer bytes received this turn, written at its end (see onResponseData). */
  #unsent: Buffer | undefined;
  #unsentMore: Buffer[] | undefined;
  /** Upstream chunks the tap has not read yet (it reads after writing). */
  #untapped: Buffer[] | undefined;
  #flushScheduled = false;

  // The tap.
  #capture: CallCapture | undefined;
  #sse: SseParser | undefined;
  #encoding = "";
  #encodedSse: Buffer[] | undefined;
  #jsonChunks: Buffer[] | undefined;
  #jsonBytes = 0;
  #jsonTail: Buffer | undefined;
  #errorChunks: Buffer[] | undefined;
  #errorBytes = 0;
  #filter: UsageChunkFilter | undefined;
  #stripUsage = false;

  // The response cache (miss path): what the client received, to store when the call succeeds.
  #cacheKey: string | undefined;
  #cacheChunks: Buffer[] | undefined;
  #cacheBytes = 0;
  #cacheHeaders: string[] = [];
  #statusText = "";

  #reservations: Reservation[] = [];
  #awaitingHooks = false;

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, match: MatchedRoute) {
    this.#ctx = ctx;
    this.#req = req;
    this.#res = res;
    this.#match = match;
    this.#startPerf = performance.now();
    this.#startUs = nowUs();
  }

  get #route() {
    return this.#match.route;
  }

  /** Entry point: runs synchronously up to the first wait (body, hooks or upstream). */
  start(): void {
    const req = this.#req;
    const res = this.#res;
    this.#ctx.inflight.add(this);
    this.#ctx.metrics.inflight.inc();
    req.on("error", noop);
    res.on("error", noop);
    res.on("close", this.#onClientClose);

    const { forward, meta } = splitRequestHeaders(req.rawHeaders);
    this.#forward = forward;
    this.#meta = meta;

    if (meta.virtualKey !== "") {
      const vk = this.#ctx.keys.lookup(meta.virtualKey);
      if (vk === undefined) {
        this.#refuse({ status: 401, code: "invalid_api_key", message: "Unknown tokenmeter virtual key." }, false);
        return;
      }
      const real = this.#ctx.keys.realKey(vk, this.#route.name);
      if (real === undefined) {
        this.#refuse(
          {
            status: 500,
            code: "virtual_key_unconfigured",
            message: `tokenmeter virtual key "${vk.id}" has no provider key for route "${this.#route.name}".`,
          },
          false,
        );
        return;
      }
      this.#vk = vk;
      this.#forward = withoutCredentials(this.#forward);
      this.#injectKey(real, meta);
    }
    this.#team = this.#vk?.team || meta.team;
    this.#project = this.#vk?.project || meta.project;

    if (this.#match.endpoint === undefined) {
      // Not a model call: rate limits and the key still apply, nothing is parsed or recorded.
      if (this.#rateLimited(false)) return;
      const method = req.method ?? "GET";
      this.#dispatch(method === "GET" || method === "HEAD" ? null : req);
      return;
    }
    this.#readBody();
  }

  #injectKey(real: string, meta: RequestMeta): void {
    // Anthropic takes API keys in x-api-key; OpenAI-format upstreams take a bearer token, except
    // Azure-style deployments whose clients send `api-key`.
    if (this.#route.format === "anthropic") this.#forward.push("x-api-key", real);
    else if (meta.virtualKeyHeader === "api-key") this.#forward.push("api-key", real);
    else this.#forward.push("authorization", `Bearer ${real}`);
  }

  #readBody(): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    const max = this.#ctx.maxBodyBytes;
    this.#req.on("data", (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > max) {
        tooLarge = true;
        this.#res.shouldKeepAlive = false;
        this.#refuse({ status: 413, code: "request_too_large", message: `Request body exceeds ${max} bytes.` }, false);
        return;
      }
      chunks.push(chunk);
    });
    this.#req.on("end", () => {
      if (tooLarge || this.#done) return;
      this.#body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      try {
        this.#afterBody();
      } catch (err) {
        this.#internalError(err);
      }
    });
  }

  /**
   * The body is in. A call that no policy needs to inspect goes upstream at once and is read
   * afterwards; otherwise the body is read first (cache key, hooks, stream-usage injection).
   */
  #afterBody(): void {
    if (this.#clientGone) {
      this.#finishUnsent();
      return;
    }
    const endpoint = this.#match.endpoint;
    const cached = this.#ctx.cache !== undefined && this.#cacheEnabled();
    const inject =
      this.#route.injectStreamUsage &&
      this.#route.format === "openai" &&
      (endpoint === "chat" || endpoint === "completions");
    if (this.#ctx.hooks.length === 0 && !cached && !inject) {
      if (this.#rateLimited(true)) return;
      this.#dispatch(this.#body as Buffer);
      this.#prepare();
      return;
    }
    this.#prepare();
    if (this.#rateLimited(true)) return;
    this.#gateAndDispatch(cached, inject).catch((err: unknown) => this.#internalError(err));
  }

  /** Parses the body and gathers the span's request attributes. */
  #prepare(): void {
    const body = this.#body;
    const endpoint = this.#match.endpoint;
    if (body !== undefined && endpoint !== undefined && body.length > 0) {
      const parsed = parseJson(body.toString("utf8"));
      if (isObj(parsed)) {
        this.#json = parsed;
        this.#facts = requestFacts(endpoint, parsed, body.length, this.#ctx.captureBytes);
      }
    }
    this.#attrs = this.#baseAttributes();
  }

  /**
   * Response cache, hooks and stream-usage injection, then upstream. `inject`: the route asks
   * for usage in OpenAI streams and this endpoint can carry it.
   */
  async #gateAndDispatch(cached: boolean, inject: boolean): Promise<void> {
    const body = this.#body as Buffer;
    const cache = this.#ctx.cache;
    if (cached && cache !== undefined && this.#json !== undefined) {
      const scope = this.#vk !== undefined ? `vk:${this.#vk.id}` : `team:${this.#team}`;
      const key = cacheKey(this.#route.name, this.#req.method ?? "POST", this.#match.upstreamPath, this.#json, scope);
      const hit = cache.get(key);
      this.#ctx.metrics.cacheLookup(this.#route.name, hit !== undefined);
      if (hit !== undefined) {
        this.#replay(hit);
        return;
      }
      this.#cacheKey = key;
    }

    if (this.#ctx.hooks.length > 0) {
      this.#awaitingHooks = true;
      let refused: boolean;
      try {
        refused = await this.#runHooks();
      } finally {
        this.#awaitingHooks = false;
      }
      if (refused) return;
      if (this.#clientGone) {
        this.#release();
        this.#finishUnsent();
        return;
      }
    }

    let out = body;
    const facts = this.#facts;
    if (inject && facts?.stream === true && !facts.includeUsage && this.#json !== undefined) {
      out = withIncludeUsage(body, this.#json);
      this.#stripUsage = true;
    }
    this.#dispatch(out);
  }

  #cacheEnabled(): boolean {
    if (this.#meta?.noCache === true) return false;
    return this.#route.cache || this.#vk?.cache === true || (this.#team !== "" && this.#ctx.cacheTeams.has(this.#team));
  }

  /** True (and the call answered) when a rate limit refuses it. */
  #rateLimited(record: boolean): boolean {
    const { limiter } = this.#ctx;
    if (!limiter.enabled && this.#vk?.rateLimit === undefined) return false;
    const denial = limiter.check(this.#vk, this.#team);
    if (denial === undefined) return false;
    const what = denial.scope === "virtual_key" ? `virtual key "${denial.name}"` : `team "${denial.name}"`;
    this.#refuse(
      {
        status: 429,
        code: "rate_limited",
        message: `tokenmeter rate limit reached for ${what}. Retry after ${Math.ceil(denial.retryAfterSeconds)}s.`,
        retryAfter: denial.retryAfterSeconds,
      },
      record,
    );
    return true;
  }

  /** Calls the hooks in order; true when one refused (the client has been answered). */
  async #runHooks(): Promise<boolean> {
    const ctx = this.#hookContext();
    for (const hook of this.#ctx.hooks) {
      let decision: Awaited<ReturnType<PreRequestHook["beforeRequest"]>>;
      try {
        decision = await hook.beforeRequest(ctx);
      } catch (err) {
        // A failing policy must not take the user's call down with it.
        this.#ctx.logger.warn(
          { hook: hook.name, err: { message: (err as Error)?.message } },
          "pre-request hook failed",
        );
        continue;
      }
      if (decision.allow) {
        if (decision.reservation !== undefined) this.#reservations.push(decision.reservation);
        continue;
      }
      this.#release();
      this.#refuse(
        { status: decision.status, code: decision.code, message: decision.message, retryAfter: decision.retryAfter },
        true,
      );
      return true;
    }
    return false;
  }

  #hookContext(): ProxyRequestContext {
    const facts = this.#facts;
    const model = facts?.model ?? "";
    let estimated: number | null = null;
    if (model !== "") {
      const cost = this.#cost(
        {
          // About 4 bytes per token; the JSON framing makes this an over-estimate, as a reservation should be.
          input: Math.ceil((this.#body?.length ?? 0) / 4),
          output: this.#match.endpoint === "embeddings" ? 0 : (facts?.maxOutputTokens ?? DEFAULT_OUTPUT_ESTIMATE),
          cacheRead: 0,
          cacheWrite: 0,
          reasoning: 0,
        },
        "",
      );
      estimated = cost === null ? null : Number(cost);
    }
    const meta = this.#meta;
    return {
      route: this.#route.name,
      apiFormat: this.#route.format,
      provider: this.#route.provider,
      path: this.#match.path,
      model,
      team: this.#team,
      project: this.#project,
      user: meta?.user || facts?.endUser || "",
      virtualKeyId: this.#vk?.id ?? "",
      // Read as the collector reads tokenmeter.tags, so hooks and stored rows agree.
      tags: parseTagValue(meta?.tags ?? "") ?? {},
      estimatedCostUsd: estimated,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Upstream

  #dispatch(body: Buffer | IncomingMessage | null): void {
    if (this.#clientGone) {
      this.#finishUnsent();
      return;
    }
    this.#dispatched = true;
    const route = this.#route;
    this.#ctx.pool(route.origin).dispatch(
      {
        path: this.#match.upstreamPath,
        method: (this.#req.method ?? "GET") as Dispatcher.HttpMethod,
        headers: this.#forward,
        body,
        headersTimeout: this.#ctx.headersTimeoutMs,
        bodyTimeout: this.#ctx.bodyTimeoutMs,
      },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientGoneError());
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // 1xx: informational, the real answer follows
    this.#status = statusCode;
    this.#statusText = statusMessage ?? "";
    const raw = controller.rawHeaders;
    const out = Array.isArray(raw) ? responseHeaders(raw) : flattenParsed(headers);
    const contentType = headerString(headers, "content-type");
    const isSse = contentType.startsWith("text/event-stream");
    const ok = statusCode >= 200 && statusCode < 300;
    const endpoint = this.#match.endpoint;
    let headersOut = out;
    if (this.#stripUsage && ok && isSse) {
      this.#filter = new UsageChunkFilter();
      headersOut = without(out, ["content-length"]);
    }
    if (this.#cacheKey !== undefined && ok) {
      this.#cacheChunks = [];
      this.#cacheHeaders = headersOut;
    }
    if (endpoint !== undefined) {
      this.#capture = new CallCapture(this.#ctx.captureBytes);
      this.#encoding = headerString(headers, "content-encoding").trim().toLowerCase();
      if (!ok) {
        this.#errorChunks = [];
      } else if (isSse) {
        if (this.#encoding === "" || this.#encoding === "identity") this.#sse = this.#newSseParser(this.#capture);
        else this.#encodedSse = [];
      } else {
        this.#jsonChunks = [];
      }
    }
    if (!this.#res.destroyed) {
      if (this.#statusText !== "") this.#res.writeHead(statusCode, this.#statusText, headersOut);
      else this.#res.writeHead(statusCode, headersOut);
    }
  }

  #newSseParser(capture: CallCapture): SseParser {
    const endpoint = this.#match.endpoint ?? "chat";
    if (this.#route.format === "anthropic") {
      const state = newAnthropicUsageState();
      return new SseParser((event, data) => anthropicStreamEvent(capture, state, event, data));
    }
    return new SseParser((event, data) => openaiStreamEvent(capture, endpoint, event, data));
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#firstByteMs < 0) this.#firstByteMs = performance.now();
    const out = this.#filter === undefined ? chunk : this.#filter.push(chunk);
    if (out.length > 0) {
      // Written at the end of this turn of the event loop (a microtask, not a timer): chunks
      // the upstream delivered together go out in one write, and when the answer ends in the
      // same read (the common case) the last chunk and the end share one write.
      if (this.#unsent === undefined) this.#unsent = out;
      else {
        this.#unsentMore ??= [];
        this.#unsentMore.push(out);
      }
      this.#record(out);
    }
    // The tap reads the chunk only after it has been written to the client.
    if (this.#capture !== undefined) {
      this.#untapped ??= [];
      this.#untapped.push(chunk);
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  #flush = (): void => {
    this.#flushScheduled = false;
    this.#writeUnsent();
    this.#drainTap();
  };

  #writeUnsent(): void {
    const first = this.#unsent;
    if (first === undefined) return;
    const more = this.#unsentMore;
    this.#unsent = undefined;
    this.#unsentMore = undefined;
    const res = this.#res;
    if (res.destroyed || res.writableEnded) return;
    let ok: boolean;
    if (more === undefined) {
      ok = res.write(first);
    } else {
      res.cork();
      res.write(first);
      for (let i = 0; i < more.length - 1; i++) res.write(more[i] as Buffer);
      ok = res.write(more[more.length - 1] as Buffer);
      res.uncork();
    }
    const controller = this.#controller;
    if (!ok && !this.#waitingDrain && controller !== undefined) {
      // The client reads slower than the upstream writes: hold the upstream, do not buffer.
      this.#waitingDrain = true;
      controller.pause();
      res.once("drain", () => {
        this.#waitingDrain = false;
        controller.resume();
      });
    }
  }

  #drainTap(): void {
    const chunks = this.#untapped;
    if (chunks === undefined) return;
    this.#untapped = undefined;
    for (const c of chunks) this.#tap(c);
  }

  onResponseEnd(): void {
    if (this.#filter !== undefined) {
      const rest = this.#filter.end();
      if (rest.length > 0) {
        if (this.#unsent === undefined) this.#unsent = rest;
        else {
          this.#unsentMore ??= [];
          this.#unsentMore.push(rest);
        }
        this.#record(rest);
      }
    }
    const res = this.#res;
    if (!res.destroyed) {
      const last = this.#unsent;
      if (last !== undefined && this.#unsentMore === undefined) {
        this.#unsent = undefined;
        res.end(last);
      } else {
        this.#writeUnsent();
        res.end();
      }
    }
    this.#finishUpstream(undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#clientGone || err instanceof ClientGoneError) {
      this.#finishUpstream(undefined);
      return;
    }
    if (this.#status === 0) {
      // No answer yet: say so in the provider's shape.
      const timeout = isTimeout(err);
      const reply: ProxyErrorReply = timeout
        ? { status: 504, code: "timeout", message: "The upstream did not answer in time (tokenmeter proxy)." }
        : { status: 502, code: "connection_error", message: "The upstream could not be reached (tokenmeter proxy)." };
      this.#ctx.logger.warn(
        { route: this.#route.name, code: undiciCode(err), err: { message: err.message } },
        "upstream request failed",
      );
      sendProviderError(this.#res, this.#route.format, reply);
      this.#finishUpstream(reply);
      return;
    }
    // Mid-answer: pass on what arrived, then end the client's response as abruptly as the
    // upstream ended ours.
    const res = this.#res;
    const rest = this.#unsent === undefined ? [] : [this.#unsent, ...(this.#unsentMore ?? [])];
    this.#unsent = undefined;
    this.#unsentMore = undefined;
    if (rest.length > 0 && !res.destroyed) res.write(Buffer.concat(rest), () => res.destroy());
    else res.destroy();
    this.#finishUpstream({
      status: this.#status,
      code: isTimeout(err) ? "timeout" : "upstream_disconnected",
      message: "The upstream connection ended before the answer was complete.",
    });
  }

  #onClientClose = (): void => {
    if (this.#res.writableFinished || this.#done) return;
    this.#clientGone = true;
    if (this.#controller !== undefined) {
      if (!this.#controller.aborted) this.#controller.abort(new ClientGoneError());
    } else if (!this.#dispatched && !this.#awaitingHooks) {
      // Still reading the body (or refused before sending): nothing upstream to abort.
      this.#finishUnsent();
    }
    // Dispatched without a controller yet: onRequestStart aborts. Awaiting hooks: #gateAndDispatch finishes.
  };

  /** Copies what the client received, for the response cache. */
  #record(out: Buffer): void {
    if (this.#cacheChunks === undefined || this.#ctx.cache === undefined) return;
    this.#cacheBytes += out.length;
    if (this.#cacheBytes > this.#ctx.cache.maxEntryBytes) {
      this.#cacheChunks = undefined;
      return;
    }
    this.#cacheChunks.push(out);
  }

  #tap(chunk: Buffer): void {
    if (this.#capture === undefined) return;
    if (this.#sse !== undefined) {
      try {
        this.#sse.push(chunk);
      } catch (err) {
        this.#tapFailed(err);
      }
      return;
    }
    if (this.#encodedSse !== undefined) {
      this.#jsonBytes += chunk.length;
      if (this.#jsonBytes <= MAX_JSON_BYTES) this.#encodedSse.push(chunk);
      return;
    }
    if (this.#jsonChunks !== undefined) {
      this.#jsonBytes += chunk.length;
      if (this.#jsonBytes <= MAX_JSON_BYTES) {
        this.#jsonChunks.push(chunk);
      } else {
        // Too large to parse whole (embeddings of many inputs): keep only the tail, where usage sits.
        // The chunk that crossed the limit belongs to the tail too.
        const all = Buffer.concat(
          this.#jsonTail === undefined ? [...this.#jsonChunks, chunk] : [this.#jsonTail, chunk],
        );
        this.#jsonChunks.length = 0;
        this.#jsonTail = all.subarray(Math.max(0, all.length - JSON_TAIL_BYTES));
      }
      return;
    }
    if (this.#errorChunks !== undefined && this.#errorBytes < MAX_ERROR_BODY_BYTES) {
      this.#errorBytes += chunk.length;
      this.#errorChunks.push(chunk);
    }
  }

  #tapFailed(err: unknown): void {
    this.#ctx.logger.warn({ err: { message: (err as Error)?.message } }, "proxy tap failed; call continues");
    this.#sse = undefined;
    this.#jsonChunks = undefined;
  }

  /** Completes the tap on whatever arrived. */
  #closeTap(): void {
    const capture = this.#capture;
    const endpoint = this.#match.endpoint;
    if (capture === undefined || endpoint === undefined) return;
    try {
      if (this.#sse !== undefined) {
        this.#sse.end();
      } else if (this.#encodedSse !== undefined) {
        const decoded = decodeBody(Buffer.concat(this.#encodedSse), this.#encoding);
        if (decoded !== undefined) {
          const parser = this.#newSseParser(capture);
          parser.push(decoded);
          parser.end();
        }
      } else if (this.#jsonChunks !== undefined) {
        if (this.#jsonTail !== undefined) {
          if (this.#route.format === "openai") openaiUsageFromTail(capture, endpoint, this.#jsonTail.toString("utf8"));
        } else {
          const decoded = decodeBody(Buffer.concat(this.#jsonChunks), this.#encoding);
          if (decoded !== undefined) {
            const parsed = parseJson(decoded.toString("utf8"));
            if (this.#route.format === "anthropic") anthropicJson(capture, parsed);
            else openaiJson(capture, endpoint, parsed);
          }
        }
      }
    } catch (err) {
      this.#tapFailed(err);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Answers the proxy gives itself

  /** Answers with a provider-shaped error; `record` leaves a span for it. */
  #refuse(reply: ProxyErrorReply, record: boolean): void {
    sendProviderError(this.#res, this.#route.format, reply);
    this.#ctx.metrics.rejected(this.#route.name, reply.code);
    if (record && this.#match.endpoint !== undefined) {
      if (this.#attrs === undefined) this.#prepare();
      this.#emit({
        outcome: "error",
        errorType: reply.code,
        statusMessage: reply.message,
        httpStatus: reply.status,
        usage: { kind: "none" },
        capture: undefined,
      });
    }
    this.#end(reply.status);
  }

  #replay(hit: CachedResponse): void {
    const res = this.#res;
    if (!res.destroyed) {
      const headers = [...hit.headers, "x-tokenmeter-cache", "hit"];
      if (hit.statusText !== "") res.writeHead(hit.status, hit.statusText, headers);
      else res.writeHead(hit.status, headers);
      res.end(hit.body);
    }
    const f = hit.facts;
    if (this.#attrs === undefined) this.#prepare();
    const attrs = this.#attrs as Attributes;
    attrs["tokenmeter.cache_hit"] = true;
    this.#ctx.metrics.cacheSaved(this.#route.name, this.#team, f.costUsd === null ? 0 : Number(f.costUsd));
    // The row carries the original call's usage, so it is priced at what the call would have
    // cost: spend leaves cache_hit rows out, and their cost is the saving (finops/savings.ts).
    this.#emit({
      outcome: "ok",
      errorType: "",
      statusMessage: "",
      httpStatus: hit.status,
      usage: {
        kind: "exact",
        usage: {
          input: f.inputTokens,
          output: f.outputTokens,
          cacheRead: f.cacheReadTokens,
          cacheWrite: f.cacheWriteTokens,
          reasoning: f.reasoningTokens,
        },
      },
      capture: undefined,
      responseModel: f.responseModel,
      responseId: f.responseId,
      finishReasons: f.finishReasons,
      ttftSeconds: hit.streamed ? (performance.now() - this.#startPerf) / 1000 : undefined,
      output: f.output === "" ? undefined : f.output,
    });
    this.#end(hit.status);
  }

  #internalError(err: unknown): void {
    this.#ctx.logger.error({ err: { message: (err as Error)?.message } }, "proxy failed to handle a request");
    this.#release();
    if (!this.#res.headersSent) {
      sendProviderError(this.#res, this.#route.format, {
        status: 500,
        code: "proxy_error",
        message: "tokenmeter proxy failed to handle the request.",
      });
    } else {
      this.#res.destroy();
    }
    this.#end(500);
  }

  // -------------------------------------------------------------------------------------------
  // Finishing

  /** The client left before anything went upstream. */
  #finishUnsent(): void {
    if (this.#done) return;
    this.#ctx.metrics.cancelled(this.#route.name);
    this.#end(499);
  }

  /** The upstream exchange ended: answered, failed (`failure`), or aborted for the client. */
  #finishUpstream(failure: ProxyErrorReply | undefined): void {
    if (this.#done) return;
    const endpoint = this.#match.endpoint;
    const route = this.#route.name;
    if (endpoint === undefined || this.#attrs === undefined) {
      if (this.#clientGone) this.#ctx.metrics.cancelled(route);
      else if (failure !== undefined) this.#ctx.metrics.upstreamError(route, failure.code);
      this.#end(failure?.status ?? this.#status);
      return;
    }
    this.#drainTap();
    this.#closeTap();
    const capture = this.#capture ?? new CallCapture(0);
    const status = this.#status;
    let outcome: Outcome = "ok";
    let errorType = "";
    let statusMessage = "";
    let usage: UsageReport =
      capture.usageFinal && capture.usage !== undefined ? { kind: "exact", usage: capture.usage } : { kind: "unknown" };
    let httpStatus = status;

    if (this.#clientGone) {
      outcome = "cancelled";
      this.#ctx.metrics.cancelled(route);
    } else if (failure !== undefined) {
      outcome = "error";
      errorType = failure.code;
      statusMessage = failure.message;
      httpStatus = failure.status;
      // Never reached the provider: nothing billed. A timeout or cut answer: unknown, estimated.
      if (failure.code === "connection_error") usage = { kind: "none" };
    } else if (status < 200 || status >= 300) {
      outcome = "error";
      errorType = String(status);
      statusMessage = errorMessageOf(this.#errorChunks === undefined ? undefined : Buffer.concat(this.#errorChunks));
      // Providers do not bill requests they answer with an HTTP error.
      usage = { kind: "none" };
    } else if (capture.errorType !== "") {
      outcome = "error";
      errorType = capture.errorType;
      statusMessage = "error event in the response stream";
    }
    if (outcome === "error") this.#ctx.metrics.upstreamError(route, errorType);

    const streamed = this.#sse !== undefined || this.#encodedSse !== undefined;
    let ttftSeconds: number | undefined;
    if (streamed) {
      const first = capture.firstContentMs >= 0 ? capture.firstContentMs : this.#firstByteMs;
      if (first >= 0) ttftSeconds = Math.max(0, first - this.#startPerf) / 1000;
    }
    const outputMessages = this.#ctx.captureBytes > 0 ? capture.outputMessages() : undefined;
    this.#emit({
      outcome,
      errorType,
      statusMessage,
      httpStatus,
      usage,
      capture,
      ttftSeconds,
      output: outputMessages as AttrValue | undefined,
    });
    this.#settle(usage, capture, outputMessages);
    if (outcome === "ok") this.#storeInCache(capture, usage, outputMessages, streamed);
    this.#end(httpStatus);
  }

  #emit(e: {
    outcome: Outcome;
    errorType: string;
    statusMessage: string;
    httpStatus: number;
    usage: UsageReport;
    capture: CallCapture | undefined;
    responseModel?: string;
    responseId?: string;
    finishReasons?: readonly string[];
    ttftSeconds?: number | undefined;
    output?: AttrValue | undefined;
  }): void {
    const endpoint = this.#match.endpoint;
    if (endpoint === undefined || this.#attrs === undefined) return;
    try {
      const span = buildSpan({
        traceId: this.#traceId,
        spanId: newSpanId(),
        parentSpanId: this.#parentSpanId,
        startUs: this.#startUs,
        endUs: nowUs(),
        provider: this.#route.provider,
        operation: operationOf(endpoint),
        requestModel: this.#facts?.model ?? "",
        attributes: this.#attrs,
        responseModel: e.responseModel ?? e.capture?.responseModel ?? "",
        responseId: e.responseId ?? e.capture?.responseId ?? "",
        finishReasons: e.finishReasons ?? e.capture?.finishReasons() ?? [],
        usage: e.usage,
        ttftSeconds: e.ttftSeconds,
        httpStatus: e.httpStatus,
        outcome: e.outcome,
        errorType: e.errorType,
        statusMessage: e.statusMessage,
        output: e.output,
        resource: this.#ctx.resource,
      });
      this.#ctx.sink.emit(span);
    } catch (err) {
      // Fail open: the answer has been sent; the span is lost and counted.
      this.#ctx.metrics.dropped.inc();
      this.#ctx.logger.warn({ err: { message: (err as Error)?.message } }, "proxy span could not be emitted");
    }
  }

  /** Span attributes known before the upstream answers: request, attribution, prompt. */
  #baseAttributes(): Attributes {
    const a: Attributes = { "tokenmeter.source": "proxy", "tokenmeter.route": this.#route.name };
    const meta = this.#meta;
    const parent = meta?.traceparent ? parseTraceparent(meta.traceparent) : undefined;
    // A client that sends traceparent gets the call in its own trace, under its own span.
    this.#traceId = parent?.traceId ?? newTraceId();
    this.#parentSpanId = parent?.spanId ?? "";
    if (this.#team !== "") a["tokenmeter.team"] = this.#team;
    if (this.#project !== "") a["tokenmeter.project"] = this.#project;
    if (meta !== undefined) {
      if (meta.user !== "") a["tokenmeter.user"] = meta.user;
      if (meta.session !== "") a["tokenmeter.session"] = meta.session;
      if (meta.feature !== "") a["tokenmeter.feature"] = meta.feature;
      if (meta.tags !== "") a["tokenmeter.tags"] = meta.tags;
      if (meta.baggage !== "") a["baggage"] = meta.baggage;
    }
    if (this.#vk !== undefined) {
      a["tokenmeter.virtual_key"] = this.#vk.id;
      a["tokenmeter.tag.virtual_key"] = this.#vk.id;
    }
    const facts = this.#facts;
    if (facts !== undefined && this.#json !== undefined) {
      if (facts.endUser !== "") a["user.id"] = facts.endUser;
      requestParamAttributes(this.#json, facts, a);
      if (facts.input !== undefined) a["gen_ai.input.messages"] = facts.input;
      if (facts.system !== undefined) a["gen_ai.system_instructions"] = facts.system;
    }
    return a;
  }

  /** Settles reservations with the call's cost, or releases them when nothing was billed. */
  #settle(usage: UsageReport, capture: CallCapture, output: unknown): void {
    if (this.#reservations.length === 0) return;
    if (usage.kind === "none") {
      this.#release();
      return;
    }
    let u: Usage | undefined = usage.kind === "exact" ? usage.usage : undefined;
    if (u === undefined) {
      // No usage from the provider: the same estimate the collector will store.
      try {
        const est = estimateTokens({
          model: capture.responseModel || (this.#facts?.model ?? ""),
          input: this.#facts?.input === undefined ? "" : JSON.stringify(this.#facts.input),
          output: output === undefined ? "" : JSON.stringify(output),
        });
        u = { input: est.input_tokens, output: est.output_tokens, cacheRead: 0, cacheWrite: 0, reasoning: 0 };
      } catch {
        u = undefined;
      }
    }
    const cost = u === undefined ? null : this.#cost(u, capture.responseModel);
    for (const r of this.#reservations.splice(0)) {
      try {
        r.settle(cost === null ? null : Number(cost));
      } catch (err) {
        this.#ctx.logger.warn({ err: { message: (err as Error)?.message } }, "reservation settle failed");
      }
    }
  }

  #release(): void {
    for (const r of this.#reservations.splice(0)) {
      try {
        r.release();
      } catch (err) {
        this.#ctx.logger.warn({ err: { message: (err as Error)?.message } }, "reservation release failed");
      }
    }
  }

  /**
   * What the call costs the organization: the catalog price with the contract and service tier
   * applied, as the collector rates the stored row (finops/rating.ts withContractPricing).
   * Budgets settle with it, so a hard budget counts the spend its reports show; the list price
   * would over-count a discounted team and refuse its calls before the limit.
   */
  #cost(u: Usage, responseModel: string): string | null {
    const call = {
      provider: this.#route.provider,
      request_model: this.#facts?.model ?? "",
      response_model: responseModel,
      input_tokens: u.input,
      output_tokens: u.output,
      cache_read_tokens: u.cacheRead,
      cache_write_tokens: u.cacheWrite,
      reasoning_tokens: u.reasoning,
    };
    const price = priceCall({ ...call, timestampUs: this.#startUs }, this.#ctx.book);
    if (price.priced !== 1 || price.cost_usd === null) return price.cost_usd;
    const rating = this.#ctx.rater.rate({
      ...call,
      timestamp: this.#startUs,
      team: this.#team,
      project: this.#project,
      // Read as the collector reads tokenmeter.tags (a service_tier tag sets the tier).
      tags: parseTagValue(this.#meta?.tags ?? "") ?? {},
      request_params: "{}",
      price_id: price.price_id,
    });
    return rating?.cost_usd ?? price.cost_usd;
  }

  #storeInCache(capture: CallCapture, usage: UsageReport, output: unknown, streamed: boolean): void {
    const cache = this.#ctx.cache;
    const key = this.#cacheKey;
    const chunks = this.#cacheChunks;
    if (cache === undefined || key === undefined || chunks === undefined || this.#clientGone) return;
    // Only complete answers with known usage: a hit must be able to say what it saved.
    if (usage.kind !== "exact" || capture.truncated) return;
    const u = usage.usage;
    cache.set(key, {
      status: this.#status,
      statusText: this.#statusText,
      headers: this.#cacheHeaders,
      body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
      streamed,
      facts: {
        inputTokens: u.input,
        outputTokens: u.output,
        cacheReadTokens: u.cacheRead,
        cacheWriteTokens: u.cacheWrite,
        reasoningTokens: u.reasoning,
        responseModel: capture.responseModel,
        responseId: capture.responseId,
        finishReasons: capture.finishReasons(),
        output: output === undefined ? "" : JSON.stringify(output),
        costUsd: this.#cost(u, capture.responseModel),
      },
    });
  }

  #end(status: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#ctx.inflight.delete(this);
    this.#ctx.metrics.inflight.dec();
    this.#ctx.metrics.request(this.#route.name, status, (performance.now() - this.#startPerf) / 1000);
  }

  /** Used by close(): stop waiting for this call. */
  abort(): void {
    if (this.#controller !== undefined && !this.#controller.aborted) this.#controller.abort(new ClientGoneError());
    this.#res.destroy();
  }
}

class ClientGoneError extends Error {
  constructor() {
    super("client disconnected");
    this.name = "ClientGoneError";
  }
}

function noop(): void {}

function flattenParsed(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  return responseHeaders(out);
}

/**
 * The request body with stream_options.include_usage = true. When the client sent no
 * stream_options the member is spliced in after the opening brace and every other byte stays as
 * sent; otherwise the body is re-serialized with the option merged in.
 */
export function withIncludeUsage(body: Buffer, json: JsonObj): Buffer {
  if (json["stream_options"] === undefined) {
    const open = body.indexOf(123 /* { */);
    if (open >= 0) {
      const rest = body.subarray(open + 1);
      const empty = /^\s*\}/.test(rest.toString("latin1", 0, Math.min(rest.length, 64)));
      return Buffer.concat([
        body.subarray(0, open + 1),
        Buffer.from(empty ? '"stream_options":{"include_usage":true}' : '"stream_options":{"include_usage":true},'),
        rest,
      ]);
    }
  }
  const so = isObj(json["stream_options"]) ? json["stream_options"] : {};
  return Buffer.from(JSON.stringify({ ...json, stream_options: { ...so, include_usage: true } }));
}
