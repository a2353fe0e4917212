/** `completions.create`, the legacy text completions endpoint (`text_completion`), plain and streamed. */
import type { Attributes } from "@opentelemetry/api";
import { textPart } from "../content.js";
import type { Endpoint, StreamSink } from "../endpoint.js";
import { asArray, asObject, count, type JsonObject, str } from "../json.js";
import type { LlmCall } from "../llm-call.js";
import type { GenAIMessage } from "../types.js";
import { recordChoicesResponse } from "./choices.js";
import { maxTokensAttribute, samplingAttributes } from "./request-attributes.js";
import { chatUsage } from "./usage.js";

function outputMessage(text: string, finish: string | undefined): GenAIMessage {
  const message: GenAIMessage = { role: "assistant", parts: text === "" ? [] : [textPart(text)] };
  if (finish !== undefined) message.finish_reason = finish;
  return message;
}

class CompletionsStreamSink implements StreamSink {
  readonly #call: LlmCall;
  #id: string | undefined;
  #model: string | undefined;
  #usage: JsonObject | undefined;
  readonly #choices = new Map<number, { text: string[]; finish: string | undefined }>();

  constructor(call: LlmCall) {
    this.#call = call;
  }

  item(event: unknown): void {
    const chunk = asObject(event);
    if (chunk === undefined) return;
    this.#id ??= str(chunk["id"]);
    this.#model ??= str(chunk["model"]);
    const usage = asObject(chunk["usage"]);
    if (usage !== undefined) this.#usage = usage;
    for (const raw of asArray(chunk["choices"])) {
      const choice = asObject(raw);
      if (choice === undefined) continue;
      const index = count(choice["index"]) ?? 0;
      let acc = this.#choices.get(index);
      if (acc === undefined) {
        acc = { text: [], finish: undefined };
        this.#choices.set(index, acc);
      }
      const text = str(choice["text"]);
      if (text && this.#call.capture) acc.text.push(text);
      const finish = str(choice["finish_reason"]);
      if (finish !== undefined) acc.finish = finish;
    }
  }

  finish(): void {
    const choices = [...this.#choices].sort(([a], [b]) => a - b).map(([, c]) => c);
    const finishReasons = choices.flatMap((c) => (c.finish === undefined ? [] : [c.finish]));
    this.#call.setResponse({ id: this.#id, model: this.#model, finishReasons });
    if (this.#usage !== undefined) this.#call.setUsage(chatUsage(this.#usage));
    if (this.#call.capture) this.#call.setOutputMessages(choices.map((c) => outputMessage(c.text.join(""), c.finish)));
  }
}

export const completions: Endpoint = {
  operation: "text_completion",

  requestAttributes(body: JsonObject, out: Attributes): void {
    samplingAttributes(body, out);
    maxTokensAttribute(out, body["max_tokens"]);
  },

  input(body: JsonObject, call: LlmCall): void {
    const prompt = body["prompt"];
    const prompts = typeof prompt === "string" ? [prompt] : asArray(prompt).filter((p) => typeof p === "string");
    if (prompts.length > 0) call.setInputMessages([{ role: "user", parts: prompts.map((p) => textPart(String(p))) }]);
  },

  response(data: JsonObject, call: LlmCall): void {
    recordChoicesResponse(data, call, (choice, finish) => outputMessage(str(choice["text"]) ?? "", finish));
  },

  stream(_body: JsonObject, call: LlmCall): StreamSink {
    return new CompletionsStreamSink(call);
  },
};
