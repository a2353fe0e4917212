/**
 * A local fake LLM provider speaking the OpenAI and Anthropic wire formats, for tests,
 * benchmarks and `tokenmeter demo`. The token helpers are public so tests can compute the exact
 * usage numbers a response will carry.
 */
export { anthropicInputTokens } from "./anthropic.js";
export {
  openaiChatPromptTokens,
  openaiCompletionPromptTokens,
  openaiResponseModel,
  openaiResponsesInputTokens,
} from "./openai.js";
export {
  CHUNK_DELAY_HEADER,
  countWords,
  DELAY_HEADER,
  fakeReplyText,
  fakeThinkingText,
  IMAGE_TOKENS,
  MESSAGE_OVERHEAD_TOKENS,
  openaiCachedTokens,
  REFUSAL_TEXT,
  REPLY_PRIMER_TOKENS,
  REPLY_WORDS_HEADER,
  reasoningTokensFor,
  SCENARIO_HEADER,
  SCENARIO_MODEL_PREFIX,
  SCENARIOS,
  type ScenarioName,
  TOOL_CALL_OVERHEAD_TOKENS,
  textTokens,
  toolCallTokens,
} from "./scenarios.js";
export { type FakeProvider, type FakeProviderOptions, type RecordedRequest, startFakeProvider } from "./server.js";
