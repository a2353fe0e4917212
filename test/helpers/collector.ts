import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { BatchSpanProcessor, type InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { expect } from "vitest";
import { buildCollector, type Collector } from "../../collector/src/app.js";
import type { FakeProvider } from "../../collector/src/fake-provider/index.js";
import { embeddedStorage, silentLogger, testConfig } from "./embedded.js";

type Row = Record<string, unknown>;

/** An OTLP/JSON key-value with a string value. */
export const strAttr = (key: string, v: string) => ({ key, value: { stringValue: v } });
/** An OTLP/JSON key-value with an int value (int64 as a string, as the spec's JSON mapping allows). */
export const intAttr = (key: string, v: number) => ({ key, value: { intValue: String(v) } });

/** An OTLP/JSON trace request: one resource (its service name) and one scope holding `spans`. */
export function otlpJsonTraces(service: string, spans: unknown[], scope = "test") {
  return {
    resourceSpans: [
      {
        resource: { attributes: [strAttr("service.name", service)] },
        scopeSpans: [{ scope: { name: scope }, spans }],
      },
    ],
  };
}

/** A collector with the default test config on this worker's embedded ClickHouse, listening on a free local port. */
export async function listeningCollector(): Promise<{ collector: Collector; url: string }> {
  const { dir, storage } = await embeddedStorage();
  const collector = await buildCollector({ config: testConfig(dir), storage, logger: silentLogger });
  const url = await collector.app.listen({ host: "127.0.0.1", port: 0 });
  return { collector, url };
}

/**
 * OTLP/HTTP export to the collector at `url`, once at flush time: a trace's spans reach the
 * collector in one batch.
 */
export function exportAtFlush(url: string): BatchSpanProcessor {
  return new BatchSpanProcessor(new OTLPTraceExporter({ url: `${url}/v1/traces` }), { scheduledDelayMillis: 60_000 });
}

/** GET /api/v1/traces/:traceId, which must answer 200. */
export async function fetchTrace(collector: Collector, traceId: string): Promise<{ spans: Row[]; calls: Row[] }> {
  const res = await collector.app.inject({ method: "GET", url: `/api/v1/traces/${traceId}` });
  expect(res.statusCode).toBe(200);
  return res.json() as { spans: Row[]; calls: Row[] };
}

/** The last finished span with this name; throws when there is none. */
export function lastSpanNamed(exporter: InMemorySpanExporter, name: string): ReadableSpan {
  const found = exporter.getFinishedSpans().filter((s) => s.name === name);
  const last = found[found.length - 1];
  if (last === undefined) throw new Error(`no span named ${name}`);
  return last;
}

/** The body of the last request the fake provider received ({} when none). */
export function lastRequestBody(fake: FakeProvider): Record<string, unknown> {
  return (fake.requests[fake.requests.length - 1]?.body ?? {}) as Record<string, unknown>;
}

/** The bodies of every request the fake provider received, in order. */
export function requestBodies(fake: FakeProvider): Record<string, unknown>[] {
  return fake.requests.map((r) => (r.body ?? {}) as Record<string, unknown>);
}

/** A JSON attribute value, parsed. */
export function parsed(value: unknown): unknown {
  return JSON.parse(String(value));
}
