/**
 * One model call as a span: started before the request, fed facts as they arrive (usage,
 * response model, content, first chunk), ended once as ok, error or cancelled.
 *
 * Every method is safe to call from instrumentation code paths: failures are reported through
 * diag and swallowed, and calls after the end are ignored. Nothing here may throw into the
 * user's call.
 */
import {
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import {
  type ContentPolicy,
  type SerializedContent,
  serializeMessages,
  serializeParts,
  textPart,
  toGenAIMessages,
} from "./content.js";
import { deferContent, type LaterContent, writeContent } from "./deferred-content.js";
import { reportFailure } from "./diag.js";
import {
  ERROR_TYPE,
  GEN_AI_INPUT_MESSAGES,
  GEN_AI_OUTPUT_MESSAGES,
  GEN_AI_RESPONSE_FINISH_REASONS,
  GEN_AI_RESPONSE_ID,
  GEN_AI_RESPONSE_MODEL,
  GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  GEN_AI_SYSTEM_INSTRUCTIONS,
  GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  HTTP_RESPONSE_STATUS_CODE,
  TOKENMETER_STATUS,
} from "./semconv.js";
import type { GenAIMessage, GenAIPart, LLMCallHandle, MessageInput, TokenUsage } from "./types.js";

export interface CallSetup {
  readonly tracer: Tracer;
  readonly parent: Context;
  readonly operation: string;
  readonly model: string;
  /** Written at span start, so samplers and processors see them: request attributes, attribution. */
  readonly attributes: Attributes;
  readonly content: ContentPolicy;
  /**
   * Open the span only when the call ends (or something asks for it), with the call's true start
   * time. Only for a caller that knows the span records (an always-on sampler, a root parent)
   * and that no processor watches span starts: see `Runtime.deferSpans`.
   */
  readonly deferSpan?: boolean;
  /**
   * Leave content serialization to the exporter (deferred-content.ts): only when the SDK's own
   * exporter is the one reading the span. See `Runtime.deferContent`.
   */
  readonly deferContent?: boolean;
}

/** The error a failed call ends with. */
interface CallError {
  readonly exception: Exception;
  readonly message: string;
}

interface Ending {
  readonly facts: Attributes | undefined;
  readonly error: CallError | undefined;
  /** When the call ended (`performance.now()`). */
  readonly at: number;
}

/**
 * Calls whose deferred span is still to be written, oldest first. They are written together,
 * after the current turn of the event loop or once this many wait, whichever comes first: one
 * pass over the tracer for many spans costs far less per span than one visit per call (the
 * tracer's code and data are cold again by the time each call ends). The bound keeps the call
 * that meets it short (about 16 spans' work; 64 made bench:sdk's p99 four times longer).
 */
const ENDED_BATCH = 16;
let ended: LlmCall[] = [];
let flushScheduled = false;

function enqueueEnding(call: LlmCall): void {
  ended.push(call);
  if (ended.length >= ENDED_BATCH) flushEndedCalls();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      flushEndedCalls();
    });
  }
}

/** Writes the spans of every ended call still waiting; `forceFlush` and `shutdown` call it first. */
export function flushEndedCalls(): void {
  if (ended.length === 0) return;
  const calls = ended;
  ended = [];
  for (const call of calls) call.writeEnding();
}

const CANCELLED: Readonly<Attributes> = Object.freeze({ [TOKENMETER_STATUS]: "cancelled" });

/** Errors that mean "the caller stopped the call", which is a cancellation, not a failure. */
const ABORT_ERROR_NAMES = new Set(["AbortError", "APIUserAbortError"]);

function errorName(err: object): string {
  const ctor = (err as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === "string" ? ctor.name : "";
}

/** Classes too general to tell failures apart: undici's fetch throws a TypeError for a dropped connection. */
const GENERIC_ERROR_CLASSES: ReadonlySet<string> = new Set(["", "Object", "Error", "TypeError"]);
/** A system or library error code (ECONNRESET, UND_ERR_SOCKET): few values, safe as a label. */
const ERROR_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/** The code of the error or of what caused it, looked up a few causes deep. */
function errorCode(err: object): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 3 && e !== null && typeof e === "object"; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && ERROR_CODE.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Low-cardinality `error.type` (OTel spec): the error's class, else the HTTP status, else the
 * code of the error or its cause (a connection dropped mid-response is undici's `TypeError:
 * terminated` caused by `UND_ERR_SOCKET`), else its name, else `_OTHER`.
 */
export function errorType(err: unknown): string {
  if (err === null || typeof err !== "object") return "_OTHER";
  const cls = errorName(err);
  if (!GENERIC_ERROR_CLASSES.has(cls)) return cls;
  const status = (err as { status?: unknown }).status;
  if (typeof status === "number") return String(status);
  const code = errorCode(err);
  if (code !== undefined) return code;
  if (cls === "TypeError") return cls;
  const name = (err as { name?: unknown }).name;
  return typeof name === "string" && name !== "" ? name : cls || "_OTHER";
}

export function isAbortError(err: unknown): boolean {
  if (err === null || typeof err !== "object") return false;
  const name = (err as { name?: unknown }).name;
  return ABORT_ERROR_NAMES.has(errorName(err)) || (typeof name === "string" && ABORT_ERROR_NAMES.has(name));
}

export class LlmCall implements LLMCallHandle {
  #span: Span | undefined;
  readonly #tracer: Tracer;
  readonly #name: string;
  /** The attributes the span starts with (request, attribution). */
  readonly #startAttributes: Attributes;
  /** Whether the span was deferred: it then carries explicit start and end times (see #open). */
  readonly #deferred: boolean;
  readonly #parent: Context;
  #context: Context | undefined;
  /** Whether the span records (sampled) at all; when not, nothing is computed for it. */
  readonly recording: boolean;
  /** Whether content is captured for this call. */
  readonly capture: boolean;
  /** The call started in the root context (no active span, no attribution, no baggage). */
  readonly parentIsRoot: boolean;
  readonly #policy: ContentPolicy;
  readonly #startedAt: number;
  #firstChunkAt: number | undefined;
  #ended = false;
  /**
   * Facts gathered during the call, written with one `setAttributes` when it ends: the SDK's
   * span validates and copies each attribute on every write, so one pass costs less than a
   * write per fact, and nothing reads them before the end (processors see them in `onEnd`).
   */
  #pending: Attributes | undefined;
  /** Content the exporter serializes (when deferred); undefined when none or not deferred. */
  #laterContent: LaterContent[] | undefined;
  /** How a deferred call ended, until its span is written (see flushEndedCalls). */
  #ending: Ending | undefined;
  readonly #deferContent: boolean;

  constructor(setup: CallSetup) {
    this.#tracer = setup.tracer;
    this.#name = setup.model === "" ? setup.operation : `${setup.operation} ${setup.model}`;
    this.#startAttributes = setup.attributes;
    this.#parent = setup.parent;
    this.parentIsRoot = setup.parent === ROOT_CONTEXT;
    this.#deferred = setup.deferSpan === true;
    if (this.#deferred) {
      this.#startedAt = performance.now();
      // A deferred span records: the caller checked that the sampler always keeps it.
      this.recording = true;
    } else {
      const recording = this.#open().isRecording();
      // Read once the span has its own start time, so that the time to first chunk measured
      // from here never exceeds the span's duration.
      this.#startedAt = performance.now();
      this.recording = recording;
    }
    this.capture = this.recording && setup.content.capture;
    this.#policy = setup.content;
    this.#deferContent = setup.deferContent === true;
  }

  /**
   * Starts the span. A deferred span is given the call's start time as a `performance.now()`
   * reading, which the SDK's own spans take as such (deferral is only used with the SDK's own
   * provider). Writing the gathered facts stays a second step: merged into the start
   * attributes, they made the span's start slower than the two steps together (measured).
   */
  #open(): Span {
    const startTime = this.#deferred ? this.#startedAt : undefined;
    const options = { kind: SpanKind.CLIENT, attributes: this.#startAttributes, startTime };
    const span = this.#tracer.startSpan(this.#name, options, this.#parent);
    this.#span = span;
    return span;
  }

  /** The call's span, started now if it was deferred. */
  get span(): Span {
    return this.#span ?? this.#open();
  }

  /** The parent context with this call's span active (built on first use). */
  get context(): Context {
    this.#context ??= trace.setSpan(this.#parent, this.span);
    return this.#context;
  }

  /** The attributes still to write, or undefined when the span does not record or has ended. */
  #facts(): Attributes | undefined {
    if (!this.recording || this.#ended) return undefined;
    this.#pending ??= {};
    return this.#pending;
  }

  setAttribute(key: string, value: AttributeValue): void {
    const facts = this.#facts();
    if (facts !== undefined) facts[key] = value;
  }

  setUsage(usage: TokenUsage): void {
    const facts = this.#facts();
    if (facts === undefined) return;
    if (usage.inputTokens !== undefined) facts[GEN_AI_USAGE_INPUT_TOKENS] = usage.inputTokens;
    if (usage.outputTokens !== undefined) facts[GEN_AI_USAGE_OUTPUT_TOKENS] = usage.outputTokens;
    if (usage.cacheReadTokens !== undefined) facts[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cacheReadTokens;
    if (usage.cacheWriteTokens !== undefined) facts[GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = usage.cacheWriteTokens;
    if (usage.reasoningTokens !== undefined) facts[GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoningTokens;
  }

  setResponse(response: { id?: string | undefined; model?: string | undefined; finishReasons?: string[] }): void {
    const facts = this.#facts();
    if (facts === undefined) return;
    if (response.id) facts[GEN_AI_RESPONSE_ID] = response.id;
    if (response.model) facts[GEN_AI_RESPONSE_MODEL] = response.model;
    if (response.finishReasons !== undefined && response.finishReasons.length > 0) {
      facts[GEN_AI_RESPONSE_FINISH_REASONS] = response.finishReasons;
    }
  }

  /**
   * Content for `key`. Messages the SDK built itself may be serialized later, by the exporter;
   * `ownObjects` false (the app's own message objects, which it may change) serializes now.
   */
  #setContent(key: string, serialize: () => SerializedContent, ownObjects = true): void {
    if (!this.capture || this.#ended) return;
    if (ownObjects && this.#deferContent) {
      this.#laterContent ??= [];
      this.#laterContent.push([key, serialize]);
      return;
    }
    const facts = this.#facts();
    if (facts !== undefined) writeContent(facts, key, serialize);
  }

  /** The prompt, as messages the SDK built (endpoints); `ownObjects` as in #setContent. */
  setInputMessages(messages: readonly GenAIMessage[], system?: readonly GenAIPart[], ownObjects = true): void {
    if (system !== undefined && system.length > 0) {
      this.#setContent(GEN_AI_SYSTEM_INSTRUCTIONS, () => serializeParts(this.#policy, system), ownObjects);
    }
    if (messages.length > 0) {
      this.#setContent(GEN_AI_INPUT_MESSAGES, () => serializeMessages(this.#policy, messages), ownObjects);
    }
  }

  /** The completion, as messages the SDK built (endpoints); `ownObjects` as in #setContent. */
  setOutputMessages(messages: readonly GenAIMessage[], ownObjects = true): void {
    if (messages.length > 0) {
      this.#setContent(GEN_AI_OUTPUT_MESSAGES, () => serializeMessages(this.#policy, messages), ownObjects);
    }
  }

  // The handle's setters take the app's objects, which it may change after the call: serialized now.
  setInput(messages: MessageInput[], systemInstructions?: string | GenAIPart[]): void {
    if (!this.capture) return;
    try {
      const system = typeof systemInstructions === "string" ? [textPart(systemInstructions)] : systemInstructions;
      this.setInputMessages(toGenAIMessages(messages), system, false);
    } catch (err) {
      reportFailure("setInput", err);
    }
  }

  setOutput(messages: MessageInput[]): void {
    if (!this.capture) return;
    try {
      this.setOutputMessages(toGenAIMessages(messages), false);
    } catch (err) {
      reportFailure("setOutput", err);
    }
  }

  recordFirstChunk(): void {
    this.#firstChunkAt ??= performance.now();
  }

  spanContext(): SpanContext {
    return this.span.spanContext();
  }

  /**
   * Marks the end, gathers the facts plus `extra` (the outcome's own attributes) and writes the
   * span: now, or with the next batch when the span was deferred and is still unopened.
   */
  #finish(extra: Attributes | undefined, error: CallError | undefined): void {
    if (this.#ended) return;
    const facts = this.#facts();
    this.#ended = true;
    if (facts !== undefined) {
      if (this.#firstChunkAt !== undefined) {
        facts[GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (this.#firstChunkAt - this.#startedAt) / 1000;
      }
      if (extra !== undefined) Object.assign(facts, extra);
    }
    if (this.#deferred && this.#span === undefined) {
      this.#ending = { facts, error, at: performance.now() };
      enqueueEnding(this);
      return;
    }
    this.#write(facts, error, undefined);
  }

  /** Writes a deferred call's span, with the time its call ended (see flushEndedCalls). */
  writeEnding(): void {
    const ending = this.#ending;
    if (ending === undefined) return;
    this.#ending = undefined;
    this.#write(ending.facts, ending.error, ending.at);
  }

  /**
   * Writes the facts, the content left for the exporter and the error on the span, then ends it
   * at `at` (a `performance.now()` reading; deferred spans only) or now.
   */
  #write(facts: Attributes | undefined, error: CallError | undefined, at: number | undefined): void {
    let span: Span | undefined;
    try {
      span = this.span;
      if (facts !== undefined) span.setAttributes(facts);
      // Before the span ends: a full batch is exported from within `end()`.
      if (this.#laterContent !== undefined) deferContent(span, this.#laterContent);
      if (error !== undefined) {
        span.recordException(error.exception, at);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      }
    } catch (err) {
      reportFailure("span write", err);
    }
    try {
      // A span given its start time would otherwise end on the wall clock (millisecond steps).
      span?.end(at ?? this.#now());
    } catch (err) {
      // A throwing span processor in the app's OpenTelemetry setup.
      reportFailure("span end", err);
    }
  }

  /** Explicit times for a deferred span (see #open); the SDK's own clock otherwise. */
  #now(): number | undefined {
    return this.#deferred ? performance.now() : undefined;
  }

  /** The call completed. */
  end(): void {
    try {
      this.#finish(undefined, undefined);
    } catch (err) {
      reportFailure("end", err);
    }
  }

  /** The caller stopped the call before it completed (break, abort): not an error. */
  cancel(): void {
    try {
      this.#finish(CANCELLED, undefined);
    } catch (err) {
      reportFailure("cancel", err);
    }
  }

  /** The call failed with `err` (which the caller receives unchanged). */
  fail(err: unknown): void {
    if (isAbortError(err)) {
      this.cancel();
      return;
    }
    try {
      const failure: Attributes = { [ERROR_TYPE]: errorType(err) };
      const status = err !== null && typeof err === "object" ? (err as { status?: unknown }).status : undefined;
      if (typeof status === "number") failure[HTTP_RESPONSE_STATUS_CODE] = status;
      const message = err instanceof Error ? err.message : String(err);
      this.#finish(failure, { exception: err instanceof Error ? err : message, message });
    } catch (failure) {
      reportFailure("fail", failure);
    }
  }

  /** The response was taken raw (`asResponse()`): its body, and so its usage, belongs to the caller. */
  endRaw(status: number): void {
    if (this.#ended) return;
    this.setAttribute(HTTP_RESPONSE_STATUS_CODE, status);
    this.end();
  }
}
