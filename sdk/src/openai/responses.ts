/**
 * `responses.create` (the Responses API), plain and streamed. A stream carries the whole
 * response object in its terminal event (`response.completed`, `.incomplete`, `.failed`), which
 * is read like a plain response; a stream stopped before that keeps what its delta events
 * delivered.
 */
import type { Attributes } from "@opentelemetry/api";
import { textPart } from "../content.js";
import type { Endpoint, StreamSink } from "../endpoint.js";
import { asArray, asObject, count, type JsonObject, parseArguments, str } from "../json.js";
import type { LlmCall } from "../llm-call.js";
import { OPENAI_RESPONSE_SERVICE_TIER } from "../semconv.js";
import type { GenAIMessage, GenAIPart } from "../types.js";
import { responsesInputMessages, responsesOutputParts } from "./content.js";
import {
  maxTokensAttribute,
  outputTypeAttribute,
  reasoningLevelAttribute,
  samplingAttributes,
} from "./request-attributes.js";
import { responsesUsage } from "./usage.js";

function hasToolCall(output: unknown): boolean {
  for (const item of asArray(output)) {
    const type = asObject(item)?.["type"];
    if (type === "function_call" || type === "custom_tool_call") return true;
  }
  return false;
}

/** The Responses API has a status instead of finish reasons; mapped to the chat vocabulary. */
function finishReason(response: JsonObject): string | undefined {
  switch (response["status"]) {
    case "completed":
      return hasToolCall(response["output"]) ? "tool_calls" : "stop";
    case "incomplete": {
      const reason = str(asObject(response["incomplete_details"])?.["reason"]);
      return reason === "max_output_tokens" ? "length" : (reason ?? "incomplete");
    }
    case "failed":
      return "error";
    case "cancelled":
      return "cancelled";
    default:
      return undefined;
  }
}

function recordResponse(response: JsonObject, call: LlmCall): void {
  const finish = finishReason(response);
  call.setResponse({
    id: str(response["id"]),
    model: str(response["model"]),
    finishReasons: finish === undefined ? [] : [finish],
  });
  const usage = asObject(response["usage"]);
  if (usage !== undefined) call.setUsage(responsesUsage(usage));
  const tier = str(response["service_tier"]);
  if (tier !== undefined) call.setAttribute(OPENAI_RESPONSE_SERVICE_TIER, tier);
  if (call.capture) {
    const message: GenAIMessage = { role: "assistant", parts: responsesOutputParts(response["output"]) };
    if (finish !== undefined) message.finish_reason = finish;
    call.setOutputMessages([message]);
  }
}

const TERMINAL_EVENTS = new Set(["response.completed", "response.incomplete", "response.failed"]);

interface PartialItem {
  text: string[];
  call: { id: string; name: string; args: string[] } | undefined;
}

class ResponsesStreamSink implements StreamSink {
  readonly #call: LlmCall;
  #id: string | undefined;
  #model: string | undefined;
  #final: JsonObject | undefined;
  /** Output items by output_index, as far as the deltas got. */
  readonly #items = new Map<number, PartialItem>();

  constructor(call: LlmCall) {
    this.#call = call;
  }

  #item(index: number): PartialItem {
    let item = this.#items.get(index);
    if (item === undefined) {
      item = { text: [], call: undefined };
      this.#items.set(index, item);
    }
    return item;
  }

  item(raw: unknown): void {
    const event = asObject(raw);
    if (event === undefined) return;
    const type = str(event["type"]) ?? "";
    const response = asObject(event["response"]);
    if (response !== undefined) {
      this.#id ??= str(response["id"]);
      this.#model ??= str(response["model"]);
      if (TERMINAL_EVENTS.has(type)) this.#final = response;
      return;
    }
    if (!this.#call.capture) return;
    const index = count(event["output_index"]) ?? 0;
    switch (type) {
      case "response.output_text.delta":
      case "response.refusal.delta": {
        const delta = str(event["delta"]);
        if (delta) this.#item(index).text.push(delta);
        break;
      }
      case "response.output_item.added": {
        const added = asObject(event["item"]);
        if (added?.["type"] === "function_call") {
          this.#item(index).call = { id: str(added["call_id"]) ?? "", name: str(added["name"]) ?? "", args: [] };
        }
        break;
      }
      case "response.function_call_arguments.delta": {
        const delta = str(event["delta"]);
        const pending = this.#items.get(index)?.call;
        if (delta && pending !== undefined) pending.args.push(delta);
        break;
      }
    }
  }

  finish(): void {
    const call = this.#call;
    if (this.#final !== undefined) {
      recordResponse(this.#final, call);
      return;
    }
    // Stopped before the terminal event: what the deltas delivered.
    call.setResponse({ id: this.#id, model: this.#model });
    if (!call.capture) return;
    const parts: GenAIPart[] = [];
    for (const [, item] of [...this.#items].sort(([a], [b]) => a - b)) {
      if (item.text.length > 0) parts.push(textPart(item.text.join("")));
      if (item.call !== undefined) {
        const { id, name, args } = item.call;
        parts.push({ type: "tool_call", id, name, arguments: parseArguments(args.join("")) });
      }
    }
    call.setOutputMessages([{ role: "assistant", parts }]);
  }
}

export const responses: Endpoint = {
  operation: "chat",

  requestAttributes(body: JsonObject, out: Attributes): void {
    samplingAttributes(body, out);
    maxTokensAttribute(out, body["max_output_tokens"]);
    reasoningLevelAttribute(out, asObject(body["reasoning"])?.["effort"]);
    outputTypeAttribute(out, asObject(body["text"])?.["format"]);
  },

  input(body: JsonObject, call: LlmCall): void {
    const instructions = str(body["instructions"]);
    call.setInputMessages(
      responsesInputMessages(body["input"]),
      instructions === undefined ? undefined : [textPart(instructions)],
    );
  },

  response(data: JsonObject, call: LlmCall): void {
    recordResponse(data, call);
  },

  stream(_body: JsonObject, call: LlmCall): StreamSink {
    return new ResponsesStreamSink(call);
  },
};
