import type { NormalizedCall } from "../normalize/registry.js";
import type { LlmCallRow } from "../storage/rows.js";
import { estimateTokens } from "./estimate-tokens.js";
import type { PriceBook } from "./price-book.js";
import { priceCall } from "./pricing.js";

/** Decimal string for a cost the sender reported (9 decimals, as the column holds). */
function reportedCost(value: number | null): string | null {
  if (value === null || !Number.isFinite(value) || value < 0) return null;
  return value.toFixed(9);
}

/**
 * Turns a normalized call into the stored row: estimates tokens when the sender reported no
 * usage (tokens_estimated=1), then prices it. A call with neither usage nor content to
 * estimate from stays unpriced (cost NULL): unknown is never $0.
 */
export function createCallEnricher(book: PriceBook): (call: NormalizedCall) => LlmCallRow {
  return (call) => {
    const { usageMissing, reportedCostUsd, ...row } = call;
    let tokensEstimated = 0;
    if (usageMissing && (row.input || row.output)) {
      const est = estimateTokens({
        model: row.response_model || row.request_model,
        input: row.input,
        output: row.output,
      });
      row.input_tokens = est.input_tokens;
      row.output_tokens = est.output_tokens;
      tokensEstimated = 1;
    }
    const unknownUsage = usageMissing && tokensEstimated === 0;
    const price = unknownUsage
      ? { cost_usd: null, priced: 0 as const, price_id: "" }
      : priceCall(
          {
            provider: row.provider,
            request_model: row.request_model,
            response_model: row.response_model,
            timestampUs: row.timestamp,
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            cache_read_tokens: row.cache_read_tokens,
            cache_write_tokens: row.cache_write_tokens,
            reasoning_tokens: row.reasoning_tokens,
          },
          book,
        );
    return {
      ...row,
      tokens_estimated: tokensEstimated,
      cost_usd: price.cost_usd,
      priced: price.priced,
      price_id: price.price_id,
      reported_cost_usd: reportedCost(reportedCostUsd),
    };
  };
}
