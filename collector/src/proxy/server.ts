/**
 * The proxy's HTTP server: plain node:http in front, undici pools behind. No framework sits on
 * the request path, because every microsecond here is added to every model call (the overhead
 * budget is 0.3 ms at the median). `buildProxy` wires the parts; `startProxy` also listens.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { Pool } from "undici";
import type { Config } from "../config/schema.js";
import { loadPriceBook, type PriceBook } from "../enrich/price-book.js";
import { listenError } from "../errors.js";
import { createRater } from "../finops/rating.js";
import type { Logger } from "../logger.js";
import type { PreRequestHook } from "./hooks.js";
import { providerErrorBody } from "./provider-errors.js";
import { ProxyCall, type ProxyContext } from "./proxy-call.js";
import { createProxyMetrics, type ProxyMetrics } from "./proxy-metrics.js";
import { RateLimiter } from "./rate-limit.js";
import { ResponseCache } from "./response-cache.js";
import { buildRoutes, matchRoute } from "./routes.js";
import { proxyResource } from "./span.js";
import type { SpanSink } from "./span-sink.js";
import { VirtualKeys } from "./virtual-keys.js";

export interface ProxyDeps {
  config: Config;
  logger: Logger;
  /** Where finished spans go: createPipelineSink (same process) or createOtlpHttpSink (remote). */
  sink: SpanSink;
  /** The registry served on /metrics; the proxy's metrics are added to it. */
  registry: Registry;
  /** Environment holding the provider keys that virtual keys name (proxy.virtualKeys[].providerKeyEnv). */
  env: Readonly<Record<string, string | undefined>>;
  /** Policies run before a call goes upstream (budgets). */
  hooks?: readonly PreRequestHook[];
  /** Prices for hook estimates, reservations and cache savings; the shipped catalog by default. */
  priceBook?: PriceBook;
  /** Serve GET /metrics from `registry` on the proxy's own port (a standalone proxy has no other). */
  serveMetrics?: boolean;
}

export interface ProxyServer {
  readonly server: Server;
  readonly metrics: ProxyMetrics;
  /** Listens; resolves with the base URL (`http://127.0.0.1:8787`). */
  listen(opts: { host: string; port: number }): Promise<string>;
  /**
   * Stops accepting requests, lets calls in progress finish (streams included) for up to
   * `graceMs`, then cuts the rest; closes the upstream pools and the sink.
   */
  close(graceMs?: number): Promise<void>;
}

const NOT_FOUND_BODY = (url: string) =>
  providerErrorBody("openai", {
    status: 404,
    code: "unknown_route",
    message: `tokenmeter proxy: no route for ${url.split("?")[0]}. Use /openai/v1/..., /anthropic/v1/... or /<upstream>/v1/...`,
  });

export function buildProxy(deps: ProxyDeps): ProxyServer {
  const { config, logger, sink, registry } = deps;
  const pc = config.proxy;
  const routes = buildRoutes(pc);
  const pools = new Map<string, Pool>();
  const pool = (origin: string): Pool => {
    let p = pools.get(origin);
    if (p === undefined) {
      p = new Pool(origin, {
        connections: pc.connectionsPerUpstream,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        headersTimeout: pc.upstreamHeadersTimeoutMs,
        bodyTimeout: pc.upstreamBodyTimeoutMs,
      });
      pools.set(origin, p);
    }
    return p;
  };
  for (const r of routes.values()) pool(r.origin);

  const cacheOn =
    pc.cache.routes.length > 0 || pc.cache.teams.length > 0 || pc.virtualKeys.some((k) => k.cache === true);
  const cache = cacheOn
    ? new ResponseCache({
        ttlMs: pc.cache.ttlSeconds * 1000,
        maxEntries: pc.cache.maxEntries,
        maxBytes: pc.cache.maxBytes,
        maxEntryBytes: pc.cache.maxEntryBytes,
      })
    : undefined;
  const metrics = createProxyMetrics(registry, {
    maxLabelValues: config.metrics.maxLabelValues,
    cacheStats: () => ({ entries: cache?.size ?? 0, bytes: cache?.bytes ?? 0 }),
  });

  const book = deps.priceBook ?? loadPriceBook();
  const ctx: ProxyContext = {
    pool,
    keys: new VirtualKeys(pc.virtualKeys, deps.env),
    limiter: new RateLimiter(pc.rateLimits.teams),
    cache,
    cacheTeams: new Set(pc.cache.teams),
    hooks: deps.hooks ?? [],
    book,
    rater: createRater(book, config.pricing),
    sink,
    metrics,
    logger,
    resource: proxyResource(pc.serviceName),
    captureBytes: pc.captureContent ? pc.maxCaptureBytes : 0,
    maxBodyBytes: pc.maxBodyBytes,
    headersTimeoutMs: pc.upstreamHeadersTimeoutMs,
    bodyTimeoutMs: pc.upstreamBodyTimeoutMs,
    inflight: new Set(),
  };

  function own(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? "/";
    if (url === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"status":"ok"}');
      return;
    }
    if (url === "/metrics" && deps.serveMetrics === true && req.method === "GET") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    const body = NOT_FOUND_BODY(url);
    res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
    metrics.request("unknown", 404, 0);
  }

  const server = createServer(
    // Clients (SDKs, gateways) keep connections open between calls.
    { keepAlive: true, keepAliveTimeout: 65_000, noDelay: true },
    (req, res) => {
      const match = matchRoute(routes, req.url ?? "/", req.method ?? "GET");
      if (match === undefined) {
        own(req, res);
        return;
      }
      new ProxyCall(ctx, req, res, match).start();
    },
  );
  // Longer than any load balancer's idle timeout, so the client side closes idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Time to receive a whole request (not the answer: streams may run far longer).
  server.requestTimeout = 300_000;

  let closing: Promise<void> | undefined;
  return {
    server,
    metrics,
    listen({ host, port }) {
      return new Promise<string>((resolve, reject) => {
        const failed = (err: unknown) => reject(listenError(err, "proxy", host, port, "TOKENMETER_PROXY_PORT"));
        server.once("error", failed);
        server.listen(port, host, () => {
          server.off("error", failed);
          const a = server.address() as AddressInfo;
          const h = a.family === "IPv6" ? `[${a.address}]` : a.address;
          resolve(`http://${h}:${a.port}`);
        });
      });
    },
    close(graceMs = 10_000) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + graceMs;
        while (ctx.inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const call of [...ctx.inflight]) call.abort();
        server.closeAllConnections();
        await stopped;
        await Promise.all([...pools.values()].map((p) => p.destroy()));
        await sink.close();
      })();
      return closing;
    },
  };
}

export interface StartProxyOptions extends ProxyDeps {
  host?: string;
  port?: number;
}

/** buildProxy + listen on `host`/`port` (default: config.server.host / config.server.proxyPort). */
export async function startProxy(opts: StartProxyOptions): Promise<ProxyServer & { url: string }> {
  const proxy = buildProxy(opts);
  const url = await proxy.listen({
    host: opts.host ?? opts.config.server.host,
    port: opts.port ?? opts.config.server.proxyPort,
  });
  return Object.assign(proxy, { url });
}
