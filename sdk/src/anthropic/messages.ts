/**
 * `messages.create`: plain and streamed, tool use, extended thinking, prompt caching.
 *
 * Anthropic's `input_tokens` EXCLUDES the tokens read from and written to the prompt cache,
 * which it reports beside it. The OTel `gen_ai.usage.input_tokens` includes them, so the SDK
 * adds them back and writes the cache counts to their own keys. Output tokens include thinking
 * (it is billed as output); a thinking count, when the API reports one, goes to the reasoning key.
 *
 * Streams report usage twice: `message_start` has the input side (and 1 output token so far),
 * `message_delta` the cumulative output and, in recent API versions, the input side again.
 */
import type { Attributes } from "@opentelemetry/api";
import { textPart } from "../content.js";
import type { Endpoint, StreamSink } from "../endpoint.js";
import { asObject, count, type JsonObject, num, parseArguments, str, strings } from "../json.js";
import type { LlmCall } from "../llm-call.js";
import {
  GEN_AI_REQUEST_MAX_TOKENS,
  GEN_AI_REQUEST_REASONING_LEVEL,
  GEN_AI_REQUEST_STOP_SEQUENCES,
  GEN_AI_REQUEST_STREAM,
  GEN_AI_REQUEST_TEMPERATURE,
  GEN_AI_REQUEST_TOP_K,
  GEN_AI_REQUEST_TOP_P,
} from "../semconv.js";
import type { GenAIMessage, GenAIPart, TokenUsage } from "../types.js";
import { blockPart, blockParts, inputMessages } from "./content.js";

interface RawUsage {
  input: number | undefined;
  output: number | undefined;
  cacheRead: number | undefined;
  cacheWrite: number | undefined;
  thinking: number | undefined;
}

function readUsage(u: JsonObject): RawUsage {
  return {
    input: count(u["input_tokens"]),
    output: count(u["output_tokens"]),
    cacheRead: count(u["cache_read_input_tokens"]),
    cacheWrite: count(u["cache_creation_input_tokens"]),
    thinking: count(asObject(u["output_tokens_details"])?.["thinking_tokens"]),
  };
}

/** Later fields (message_delta) win where present; absent or null ones keep the earlier value. */
function mergeUsage(base: RawUsage | undefined, next: RawUsage): RawUsage {
  if (base === undefined) return next;
  return {
    input: next.input ?? base.input,
    output: next.output ?? base.output,
    cacheRead: next.cacheRead ?? base.cacheRead,
    cacheWrite: next.cacheWrite ?? base.cacheWrite,
    thinking: next.thinking ?? base.thinking,
  };
}

export function otelUsage(u: RawUsage): TokenUsage {
  const usage: TokenUsage = {
    outputTokens: u.output,
    cacheReadTokens: u.cacheRead,
    cacheWriteTokens: u.cacheWrite,
    reasoningTokens: u.thinking,
  };
  if (u.input !== undefined) usage.inputTokens = u.input + (u.cacheRead ?? 0) + (u.cacheWrite ?? 0);
  return usage;
}

function setNumber(out: Attributes, key: string, value: unknown): void {
  const n = num(value);
  if (n !== undefined) out[key] = n;
}

function systemParts(system: unknown): GenAIPart[] {
  if (typeof system === "string") return system === "" ? [] : [textPart(system)];
  return blockParts(system);
}

function outputMessage(content: unknown, stopReason: string | undefined): GenAIMessage {
  const message: GenAIMessage = { role: "assistant", parts: blockParts(content) };
  if (stopReason !== undefined) message.finish_reason = stopReason;
  return message;
}

interface BlockAcc {
  block: JsonObject;
  text: string[];
  json: string[];
}

class MessagesStreamSink implements StreamSink {
  readonly #call: LlmCall;
  #id: string | undefined;
  #model: string | undefined;
  #stopReason: string | undefined;
  #usage: RawUsage | undefined;
  readonly #blocks = new Map<number, BlockAcc>();

  constructor(call: LlmCall) {
    this.#call = call;
  }

  item(raw: unknown): void {
    const event = asObject(raw);
    if (event === undefined) return;
    switch (event["type"]) {
      case "message_start": {
        const message = asObject(event["message"]);
        if (message === undefined) return;
        this.#id = str(message["id"]);
        this.#model = str(message["model"]);
        const usage = asObject(message["usage"]);
        if (usage !== undefined) this.#usage = mergeUsage(this.#usage, readUsage(usage));
        return;
      }
      case "message_delta": {
        const stop = str(asObject(event["delta"])?.["stop_reason"]);
        if (stop !== undefined) this.#stopReason = stop;
        const usage = asObject(event["usage"]);
        if (usage !== undefined) this.#usage = mergeUsage(this.#usage, readUsage(usage));
        return;
      }
      case "content_block_start": {
        if (!this.#call.capture) return;
        const block = asObject(event["content_block"]);
        const index = count(event["index"]);
        if (block !== undefined && index !== undefined) this.#blocks.set(index, { block, text: [], json: [] });
        return;
      }
      case "content_block_delta": {
        if (!this.#call.capture) return;
        const acc = this.#blocks.get(count(event["index"]) ?? -1);
        const delta = asObject(event["delta"]);
        if (acc === undefined || delta === undefined) return;
        const piece = str(delta["text"]) ?? str(delta["thinking"]);
        if (piece !== undefined) acc.text.push(piece);
        const json = str(delta["partial_json"]);
        if (json) acc.json.push(json);
        return;
      }
    }
  }

  #outputParts(): GenAIPart[] {
    const parts: GenAIPart[] = [];
    for (const [, acc] of [...this.#blocks].sort(([a], [b]) => a - b)) {
      const { block } = acc;
      let rebuilt: JsonObject = block;
      if (block["type"] === "text") rebuilt = { ...block, text: acc.text.join("") };
      else if (block["type"] === "thinking") rebuilt = { ...block, thinking: acc.text.join("") };
      else if (acc.json.length > 0) rebuilt = { ...block, input: parseArguments(acc.json.join("")) };
      const part = blockPart(rebuilt);
      if (part !== undefined) parts.push(part);
    }
    return parts;
  }

  finish(): void {
    const call = this.#call;
    call.setResponse({
      id: this.#id,
      model: this.#model,
      finishReasons: this.#stopReason === undefined ? [] : [this.#stopReason],
    });
    if (this.#usage !== undefined) call.setUsage(otelUsage(this.#usage));
    if (!call.capture) return;
    const message: GenAIMessage = { role: "assistant", parts: this.#outputParts() };
    if (this.#stopReason !== undefined) message.finish_reason = this.#stopReason;
    call.setOutputMessages([message]);
  }
}

export const messages: Endpoint = {
  operation: "chat",

  requestAttributes(body: JsonObject, out: Attributes): void {
    setNumber(out, GEN_AI_REQUEST_MAX_TOKENS, body["max_tokens"]);
    setNumber(out, GEN_AI_REQUEST_TEMPERATURE, body["temperature"]);
    setNumber(out, GEN_AI_REQUEST_TOP_P, body["top_p"]);
    setNumber(out, GEN_AI_REQUEST_TOP_K, body["top_k"]);
    const stop = strings(body["stop_sequences"]);
    if (stop !== undefined) out[GEN_AI_REQUEST_STOP_SEQUENCES] = stop;
    if (body["stream"] === true) out[GEN_AI_REQUEST_STREAM] = true;
    const effort = str(asObject(body["output_config"])?.["effort"]);
    const thinking = str(asObject(body["thinking"])?.["type"]);
    const level = effort ?? (thinking !== undefined && thinking !== "disabled" ? thinking : undefined);
    if (level !== undefined) out[GEN_AI_REQUEST_REASONING_LEVEL] = level;
  },

  input(body: JsonObject, call: LlmCall): void {
    call.setInputMessages(inputMessages(body["messages"]), systemParts(body["system"]));
  },

  response(data: JsonObject, call: LlmCall): void {
    const stop = str(data["stop_reason"]);
    call.setResponse({
      id: str(data["id"]),
      model: str(data["model"]),
      finishReasons: stop === undefined ? [] : [stop],
    });
    const usage = asObject(data["usage"]);
    if (usage !== undefined) call.setUsage(otelUsage(readUsage(usage)));
    if (call.capture) call.setOutputMessages([outputMessage(data["content"], stop)]);
  },

  stream(_body: JsonObject, call: LlmCall): StreamSink {
    return new MessagesStreamSink(call);
  },
};
