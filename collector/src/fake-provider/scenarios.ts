/**
 * The script of the fake provider: everything it decides from a request alone, shared by the
 * OpenAI and Anthropic dialects. Which scenario applies (header or model name), what the model
 * "says", and how many tokens that costs. All of it is deterministic so tests can compute the
 * exact numbers a response will carry, and cheap so the proxy benchmark measures the proxy.
 */
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/** Behaviours a request can ask for, by `x-fake-scenario` (comma-separated) or a `fake-` model name. */
export const SCENARIOS = [
  /** 429 with the provider's rate-limit body and headers. */
  "rate_limit",
  /** 500 (OpenAI `server_error`, Anthropic `api_error`). */
  "server_error",
  /** OpenAI 503 "overloaded", Anthropic 529 `overloaded_error`. */
  "overloaded",
  /** 400 `invalid_request_error`. */
  "bad_request",
  /** 401 invalid key. */
  "auth",
  /** Wait `x-fake-delay-ms` (default 1000) before sending the response headers. */
  "slow",
  /** Wait `x-fake-chunk-delay-ms` (default 100) between streamed events. */
  "slow_stream",
  /** Never answer; the connection stays open until the client gives up or the server closes. */
  "hang",
  /** Send about half of the response, then destroy the socket. */
  "disconnect_mid_stream",
  /** Stream about half of the events, then the provider's in-stream error event. */
  "error_mid_stream",
  /** OpenAI streams carry no usage chunk even when `stream_options.include_usage` is true. */
  "stream_no_usage",
  /** Output cut short: `finish_reason: "length"`, `stop_reason: "max_tokens"`, incomplete response. */
  "length",
  /** The model refuses: OpenAI `refusal`, Anthropic `stop_reason: "refusal"`. */
  "refusal",
  /** Half of the prompt is reported as read from the provider's prompt cache. */
  "cache",
  /** Call the request's tools even when the user message does not mention the weather. */
  "tool_call",
] as const;

export type ScenarioName = (typeof SCENARIOS)[number];

const SCENARIO_SET: ReadonlySet<string> = new Set(SCENARIOS);

/** Spellings that read naturally in model names (`fake-error-429`) mapped to scenarios. */
const SCENARIO_ALIASES: ReadonlyMap<string, ScenarioName> = new Map([
  ["error_429", "rate_limit"],
  ["error_500", "server_error"],
  ["error_503", "overloaded"],
  ["error_529", "overloaded"],
  ["error_400", "bad_request"],
  ["error_401", "auth"],
  ["disconnect", "disconnect_mid_stream"],
  ["tools", "tool_call"],
]);

export const SCENARIO_HEADER = "x-fake-scenario";
export const DELAY_HEADER = "x-fake-delay-ms";
export const CHUNK_DELAY_HEADER = "x-fake-chunk-delay-ms";
export const REPLY_WORDS_HEADER = "x-fake-reply-words";
/** Model names starting with this select scenarios, e.g. `fake-error-429`, `fake-slow-stream+length`. */
export const SCENARIO_MODEL_PREFIX = "fake-";

export const DEFAULT_SLOW_DELAY_MS = 1000;
export const DEFAULT_SLOW_STREAM_CHUNK_DELAY_MS = 100;
/** Longest `x-fake-reply-words` honoured, so one header cannot make the fake allocate unboundedly. */
export const MAX_REPLY_WORDS = 100_000;

/** Scenarios that answer with an HTTP error instead of a model response. */
export type ErrorScenario = "rate_limit" | "server_error" | "overloaded" | "bad_request" | "auth";
const ERROR_SCENARIOS: readonly ErrorScenario[] = ["rate_limit", "server_error", "overloaded", "bad_request", "auth"];

/** What one request asked of the fake, resolved once before a handler runs. */
export interface RequestPlan {
  readonly scenarios: ReadonlySet<ScenarioName>;
  /** Delay before the response headers, ms. */
  readonly delayMs: number;
  /** Delay between streamed events, ms. */
  readonly chunkDelayMs: number;
  /** Reply with this many lorem words instead of an echo of the prompt. */
  readonly replyWords: number | undefined;
}

export interface PlanDefaults {
  readonly scenarios: readonly ScenarioName[];
  readonly chunkDelayMs: number;
  readonly replyWords: number | undefined;
}

export type PlanResult = { ok: true; plan: RequestPlan } | { ok: false; message: string };

function normalizeScenarioName(raw: string): ScenarioName | undefined {
  const name = raw.trim().toLowerCase().replaceAll("-", "_");
  if (SCENARIO_SET.has(name)) return name as ScenarioName;
  return SCENARIO_ALIASES.get(name);
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

function nonNegativeInt(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : undefined;
}

/**
 * Resolves the scenarios and timings of a request. An unknown name in the header is an error
 * (a typo would otherwise silently test the happy path); an unknown `fake-*` model name is just
 * a model name.
 */
export function resolvePlan(
  headers: IncomingHttpHeaders,
  model: string | undefined,
  defaults: PlanDefaults,
): PlanResult {
  const scenarios = new Set<ScenarioName>(defaults.scenarios);
  const header = headerValue(headers, SCENARIO_HEADER);
  if (header !== undefined) {
    for (const raw of header.split(",")) {
      if (raw.trim() === "") continue;
      const name = normalizeScenarioName(raw);
      if (name === undefined) return { ok: false, message: `${SCENARIO_HEADER}: unknown scenario '${raw.trim()}'` };
      scenarios.add(name);
    }
  }
  if (model?.startsWith(SCENARIO_MODEL_PREFIX)) {
    for (const raw of model.slice(SCENARIO_MODEL_PREFIX.length).split("+")) {
      const name = normalizeScenarioName(raw);
      if (name !== undefined) scenarios.add(name);
    }
  }
  const delay = nonNegativeInt(headerValue(headers, DELAY_HEADER));
  const chunkDelay = nonNegativeInt(headerValue(headers, CHUNK_DELAY_HEADER));
  const words = nonNegativeInt(headerValue(headers, REPLY_WORDS_HEADER));
  const plan: RequestPlan = {
    scenarios,
    delayMs: delay ?? (scenarios.has("slow") ? DEFAULT_SLOW_DELAY_MS : 0),
    chunkDelayMs:
      chunkDelay ?? (scenarios.has("slow_stream") ? DEFAULT_SLOW_STREAM_CHUNK_DELAY_MS : defaults.chunkDelayMs),
    replyWords: words === undefined ? defaults.replyWords : Math.min(Math.max(words, 1), MAX_REPLY_WORDS),
  };
  return { ok: true, plan };
}

/** The HTTP error a plan asks for, if any (first in a fixed order when several are set). */
export function errorScenarioOf(plan: RequestPlan): ErrorScenario | undefined {
  for (const name of ERROR_SCENARIOS) if (plan.scenarios.has(name)) return name;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The contract between the server and the two dialects
// ---------------------------------------------------------------------------------------------

/** A parsed request as the dialect handlers see it. */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body (an empty object for GET). */
  readonly body: JsonObject;
  readonly plan: RequestPlan;
  /** Already sent back as `x-request-id` / `request-id`; error bodies repeat it. */
  readonly requestId: string;
}

/**
 * What a handler answers. The server owns timing (delays, chunk pacing, hang, disconnect), so
 * handlers stay pure functions from request to bytes.
 */
export type FakeReply =
  | { readonly type: "json"; readonly status: number; readonly headers: OutgoingHttpHeaders; readonly body: string }
  | { readonly type: "sse"; readonly headers: OutgoingHttpHeaders; readonly frames: readonly string[] };

export type FakeHandler = (req: FakeRequest) => FakeReply;

// ---------------------------------------------------------------------------------------------
// JSON readers (request bodies are untrusted `unknown`)
// ---------------------------------------------------------------------------------------------

export type JsonObject = { readonly [key: string]: unknown };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asObject(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}

// ---------------------------------------------------------------------------------------------
// Tokens: simple, documented rules so tests can compute every number by hand
// ---------------------------------------------------------------------------------------------

/** Tokens of a piece of prompt text: ceil(chars / 4), the usual rule of thumb for English BPE. */
export function textTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Per-message framing tokens (role markers), as chat formats add around each message. */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Tokens that prime the assistant's reply, added once per prompt. */
export const REPLY_PRIMER_TOKENS = 3;
/** Flat cost of an image or other non-text part. */
export const IMAGE_TOKENS = 85;
/** Framing of one tool call in the output, on top of its name and arguments. */
export const TOOL_CALL_OVERHEAD_TOKENS = 3;

/** Output tokens of generated text: one per whitespace-separated word. */
export function countWords(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 10 || c === 9 || c === 13;
    if (!space && !inWord) count++;
    inWord = !space;
  }
  return count;
}

/** Output tokens of one tool call. */
export function toolCallTokens(name: string, args: string): number {
  return textTokens(name) + textTokens(args) + TOOL_CALL_OVERHEAD_TOKENS;
}

/**
 * Reasoning tokens a reasoning model spends before its visible answer: a multiple of the
 * visible output tokens chosen by the effort (none/minimal 0, low 2x, medium 4x, high/xhigh 8x).
 */
export function reasoningTokensFor(visibleTokens: number, effort: string | undefined): number {
  switch (effort) {
    case "none":
    case "minimal":
      return 0;
    case "low":
      return visibleTokens * 2;
    case "high":
    case "xhigh":
      return visibleTokens * 8;
    default:
      return visibleTokens * 4;
  }
}

/** Reports reasoning tokens: o-series and gpt-5 family. */
export function isReasoningModel(model: string): boolean {
  return /^(o1|o3|o4|gpt-5)/.test(model);
}

/**
 * OpenAI-style cached prompt tokens. Prompts of more than 1024 tokens are cached in 128-token
 * steps (at least the last partial step stays uncached); the `cache` scenario forces half.
 */
export function openaiCachedTokens(promptTokens: number, forced: boolean): number {
  if (forced) return Math.floor(promptTokens / 2);
  if (promptTokens <= 1024) return 0;
  return Math.floor((promptTokens - 1) / 128) * 128;
}

// ---------------------------------------------------------------------------------------------
// What the model says
// ---------------------------------------------------------------------------------------------

export const ECHO_PREFIX = "Echo:";
/** How much of the last user message an echo reply repeats. */
export const ECHO_CHARS = 40;
export const REFUSAL_TEXT = "I'm sorry, but I can't help with that request.";

const LOREM = (
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et " +
  "dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip"
).split(" ");

const loremCache = new Map<number, string>();

/** `words` lorem-ipsum words ending with a full stop; memoized because benchmarks reuse sizes. */
export function loremText(words: number): string {
  const cached = loremCache.get(words);
  if (cached !== undefined) return cached;
  const out: string[] = new Array<string>(words);
  for (let i = 0; i < words; i++) out[i] = LOREM[i % LOREM.length] ?? "lorem";
  const text = `${out.join(" ")}.`;
  if (loremCache.size < 64) loremCache.set(words, text);
  return text;
}

/** The first `ECHO_CHARS` characters of a message with whitespace collapsed. */
export function snippet(text: string): string {
  return text.replace(/\s+/g, " ").trim().slice(0, ECHO_CHARS).trim();
}

/**
 * The reply text for a prompt: `Echo: <first 40 chars of the last user message>`, or
 * `replyWords` lorem words when asked (by option or `x-fake-reply-words`).
 */
export function fakeReplyText(lastUserText: string, replyWords?: number): string {
  if (replyWords !== undefined) return loremText(replyWords);
  const s = snippet(lastUserText);
  return s === "" ? `${ECHO_PREFIX} (empty)` : `${ECHO_PREFIX} ${s}`;
}

/** The visible thinking of an Anthropic model with extended thinking on. */
export function fakeThinkingText(lastUserText: string): string {
  const s = snippet(lastUserText);
  return `The user wrote "${s}". Repeat it back briefly.`;
}

/**
 * Whether the model calls the offered tools on its own: the user's turn asks about the weather,
 * or the `tool_call` scenario is on. Never right after a tool result (the model then answers),
 * so an agent loop driven by the fake ends.
 */
export function wantsToolCall(prompt: PromptTail, plan: RequestPlan): boolean {
  if (prompt.afterToolResult) return false;
  return plan.scenarios.has("tool_call") || /weather/i.test(prompt.text);
}

/** The end of a conversation as the fake reads it. */
export interface PromptTail {
  /** Text the reply echoes: the last user turn, or the tool results that end the conversation. */
  readonly text: string;
  /** The conversation ends with tool results rather than a user message. */
  readonly afterToolResult: boolean;
}

/** Splits text into its streamed word deltas: "a b c" -> ["a", " b", " c"]. */
export function wordDeltas(text: string): string[] {
  const words = text.split(" ");
  const out: string[] = new Array<string>(words.length);
  for (let i = 0; i < words.length; i++) out[i] = i === 0 ? (words[i] ?? "") : ` ${words[i] ?? ""}`;
  return out;
}

/** Splits a string into pieces of `size` characters (tool-call argument deltas). */
export function pieces(text: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** Visible text after cutting the output to `words` words. */
export function firstWords(text: string, words: number): string {
  if (words <= 0) return "";
  return text.split(" ").slice(0, words).join(" ");
}

/**
 * A text answer with its token accounting and any truncation applied. `limit` is the request's
 * output-token cap (it covers reasoning tokens too, as on the real APIs).
 */
export interface TextOutcome {
  readonly text: string;
  readonly visibleTokens: number;
  readonly reasoningTokens: number;
  readonly truncated: boolean;
}

export function planText(opts: {
  readonly fullText: string;
  readonly plan: RequestPlan;
  readonly limit: number | undefined;
  readonly reasoning: boolean;
  readonly effort: string | undefined;
}): TextOutcome {
  const fullWords = countWords(opts.fullText);
  let visible = opts.plan.scenarios.has("length") ? Math.max(1, Math.ceil(fullWords / 2)) : fullWords;
  let reasoning = opts.reasoning ? reasoningTokensFor(fullWords, opts.effort) : 0;
  let truncated = visible < fullWords;
  if (opts.limit !== undefined) {
    if (reasoning >= opts.limit) {
      reasoning = opts.limit;
      visible = 0;
      truncated = true;
    } else if (reasoning + visible > opts.limit) {
      visible = opts.limit - reasoning;
      truncated = true;
    }
  }
  const text = visible === fullWords ? opts.fullText : firstWords(opts.fullText, visible);
  return { text, visibleTokens: visible, reasoningTokens: reasoning, truncated };
}

// ---------------------------------------------------------------------------------------------
// Tool arguments
// ---------------------------------------------------------------------------------------------

function fakeValue(name: string, schema: JsonObject): unknown {
  const enumValues = asArray(schema["enum"]);
  if (enumValues.length > 0) return enumValues[0];
  switch (asString(schema["type"])) {
    case "number":
    case "integer":
      return 1;
    case "boolean":
      return true;
    case "array":
      return [];
    case "object":
      return fakeToolInput(schema);
    default:
      return /location|city|place|where/i.test(name) ? "Paris, France" : "example";
  }
}

/**
 * Arguments for a tool call, filled from the tool's JSON schema: the required properties (all
 * properties when none are required), with a city for location-like strings.
 */
export function fakeToolInput(schema: unknown): Record<string, unknown> {
  const s = asObject(schema);
  const properties = asObject(s["properties"]);
  const required = asArray(s["required"]).filter((k): k is string => typeof k === "string");
  const keys = required.length > 0 ? required : Object.keys(properties);
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = fakeValue(key, asObject(properties[key]));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Embeddings
// ---------------------------------------------------------------------------------------------

/** FNV-1a over UTF-16 code units: a fast, stable seed per input. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A unit-length vector derived from the text alone, as float32 values. */
export function fakeEmbedding(text: string, dimensions: number): Float32Array {
  const out = new Float32Array(dimensions);
  let state = fnv1a(text) || 1;
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const v = ((state >>> 0) / 0xffffffff) * 2 - 1;
    out[i] = v;
    norm += v * v;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) out[i] = (out[i] ?? 0) * scale;
  return out;
}

/** Base64 of float32 little-endian values, the wire form of `encoding_format: "base64"`. */
export function float32Base64(values: Float32Array): string {
  const buf = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i] ?? 0, i * 4);
  return buf.toString("base64");
}

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

const ALPHABETS = {
  base62: "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
  hex: "0123456789abcdef",
} as const;

/**
 * Unique, provider-looking ids without per-call randomness: a per-instance random stem plus a
 * counter, `length` characters after the prefix. Stems are cached per shape, so an id costs one
 * short string build.
 */
export function createIdSource(): (prefix: string, length: number, alphabet?: keyof typeof ALPHABETS) => string {
  const seed = createHash("sha256").update(`${process.pid}:${Date.now()}:${Math.random()}`).digest();
  const stems = new Map<string, string>();
  let counter = 0;
  const stem = (alphabet: keyof typeof ALPHABETS, length: number): string => {
    const key = `${alphabet}:${length}`;
    let s = stems.get(key);
    if (s === undefined) {
      const chars = ALPHABETS[alphabet];
      s = "";
      for (let i = 0; i < length; i++) s += chars.charAt(((seed[i % seed.length] ?? 0) + i) % chars.length);
      stems.set(key, s);
    }
    return s;
  };
  return (prefix, length, alphabet = "base62") => {
    counter++;
    const chars = ALPHABETS[alphabet];
    let tail = "";
    for (let n = counter; n > 0; n = Math.floor(n / chars.length)) tail = chars.charAt(n % chars.length) + tail;
    return prefix + stem(alphabet, length).slice(0, Math.max(0, length - tail.length)) + tail;
  };
}

export type IdSource = ReturnType<typeof createIdSource>;

/** A short stable hex digest, e.g. for `system_fingerprint`. */
export function shortHash(text: string, hexChars: number): string {
  return fnv1a(text).toString(16).padStart(8, "0").repeat(2).slice(0, hexChars);
}
