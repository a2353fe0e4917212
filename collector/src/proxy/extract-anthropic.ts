/**
 * Facts from Anthropic Messages answers, whole or streamed. Anthropic's `input_tokens` EXCLUDES
 * the prompt-cache reads and writes reported beside it (cache_read_input_tokens,
 * cache_creation_input_tokens); the OTel attribute includes them, so they are added here.
 * Streams report usage twice: `message_start` (input and cache, output 1) and `message_delta`
 * (cumulative output; recent API versions repeat input and cache there too).
 */
import {
  type CallCapture,
  countOf,
  isObj,
  type JsonObj,
  jsonStringAt,
  parseJson,
  strOf,
  type Usage,
} from "./call-capture.js";

/** Raw Anthropic usage seen so far, kept to recombine partial reports. */
export interface AnthropicUsageState {
  input: number | undefined;
  cacheRead: number;
  cacheWrite: number;
}

function applyUsage(cap: CallCapture, state: AnthropicUsageState, u: JsonObj, final: boolean): void {
  const input = countOf(u["input_tokens"]);
  const cacheRead = countOf(u["cache_read_input_tokens"]);
  const cacheWrite = countOf(u["cache_creation_input_tokens"]);
  if (input !== undefined) state.input = input;
  if (cacheRead !== undefined) state.cacheRead = cacheRead;
  if (cacheWrite !== undefined) state.cacheWrite = cacheWrite;
  const out: Partial<Usage> = {};
  if (state.input !== undefined) {
    out.input = state.input + state.cacheRead + state.cacheWrite;
    out.cacheRead = state.cacheRead;
    out.cacheWrite = state.cacheWrite;
  }
  const output = countOf(u["output_tokens"]);
  if (output !== undefined) out.output = output;
  const details = u["output_tokens_details"];
  if (isObj(details)) {
    const thinking = countOf(details["thinking_tokens"]) ?? countOf(details["reasoning_tokens"]);
    if (thinking !== undefined) out.reasoning = thinking;
  }
  cap.mergeUsage(out, final);
}

function readHead(cap: CallCapture, m: JsonObj): void {
  if (cap.responseId === "") cap.responseId = strOf(m["id"]);
  if (cap.responseModel === "") cap.responseModel = strOf(m["model"]);
}

function contentBlock(cap: CallCapture, index: number, b: JsonObj): void {
  switch (b["type"]) {
    case "text":
      cap.appendText(0, "text", strOf(b["text"]));
      return;
    case "thinking":
      cap.appendText(0, "reasoning", strOf(b["thinking"]));
      return;
    case "tool_use":
    case "server_tool_use": {
      cap.toolCall(0, index, strOf(b["id"]), strOf(b["name"]));
      const input = b["input"];
      // Streams start tool_use blocks with an empty input and send it as input_json_delta.
      if (isObj(input) && Object.keys(input).length > 0) cap.toolArgs(0, index, JSON.stringify(input));
      return;
    }
  }
}

export function newAnthropicUsageState(): AnthropicUsageState {
  return { input: undefined, cacheRead: 0, cacheWrite: 0 };
}

const TEXT_DELTA = '"delta":{"type":"text_delta","text":"';

/** A text delta read without a full parse (nearly every event of a stream); false: parse it. */
function fastTextDelta(cap: CallCapture, event: string, data: string): boolean {
  if (event !== "content_block_delta") return false;
  const at = data.indexOf(TEXT_DELTA);
  if (at < 0) return false;
  const s = jsonStringAt(data, at + TEXT_DELTA.length - 1);
  // The delta object must end right after the text, and the event right after the delta.
  if (s === undefined || data.charCodeAt(s.end) !== 125 || data.charCodeAt(s.end + 1) !== 125) return false;
  cap.appendText(0, "text", s.value);
  return true;
}

/** One SSE event of a Messages stream. */
export function anthropicStreamEvent(cap: CallCapture, state: AnthropicUsageState, event: string, data: string): void {
  if (fastTextDelta(cap, event, data)) return;
  const o = parseJson(data);
  if (!isObj(o)) return;
  switch (event || strOf(o["type"])) {
    case "content_block_delta": {
      const d = o["delta"];
      if (!isObj(d)) return;
      const index = countOf(o["index"]) ?? 0;
      switch (d["type"]) {
        case "text_delta":
          cap.appendText(0, "text", strOf(d["text"]));
          return;
        case "input_json_delta":
          cap.toolArgs(0, index, strOf(d["partial_json"]));
          return;
        case "thinking_delta":
          cap.appendText(0, "reasoning", strOf(d["thinking"]));
          return;
      }
      return;
    }
    case "content_block_start": {
      const b = o["content_block"];
      if (isObj(b)) contentBlock(cap, countOf(o["index"]) ?? 0, b);
      return;
    }
    case "message_start": {
      const m = o["message"];
      if (!isObj(m)) return;
      readHead(cap, m);
      if (isObj(m["usage"])) applyUsage(cap, state, m["usage"], false);
      return;
    }
    case "message_delta": {
      const d = o["delta"];
      if (isObj(d)) cap.setResponseFinish(strOf(d["stop_reason"]));
      if (isObj(o["usage"])) applyUsage(cap, state, o["usage"], true);
      return;
    }
    case "error":
      cap.errorType = isObj(o["error"]) ? strOf(o["error"]["type"]) || "error" : "error";
      return;
  }
}

/** A whole (non-streamed) Messages answer. */
export function anthropicJson(cap: CallCapture, body: unknown): void {
  if (!isObj(body)) return;
  if (body["type"] === "error") {
    cap.errorType = isObj(body["error"]) ? strOf(body["error"]["type"]) || "error" : "error";
    return;
  }
  readHead(cap, body);
  const content = body["content"];
  if (Array.isArray(content)) {
    for (let i = 0; i < content.length; i++) {
      const b = content[i];
      if (isObj(b)) contentBlock(cap, i, b);
    }
  }
  cap.setResponseFinish(strOf(body["stop_reason"]));
  if (isObj(body["usage"])) applyUsage(cap, newAnthropicUsageState(), body["usage"], true);
}
