import { describe, expect, it } from "vitest";
import { loadConfig } from "../collector/src/config/load-config.js";

describe("configuration", () => {
  it("environment-variables-of-the-contract-reach-their-fields", () => {
    const c = loadConfig({
      env: {
        TOKENMETER_HOST: "0.0.0.0",
        TOKENMETER_COLLECTOR_PORT: "14318",
        TOKENMETER_PROXY_PORT: "18787",
        TOKENMETER_OPENAI_BASE_URL: "http://127.0.0.1:9999/v1",
        TOKENMETER_ANTHROPIC_BASE_URL: "http://127.0.0.1:9998/v1",
        CLICKHOUSE_URL: "http://clickhouse:8123",
        CLICKHOUSE_DATABASE: "tm_prod",
        REDIS_URL: "redis://127.0.0.1:6379",
        TOKENMETER_BACKGROUND_NICE: "5",
      },
    });
    expect(c.ingest.backgroundNice).toBe(5);
    expect(loadConfig({ env: {} }).ingest.backgroundNice).toBe(10);
    expect(c.server).toMatchObject({ host: "0.0.0.0", collectorPort: 14318, proxyPort: 18787 });
    expect(c.proxy).toMatchObject({
      openaiBaseUrl: "http://127.0.0.1:9999/v1",
      anthropicBaseUrl: "http://127.0.0.1:9998/v1",
    });
    expect(c.storage).toMatchObject({ clickhouseUrl: "http://clickhouse:8123", database: "tm_prod" });
    expect(c.budgets.redisUrl).toBe("redis://127.0.0.1:6379");
    expect(Object.isFrozen(c.proxy)).toBe(true);
  });

  it("a-bad-value-fails-at-start-naming-its-field", () => {
    expect(() => loadConfig({ env: { TOKENMETER_COLLECTOR_PORT: "not-a-port" } })).toThrowError(
      expect.objectContaining({ code: "TM_ERR_BAD_CONFIG", message: expect.stringContaining("server.collectorPort") }),
    );
  });
});
