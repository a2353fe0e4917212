import { asArray, asObject, type JsonObject, str } from "../json.js";
import type { LlmCall } from "../llm-call.js";
import type { GenAIMessage } from "../types.js";
import { chatUsage } from "./usage.js";

/**
 * A whole `choices[]` answer (chat and legacy completions): finish reasons, response id and
 * model, usage, and one output message per choice, built by `message` when content is captured.
 */
export function recordChoicesResponse(
  data: JsonObject,
  call: LlmCall,
  message: (choice: JsonObject, finish: string | undefined) => GenAIMessage,
): void {
  const finishReasons: string[] = [];
  const messages: GenAIMessage[] = [];
  for (const raw of asArray(data["choices"])) {
    const choice = asObject(raw);
    if (choice === undefined) continue;
    const finish = str(choice["finish_reason"]);
    if (finish !== undefined) finishReasons.push(finish);
    if (call.capture) messages.push(message(choice, finish));
  }
  call.setResponse({ id: str(data["id"]), model: str(data["model"]), finishReasons });
  const usage = asObject(data["usage"]);
  if (usage !== undefined) call.setUsage(chatUsage(usage));
  call.setOutputMessages(messages);
}
