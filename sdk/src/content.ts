/**
 * Captured prompts and completions: the `redact` hook, a size bound, and serialization to the
 * JSON strings the GenAI conventions put on spans (gen_ai.input.messages, gen_ai.output.messages,
 * gen_ai.system_instructions).
 */
import type { GenAIMessage, GenAIPart, MessageInput, RedactFn } from "./types.js";

export interface ContentPolicy {
  readonly capture: boolean;
  readonly redact: RedactFn | undefined;
  readonly maxChars: number;
}

export interface SerializedContent {
  json: string;
  truncated: boolean;
}

/** Smallest per-string budget when shrinking an oversized value. */
const MIN_STRING_CHARS = 64;
const TRUNCATION_MARK = "…[truncated]";

/** The string fields of a part that hold content a redactor should see. */
const TEXT_FIELDS = ["content", "arguments", "response"] as const;

function redactPart(part: GenAIPart, redact: RedactFn): GenAIPart {
  let copy: Record<string, unknown> | undefined;
  for (const field of TEXT_FIELDS) {
    const v = (part as Record<string, unknown>)[field];
    if (typeof v !== "string" || v === "") continue;
    // Blobs are base64 payloads, not text: a redactor cannot read them meaningfully.
    if (field === "content" && part.type === "blob") continue;
    copy ??= { ...part };
    copy[field] = redact(v);
  }
  return (copy as GenAIPart | undefined) ?? part;
}

function redactMessages(messages: readonly GenAIMessage[], redact: RedactFn): GenAIMessage[] {
  return messages.map((m) => ({ ...m, parts: m.parts.map((p) => redactPart(p, redact)) }));
}

/**
 * JSON of `value`, shrunk to `maxChars` when needed by cutting every long string to a common
 * budget (halved until it fits), so each message keeps its shape and start.
 */
function boundedJson(value: unknown, maxChars: number): SerializedContent {
  const json = JSON.stringify(value);
  if (json.length <= maxChars) return { json, truncated: false };
  let budget = Math.max(MIN_STRING_CHARS, Math.floor(maxChars / 2));
  for (;;) {
    const cap = budget;
    const shrunk = JSON.stringify(value, (_key, v: unknown) =>
      typeof v === "string" && v.length > cap ? v.slice(0, cap) + TRUNCATION_MARK : v,
    );
    if (shrunk.length <= maxChars || budget === MIN_STRING_CHARS) {
      // Still too long at the smallest budget (a huge number of parts): keep the first ones.
      if (shrunk.length > maxChars && Array.isArray(value) && value.length > 1) {
        return boundedJson(value.slice(0, Math.ceil(value.length / 2)), maxChars);
      }
      return { json: shrunk, truncated: true };
    }
    budget = Math.max(MIN_STRING_CHARS, Math.floor(budget / 2));
  }
}

/** Serializes messages for a span attribute, applying the policy's redactor and size bound. */
export function serializeMessages(policy: ContentPolicy, messages: readonly GenAIMessage[]): SerializedContent {
  const value = policy.redact === undefined ? messages : redactMessages(messages, policy.redact);
  return boundedJson(value, policy.maxChars);
}

/** Serializes system instructions (a list of parts). */
export function serializeParts(policy: ContentPolicy, parts: readonly GenAIPart[]): SerializedContent {
  const redact = policy.redact;
  const value = redact === undefined ? parts : parts.map((p) => redactPart(p, redact));
  return boundedJson(value, policy.maxChars);
}

export function textPart(content: string): GenAIPart {
  return { type: "text", content };
}

/**
 * Longest base64 payload of an inline image, audio clip or document sent with a call's
 * content. A photo is megabytes the collector would not store anyway (it keeps the same bound):
 * over it, the part carries its modality, media type and size only (`content: ""`,
 * `content_omitted_bytes`), and the app does not serialize and ship the payload.
 */
export const MAX_BLOB_CHARS = 16_384;

/** A blob part, its payload left out when it is over MAX_BLOB_CHARS. */
export function blobPart(modality: string, base64: string, mimeType: string | undefined): GenAIPart {
  const part: GenAIPart =
    base64.length <= MAX_BLOB_CHARS
      ? { type: "blob", modality, content: base64 }
      : { type: "blob", modality, content: "", content_omitted_bytes: base64Bytes(base64) };
  if (mimeType !== undefined && mimeType !== "") part.mime_type = mimeType;
  return part;
}

function base64Bytes(base64: string): number {
  let pad = 0;
  if (base64.endsWith("==")) pad = 2;
  else if (base64.endsWith("=")) pad = 1;
  return Math.max(0, Math.floor((base64.length * 3) / 4) - pad);
}

/** Accepts plain `{ role, content }` messages next to the parts format (traceLLMCall). */
export function toGenAIMessages(messages: readonly MessageInput[]): GenAIMessage[] {
  const out: GenAIMessage[] = [];
  for (const m of messages) {
    if (m === null || typeof m !== "object") continue;
    if ("parts" in m && Array.isArray(m.parts)) {
      out.push(m);
    } else if ("content" in m && typeof m.content === "string") {
      const msg: GenAIMessage = { role: m.role, parts: [textPart(m.content)] };
      if (m.finish_reason !== undefined) msg.finish_reason = m.finish_reason;
      out.push(msg);
    }
  }
  return out;
}
