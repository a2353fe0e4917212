/**
 * `init()`: connects the SDK to tokenmeter.
 *
 * - No OpenTelemetry set up yet (standalone): registers a Node tracer provider with a batching
 *   OTLP/HTTP (gzip) exporter towards the collector, the AsyncLocalStorage context manager (so
 *   attribution follows `await`s; switched on at the first context entered, see
 *   lazy-context.ts) and the W3C trace-context + baggage propagator.
 * - The app already registered a tracer provider (attached): starts nothing of its own. Spans
 *   are made with the app's provider (its sampler, resource and processors apply), and a
 *   batching exporter towards tokenmeter is added to that provider when it allows it, forwarding
 *   GenAI spans only. When it does not, spans go wherever the app exports them
 *   (`handle.exporting` is false); `tokenmeterSpanProcessor()` is the way to add ours by hand.
 *
 * Only the trace signal is set up: no metrics or logs pipelines, no global providers for them.
 */
import { context, ProxyTracerProvider, propagation, trace } from "@opentelemetry/api";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { type InitOptions, resolveConfig, type SdkConfig } from "./config.js";
import { log } from "./diag.js";
import { ExportHealth } from "./export-health.js";
import { LazyContextManager } from "./lazy-context.js";
import { flushEndedCalls } from "./llm-call.js";
import { createRuntime, installRuntime } from "./runtime.js";
import { addToProvider, createSpanProcessor } from "./span-processor.js";
import type { TokenmeterHandle } from "./types.js";
import { SCOPE_NAME, SDK_VERSION } from "./version.js";

let current: TokenmeterHandle | undefined;

const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * The app's tracer provider, when one is registered with the OpenTelemetry API. The API hands
 * out a proxy whose delegate is the registered provider, or the no-op provider when there is
 * none. Duck-typed, so a proxy from another copy of @opentelemetry/api is understood too.
 */
function registeredProvider(): object | undefined {
  const global: object = trace.getTracerProvider();
  const getDelegate = (global as { getDelegate?: unknown }).getDelegate;
  const delegate: unknown = typeof getDelegate === "function" ? Reflect.apply(getDelegate, global, []) : global;
  if (delegate === null || typeof delegate !== "object") return undefined;
  if (delegate === NOOP_PROVIDER || delegate.constructor.name === "NoopTracerProvider") return undefined;
  return delegate;
}

/**
 * Runs an export step of `forceFlush` / `shutdown` so that it never rejects: a collector that is
 * down or refuses the spans must not turn into an exception in the app (often at exit, where
 * nothing catches it). The spans are lost either way; the diag logger says why. How long it may
 * take is the exporter's timeout (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s by default).
 */
async function exportStep(what: string, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (err) {
    log.warn(`${what}: spans were not exported to tokenmeter: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * `forceFlush` of the SDK's own exporter: waits for the export, unless the collector failed the
 * last one (down, refusing, timing out) less than a little while ago. Then the flush still runs,
 * in the background, but the app does not wait out the exporter's timeout and retries again:
 * with a function that flushes after every request, each request would pay that while the
 * collector is down.
 */
function flushUnlessFailing(health: ExportHealth, flush: () => Promise<void>): Promise<void> {
  const flushing = exportStep("forceFlush", flush);
  if (!health.failing) return flushing;
  if (health.firstNotice()) {
    log.warn("forceFlush: the collector failed the last export; not waiting for it (spans are still sent meanwhile)");
  }
  return Promise.resolve();
}

function flushOnExit(flush: () => Promise<void>): () => void {
  // Short scripts end before the batch timer fires: export what is left when the loop empties.
  const onBeforeExit = () => {
    void flush();
  };
  process.once("beforeExit", onBeforeExit);
  return () => process.off("beforeExit", onBeforeExit);
}

function standalone(config: SdkConfig): TokenmeterHandle {
  const attributes: Record<string, string> = { "service.name": config.serviceName };
  if (config.environment !== undefined) attributes["deployment.environment.name"] = config.environment;
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes(attributes));
  const root = config.sampleRate >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(config.sampleRate);
  if (config.sampleRate < 1) {
    // Sampling drops whole calls, their tokens and cost with them: spend would read low, silently.
    log.warn(
      `sampleRate ${config.sampleRate}: traces started here are recorded with that probability, so spend, ` +
        "token totals and budgets count the recorded calls only; to cut volume but keep every cost, " +
        "keep sampleRate 1 and set captureContent: false",
    );
  }
  const health = new ExportHealth();
  const provider = new NodeTracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root }),
    spanProcessors: [createSpanProcessor(config, false, health)],
  });
  // AsyncLocalStorage only once a context must follow `await`s (see lazy-context.ts).
  provider.register({ contextManager: new LazyContextManager() });
  installRuntime(createRuntime(config, provider.getTracer(SCOPE_NAME, SDK_VERSION), true));
  // Spans of ended calls may still wait for their batch (llm-call.ts): written first.
  const forceFlush = (): Promise<void> =>
    flushUnlessFailing(health, () => {
      flushEndedCalls();
      return provider.forceFlush();
    });
  const stopFlushOnExit = flushOnExit(forceFlush);

  let down: Promise<void> | undefined;
  return {
    mode: "standalone",
    exporting: true,
    forceFlush,
    shutdown() {
      down ??= (async () => {
        stopFlushOnExit();
        try {
          flushEndedCalls();
          await exportStep("shutdown", () => provider.shutdown());
        } finally {
          trace.disable();
          context.disable();
          propagation.disable();
          installRuntime(undefined);
          current = undefined;
        }
      })();
      return down;
    },
  };
}

function attached(config: SdkConfig, provider: object): TokenmeterHandle {
  if (config.sampleRate < 1) log.warn("sampleRate is ignored: the app's own tracer provider samples");
  const health = new ExportHealth();
  const processor = createSpanProcessor(config, true, health);
  let remove: (() => void) | undefined;
  try {
    remove = addToProvider(provider, processor);
  } catch (err) {
    log.warn(`could not add the tokenmeter exporter to the app's tracer provider: ${String(err)}`);
  }
  if (remove === undefined) {
    log.warn(
      "the app's tracer provider does not accept more span processors: add tokenmeterSpanProcessor() to it, or export to tokenmeter",
    );
  }
  installRuntime(createRuntime(config, trace.getTracer(SCOPE_NAME, SDK_VERSION)));
  const flushProvider = (): Promise<void> => {
    const flush = (provider as { forceFlush?: unknown }).forceFlush;
    return typeof flush === "function" ? Promise.resolve(Reflect.apply(flush, provider, [])) : Promise.resolve();
  };
  const forceFlush = () =>
    remove === undefined
      ? exportStep("forceFlush", flushProvider)
      : flushUnlessFailing(health, () => processor.forceFlush());
  const stopFlushOnExit = flushOnExit(forceFlush);

  let down: Promise<void> | undefined;
  return {
    mode: "attached",
    exporting: remove !== undefined,
    forceFlush,
    shutdown() {
      down ??= (async () => {
        stopFlushOnExit();
        try {
          if (remove !== undefined) {
            await exportStep("shutdown", () => processor.shutdown());
            remove();
          }
        } finally {
          installRuntime(undefined);
          current = undefined;
        }
      })();
      return down;
    },
  };
}

function disabled(config: SdkConfig): TokenmeterHandle {
  installRuntime(createRuntime(config, trace.getTracer(SCOPE_NAME, SDK_VERSION)));
  return {
    mode: "standalone",
    exporting: false,
    forceFlush: () => Promise.resolve(),
    shutdown: async () => {
      installRuntime(undefined);
      current = undefined;
    },
  };
}

/**
 * Sets the SDK up (see the file comment for what that means with and without an existing
 * OpenTelemetry setup). Call it once, before creating clients' first calls, and after the app's
 * own OpenTelemetry setup if it has one. A second call returns the first handle.
 *
 * Throws TokenmeterSdkError (code TM_SDK_BAD_CONFIG) for an invalid option or environment value.
 */
export function init(options: InitOptions = {}): TokenmeterHandle {
  if (current !== undefined) {
    log.warn("init() called again: keeping the first setup");
    return current;
  }
  const config = resolveConfig(options);
  if (config.disabled) current = disabled(config);
  else {
    const provider = registeredProvider();
    current = provider === undefined ? standalone(config) : attached(config, provider);
  }
  return current;
}
