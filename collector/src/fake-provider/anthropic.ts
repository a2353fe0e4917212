/**
 * The Anthropic dialect of the fake provider: the Messages API (plain and streamed), token
 * counting and the model list, with Anthropic's usage semantics: `input_tokens` excludes the
 * tokens read from or written to the prompt cache, which are reported beside it.
 */
import { createHash, type Hash } from "node:crypto";
import type { OutgoingHttpHeaders } from "node:http";
import {
  asArray,
  asNumber,
  asObject,
  asString,
  countWords,
  type ErrorScenario,
  type FakeReply,
  type FakeRequest,
  fakeReplyText,
  fakeThinkingText,
  fakeToolInput,
  firstWords,
  type IdSource,
  IMAGE_TOKENS,
  isObject,
  type JsonObject,
  MESSAGE_OVERHEAD_TOKENS,
  type PromptTail,
  pieces,
  planText,
  REFUSAL_TEXT,
  REPLY_PRIMER_TOKENS,
  shortHash,
  textTokens,
  toolCallTokens,
  wantsToolCall,
  wordDeltas,
} from "./scenarios.js";

const JSON_HEADERS: OutgoingHttpHeaders = { "content-type": "application/json" };
const SSE_HEADERS: OutgoingHttpHeaders = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
};

const MODELS_JSON = (() => {
  const models: [string, string, string][] = [
    ["claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z"],
    ["claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"],
    ["claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-24T00:00:00Z"],
    ["claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"],
    ["claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"],
    ["claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"],
    ["claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-22T00:00:00Z"],
  ];
  const data = models.map(([id, display_name, created_at]) => ({ type: "model", id, display_name, created_at }));
  return JSON.stringify({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
})();

function json(body: unknown, status = 200, headers: OutgoingHttpHeaders = JSON_HEADERS): FakeReply {
  return { type: "json", status, headers, body: JSON.stringify(body) };
}

function eventFrame(type: string, payload: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`;
}

// ---------------------------------------------------------------------------------------------
// Errors and headers
// ---------------------------------------------------------------------------------------------

/** An error in the Anthropic shape: `{"type":"error","error":{type,message},"request_id"}`. */
export function anthropicError(
  status: number,
  type: string,
  message: string,
  requestId: string,
  headers: OutgoingHttpHeaders = JSON_HEADERS,
): FakeReply {
  return json({ type: "error", error: { type, message }, request_id: requestId }, status, headers);
}

/** The error reply of an error scenario. */
export function anthropicScenarioError(kind: ErrorScenario, requestId: string): FakeReply {
  switch (kind) {
    case "rate_limit":
      return anthropicError(
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
        requestId,
        {
          ...JSON_HEADERS,
          "retry-after": "1",
          "anthropic-ratelimit-requests-limit": "50",
          "anthropic-ratelimit-requests-remaining": "0",
          "anthropic-ratelimit-requests-reset": resetTime(),
        },
      );
    case "server_error":
      return anthropicError(500, "api_error", "Internal server error", requestId);
    case "overloaded":
      return anthropicError(529, "overloaded_error", "Overloaded", requestId);
    case "bad_request":
      return anthropicError(400, "invalid_request_error", "temperature: range: 0..1", requestId);
    case "auth":
      return anthropicError(401, "authentication_error", "invalid x-api-key", requestId);
  }
}

export function anthropicNotFound(requestId: string): FakeReply {
  return anthropicError(404, "not_found_error", "Not found", requestId);
}

export function anthropicInvalidJson(requestId: string): FakeReply {
  return anthropicError(400, "invalid_request_error", "The request body is not valid JSON.", requestId);
}

let resetStamp = { second: 0, value: "" };

/** Rate-limit reset instants (RFC 3339, one second ahead), rebuilt at most once per second. */
function resetTime(): string {
  const second = Math.floor(Date.now() / 1000);
  if (resetStamp.second !== second) {
    resetStamp = { second, value: new Date((second + 1) * 1000).toISOString().replace(".000Z", "Z") };
  }
  return resetStamp.value;
}

/** Headers every Anthropic answer carries. */
export function anthropicResponseHeaders(requestId: string): OutgoingHttpHeaders {
  const reset = resetTime();
  return {
    "request-id": requestId,
    "anthropic-organization-id": "00000000-0000-4000-8000-00000000fa6e",
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": reset,
    "anthropic-ratelimit-input-tokens-limit": "2000000",
    "anthropic-ratelimit-input-tokens-remaining": "2000000",
    "anthropic-ratelimit-input-tokens-reset": reset,
    "anthropic-ratelimit-output-tokens-limit": "400000",
    "anthropic-ratelimit-output-tokens-remaining": "400000",
    "anthropic-ratelimit-output-tokens-reset": reset,
    "anthropic-ratelimit-tokens-limit": "2400000",
    "anthropic-ratelimit-tokens-remaining": "2400000",
    "anthropic-ratelimit-tokens-reset": reset,
  };
}

// ---------------------------------------------------------------------------------------------
// Prompt accounting and caching
// ---------------------------------------------------------------------------------------------

/** One cacheable unit of the prompt, in Anthropic's cache order: tools, then system, then messages. */
interface Segment {
  readonly tokens: number;
  readonly value: unknown;
  /** Carries `cache_control`: a cache breakpoint. */
  readonly breakpoint: boolean;
  readonly ttl1h: boolean;
}

function blockTokens(block: unknown): number {
  if (typeof block === "string") return textTokens(block);
  const b = asObject(block);
  switch (b["type"]) {
    case "text":
      return textTokens(asString(b["text"]) ?? "");
    case "thinking":
      return textTokens(asString(b["thinking"]) ?? "");
    case "redacted_thinking":
      return textTokens(asString(b["data"]) ?? "");
    case "tool_use":
      return textTokens((asString(b["name"]) ?? "") + JSON.stringify(b["input"] ?? {}));
    case "tool_result": {
      const content = b["content"];
      if (typeof content === "string") return textTokens(content);
      let tokens = 0;
      for (const c of asArray(content)) tokens += blockTokens(c);
      return tokens;
    }
    case "document": {
      const source = asObject(b["source"]);
      return source["type"] === "text" ? textTokens(asString(source["data"]) ?? "") : IMAGE_TOKENS;
    }
    case "image":
      return IMAGE_TOKENS;
    default:
      return textTokens(JSON.stringify(block));
  }
}

function withoutCacheControl(key: string, value: unknown): unknown {
  return key === "cache_control" ? undefined : value;
}

function cacheControlOf(block: unknown): { breakpoint: boolean; ttl1h: boolean } {
  const cc = isObject(block) ? block["cache_control"] : undefined;
  return { breakpoint: isObject(cc), ttl1h: isObject(cc) && cc["ttl"] === "1h" };
}

function segmentsOf(body: JsonObject): Segment[] {
  const segments: Segment[] = [];
  for (const tool of asArray(body["tools"])) {
    segments.push({
      tokens: textTokens(JSON.stringify(tool, withoutCacheControl)),
      value: tool,
      ...cacheControlOf(tool),
    });
  }
  const system = body["system"];
  if (typeof system === "string") {
    segments.push({
      tokens: MESSAGE_OVERHEAD_TOKENS + textTokens(system),
      value: system,
      breakpoint: false,
      ttl1h: false,
    });
  } else {
    asArray(system).forEach((block, i) => {
      const tokens = blockTokens(block) + (i === 0 ? MESSAGE_OVERHEAD_TOKENS : 0);
      segments.push({ tokens, value: block, ...cacheControlOf(block) });
    });
  }
  for (const message of asArray(body["messages"])) {
    const m = asObject(message);
    const content = m["content"];
    if (typeof content === "string") {
      segments.push({
        tokens: MESSAGE_OVERHEAD_TOKENS + textTokens(content),
        value: [m["role"], content],
        breakpoint: false,
        ttl1h: false,
      });
      continue;
    }
    asArray(content).forEach((block, i) => {
      const tokens = blockTokens(block) + (i === 0 ? MESSAGE_OVERHEAD_TOKENS : 0);
      segments.push({ tokens, value: [m["role"], block], ...cacheControlOf(block) });
    });
  }
  return segments;
}

/**
 * Total input tokens of a Messages request before the cache split (what `count_tokens` answers):
 * ceil(chars/4) per text block (85 per image or binary document; name + JSON input for tool_use;
 * the JSON of each tool), 4 per message and for the system prompt, plus 3 for the reply primer.
 */
export function anthropicInputTokens(body: JsonObject): number {
  let tokens = REPLY_PRIMER_TOKENS;
  for (const s of segmentsOf(body)) tokens += s.tokens;
  return tokens;
}

export interface CacheSplit {
  /** Tokens billed as plain input (Anthropic `input_tokens`). */
  readonly input: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
  readonly cacheWrite1h: number;
}

/**
 * Anthropic prompt caching, kept in memory per server: a prefix ending at a `cache_control`
 * breakpoint is written the first time it is seen and read afterwards. Like the real cache it
 * looks back over earlier block boundaries, so moving the breakpoint forward in a growing
 * conversation reads the old prefix and writes only the new part. There is no minimum cacheable
 * length here, so small test prompts cache too.
 */
export class PromptCache {
  readonly #seen = new Map<string, true>();
  readonly #max: number;

  constructor(maxEntries = 10_000) {
    this.#max = maxEntries;
  }

  clear(): void {
    this.#seen.clear();
  }

  split(body: JsonObject, forceHalf: boolean): CacheSplit {
    const segments = segmentsOf(body);
    let total = REPLY_PRIMER_TOKENS;
    for (const s of segments) total += s.tokens;
    if (forceHalf) {
      const read = Math.floor(total / 2);
      return { input: total - read, cacheRead: read, cacheWrite: 0, cacheWrite1h: 0 };
    }
    let last = -1;
    segments.forEach((s, i) => {
      if (s.breakpoint) last = i;
    });
    if (last < 0) return { input: total, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0 };

    // Hash of every prefix up to the last breakpoint; cache_control itself is not content.
    const hash: Hash = createHash("sha256").update(asString(body["model"]) ?? "");
    const keys: string[] = [];
    const prefixTokens: number[] = [];
    let running = 0;
    for (let i = 0; i <= last; i++) {
      const s = segments[i];
      if (s === undefined) break;
      hash.update(JSON.stringify(s.value, withoutCacheControl) ?? "");
      hash.update("\u0000");
      running += s.tokens;
      keys.push(hash.copy().digest("base64"));
      prefixTokens.push(running);
    }
    let read = 0;
    for (let i = keys.length - 1; i >= 0; i--) {
      if (this.#seen.has(keys[i] ?? "")) {
        read = prefixTokens[i] ?? 0;
        break;
      }
    }
    const write = running - read;
    for (let i = 0; i < keys.length; i++) {
      if (segments[i]?.breakpoint || i === keys.length - 1) this.#remember(keys[i] ?? "");
    }
    const ttl1h = segments[last]?.ttl1h === true;
    return {
      input: total - read - write,
      cacheRead: read,
      cacheWrite: ttl1h ? 0 : write,
      cacheWrite1h: ttl1h ? write : 0,
    };
  }

  #remember(key: string): void {
    if (this.#seen.has(key)) return;
    if (this.#seen.size >= this.#max) {
      const oldest = this.#seen.keys().next();
      if (!oldest.done) this.#seen.delete(oldest.value);
    }
    this.#seen.set(key, true);
  }
}

/** The last user turn's text, or the tool results that end the conversation. */
function messagesTail(messages: readonly unknown[]): PromptTail {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = asObject(messages[i]);
    if (m["role"] !== "user") continue;
    const content = m["content"];
    if (typeof content === "string") return { text: content, afterToolResult: false };
    const texts: string[] = [];
    let toolResult = false;
    for (const block of asArray(content)) {
      const b = asObject(block);
      if (b["type"] === "text") texts.push(asString(b["text"]) ?? "");
      else if (b["type"] === "tool_result") {
        toolResult = true;
        const c = b["content"];
        if (typeof c === "string") texts.push(c);
        else for (const inner of asArray(c)) texts.push(asString(asObject(inner)["text"]) ?? "");
      }
    }
    return { text: texts.join(" "), afterToolResult: toolResult };
  }
  return { text: "", afterToolResult: false };
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

interface ToolUsePlan {
  readonly id: string;
  readonly name: string;
  readonly input: Record<string, unknown>;
  readonly json: string;
}

export interface AnthropicDialect {
  messages(req: FakeRequest): FakeReply;
  countTokens(req: FakeRequest): FakeReply;
  models(req: FakeRequest): FakeReply;
  /** Forgets every cached prompt prefix. */
  resetCache(): void;
}

export function createAnthropicDialect(ids: IdSource): AnthropicDialect {
  const cache = new PromptCache();

  function validate(req: FakeRequest, needsMaxTokens: boolean): FakeReply | undefined {
    const { body, requestId } = req;
    const invalid = (message: string) => anthropicError(400, "invalid_request_error", message, requestId);
    if (typeof body["model"] !== "string" || body["model"] === "") return invalid("model: Field required");
    if (needsMaxTokens && asNumber(body["max_tokens"]) === undefined) return invalid("max_tokens: Field required");
    if (!Array.isArray(body["messages"])) return invalid("messages: Field required");
    if (body["messages"].length === 0) return invalid("messages: at least one message is required");
    return undefined;
  }

  function planTools(body: JsonObject, tail: PromptTail, req: FakeRequest): ToolUsePlan[] {
    const choice = asObject(body["tool_choice"]);
    const choiceType = asString(choice["type"]) ?? "auto";
    if (choiceType === "none") return [];
    // Client tools only: server tools (web search, code execution...) carry a versioned `type`.
    const tools = asArray(body["tools"])
      .filter(isObject)
      .filter((t) => typeof t["name"] === "string" && (t["type"] === undefined || t["type"] === "custom"));
    if (tools.length === 0) return [];
    const forced = choiceType === "tool" ? asString(choice["name"]) : undefined;
    if (forced === undefined && choiceType !== "any" && !wantsToolCall(tail, req.plan)) return [];
    const candidates = forced === undefined ? tools : tools.filter((t) => t["name"] === forced);
    const chosen = choice["disable_parallel_tool_use"] === true ? candidates.slice(0, 1) : candidates;
    return chosen.map((t) => {
      const input = fakeToolInput(t["input_schema"]);
      return { id: ids("toolu_01", 22), name: asString(t["name"]) ?? "", input, json: JSON.stringify(input) };
    });
  }

  function messages(req: FakeRequest): FakeReply {
    const invalid = validate(req, true);
    if (invalid !== undefined) return invalid;
    const { body, plan } = req;
    const model = asString(body["model"]) ?? "";
    const maxTokens = asNumber(body["max_tokens"]) ?? 0;
    const tail = messagesTail(asArray(body["messages"]));
    const split = cache.split(body, plan.scenarios.has("cache"));
    const thinkingType = asString(asObject(body["thinking"])["type"]);
    const thinkingOn = thinkingType === "enabled" || thinkingType === "adaptive";
    const refusal = plan.scenarios.has("refusal");

    // Output: thinking first (it spends the max_tokens budget first), then text, then tool calls.
    let thinking: string | undefined;
    let thinkingTokens = 0;
    let budgetLeft = maxTokens;
    let truncated = false;
    if (thinkingOn && !refusal) {
      thinking = fakeThinkingText(tail.text);
      thinkingTokens = countWords(thinking);
      if (thinkingTokens > budgetLeft) {
        thinking = firstWords(thinking, budgetLeft);
        thinkingTokens = budgetLeft;
        truncated = true;
      }
      budgetLeft -= thinkingTokens;
    }
    const toolUses = truncated || refusal || plan.scenarios.has("length") ? [] : planTools(body, tail, req);
    const forcedTool =
      toolUses.length > 0 && ["any", "tool"].includes(asString(asObject(body["tool_choice"])["type"]) ?? "");
    let text: string | undefined;
    let textTokens_ = 0;
    if (refusal) {
      text = REFUSAL_TEXT;
      textTokens_ = countWords(text);
    } else if (!truncated && !forcedTool) {
      const outcome = planText({
        fullText: fakeReplyText(tail.text, plan.replyWords),
        plan,
        limit: budgetLeft,
        reasoning: false,
        effort: undefined,
      });
      text = outcome.text;
      textTokens_ = outcome.visibleTokens;
      truncated = outcome.truncated;
    }
    let toolTokens = 0;
    for (const t of toolUses) toolTokens += toolCallTokens(t.name, t.json);
    const outputTokens = thinkingTokens + textTokens_ + toolTokens;
    const stopReason = refusal ? "refusal" : truncated ? "max_tokens" : toolUses.length > 0 ? "tool_use" : "end_turn";
    const stopDetails = refusal ? { type: "refusal", category: null, explanation: null } : null;
    const signature = thinking === undefined ? "" : thinkingSignature(thinking);

    const content: JsonObject[] = [];
    if (thinking !== undefined) content.push({ type: "thinking", thinking, signature });
    if (text !== undefined) content.push({ type: "text", text });
    for (const t of toolUses) {
      content.push({ type: "tool_use", id: t.id, name: t.name, input: t.input, caller: { type: "direct" } });
    }

    const cacheUsage = {
      input_tokens: split.input,
      cache_creation_input_tokens: split.cacheWrite + split.cacheWrite1h,
      cache_read_input_tokens: split.cacheRead,
    };
    const usage = (output: number) => ({
      ...cacheUsage,
      cache_creation: { ephemeral_5m_input_tokens: split.cacheWrite, ephemeral_1h_input_tokens: split.cacheWrite1h },
      output_tokens: output,
      output_tokens_details: thinking === undefined ? null : { thinking_tokens: thinkingTokens },
      server_tool_use: null,
      service_tier: "standard",
      inference_geo: "global",
    });
    const id = ids("msg_01", 22);
    const message = (blocks: readonly JsonObject[], final: boolean, output: number) => ({
      model,
      id,
      type: "message",
      role: "assistant",
      content: blocks,
      stop_reason: final ? stopReason : null,
      stop_sequence: null,
      stop_details: final ? stopDetails : null,
      container: null,
      usage: usage(output),
    });

    if (body["stream"] !== true) return json(message(content, true, outputTokens));

    const frames: string[] = [];
    const emit = (type: string, fields: JsonObject): void => {
      frames.push(eventFrame(type, { type, ...fields }));
    };
    emit("message_start", { message: message([], false, 1) });
    content.forEach((block, index) => {
      if (block["type"] === "thinking") {
        emit("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } });
      } else if (block["type"] === "text") {
        emit("content_block_start", { index, content_block: { type: "text", text: "" } });
      } else {
        emit("content_block_start", { index, content_block: { ...block, input: {} } });
      }
      if (index === 0) emit("ping", {});
      if (block["type"] === "thinking" && thinking !== undefined) {
        if (thinking !== "") {
          for (const d of wordDeltas(thinking)) {
            emit("content_block_delta", { index, delta: { type: "thinking_delta", thinking: d } });
          }
        }
        emit("content_block_delta", { index, delta: { type: "signature_delta", signature } });
      } else if (block["type"] === "text") {
        const t = asString(block["text"]) ?? "";
        if (t !== "") {
          for (const d of wordDeltas(t)) emit("content_block_delta", { index, delta: { type: "text_delta", text: d } });
        }
      } else {
        const jsonText = JSON.stringify(block["input"]);
        emit("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: "" } });
        for (const piece of pieces(jsonText)) {
          emit("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } });
        }
      }
      emit("content_block_stop", { index });
    });
    if (plan.scenarios.has("error_mid_stream")) {
      const kept = frames.slice(0, Math.max(1, Math.floor(frames.length / 2)));
      kept.push(
        eventFrame("error", {
          type: "error",
          error: { type: "overloaded_error", message: "Overloaded" },
          request_id: req.requestId,
        }),
      );
      return { type: "sse", headers: SSE_HEADERS, frames: kept };
    }
    // Recent API versions repeat the cumulative input and cache counts in message_delta.
    emit("message_delta", {
      delta: { stop_reason: stopReason, stop_sequence: null, stop_details: stopDetails, container: null },
      usage: {
        ...cacheUsage,
        output_tokens: outputTokens,
        output_tokens_details: thinking === undefined ? null : { thinking_tokens: thinkingTokens },
        server_tool_use: null,
      },
    });
    emit("message_stop", {});
    return { type: "sse", headers: SSE_HEADERS, frames };
  }

  function countTokens(req: FakeRequest): FakeReply {
    const invalid = validate(req, false);
    if (invalid !== undefined) return invalid;
    return json({ input_tokens: anthropicInputTokens(req.body) });
  }

  function models(): FakeReply {
    return { type: "json", status: 200, headers: JSON_HEADERS, body: MODELS_JSON };
  }

  return { messages, countTokens, models, resetCache: () => cache.clear() };
}

/** A signature-looking opaque string bound to the thinking text (the real one is verified server-side). */
function thinkingSignature(thinking: string): string {
  return Buffer.from(`fake-thinking-signature:${shortHash(thinking, 16)}:${thinking.length}`).toString("base64");
}
