/**
 * Observes a streamed response in place: the stream object the client returned stays the same
 * object, of the same class, and every way of consuming it (for-await, `tee()`,
 * `toReadableStream()`, the client's stream helpers) goes through one observed iterator.
 *
 * Both official clients build their `Stream` around an iterator factory kept on the instance
 * (`this.iterator`), which `[Symbol.asyncIterator]`, `tee()` and `toReadableStream()` all call.
 * Replacing that factory on the instance is enough to see every event exactly once, however
 * many tee branches read it. For any other async iterable, the instance's
 * `[Symbol.asyncIterator]` is wrapped instead.
 *
 * How the span ends:
 * - the iterator reports done: ok, or cancelled when the stream's controller was aborted
 *   (the clients end an aborted stream quietly instead of throwing);
 * - the iterator throws: error (abort errors count as cancelled);
 * - the consumer stops early (`break`, `return()`): cancelled, with the usage seen so far;
 * - the controller is aborted while nobody iterates: cancelled, on the next turn of the loop
 *   (an error that caused the abort is reported first and wins).
 */
import { reportFailure } from "./diag.js";
import type { StreamSink } from "./endpoint.js";
import type { LlmCall } from "./llm-call.js";

type Iterate = (this: unknown, ...args: unknown[]) => AsyncIterator<unknown>;

class StreamTracker {
  readonly #call: LlmCall;
  readonly #sink: StreamSink;
  readonly #signal: AbortSignal | undefined;
  #wrapped = false;
  #finished = false;
  #sinkBroken = false;
  #seenFirst = false;

  constructor(call: LlmCall, sink: StreamSink, controller: AbortController | undefined) {
    this.#call = call;
    this.#sink = sink;
    this.#signal = controller?.signal;
    if (controller !== undefined) this.#watchAbort(controller);
  }

  /**
   * Notices `controller.abort()` (the caller's, or the client's on behalf of a linked signal)
   * by wrapping `abort` on that controller instance. An abort listener would do the same, but
   * adding and removing one costs several microseconds per call in Node's EventTarget.
   */
  #watchAbort(controller: AbortController): void {
    const abort = controller.abort;
    const tracker = this;
    // An assignment, not defineProperty: same effect on this instance, for a fraction of the cost.
    controller.abort = function abortObserved(this: unknown, ...args: unknown[]) {
      if (!tracker.#finished) setImmediate(() => tracker.#finish("cancelled", undefined));
      return Reflect.apply(abort, this, args);
    };
  }

  /** Settles each `next()`: hoisted so that a stream event allocates nothing of ours but the reaction. */
  readonly #onResult = (result: IteratorResult<unknown>): IteratorResult<unknown> => {
    if (result.done === true) this.#finish(this.#signal?.aborted === true ? "cancelled" : "ok", undefined);
    else this.#item(result.value);
    return result;
  };

  readonly #onError = (err: unknown): never => {
    this.#finish("error", err);
    throw err;
  };

  /** Wraps the first iterator made from the stream; later ones (a misuse the client rejects) pass through. */
  wrap(inner: AsyncIterator<unknown>): AsyncIterator<unknown> {
    if (this.#wrapped) return inner;
    this.#wrapped = true;
    const tracker = this;
    const observed: AsyncIterator<unknown> & AsyncIterable<unknown> = {
      next(...args: [] | [unknown]) {
        let pending: Promise<IteratorResult<unknown>>;
        try {
          pending = args.length === 0 ? inner.next() : inner.next(args[0]);
        } catch (err) {
          tracker.#finish("error", err);
          throw err;
        }
        return pending.then(tracker.#onResult, tracker.#onError);
      },
      return(value?: unknown) {
        tracker.#finish("cancelled", undefined);
        return typeof inner.return === "function"
          ? inner.return(value)
          : Promise.resolve({ done: true as const, value: undefined });
      },
      throw(err?: unknown) {
        tracker.#finish("error", err);
        return typeof inner.throw === "function" ? inner.throw(err) : Promise.reject(err);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return observed;
  }

  #item(value: unknown): void {
    if (!this.#seenFirst) {
      this.#seenFirst = true;
      this.#call.recordFirstChunk();
    }
    if (this.#sinkBroken || this.#finished) return;
    try {
      this.#sink.item(value);
    } catch (err) {
      // Stop folding events (the span keeps what it had); the consumer's stream is unaffected.
      this.#sinkBroken = true;
      reportFailure("stream event", err);
    }
  }

  #finish(outcome: "ok" | "cancelled" | "error", err: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    if (!this.#sinkBroken) {
      try {
        this.#sink.finish();
      } catch (failure) {
        reportFailure("stream end", failure);
      }
    }
    if (outcome === "ok") this.#call.end();
    else if (outcome === "cancelled") this.#call.cancel();
    else this.#call.fail(err);
  }
}

function controllerOf(stream: object): AbortController | undefined {
  const controller = (stream as { controller?: unknown }).controller;
  return controller instanceof AbortController ? controller : undefined;
}

/**
 * Starts observing `stream` for `call`. Returns false when the object offers no iterator to
 * observe; the caller then ends the call itself.
 */
export function observeStream(stream: object, call: LlmCall, sink: StreamSink): boolean {
  const holder = stream as { iterator?: unknown; [Symbol.asyncIterator]?: unknown };
  const factory = holder.iterator;
  if (typeof factory === "function" && Object.hasOwn(stream, "iterator")) {
    const tracker = new StreamTracker(call, sink, controllerOf(stream));
    const original = factory as Iterate;
    holder.iterator = function observedIterator(this: unknown, ...args: unknown[]) {
      return tracker.wrap(Reflect.apply(original, this, args));
    };
    return true;
  }
  const iterate = holder[Symbol.asyncIterator];
  if (typeof iterate === "function") {
    const tracker = new StreamTracker(call, sink, controllerOf(stream));
    const original = iterate as Iterate;
    Object.defineProperty(stream, Symbol.asyncIterator, {
      value: function observedAsyncIterator(this: unknown, ...args: unknown[]) {
        return tracker.wrap(Reflect.apply(original, this, args));
      },
      writable: true,
      configurable: true,
    });
    return true;
  }
  return false;
}
