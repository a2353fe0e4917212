/**
 * What the proxy reads from a model-call request body: the model, whether it streams, the
 * gen_ai.request.* parameters, the end user, and the prompt (bounded) for the span's content.
 * Prompts are kept in the provider's own message shape; the collector's normalizer turns
 * OpenAI- and Anthropic-shaped messages into the OTel message schema.
 */
import type { Attributes, AttrValue } from "../otlp/types.js";
import { countOf, isObj, type JsonObj, strOf } from "./call-capture.js";
import type { Endpoint } from "./routes.js";

export interface RequestFacts {
  model: string;
  stream: boolean;
  /** stream_options.include_usage was set by the client. */
  includeUsage: boolean;
  /** Output cap the client asked for (max_tokens and its successors), undefined when none. */
  maxOutputTokens: number | undefined;
  /** `user` / metadata.user_id from the body. */
  endUser: string;
  /** The prompt as messages, bounded; undefined when not captured. */
  input: AttrValue[] | undefined;
  /** System prompt given apart from the messages (Anthropic `system`, Responses `instructions`). */
  system: AttrValue | undefined;
}

const TRUNCATED_MARK = "…[truncated]";

/** Copies JSON with strings cut so the total stays within `state.left` characters. */
function boundValue(v: unknown, state: { left: number }): AttrValue {
  if (typeof v === "string") {
    if (v.length <= state.left) {
      state.left -= v.length;
      return v;
    }
    const kept = v.slice(0, Math.max(0, state.left));
    state.left = 0;
    return kept + TRUNCATED_MARK;
  }
  if (Array.isArray(v)) {
    const out: AttrValue[] = [];
    for (const x of v) {
      if (state.left <= 0) break;
      out.push(boundValue(x, state));
    }
    return out;
  }
  if (isObj(v)) {
    const out: { [key: string]: AttrValue } = {};
    for (const k of Object.keys(v)) {
      state.left -= k.length + 4;
      out[k] = boundValue(v[k], state);
    }
    return out;
  }
  state.left -= 8;
  return v as AttrValue;
}

/**
 * Messages within `budget` characters. A prompt that fits is used as is (no copy); a larger one
 * keeps the most recent messages, the last one it reaches cut short.
 */
export function boundMessages(messages: readonly unknown[], bodyBytes: number, budget: number): AttrValue[] {
  if (bodyBytes <= budget) return messages as AttrValue[];
  const state = { left: budget };
  const kept: AttrValue[] = [];
  for (let i = messages.length - 1; i >= 0 && state.left > 0; i--) kept.push(boundValue(messages[i], state));
  return kept.reverse();
}

function asMessages(v: unknown): unknown[] {
  if (typeof v === "string") return [{ role: "user", content: v }];
  if (!Array.isArray(v)) return [];
  const out: unknown[] = [];
  for (const x of v) if (typeof x === "string") out.push({ role: "user", content: x });
  return out;
}

/** Responses API input items -> chat-shaped messages the normalizer understands. */
function responsesInput(input: unknown): unknown[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  if (!Array.isArray(input)) return [];
  const out: unknown[] = [];
  for (const item of input) {
    if (!isObj(item)) continue;
    switch (item["type"]) {
      case "function_call":
        out.push({
          role: "assistant",
          tool_calls: [
            {
              id: strOf(item["call_id"]),
              function: { name: strOf(item["name"]), arguments: strOf(item["arguments"]) },
            },
          ],
        });
        break;
      case "function_call_output":
        out.push({ role: "tool", tool_call_id: strOf(item["call_id"]), content: item["output"] });
        break;
      case "reasoning":
        break;
      default:
        if (item["role"] !== undefined) out.push(item);
    }
  }
  return out;
}

function promptOf(endpoint: Endpoint, body: JsonObj): { messages: unknown[]; system: unknown } {
  switch (endpoint) {
    case "chat":
      return { messages: Array.isArray(body["messages"]) ? body["messages"] : [], system: undefined };
    case "messages":
      return { messages: Array.isArray(body["messages"]) ? body["messages"] : [], system: body["system"] };
    case "responses":
      return { messages: responsesInput(body["input"]), system: body["instructions"] };
    case "completions":
      return { messages: asMessages(body["prompt"]), system: undefined };
    case "embeddings":
      return { messages: asMessages(body["input"]), system: undefined };
  }
}

export function requestFacts(
  endpoint: Endpoint,
  body: JsonObj,
  bodyBytes: number,
  captureBudget: number,
): RequestFacts {
  const streamOptions = body["stream_options"];
  const endUser =
    strOf(body["user"]) ||
    strOf(body["safety_identifier"]) ||
    (isObj(body["metadata"]) ? strOf(body["metadata"]["user_id"]) : "");
  let input: AttrValue[] | undefined;
  let system: AttrValue | undefined;
  if (captureBudget > 0) {
    const p = promptOf(endpoint, body);
    if (p.messages.length > 0) input = boundMessages(p.messages, bodyBytes, captureBudget);
    if (p.system !== undefined && p.system !== null && p.system !== "") {
      system = bodyBytes <= captureBudget ? (p.system as AttrValue) : boundValue(p.system, { left: captureBudget });
    }
  }
  return {
    model: strOf(body["model"]),
    stream: body["stream"] === true,
    includeUsage: isObj(streamOptions) && streamOptions["include_usage"] === true,
    maxOutputTokens:
      countOf(body["max_completion_tokens"]) ?? countOf(body["max_tokens"]) ?? countOf(body["max_output_tokens"]),
    endUser,
    input,
    system,
  };
}

const NUMERIC_PARAMS: readonly (readonly [string, string])[] = [
  ["temperature", "gen_ai.request.temperature"],
  ["top_p", "gen_ai.request.top_p"],
  ["top_k", "gen_ai.request.top_k"],
  ["frequency_penalty", "gen_ai.request.frequency_penalty"],
  ["presence_penalty", "gen_ai.request.presence_penalty"],
  ["seed", "gen_ai.request.seed"],
];

/** gen_ai.request.* attributes from the body (written into `attrs`). */
export function requestParamAttributes(body: JsonObj, facts: RequestFacts, attrs: Attributes): void {
  if (facts.maxOutputTokens !== undefined) attrs["gen_ai.request.max_tokens"] = facts.maxOutputTokens;
  for (const [key, attr] of NUMERIC_PARAMS) {
    const v = body[key];
    if (typeof v === "number" && Number.isFinite(v)) attrs[attr] = v;
  }
  const stop = body["stop"] ?? body["stop_sequences"];
  if (typeof stop === "string") attrs["gen_ai.request.stop_sequences"] = [stop];
  else if (Array.isArray(stop)) {
    const list = stop.filter((s): s is string => typeof s === "string");
    if (list.length > 0) attrs["gen_ai.request.stop_sequences"] = list;
  }
  const effort =
    strOf(body["reasoning_effort"]) || (isObj(body["reasoning"]) ? strOf(body["reasoning"]["effort"]) : "");
  if (effort !== "") attrs["gen_ai.request.reasoning.level"] = effort;
  const n = countOf(body["n"]);
  if (n !== undefined && n !== 1) attrs["gen_ai.request.choice.count"] = n;
  const format = strOf(body["encoding_format"]);
  if (format !== "") attrs["gen_ai.request.encoding_formats"] = [format];
  if (facts.stream) attrs["gen_ai.request.stream"] = true;
}
