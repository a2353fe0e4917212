import { isTokenLimitStop } from "./empty-or-truncated.js";
import type { EvalInput, Finding } from "./types.js";

export const VALID_JSON = "valid_json";

// Only request_params that mention json can ask for JSON output; the substring test keeps the
// common case (no JSON requested) free of a JSON.parse.
const MENTIONS_JSON = /json/i;
const CODE_FENCE = /^\s*```/;

/**
 * True when the request asked for JSON output: `output_type: "json"` (gen_ai.output.type) or an
 * OpenAI-style `response_format` of json_object / json_schema (string or `{type}` object).
 */
export function jsonRequested(requestParams: string): boolean {
  if (!MENTIONS_JSON.test(requestParams)) return false;
  let params: unknown;
  try {
    params = JSON.parse(requestParams);
  } catch {
    return false;
  }
  if (typeof params !== "object" || params === null) return false;
  const p = params as Record<string, unknown>;
  const outputType = p["output_type"];
  if (typeof outputType === "string" && outputType.toLowerCase() === "json") return true;
  const format = p["response_format"];
  if (typeof format === "string") return MENTIONS_JSON.test(format);
  if (typeof format === "object" && format !== null) {
    const type = (format as Record<string, unknown>)["type"];
    return typeof type === "string" && MENTIONS_JSON.test(type);
  }
  return false;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * "valid_json" 1/0: whether every output message's text parses as JSON, for calls that asked
 * for JSON output. Skipped when JSON was not requested or the output was not captured. The
 * comment says why a reply failed but never quotes it (the parser's message would).
 */
export function evaluateJsonValid(input: EvalInput): Finding[] {
  const { row } = input;
  if (row.output === "" || !jsonRequested(row.request_params)) return [];
  const messages = input.output();
  let texts = 0;
  for (const m of messages) {
    if (m.text.trim() === "") continue;
    texts++;
    if (!parses(m.text)) {
      const why = CODE_FENCE.test(m.text)
        ? "JSON wrapped in a markdown code fence"
        : isTokenLimitStop(row.finish_reason)
          ? "not valid JSON (output truncated at the token limit)"
          : "not valid JSON";
      return [{ name: VALID_JSON, value: 0, comment: why }];
    }
  }
  if (texts === 0) {
    // A tool-call-only reply answers in the tool arguments, not in text: nothing to judge.
    if (messages.some((m) => m.hasOtherContent)) return [];
    return [{ name: VALID_JSON, value: 0, comment: "no text output" }];
  }
  return [{ name: VALID_JSON, value: 1 }];
}
