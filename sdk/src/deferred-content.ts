/**
 * Content serialized at export instead of during the call.
 *
 * Turning captured messages into the JSON strings the GenAI conventions put on spans
 * (`gen_ai.input.messages`, ...) is the largest part of what content capture adds to a call.
 * When the SDK owns the whole export path (`init` without an app's own tracer provider), a call
 * leaves that work with its ended span, and the exporter does it just before sending the batch:
 * off the call's path, and for many spans in a row. The messages a call keeps are its own
 * objects, converted from the request and the response as they arrive; the few nested values
 * taken from the app's objects (tool inputs, part types the SDK does not know) are copies
 * (json.ts `snapshot`), so nothing the app changes after the call shows in what is recorded. The
 * app's own handle setters (`traceLLMCall`'s setInput / setOutput) serialize at once.
 *
 * With an app's own provider, other processors and exporters read the same spans, so calls
 * serialize their content before the span ends, as usual.
 */
import type { Attributes } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { SerializedContent } from "./content.js";
import { reportFailure } from "./diag.js";
import type { ExportHealth } from "./export-health.js";
import { TOKENMETER_CONTENT_TRUNCATED } from "./semconv.js";

/** One content attribute still to write: its key and what produces its value. */
export type LaterContent = readonly [key: string, serialize: () => SerializedContent];

const pending = new WeakMap<object, readonly LaterContent[]>();

/** Leaves `content` for the exporter to write on `span`; call before the span ends. */
export function deferContent(span: object, content: readonly LaterContent[]): void {
  pending.set(span, content);
}

/**
 * Serializes one content attribute into `attributes` (with the truncation flag when it was cut):
 * during the call, or at export for deferred content. A failing redact hook or an unserializable
 * value costs that content only.
 */
export function writeContent(attributes: Attributes, key: string, serialize: () => SerializedContent): void {
  try {
    const { json, truncated } = serialize();
    attributes[key] = json;
    if (truncated) attributes[TOKENMETER_CONTENT_TRUNCATED] = true;
  } catch (err) {
    reportFailure(`content capture (${key})`, err);
  }
}

/** Writes the content left with `span` into its attributes (once). */
export function writeDeferredContent(span: ReadableSpan): void {
  const content = pending.get(span);
  if (content === undefined) return;
  pending.delete(span);
  // The SDK's ended span keeps its attributes in a plain object: the exporter reads it from there.
  const attributes = span.attributes as Attributes;
  for (const [key, serialize] of content) writeContent(attributes, key, serialize);
}

/**
 * Most characters of span attributes one export request carries. The collector takes 32 MiB per
 * request (decompressed) by default, and a batch of 512 spans whose prompts and answers fill the
 * content bound (256 KiB each) holds over 250 MB: sent whole, it is refused and every call in it
 * lost. Batches are split to stay under this, with room for the OTLP encoding's own escaping.
 */
export const MAX_EXPORT_CHARS = 8 * 1024 * 1024;
/** Ids, names, keys and numbers of a span, beside its string values. */
const SPAN_OVERHEAD_CHARS = 1024;

function valueChars(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (Array.isArray(value)) {
    let n = 0;
    for (const v of value) if (typeof v === "string") n += v.length;
    return n;
  }
  return 0;
}

/** About how many characters a span adds to an export request: its string values dominate. */
function spanChars(span: ReadableSpan): number {
  let n = SPAN_OVERHEAD_CHARS;
  for (const key in span.attributes) n += key.length + valueChars(span.attributes[key]);
  for (const event of span.events) {
    const attributes = event.attributes ?? {};
    for (const key in attributes) n += key.length + valueChars(attributes[key]);
  }
  return n;
}

/** `spans` in consecutive runs of at most `maxChars` characters each (a larger span goes alone). */
export function splitBySize(spans: ReadableSpan[], maxChars: number): ReadableSpan[][] {
  const chunks: ReadableSpan[][] = [];
  let chunk: ReadableSpan[] = [];
  let chars = 0;
  for (const span of spans) {
    const n = spanChars(span);
    if (chunk.length > 0 && chars + n > maxChars) {
      chunks.push(chunk);
      chunk = [];
      chars = 0;
    }
    chunk.push(span);
    chars += n;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * The SDK's exporter in front of the OTLP one: writes each span's deferred content, hands the
 * batch to `inner` (in requests of at most MAX_EXPORT_CHARS, one after the other), and records
 * the outcome in `health` when given (export-health.ts).
 */
export class DeferredContentExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #health: ExportHealth | undefined;

  constructor(inner: SpanExporter, health?: ExportHealth) {
    this.#inner = inner;
    this.#health = health;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    for (const span of spans) writeDeferredContent(span);
    const health = this.#health;
    const done =
      health === undefined
        ? resultCallback
        : (result: ExportResult) => {
            health.record(result.code === ExportResultCode.SUCCESS);
            resultCallback(result);
          };
    const chunks = splitBySize(spans, MAX_EXPORT_CHARS);
    if (chunks.length <= 1) {
      this.#inner.export(spans, done);
      return;
    }
    // One request after the other; the batch failed if any of them did (its first failure).
    let next = 0;
    let failure: ExportResult | undefined;
    const sendNext = (): void => {
      const chunk = chunks[next++];
      if (chunk === undefined) {
        done(failure ?? { code: ExportResultCode.SUCCESS });
        return;
      }
      this.#inner.export(chunk, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) failure ??= result;
        sendNext();
      });
    };
    sendNext();
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
