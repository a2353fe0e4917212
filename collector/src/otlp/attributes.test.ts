import { describe, expect, it } from "vitest";
import { AttributeLimiter, markTruncated, TRUNCATED_ATTRIBUTES_KEY, truncateUtf8 } from "./attributes.js";
import { internKey, keyFromUtf8 } from "./key-cache.js";

describe("truncateUtf8", () => {
  // 1-, 2-, 3- and 4-byte characters (the last one a surrogate pair in UTF-16).
  const text = "aé€😀b😀€éa";

  it("returns the longest prefix that fits, never splitting a character, for every limit", () => {
    const total = Buffer.byteLength(text);
    for (let limit = 0; limit <= total + 1; limit++) {
      const cut = truncateUtf8(text, limit);
      expect(text.startsWith(cut)).toBe(true);
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(limit);
      const codePoint = text.codePointAt(cut.length) ?? 0;
      const next = text.slice(cut.length, cut.length + (codePoint > 0xffff ? 2 : 1));
      if (cut.length < text.length) expect(Buffer.byteLength(cut + next)).toBeGreaterThan(limit);
      expect(cut).not.toContain("\uFFFD");
    }
  });
});

describe("AttributeLimiter", () => {
  it("leaves values within the limit untouched and records nothing", () => {
    const limiter = new AttributeLimiter(8);
    limiter.begin();
    expect(limiter.str("€€", "k")).toBe("€€");
    expect(limiter.bytes(new Uint8Array(8), "b")).toHaveLength(8);
    expect(limiter.take()).toBeUndefined();
  });

  it("cuts strings read from UTF-8 bytes without decoding past the limit, on a character boundary", () => {
    const limiter = new AttributeLimiter(4);
    limiter.begin();
    const buf = Buffer.from("x€€€");
    expect(limiter.strFromUtf8(buf, 0, buf.length, "k")).toBe("x€");
    expect(limiter.take()).toEqual(["k"]);
  });

  it("keeps the cut within the limit even when invalid bytes decode to wider replacement characters", () => {
    const limiter = new AttributeLimiter(4);
    limiter.begin();
    const cut = limiter.strFromUtf8(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), 0, 5, "k");
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(4);
    expect(cut).toBe("\uFFFD");
  });

  it("lists each truncated key once and merges with a marker the sender already set", () => {
    const limiter = new AttributeLimiter(1);
    limiter.begin();
    limiter.str("long", "a");
    limiter.str("long", "a");
    limiter.str("long", "b");
    const attrs = { [TRUNCATED_ATTRIBUTES_KEY]: ["upstream", "a"] };
    markTruncated(attrs, limiter.take());
    expect(attrs[TRUNCATED_ATTRIBUTES_KEY]).toEqual(["a", "b", "upstream"]);
  });
});

describe("key cache", () => {
  it("returns the same string for the same key bytes, ASCII or not", () => {
    for (const key of ["gen_ai.request.model", "ключ.ünïcode", "", "k".repeat(500)]) {
      const buf = Buffer.from(`__${key}__`);
      const a = keyFromUtf8(buf, 2, buf.length - 2);
      const b = keyFromUtf8(Buffer.from(buf), 2, buf.length - 2);
      expect(a).toBe(key);
      expect(b).toBe(key);
    }
  });

  it("tells apart keys that share length and sampled bytes", () => {
    const one = Buffer.from("gen_ai.usage.input_tokenA");
    const two = Buffer.from("gen_ai.usage.inpzt_tokenA");
    expect(keyFromUtf8(one, 0, one.length)).toBe("gen_ai.usage.input_tokenA");
    expect(keyFromUtf8(two, 0, two.length)).toBe("gen_ai.usage.inpzt_tokenA");
  });

  it("interns string keys to one shared copy", () => {
    const fresh = ["service", "name"].join(".");
    expect(internKey(fresh)).toBe("service.name");
    expect(internKey(`${"service"}.name`)).toBe(internKey(fresh));
  });
});
