/**
 * `observeOpenAI(client)`: instruments an `openai` client (OpenAI, AzureOpenAI, or an
 * OpenAI-compatible server through the same library) in place and returns it, same object and
 * type.
 *
 * Instrumented: chat.completions.create, responses.create, embeddings.create,
 * completions.create. The library's helpers (chat.completions.parse / stream / runTools,
 * responses.parse / stream) call these through the client, so they are covered too.
 */

import { instrumentMethod } from "../instrument-method.js";
import { child, createObserver } from "../observe-client.js";
import type { ObserveOptions } from "../types.js";
import { chatCompletions } from "./chat-completions.js";
import { completions } from "./completions.js";
import { embeddings } from "./embeddings.js";
import { openAIProvider } from "./provider.js";
import { responses } from "./responses.js";

const observe = createObserver({
  defaultProvider(client, server) {
    const name = (client as { constructor?: { name?: unknown } }).constructor?.name;
    return openAIProvider(typeof name === "string" ? name : undefined, server);
  },
  instrument(client, state) {
    instrumentMethod(child(child(client, "chat"), "completions"), "create", chatCompletions, state);
    instrumentMethod(child(client, "responses"), "create", responses, state);
    instrumentMethod(child(client, "embeddings"), "create", embeddings, state);
    instrumentMethod(child(client, "completions"), "create", completions, state);
  },
});

/**
 * Instruments an OpenAI client and returns it. Calling it again on the same client updates the
 * options instead of wrapping twice.
 */
export function observeOpenAI<C extends object>(client: C, options: ObserveOptions = {}): C {
  return observe(client, options);
}
