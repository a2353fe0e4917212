/**
 * `init` configuration: validation errors naming the field, the environment variables (service
 * name, endpoint, attribution defaults, collector tokens), and sampling.
 */

import { createServer, type Socket } from "node:net";
import { setImmediate as nextTurn } from "node:timers/promises";
import { context, DiagLogLevel, diag, ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCollector, type Collector } from "../collector/src/app.js";
import { type FakeProvider, startFakeProvider } from "../collector/src/fake-provider/index.js";
import { init, observeOpenAI, recordScore, TokenmeterSdkError, tokenmeterSpanProcessor } from "../sdk/src/index.js";
import { inSession, type Row, session } from "../sdk/test/e2e-harness.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";

const INGEST_TOKEN = "ingest-secret-for-tests";
const API_TOKEN = "api-secret-for-tests";

let collector: Collector;
let url: string;
let fake: FakeProvider;
const savedEnv = { ...process.env };

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  collector = await buildCollector({
    config: testConfig(dir, { server: { ingestToken: INGEST_TOKEN, apiToken: API_TOKEN } }),
    storage,
    logger: silentLogger,
  });
  url = await collector.app.listen({ host: "127.0.0.1", port: 0 });
  fake = await startFakeProvider();
});

afterAll(async () => {
  process.env = savedEnv;
  await fake?.close();
  await collector?.close();
});

async function callsOf(sessionId: string): Promise<Row[]> {
  const res = await collector.app.inject({
    method: "GET",
    url: `/api/v1/calls?session_id=${sessionId}`,
    headers: { authorization: `Bearer ${API_TOKEN}` },
  });
  expect(res.statusCode).toBe(200);
  return (res.json() as { calls: Row[] }).calls;
}

function client(): OpenAI {
  return observeOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 }));
}

describe("init configuration", () => {
  it("rejects invalid options and environment values with TM_SDK_BAD_CONFIG, naming the field", () => {
    const rejects = (run: () => unknown, field: string) => {
      let error: unknown;
      try {
        run();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(TokenmeterSdkError);
      expect(error).toMatchObject({ code: "TM_SDK_BAD_CONFIG" });
      expect((error as Error).message.startsWith(`${field}:`)).toBe(true);
    };
    rejects(() => init({ sampleRate: 1.5 }), "sampleRate");
    rejects(() => init({ endpoint: "ftp://collector:21" }), "endpoint");
    rejects(() => init({ maxContentChars: 10 }), "maxContentChars");
    process.env["TOKENMETER_SAMPLE_RATE"] = "half";
    rejects(() => init(), "TOKENMETER_SAMPLE_RATE");
    delete process.env["TOKENMETER_SAMPLE_RATE"];
    process.env["TOKENMETER_CAPTURE_CONTENT"] = "maybe";
    rejects(() => init(), "TOKENMETER_CAPTURE_CONTENT");
    delete process.env["TOKENMETER_CAPTURE_CONTENT"];
  });

  it("reads the environment: endpoint, service name, team, project, environment, collector tokens", async () => {
    Object.assign(process.env, {
      TOKENMETER_ENDPOINT: url,
      OTEL_SERVICE_NAME: "billing-worker",
      TOKENMETER_TEAM: "finance",
      TOKENMETER_PROJECT: "invoices",
      TOKENMETER_ENVIRONMENT: "staging",
      TOKENMETER_INGEST_TOKEN: INGEST_TOKEN,
      TOKENMETER_API_TOKEN: API_TOKEN,
    });
    const handle = init();
    try {
      const id = session("env");
      await client().chat.completions.create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] },
        inSession(id),
      );
      await handle.forceFlush();
      const rows = await callsOf(id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        service: "billing-worker",
        team: "finance",
        project: "invoices",
        environment: "staging",
        source: "sdk",
      });
      // The score post carries TOKENMETER_API_TOKEN (the collector answers 401 without it).
      const traceId = String(rows[0]?.["trace_id"]);
      expect(await recordScore({ traceId, name: "accuracy", value: 0.8 })).toMatchObject({ ok: true });
      expect(await recordScore({ traceId, name: "accuracy", value: 0.8 }, { endpoint: url })).toMatchObject({
        ok: false,
        status: 401,
      });
    } finally {
      await handle.shutdown();
    }
  });

  it("sampleRate 0 records nothing and the call works as ever; a sampled parent still wins (parent-based)", async () => {
    const warnings: string[] = [];
    diag.setLogger(
      { error() {}, warn: (...args: unknown[]) => warnings.push(args.join(" ")), info() {}, debug() {}, verbose() {} },
      DiagLogLevel.WARN,
    );
    const handle = init({ endpoint: url, sampleRate: 0, headers: { authorization: `Bearer ${INGEST_TOKEN}` } });
    diag.disable();
    // Sampling drops calls with their cost: the operator is told that spend counts recorded calls only.
    expect(warnings.join("\n")).toMatch(
      /sampleRate 0: .*spend, token totals and budgets count the recorded calls only/,
    );
    try {
      const id = session("unsampled");
      const completion = await client().chat.completions.create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "not sampled" }] },
        inSession(id),
      );
      expect(completion.choices[0]?.message.content).toBe("Echo: not sampled");
      await nextTurn();
      await handle.forceFlush();
      expect(await callsOf(id)).toEqual([]);

      // A caller that arrives with a sampled trace (e.g. from an upstream service) is recorded.
      const parentId = session("sampled-parent");
      const upstream = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: "0af7651916cd43dd8448eb211c80319c",
        spanId: "b7ad6b7169203331",
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
      });
      await context.with(upstream, () =>
        client().chat.completions.create(
          { model: "gpt-4o-mini", messages: [{ role: "user", content: "sampled upstream" }] },
          inSession(parentId),
        ),
      );
      await handle.forceFlush();
      const rows = await callsOf(parentId);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        trace_id: "0af7651916cd43dd8448eb211c80319c",
        parent_span_id: "b7ad6b7169203331",
      });
    } finally {
      await handle.shutdown();
    }
  });

  it("without init: an app's own provider with tokenmeterSpanProcessor() exports the SDK's spans", async () => {
    const provider = new NodeTracerProvider({
      spanProcessors: [
        tokenmeterSpanProcessor({ endpoint: url, headers: { authorization: `Bearer ${INGEST_TOKEN}` } }),
      ],
    });
    provider.register();
    try {
      const id = session("own-provider");
      await client().chat.completions.create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "own setup" }] },
        inSession(id),
      );
      // The app's other spans are not tokenmeter's business (genAIOnly, the default).
      const other = trace.getTracer("app").startActiveSpan("not-genai", (span) => {
        span.end();
        return span.spanContext().traceId;
      });
      await provider.forceFlush();
      const rows = await callsOf(id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ source: "sdk", provider: "openai", status: "ok" });
      const otherTrace = await collector.app.inject({
        method: "GET",
        url: `/api/v1/traces/${other}`,
        headers: { authorization: `Bearer ${API_TOKEN}` },
      });
      expect(otherTrace.statusCode).toBe(404);
    } finally {
      await provider.shutdown();
      trace.disable();
    }
  });

  it("collector-unreachable: calls work, forceFlush and shutdown resolve, and the diag logger says why", async () => {
    // A port nobody listens on.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    process.env["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"] = "500";
    const warnings: string[] = [];
    // A component logger passes its namespace first, then the message.
    const record = (...args: unknown[]) => warnings.push(args.join(" "));
    diag.setLogger({ error: record, warn: record, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
    const handle = init({ endpoint: `http://127.0.0.1:${port}` });
    try {
      const ask = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "is anyone there?" }] };
      const first = await client().chat.completions.create(ask);
      expect(first.choices[0]?.message.content).toBeTruthy();
      await expect(handle.forceFlush()).resolves.toBeUndefined();
      await client().chat.completions.create(ask);
      await expect(handle.shutdown()).resolves.toBeUndefined();
      const lost = warnings.filter((w) => w.includes("spans were not exported to tokenmeter"));
      expect(lost.some((w) => w.includes("forceFlush"))).toBe(true);
      expect(lost.some((w) => w.includes("shutdown"))).toBe(true);
    } finally {
      await handle.shutdown();
      diag.disable();
      delete process.env["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"];
    }
  });

  it("a collector that failed the last export: forceFlush does not wait for it again (a function flushing per request)", async () => {
    // Accepts connections and never answers: every export waits out the exporter's timeout.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("data", () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    process.env["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"] = "400";
    const handle = init({ endpoint: `http://127.0.0.1:${port}` });
    const ask = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "per request" }] };
    const timedFlush = async () => {
      const started = performance.now();
      await handle.forceFlush();
      return performance.now() - started;
    };
    try {
      await client().chat.completions.create(ask);
      expect(await timedFlush()).toBeGreaterThanOrEqual(350);
      for (let i = 0; i < 3; i++) {
        await client().chat.completions.create(ask);
        expect(await timedFlush()).toBeLessThan(100);
      }
    } finally {
      await handle.shutdown();
      delete process.env["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"];
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
