/**
 * The span processor that sends spans to tokenmeter: batching, OTLP/HTTP with gzip. `init`
 * builds one; an app that configures OpenTelemetry itself can build one with
 * `tokenmeterSpanProcessor()` and list it among its own processors.
 */
import type { Context } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base";
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { resolveConfig, type SdkConfig } from "./config.js";
import { DeferredContentExporter } from "./deferred-content.js";
import type { ExportHealth } from "./export-health.js";
import { SCOPE_NAME } from "./version.js";

export interface SpanProcessorOptions {
  /** Collector base URL; default from the environment (see config.ts), else http://127.0.0.1:4318. */
  endpoint?: string;
  /** Extra headers for the OTLP requests. */
  headers?: Record<string, string>;
  /** Replaces the OTLP exporter (tests, benchmarks). */
  exporter?: SpanExporter;
  /**
   * Forward only GenAI spans: this SDK's and any span with `gen_ai.*` attributes. Default true,
   * so an app's other spans (HTTP, database, ...) keep going only where the app sends them.
   */
  genAIOnly?: boolean;
}

function scopeName(span: ReadableSpan): string | undefined {
  // `instrumentationScope` since OpenTelemetry JS 2.0, `instrumentationLibrary` before.
  const s = span as { instrumentationScope?: { name?: unknown }; instrumentationLibrary?: { name?: unknown } };
  const name = s.instrumentationScope?.name ?? s.instrumentationLibrary?.name;
  return typeof name === "string" ? name : undefined;
}

export function isGenAISpan(span: ReadableSpan): boolean {
  if (scopeName(span) === SCOPE_NAME) return true;
  for (const key in span.attributes) if (key.startsWith("gen_ai.")) return true;
  return false;
}

/** Passes GenAI spans on to `inner`, drops the rest. */
class GenAIOnlyProcessor implements SpanProcessor {
  readonly #inner: SpanProcessor;

  constructor(inner: SpanProcessor) {
    this.#inner = inner;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (isGenAISpan(span)) this.#inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
}

export function createExporter(config: SdkConfig): SpanExporter {
  return (
    config.exporter ??
    new OTLPTraceExporter({
      url: config.tracesUrl,
      headers: { ...config.exportHeaders },
      compression: CompressionAlgorithm.GZIP,
    })
  );
}

/** `health`, when given, records the outcome of every export (see export-health.ts). */
export function createSpanProcessor(config: SdkConfig, genAIOnly: boolean, health?: ExportHealth): SpanProcessor {
  // Writes the content that calls of `init`'s own provider leave for export (a no-op otherwise).
  const batch = new BatchSpanProcessor(new DeferredContentExporter(createExporter(config), health));
  return genAIOnly ? new GenAIOnlyProcessor(batch) : batch;
}

/**
 * A batching OTLP span processor towards tokenmeter, for apps that set up OpenTelemetry
 * themselves: `new NodeSDK({ spanProcessors: [yourProcessor, tokenmeterSpanProcessor()] })`.
 */
export function tokenmeterSpanProcessor(options: SpanProcessorOptions = {}): SpanProcessor {
  const config = resolveConfig({ endpoint: options.endpoint, headers: options.headers, exporter: options.exporter });
  return createSpanProcessor(config, options.genAIOnly ?? true);
}

/**
 * Adds `processor` to an already registered tracer provider when the provider allows it:
 * OpenTelemetry JS 1.x providers (and some vendor SDKs) have `addSpanProcessor`; 2.x providers
 * fix their list at construction but keep it in a MultiSpanProcessor's array. Returns a function
 * that takes it out again, or undefined when it could not be added.
 */
export function addToProvider(provider: unknown, processor: SpanProcessor): (() => void) | undefined {
  if (provider === null || typeof provider !== "object") return undefined;
  const p = provider as { addSpanProcessor?: unknown; _activeSpanProcessor?: unknown };
  if (typeof p.addSpanProcessor === "function") {
    Reflect.apply(p.addSpanProcessor, provider, [processor]);
    // 1.x has no way to remove it; shutting our processor down makes it inert.
    return () => undefined;
  }
  const multi = p._activeSpanProcessor as { _spanProcessors?: unknown } | undefined;
  const list = multi?._spanProcessors;
  if (Array.isArray(list)) {
    list.push(processor);
    return () => {
      const i = list.indexOf(processor);
      if (i >= 0) list.splice(i, 1);
    };
  }
  return undefined;
}
