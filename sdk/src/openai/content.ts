/**
 * OpenAI message shapes (chat completions and Responses API items) converted to the
 * OpenTelemetry GenAI parts format.
 */
import { blobPart, textPart } from "../content.js";
import { asArray, asObject, isObject, type JsonObject, parseArguments, snapshot, str } from "../json.js";
import type { GenAIMessage, GenAIPart } from "../types.js";

/** OpenAI's `developer` role is the system role of newer models. */
export function otelRole(role: unknown): string {
  if (role === "developer") return "system";
  return typeof role === "string" && role !== "" ? role : "user";
}

/** `data:<mime>;base64,<payload>` -> a blob part; any other URL -> a uri part. */
export function urlPart(url: string, modality: string): GenAIPart {
  if (url.startsWith("data:")) {
    const comma = url.indexOf(",");
    const meta = url.slice(5, comma < 0 ? undefined : comma);
    return blobPart(modality, comma < 0 ? "" : url.slice(comma + 1), meta.split(";")[0]);
  }
  return { type: "uri", modality, uri: url };
}

function filePart(file: JsonObject): GenAIPart | undefined {
  const id = str(file["file_id"]);
  if (id !== undefined) return { type: "file", file_id: id };
  const data = str(file["file_data"]);
  if (data !== undefined) return urlPart(data, "document");
  const url = str(file["file_url"]);
  return url === undefined ? undefined : { type: "uri", modality: "document", uri: url };
}

/** One content part of a chat completions message or a Responses input item. */
function contentPart(raw: unknown): GenAIPart | undefined {
  if (typeof raw === "string") return textPart(raw);
  const p = asObject(raw);
  if (p === undefined) return undefined;
  switch (p["type"]) {
    case "text":
    case "input_text":
    case "output_text":
      return textPart(str(p["text"]) ?? "");
    case "refusal":
      return textPart(str(p["refusal"]) ?? "");
    case "image_url": {
      const url = str(asObject(p["image_url"])?.["url"]);
      return url === undefined ? undefined : urlPart(url, "image");
    }
    case "input_image": {
      const url = str(p["image_url"]);
      if (url !== undefined) return urlPart(url, "image");
      const id = str(p["file_id"]);
      return id === undefined ? undefined : { type: "file", modality: "image", file_id: id };
    }
    case "input_audio": {
      const audio = asObject(p["input_audio"]);
      const data = str(audio?.["data"]);
      if (data === undefined) return undefined;
      const format = str(audio?.["format"]);
      return blobPart("audio", data, format === undefined ? undefined : `audio/${format}`);
    }
    case "file":
      return filePart(asObject(p["file"]) ?? {});
    case "input_file":
      return filePart(p);
    default:
      // A part type this SDK does not know yet: keep it as the API spelled it.
      return typeof p["type"] === "string" ? (snapshot(p) as GenAIPart) : undefined;
  }
}

export function contentParts(content: unknown): GenAIPart[] {
  if (typeof content === "string") return [textPart(content)];
  const parts: GenAIPart[] = [];
  for (const raw of asArray(content)) {
    const part = contentPart(raw);
    if (part !== undefined) parts.push(part);
  }
  return parts;
}

function toolCallPart(call: JsonObject): GenAIPart {
  const fn = asObject(call["function"]) ?? asObject(call["custom"]) ?? {};
  const args = str(fn["arguments"]) ?? str(fn["input"]);
  return {
    type: "tool_call",
    id: str(call["id"]) ?? "",
    name: str(fn["name"]) ?? "",
    arguments: args === undefined ? undefined : parseArguments(args),
  };
}

/** Chat completions `messages` -> input messages. */
export function chatInputMessages(messages: unknown): GenAIMessage[] {
  const out: GenAIMessage[] = [];
  for (const raw of asArray(messages)) {
    const m = asObject(raw);
    if (m === undefined) continue;
    if (m["role"] === "tool") {
      out.push({
        role: "tool",
        parts: [{ type: "tool_call_response", id: str(m["tool_call_id"]) ?? "", response: toolResponse(m["content"]) }],
      });
      continue;
    }
    const parts = contentParts(m["content"]);
    const refusal = str(m["refusal"]);
    if (refusal) parts.push(textPart(refusal));
    for (const call of asArray(m["tool_calls"])) if (isObject(call)) parts.push(toolCallPart(call));
    const message: GenAIMessage = { role: otelRole(m["role"]), parts };
    const name = str(m["name"]);
    if (name !== undefined) message.name = name;
    out.push(message);
  }
  return out;
}

/** A tool result's content: text stays text, part lists become their joined text. */
export function toolResponse(content: unknown): unknown {
  if (typeof content === "string") return content;
  const texts: string[] = [];
  for (const part of asArray(content)) {
    const text = str(asObject(part)?.["text"]) ?? str(asObject(part)?.["output"]);
    if (text !== undefined) texts.push(text);
  }
  return texts.length > 0 ? texts.join("\n") : snapshot(content);
}

/** One chat completion choice's message -> output message. */
export function chatOutputMessage(message: JsonObject | undefined, finishReason: string | undefined): GenAIMessage {
  const parts: GenAIPart[] = [];
  if (message !== undefined) {
    const content = message["content"];
    if (typeof content === "string" && content !== "") parts.push(textPart(content));
    else if (Array.isArray(content)) parts.push(...contentParts(content));
    const refusal = str(message["refusal"]);
    if (refusal) parts.push(textPart(refusal));
    for (const call of asArray(message["tool_calls"])) if (isObject(call)) parts.push(toolCallPart(call));
  }
  const out: GenAIMessage = { role: otelRole(message?.["role"] ?? "assistant"), parts };
  if (finishReason !== undefined) out.finish_reason = finishReason;
  return out;
}

/** Responses API `input` (a string or a list of items) -> input messages. */
export function responsesInputMessages(input: unknown): GenAIMessage[] {
  if (typeof input === "string") return [{ role: "user", parts: [textPart(input)] }];
  const out: GenAIMessage[] = [];
  for (const raw of asArray(input)) {
    const item = asObject(raw);
    if (item === undefined) continue;
    const type = item["type"];
    if (type === "function_call" || type === "custom_tool_call") {
      out.push({ role: "assistant", parts: [responsesToolCall(item)] });
    } else if (type === "function_call_output" || type === "custom_tool_call_output") {
      out.push({
        role: "tool",
        parts: [{ type: "tool_call_response", id: str(item["call_id"]) ?? "", response: toolResponse(item["output"]) }],
      });
    } else if (type === "reasoning") {
      const text = reasoningText(item);
      if (text !== "") out.push({ role: "assistant", parts: [{ type: "reasoning", content: text }] });
    } else if (type === undefined || type === "message") {
      out.push({ role: otelRole(item["role"]), parts: contentParts(item["content"]) });
    } else if (typeof type === "string") {
      out.push({ role: "user", parts: [{ ...(snapshot(item) as JsonObject), type } as GenAIPart] });
    }
  }
  return out;
}

function responsesToolCall(item: JsonObject): GenAIPart {
  const args = str(item["arguments"]) ?? str(item["input"]);
  return {
    type: "tool_call",
    id: str(item["call_id"]) ?? str(item["id"]) ?? "",
    name: str(item["name"]) ?? "",
    arguments: args === undefined ? undefined : parseArguments(args),
  };
}

function reasoningText(item: JsonObject): string {
  const texts: string[] = [];
  for (const s of asArray(item["summary"])) {
    const text = str(asObject(s)?.["text"]);
    if (text) texts.push(text);
  }
  for (const c of asArray(item["content"])) {
    const text = str(asObject(c)?.["text"]);
    if (text) texts.push(text);
  }
  return texts.join("\n");
}

/** A Responses API `output` list -> the parts of one assistant message. */
export function responsesOutputParts(output: unknown): GenAIPart[] {
  const parts: GenAIPart[] = [];
  for (const raw of asArray(output)) {
    const item = asObject(raw);
    if (item === undefined) continue;
    switch (item["type"]) {
      case "message":
        parts.push(...contentParts(item["content"]));
        break;
      case "function_call":
      case "custom_tool_call":
        parts.push(responsesToolCall(item));
        break;
      case "reasoning": {
        const text = reasoningText(item);
        if (text !== "") parts.push({ type: "reasoning", content: text });
        break;
      }
      default:
        if (typeof item["type"] === "string") parts.push(snapshot(item) as GenAIPart);
    }
  }
  return parts;
}
