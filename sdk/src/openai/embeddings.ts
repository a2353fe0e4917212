/**
 * `embeddings.create`. Only input tokens are billed; the vectors are not recorded, the input
 * text is (as one user message, a text part per input) when content is captured.
 */
import type { Attributes } from "@opentelemetry/api";
import { textPart } from "../content.js";
import { type Endpoint, NO_STREAM, type StreamSink } from "../endpoint.js";
import { asArray, asObject, count, type JsonObject, num, str } from "../json.js";
import type { LlmCall } from "../llm-call.js";
import { GEN_AI_EMBEDDINGS_DIMENSION_COUNT, GEN_AI_REQUEST_ENCODING_FORMATS } from "../semconv.js";
import type { GenAIPart } from "../types.js";

function dimensionsOf(data: JsonObject): number | undefined {
  const first = asObject(asArray(data["data"])[0]);
  const embedding = first?.["embedding"];
  if (Array.isArray(embedding)) return embedding.length;
  // base64: float32 values, 4 bytes each.
  if (typeof embedding === "string") return Math.floor((embedding.length * 3) / 4 / 4);
  return undefined;
}

export const embeddings: Endpoint = {
  operation: "embeddings",

  requestAttributes(body: JsonObject, out: Attributes): void {
    const format = str(body["encoding_format"]);
    if (format !== undefined) out[GEN_AI_REQUEST_ENCODING_FORMATS] = [format];
    const dims = num(body["dimensions"]);
    if (dims !== undefined) out[GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dims;
  },

  input(body: JsonObject, call: LlmCall): void {
    const input = body["input"];
    const parts: GenAIPart[] = [];
    if (typeof input === "string") parts.push(textPart(input));
    else for (const item of asArray(input)) if (typeof item === "string") parts.push(textPart(item));
    if (parts.length > 0) call.setInputMessages([{ role: "user", parts }]);
  },

  response(data: JsonObject, call: LlmCall): void {
    call.setResponse({ model: str(data["model"]) });
    const usage = asObject(data["usage"]);
    if (usage !== undefined) call.setUsage({ inputTokens: count(usage["prompt_tokens"]) });
    const dims = dimensionsOf(data);
    if (dims !== undefined) call.setAttribute(GEN_AI_EMBEDDINGS_DIMENSION_COUNT, dims);
  },

  stream(): StreamSink {
    return NO_STREAM;
  },
};
