/**
 * Token usage as stored in `llm_calls`: input INCLUDES cache reads and writes, output INCLUDES
 * reasoning (the OTel GenAI definition of gen_ai.usage.input_tokens / output_tokens). Pricing
 * derives the uncached part from these, so a cached token is never priced twice.
 */

export interface TokenUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
}

/**
 * Repair usage from senders that report the provider's raw numbers instead of the OTel totals.
 *
 * Anthropic's `input_tokens` excludes `cache_read_input_tokens` and
 * `cache_creation_input_tokens`; instrumentations that copy it verbatim produce cache counts
 * larger than the input they are part of. When cache reads + writes exceed input, the sender
 * excluded them: add them back. (When they do not exceed it the two styles cannot be told
 * apart, and the OTel definition is assumed.)
 *
 * The same test applies to reasoning: Gemini's candidate count excludes thinking tokens, so
 * reasoning larger than output means output excluded it.
 *
 * Returns the same object when nothing needed fixing.
 */
export function correctUsage(usage: TokenUsage): TokenUsage {
  const cached = usage.cacheRead + usage.cacheWrite;
  const fixInput = cached > usage.input;
  const fixOutput = usage.reasoning > usage.output;
  if (!fixInput && !fixOutput) return usage;
  return {
    ...usage,
    input: fixInput ? usage.input + cached : usage.input,
    output: fixOutput ? usage.output + usage.reasoning : usage.output,
  };
}
