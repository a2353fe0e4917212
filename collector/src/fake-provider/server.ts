/**
 * A local HTTP server that answers like the OpenAI and Anthropic APIs, for tests, benchmarks and
 * `tokenmeter demo`. Plain `node:http` (no framework) so that under the proxy benchmark the fake
 * costs as little as possible: one JSON parse and one stringify per request, keep-alive on, and
 * a streamed reply written in a single write unless a scenario asks for pacing.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import {
  anthropicError,
  anthropicInvalidJson,
  anthropicNotFound,
  anthropicResponseHeaders,
  anthropicScenarioError,
  createAnthropicDialect,
} from "./anthropic.js";
import {
  createOpenAIDialect,
  openaiError,
  openaiInvalidJson,
  openaiNotFound,
  openaiResponseHeaders,
  openaiScenarioError,
} from "./openai.js";
import {
  asString,
  createIdSource,
  errorScenarioOf,
  type FakeHandler,
  type FakeReply,
  isObject,
  type JsonObject,
  type RequestPlan,
  resolvePlan,
  type ScenarioName,
} from "./scenarios.js";

export interface FakeProviderOptions {
  /** Interface to bind; default `127.0.0.1`. */
  readonly host?: string;
  /** Port; default 0 (a free port chosen by the OS). */
  readonly port?: number;
  /** Reply with this many lorem words instead of echoing the prompt (per request: `x-fake-reply-words`). */
  readonly replyWords?: number;
  /** Delay between streamed events when no scenario says otherwise; default 0 (one write). */
  readonly chunkDelayMs?: number;
  /** Scenarios applied to every request, on top of the per-request header and model name. */
  readonly scenarios?: readonly ScenarioName[];
  /** How many of the latest requests `requests` keeps; default 1000, 0 records nothing. */
  readonly maxRecordedRequests?: number;
  /** Largest request body accepted; default 32 MiB. */
  readonly maxBodyBytes?: number;
}

/** One request as the fake upstream received it. */
export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Raw query string without `?` ("" when none). */
  readonly query: string;
  /** Lower-cased names; credentials (`authorization`, `x-api-key`, ...) replaced by "[set]". */
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON body; the raw text when it was not JSON; null when empty. */
  readonly body: unknown;
  readonly scenarios: readonly ScenarioName[];
  /** Epoch milliseconds. */
  readonly receivedAt: number;
}

export interface FakeProvider {
  /** `http://127.0.0.1:<port>`; SDK clients use `${url}/v1` as base URL. */
  readonly url: string;
  readonly port: number;
  /** The latest requests, oldest first (bounded by `maxRecordedRequests`). */
  readonly requests: RecordedRequest[];
  /** Forgets recorded requests and the Anthropic prompt cache. */
  reset(): void;
  /** Stops listening and drops open connections, hung ones included. */
  close(): Promise<void>;
}

type Family = "openai" | "anthropic";

interface Route {
  readonly family: Family;
  readonly handler: FakeHandler;
}

const SECRET_HEADERS = new Set(["authorization", "x-api-key", "api-key", "proxy-authorization"]);
const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

function recordHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = SECRET_HEADERS.has(name) ? "[set]" : Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** Anthropic clients always send `anthropic-version`; paths under /v1/messages are Anthropic-only. */
function familyOf(path: string, headers: IncomingHttpHeaders): Family {
  return path.startsWith("/v1/messages") || headers["anthropic-version"] !== undefined ? "anthropic" : "openai";
}

export async function startFakeProvider(opts: FakeProviderOptions = {}): Promise<FakeProvider> {
  const ids = createIdSource();
  const openai = createOpenAIDialect(ids);
  const anthropic = createAnthropicDialect(ids);
  const maxRecorded = opts.maxRecordedRequests ?? 1000;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const defaults = {
    scenarios: opts.scenarios ?? [],
    chunkDelayMs: opts.chunkDelayMs ?? 0,
    replyWords: opts.replyWords,
  };
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const routes = new Map<string, Route>([
    ["POST /v1/chat/completions", { family: "openai", handler: openai.chatCompletions }],
    ["POST /v1/responses", { family: "openai", handler: openai.responses }],
    ["POST /v1/embeddings", { family: "openai", handler: openai.embeddings }],
    ["POST /v1/completions", { family: "openai", handler: openai.completions }],
    ["POST /v1/messages", { family: "anthropic", handler: anthropic.messages }],
    ["POST /v1/messages/count_tokens", { family: "anthropic", handler: anthropic.countTokens }],
  ]);

  function schedule(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  function routeOf(method: string, path: string, headers: IncomingHttpHeaders): Route | undefined {
    if (method === "GET" && path === "/v1/models") {
      return familyOf(path, headers) === "anthropic"
        ? { family: "anthropic", handler: anthropic.models }
        : { family: "openai", handler: openai.models };
    }
    return routes.get(`${method} ${path}`);
  }

  function record(entry: RecordedRequest): void {
    if (maxRecorded <= 0) return;
    if (requests.length >= maxRecorded) requests.splice(0, requests.length - maxRecorded + 1);
    requests.push(entry);
  }

  function respond(req: IncomingMessage, res: ServerResponse, raw: string, startedAt: number): void {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const route = routeOf(method, path, req.headers);
    const family = route?.family ?? familyOf(path, req.headers);
    const requestId = family === "openai" ? ids("req_", 32, "hex") : ids("req_011C", 20);

    let body: JsonObject | undefined;
    let recordedBody: unknown = raw === "" ? null : raw;
    if (raw === "") body = {};
    else {
      try {
        const parsed: unknown = JSON.parse(raw);
        recordedBody = parsed;
        if (isObject(parsed)) body = parsed;
      } catch {
        // Answered below as the provider's invalid-JSON error.
      }
    }

    const resolved = resolvePlan(req.headers, asString(body?.["model"]), defaults);
    const plan: RequestPlan = resolved.ok
      ? resolved.plan
      : { scenarios: new Set(), delayMs: 0, chunkDelayMs: 0, replyWords: undefined };
    record({
      method,
      path,
      query: q < 0 ? "" : url.slice(q + 1),
      headers: recordHeaders(req.headers),
      body: recordedBody,
      scenarios: [...plan.scenarios],
      receivedAt: Date.now(),
    });

    let reply: FakeReply;
    const errorScenario = errorScenarioOf(plan);
    if (!resolved.ok) {
      reply =
        family === "openai"
          ? openaiError(400, resolved.message, "invalid_request_error")
          : anthropicError(400, "invalid_request_error", resolved.message, requestId);
    } else if (body === undefined) {
      reply = family === "openai" ? openaiInvalidJson() : anthropicInvalidJson(requestId);
    } else if (errorScenario !== undefined) {
      reply =
        family === "openai"
          ? openaiScenarioError(errorScenario, asString(body["model"]))
          : anthropicScenarioError(errorScenario, requestId);
    } else if (route === undefined) {
      reply = family === "openai" ? openaiNotFound(method, path) : anthropicNotFound(requestId);
    } else {
      try {
        reply = route.handler({ method, path, headers: req.headers, body, plan, requestId });
      } catch {
        // A body shaped to break a handler (e.g. a pathologically deep schema) gets the
        // provider's 500, never a crashed test server.
        reply =
          family === "openai"
            ? openaiScenarioError("server_error", undefined)
            : anthropicScenarioError("server_error", requestId);
      }
    }

    // `hang`: keep the connection open and never answer; close() drops it.
    if (plan.scenarios.has("hang")) return;
    const send = () => {
      if (res.destroyed) return;
      const common =
        family === "openai"
          ? openaiResponseHeaders(requestId, Math.round(performance.now() - startedAt))
          : anthropicResponseHeaders(requestId);
      write(res, reply, plan, common);
    };
    if (plan.delayMs > 0) schedule(send, plan.delayMs);
    else send();
  }

  function write(res: ServerResponse, reply: FakeReply, plan: RequestPlan, common: OutgoingHttpHeaders): void {
    const disconnect = plan.scenarios.has("disconnect_mid_stream");
    if (reply.type === "json") {
      const bytes = Buffer.from(reply.body);
      res.writeHead(reply.status, { ...common, ...reply.headers, "content-length": bytes.length });
      if (disconnect) {
        res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.destroy());
        return;
      }
      res.end(bytes);
      return;
    }
    res.writeHead(200, { ...common, ...reply.headers });
    const frames = reply.frames;
    const cut = disconnect ? Math.max(1, Math.floor(frames.length / 2)) : frames.length;
    if (plan.chunkDelayMs <= 0) {
      if (disconnect) res.write(frames.slice(0, cut).join(""), () => res.destroy());
      else res.end(frames.join(""));
      return;
    }
    let i = 0;
    const step = () => {
      if (res.destroyed || res.writableEnded) return;
      if (i >= cut) {
        if (disconnect) res.destroy();
        else res.end();
        return;
      }
      res.write(frames[i++] ?? "");
      schedule(step, plan.chunkDelayMs);
    };
    step();
  }

  const server = createServer({ keepAlive: true }, (req, res) => {
    const startedAt = performance.now();
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > maxBodyBytes) {
        tooLarge = true;
        const reply =
          familyOf(req.url ?? "/", req.headers) === "openai"
            ? openaiError(413, "Request body too large.", "invalid_request_error")
            : anthropicError(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", "");
        if (reply.type === "json") {
          res.writeHead(reply.status, { ...reply.headers, connection: "close" });
          res.end(reply.body, () => req.destroy());
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (tooLarge) return;
      const raw = chunks.length === 1 ? (chunks[0]?.toString("utf8") ?? "") : Buffer.concat(chunks).toString("utf8");
      respond(req, res, raw, startedAt);
    });
  });
  // Benchmarks reuse connections for a long time; the default 5 s idle timeout would churn them.
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 35_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    requests,
    reset() {
      requests.length = 0;
      anthropic.resetCache();
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
