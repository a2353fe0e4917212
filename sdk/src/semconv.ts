/**
 * Attribute names written by the SDK: the OpenTelemetry GenAI semantic conventions
 * (https://github.com/open-telemetry/semantic-conventions-genai, gen-ai-spans.md) and the
 * `tokenmeter.*` keys the collector reads (collector/src/normalize/attribution.ts, pipeline.ts).
 * Copied as constants rather than imported: the GenAI keys are still "Development" status and
 * not all of them ship in @opentelemetry/semantic-conventions.
 */

export const GEN_AI_OPERATION_NAME = "gen_ai.operation.name";
export const GEN_AI_PROVIDER_NAME = "gen_ai.provider.name";
export const GEN_AI_REQUEST_MODEL = "gen_ai.request.model";
export const GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens";
export const GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature";
export const GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p";
export const GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k";
export const GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty";
export const GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty";
export const GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences";
export const GEN_AI_REQUEST_SEED = "gen_ai.request.seed";
export const GEN_AI_REQUEST_STREAM = "gen_ai.request.stream";
export const GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count";
export const GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats";
export const GEN_AI_REQUEST_REASONING_LEVEL = "gen_ai.request.reasoning.level";
export const GEN_AI_OUTPUT_TYPE = "gen_ai.output.type";
export const GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count";

export const GEN_AI_RESPONSE_ID = "gen_ai.response.id";
export const GEN_AI_RESPONSE_MODEL = "gen_ai.response.model";
export const GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons";
export const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk";

export const GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens";
export const GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens";
export const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens";
export const GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens";
export const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens";

export const GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions";
export const GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages";
export const GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages";

export const OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier";
export const OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier";
export const OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint";

export const ERROR_TYPE = "error.type";
export const HTTP_RESPONSE_STATUS_CODE = "http.response.status_code";
export const SERVER_ADDRESS = "server.address";
export const SERVER_PORT = "server.port";

/** Marks the span as written by the SDK (the collector's `source` column). */
export const TOKENMETER_SOURCE = "tokenmeter.source";
/** `cancelled` when the caller stopped a call before it finished (break, abort). */
export const TOKENMETER_STATUS = "tokenmeter.status";
/** Set when captured content was cut to fit `maxContentChars`. */
export const TOKENMETER_CONTENT_TRUNCATED = "tokenmeter.content_truncated";
export const TOKENMETER_ENVIRONMENT = "tokenmeter.environment";
