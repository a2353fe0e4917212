/**
 * The contract between the generic method wrapper (instrument-method.ts) and one API endpoint
 * (OpenAI chat completions, Anthropic messages, ...): what to read from the request, the
 * response, and each streamed event.
 */
import type { Attributes } from "@opentelemetry/api";
import type { JsonObject } from "./json.js";
import type { LlmCall } from "./llm-call.js";

export interface Endpoint {
  /** `gen_ai.operation.name`: chat, text_completion, embeddings. */
  readonly operation: string;
  /** `gen_ai.request.*` attributes, written at span start. */
  requestAttributes(body: JsonObject, out: Attributes): void;
  /** Records the prompt; called only when content is captured. */
  input(body: JsonObject, call: LlmCall): void;
  /** Records a complete (non-streamed) response. */
  response(data: JsonObject, call: LlmCall): void;
  /** A fold over the events of a streamed response. */
  stream(body: JsonObject, call: LlmCall): StreamSink;
}

export interface StreamSink {
  /** One event as the client's stream yields it. */
  item(event: unknown): void;
  /**
   * Writes what the stream delivered (usage, response model, output). Called exactly once,
   * whether the stream completed, failed or was cancelled, before the span ends.
   */
  finish(): void;
}

/** A sink that folds nothing: for calls whose answers carry nothing to record. */
export const NO_STREAM: StreamSink = Object.freeze({ item() {}, finish() {} });
