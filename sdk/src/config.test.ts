import { describe, expect, it } from "vitest";
import { resolveConfig } from "./config.js";

const urls = (options: Parameters<typeof resolveConfig>[0], env: Record<string, string> = {}) => {
  const c = resolveConfig(options, env);
  return [c.tracesUrl, c.scoresUrl];
};

describe("endpoints", () => {
  it("a base URL gets the signal path; the API sits beside it", () => {
    expect(urls({ endpoint: "http://collector:4318/" })).toEqual([
      "http://collector:4318/v1/traces",
      "http://collector:4318/api/v1/scores",
    ]);
    expect(urls({}, { TOKENMETER_ENDPOINT: "https://tm.example.com/otlp" })).toEqual([
      "https://tm.example.com/otlp/v1/traces",
      "https://tm.example.com/otlp/api/v1/scores",
    ]);
  });

  it("the traces URL the collector prints at start is taken as such, not given /v1/traces twice", () => {
    expect(urls({ endpoint: "http://127.0.0.1:4318/v1/traces" })).toEqual([
      "http://127.0.0.1:4318/v1/traces",
      "http://127.0.0.1:4318/api/v1/scores",
    ]);
    expect(urls({}, { TOKENMETER_ENDPOINT: "http://collector:4318/v1/traces/" })).toEqual([
      "http://collector:4318/v1/traces",
      "http://collector:4318/api/v1/scores",
    ]);
  });

  it("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is; scores go to the part before /v1/traces, else the origin", () => {
    expect(urls({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://gw:4318/otlp/v1/traces" })).toEqual([
      "http://gw:4318/otlp/v1/traces",
      "http://gw:4318/otlp/api/v1/scores",
    ]);
    expect(urls({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://gw:4318/custom/traces" })).toEqual([
      "http://gw:4318/custom/traces",
      "http://gw:4318/api/v1/scores",
    ]);
    // The generic variable is a base URL, per the OpenTelemetry spec.
    expect(urls({}, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://gw:4318" })[0]).toBe("http://gw:4318/v1/traces");
  });
});
