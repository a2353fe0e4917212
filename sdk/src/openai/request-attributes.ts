/** `gen_ai.request.*` attributes shared by the OpenAI endpoints. */
import type { Attributes } from "@opentelemetry/api";
import { asObject, type JsonObject, num, str, strings } from "../json.js";
import {
  GEN_AI_OUTPUT_TYPE,
  GEN_AI_REQUEST_CHOICE_COUNT,
  GEN_AI_REQUEST_FREQUENCY_PENALTY,
  GEN_AI_REQUEST_MAX_TOKENS,
  GEN_AI_REQUEST_PRESENCE_PENALTY,
  GEN_AI_REQUEST_REASONING_LEVEL,
  GEN_AI_REQUEST_SEED,
  GEN_AI_REQUEST_STOP_SEQUENCES,
  GEN_AI_REQUEST_STREAM,
  GEN_AI_REQUEST_TEMPERATURE,
  GEN_AI_REQUEST_TOP_P,
  OPENAI_REQUEST_SERVICE_TIER,
} from "../semconv.js";

export function setNumber(out: Attributes, key: string, value: unknown): void {
  const n = num(value);
  if (n !== undefined) out[key] = n;
}

/** Parameters common to chat completions, legacy completions and Responses. */
export function samplingAttributes(body: JsonObject, out: Attributes): void {
  setNumber(out, GEN_AI_REQUEST_TEMPERATURE, body["temperature"]);
  setNumber(out, GEN_AI_REQUEST_TOP_P, body["top_p"]);
  setNumber(out, GEN_AI_REQUEST_FREQUENCY_PENALTY, body["frequency_penalty"]);
  setNumber(out, GEN_AI_REQUEST_PRESENCE_PENALTY, body["presence_penalty"]);
  setNumber(out, GEN_AI_REQUEST_SEED, body["seed"]);
  const stop = strings(body["stop"]);
  if (stop !== undefined) out[GEN_AI_REQUEST_STOP_SEQUENCES] = stop;
  const n = num(body["n"]);
  if (n !== undefined && n !== 1) out[GEN_AI_REQUEST_CHOICE_COUNT] = n;
  if (body["stream"] === true) out[GEN_AI_REQUEST_STREAM] = true;
  const tier = str(body["service_tier"]);
  if (tier !== undefined) out[OPENAI_REQUEST_SERVICE_TIER] = tier;
}

export function maxTokensAttribute(out: Attributes, ...candidates: unknown[]): void {
  for (const c of candidates) {
    const n = num(c);
    if (n !== undefined) {
      out[GEN_AI_REQUEST_MAX_TOKENS] = n;
      return;
    }
  }
}

export function reasoningLevelAttribute(out: Attributes, effort: unknown): void {
  const level = str(effort);
  if (level !== undefined) out[GEN_AI_REQUEST_REASONING_LEVEL] = level;
}

/** `response_format` (chat) or `text.format` (Responses): text, json_object, json_schema -> text / json. */
export function outputTypeAttribute(out: Attributes, format: unknown): void {
  const type = str(asObject(format)?.["type"]);
  if (type === undefined) return;
  out[GEN_AI_OUTPUT_TYPE] = type === "text" ? "text" : "json";
}
