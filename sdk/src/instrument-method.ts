/**
 * Wraps one API method of a client's resource object (e.g. `client.chat.completions.create`)
 * by replacing it on that instance. The client, the resource and the method's return value keep
 * their types and behaviour:
 *
 * - the wrapper returns the client's own `APIPromise` (derived with `_thenUnwrap`, the hook the
 *   clients' own helpers use), so `.withResponse()`, `.asResponse()` and the stream helpers
 *   work as before;
 * - the user's errors reach the user as the very same objects: the wrapper only observes them;
 * - the instrumentation never breaks the call. Whatever fails before the original method runs
 *   makes the wrapper run it untouched; whatever fails after is reported through diag and
 *   leaves the result as the client produced it (the fail-open rule of OTel's instrumentations).
 */
import { type Attributes, type Context, context, ROOT_CONTEXT } from "@opentelemetry/api";
import {
  contextAttribution,
  isEmptyAttribution,
  mergeAttribution,
  normalizeAttribution,
  type ResolvedAttribution,
  resolveAttribution,
} from "./attribution.js";
import { takeAttributionHeaders } from "./attribution-headers.js";
import type { ContentPolicy } from "./content.js";
import { reportFailure } from "./diag.js";
import { type Endpoint, NO_STREAM } from "./endpoint.js";
import { asObject, isObject, type JsonObject, str } from "./json.js";
import { LlmCall } from "./llm-call.js";
import { observeStream } from "./observe-stream.js";
import { currentRuntime, type Runtime } from "./runtime.js";
import {
  GEN_AI_OPERATION_NAME,
  GEN_AI_PROVIDER_NAME,
  GEN_AI_REQUEST_MODEL,
  SERVER_ADDRESS,
  SERVER_PORT,
} from "./semconv.js";
import type { Attribution, ObserveOptions, RedactFn } from "./types.js";

/** Per-client settings, shared by the wrappers of that client's methods (updated in place by a re-observe). */
export interface ClientState {
  provider: string;
  attribution: Attribution;
  captureContent: boolean | undefined;
  redact: RedactFn | undefined;
  serverAddress: string | undefined;
  serverPort: number | undefined;
  /** Runs the original method; a client may use it to switch its own tracing off for the call. */
  around: (<T>(run: () => T) => T) | undefined;
  /** Cache of the runtime defaults merged with this client's settings. */
  cached: ClientSettings | undefined;
}

export function createClientState(provider: string, server: Server, options: ObserveOptions): ClientState {
  const state: ClientState = {
    provider,
    attribution: {},
    captureContent: undefined,
    redact: undefined,
    serverAddress: undefined,
    serverPort: undefined,
    around: undefined,
    cached: undefined,
  };
  applyObserveOptions(state, provider, options);
  setServer(state, server);
  return state;
}

/** Host and port of a client's base URL: its `server.*` attributes, and a hint at its provider. */
export interface Server {
  readonly address: string | undefined;
  readonly port: number | undefined;
}

export const NO_SERVER: Server = Object.freeze({ address: undefined, port: undefined });

export function serverOf(baseURL: unknown): Server {
  if (typeof baseURL !== "string") return NO_SERVER;
  try {
    const url = new URL(baseURL);
    const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
    return { address: url.hostname, port };
  } catch {
    // not a URL: no server.* attributes
    return NO_SERVER;
  }
}

export function setServer(state: ClientState, server: Server): void {
  state.serverAddress = server.address;
  state.serverPort = server.port;
  state.cached = undefined;
}

export function applyObserveOptions(state: ClientState, defaultProvider: string, options: ObserveOptions): void {
  state.provider = options.providerName?.trim() || defaultProvider;
  state.attribution = normalizeAttribution(options.attributes);
  state.captureContent = options.captureContent;
  state.redact = options.redact;
  state.cached = undefined;
}

interface ClientSettings {
  readonly runtime: Runtime;
  readonly attribution: ResolvedAttribution;
  readonly content: ContentPolicy;
  /**
   * What every span of this client starts with, in one object copied per call: the runtime's
   * base attributes, provider, server, and the client's attribution (init defaults included).
   */
  readonly spanAttributes: Readonly<Attributes>;
}

/** Runtime-dependent parts of a client's settings, recomputed only when `init` changes the runtime. */
function settingsFor(state: ClientState, runtime: Runtime): ClientSettings {
  const cached = state.cached;
  if (cached !== undefined && cached.runtime === runtime) return cached;
  const attribution = resolveAttribution(mergeAttribution(runtime.defaults, state.attribution));
  const spanAttributes: Attributes = { ...runtime.baseAttributes, [GEN_AI_PROVIDER_NAME]: state.provider };
  if (state.serverAddress !== undefined) spanAttributes[SERVER_ADDRESS] = state.serverAddress;
  if (state.serverPort !== undefined) spanAttributes[SERVER_PORT] = state.serverPort;
  Object.assign(spanAttributes, attribution.spanAttributes);
  const fresh: ClientSettings = {
    runtime,
    attribution,
    content: {
      capture: state.captureContent ?? runtime.config.captureContent,
      redact: state.redact ?? runtime.config.redact,
      maxChars: runtime.config.maxContentChars,
    },
    spanAttributes: Object.freeze(spanAttributes),
  };
  state.cached = fresh;
  return fresh;
}

/**
 * Layers, lowest first: init defaults, the client's attributes, the context's (withAttributes
 * or incoming baggage), the call's own x-tokenmeter-* headers. Undefined when the call adds
 * nothing to the client's own layer (already in the client's span attributes).
 */
function callAttribution(clientLayer: ResolvedAttribution, parent: Context, perCall: Attribution | undefined) {
  // The root context carries neither attribution nor baggage.
  const fromContext = parent === ROOT_CONTEXT ? undefined : contextAttribution(parent);
  const hasContext = fromContext !== undefined && !isEmptyAttribution(fromContext);
  if (!hasContext && perCall === undefined) return undefined;
  let merged = clientLayer.value;
  if (hasContext) merged = mergeAttribution(merged, fromContext.value);
  if (perCall !== undefined) merged = mergeAttribution(merged, normalizeAttribution(perCall));
  return resolveAttribution(merged).spanAttributes;
}

export function startCall(
  endpoint: Endpoint,
  state: ClientState,
  body: JsonObject,
  perCall: Attribution | undefined,
): LlmCall {
  const runtime = currentRuntime();
  const settings = settingsFor(state, runtime);
  const parent = context.active();
  const model = str(body["model"]) ?? "";
  const attributes: Attributes = { ...settings.spanAttributes };
  attributes[GEN_AI_OPERATION_NAME] = endpoint.operation;
  if (model !== "") attributes[GEN_AI_REQUEST_MODEL] = model;
  endpoint.requestAttributes(body, attributes);
  const attribution = callAttribution(settings.attribution, parent, perCall);
  if (attribution !== undefined) Object.assign(attributes, attribution);

  const call = new LlmCall({
    tracer: runtime.tracer,
    parent,
    operation: endpoint.operation,
    model,
    attributes,
    content: settings.content,
    deferSpan: runtime.deferSpans && parent === ROOT_CONTEXT,
    deferContent: runtime.deferContent,
  });
  if (call.capture) {
    try {
      endpoint.input(body, call);
    } catch (err) {
      reportFailure(`${endpoint.operation} input`, err);
    }
  }
  return call;
}

/** What the clients' APIPromise offers (both official clients share the shape). */
interface ApiPromiseLike {
  _thenUnwrap(transform: (data: unknown, props: unknown) => unknown): ApiPromiseLike;
  asResponse(): Promise<{ status: number }>;
  withResponse(): Promise<unknown>;
}

function isApiPromise(value: unknown): value is ApiPromiseLike {
  if (value === null || typeof value !== "object") return false;
  const p = value as Partial<Record<keyof ApiPromiseLike, unknown>>;
  return (
    typeof p._thenUnwrap === "function" && typeof p.asResponse === "function" && typeof p.withResponse === "function"
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

/** The parsed result of a call: a response body, or a stream when the request asked for one. */
function onData(call: LlmCall, endpoint: Endpoint, body: JsonObject, data: unknown): void {
  try {
    // A span that does not record (sampled out, no tracer provider) ignores every fact: the
    // answer is not read for it, only its end is awaited.
    if (body["stream"] === true && data !== null && typeof data === "object" && Symbol.asyncIterator in data) {
      if (observeStream(data, call, call.recording ? endpoint.stream(body, call) : NO_STREAM)) return;
    } else if (call.recording && isObject(data)) {
      endpoint.response(data, call);
    }
  } catch (err) {
    reportFailure(`${endpoint.operation} response`, err);
  }
  call.end();
}

/**
 * `asResponse()` alone hands the raw body to the caller, who may never let the client parse it:
 * the span then ends when the response arrives, without usage (as the Anthropic client's own
 * tracing does). `withResponse()` calls `asResponse()` internally while it parses, so it is
 * told apart by a flag set around its synchronous start.
 */
function endOnRawResponse(promise: ApiPromiseLike, call: LlmCall): void {
  const asResponse = promise.asResponse;
  const withResponse = promise.withResponse;
  let parsing = false;
  // Plain assignments, on this instance only: defineProperty (to keep them non-enumerable)
  // costs close to a microsecond more per call.
  promise.withResponse = function withResponseObserved(this: unknown) {
    parsing = true;
    try {
      return Reflect.apply(withResponse, this, []);
    } finally {
      parsing = false;
    }
  };
  promise.asResponse = function asResponseObserved(this: unknown) {
    const response: Promise<{ status: number }> = Reflect.apply(asResponse, this, []);
    if (!parsing) {
      response.then(
        (res) => call.endRaw(res.status),
        () => undefined, // the failure is observed where the call was made
      );
    }
    return response;
  };
}

/**
 * Failures before a body exists (HTTP errors, connection errors) reject the promise of the raw
 * response, which the clients keep in `responsePromise`; `asResponse()` exposes the same
 * rejection (one promise more) where that field is missing. Neither reads the body.
 */
function observeFailure(promise: ApiPromiseLike, call: LlmCall): void {
  const onError = (err: unknown) => call.fail(err);
  const raw = (promise as { responsePromise?: unknown }).responsePromise;
  if (isThenable(raw)) raw.then(undefined, onError);
  else promise.asResponse().then(undefined, onError);
}

function attach(result: unknown, call: LlmCall, endpoint: Endpoint, body: JsonObject): unknown {
  if (isApiPromise(result)) {
    observeFailure(result, call);
    // `_thenUnwrap` is how the clients derive their own promises (parse helpers, stream helpers):
    // the result is an APIPromise of the same class, parsing through the original.
    const observed = result._thenUnwrap((data) => {
      onData(call, endpoint, body, data);
      return data;
    });
    endOnRawResponse(observed, call);
    return observed;
  }
  if (isThenable(result)) {
    result.then(
      (data) => onData(call, endpoint, body, data),
      (err: unknown) => call.fail(err),
    );
    return result;
  }
  onData(call, endpoint, body, result);
  return result;
}

const wrappers = new WeakSet<object>();

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Replaces `target[key]` with an instrumented version, on `target` itself. Does nothing when
 * the method is missing or already instrumented.
 */
export function instrumentMethod(target: unknown, key: string, endpoint: Endpoint, state: ClientState): void {
  if (target === null || typeof target !== "object") return;
  const original = (target as Record<string, unknown>)[key];
  if (typeof original !== "function" || wrappers.has(original)) return;
  const method = original as Method;

  const wrapped = function instrumented(this: unknown, ...args: unknown[]): unknown {
    let call: LlmCall | undefined;
    let callArgs = args;
    let body: JsonObject = {};
    try {
      body = asObject(args[0]) ?? {};
      const taken = takeAttributionHeaders(args[1]);
      if (taken !== undefined) callArgs = [args[0], taken.options, ...args.slice(2)];
      call = startCall(endpoint, state, body, taken?.attribution);
    } catch (err) {
      reportFailure(`${endpoint.operation} start`, err);
      return Reflect.apply(method, this, args);
    }

    let entered = false;
    let result: unknown;
    try {
      const around = state.around;
      if (around === undefined && call.parentIsRoot) {
        // The common case needs neither a context switch nor a closure around the call.
        entered = true;
        result = Reflect.apply(method, this, callArgs);
      } else {
        const run = () => {
          entered = true;
          return Reflect.apply(method, this, callArgs);
        };
        const invoke = around === undefined ? run : () => around(run);
        // The call runs with its span active, so spans of the HTTP request (when the app
        // instruments HTTP) nest under it. Only when the caller already has an active context,
        // though: in the root context the app tracks no async context, and making one active
        // would switch tracking on for the whole process (on Node 20, a promise hook that taxes
        // every promise) just for that nesting.
        result = call.parentIsRoot ? invoke() : context.with(call.context, invoke);
      }
    } catch (err) {
      if (!entered) {
        // Our context handling failed before the call: run it untouched.
        reportFailure(`${endpoint.operation} context`, err);
        call.end();
        return Reflect.apply(method, this, callArgs);
      }
      call.fail(err);
      throw err;
    }

    try {
      return attach(result, call, endpoint, body);
    } catch (err) {
      reportFailure(`${endpoint.operation} result`, err);
      call.end();
      return result;
    }
  };
  wrappers.add(wrapped);
  Object.defineProperty(target, key, { value: wrapped, writable: true, configurable: true, enumerable: false });
}
