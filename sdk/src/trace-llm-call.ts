/**
 * `traceLLMCall()`: a GenAI span around a call to any other client (a local model server, a
 * provider without an observed client, a raw HTTP call). The callback gets a handle to record
 * usage, the response and content; the span ends when the callback's promise settles.
 */
import { context, INVALID_SPAN_CONTEXT } from "@opentelemetry/api";
import { reportFailure } from "./diag.js";
import { type Endpoint, NO_STREAM } from "./endpoint.js";
import { createClientState, NO_SERVER, startCall } from "./instrument-method.js";
import type { LlmCall } from "./llm-call.js";
import type { LLMCallHandle, LLMCallInfo } from "./types.js";

function customEndpoint(operation: string): Endpoint {
  return {
    operation,
    requestAttributes() {},
    input() {},
    response() {},
    stream: () => NO_STREAM,
  };
}

/** What the callback gets when the span could not be started: the same methods, doing nothing. */
const NOOP_HANDLE: LLMCallHandle = {
  setUsage() {},
  setResponse() {},
  setInput() {},
  setOutput() {},
  recordFirstChunk() {},
  setAttribute() {},
  spanContext: () => INVALID_SPAN_CONTEXT,
};

/**
 * Runs `fn` inside a span for one model call and returns its result. Errors from `fn` are
 * recorded on the span and rethrown unchanged.
 *
 * ```ts
 * const reply = await traceLLMCall({ provider: "ollama", model: "llama3.1" }, async (call) => {
 *   call.setInput([{ role: "user", content: prompt }]);
 *   const res = await ollama.chat({ model: "llama3.1", messages: [{ role: "user", content: prompt }] });
 *   call.setUsage({ inputTokens: res.prompt_eval_count, outputTokens: res.eval_count });
 *   call.setOutput([{ role: "assistant", content: res.message.content }]);
 *   return res;
 * });
 * ```
 */
export async function traceLLMCall<T>(info: LLMCallInfo, fn: (call: LLMCallHandle) => T | Promise<T>): Promise<T> {
  let call: LlmCall | undefined;
  try {
    const state = createClientState(info.provider, NO_SERVER, {});
    call = startCall(customEndpoint(info.operation ?? "chat"), state, { model: info.model }, info.attributes);
  } catch (err) {
    reportFailure("traceLLMCall", err);
  }
  if (call === undefined) return fn(NOOP_HANDLE);
  const handle = call;
  let result: T;
  try {
    result = await context.with(handle.context, () => fn(handle));
  } catch (err) {
    handle.fail(err);
    throw err;
  }
  handle.end();
  return result;
}
