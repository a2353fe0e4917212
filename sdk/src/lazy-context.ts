/**
 * The context manager `init` registers when it owns the OpenTelemetry setup: AsyncLocalStorage,
 * switched on the first time a context has to follow `await`s.
 *
 * On Node 20, AsyncLocalStorage works through async hooks, and once any storage has entered a
 * context every promise of the process pays a hook, whether or not it ever reads a context.
 * An app whose only OpenTelemetry is this SDK, calling its model from the root context, never
 * needs one: nothing is active, so its calls start root spans. The one context entered in such
 * an app is the batch span processor's, which suppresses tracing around each export; that
 * context is kept here for the synchronous part of the export (where the exporter opens its
 * request) instead of switching the hooks on for good. The first `withAttributes`,
 * `traceLLMCall`, call under an active span, or any other instrumentation entering a context
 * switches AsyncLocalStorage on, and from then on this is the standard manager.
 */
import { type Context, type ContextManager, propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { isTracingSuppressed } from "@opentelemetry/core";

/** The export's context: the root with tracing suppressed, no span, no baggage. */
function onlySuppressesTracing(ctx: Context): boolean {
  return isTracingSuppressed(ctx) && trace.getSpan(ctx) === undefined && propagation.getBaggage(ctx) === undefined;
}

export class LazyContextManager implements ContextManager {
  #tracking: AsyncLocalStorageContextManager | undefined;
  /** Before tracking starts: the context of the synchronous `with` being run, if any. */
  #sync: Context = ROOT_CONTEXT;

  /** True once AsyncLocalStorage is in use. */
  get tracking(): boolean {
    return this.#tracking !== undefined;
  }

  active(): Context {
    return this.#tracking === undefined ? this.#sync : this.#tracking.active();
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    // Untracked, every continuation runs in the root context anyway: entering the root (or the
    // export's suppressed root) for a synchronous call needs no tracking.
    if (this.#tracking === undefined && (ctx === ROOT_CONTEXT || onlySuppressesTracing(ctx))) {
      const previous = this.#sync;
      this.#sync = ctx;
      try {
        return fn.call(thisArg, ...args);
      } finally {
        this.#sync = previous;
      }
    }
    return this.#track().with(ctx, fn, thisArg, ...args);
  }

  bind<T>(ctx: Context, target: T): T {
    // Binding to the root context while nothing is tracked changes nothing.
    if (this.#tracking === undefined && ctx === ROOT_CONTEXT) return target;
    return this.#track().bind(ctx, target);
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#tracking?.disable();
    this.#tracking = undefined;
    this.#sync = ROOT_CONTEXT;
    return this;
  }

  #track(): AsyncLocalStorageContextManager {
    this.#tracking ??= new AsyncLocalStorageContextManager().enable();
    return this.#tracking;
  }
}
