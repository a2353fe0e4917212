/**
 * Shared setup of the proxy end-to-end tests: the fake provider, a collector on embedded
 * ClickHouse, and the proxy in front of the fake feeding that collector's pipeline in process.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { buildCollector, type Collector } from "../collector/src/app.js";
import type { ConfigInput } from "../collector/src/config/schema.js";
import { type FakeProvider, startFakeProvider } from "../collector/src/fake-provider/index.js";
import { inProcessSink } from "../collector/src/in-process-sink.js";
import { createLogger, type Logger } from "../collector/src/logger.js";
import type { PreRequestHook } from "../collector/src/proxy/hooks.js";
import { type ProxyServer, type SpanSink, startProxy } from "../collector/src/proxy/index.js";
import { embeddedStorage, testConfig } from "./helpers/embedded.js";

export type Row = Record<string, unknown>;

export interface Harness {
  fake: FakeProvider;
  collector: Collector;
  proxy: ProxyServer & { url: string };
  /** Everything the proxy and collector logged, as text. */
  logs(): string;
  /** The llm_calls rows of a trace, once `count` are stored. */
  calls(traceId: string, count?: number): Promise<Row[]>;
  /** Every `spans` row of a trace, all columns. */
  spans(traceId: string): Promise<Row[]>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  proxy?: ConfigInput["proxy"];
  pricing?: ConfigInput["pricing"];
  hooks?: PreRequestHook[];
  env?: Record<string, string>;
  /** Wraps the in-process sink (to make it fail, or to observe spans). */
  wrapSink?: (sink: SpanSink) => SpanSink;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const { dir, storage } = await embeddedStorage();
  const fake = await startFakeProvider();
  const config = testConfig(dir, {
    proxy: { openaiBaseUrl: `${fake.url}/v1`, anthropicBaseUrl: `${fake.url}/v1`, ...opts.proxy },
    ...(opts.pricing ? { pricing: opts.pricing } : {}),
  });
  let logText = "";
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logText += chunk.toString("utf8");
      cb();
    },
  });
  const logger: Logger = createLogger("debug", logStream);
  const collector = await buildCollector({ config, storage, logger });
  const registry = collector.metrics.registry;
  const base = inProcessSink(collector, logger);
  const proxy = await startProxy({
    config,
    logger,
    sink: opts.wrapSink ? opts.wrapSink(base) : base,
    registry,
    env: opts.env ?? {},
    hooks: opts.hooks ?? [],
    host: "127.0.0.1",
    port: 0,
  });

  async function query(sql: string, params: Record<string, unknown>): Promise<Row[]> {
    const rs = await collector.storage.client.query({ query: sql, query_params: params, format: "JSONEachRow" });
    return (await rs.json()) as Row[];
  }

  return {
    fake,
    collector,
    proxy,
    logs: () => logText,
    async calls(traceId, count = 1) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const res = await collector.app.inject({ method: "GET", url: `/api/v1/calls?trace_id=${traceId}` });
        const calls = (res.json() as { calls: Row[] }).calls;
        if (calls.length >= count || Date.now() > deadline) return calls;
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async spans(traceId) {
      return query(`SELECT * FROM ${collector.storage.database}.spans WHERE trace_id = {t:String}`, { t: traceId });
    },
    async close() {
      await proxy.close(1000);
      await collector.close();
      await fake.close();
    },
  };
}

/** A fresh W3C trace context: the proxy puts the call in this trace, so tests find its row. */
export function newTrace(): { traceId: string; parentSpanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString("hex");
  const parentSpanId = randomBytes(8).toString("hex");
  return { traceId, parentSpanId, traceparent: `00-${traceId}-${parentSpanId}-01` };
}

/**
 * Masks what differs between two answers to the same request by design: ids (the fake numbers
 * them per request), timestamps and timings. Lengths are kept, so the bytes still line up.
 */
export function maskVolatile(text: string): string {
  return text
    .replace(
      /(chatcmpl-|cmpl-|resp_|msg_|rs_|fc_|call_|toolu_01|msg_01|req_011C|req_)([A-Za-z0-9]+)/g,
      (_m, p: string, id: string) => p + "x".repeat(id.length),
    )
    .replace(/"(created|created_at|completed_at)":\d+/g, (m) => m.replace(/\d/g, "0"))
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/g, "0000-00-00T00:00:00Z");
}

/** Response headers worth comparing: minus date, hop-by-hop, per-request ids and timings. */
export function comparableHeaders(h: Headers): Record<string, string> {
  const skip = new Set([
    "date",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "x-request-id",
    "request-id",
    "openai-processing-ms",
  ]);
  const out: Record<string, string> = {};
  h.forEach((value, name) => {
    if (!skip.has(name)) out[name] = maskVolatile(value);
  });
  return out;
}

/**
 * A TCP relay between the proxy and the fake provider, so a test can see the upstream
 * connection close when the proxy aborts a request.
 */
export interface Relay {
  url: string;
  setTarget(port: number): void;
  /** Connections (proxy -> upstream) closed so far. */
  closed(): number;
  waitForClosed(count: number, timeoutMs?: number): Promise<boolean>;
  /** Raw bytes the proxy sent upstream so far (latin1), to see exactly what arrived. */
  sent(): string;
  close(): Promise<void>;
}

export async function startRelay(): Promise<Relay> {
  const { createServer, connect } = await import("node:net");
  let target = 0;
  let closed = 0;
  let sent = "";
  const sockets = new Set<import("node:net").Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("data", (d: Buffer) => {
      if (sent.length < 4 * 1024 * 1024) sent += d.toString("latin1");
    });
    let counted = false;
    const done = () => {
      if (!counted) {
        counted = true;
        closed++;
      }
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", done);
    upstream.on("close", done);
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as import("node:net").AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    setTarget(p) {
      target = p;
    },
    closed: () => closed,
    sent: () => sent,
    async waitForClosed(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (closed < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return closed >= count;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
