/**
 * The proxy's Prometheus metrics, registered into the registry the process serves on /metrics
 * (the collector's when both share a process). Labels stay low-cardinality: route names come
 * from the config, HTTP codes are a small set, teams and error types pass a LabelLimiter.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { LabelLimiter } from "../metrics/label-limiter.js";

const DROPPED_NAME = "tokenmeter_telemetry_dropped_total";

/**
 * tokenmeter_telemetry_dropped_total{component}: the collector registers it; a standalone proxy
 * creates it in its own registry. Either way one series family counts every loss.
 */
export function telemetryDroppedCounter(registry: Registry): Counter<"component"> {
  const existing = registry.getSingleMetric(DROPPED_NAME);
  if (existing instanceof Counter) return existing as Counter<"component">;
  return new Counter({
    name: DROPPED_NAME,
    help: "Telemetry lost before reaching storage (bounded buffers full), by component.",
    labelNames: ["component"],
    registers: [registry],
  });
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createProxyMetrics(
  registry: Registry,
  opts: { maxLabelValues: number; cacheStats?: () => { entries: number; bytes: number } },
) {
  const stats = opts.cacheStats;
  const teams = new LabelLimiter(opts.maxLabelValues);
  const errorTypes = new LabelLimiter(opts.maxLabelValues);

  const requests = new Counter({
    name: "tokenmeter_proxy_requests_total",
    help: "Requests answered by the proxy, by route and HTTP status sent to the client.",
    labelNames: ["route", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "tokenmeter_proxy_request_duration_seconds",
    help: "Time from the request's arrival to the end of the answer, by route.",
    labelNames: ["route"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const rejected = new Counter({
    name: "tokenmeter_proxy_rejected_total",
    help: "Requests the proxy refused itself, by reason (rate_limited, budget_exceeded, invalid_virtual_key, ...).",
    labelNames: ["route", "reason"],
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: "tokenmeter_proxy_upstream_errors_total",
    help: "Upstream failures (HTTP errors, timeouts, disconnects, in-stream errors), by error type.",
    labelNames: ["route", "error_type"],
    registers: [registry],
  });
  const cancelled = new Counter({
    name: "tokenmeter_proxy_cancelled_total",
    help: "Calls the client abandoned before the answer ended (the upstream request is aborted).",
    labelNames: ["route"],
    registers: [registry],
  });
  const cacheLookups = new Counter({
    name: "tokenmeter_proxy_cache_lookups_total",
    help: "Response-cache lookups, by result (hit, miss).",
    labelNames: ["route", "result"],
    registers: [registry],
  });
  const cacheSavings = new Counter({
    name: "tokenmeter_proxy_cache_savings_usd_total",
    help: "Cost of the upstream calls the response cache avoided, in USD (priced calls only).",
    labelNames: ["route", "team"],
    registers: [registry],
  });
  const inflight = new Gauge({
    name: "tokenmeter_proxy_inflight_requests",
    help: "Requests in progress through the proxy.",
    registers: [registry],
  });
  new Gauge({
    name: "tokenmeter_proxy_cache_entries",
    help: "Responses held in the response cache.",
    registers: [registry],
    collect() {
      if (stats !== undefined) this.set(stats().entries);
    },
  });
  new Gauge({
    name: "tokenmeter_proxy_cache_bytes",
    help: "Bytes held in the response cache.",
    registers: [registry],
    collect() {
      if (stats !== undefined) this.set(stats().bytes);
    },
  });
  const dropped = telemetryDroppedCounter(registry).labels({ component: "proxy" });
  // At 0 from the start, so the first loss is an increase an alert can see (a series born at N
  // has none).
  dropped.inc(0);

  // prom-client hashes label sets on every call; the proxy's hot path reuses children instead.
  const requestChildren = new Map<string, ReturnType<typeof requests.labels>>();
  const durationChildren = new Map<string, ReturnType<typeof duration.labels>>();

  return {
    registry,
    dropped,
    inflight,
    /** One finished request. */
    request(route: string, code: number, seconds: number): void {
      const key = `${route}\u0000${code}`;
      let c = requestChildren.get(key);
      if (c === undefined) {
        c = requests.labels({ route, code: String(code) });
        requestChildren.set(key, c);
      }
      c.inc();
      let d = durationChildren.get(route);
      if (d === undefined) {
        d = duration.labels({ route });
        durationChildren.set(route, d);
      }
      d.observe(seconds);
    },
    rejected(route: string, reason: string): void {
      rejected.inc({ route, reason: errorTypes.value(reason) });
    },
    upstreamError(route: string, errorType: string): void {
      upstreamErrors.inc({ route, error_type: errorTypes.value(errorType) });
    },
    cancelled(route: string): void {
      cancelled.inc({ route });
    },
    cacheLookup(route: string, hit: boolean): void {
      cacheLookups.inc({ route, result: hit ? "hit" : "miss" });
    },
    cacheSaved(route: string, team: string, usd: number): void {
      if (usd > 0) cacheSavings.inc({ route, team: teams.value(team) }, usd);
    },
  };
}

export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;
