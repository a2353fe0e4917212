/**
 * OpenAI usage objects -> OpenTelemetry GenAI usage. OpenAI already reports input INCLUDING
 * cached tokens and output INCLUDING reasoning, which is the OTel definition, so the numbers
 * pass through; only the field names differ per API.
 */
import { asObject, count, type JsonObject } from "../json.js";
import type { TokenUsage } from "../types.js";

/** Chat completions and legacy completions: prompt_tokens / completion_tokens. */
export function chatUsage(usage: JsonObject): TokenUsage {
  return {
    inputTokens: count(usage["prompt_tokens"]),
    outputTokens: count(usage["completion_tokens"]),
    cacheReadTokens: count(asObject(usage["prompt_tokens_details"])?.["cached_tokens"]),
    reasoningTokens: count(asObject(usage["completion_tokens_details"])?.["reasoning_tokens"]),
  };
}

/** Responses API: input_tokens / output_tokens with *_details. */
export function responsesUsage(usage: JsonObject): TokenUsage {
  return {
    inputTokens: count(usage["input_tokens"]),
    outputTokens: count(usage["output_tokens"]),
    cacheReadTokens: count(asObject(usage["input_tokens_details"])?.["cached_tokens"]),
    reasoningTokens: count(asObject(usage["output_tokens_details"])?.["reasoning_tokens"]),
  };
}
