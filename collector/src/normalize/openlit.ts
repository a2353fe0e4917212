/**
 * OpenLIT (the `openlit` npm and PyPI SDKs).
 *
 * OpenLIT writes the OTel GenAI keys (read by the otel_genai adapter) plus its own:
 * - `gen_ai.usage.cost`: what the call cost by OpenLIT's price list, in USD (kept as reported;
 *   0 for a model missing from that list, which is stored as unknown);
 * - its own provider spellings in gen_ai.system / gen_ai.provider.name ("vLLM", "Groq", ...);
 * - `gen_ai.usage.prompt_tokens_details.cached_tokens` and
 *   `gen_ai.usage.completion_tokens_details.reasoning_tokens` beside the OTel cache/reasoning keys;
 * - `gen_ai.server.time_to_first_token` (seconds) and `gen_ai.request.is_stream`;
 * - `gen_ai.application_name` / `service.name` and `deployment.environment` copied onto spans,
 *   `telemetry.sdk.name` = "openlit";
 * - `gen_ai.request.user` (the `user` request parameter) beside `user.id`;
 * - the system prompt in gen_ai.input.messages AND gen_ai.system_instructions.
 * Framework, agent and vector-store spans carry other operation names and are not model calls.
 */
import type { DecodedSpan } from "../otlp/types.js";
import { bool, firstNum, firstStr, hasAny, str } from "./attr.js";
import { otelMessages } from "./messages.js";
import { extractOtelGenAi, isModelCallOperation, normalizeProvider, otelOperation, secondsToMs } from "./otel-genai.js";
import type { UsageKeys } from "./span-facts.js";
import type { CallFacts, ConventionAdapter, SpanClassification } from "./types.js";

export const OPENLIT = "openlit";

const SCOPE_PREFIXES = ["@openlit/", "openlit"] as const;
const DETECT_KEYS = ["gen_ai.application_name", "gen_ai.sdk.version", "gen_ai.usage.cost"] as const;

const USAGE_KEYS: UsageKeys = {
  input: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
  output: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"],
  cacheRead: [
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.prompt_tokens_details.cached_tokens",
    "gen_ai.usage.cache_read_input_tokens",
  ],
  cacheWrite: [
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
  ],
  reasoning: [
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.completion_tokens_details.reasoning_tokens",
  ],
};
const TTFT_SECONDS_KEYS = ["gen_ai.server.time_to_first_token", "gen_ai.response.time_to_first_chunk"] as const;
const USER_KEYS = ["user.id", "gen_ai.request.user", "enduser.id"] as const;
const PROVIDER_KEYS = ["gen_ai.provider.name", "gen_ai.system"] as const;
const APP_KEYS = ["gen_ai.application_name", "service.name"] as const;

function detect(span: DecodedSpan): boolean {
  const a = span.attributes;
  if (a["telemetry.sdk.name"] === "openlit") return true;
  const scope = span.scope.name;
  if (scope.startsWith(SCOPE_PREFIXES[0]) || scope.startsWith(SCOPE_PREFIXES[1])) return true;
  return hasAny(a, DETECT_KEYS);
}

function classify(span: DecodedSpan): SpanClassification {
  const operation = otelOperation(span.attributes);
  return { convention: OPENLIT, operation, isModelCall: isModelCallOperation(operation) };
}

/**
 * OpenLIT's Anthropic instrumentations write Anthropic's `input_tokens`, which leaves out cache
 * reads and writes, as gen_ai.usage.input_tokens and the cache counts beside it (JS 1.15
 * dist/instrumentation/anthropic/wrapper.js; Python openlit/instrumentation/anthropic/utils.py
 * common_chat_logic). Its other providers report the OTel total.
 */
const INPUT_EXCLUDES_CACHE_PROVIDERS: ReadonlySet<string> = new Set(["anthropic"]);

function extract(span: DecodedSpan): CallFacts {
  const a = span.attributes;
  const provider = normalizeProvider(firstStr(a, PROVIDER_KEYS) ?? "");
  const facts = extractOtelGenAi(span, USAGE_KEYS, {
    inputExcludesCache: INPUT_EXCLUDES_CACHE_PROVIDERS.has(provider),
  });

  // OpenLIT writes the system prompt both into gen_ai.input.messages and into
  // gen_ai.system_instructions; prepending the latter would show it twice.
  const inRaw = a["gen_ai.input.messages"];
  if (inRaw !== undefined && inRaw !== null && a["gen_ai.system_instructions"] !== undefined) {
    const own = otelMessages(inRaw);
    if (own.messages.some((m) => m.role === "system")) facts.input = own.json;
  }

  // Python OpenLIT writes gen_ai.server.time_to_first_token on non-streamed calls too, as the
  // whole duration: a call it says was not streamed has neither a first token nor a stream.
  const isStream = bool(a, "gen_ai.request.is_stream");
  if (isStream === false) {
    facts.ttft_ms = null;
    facts.streamed = 0;
  } else {
    const ttftSeconds = firstNum(a, TTFT_SECONDS_KEYS);
    if (ttftSeconds !== undefined && ttftSeconds >= 0) facts.ttft_ms = secondsToMs(ttftSeconds);
    if (facts.ttft_ms !== null || isStream === true) facts.streamed = 1;
  }

  // OpenLIT writes 0 when its price list does not know the model: that is "unknown", not free.
  if (facts.reportedCostUsd === 0 && facts.input_tokens + facts.output_tokens > 0) facts.reportedCostUsd = null;

  facts.userId = firstStr(a, USER_KEYS) ?? "";
  facts.sessionId = str(a, "gen_ai.conversation.id") ?? str(a, "session.id") ?? "";
  const app = firstStr(a, APP_KEYS);
  const env = str(a, "deployment.environment") ?? str(a, "deployment.environment.name");
  if (app !== undefined || env !== undefined) {
    const tags: Record<string, string> = {};
    if (app !== undefined) tags["application"] = app;
    // The row's environment comes from the resource; the span-level copy is kept as a tag so
    // a sender that only sets it on spans is still filterable.
    if (env !== undefined) tags["environment"] = env;
    facts.tags = tags;
  }
  return facts;
}

export const openLitAdapter: ConventionAdapter = {
  name: OPENLIT,
  detect,
  classify,
  extract,
};
