import type { EvalInput, Finding } from "./types.js";

export const EMPTY_OUTPUT = "empty_output";
export const TRUNCATED = "truncated";

/**
 * finish_reason values meaning "stopped at the token limit": OpenAI `length`, Anthropic
 * `max_tokens`, Gemini `MAX_TOKENS`, OpenAI Responses `max_output_tokens`, Mistral `model_length`.
 */
const LIMIT_REASONS = new Set(["length", "max_tokens", "max_output_tokens", "model_length"]);

export function isTokenLimitStop(finishReason: string): boolean {
  return finishReason !== "" && LIMIT_REASONS.has(finishReason.toLowerCase());
}

/**
 * Whether a successful call returned nothing, or undefined when that cannot be known. Reported
 * visible output tokens settle it without reading content; otherwise the captured messages do
 * (a reply that is only reasoning is empty: reasoning models hitting the limit while thinking
 * return exactly that). With neither usage nor content the answer is unknown.
 */
function isEmpty(input: EvalInput): boolean | undefined {
  const { row } = input;
  if (row.status !== "ok" || row.operation === "embeddings") return undefined;
  if (row.output_tokens - row.reasoning_tokens > 0) return false;
  if (row.output !== "") {
    return !input.output().some((m) => m.hasOtherContent || m.refusal !== "" || m.text.trim() !== "");
  }
  return row.tokens_estimated === 0 ? true : undefined;
}

/**
 * "empty_output" 1/0 for successful calls that returned no content; "truncated" 1/0 from the
 * finish reason (length / max_tokens and their spellings), whenever one was recorded.
 */
export function evaluateEmptyOrTruncated(input: EvalInput): Finding[] {
  const out: Finding[] = [];
  const empty = isEmpty(input);
  if (empty !== undefined) {
    out.push(
      empty
        ? {
            name: EMPTY_OUTPUT,
            value: 1,
            comment: input.row.output === "" ? "0 output tokens reported" : "no content in output",
          }
        : { name: EMPTY_OUTPUT, value: 0 },
    );
  }
  const finish = input.row.finish_reason;
  if (finish !== "") {
    out.push(
      isTokenLimitStop(finish)
        ? { name: TRUNCATED, value: 1, comment: `finish_reason ${finish}` }
        : { name: TRUNCATED, value: 0 },
    );
  }
  return out;
}
