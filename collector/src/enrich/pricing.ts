import type { PriceBook, PriceEntry, Rates } from "./price-book.js";

/**
 * Cost of one model call from its token counts and the price book.
 *
 * Token conventions (GENAI_MAPPING.md, normalization rule 1): input_tokens INCLUDES cache reads
 * and writes, output_tokens INCLUDES reasoning. So
 *
 *   uncached = input - cache_read - cache_write          (never below 0)
 *   cost     = uncached * input_price
 *            + cache_read * cache_read_price              (input_price when not priced apart)
 *            + cache_write * cache_write_price            (input_price when not priced apart)
 *            + (output - reasoning) * output_price
 *            + reasoning * reasoning_price                (output_price when not priced apart)
 *
 * with every price taken from the long-context tier when the call's total input exceeds its
 * threshold. Prices are micro-USD per 1M tokens, i.e. pico-USD per token, so the sum is an exact
 * bigint in pico-USD; it is rounded once, half up, to 9 decimals (nano-USD).
 */

export interface PriceCallInput {
  provider: string;
  request_model: string;
  response_model: string;
  /** Call start, Unix microseconds: picks the price in force. */
  timestampUs: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
}

export interface PriceCallResult {
  /** USD with at most 9 decimals, trailing zeros trimmed ("0.0025", "12", "0"); null when unpriced. */
  cost_usd: string | null;
  priced: 0 | 1;
  /** `${entry.id}@${entry.version}`, plus `#tier>${threshold}` when a long-context tier applied; "" when unpriced. */
  price_id: string;
}

/** 1e9 USD in pico-USD: the first cost the cost_usd column cannot hold. */
const MAX_PICO_USD = 10n ** 21n;

export function priceCall(input: PriceCallInput, book: PriceBook): PriceCallResult {
  const entry = findEntry(input, book);
  // Unknown is not zero: no price means cost NULL and priced 0, never "$0".
  if (entry === undefined) return { cost_usd: null, priced: 0, price_id: "" };

  const inputTokens = count(input.input_tokens);
  const outputTokens = count(input.output_tokens);
  const cacheRead = count(input.cache_read_tokens);
  const cacheWrite = count(input.cache_write_tokens);
  // Reasoning is part of output; a larger figure cannot be billed twice.
  const reasoning = Math.min(count(input.reasoning_tokens), outputTokens);
  const uncached = Math.max(0, inputTokens - cacheRead - cacheWrite);

  let rates: Rates = entry.base;
  let tierSuffix = "";
  for (const tier of entry.tiers) {
    if (inputTokens > tier.aboveInputTokens) {
      rates = tier;
      tierSuffix = `#tier>${tier.aboveInputTokens}`;
      break;
    }
  }

  const pico =
    BigInt(uncached) * rates.input +
    BigInt(cacheRead) * (rates.cacheRead ?? rates.input) +
    BigInt(cacheWrite) * (rates.cacheWrite ?? rates.input) +
    BigInt(outputTokens - reasoning) * rates.output +
    BigInt(reasoning) * (rates.reasoning ?? rates.output);

  // A billion dollars or more for one call comes only from usage no call has (a sender's bug):
  // the cost is unknown, not a figure to store (cost_usd holds Decimal(18, 9), under 1e9).
  if (pico >= MAX_PICO_USD) return { cost_usd: null, priced: 0, price_id: "" };
  return { cost_usd: formatPicoUsd(pico), priced: 1, price_id: `${entry.id}@${entry.version}${tierSuffix}` };
}

/** The response model names what actually ran (and its dated snapshot); the request model is the fallback. */
function findEntry(input: PriceCallInput, book: PriceBook): PriceEntry | undefined {
  const { provider, request_model, response_model, timestampUs } = input;
  if (response_model !== "") {
    const entry = book.lookup(provider, response_model, timestampUs);
    if (entry !== undefined || response_model === request_model) return entry;
  }
  return request_model === "" ? undefined : book.lookup(provider, request_model, timestampUs);
}

function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

const PICO_PER_NANO = 1000n;
const NANO_PER_USD = 1_000_000_000n;

/** pico-USD -> USD decimal string, rounded half up to 9 decimals, trailing zeros trimmed. */
export function formatPicoUsd(pico: bigint): string {
  const negative = pico < 0n;
  const abs = negative ? -pico : pico;
  const nano = (abs + PICO_PER_NANO / 2n) / PICO_PER_NANO;
  const whole = nano / NANO_PER_USD;
  const frac = (nano % NANO_PER_USD).toString().padStart(9, "0").replace(/0+$/, "");
  const sign = negative && nano !== 0n ? "-" : "";
  return frac === "" ? `${sign}${whole}` : `${sign}${whole}.${frac}`;
}

export interface CacheUsage {
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

/**
 * Anthropic reports input_tokens WITHOUT cache reads and writes; our rows store them included.
 * When a sender's cache figures exceed its input, it must have used that style: add them back.
 * (An Anthropic-style report whose cache is smaller than its uncached input cannot be told apart
 * here; adapters that know their sender is Anthropic-style should add the cache themselves.)
 */
export function correctAnthropicStyle<T extends CacheUsage>(usage: T): T {
  const cached = count(usage.cache_read_tokens) + count(usage.cache_write_tokens);
  if (cached <= count(usage.input_tokens)) return usage;
  return { ...usage, input_tokens: count(usage.input_tokens) + cached };
}
