/**
 * @tokenmeter/sdk: instrument OpenAI and Anthropic clients in three lines.
 *
 * ```ts
 * import OpenAI from "openai";
 * import { init, observeOpenAI } from "@tokenmeter/sdk";
 * init({ serviceName: "support-bot" });
 * const openai = observeOpenAI(new OpenAI());
 * ```
 *
 * Everything exported here is public; nothing else is.
 */
export { observeAnthropic } from "./anthropic/observe.js";
export { withAttributes } from "./attribution.js";
export type { InitOptions } from "./config.js";
export { type SdkErrorCode, TokenmeterSdkError } from "./errors.js";
export { init } from "./init.js";
export { observeOpenAI } from "./openai/observe.js";
export { recordScore } from "./scores.js";
export { type SpanProcessorOptions, tokenmeterSpanProcessor } from "./span-processor.js";
export { traceLLMCall } from "./trace-llm-call.js";
export type {
  Attribution,
  GenAIMessage,
  GenAIPart,
  LLMCallHandle,
  LLMCallInfo,
  MessageInput,
  ObserveOptions,
  RedactFn,
  ScoreInput,
  ScoreOptions,
  ScoreResult,
  TokenmeterHandle,
  TokenUsage,
} from "./types.js";
export { SDK_VERSION } from "./version.js";
