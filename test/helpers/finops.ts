import { createPriceBook, type PriceBook } from "../../collector/src/enrich/price-book.js";

/** A catalog with one model, `openai/gpt-test`, at these prices per million tokens. */
export function gptTestBook(prices: { input: number; output: number; cache_read?: number }): PriceBook {
  return createPriceBook({
    catalog_version: "t",
    currency: "USD",
    unit: "per_1m_tokens",
    entries: [
      {
        id: "openai/gpt-test",
        provider: "openai",
        model: "gpt-test",
        effective_from: "2026-01-01",
        ...prices,
        source: "https://example.com/p",
        version: "1",
      },
    ],
  });
}
