/**
 * Facts from OpenAI-format answers (OpenAI and the OpenAI-compatible upstreams): chat
 * completions, legacy completions, embeddings and the Responses API, whole JSON bodies or
 * stream events. Usage fields per the API reference: chat/completions report prompt_tokens
 * (cached included) and completion_tokens (reasoning included); Responses reports input_tokens /
 * output_tokens with the same inclusions. Both match the OTel definitions as they are.
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
import type { Endpoint } from "./routes.js";

function chatUsage(u: JsonObj): Partial<Usage> {
  const out: Partial<Usage> = {};
  const input = countOf(u["prompt_tokens"]) ?? countOf(u["input_tokens"]);
  const output = countOf(u["completion_tokens"]) ?? countOf(u["output_tokens"]);
  if (input !== undefined) out.input = input;
  out.output = output ?? 0;
  const inDetails = u["prompt_tokens_details"] ?? u["input_tokens_details"];
  const outDetails = u["completion_tokens_details"] ?? u["output_tokens_details"];
  if (isObj(inDetails)) {
    const cached = countOf(inDetails["cached_tokens"]);
    if (cached !== undefined) out.cacheRead = cached;
  }
  if (isObj(outDetails)) {
    const reasoning = countOf(outDetails["reasoning_tokens"]);
    if (reasoning !== undefined) out.reasoning = reasoning;
  }
  return out;
}

function readHead(cap: CallCapture, o: JsonObj): void {
  if (cap.responseId === "") cap.responseId = strOf(o["id"]);
  if (cap.responseModel === "") cap.responseModel = strOf(o["model"]);
}

function errorTypeOf(e: unknown): string {
  if (!isObj(e)) return "error";
  return strOf(e["type"]) || strOf(e["code"]) || "error";
}

// ---------------------------------------------------------------------------------------------
// Chat completions and legacy completions

function chatToolCalls(cap: CallCapture, index: number, calls: unknown, streamed: boolean): void {
  if (!Array.isArray(calls)) return;
  for (let j = 0; j < calls.length; j++) {
    const tc = calls[j];
    if (!isObj(tc)) continue;
    const at = streamed ? (countOf(tc["index"]) ?? j) : j;
    const fn = isObj(tc["function"]) ? tc["function"] : undefined;
    cap.toolCall(index, at, strOf(tc["id"]), strOf(fn?.["name"]));
    cap.toolArgs(index, at, strOf(fn?.["arguments"]));
  }
}

function chatMessage(cap: CallCapture, index: number, m: JsonObj, streamed: boolean): void {
  const content = m["content"];
  if (typeof content === "string") cap.appendText(index, "text", content);
  // DeepSeek, vLLM and others stream reasoning beside the content.
  const reasoning = m["reasoning_content"] ?? m["reasoning"];
  if (typeof reasoning === "string") cap.appendText(index, "reasoning", reasoning);
  const refusal = m["refusal"];
  if (typeof refusal === "string") cap.appendText(index, "refusal", refusal);
  chatToolCalls(cap, index, m["tool_calls"], streamed);
}

function chatLike(cap: CallCapture, o: JsonObj, streamed: boolean): void {
  if (o["error"] !== undefined && o["choices"] === undefined) {
    cap.errorType = errorTypeOf(o["error"]);
    return;
  }
  readHead(cap, o);
  const choices = o["choices"];
  if (Array.isArray(choices)) {
    for (let i = 0; i < choices.length; i++) {
      const c = choices[i];
      if (!isObj(c)) continue;
      const index = countOf(c["index"]) ?? i;
      const msg = streamed ? c["delta"] : c["message"];
      if (isObj(msg)) chatMessage(cap, index, msg, streamed);
      // Legacy completions carry `text` on the choice.
      const text = c["text"];
      if (typeof text === "string") cap.appendText(index, "text", text);
      const finish = c["finish_reason"];
      if (typeof finish === "string") cap.setFinish(index, finish);
    }
  }
  const usage = o["usage"];
  if (isObj(usage)) cap.mergeUsage(chatUsage(usage), true);
}

// ---------------------------------------------------------------------------------------------
// Responses API

/** Responses has a status, not a finish reason: map it onto the chat vocabulary. */
function responsesFinish(r: JsonObj, hasToolCalls: boolean): string {
  switch (strOf(r["status"])) {
    case "completed":
      return hasToolCalls ? "tool_calls" : "stop";
    case "incomplete": {
      const reason = isObj(r["incomplete_details"]) ? strOf(r["incomplete_details"]["reason"]) : "";
      return reason === "max_output_tokens" ? "length" : reason || "incomplete";
    }
    case "failed":
      return "error";
    case "cancelled":
      return "cancelled";
    default:
      return "";
  }
}

/** The final response object: usage, status and (for non-streamed answers) the output items. */
function responseObject(cap: CallCapture, r: JsonObj, withOutput: boolean): void {
  readHead(cap, r);
  let toolCalls = false;
  const output = r["output"];
  if (Array.isArray(output)) {
    for (let i = 0; i < output.length; i++) {
      const item = output[i];
      if (!isObj(item)) continue;
      const type = item["type"];
      if (type === "function_call" || type === "custom_tool_call") {
        toolCalls = true;
        if (withOutput) {
          cap.toolCall(0, i, strOf(item["call_id"]), strOf(item["name"]));
          cap.toolArgs(0, i, strOf(item["arguments"]) || strOf(item["input"]));
        }
      } else if (!withOutput) {
      } else if (type === "message" && Array.isArray(item["content"])) {
        for (const part of item["content"]) {
          if (!isObj(part)) continue;
          if (part["type"] === "output_text") cap.appendText(0, "text", strOf(part["text"]));
          else if (part["type"] === "refusal") cap.appendText(0, "refusal", strOf(part["refusal"]));
        }
      } else if (type === "reasoning" && Array.isArray(item["summary"])) {
        for (const s of item["summary"]) if (isObj(s)) cap.appendText(0, "reasoning", strOf(s["text"]));
      }
    }
  }
  cap.setResponseFinish(responsesFinish(r, toolCalls));
  const usage = r["usage"];
  if (isObj(usage)) cap.mergeUsage(chatUsage(usage), true);
  if (r["status"] === "failed") cap.errorType = isObj(r["error"]) ? strOf(r["error"]["code"]) || "error" : "error";
}

function responsesEvent(cap: CallCapture, event: string, o: JsonObj): void {
  const type = event || strOf(o["type"]);
  switch (type) {
    case "response.output_text.delta":
      cap.appendText(0, "text", strOf(o["delta"]));
      return;
    case "response.refusal.delta":
      cap.appendText(0, "refusal", strOf(o["delta"]));
      return;
    case "response.reasoning_summary_text.delta":
    case "response.reasoning_text.delta":
      cap.appendText(0, "reasoning", strOf(o["delta"]));
      return;
    case "response.output_item.added": {
      const item = o["item"];
      if (isObj(item) && (item["type"] === "function_call" || item["type"] === "custom_tool_call")) {
        cap.toolCall(0, countOf(o["output_index"]) ?? 0, strOf(item["call_id"]), strOf(item["name"]));
      }
      return;
    }
    case "response.function_call_arguments.delta":
    case "response.custom_tool_call_input.delta":
      cap.toolArgs(0, countOf(o["output_index"]) ?? 0, strOf(o["delta"]));
      return;
    case "response.created":
    case "response.in_progress":
      if (isObj(o["response"])) readHead(cap, o["response"]);
      return;
    case "response.completed":
    case "response.incomplete":
    case "response.failed":
      if (isObj(o["response"])) responseObject(cap, o["response"], false);
      return;
    case "error":
      cap.errorType = strOf(o["code"]) || errorTypeOf(o["error"]);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points

const CHAT_CONTENT_DELTA = '"choices":[{"index":0,"delta":{"content":"';
const RESPONSES_TEXT_DELTA = '"delta":"';
const FINISH_NULL = '"finish_reason":null';

/**
 * The events that carry one text delta and nothing else the tap needs, read without a full
 * parse (they are nearly every event of a stream). Anything that does not match the expected
 * shape exactly returns false and is parsed in full.
 */
function fastTextDelta(cap: CallCapture, endpoint: Endpoint, event: string, data: string): boolean {
  if (endpoint === "responses") {
    if (event !== "response.output_text.delta") return false;
    const at = data.indexOf(RESPONSES_TEXT_DELTA);
    if (at < 0) return false;
    const s = jsonStringAt(data, at + RESPONSES_TEXT_DELTA.length - 1);
    if (s === undefined) return false;
    cap.appendText(0, "text", s.value);
    return true;
  }
  // One choice (index 0) whose delta holds only content, no finish reason, no usage:
  //   "choices":[{"index":0,"delta":{"content":"…"},("logprobs":null,)"finish_reason":null}]
  const at = data.indexOf(CHAT_CONTENT_DELTA);
  if (at < 0) return false;
  const s = jsonStringAt(data, at + CHAT_CONTENT_DELTA.length - 1);
  if (s === undefined || data.charCodeAt(s.end) !== 125 /* } */) return false;
  let i = s.end + 1;
  if (data.startsWith(',"logprobs":null', i)) i += 16;
  if (!data.startsWith(",", i) || !data.startsWith(FINISH_NULL, i + 1)) return false;
  i += 1 + FINISH_NULL.length;
  if (!data.startsWith("}]", i)) return false;
  const usage = data.indexOf('"usage":', i);
  if (usage >= 0 && !data.startsWith("null", usage + 8)) return false;
  cap.appendText(0, "text", s.value);
  return true;
}

/** One SSE event of an OpenAI-format stream. */
export function openaiStreamEvent(cap: CallCapture, endpoint: Endpoint, event: string, data: string): void {
  if (data === "[DONE]") return;
  if (cap.responseId !== "" && fastTextDelta(cap, endpoint, event, data)) return;
  const o = parseJson(data);
  if (!isObj(o)) return;
  if (endpoint === "responses") responsesEvent(cap, event, o);
  else chatLike(cap, o, true);
}

/** A whole (non-streamed) OpenAI-format answer. */
export function openaiJson(cap: CallCapture, endpoint: Endpoint, body: unknown): void {
  if (!isObj(body)) return;
  switch (endpoint) {
    case "responses":
      responseObject(cap, body, true);
      return;
    case "embeddings": {
      readHead(cap, body);
      const usage = body["usage"];
      if (isObj(usage)) {
        const input = countOf(usage["prompt_tokens"]) ?? countOf(usage["total_tokens"]) ?? 0;
        cap.mergeUsage({ input, output: 0 }, true);
      }
      return;
    }
    default:
      chatLike(cap, body, false);
  }
}

/** Usage only, from a fragment of a JSON body too large to parse whole (embeddings). */
export function openaiUsageFromTail(cap: CallCapture, endpoint: Endpoint, tail: string): void {
  const at = tail.lastIndexOf('"usage"');
  if (at < 0) return;
  const open = tail.indexOf("{", at);
  if (open < 0) return;
  let depth = 0;
  for (let i = open; i < tail.length; i++) {
    const c = tail.charCodeAt(i);
    if (c === 123) depth++;
    else if (c === 125 && --depth === 0) {
      const usage = parseJson(tail.slice(open, i + 1));
      if (!isObj(usage)) return;
      if (endpoint === "embeddings") {
        cap.mergeUsage({ input: countOf(usage["prompt_tokens"]) ?? 0, output: 0 }, true);
      } else {
        cap.mergeUsage(chatUsage(usage), true);
      }
      return;
    }
  }
}
