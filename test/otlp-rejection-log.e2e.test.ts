import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCollector, type Collector } from "../collector/src/app.js";
import { createLogger } from "../collector/src/logger.js";
import { intAttr, otlpJsonTraces, strAttr } from "./helpers/collector.js";
import { embeddedStorage, testConfig } from "./helpers/embedded.js";

/**
 * A sender's refused exports are logged, so the TokenmeterSpansRejected runbook can send the
 * operator to the sender: the coded reason, the sender's address and user agent, at most once a
 * minute per signal and reason, and never the body.
 */

const TOKEN = "ingest-secret-token";
let collector: Collector;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).trim().split("\n")) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  collector = await buildCollector({
    config: testConfig(dir, { server: { logLevel: "info", ingestToken: TOKEN } }),
    storage,
    logger: createLogger("info", sink),
  });
});

afterAll(async () => {
  await collector?.close();
});

const HEADERS = {
  authorization: `Bearer ${TOKEN}`,
  "content-type": "application/json",
  "user-agent": "OTel-OTLP-Exporter-JavaScript/0.223.0",
};

const rejections = (reason: string) => lines.filter((l) => l["code"] === reason);

describe("ingest rejections in the log", () => {
  it("a refused export is logged at warn with its code, status, signal, address and user agent, once a minute", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await collector.app.inject({
        method: "POST",
        url: "/v1/traces",
        headers: { ...HEADERS, "content-encoding": "lz4" },
        payload: "{}",
      });
      expect(res.statusCode).toBe(415);
    }
    expect(rejections("TM_ERR_UNSUPPORTED_ENCODING")).toEqual([
      expect.objectContaining({
        level: 40,
        signal: "traces",
        status: 415,
        remoteAddress: "127.0.0.1",
        userAgent: "OTel-OTLP-Exporter-JavaScript/0.223.0",
      }),
    ]);
  });

  it("an undecodable body is logged without any of its content; a missing token too", async () => {
    const res = await collector.app.inject({
      method: "POST",
      url: "/v1/logs",
      headers: HEADERS,
      payload: '{"resourceLogs": [ my card is 4111 1111 1111 1111',
    });
    expect(res.statusCode).toBe(400);
    const [bad] = rejections("TM_ERR_BAD_OTLP");
    expect(bad).toMatchObject({ level: 40, signal: "logs", status: 400 });
    expect(JSON.stringify(bad)).not.toContain("4111");

    const unauthorized = await collector.app.inject({
      method: "POST",
      url: "/v1/traces",
      headers: { ...HEADERS, authorization: "Bearer wrong" },
      payload: "{}",
    });
    expect(unauthorized.statusCode).toBe(401);
    expect(rejections("TM_ERR_UNAUTHORIZED")).toEqual([expect.objectContaining({ status: 401, signal: "traces" })]);
    expect(JSON.stringify(lines)).not.toContain("wrong");
  });

  it("spans left out of an accepted export (partial success) are logged with their count", async () => {
    const span = (traceId: string, spanId: string) => ({
      traceId,
      spanId,
      name: "chat",
      kind: 3,
      startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
      endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
      attributes: [strAttr("gen_ai.request.model", "gpt-4o"), intAttr("gen_ai.usage.input_tokens", 1)],
    });
    const res = await collector.app.inject({
      method: "POST",
      url: "/v1/traces",
      headers: HEADERS,
      payload: JSON.stringify(
        otlpJsonTraces("app", [span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"), span("", "")]),
      ),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ partialSuccess: { rejectedSpans: 1 } });
    expect(rejections("invalid_span")).toEqual([
      expect.objectContaining({ level: 40, signal: "traces", status: 200, items: 1, remoteAddress: "127.0.0.1" }),
    ]);
  });
});
