/**
 * The normalized message format stored in `llm_calls.input` / `llm_calls.output`: the OTel
 * GenAI message schema (gen_ai.input.messages / gen_ai.output.messages), whatever convention
 * the content arrived in:
 *
 *   [{ role, parts: [{type:"text",content} | {type:"tool_call",id,name,arguments}
 *                   | {type:"tool_call_response",id,response} | {type:"blob",mime_type,modality,content}
 *                   | {type:"uri",uri} | {type:"reasoning",content} | ...], finish_reason? }]
 *
 * Converters here cover the OTel spellings (latest, deprecated message events, pre-1.28
 * content events) and OpenAI-style message arrays, which most third-party conventions embed.
 * Unknown part types pass through unchanged rather than being dropped.
 */
import type { Attributes, AttrValue } from "../otlp/types.js";
import { bytesToBase64, jsonReplacer, parseJsonLoose, toNum } from "./attr.js";

export interface TextPart {
  type: "text";
  content: string;
}
export interface ToolCallPart {
  type: "tool_call";
  id: string;
  name: string;
  arguments?: unknown;
}
export interface ToolCallResponsePart {
  type: "tool_call_response";
  id: string;
  response: unknown;
}
export interface BlobPart {
  type: "blob";
  mime_type: string;
  modality: string;
  content: string;
  /** Set instead of `content` when the payload was too large to store (see MAX_STORED_BLOB_CHARS). */
  content_omitted_bytes?: number;
}
export interface UriPart {
  type: "uri";
  uri: string;
  mime_type?: string;
  modality?: string;
}
export interface ReasoningPart {
  type: "reasoning";
  content: string;
}
/** Any other part type (file, server_tool_call, ...): kept as the sender wrote it. */
export interface OtherPart {
  type: string;
  [key: string]: unknown;
}
export type MessagePart =
  | TextPart
  | ToolCallPart
  | ToolCallResponsePart
  | BlobPart
  | UriPart
  | ReasoningPart
  | OtherPart;

export interface ChatMessage {
  role: string;
  parts: MessagePart[];
  name?: string;
  finish_reason?: string;
}

/** A span event or a log-record event, as far as content extraction cares. */
export interface EventLike {
  name: string;
  attributes: Attributes;
  /** OTLP log records carry the deprecated message events' fields in the body. */
  body?: AttrValue;
}

/**
 * Longest message list kept. Agent loops resend the whole history on every call; past this we
 * keep the first message (usually the system prompt) and the most recent ones.
 */
export const MAX_MESSAGES = 512;
/** Most parts kept in one message. */
export const MAX_PARTS = 256;
/**
 * Longest base64 payload of an inline image, audio clip or document stored with a call. A
 * photo is megabytes of base64 that no query reads and that would cost more to store than the
 * rest of the call; a larger payload is stored as its modality, media type and size
 * (`content: ""`, `content_omitted_bytes`). Small ones (icons, short clips) are kept.
 */
export const MAX_STORED_BLOB_CHARS = 16_384;

/** A blob part, its payload left out when it is over MAX_STORED_BLOB_CHARS. */
function blobPart(mimeType: string, modality: string, base64: string): BlobPart {
  if (base64.length <= MAX_STORED_BLOB_CHARS) return { type: "blob", mime_type: mimeType, modality, content: base64 };
  return { type: "blob", mime_type: mimeType, modality, content: "", content_omitted_bytes: base64Bytes(base64) };
}

/** Decoded size of a base64 payload. */
function base64Bytes(base64: string): number {
  let pad = 0;
  if (base64.endsWith("==")) pad = 2;
  else if (base64.endsWith("=")) pad = 1;
  return Math.max(0, Math.floor((base64.length * 3) / 4) - pad);
}
/** Most entries rebuilt from indexed keys (`prefix.N.field`). */
export const MAX_INDEXED_ENTRIES = 1000;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function strOf(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// OTel GenAI messages (gen_ai.input.messages / gen_ai.output.messages / system instructions)

/** Messages plus their JSON column value; `json` is "" when there are none. */
export interface NormalizedMessages {
  messages: ChatMessage[];
  json: string;
}

/**
 * Normalize gen_ai.input.messages / gen_ai.output.messages (a JSON string or a structured
 * array), optionally prefixed with gen_ai.system_instructions as a system message. When the
 * sender's JSON string is already in normalized form it is reused as the column value, so the
 * common case costs one parse and no stringify.
 */
export function otelMessages(value: unknown, systemInstructions?: unknown, defaultRole = "user"): NormalizedMessages {
  const state: ListState = { changed: false, defaultRole };
  const parsed = typeof value === "string" ? parseJsonLoose(value) : value;
  let messages = Array.isArray(parsed) ? normalizeOtelList(parsed, state) : [];
  if (messages.length === 0 && parsed !== undefined && parsed !== null && !Array.isArray(parsed)) {
    // A lone message object or plain text where a list was expected.
    messages = fromOpenAiMessages(parsed, defaultRole);
    state.changed = true;
  }
  const system = systemInstructions === undefined ? undefined : systemMessage(systemInstructions);
  if (system !== undefined) {
    messages = [system, ...messages];
    state.changed = true;
  }
  if (messages.length === 0) return { messages, json: "" };
  const capped = capMessages(messages);
  if (capped !== messages) state.changed = true;
  const json =
    !state.changed && typeof value === "string" ? value : stringifyMessages(capped, typeof value !== "string");
  return { messages: capped, json };
}

/** Parse an OTel message list (JSON string or array) into normalized messages. */
export function parseOtelMessages(value: unknown, defaultRole = "user"): ChatMessage[] {
  return otelMessages(value, undefined, defaultRole).messages;
}

/**
 * gen_ai.system_instructions as a `{role:"system"}` message. The value is a list of parts
 * (JSON string or structured); plain text is accepted too.
 */
export function systemMessage(value: unknown): ChatMessage | undefined {
  const parsed = typeof value === "string" ? parseJsonLoose(value) : value;
  const parts: MessagePart[] = [];
  if (typeof parsed === "string") {
    if (parsed !== "") parts.push({ type: "text", content: parsed });
  } else if (Array.isArray(parsed)) {
    for (const item of parsed) {
      if (parts.length >= MAX_PARTS) break;
      pushBlockParts(parts, item);
    }
  } else if (parsed !== undefined && parsed !== null) {
    pushBlockParts(parts, parsed);
  }
  return parts.length === 0 ? undefined : { role: "system", parts };
}

/** Prepend gen_ai.system_instructions (if any) to a message list as a system message. */
export function withSystemInstructions(messages: ChatMessage[], systemInstructions: unknown): ChatMessage[] {
  const system = systemMessage(systemInstructions);
  return system === undefined ? messages : capMessages([system, ...messages]);
}

interface ListState {
  /** Set when the output differs from the input, so the sender's JSON cannot be reused. */
  changed: boolean;
  defaultRole: string;
}

function normalizeOtelList(list: readonly unknown[], state: ListState): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const item of list) {
    const m = normalizeOtelMessage(item, state);
    if (m !== undefined) out.push(m);
    else state.changed = true;
  }
  return out;
}

/** Returns the same object when it is already well formed, so the caller can reuse its JSON. */
function normalizeOtelMessage(item: unknown, state: ListState): ChatMessage | undefined {
  if (!isObj(item)) {
    if (typeof item === "string" && item !== "") {
      state.changed = true;
      return { role: state.defaultRole, parts: [{ type: "text", content: item }] };
    }
    return undefined;
  }
  const parts = item["parts"];
  if (!Array.isArray(parts)) {
    // An OpenAI-style message mixed into an OTel list.
    state.changed = true;
    return fromOpenAiMessage(item, state.defaultRole);
  }
  let role = item["role"];
  if (typeof role !== "string" || role === "") {
    role = state.defaultRole;
    state.changed = true;
  }
  let outParts: MessagePart[] | undefined;
  const n = Math.min(parts.length, MAX_PARTS);
  if (n < parts.length) outParts = [];
  for (let i = 0; i < n; i++) {
    const p = parts[i];
    const fixed = normalizeOtelPart(p);
    if (fixed !== p && outParts === undefined) outParts = parts.slice(0, i) as MessagePart[];
    if (outParts !== undefined && fixed !== undefined) outParts.push(fixed);
  }
  if (outParts === undefined && role === item["role"]) return item as unknown as ChatMessage;
  state.changed = true;
  const msg: ChatMessage = { ...(item as object), role: role as string, parts: outParts ?? (parts as MessagePart[]) };
  return msg;
}

/** Same object back when it needs no change; undefined to drop it. */
function normalizeOtelPart(p: unknown): MessagePart | undefined {
  if (!isObj(p)) {
    return typeof p === "string" && p !== "" ? { type: "text", content: p } : undefined;
  }
  const type = p["type"];
  if (typeof type !== "string") return undefined;
  if (type === "tool_call_response" && !("response" in p) && "result" in p) {
    // Early drafts of the schema called it `result`.
    const { result, ...rest } = p;
    return { ...rest, type, id: strOf(p["id"]) ?? "", response: result };
  }
  if (type === "blob") {
    const content = p["content"];
    if (content instanceof Uint8Array) {
      if (content.byteLength * 4 > MAX_STORED_BLOB_CHARS * 3) {
        return { ...p, type, content: "", content_omitted_bytes: content.byteLength };
      }
      return { ...p, type, content: bytesToBase64(content) };
    }
    if (typeof content === "string" && content.length > MAX_STORED_BLOB_CHARS) {
      return { ...p, type, content: "", content_omitted_bytes: base64Bytes(content) };
    }
  }
  return p as MessagePart;
}

// ---------------------------------------------------------------------------------------------
// OpenAI-style (and Anthropic / AI SDK content blocks) -> parts

/**
 * Convert OpenAI-style messages (`{role, content: string | [{type:"text",text}, ...],
 * tool_calls: [{id, function:{name, arguments}}], tool_call_id}`) into normalized messages.
 * Also accepts chat-completion choices (`{message, finish_reason}`), a single message object
 * and plain text (one message with `defaultRole`). Anthropic (`tool_use`, `tool_result`,
 * `thinking`) and AI SDK (`tool-call`, `tool-result`) content blocks are understood too.
 */
export function fromOpenAiMessages(value: unknown, defaultRole = "user"): ChatMessage[] {
  if (Array.isArray(value)) {
    const out: ChatMessage[] = [];
    for (const item of value) {
      const m = fromOpenAiMessage(item, defaultRole);
      if (m !== undefined) out.push(m);
    }
    return capMessages(out);
  }
  const m = fromOpenAiMessage(value, defaultRole);
  return m === undefined ? [] : [m];
}

/** One OpenAI-style message (or choice, or plain text). */
export function fromOpenAiMessage(item: unknown, defaultRole = "user"): ChatMessage | undefined {
  if (typeof item === "string") {
    return item === "" ? undefined : { role: defaultRole, parts: [{ type: "text", content: item }] };
  }
  if (!isObj(item)) return undefined;

  // A chat-completion choice: {index, finish_reason, message}.
  const inner = item["message"];
  if (isObj(inner) && item["role"] === undefined) {
    const m = fromOpenAiMessage(inner, defaultRole);
    const fr = strOf(item["finish_reason"]);
    if (m !== undefined && fr !== undefined && m.finish_reason === undefined) m.finish_reason = fr;
    return m;
  }

  const role = normalizeRole(strOf(item["role"])) ?? defaultRole;
  const parts: MessagePart[] = [];

  if (Array.isArray(item["parts"])) {
    // Already OTel-shaped.
    for (const p of item["parts"]) {
      if (parts.length >= MAX_PARTS) break;
      const fixed = normalizeOtelPart(p);
      if (fixed !== undefined) parts.push(fixed);
    }
  } else if ((role === "tool" || role === "function") && !hasToolResultBlocks(item["content"])) {
    const content = item["content"];
    parts.push({
      type: "tool_call_response",
      id: strOf(item["tool_call_id"]) ?? strOf(item["id"]) ?? "",
      response: toolResponseValue(content),
    });
  } else {
    pushContentParts(parts, item["content"]);
  }

  const toolCalls = item["tool_calls"];
  if (Array.isArray(toolCalls)) {
    for (const tc of toolCalls) {
      if (parts.length >= MAX_PARTS) break;
      const p = toolCallPart(tc);
      if (p !== undefined) parts.push(p);
    }
  }
  const fc = item["function_call"];
  if (isObj(fc) && parts.length < MAX_PARTS) {
    const p = toolCallPart({ function: fc });
    if (p !== undefined) parts.push(p);
  }

  const msg: ChatMessage = { role: role === "function" ? "tool" : role, parts };
  const name = strOf(item["name"]);
  if (name !== undefined && name !== "") msg.name = name;
  const fr = strOf(item["finish_reason"]);
  if (fr !== undefined && fr !== "") msg.finish_reason = fr;
  // Nothing recognisable and no finish reason: not worth a row entry.
  return parts.length === 0 && msg.finish_reason === undefined ? undefined : msg;
}

/** Tool messages whose content is already result blocks (Anthropic, AI SDK) keep their ids. */
function hasToolResultBlocks(content: unknown): boolean {
  if (!Array.isArray(content)) return false;
  for (const b of content) {
    if (isObj(b) && (b["type"] === "tool_result" || b["type"] === "tool-result")) return true;
  }
  return false;
}

function normalizeRole(role: string | undefined): string | undefined {
  if (role === undefined || role === "") return undefined;
  const r = role.toLowerCase();
  // LangChain says human/ai, Gemini says model.
  if (r === "human") return "user";
  if (r === "ai" || r === "model") return "assistant";
  return r;
}

function pushContentParts(parts: MessagePart[], content: unknown): void {
  if (content === undefined || content === null) return;
  if (typeof content === "string") {
    if (content !== "") parts.push({ type: "text", content });
    return;
  }
  if (Array.isArray(content)) {
    for (const block of content) {
      if (parts.length >= MAX_PARTS) break;
      pushBlockParts(parts, block);
    }
    return;
  }
  pushBlockParts(parts, content);
}

/** One content block in any of the common spellings. */
function pushBlockParts(parts: MessagePart[], block: unknown): void {
  if (typeof block === "string") {
    if (block !== "") parts.push({ type: "text", content: block });
    return;
  }
  if (!isObj(block)) return;
  const type = strOf(block["type"]) ?? (typeof block["text"] === "string" ? "text" : "");
  switch (type) {
    case "text":
    case "input_text":
    case "output_text": {
      const text = strOf(block["content"]) ?? strOf(block["text"]);
      if (text !== undefined) parts.push({ type: "text", content: text });
      return;
    }
    case "image_url": {
      const iu = block["image_url"];
      const url = typeof iu === "string" ? iu : isObj(iu) ? strOf(iu["url"]) : undefined;
      if (url !== undefined) parts.push(mediaPart(url, "image"));
      return;
    }
    case "input_image": {
      const url = strOf(block["image_url"]);
      if (url !== undefined) parts.push(mediaPart(url, "image"));
      return;
    }
    case "input_audio": {
      const a = block["input_audio"];
      if (isObj(a) && typeof a["data"] === "string") {
        const format = strOf(a["format"]) ?? "wav";
        parts.push(blobPart(`audio/${format}`, "audio", a["data"]));
      }
      return;
    }
    case "image":
    case "document": {
      // Anthropic: {type:"image", source:{type:"base64", media_type, data} | {type:"url", url}}.
      const src = block["source"];
      if (isObj(src)) {
        const modality = type === "image" ? "image" : "document";
        if (typeof src["data"] === "string") {
          parts.push(blobPart(strOf(src["media_type"]) ?? "", modality, src["data"]));
          return;
        }
        const url = strOf(src["url"]);
        if (url !== undefined) {
          parts.push({ type: "uri", uri: url, modality });
          return;
        }
      }
      parts.push(block as OtherPart);
      return;
    }
    case "tool_use": // Anthropic
      parts.push({
        type: "tool_call",
        id: strOf(block["id"]) ?? "",
        name: strOf(block["name"]) ?? "",
        arguments: block["input"],
      });
      return;
    case "tool-call": // AI SDK
      parts.push({
        type: "tool_call",
        id: strOf(block["toolCallId"]) ?? "",
        name: strOf(block["toolName"]) ?? "",
        arguments: block["input"] ?? block["args"],
      });
      return;
    case "tool_result": // Anthropic
      parts.push({
        type: "tool_call_response",
        id: strOf(block["tool_use_id"]) ?? "",
        response: toolResponseValue(block["content"]),
      });
      return;
    case "tool-result": // AI SDK
      parts.push({
        type: "tool_call_response",
        id: strOf(block["toolCallId"]) ?? "",
        response: block["output"] ?? block["result"],
      });
      return;
    case "thinking": // Anthropic extended thinking
    case "reasoning": {
      const text = strOf(block["content"]) ?? strOf(block["thinking"]) ?? strOf(block["text"]);
      if (text !== undefined) parts.push({ type: "reasoning", content: text });
      else parts.push(block as OtherPart);
      return;
    }
    case "":
      return;
    default: {
      // tool_call / tool_call_response / blob / uri in OTel shape, or something new: keep it.
      const fixed = normalizeOtelPart(block);
      if (fixed !== undefined) parts.push(fixed);
    }
  }
}

function mediaPart(url: string, modality: string): BlobPart | UriPart {
  // data:<mime>;base64,<payload>
  if (url.startsWith("data:")) {
    const comma = url.indexOf(",");
    const semi = url.indexOf(";");
    if (comma > 0) {
      const mime = url.slice(5, semi > 0 && semi < comma ? semi : comma);
      return blobPart(mime, modality, url.slice(comma + 1));
    }
  }
  return { type: "uri", uri: url, modality };
}

function toolCallPart(tc: unknown): ToolCallPart | undefined {
  if (!isObj(tc)) return undefined;
  const fn = isObj(tc["function"]) ? tc["function"] : tc;
  const name = strOf(fn["name"]);
  if (name === undefined) return undefined;
  const part: ToolCallPart = { type: "tool_call", id: strOf(tc["id"]) ?? "", name };
  const args = fn["arguments"] ?? fn["input"];
  if (args !== undefined) part.arguments = typeof args === "string" ? parseJsonLoose(args) : args;
  return part;
}

/** A tool result as text when it is only text blocks, else as sent. */
function toolResponseValue(content: unknown): unknown {
  if (!Array.isArray(content)) return content ?? "";
  let text = "";
  for (const b of content) {
    if (typeof b === "string") text += b;
    else if (isObj(b) && typeof b["text"] === "string") text += b["text"];
    else return content;
  }
  return text;
}

/**
 * Pre-1.28 `gen_ai.prompt` / `gen_ai.completion` values, also used by other conventions'
 * prompt attributes: a JSON string of OpenAI-style messages (or choices), a `{messages:[..]}`
 * object, or plain text (one message with `defaultRole`).
 */
export function fromPromptValue(value: unknown, defaultRole: string): ChatMessage[] {
  const parsed = typeof value === "string" ? parseJsonLoose(value) : value;
  if (parsed === undefined || parsed === null) return [];
  if (isObj(parsed) && Array.isArray(parsed["messages"])) return fromOpenAiMessages(parsed["messages"], defaultRole);
  if (isObj(parsed) && Array.isArray(parsed["choices"])) return fromOpenAiMessages(parsed["choices"], defaultRole);
  return fromOpenAiMessages(parsed, defaultRole);
}

// ---------------------------------------------------------------------------------------------
// Content carried in events

export interface EventContent {
  input: ChatMessage[];
  output: ChatMessage[];
}

const DEPRECATED_ROLE_BY_EVENT: Readonly<Record<string, string>> = {
  "gen_ai.system.message": "system",
  "gen_ai.user.message": "user",
  "gen_ai.assistant.message": "assistant",
  "gen_ai.tool.message": "tool",
};

/**
 * Messages carried in events, by family, newest first: `gen_ai.client.inference.operation.details`
 * (gen_ai.input.messages / gen_ai.output.messages / gen_ai.system_instructions); else the
 * deprecated `gen_ai.{system,user,assistant,tool}.message` + `gen_ai.choice` events; else the
 * pre-1.28 `gen_ai.content.prompt` / `gen_ai.content.completion` events. Senders migrating
 * between versions may emit two families at once; taking one per side avoids doubling.
 */
export function contentFromEvents(events: readonly EventLike[]): EventContent {
  let detailsIn: ChatMessage[] | undefined;
  let detailsOut: ChatMessage[] | undefined;
  let deprecatedIn: ChatMessage[] | undefined;
  let choices: { index: number; msg: ChatMessage }[] | undefined;
  let legacyIn: ChatMessage[] | undefined;
  let legacyOut: ChatMessage[] | undefined;

  for (const ev of events) {
    const name = ev.name;
    if (!name.startsWith("gen_ai.")) continue;
    if (name === "gen_ai.client.inference.operation.details") {
      const a = ev.attributes;
      const inRaw = a["gen_ai.input.messages"];
      const sys = a["gen_ai.system_instructions"];
      if (inRaw !== undefined || sys !== undefined) {
        detailsIn = otelMessages(inRaw ?? null, sys ?? undefined).messages;
      }
      const outRaw = a["gen_ai.output.messages"];
      if (outRaw !== undefined) detailsOut = otelMessages(outRaw, undefined, "assistant").messages;
      continue;
    }
    const role = DEPRECATED_ROLE_BY_EVENT[name];
    if (role !== undefined) {
      const m = deprecatedMessage(ev, role);
      if (m !== undefined) {
        deprecatedIn ??= [];
        deprecatedIn.push(m);
      }
      continue;
    }
    if (name === "gen_ai.choice") {
      const m = choiceMessage(ev);
      if (m !== undefined) {
        choices ??= [];
        choices.push({ index: toNum(eventField(ev, "index")) ?? choices.length, msg: m });
      }
      continue;
    }
    if (name === "gen_ai.content.prompt") {
      const v = ev.attributes["gen_ai.prompt"];
      if (v !== undefined) {
        legacyIn ??= [];
        legacyIn.push(...fromPromptValue(v, "user"));
      }
      continue;
    }
    if (name === "gen_ai.content.completion") {
      const v = ev.attributes["gen_ai.completion"];
      if (v !== undefined) {
        legacyOut ??= [];
        legacyOut.push(...fromPromptValue(v, "assistant"));
      }
    }
  }

  let output = detailsOut;
  if (output === undefined && choices !== undefined) {
    choices.sort((a, b) => a.index - b.index);
    output = choices.map((c) => c.msg);
  }
  return {
    input: capMessages(detailsIn ?? deprecatedIn ?? legacyIn ?? []),
    output: capMessages(output ?? legacyOut ?? []),
  };
}

/** A field of a deprecated event: an attribute on span events, a body field on log records. */
function eventField(ev: EventLike, key: string): unknown {
  const v = ev.attributes[key];
  if (v !== undefined) return v;
  const body = ev.body;
  return isObj(body) ? body[key] : undefined;
}

function structuredField(ev: EventLike, key: string): unknown {
  const v = eventField(ev, key);
  // Span-event attributes cannot hold maps in most SDKs, so structured fields arrive as JSON.
  return typeof v === "string" ? parseJsonLoose(v) : v;
}

function deprecatedMessage(ev: EventLike, eventRole: string): ChatMessage | undefined {
  const role = strOf(eventField(ev, "role")) ?? eventRole;
  const content = eventField(ev, "content");
  const toolCalls = structuredField(ev, "tool_calls");
  const id = strOf(eventField(ev, "id"));
  if (content === undefined && toolCalls === undefined && role !== "tool") return undefined;
  return fromOpenAiMessage({ role, content, tool_calls: toolCalls, tool_call_id: id }, eventRole);
}

function choiceMessage(ev: EventLike): ChatMessage | undefined {
  const message = structuredField(ev, "message");
  const finishReason = strOf(eventField(ev, "finish_reason"));
  let m: ChatMessage | undefined;
  if (isObj(message)) m = fromOpenAiMessage({ role: "assistant", ...message }, "assistant");
  else if (typeof message === "string") m = fromOpenAiMessage(message, "assistant");
  if (finishReason === undefined || finishReason === "") return m;
  m ??= { role: "assistant", parts: [] };
  m.finish_reason = finishReason;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by adapters

/** Keep the first message (usually the system prompt) and the most recent ones. */
export function capMessages(messages: ChatMessage[]): ChatMessage[] {
  if (messages.length <= MAX_MESSAGES) return messages;
  const head = messages[0] as ChatMessage;
  return [head, ...messages.slice(messages.length - (MAX_MESSAGES - 1))];
}

/**
 * The column value for a message list: "" when empty. `mayHoldBytes` guards structured input
 * (OTLP bytes values) at the price of a replacer call per value; JSON-string input never needs it.
 */
export function stringifyMessages(messages: readonly ChatMessage[], mayHoldBytes = true): string {
  if (messages.length === 0) return "";
  return mayHoldBytes ? JSON.stringify(messages, jsonReplacer) : JSON.stringify(messages);
}

/** The first finish_reason found on a message list (fallback when the span lacks finish_reasons). */
export function firstFinishReason(messages: readonly ChatMessage[]): string | undefined {
  for (const m of messages) if (m.finish_reason !== undefined && m.finish_reason !== "") return m.finish_reason;
  return undefined;
}

const UNSAFE_SEGMENTS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Rebuild indexed attribute keys into an array of objects, the way OpenLLMetry
 * (`gen_ai.prompt.0.role`) and OpenInference (`llm.input_messages.0.message.content`) flatten
 * lists: `prefix.N.a.b` becomes `out[N].a.b`, and numeric segments deeper down
 * (`message.tool_calls.1.tool_call.id`) become arrays too. Indexes at or above `maxEntries`
 * are ignored; gaps are closed up, order is kept. Values are returned as sent (JSON strings
 * are not parsed).
 */
export function rebuildIndexed(
  attrs: Attributes,
  prefix: string,
  maxEntries = MAX_INDEXED_ENTRIES,
): Record<string, unknown>[] {
  const p = prefix.endsWith(".") ? prefix : `${prefix}.`;
  let slots: Obj[] | undefined;
  let nested: unknown[][] | undefined;
  for (const key in attrs) {
    if (!key.startsWith(p)) continue;
    const start = p.length;
    let i = start;
    let idx = 0;
    while (i < key.length) {
      const c = key.charCodeAt(i);
      if (c < 48 || c > 57) break;
      idx = idx * 10 + (c - 48);
      i++;
    }
    // Need digits, then "." and a field name; skip bare `prefix.N` values and overlong indexes.
    if (i === start || i - start > 7 || idx >= maxEntries) continue;
    if (i >= key.length - 1 || key.charCodeAt(i) !== 46 /* . */) continue;
    const value = attrs[key];
    if (value === undefined) continue;
    slots ??= [];
    let entry = slots[idx];
    if (entry === undefined) {
      entry = {};
      slots[idx] = entry;
    }
    nested = setPath(entry, key.slice(i + 1).split("."), value, maxEntries, nested);
  }
  if (slots === undefined) return [];
  if (nested !== undefined) for (const arr of nested) compact(arr);
  // Array.prototype.filter skips holes, closing up gaps.
  return slots.filter(() => true);
}

function setPath(
  root: Obj,
  segments: string[],
  value: unknown,
  maxEntries: number,
  nested: unknown[][] | undefined,
): unknown[][] | undefined {
  let node: Obj | unknown[] = root;
  for (let s = 0; s < segments.length; s++) {
    const seg = segments[s] as string;
    if (seg === "" || UNSAFE_SEGMENTS.has(seg)) return nested;
    const isIndex = Array.isArray(node);
    let index = -1;
    if (isIndex) {
      index = /^\d{1,7}$/.test(seg) ? Number(seg) : -1;
      if (index < 0 || index >= maxEntries) return nested;
    }
    const last = s === segments.length - 1;
    const current: unknown = isIndex ? (node as unknown[])[index] : (node as Obj)[seg];
    if (last) {
      // A leaf never overwrites a branch built from deeper keys.
      if (current === undefined) {
        if (isIndex) (node as unknown[])[index] = value;
        else (node as Obj)[seg] = value;
      }
      return nested;
    }
    let next = current;
    if (next === undefined) {
      const nextIsIndex = /^\d{1,7}$/.test(segments[s + 1] as string);
      if (nextIsIndex) {
        const arr: unknown[] = [];
        nested ??= [];
        nested.push(arr);
        next = arr;
      } else {
        next = {};
      }
      if (isIndex) (node as unknown[])[index] = next;
      else (node as Obj)[seg] = next;
    } else if (typeof next !== "object" || next === null || next instanceof Uint8Array) {
      return nested; // a scalar already sits here
    }
    node = next as Obj | unknown[];
  }
  return nested;
}

function compact(arr: unknown[]): void {
  let w = 0;
  for (let r = 0; r < arr.length; r++) {
    if (r in arr) {
      if (w !== r) arr[w] = arr[r];
      w++;
    }
  }
  arr.length = w;
}
