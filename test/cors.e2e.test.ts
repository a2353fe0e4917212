/**
 * Browser callers: OTLP from a browser exporter and the read API from a web UI need CORS, for
 * the origins the operator allows and no others; without the setting no CORS header is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCollector, type Collector } from "../collector/src/app.js";
import { loadConfig } from "../collector/src/config/load-config.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";

let withCors: Collector;
let without: Collector;
const APP = "https://app.example.com";

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  withCors = await buildCollector({
    config: testConfig(dir, { server: { corsOrigins: [APP] } }),
    storage,
    logger: silentLogger,
  });
  without = await buildCollector({ config: testConfig(dir), storage, logger: silentLogger });
});

afterAll(async () => {
  await withCors?.close();
  await without?.close();
});

describe("CORS", () => {
  it("an allowed origin gets its preflight and CORS headers on OTLP and the read API", async () => {
    const preflight = await withCors.app.inject({
      method: "OPTIONS",
      url: "/v1/traces",
      headers: {
        origin: APP,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,authorization",
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe(APP);
    expect(String(preflight.headers["access-control-allow-methods"])).toContain("POST");
    expect(String(preflight.headers["access-control-allow-headers"])).toContain("authorization");

    const sent = await withCors.app.inject({
      method: "POST",
      url: "/v1/traces",
      headers: { origin: APP, "content-type": "application/json" },
      payload: JSON.stringify({ resourceSpans: [] }),
    });
    expect(sent.statusCode).toBe(200);
    expect(sent.headers["access-control-allow-origin"]).toBe(APP);

    const read = await withCors.app.inject({ method: "GET", url: "/api/v1/calls?limit=1", headers: { origin: APP } });
    expect(read.statusCode).toBe(200);
    expect(read.headers["access-control-allow-origin"]).toBe(APP);
  });

  it("another origin, or a collector without the setting, gets no CORS header", async () => {
    const other = await withCors.app.inject({
      method: "GET",
      url: "/api/v1/calls?limit=1",
      headers: { origin: "https://evil.example.net" },
    });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const off = await without.app.inject({ method: "GET", url: "/api/v1/calls?limit=1", headers: { origin: APP } });
    expect(off.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("TOKENMETER_CORS_ORIGINS takes a comma-separated list; a value that is not an origin is a coded config error", () => {
    const config = loadConfig({ env: { TOKENMETER_CORS_ORIGINS: `${APP}, http://localhost:3000` } });
    expect(config.server.corsOrigins).toEqual([APP, "http://localhost:3000"]);
    expect(() => loadConfig({ env: { TOKENMETER_CORS_ORIGINS: "app.example.com/path" } })).toThrowError(
      expect.objectContaining({ code: "TM_ERR_BAD_CONFIG" }),
    );
  });
});
