import { createRequire } from "node:module";
import type { Tiktoken } from "tiktoken";

/**
 * Token counts for calls whose span carried no usage, estimated from the normalized messages
 * with tiktoken. It is an estimate (rows get tokens_estimated = 1): other vendors' tokenizers
 * differ, so non-OpenAI models use cl100k_base as a neutral stand-in.
 */

export type EncodingName = "o200k_base" | "cl100k_base";

export interface TokenEstimateInput {
  /** Request or response model; picks the encoding. */
  model: string;
  /** Normalized input messages JSON: [{"role":"user","parts":[{"type":"text","content":"..."}]}]. */
  input: string;
  /** Normalized output messages JSON, same shape. */
  output: string;
}

export interface TokenEstimate {
  input_tokens: number;
  output_tokens: number;
}

// OpenAI's chat format: every message costs ~3 tokens of framing plus its role, and the reply
// is primed with ~3 more. Close enough for other chat formats too.
const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMING_TOKENS = 3;

// tiktoken's BPE is quadratic in the length of one pre-token, so a long run without whitespace
// (a base64 blob, "aaaa...") can take seconds. Text is encoded in windows cut at whitespace,
// and only the first MAX_ENCODED_CHARS of a call are encoded; the rest is extrapolated at the
// tokens-per-char ratio seen so far.
const WINDOW_CHARS = 1024;
const MAX_ENCODED_CHARS = 200_000;
const FALLBACK_TOKENS_PER_CHAR = 0.25;

// gpt-4o and later OpenAI models (4.1, 4.5, 5.x, o-series, gpt-oss, codex) use o200k_base.
const O200K_MODEL = /^(?:ft:)?(?:openai\.)?(?:gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o\d|codex)/;

export function encodingForModel(model: string): EncodingName {
  const m = model.trim().toLowerCase();
  return O200K_MODEL.test(m.slice(m.lastIndexOf("/") + 1)) ? "o200k_base" : "cl100k_base";
}

export function estimateTokens(req: TokenEstimateInput): TokenEstimate {
  const counter = new BudgetedCounter(getEncoder(encodingForModel(req.model)));
  const inputTokens = countMessages(req.input, counter, true);
  const outputTokens = countMessages(req.output, counter, false);
  return { input_tokens: inputTokens, output_tokens: outputTokens };
}

/**
 * Encoders are costly to build (they load a vocabulary of ~200k entries into WASM) and are
 * immutable, so one per encoding is kept for the life of the process. tiktoken itself is only
 * loaded on the first estimate: most calls carry usage and never need it.
 */
const encoders = new Map<EncodingName, Tiktoken>();
let tiktoken: typeof import("tiktoken") | undefined;

function getEncoder(name: EncodingName): Tiktoken {
  let enc = encoders.get(name);
  if (enc === undefined) {
    tiktoken ??= createRequire(import.meta.url)("tiktoken") as typeof import("tiktoken");
    enc = tiktoken.get_encoding(name);
    encoders.set(name, enc);
  }
  return enc;
}

class BudgetedCounter {
  private readonly enc: Tiktoken;
  private budget = MAX_ENCODED_CHARS;
  private encodedChars = 0;
  private encodedTokens = 0;

  constructor(enc: Tiktoken) {
    this.enc = enc;
  }

  count(text: string): number {
    if (text === "") return 0;
    const take = Math.min(text.length, this.budget);
    let tokens = take > 0 ? this.encode(take === text.length ? text : text.slice(0, take)) : 0;
    this.budget -= take;
    this.encodedChars += take;
    this.encodedTokens += tokens;
    const rest = text.length - take;
    if (rest > 0) {
      const ratio = this.encodedChars > 0 ? this.encodedTokens / this.encodedChars : FALLBACK_TOKENS_PER_CHAR;
      tokens += Math.ceil(rest * ratio);
    }
    return tokens;
  }

  private encode(text: string): number {
    if (text.length <= WINDOW_CHARS) return this.enc.encode_ordinary(text).length;
    let tokens = 0;
    for (let start = 0; start < text.length; ) {
      let end = Math.min(start + WINDOW_CHARS, text.length);
      if (end < text.length) {
        // Cut before a whitespace so the next window starts with " word", as tiktoken splits it.
        const cut = lastWhitespace(text, start + WINDOW_CHARS / 2, end);
        if (cut > start) end = cut;
      }
      tokens += this.enc.encode_ordinary(text.slice(start, end)).length;
      start = end;
    }
    return tokens;
  }
}

function lastWhitespace(text: string, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13) return i;
  }
  return -1;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A JSON messages array, or the raw string as one text when it is not one. */
function countMessages(raw: string, counter: BudgetedCounter, isInput: boolean): number {
  if (raw.trim() === "") return 0;
  let messages: unknown;
  try {
    messages = JSON.parse(raw);
  } catch {
    return counter.count(raw);
  }
  if (!Array.isArray(messages)) return typeof messages === "string" ? counter.count(messages) : counter.count(raw);

  let tokens = 0;
  for (const message of messages) {
    if (typeof message === "string") {
      tokens += counter.count(message);
      continue;
    }
    if (!isObject(message)) continue;
    if (isInput) {
      const role = message["role"];
      tokens += TOKENS_PER_MESSAGE + (typeof role === "string" ? counter.count(role) : 0);
    }
    const parts = message["parts"];
    if (Array.isArray(parts)) for (const part of parts) tokens += countPart(part, counter);
    // Provider-shaped messages ({role, content}) as some senders store them.
    const content = message["content"];
    if (typeof content === "string") tokens += counter.count(content);
    else if (Array.isArray(content)) for (const part of content) tokens += countPart(part, counter);
  }
  if (isInput && messages.length > 0) tokens += REPLY_PRIMING_TOKENS;
  return tokens;
}

/** Text-bearing parts only: blobs, URIs and files have no text to count. */
function countPart(part: unknown, counter: BudgetedCounter): number {
  if (typeof part === "string") return counter.count(part);
  if (!isObject(part)) return 0;
  switch (part["type"]) {
    case "blob":
    case "uri":
    case "file":
    case "image_url":
      return 0;
    case "tool_call":
    case "function_call":
      return countValue(part["name"], counter) + countValue(part["arguments"], counter);
    case "tool_call_response":
    case "function_call_response":
      return countValue(part["response"] ?? part["result"], counter);
    default:
      // text, reasoning, and unknown types that carry text.
      return countValue(part["content"] ?? part["text"], counter);
  }
}

function countValue(value: unknown, counter: BudgetedCounter): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "string") return counter.count(value);
  return counter.count(JSON.stringify(value));
}
