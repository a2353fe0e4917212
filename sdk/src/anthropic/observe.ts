/**
 * `observeAnthropic(client)`: instruments an `@anthropic-ai/sdk` client in place and returns it,
 * same object and type.
 *
 * Instrumented: messages.create and beta.messages.create. The library's helpers
 * (messages.stream, messages.parse, the tool runner) call `create` on the same resource, so they
 * are covered too.
 *
 * Recent versions of the client emit a span of their own per API call when an OpenTelemetry
 * tracer provider is registered. For a call the SDK instruments, that span would describe the
 * same call again, nested inside ours: the collector keeps the innermost of such a pair and
 * would drop ours, with its attribution and content. So the SDK switches the client's own
 * tracing off for the synchronous part of each instrumented call (where the client decides
 * whether to trace); the client's other methods keep their spans.
 */
import { instrumentMethod, type Server } from "../instrument-method.js";
import { child, createObserver } from "../observe-client.js";
import type { ObserveOptions } from "../types.js";
import { messages } from "./messages.js";

/**
 * `gen_ai.provider.name` of an Anthropic client: Claude bought through AWS Bedrock or Google
 * Vertex AI is billed by that cloud, so spend by provider must say so. The Bedrock and Vertex
 * clients of the Anthropic SDK are told apart by class name, else by their API host.
 */
export function anthropicProvider(client: object, server: Server): string {
  const name = (client as { constructor?: { name?: unknown } }).constructor?.name;
  if (name === "AnthropicBedrock") return "aws.bedrock";
  if (name === "AnthropicVertex") return "gcp.vertex_ai";
  const host = server.address ?? "";
  if (host.startsWith("bedrock-runtime.") && host.endsWith(".amazonaws.com")) return "aws.bedrock";
  if (host.endsWith("aiplatform.googleapis.com")) return "gcp.vertex_ai";
  return "anthropic";
}

const observe = createObserver({
  defaultProvider: anthropicProvider,
  instrument(client, state) {
    instrumentMethod(child(client, "messages"), "create", messages, state);
    instrumentMethod(child(child(client, "beta"), "messages"), "create", messages, state);
  },
  around(client) {
    return <T>(run: () => T): T => {
      const holder = client as { _tracer?: unknown };
      if (holder._tracer === undefined) return run();
      const saved = holder._tracer;
      holder._tracer = undefined;
      try {
        return run();
      } finally {
        holder._tracer = saved;
      }
    };
  },
});

/**
 * Instruments an Anthropic client and returns it. Calling it again on the same client updates
 * the options instead of wrapping twice.
 */
export function observeAnthropic<C extends object>(client: C, options: ObserveOptions = {}): C {
  return observe(client, options);
}
