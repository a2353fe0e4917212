import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isTokenmeterError } from "../errors.js";
import {
  type CatalogEntry,
  createPriceBook,
  DEFAULT_CATALOG_URL,
  loadPriceBook,
  nameCandidates,
} from "./price-book.js";

const us = (iso: string): number => Date.parse(iso) * 1000;
const AT = us("2026-06-01T00:00:00Z");

const book = loadPriceBook();
const priceId = (provider: string, model: string, at = AT): string => {
  const entry = book.lookup(provider, model, at);
  return entry === undefined ? "" : `${entry.id}@${entry.version}`;
};

function expectBadConfig(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(isTokenmeterError(err) && err.code).toBe("TM_ERR_BAD_CONFIG");
    return;
  }
  expect.unreachable("expected TM_ERR_BAD_CONFIG");
}

function entry(overrides: Partial<CatalogEntry> & Pick<CatalogEntry, "model">): Record<string, unknown> {
  return {
    id: `test/${overrides.model}`,
    provider: "openai",
    aliases: [],
    effective_from: "2025-01-01",
    input: 1,
    output: 2,
    source: "https://example.com/pricing",
    version: overrides.effective_from ?? "2025-01-01",
    ...overrides,
  };
}
const catalog = (...entries: Record<string, unknown>[]) => ({
  catalog_version: "test",
  currency: "USD",
  unit: "per_1m_tokens",
  entries,
});

describe("shipped catalog", () => {
  const raw = JSON.parse(readFileSync(DEFAULT_CATALOG_URL, "utf8")) as {
    catalog_version: string;
    entries: CatalogEntry[];
  };

  it("loads and validates", () => {
    expect(book.catalogVersion).toBe(raw.catalog_version);
    expect(book.entries.length).toBe(raw.entries.length);
    expect(book.entries.length).toBeGreaterThan(100);
  });

  it("every entry cites the provider's pricing page over https", () => {
    for (const e of raw.entries) expect(e.source, e.id).toMatch(/^https:\/\/[a-z0-9.-]+\.[a-z]{2,}\//);
  });

  it("prices are positive: input > 0, output > 0 except embeddings, cache reads cheaper than input", () => {
    for (const e of raw.entries) {
      expect(e.input, e.id).toBeGreaterThan(0);
      if (/embed/.test(e.model)) expect(e.output, e.id).toBe(0);
      else expect(e.output, e.id).toBeGreaterThan(0);
      if (e.cache_read !== undefined) expect(e.cache_read, e.id).toBeLessThan(e.input);
      if (e.cache_write !== undefined) expect(e.cache_write, e.id).toBeGreaterThan(e.input);
      for (const t of e.tiers ?? []) {
        expect(t.input, e.id).toBeGreaterThan(e.input);
        expect(t.output, e.id).toBeGreaterThanOrEqual(e.output);
        // A tier must not silently drop a cache price the base tier has.
        expect(t.cache_read === undefined, e.id).toBe(e.cache_read === undefined);
        expect(t.cache_write === undefined, e.id).toBe(e.cache_write === undefined);
      }
    }
  });

  it("no two entries for one provider + model or alias are in force at the same time", () => {
    const ranges = new Map<string, Array<{ from: number; to: number; ref: string }>>();
    for (const e of raw.entries) {
      for (const name of [e.model, ...e.aliases]) {
        const key = `${e.provider} ${name.toLowerCase()}`;
        const list = ranges.get(key) ?? [];
        list.push({
          from: Date.parse(e.effective_from),
          to: e.effective_to === undefined ? Number.POSITIVE_INFINITY : Date.parse(e.effective_to),
          ref: `${e.id}@${e.version}`,
        });
        ranges.set(key, list);
      }
    }
    for (const [key, list] of ranges) {
      list.sort((a, b) => a.from - b.from);
      for (let i = 1; i < list.length; i++) {
        const prev = list[i - 1]!;
        const next = list[i]!;
        expect(next.from, `${key}: ${prev.ref} overlaps ${next.ref}`).toBeGreaterThanOrEqual(prev.to);
      }
    }
  });

  it("id@version is unique, and ids are stable across a model's versions", () => {
    const seen = new Set<string>();
    for (const e of raw.entries) {
      const key = `${e.id}@${e.version}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
    }
    expect(raw.entries.filter((e) => e.id === "openai/o3").map((e) => e.version)).toEqual(["2025-04-16", "2025-06-10"]);
  });
});

describe("lookup: exact ids, aliases and snapshots", () => {
  it("matches exact ids case-insensitively", () => {
    expect(priceId("openai", "gpt-4o")).toBe("openai/gpt-4o@2024-08-06");
    expect(priceId("openai", "GPT-4o")).toBe("openai/gpt-4o@2024-08-06");
    expect(priceId("together", "META-LLAMA/Llama-3.3-70B-Instruct-Turbo")).toBe(
      "together/llama-3.3-70b-instruct-turbo@2024-12-06",
    );
  });

  it("matches aliases", () => {
    expect(priceId("openai", "gpt-5-chat-latest")).toBe("openai/gpt-5@2025-08-07");
    expect(priceId("anthropic", "claude-sonnet-4-0")).toBe("anthropic/claude-sonnet-4@2025-05-22");
  });

  it("strips dated snapshot and channel suffixes", () => {
    expect(priceId("openai", "gpt-4o-2024-08-06")).toBe("openai/gpt-4o@2024-08-06");
    expect(priceId("openai", "gpt-4o-mini-2024-07-18")).toBe("openai/gpt-4o-mini@2024-07-18");
    expect(priceId("openai", "gpt-4-0613")).toBe("openai/gpt-4@2023-03-14");
    expect(priceId("anthropic", "claude-sonnet-4-5-20250929")).toBe("anthropic/claude-sonnet-4-5@2025-09-29");
    expect(priceId("anthropic", "claude-3-5-sonnet-latest")).toBe("anthropic/claude-3-5-sonnet@2024-06-20");
    expect(priceId("gcp.gemini", "gemini-2.0-flash-001")).toBe("google/gemini-2.0-flash@2025-02-05");
    expect(priceId("gcp.gemini", "gemini-2.5-pro-preview-06-05")).toBe("google/gemini-2.5-pro@2025-03-25");
    expect(priceId("gcp.gemini", "gemini-2.5-flash-preview-09-2025")).toBe("google/gemini-2.5-flash@2025-06-17");
    expect(priceId("mistral_ai", "mistral-large-latest")).toBe("mistral/mistral-large@2025-12-02");
    expect(priceId("x_ai", "grok-4-0709")).toBe("xai/grok-4@2025-07-09");
  });

  it("an exact dated id beats snapshot stripping (gpt-4o-2024-05-13 kept its launch price)", () => {
    expect(priceId("openai", "gpt-4o-2024-05-13")).toBe("openai/gpt-4o-2024-05-13@2024-05-13");
    expect(priceId("mistral_ai", "mistral-large-2411")).toBe("mistral/mistral-large-2411@2024-11-18");
  });

  it("an-old-snapshot-the-catalog-does-not-list-is-unpriced-not-priced-as-the-newest-model", () => {
    for (const model of [
      "mistral-large-2407",
      "mistral-small-2409",
      "mistral-small-2402",
      "mistral-medium-2312",
      "codestral-2405",
      "gpt-3.5-turbo-0613",
      "gpt-3.5-turbo-1106",
      "grok-3-0101",
    ]) {
      expect(
        priceId(model.startsWith("gpt") ? "openai" : model.startsWith("grok") ? "x_ai" : "mistral_ai", model),
        model,
      ).toBe("");
    }
    // Snapshots listed as aliases, at the price they share.
    expect(priceId("mistral_ai", "mistral-small-2506")).toBe("mistral/mistral-small@2025-03-17");
    expect(priceId("openai", "gpt-3.5-turbo-0125")).toBe("openai/gpt-3.5-turbo@2024-01-25");
    expect(priceId("openai", "gpt-4-0314")).toBe("openai/gpt-4@2023-03-14");
  });

  it("strips path prefixes", () => {
    expect(priceId("", "openai/gpt-4o")).toBe("openai/gpt-4o@2024-08-06");
    expect(priceId("gcp.gemini", "models/gemini-2.5-pro")).toBe("google/gemini-2.5-pro@2025-03-25");
    expect(priceId("gcp.vertex_ai", "publishers/google/models/gemini-2.5-flash")).toBe(
      "google/gemini-2.5-flash@2025-06-17",
    );
    expect(priceId("fireworks", "accounts/fireworks/models/gpt-oss-120b")).toBe("fireworks/gpt-oss-120b@2025-08-05");
    expect(priceId("openrouter", "anthropic/claude-sonnet-4.5")).toBe("anthropic/claude-sonnet-4-5@2025-09-29");
  });

  it("understands Bedrock and Vertex model ids", () => {
    expect(priceId("aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0")).toBe(
      "anthropic/claude-3-5-sonnet@2024-06-20",
    );
    expect(priceId("aws.bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0")).toBe(
      "anthropic/claude-sonnet-4@2025-05-22",
    );
    expect(priceId("aws.bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0")).toBe(
      "anthropic/claude-haiku-4-5@2025-10-15",
    );
    expect(priceId("aws.bedrock", "amazon.nova-pro-v1:0")).toBe("amazon/nova-pro@2024-12-03");
    // Python OpenLLMetry's Bedrock instrumentation strips the vendor prefix.
    expect(priceId("aws.bedrock", "claude-3-5-sonnet-20240620-v1:0")).toBe("anthropic/claude-3-5-sonnet@2024-06-20");
    expect(nameCandidates("claude-3-5-sonnet-20240620-v1:0")).toEqual([
      "claude-3-5-sonnet-20240620-v1:0",
      "claude-3-5-sonnet-20240620",
      "claude-3-5-sonnet",
      "claude-3-5-sonnet-20240620-v1",
    ]);
    expect(priceId("aws.bedrock", "us.amazon.nova-micro-v1:0")).toBe("amazon/nova-micro@2024-12-03");
    expect(priceId("bedrock", "amazon.nova-premier-v1:0")).toBe("amazon/nova-premier@2025-04-30");
    expect(priceId("gcp.vertex_ai", "claude-3-5-sonnet-v2@20241022")).toBe("anthropic/claude-3-5-sonnet@2024-06-20");
    expect(priceId("gcp.vertex_ai", "claude-opus-4-5@20251101")).toBe("anthropic/claude-opus-4-5@2025-11-24");
  });

  it("lists the names it tries, most specific first", () => {
    expect(nameCandidates("us.anthropic.claude-3-5-sonnet-20241022-v2:0")).toEqual([
      "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
      "claude-3-5-sonnet-20241022",
      "claude-3-5-sonnet",
      "us.anthropic.claude-3-5-sonnet-20241022-v2",
    ]);
    expect(nameCandidates("ft:gpt-4o-mini-2024-07-18:acme:support:A1b2C3")).toEqual([
      "ft:gpt-4o-mini-2024-07-18:acme:support:a1b2c3",
      "ft:gpt-4o-mini-2024-07-18",
      "ft:gpt-4o-mini",
    ]);
    expect(nameCandidates("Models/Gemini-2.0-Flash-001")).toEqual([
      "models/gemini-2.0-flash-001",
      "models/gemini-2.0-flash",
      "gemini-2.0-flash-001",
      "gemini-2.0-flash",
    ]);
  });
});

describe("lookup: providers", () => {
  it("Azure OpenAI and old provider spellings use OpenAI's prices", () => {
    expect(priceId("azure.ai.openai", "gpt-4o-2024-08-06")).toBe("openai/gpt-4o@2024-08-06");
    expect(priceId("az.ai.openai", "gpt-4.1-mini")).toBe("openai/gpt-4.1-mini@2025-04-14");
  });

  it("Vertex and Gemini share prices; Vertex and Bedrock bill Claude at Anthropic's prices", () => {
    expect(priceId("gcp.vertex_ai", "gemini-2.5-pro")).toBe("google/gemini-2.5-pro@2025-03-25");
    expect(priceId("vertex_ai", "gemini-2.5-pro")).toBe("google/gemini-2.5-pro@2025-03-25");
    expect(priceId("google", "gemini-2.5-flash")).toBe("google/gemini-2.5-flash@2025-06-17");
    expect(priceId("aws.bedrock", "anthropic.claude-opus-4-1-20250805-v1:0")).toBe(
      "anthropic/claude-opus-4-1@2025-08-05",
    );
  });

  it("the provider picks the host when several host one model", () => {
    expect(priceId("groq", "openai/gpt-oss-120b")).toBe("groq/gpt-oss-120b@2025-08-05");
    expect(priceId("together", "openai/gpt-oss-120b")).toBe("together/gpt-oss-120b@2025-08-05");
    expect(priceId("together_ai", "openai/gpt-oss-120b")).toBe("together/gpt-oss-120b@2025-08-05");
    expect(priceId("fireworks", "gpt-oss-120b")).toBe("fireworks/gpt-oss-120b@2025-08-05");
  });

  it("falls back to any provider: OpenAI-compatible clients report 'openai' for other vendors", () => {
    expect(priceId("openai", "deepseek-chat")).toBe("deepseek/deepseek-chat@2026-04-26");
    expect(priceId("", "claude-haiku-4-5")).toBe("anthropic/claude-haiku-4-5@2025-10-15");
    expect(priceId("acme-gateway", "llama-3.3-70b-versatile")).toBe("groq/llama-3.3-70b-versatile@2024-12-06");
  });

  it("self-hosted-models-never-borrow-a-host's-price: vLLM, Ollama and the like stay unpriced", () => {
    for (const [provider, model] of [
      ["vllm", "openai/gpt-oss-120b"],
      ["vllm", "meta-llama/Llama-4-Scout-17B-16E-Instruct"],
      ["vllm", "Qwen/Qwen3-32B"],
      ["vllm", "deepseek-ai/DeepSeek-V3"],
      ["vllm", "llama-3.3-70b-versatile"],
      ["ollama", "gpt-oss-120b"],
      ["ollama", "gpt-oss:120b"],
      ["self-hosted", "deepseek-chat"],
      ["lm_studio", "openai/gpt-oss-20b"],
      ["llama.cpp", "claude-haiku-4-5"],
    ]) {
      expect(priceId(provider ?? "", model ?? ""), `${provider}|${model}`).toBe("");
    }
    // A catalog may still price a self-hosting provider under its own name.
    const own = createPriceBook(catalog(entry({ id: "vllm/m", provider: "vllm", model: "m" })));
    expect(own.lookup("vllm", "m", AT)?.id).toBe("vllm/m");
  });

  it("unknown models have no price", () => {
    expect(book.lookup("openai", "my-finetune", AT)).toBeUndefined();
    // Fine-tuned from a base the catalog has no fine-tuning price for: not the base's price.
    expect(book.lookup("openai", "ft:davinci-002:org::abc", AT)).toBeUndefined();
    expect(book.lookup("", "", AT)).toBeUndefined();
    expect(book.lookup("openai", "x".repeat(10_000), AT)).toBeUndefined();
  });
});

describe("lookup: effective dates", () => {
  it("uses the entry in force at the call's time (o3's 80% cut on 2025-06-10)", () => {
    expect(priceId("openai", "o3", us("2025-06-09T23:59:59.999Z"))).toBe("openai/o3@2025-04-16");
    expect(priceId("openai", "o3", us("2025-06-10T00:00:00Z"))).toBe("openai/o3@2025-06-10");
    expect(priceId("openai", "o3-2025-04-16", us("2025-07-01T00:00:00Z"))).toBe("openai/o3@2025-06-10");
  });

  it("handles changes at a time of day (DeepSeek, UTC)", () => {
    expect(priceId("deepseek", "deepseek-chat", us("2025-09-05T15:59:59Z"))).toBe("deepseek/deepseek-chat@2025-02-08");
    expect(priceId("deepseek", "deepseek-chat", us("2025-09-05T16:00:00Z"))).toBe("deepseek/deepseek-chat@2025-09-05");
  });

  it("a call before a model's first price has no price", () => {
    expect(book.lookup("openai", "gpt-5", us("2020-01-01T00:00:00Z"))).toBeUndefined();
  });

  it("an injected catalog with a price change on day D", () => {
    const test = createPriceBook(
      catalog(
        entry({ model: "m", effective_from: "2025-01-01", effective_to: "2025-03-01", input: 4, version: "v1" }),
        entry({ model: "m", effective_from: "2025-03-01", input: 2, version: "v2" }),
      ),
    );
    expect(test.lookup("openai", "m", us("2025-02-28T23:59:59Z"))?.version).toBe("v1");
    expect(test.lookup("openai", "m", us("2025-03-01T00:00:00Z"))?.version).toBe("v2");
    expect(test.lookup("openai", "m", us("2024-12-31T00:00:00Z"))).toBeUndefined();
  });
});

describe("lookup: memo", () => {
  it("stays correct when the bounded memo is cleared", () => {
    const small = createPriceBook(catalog(entry({ model: "a" }), entry({ model: "b" })), { maxMemoEntries: 2 });
    for (let i = 0; i < 10; i++) {
      expect(small.lookup("openai", "a", AT)?.model).toBe("a");
      expect(small.lookup("openai", `unknown-${i}`, AT)).toBeUndefined();
      expect(small.lookup("openai", "b-2025-01-01", AT)?.model).toBe("b");
    }
  });
});

describe("catalog validation", () => {
  it("accepts a minimal catalog", () => {
    expect(createPriceBook(catalog(entry({ model: "a" }))).entries).toHaveLength(1);
  });

  it.each([
    ["a non-positive input price", catalog(entry({ model: "a", input: 0 }))],
    ["a negative price", catalog(entry({ model: "a", output: -1 }))],
    ["a price with more than 6 decimals", catalog(entry({ model: "a", input: 0.0000001 }))],
    ["a missing source", catalog({ ...entry({ model: "a" }), source: undefined })],
    ["an http source", catalog(entry({ model: "a", source: "http://example.com/" }))],
    ["an unknown field", catalog({ ...entry({ model: "a" }), input_price: 1 })],
    ["a bad date", catalog(entry({ model: "a", effective_from: "2025-13-01" }))],
    ["effective_to before effective_from", catalog(entry({ model: "a", effective_to: "2024-01-01" }))],
    ["another currency", { ...catalog(entry({ model: "a" })), currency: "EUR" }],
    ["no entries", catalog()],
    [
      "overlapping versions of a model",
      catalog(
        entry({ model: "a", effective_from: "2025-01-01", effective_to: "2025-06-01", version: "v1" }),
        entry({ model: "a", effective_from: "2025-05-01", version: "v2" }),
      ),
    ],
    ["an alias that is another entry's model", catalog(entry({ model: "a" }), entry({ model: "b", aliases: ["A"] }))],
    [
      "a repeated id@version",
      catalog(
        entry({ model: "a", effective_to: "2026-01-01" }),
        entry({ model: "a", effective_from: "2026-01-01", version: "2025-01-01" }),
      ),
    ],
  ])("rejects %s with TM_ERR_BAD_CONFIG", (_name, bad) => {
    expectBadConfig(() => createPriceBook(bad));
  });

  it("rejects an unreadable file", () => {
    expectBadConfig(() => loadPriceBook(new URL("./does-not-exist.json", import.meta.url)));
  });
});
