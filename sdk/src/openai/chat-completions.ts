/**
 * `chat.completions.create`: plain and streamed (with `stream_options.include_usage` usage
 * chunks), tools and parallel tool calls, and `n > 1` (one output message per choice).
 */
import type { Attributes } from "@opentelemetry/api";
import { textPart } from "../content.js";
import type { Endpoint, StreamSink } from "../endpoint.js";
import { asObject, count, isObject, type JsonObject, parseArguments, str } from "../json.js";
import type { LlmCall } from "../llm-call.js";
import { OPENAI_RESPONSE_SERVICE_TIER, OPENAI_RESPONSE_SYSTEM_FINGERPRINT } from "../semconv.js";
import type { GenAIMessage, GenAIPart } from "../types.js";
import { recordChoicesResponse } from "./choices.js";
import { chatInputMessages, chatOutputMessage } from "./content.js";
import {
  maxTokensAttribute,
  outputTypeAttribute,
  reasoningLevelAttribute,
  samplingAttributes,
} from "./request-attributes.js";
import { chatUsage } from "./usage.js";

function responseExtras(data: JsonObject, call: LlmCall): void {
  const tier = str(data["service_tier"]);
  if (tier !== undefined) call.setAttribute(OPENAI_RESPONSE_SERVICE_TIER, tier);
  const fingerprint = str(data["system_fingerprint"]);
  if (fingerprint !== undefined) call.setAttribute(OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fingerprint);
}

interface ToolCallAcc {
  id: string;
  name: string;
  args: string[];
}

interface ChoiceAcc {
  text: string[];
  refusal: string[];
  tools: Map<number, ToolCallAcc>;
  finish: string | undefined;
}

function foldToolCalls(acc: ChoiceAcc, toolCalls: readonly unknown[]): void {
  for (const rawCall of toolCalls) {
    const tc = asObject(rawCall);
    if (tc === undefined) continue;
    const index = count(tc["index"]) ?? 0;
    let t = acc.tools.get(index);
    if (t === undefined) {
      t = { id: "", name: "", args: [] };
      acc.tools.set(index, t);
    }
    const id = str(tc["id"]);
    if (id) t.id = id;
    const fn = asObject(tc["function"]);
    const name = str(fn?.["name"]);
    if (name) t.name = name;
    const args = str(fn?.["arguments"]);
    if (args) t.args.push(args);
  }
}

/** Folds chunks per choice index; text is kept only when content is captured. */
class ChatStreamSink implements StreamSink {
  readonly #call: LlmCall;
  #id: string | undefined;
  #model: string | undefined;
  #usage: JsonObject | undefined;
  #tier: string | undefined;
  #fingerprint: string | undefined;
  readonly #choices = new Map<number, ChoiceAcc>();

  constructor(call: LlmCall) {
    this.#call = call;
  }

  #choice(index: number): ChoiceAcc {
    let c = this.#choices.get(index);
    if (c === undefined) {
      c = { text: [], refusal: [], tools: new Map(), finish: undefined };
      this.#choices.set(index, c);
    }
    return c;
  }

  // Runs once per streamed event, so it reads each field once, narrowing with isObject rather
  // than the asObject / asArray readers (no result object or empty array per field).
  item(chunk: unknown): void {
    if (!isObject(chunk)) return;
    if (this.#id === undefined) this.#id = str(chunk["id"]);
    if (this.#model === undefined) this.#model = str(chunk["model"]);
    if (this.#tier === undefined) this.#tier = str(chunk["service_tier"]);
    if (this.#fingerprint === undefined) this.#fingerprint = str(chunk["system_fingerprint"]);
    const usage = chunk["usage"];
    if (isObject(usage)) this.#usage = usage;
    const choices = chunk["choices"];
    if (!Array.isArray(choices)) return;
    for (let i = 0; i < choices.length; i++) {
      const choice: unknown = choices[i];
      if (isObject(choice)) this.#fold(choice);
    }
  }

  #fold(choice: JsonObject): void {
    const acc = this.#choice(count(choice["index"]) ?? 0);
    const finish = choice["finish_reason"];
    if (typeof finish === "string") acc.finish = finish;
    // The deltas only feed the output messages, which exist only when content is captured.
    if (!this.#call.capture) return;
    const delta = choice["delta"];
    if (!isObject(delta)) return;
    const { content, refusal, tool_calls: toolCalls } = delta;
    if (typeof content === "string" && content !== "") acc.text.push(content);
    if (typeof refusal === "string" && refusal !== "") acc.refusal.push(refusal);
    if (Array.isArray(toolCalls)) foldToolCalls(acc, toolCalls);
  }

  /** The choices in index order: a single one except in `n > 1` streams, which alone need the sort. */
  #ordered(): ChoiceAcc[] {
    const choices = this.#choices;
    if (choices.size <= 1) return [...choices.values()];
    return [...choices].sort(([a], [b]) => a - b).map(([, c]) => c);
  }

  finish(): void {
    const call = this.#call;
    const ordered = this.#ordered();
    const finishReasons: string[] = [];
    for (const c of ordered) if (c.finish !== undefined) finishReasons.push(c.finish);
    call.setResponse({ id: this.#id, model: this.#model, finishReasons });
    if (this.#usage !== undefined) call.setUsage(chatUsage(this.#usage));
    responseExtras({ service_tier: this.#tier, system_fingerprint: this.#fingerprint }, call);
    if (!call.capture) return;
    const messages: GenAIMessage[] = [];
    for (const c of ordered) {
      const parts: GenAIPart[] = [];
      if (c.text.length > 0) parts.push(textPart(c.text.join("")));
      if (c.refusal.length > 0) parts.push(textPart(c.refusal.join("")));
      const tools = c.tools.size > 1 ? [...c.tools].sort(([a], [b]) => a - b) : c.tools;
      for (const [, t] of tools) {
        parts.push({ type: "tool_call", id: t.id, name: t.name, arguments: parseArguments(t.args.join("")) });
      }
      const message: GenAIMessage = { role: "assistant", parts };
      if (c.finish !== undefined) message.finish_reason = c.finish;
      messages.push(message);
    }
    call.setOutputMessages(messages);
  }
}

export const chatCompletions: Endpoint = {
  operation: "chat",

  requestAttributes(body: JsonObject, out: Attributes): void {
    samplingAttributes(body, out);
    maxTokensAttribute(out, body["max_completion_tokens"], body["max_tokens"]);
    reasoningLevelAttribute(out, body["reasoning_effort"]);
    outputTypeAttribute(out, body["response_format"]);
  },

  input(body: JsonObject, call: LlmCall): void {
    call.setInputMessages(chatInputMessages(body["messages"]));
  },

  response(data: JsonObject, call: LlmCall): void {
    responseExtras(data, call);
    recordChoicesResponse(data, call, (choice, finish) => chatOutputMessage(asObject(choice["message"]), finish));
  },

  stream(_body: JsonObject, call: LlmCall): StreamSink {
    return new ChatStreamSink(call);
  },
};
