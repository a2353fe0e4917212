import type { NormalizedCall } from "../normalize/registry.js";
import type { LlmCallRow } from "../storage/rows.js";
import { estimateTokens } from "./estimate-tokens.js";
import type { PriceBook } from "./price-book.js";
import { priceCall } from "./pricing.js";

/** Decimal string for a cost the sender reported (9 decimals, as the column holds); null when the column cannot hold it. */
function reportedCost(value: number | null): string | null {
  if (value === null || !Number.isFinite(value) || value < 0 || value >= 1e9) return null;
  return value.toFixed(9);
}

/**
 * Turns a normalized call into the stored row: estimates tokens when the sender reported no
 * usage (tokens_estimated=1), then prices it. A call with neither usage nor content to
 * estimate from stays unpriced (cost NULL): unknown is never $0.
 */
export function createCallEnricher(book: PriceBook): (call: NormalizedCall) => LlmCallRow {
  return (call) => {
    let inputTokens = call.input_tokens;
    let outputTokens = call.output_tokens;
    let tokensEstimated = 0;
    if (call.usageMissing && (call.input || call.output)) {
      const est = estimateTokens({
        model: call.response_model || call.request_model,
        input: call.input,
        output: call.output,
      });
      inputTokens = est.input_tokens;
      outputTokens = est.output_tokens;
      tokensEstimated = 1;
    }
    const unknownUsage = call.usageMissing && tokensEstimated === 0;
    const price = unknownUsage
      ? UNKNOWN_USAGE
      : priceCall(
          {
            provider: call.provider,
            request_model: call.request_model,
            response_model: call.response_model,
            timestampUs: call.timestamp,
            input_tokens: inputTokens,
            output_tokens: outputTokens,
            cache_read_tokens: call.cache_read_tokens,
            cache_write_tokens: call.cache_write_tokens,
            reasoning_tokens: call.reasoning_tokens,
          },
          book,
        );
    // One object literal in column order: every row shares a hidden class, which keeps the
    // JSON encoding on the hot path fast.
    return {
      timestamp: call.timestamp,
      trace_id: call.trace_id,
      span_id: call.span_id,
      parent_span_id: call.parent_span_id,
      service: call.service,
      environment: call.environment,
      team: call.team,
      project: call.project,
      user_id: call.user_id,
      session_id: call.session_id,
      feature: call.feature,
      source: call.source,
      convention: call.convention,
      provider: call.provider,
      operation: call.operation,
      request_model: call.request_model,
      response_model: call.response_model,
      response_id: call.response_id,
      prompt_name: call.prompt_name,
      prompt_version: call.prompt_version,
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      cache_read_tokens: call.cache_read_tokens,
      cache_write_tokens: call.cache_write_tokens,
      reasoning_tokens: call.reasoning_tokens,
      tokens_estimated: tokensEstimated,
      cost_usd: price.cost_usd,
      // The catalog cost is the list cost too until contracts and service tiers are applied
      // (finops/rating.ts withContractPricing).
      list_cost_usd: price.cost_usd,
      reported_cost_usd: reportedCost(call.reportedCostUsd),
      priced: price.priced,
      price_id: price.price_id,
      duration_ms: call.duration_ms,
      ttft_ms: call.ttft_ms,
      streamed: call.streamed,
      status: call.status,
      error_type: call.error_type,
      finish_reason: call.finish_reason,
      http_status: call.http_status,
      request_params: call.request_params,
      input: call.input,
      output: call.output,
      redacted: call.redacted,
      cache_hit: call.cache_hit,
      tags: call.tags,
    };
  };
}

const UNKNOWN_USAGE = Object.freeze({ cost_usd: null, priced: 0 as const, price_id: "" });
