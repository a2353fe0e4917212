import { describe, expect, it } from "vitest";
import { createPriceBook, loadPriceBook } from "./price-book.js";
import { correctAnthropicStyle, formatPicoUsd, type PriceCallInput, priceCall } from "./pricing.js";

// Worked examples: prices are USD per 1M tokens, so a token costs price / 1e6 USD.

const us = (iso: string): number => Date.parse(iso) * 1000;
const book = loadPriceBook();

function call(overrides: Partial<PriceCallInput>): PriceCallInput {
  return {
    provider: "openai",
    request_model: "",
    response_model: "",
    timestampUs: us("2026-06-01T00:00:00Z"),
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    ...overrides,
  };
}

/** Exact decimal string -> integer nano-USD, for exact sums in tests. */
function toNano(usd: string): bigint {
  const [whole = "0", frac = ""] = usd.split(".");
  return BigInt(whole) * 1_000_000_000n + BigInt(frac.padEnd(9, "0"));
}

describe("priceCall", () => {
  it("plain call", () => {
    // gpt-4o-mini: input $0.15, output $0.60
    //   1000 in  * 0.15 / 1e6 = 0.00015
    //    500 out * 0.60 / 1e6 = 0.0003
    //   total                   0.00045
    expect(priceCall(call({ request_model: "gpt-4o-mini", input_tokens: 1000, output_tokens: 500 }), book)).toEqual({
      cost_usd: "0.00045",
      priced: 1,
      price_id: "openai/gpt-4o-mini@2024-07-18",
    });
  });

  it("cached reads, OpenAI style (cached tokens counted inside input)", () => {
    // gpt-4o: input $2.50, cached input $1.25, output $10
    //   input 10000 of which cache_read 8000 -> uncached 2000
    //   2000 * 2.50 / 1e6 = 0.005
    //   8000 * 1.25 / 1e6 = 0.01
    //    200 * 10   / 1e6 = 0.002
    //   total               0.017   (all 10000 at $2.50 would be 0.027: cached tokens are not billed twice)
    const result = priceCall(
      call({ request_model: "gpt-4o", input_tokens: 10_000, cache_read_tokens: 8000, output_tokens: 200 }),
      book,
    );
    expect(result.cost_usd).toBe("0.017");
  });

  it("cache writes, Anthropic (5-minute write price)", () => {
    // claude-sonnet-4-5: input $3, cache write $3.75, cache read $0.30, output $15
    //   input 12000 of which cache_write 10000 -> uncached 2000
    //    2000 * 3    / 1e6 = 0.006
    //   10000 * 3.75 / 1e6 = 0.0375
    //     300 * 15   / 1e6 = 0.0045
    //   total                0.048
    const base = { provider: "anthropic", request_model: "claude-sonnet-4-5-20250929", output_tokens: 300 };
    expect(priceCall(call({ ...base, input_tokens: 12_000, cache_write_tokens: 10_000 }), book).cost_usd).toBe("0.048");
    // Next call reads the same 10000 from cache:
    //   2000 * 3 / 1e6 = 0.006; 10000 * 0.30 / 1e6 = 0.003; 0.0045 -> 0.0135
    expect(priceCall(call({ ...base, input_tokens: 12_000, cache_read_tokens: 10_000 }), book).cost_usd).toBe("0.0135");
  });

  it("reasoning tokens are output tokens, at the output price unless priced apart", () => {
    // o3 (after the 2025-06-10 cut): input $2, output $8
    //   1000 in * 2 / 1e6            = 0.002
    //   output 5000 of which reasoning 4000:
    //   1000 * 8 / 1e6 + 4000 * 8 / 1e6 = 0.008 + 0.032 = 0.04
    //   total                           0.042
    expect(
      priceCall(call({ request_model: "o3", input_tokens: 1000, output_tokens: 5000, reasoning_tokens: 4000 }), book)
        .cost_usd,
    ).toBe("0.042");
    // gemini-2.5-flash-preview-04-17 billed thinking apart: input $0.15, output $0.60, thinking $3.50
    //   1000 in * 0.15 / 1e6           = 0.00015
    //   output 3000 of which reasoning 2000:
    //   1000 * 0.60 / 1e6 = 0.0006; 2000 * 3.50 / 1e6 = 0.007
    //   total                            0.00775
    expect(
      priceCall(
        call({
          provider: "gcp.gemini",
          request_model: "gemini-2.5-flash-preview-04-17",
          input_tokens: 1000,
          output_tokens: 3000,
          reasoning_tokens: 2000,
        }),
        book,
      ).cost_usd,
    ).toBe("0.00775");
  });

  it("Anthropic-style cache reporting, corrected before pricing", () => {
    // A sender copies Anthropic's usage as is: input_tokens 50 EXCLUDES cache read 10000 and write 2000.
    const reported = { input_tokens: 50, cache_read_tokens: 10_000, cache_write_tokens: 2000 };
    const usage = correctAnthropicStyle(reported);
    // 10000 + 2000 > 50, so it cannot include them: 50 + 10000 + 2000 = 12050
    expect(usage.input_tokens).toBe(12_050);
    // claude-haiku-4-5: input $1, cache write $1.25, cache read $0.10, output $5
    //      50 * 1    / 1e6 = 0.00005
    //   10000 * 0.10 / 1e6 = 0.001
    //    2000 * 1.25 / 1e6 = 0.0025
    //     100 * 5    / 1e6 = 0.0005
    //   total                0.00405
    const base = { provider: "anthropic", request_model: "claude-haiku-4-5", output_tokens: 100 };
    expect(priceCall(call({ ...base, ...usage }), book).cost_usd).toBe("0.00405");
    // Uncorrected, the 50 uncached tokens would be lost: uncached = max(0, 50 - 12000) = 0 -> 0.004.
    expect(priceCall(call({ ...base, ...reported }), book).cost_usd).toBe("0.004");
  });

  it("correctAnthropicStyle leaves OpenAI-style and consistent usage alone", () => {
    const openaiStyle = { input_tokens: 1000, cache_read_tokens: 800, cache_write_tokens: 0, output_tokens: 5 };
    expect(correctAnthropicStyle(openaiStyle)).toBe(openaiStyle);
    const allCached = { input_tokens: 1000, cache_read_tokens: 1000, cache_write_tokens: 0 };
    expect(correctAnthropicStyle(allCached)).toBe(allCached);
    // Extra fields survive the correction.
    expect(
      correctAnthropicStyle({ input_tokens: 3, cache_read_tokens: 10, cache_write_tokens: 0, model: "m" }),
    ).toEqual({
      input_tokens: 13,
      cache_read_tokens: 10,
      cache_write_tokens: 0,
      model: "m",
    });
  });

  it("long-context tier boundary: exactly 200000 input is base, 200001 is the long tier for the whole call", () => {
    // claude-sonnet-4-5: <= 200K input $3 / output $15; > 200K input $6 / output $22.50 / cache read $0.60
    const base = { provider: "anthropic", request_model: "claude-sonnet-4-5", output_tokens: 1000 };
    //   200000 * 3 / 1e6 = 0.6;  1000 * 15 / 1e6 = 0.015  -> 0.615
    expect(priceCall(call({ ...base, input_tokens: 200_000 }), book)).toEqual({
      cost_usd: "0.615",
      priced: 1,
      price_id: "anthropic/claude-sonnet-4-5@2025-09-29",
    });
    //   200001 * 6 / 1e6 = 1.200006;  1000 * 22.5 / 1e6 = 0.0225  -> 1.222506
    expect(priceCall(call({ ...base, input_tokens: 200_001 }), book)).toEqual({
      cost_usd: "1.222506",
      priced: 1,
      price_id: "anthropic/claude-sonnet-4-5@2025-09-29#tier>200000",
    });
    // The tier is picked by TOTAL input, cache included, and then prices the cache too:
    //   input 200001 of which cache_read 150000 -> uncached 50001
    //   50001 * 6 / 1e6 = 0.300006;  150000 * 0.60 / 1e6 = 0.09;  0.0225  -> 0.412506
    expect(priceCall(call({ ...base, input_tokens: 200_001, cache_read_tokens: 150_000 }), book).cost_usd).toBe(
      "0.412506",
    );
  });

  it("alias / dated snapshot resolves to the model's price id", () => {
    // gpt-4o-2024-08-06 -> gpt-4o: 1000 * 2.50 / 1e6 + 100 * 10 / 1e6 = 0.0025 + 0.001 = 0.0035
    expect(
      priceCall(call({ response_model: "gpt-4o-2024-08-06", input_tokens: 1000, output_tokens: 100 }), book),
    ).toEqual({ cost_usd: "0.0035", priced: 1, price_id: "openai/gpt-4o@2024-08-06" });
  });

  it("fine-tuned model: its own prices, never the base model's", () => {
    // ft:gpt-4o-mini-2024-07-18:acme::A1b2C3 -> ft:gpt-4o-mini: input $0.30, cached $0.15, output $1.20
    //   input 10000 of which cache_read 4000 -> uncached 6000
    //   6000 * 0.30 / 1e6 = 0.0018
    //   4000 * 0.15 / 1e6 = 0.0006
    //    500 * 1.20 / 1e6 = 0.0006
    //   total               0.003   (at the base gpt-4o-mini's prices it would be 0.0015)
    const usage = { input_tokens: 10_000, cache_read_tokens: 4000, output_tokens: 500 };
    expect(priceCall(call({ response_model: "ft:gpt-4o-mini-2024-07-18:acme::A1b2C3", ...usage }), book)).toEqual({
      cost_usd: "0.003",
      priced: 1,
      price_id: "openai/ft:gpt-4o-mini@2024-07-23",
    });
    // A checkpoint of a fine-tuning job, and a router's "openai/" prefix, price the same way.
    const checkpoint = "openai/ft:gpt-4.1-2025-04-14:acme:support:B2c3:ckpt-step-120";
    expect(priceCall(call({ response_model: checkpoint, ...usage }), book).price_id).toBe(
      "openai/ft:gpt-4.1@2025-04-14",
    );
    // A base model the catalog has no fine-tuning price for stays unknown instead of taking the base price.
    expect(priceCall(call({ response_model: "ft:gpt-5-mini-2025-08-07:acme::C3d4", ...usage }), book)).toEqual({
      cost_usd: null,
      priced: 0,
      price_id: "",
    });
  });

  it("effective dates: a price change on day D (o3, 2025-06-10)", () => {
    const o3 = { request_model: "o3", input_tokens: 1000, output_tokens: 1000 };
    // Before D: $10 / $40 -> 1000 * 10 / 1e6 + 1000 * 40 / 1e6 = 0.01 + 0.04 = 0.05
    expect(priceCall(call({ ...o3, timestampUs: us("2025-06-09T12:00:00Z") }), book)).toEqual({
      cost_usd: "0.05",
      priced: 1,
      price_id: "openai/o3@2025-04-16",
    });
    // From D: $2 / $8 -> 0.002 + 0.008 = 0.01
    expect(priceCall(call({ ...o3, timestampUs: us("2025-06-10T00:00:00Z") }), book)).toEqual({
      cost_usd: "0.01",
      priced: 1,
      price_id: "openai/o3@2025-06-10",
    });
  });

  it("effective dates: a long-context premium that was later dropped (claude-opus-4-6, 2026-03-13)", () => {
    const opus = { provider: "anthropic", request_model: "claude-opus-4-6", input_tokens: 300_000 };
    // Before: > 200K is $10/1M -> 300000 * 10 / 1e6 = 3
    expect(priceCall(call({ ...opus, timestampUs: us("2026-03-01T00:00:00Z") }), book)).toEqual({
      cost_usd: "3",
      priced: 1,
      price_id: "anthropic/claude-opus-4-6@2026-02-05#tier>200000",
    });
    // After: flat $5/1M -> 300000 * 5 / 1e6 = 1.5
    expect(priceCall(call({ ...opus, timestampUs: us("2026-04-01T00:00:00Z") }), book)).toEqual({
      cost_usd: "1.5",
      priced: 1,
      price_id: "anthropic/claude-opus-4-6@2026-03-13",
    });
  });

  it("unknown model: cost null, priced 0, never '0'", () => {
    const unknown = { cost_usd: null, priced: 0, price_id: "" };
    expect(priceCall(call({ request_model: "my-local-llm", input_tokens: 100, output_tokens: 10 }), book)).toEqual(
      unknown,
    );
    expect(priceCall(call({}), book)).toEqual(unknown);
  });

  it("a cost of a billion dollars or more (absurd usage) is unknown, not stored: priced 0", () => {
    // gpt-4o-mini output $0.60 per 1M: 1e15 tokens cost $600,000,000 (held); 2e15 cost $1.2e9 (not).
    expect(priceCall(call({ request_model: "gpt-4o-mini", output_tokens: 1e15 }), book)).toMatchObject({
      cost_usd: "600000000",
      priced: 1,
    });
    for (const usage of [{ output_tokens: 2e15 }, { input_tokens: 1e300 }]) {
      expect(priceCall(call({ request_model: "gpt-4o-mini", ...usage }), book)).toEqual({
        cost_usd: null,
        priced: 0,
        price_id: "",
      });
    }
  });

  it("a priced model with zero tokens costs exactly 0", () => {
    expect(priceCall(call({ request_model: "gpt-4o" }), book)).toEqual({
      cost_usd: "0",
      priced: 1,
      price_id: "openai/gpt-4o@2024-08-06",
    });
  });

  it("prefers the response model, falls back to the request model", () => {
    // An Azure deployment name as request model; the response names the real model.
    const azure = { provider: "azure.ai.openai", input_tokens: 1000 };
    expect(
      priceCall(call({ ...azure, request_model: "prod-chat", response_model: "gpt-4.1-2025-04-14" }), book).price_id,
    ).toBe("openai/gpt-4.1@2025-04-14");
    // Response model wins over a priced request model: gpt-4o requested, gpt-4o-mini answered.
    expect(priceCall(call({ request_model: "gpt-4o", response_model: "gpt-4o-mini" }), book).price_id).toBe(
      "openai/gpt-4o-mini@2024-07-18",
    );
    // Unpriced response model string, priced request model.
    expect(priceCall(call({ request_model: "gpt-4o", response_model: "gpt-4o-custom-build" }), book).price_id).toBe(
      "openai/gpt-4o@2024-08-06",
    );
  });

  it("cached tokens are billed at the input price when the entry has no cache price", () => {
    // gemini-2.0-flash-lite has no cache price: input $0.075
    //   input 1000 (600 cached) -> all 1000 * 0.075 / 1e6 = 0.000075
    expect(
      priceCall(
        call({
          provider: "gcp.gemini",
          request_model: "gemini-2.0-flash-lite",
          input_tokens: 1000,
          cache_read_tokens: 600,
        }),
        book,
      ).cost_usd,
    ).toBe("0.000075");
  });

  it("embeddings: input only", () => {
    // text-embedding-3-small: 1000 * 0.02 / 1e6 = 0.00002
    expect(priceCall(call({ request_model: "text-embedding-3-small", input_tokens: 1000 }), book).cost_usd).toBe(
      "0.00002",
    );
  });

  it("garbage token counts are treated as 0, and reasoning never exceeds output", () => {
    // gpt-4o-mini: output 100 with a bogus reasoning 500 -> 100 * 0.60 / 1e6 = 0.00006
    expect(
      priceCall(
        call({
          request_model: "gpt-4o-mini",
          input_tokens: Number.NaN,
          cache_read_tokens: -5,
          output_tokens: 100,
          reasoning_tokens: 500,
        }),
        book,
      ).cost_usd,
    ).toBe("0.00006");
  });

  it("is exact: 1000 small costs sum to the cost of 1000x the tokens", () => {
    // gpt-4o-mini input $0.15/1M: one token costs 0.00000015 USD.
    let nano = 0n;
    let float = 0;
    for (let i = 0; i < 1000; i++) {
      const { cost_usd } = priceCall(call({ request_model: "gpt-4o-mini", input_tokens: 1 }), book);
      expect(cost_usd).toBe("0.00000015");
      nano += toNano(cost_usd ?? "");
      float += Number(cost_usd);
    }
    // 1000 * 150 nano-USD = 150000 nano-USD = 0.00015 USD, exactly.
    expect(nano).toBe(150_000n);
    expect(priceCall(call({ request_model: "gpt-4o-mini", input_tokens: 1000 }), book).cost_usd).toBe("0.00015");
    // The same sum in binary floating point drifts (0.00015000000000000156).
    expect(float).not.toBe(0.00015);
  });

  it("rounds sub-nano costs half up to 9 decimals", () => {
    // gpt-5-nano cached input $0.005/1M: 1 token = 0.000000005 (exact at 9 decimals)
    const nano = { request_model: "gpt-5-nano", input_tokens: 1, cache_read_tokens: 1 };
    expect(priceCall(call(nano), book).cost_usd).toBe("0.000000005");
    // deepseek-v4-pro promo cache hit $0.003625/1M: 1 token = 3.625e-9 -> 0.000000004
    const ds = {
      provider: "deepseek",
      request_model: "deepseek-v4-pro",
      timestampUs: us("2026-05-01T00:00:00Z"),
      input_tokens: 1,
      cache_read_tokens: 1,
    };
    expect(priceCall(call(ds), book).cost_usd).toBe("0.000000004");
  });

  it("works on an injected catalog", () => {
    const test = createPriceBook({
      catalog_version: "t",
      currency: "USD",
      unit: "per_1m_tokens",
      entries: [
        {
          id: "acme/m",
          provider: "acme",
          model: "m",
          effective_from: "2025-01-01",
          input: 1.5,
          output: 3,
          cache_read: 0.15,
          tiers: [
            { above_input_tokens: 1000, input: 2, output: 4, cache_read: 0.2 },
            { above_input_tokens: 5000, input: 3, output: 6, cache_read: 0.3 },
          ],
          source: "https://acme.example/pricing",
          version: "2025-01-01",
        },
      ],
    });
    // The highest threshold exceeded wins: 6000 > 5000 -> 6000 * 3 / 1e6 = 0.018
    expect(priceCall(call({ provider: "acme", request_model: "m", input_tokens: 6000 }), test)).toEqual({
      cost_usd: "0.018",
      priced: 1,
      price_id: "acme/m@2025-01-01#tier>5000",
    });
    // 2000 > 1000 -> 2000 * 2 / 1e6 = 0.004
    expect(priceCall(call({ provider: "acme", request_model: "m", input_tokens: 2000 }), test).cost_usd).toBe("0.004");
  });
});

describe("formatPicoUsd", () => {
  it.each([
    [0n, "0"],
    [499n, "0"],
    [500n, "0.000000001"],
    [1_000_000_000_000n, "1"],
    [1_234_567_890_123n, "1.23456789"],
    [1_234_567_890_500n, "1.234567891"],
    [-1_500n, "-0.000000002"],
  ])("%s pico-USD -> %s", (pico, usd) => {
    expect(formatPicoUsd(pico)).toBe(usd);
  });
});
