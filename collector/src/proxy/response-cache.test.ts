import { describe, expect, it } from "vitest";
import { type CachedResponse, cacheKey, canonicalJson, ResponseCache } from "./response-cache.js";

function entry(bytes: number): CachedResponse {
  return {
    status: 200,
    statusText: "OK",
    headers: ["content-type", "application/json"],
    body: Buffer.alloc(bytes),
    streamed: false,
    facts: {
      inputTokens: 1,
      outputTokens: 1,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      responseModel: "m",
      responseId: "r",
      finishReasons: ["stop"],
      output: "",
      costUsd: "0.01",
    },
  };
}

describe("ResponseCache", () => {
  it("key-order-does-not-change-the-key-but-scope-does", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: null }] })).toBe('{"a":[{"c":null,"d":2}],"b":1}');
    const k1 = cacheKey("openai", "POST", "/v1/chat/completions", { model: "x", messages: [] }, "team:a");
    const k2 = cacheKey("openai", "POST", "/v1/chat/completions", { messages: [], model: "x" }, "team:a");
    const k3 = cacheKey("openai", "POST", "/v1/chat/completions", { messages: [], model: "x" }, "team:b");
    expect(k1).toBe(k2);
    expect(k1).not.toBe(k3);
  });

  it("entries-expire-after-the-ttl", () => {
    let now = 0;
    const c = new ResponseCache({ ttlMs: 1000, maxEntries: 10, maxBytes: 1e6, maxEntryBytes: 1e5, now: () => now });
    c.set("k", entry(10));
    now = 999;
    expect(c.get("k")).toBeDefined();
    now = 1000;
    expect(c.get("k")).toBeUndefined();
    expect(c.size).toBe(0);
    expect(c.bytes).toBe(0);
  });

  it("least-recently-used-goes-first-at-the-entry-and-byte-caps", () => {
    const c = new ResponseCache({ ttlMs: 1e6, maxEntries: 2, maxBytes: 1e6, maxEntryBytes: 1e5 });
    c.set("a", entry(10));
    c.set("b", entry(10));
    c.get("a");
    c.set("c", entry(10));
    expect(c.get("b")).toBeUndefined();
    expect(c.get("a")).toBeDefined();
    const small = new ResponseCache({ ttlMs: 1e6, maxEntries: 100, maxBytes: 1000, maxEntryBytes: 1000 });
    small.set("a", entry(400));
    small.set("b", entry(400));
    expect(small.get("a")).toBeUndefined();
    expect(small.bytes).toBeLessThanOrEqual(1000);
  });

  it("an-entry-over-the-per-entry-cap-is-not-stored", () => {
    const c = new ResponseCache({ ttlMs: 1e6, maxEntries: 10, maxBytes: 1e6, maxEntryBytes: 100 });
    c.set("a", entry(1000));
    expect(c.size).toBe(0);
  });
});
