import type { OutputMessage } from "./types.js";

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function textMessage(text: string): OutputMessage {
  return { role: "assistant", text, hasOtherContent: false, refusal: "", finishReason: "" };
}

function fromMessage(m: unknown): OutputMessage | undefined {
  if (typeof m === "string") return textMessage(m);
  if (!isObj(m)) return undefined;
  let text = "";
  let hasOtherContent = false;
  let refusal = str(m["refusal"]);
  const parts = m["parts"];
  if (Array.isArray(parts)) {
    for (const p of parts) {
      if (!isObj(p)) continue;
      switch (p["type"]) {
        case "text":
          text += str(p["content"]);
          break;
        case "reasoning":
          // Thinking is not the answer: a reply that is all reasoning is still an empty reply.
          break;
        case "refusal":
          // OpenAI Responses API content block; passed through unchanged by the normalizer.
          refusal ||= str(p["refusal"]) || str(p["content"]) || "refusal";
          break;
        default:
          hasOtherContent = true;
      }
    }
  } else if (typeof m["content"] === "string") {
    // An OpenAI-style message that skipped normalization.
    text = m["content"];
  }
  return {
    role: str(m["role"]) || "assistant",
    text,
    hasOtherContent,
    refusal,
    finishReason: str(m["finish_reason"]),
  };
}

/**
 * The normalized output messages (OTel GenAI `[{role, parts:[...], finish_reason}]`, see
 * normalize/messages.ts) reduced to what the evaluators need. Output that is not a JSON message
 * list is taken as one message of plain text, so nothing written by another path is lost.
 */
export function parseOutputMessages(raw: string): OutputMessage[] {
  if (raw === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return [textMessage(raw)];
  }
  if (typeof parsed !== "object" || parsed === null) {
    return [textMessage(typeof parsed === "string" ? parsed : raw)];
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const out: OutputMessage[] = [];
  for (const m of list) {
    const msg = fromMessage(m);
    if (msg) out.push(msg);
  }
  return out;
}
