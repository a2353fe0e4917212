/** Anthropic content blocks converted to the OpenTelemetry GenAI parts format. */
import { blobPart, textPart } from "../content.js";
import { asArray, asObject, type JsonObject, snapshot, str } from "../json.js";
import type { GenAIMessage, GenAIPart } from "../types.js";

function sourcePart(source: JsonObject | undefined, modality: string): GenAIPart | undefined {
  if (source === undefined) return undefined;
  const mime = str(source["media_type"]);
  switch (source["type"]) {
    case "base64":
      return blobPart(modality, str(source["data"]) ?? "", mime);
    case "url":
      return { type: "uri", modality, uri: str(source["url"]) ?? "" };
    case "file":
      return { type: "file", modality, file_id: str(source["file_id"]) ?? "" };
    case "text":
      return textPart(str(source["data"]) ?? "");
    default:
      return undefined;
  }
}

/** A tool result's content: a string, or the text of its blocks. */
function toolResult(content: unknown): unknown {
  if (typeof content === "string") return content;
  const texts: string[] = [];
  for (const block of asArray(content)) {
    const text = str(asObject(block)?.["text"]);
    if (text !== undefined) texts.push(text);
  }
  return texts.length > 0 ? texts.join("\n") : snapshot(content);
}

export function blockPart(raw: unknown): GenAIPart | undefined {
  if (typeof raw === "string") return textPart(raw);
  const b = asObject(raw);
  if (b === undefined) return undefined;
  switch (b["type"]) {
    case "text":
      return textPart(str(b["text"]) ?? "");
    case "thinking":
      return { type: "reasoning", content: str(b["thinking"]) ?? "" };
    case "redacted_thinking":
      // Encrypted by the provider: nothing readable to record.
      return undefined;
    case "image":
      return sourcePart(asObject(b["source"]), "image");
    case "document":
      return sourcePart(asObject(b["source"]), "document");
    case "tool_use":
    case "server_tool_use":
      return { type: "tool_call", id: str(b["id"]) ?? "", name: str(b["name"]) ?? "", arguments: snapshot(b["input"]) };
    case "tool_result":
      return { type: "tool_call_response", id: str(b["tool_use_id"]) ?? "", response: toolResult(b["content"]) };
    default:
      return typeof b["type"] === "string" ? (snapshot(b) as GenAIPart) : undefined;
  }
}

export function blockParts(content: unknown): GenAIPart[] {
  if (typeof content === "string") return [textPart(content)];
  const parts: GenAIPart[] = [];
  for (const block of asArray(content)) {
    const part = blockPart(block);
    if (part !== undefined) parts.push(part);
  }
  return parts;
}

/** `messages` of a request -> input messages. */
export function inputMessages(messages: unknown): GenAIMessage[] {
  const out: GenAIMessage[] = [];
  for (const raw of asArray(messages)) {
    const m = asObject(raw);
    if (m === undefined) continue;
    out.push({ role: str(m["role"]) ?? "user", parts: blockParts(m["content"]) });
  }
  return out;
}
