/**
 * Vercel AI SDK (`ai` package) telemetry.
 *
 * Two span families, both from the SDK itself (since v7 through `@ai-sdk/otel`):
 * - current (`OpenTelemetry` integration, tracer "gen_ai"): OTel GenAI spans
 *   `invoke_agent {model}` (whole generateText/streamText run) > `step {n}` (operation
 *   "agent_step") > `chat {model}` (one provider call) and `execute_tool {name}`; embeddings as
 *   an outer and an inner `embeddings {model}` span (usage on the inner one). Time to first
 *   chunk in `gen_ai.client.operation.time_to_first_chunk` (seconds); runtime context
 *   (when enabled) in `ai.settings.context.<key>`.
 * - legacy (`LegacyOpenTelemetry`, tracer "ai", and every release before v7): `ai.operationId`
 *   names the span. Model calls end in `.doGenerate` / `.doStream` / `.doEmbed`; the outer
 *   `ai.generateText` / `ai.streamText` / `ai.embed` / ... spans repeat the summed usage of
 *   their steps and are skipped. Provider `ai.model.provider` ("openai.chat": the part before
 *   the first dot), model `ai.model.id` / `ai.response.model`, usage `ai.usage.*` (v5+:
 *   inputTokens/outputTokens with cache and reasoning details; v4: promptTokens /
 *   completionTokens), `ai.response.msToFirstChunk` (ms), prompt `ai.prompt.messages` (or
 *   `ai.prompt`), completion `ai.response.text` / `ai.response.toolCalls`,
 *   `ai.telemetry.functionId`, `ai.telemetry.metadata.<key>` (userId / sessionId by custom).
 */
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { firstNum, firstStr, json, num, parseJson, parseJsonLoose, str, strArray, toNum } from "./attr.js";
import {
  type ChatMessage,
  firstFinishReason,
  fromOpenAiMessages,
  type MessagePart,
  otelMessages,
  stringifyMessages,
  systemMessage,
} from "./messages.js";
import {
  callStatus,
  extractOtelGenAi,
  isModelCallOperation,
  normalizeProvider,
  otelOperation,
  secondsToMs,
} from "./otel-genai.js";
import {
  addPrefixedTags,
  applyUsage,
  emptyFacts,
  implausibleTokens,
  isRecord,
  objectAttr,
  reportedUsage,
  type UsageKeys,
  type UsageStyle,
} from "./span-facts.js";
import type { CallFacts, ConventionAdapter, SpanClassification } from "./types.js";

export const VERCEL_AI = "vercel_ai";

const OPERATION_ID = "ai.operationId";
/** Default tracer names of the SDK's two integrations. */
const SCOPES: ReadonlySet<string> = new Set(["gen_ai", "ai"]);
/** Span attributes only the current integration writes on its chat spans. */
const CURRENT_KEYS = ["gen_ai.client.operation.duration", "gen_ai.client.operation.time_to_first_chunk"] as const;

const METADATA_PREFIX = "ai.telemetry.metadata.";
const CONTEXT_PREFIX = "ai.settings.context.";
/**
 * @traceloop/node-server-sdk (0.27 transformAiSdkSpanAttributes) rewrites the legacy spans it
 * exports: ai.telemetry.metadata.<key> becomes traceloop.association.properties.<key> (the
 * key's spelling kept, so userId), ai.prompt.messages gen_ai.input.messages,
 * ai.response.text / object gen_ai.output.messages, ai.model.provider gen_ai.provider.name;
 * ai.model.id and ai.response.model / id are deleted (the gen_ai.* copies stay) and
 * ai.operationId is kept, so the span is still read here.
 */
const TRACELOOP_PREFIX = "traceloop.association.properties.";
const USER_KEYS = [
  `${METADATA_PREFIX}userId`,
  `${METADATA_PREFIX}user_id`,
  `${CONTEXT_PREFIX}userId`,
  `${CONTEXT_PREFIX}user_id`,
  `${TRACELOOP_PREFIX}userId`,
  `${TRACELOOP_PREFIX}user_id`,
] as const;
const SESSION_KEYS = [
  `${METADATA_PREFIX}sessionId`,
  `${METADATA_PREFIX}session_id`,
  `${CONTEXT_PREFIX}sessionId`,
  `${CONTEXT_PREFIX}session_id`,
  `${TRACELOOP_PREFIX}sessionId`,
  `${TRACELOOP_PREFIX}session_id`,
] as const;
const NOT_TAGS: ReadonlySet<string> = new Set(["userId", "user_id", "sessionId", "session_id"]);

// Legacy usage keys, newest spelling first. Since v6 the SDK's usage counts cached tokens inside
// inputTokens and reasoning inside outputTokens, as the OTel convention does; v5 passed on what
// each provider reported, which some providers did not (see legacyUsage).
const USAGE_KEYS: UsageKeys = {
  input: ["ai.usage.inputTokens", "ai.usage.promptTokens", "gen_ai.usage.input_tokens", "ai.usage.tokens"],
  output: ["ai.usage.outputTokens", "ai.usage.completionTokens", "gen_ai.usage.output_tokens"],
  cacheRead: [
    "ai.usage.inputTokenDetails.cacheReadTokens",
    "ai.usage.cachedInputTokens",
    "gen_ai.usage.cache_read.input_tokens",
  ],
  cacheWrite: [
    "ai.usage.inputTokenDetails.cacheWriteTokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
  ],
  reasoning: ["ai.usage.outputTokenDetails.reasoningTokens", "ai.usage.reasoningTokens"],
};
const OTEL_PROVIDER_KEYS = ["gen_ai.provider.name", "gen_ai.system"] as const;
const TTFT_MS_KEYS = ["ai.response.msToFirstChunk", "ai.stream.msToFirstChunk"] as const;

/** AI SDK provider ids whose first segment is not the provider name used elsewhere. */
const PROVIDER_IDS: ReadonlyMap<string, string> = new Map([
  ["google.generative-ai", "gcp.gemini"],
  ["google.vertex", "gcp.vertex_ai"],
  ["vertex", "gcp.vertex_ai"],
  ["amazon-bedrock", "aws.bedrock"],
  ["bedrock", "aws.bedrock"],
  ["azure-openai", "azure.ai.openai"],
  ["azure", "azure.ai.openai"],
  ["mistral", "mistral_ai"],
]);

function detect(span: DecodedSpan): boolean {
  const a = span.attributes;
  if (a[OPERATION_ID] !== undefined) return true;
  if (SCOPES.has(span.scope.name) && a["gen_ai.operation.name"] !== undefined) return true;
  return a[CURRENT_KEYS[0]] !== undefined || a[CURRENT_KEYS[1]] !== undefined;
}

function legacyOperation(operationId: string): { operation: string; isModelCall: boolean } {
  if (operationId.endsWith(".doEmbed")) return { operation: "embeddings", isModelCall: true };
  if (operationId.endsWith(".doGenerate") || operationId.endsWith(".doStream")) {
    return { operation: "chat", isModelCall: true };
  }
  // ai.generateText, ai.streamText, ai.embed, ai.toolCall, ...: aggregates.
  return { operation: operationId, isModelCall: false };
}

function classify(span: DecodedSpan): SpanClassification {
  const operationId = str(span.attributes, OPERATION_ID);
  if (operationId !== undefined) return { convention: VERCEL_AI, ...legacyOperation(operationId) };
  const operation = otelOperation(span.attributes);
  return { convention: VERCEL_AI, operation, isModelCall: isModelCallOperation(operation) };
}

function extract(span: DecodedSpan): CallFacts {
  const operationId = str(span.attributes, OPERATION_ID);
  const facts = operationId === undefined ? extractCurrent(span) : extractLegacy(span, operationId);
  addAttribution(span.attributes, facts);
  return facts;
}

/**
 * Usage keys of current chat spans: the GenAI keys, and for reasoning also the SDK's own
 * `ai.usage.outputTokenDetails.reasoningTokens` (@ai-sdk/otel getDetailedUsageAttributes, written
 * with the integration's `usage` option), the only place the current spans say it.
 */
const CURRENT_USAGE_KEYS: UsageKeys = {
  input: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
  output: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"],
  cacheRead: ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"],
  cacheWrite: ["gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation.input_tokens"],
  reasoning: [
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "ai.usage.outputTokenDetails.reasoningTokens",
  ],
};

/** Current spans are OTel GenAI spans: the otel_genai facts plus the SDK's own TTFT and usage keys. */
function extractCurrent(span: DecodedSpan): CallFacts {
  const a = span.attributes;
  const facts = extractOtelGenAi(span, CURRENT_USAGE_KEYS);
  const ttftSeconds = num(a, "gen_ai.client.operation.time_to_first_chunk");
  if (facts.ttft_ms === null && ttftSeconds !== undefined && ttftSeconds >= 0) facts.ttft_ms = secondsToMs(ttftSeconds);
  if (facts.ttft_ms !== null) facts.streamed = 1;
  return facts;
}

function extractLegacy(span: DecodedSpan, operationId: string): CallFacts {
  const a = span.attributes;
  const facts = emptyFacts();
  facts.operation = legacyOperation(operationId).operation;
  const provider = str(a, "ai.model.provider");
  facts.provider =
    provider === undefined ? normalizeProvider(firstStr(a, OTEL_PROVIDER_KEYS) ?? "") : providerOf(provider);
  facts.request_model = str(a, "ai.model.id") ?? str(a, "gen_ai.request.model") ?? "";
  facts.response_model = str(a, "ai.response.model") ?? str(a, "gen_ai.response.model") ?? "";
  facts.response_id = str(a, "ai.response.id") ?? str(a, "gen_ai.response.id") ?? "";

  legacyUsage(a, facts);

  let ttft = firstNum(a, TTFT_MS_KEYS);
  if (ttft === undefined) {
    for (const ev of span.events) {
      if (ev.name === "ai.stream.firstChunk") {
        ttft = num(ev.attributes, "ai.response.msToFirstChunk") ?? (ev.timeUs - span.startTimeUs) / 1000;
        break;
      }
    }
  }
  facts.ttft_ms = ttft === undefined || ttft < 0 ? null : Math.round(ttft * 1000) / 1000;
  facts.streamed = operationId.endsWith(".doStream") || facts.ttft_ms !== null ? 1 : 0;

  const { status, errorType } = callStatus(span);
  facts.status = status;
  facts.error_type = errorType;
  facts.http_status = num(a, "http.response.status_code") ?? 0;
  facts.request_params = legacyParams(a);

  facts.input = stringifyMessages(facts.operation === "embeddings" ? embedValues(a) : promptMessages(a));
  let output = facts.operation === "embeddings" ? [] : responseMessages(a);
  if (facts.input === "" && a["gen_ai.input.messages"] !== undefined) {
    facts.input = otelMessages(a["gen_ai.input.messages"] ?? null).json;
  }
  const otelOutput = a["gen_ai.output.messages"];
  if (output.length === 0 && otelOutput !== undefined && otelOutput !== null) {
    output = otelMessages(otelOutput, undefined, "assistant").messages;
  }
  facts.output = stringifyMessages(output);
  facts.finish_reason =
    str(a, "ai.response.finishReason") ??
    strArray(a, "gen_ai.response.finish_reasons")?.[0] ??
    firstFinishReason(output) ??
    "";
  return facts;
}

/**
 * Legacy usage, with the two AI SDK 5 provider styles that leave tokens out of the totals:
 * - @ai-sdk/anthropic 2.x: inputTokens is Anthropic's `input_tokens` (cache reads and writes
 *   left out), cachedInputTokens the reads, the writes only in
 *   `ai.response.providerMetadata.anthropic.cacheCreationInputTokens`. The provider metadata also
 *   carries Anthropic's raw usage: inputTokens equal to its `input_tokens` while it reports
 *   cache says the cache is outside (from v6 the SDK's inputTokens includes it, so they differ).
 * - @ai-sdk/google 2.x: outputTokens is Gemini's candidate count, thinking tokens apart in
 *   reasoningTokens; totalTokens (Gemini's total) then equals input + output + reasoning, where
 *   a count that includes reasoning gives input + output.
 */
function legacyUsage(a: Attributes, facts: CallFacts): void {
  const reported = { ...reportedUsage(a, USAGE_KEYS) };
  const style: UsageStyle = {};
  const anthropic = objectAttr(a, "ai.response.providerMetadata")?.["anthropic"];
  if (isRecord(anthropic)) {
    const write = toNum(anthropic["cacheCreationInputTokens"]);
    if (reported.cacheWrite === undefined && write !== undefined && !implausibleTokens(write)) {
      reported.cacheWrite = write;
    }
    const raw = anthropic["usage"];
    if (isRecord(raw) && reported.input !== undefined) {
      const rawCache = (toNum(raw["cache_read_input_tokens"]) ?? 0) + (toNum(raw["cache_creation_input_tokens"]) ?? 0);
      style.inputExcludesCache = rawCache > 0 && toNum(raw["input_tokens"]) === reported.input;
    }
  }
  const total = num(a, "ai.usage.totalTokens");
  const { input, output, reasoning } = reported;
  if (total !== undefined && input !== undefined && output !== undefined && reasoning !== undefined) {
    style.outputExcludesReasoning = reasoning > 0 && input + output + reasoning === total;
  }
  applyUsage(facts, reported, style);
}

/** "openai.chat" -> "openai"; a few ids map to the provider names the rest of tokenmeter uses. */
function providerOf(id: string): string {
  if (id === "") return "";
  const lower = id.toLowerCase();
  for (const [prefix, name] of PROVIDER_IDS) {
    if (lower === prefix || lower.startsWith(`${prefix}.`)) return name;
  }
  const dot = lower.indexOf(".");
  return normalizeProvider(dot < 0 ? lower : lower.slice(0, dot));
}

function addAttribution(a: Attributes, facts: CallFacts): void {
  const user = firstStr(a, USER_KEYS);
  if (user !== undefined) facts.userId = user;
  const session = firstStr(a, SESSION_KEYS);
  if (session !== undefined) facts.sessionId = session;
  const tags: Record<string, string> = { ...facts.tags };
  addPrefixedTags(tags, a, METADATA_PREFIX, NOT_TAGS);
  addPrefixedTags(tags, a, TRACELOOP_PREFIX, NOT_TAGS);
  const fn = str(a, "ai.telemetry.functionId");
  if (fn !== undefined) tags["function_id"] = fn;
  facts.tags = tags;
}

/** `ai.settings.*` request settings in the request_params JSON shape. */
function legacyParams(a: Attributes): string {
  const out: Record<string, unknown> = {};
  const maxTokens = num(a, "ai.settings.maxOutputTokens") ?? num(a, "ai.settings.maxTokens");
  if (maxTokens !== undefined) out["max_tokens"] = Math.trunc(maxTokens);
  const pairs: readonly (readonly [string, string])[] = [
    ["ai.settings.temperature", "temperature"],
    ["ai.settings.topP", "top_p"],
    ["ai.settings.topK", "top_k"],
    ["ai.settings.frequencyPenalty", "frequency_penalty"],
    ["ai.settings.presencePenalty", "presence_penalty"],
  ];
  for (const [key, name] of pairs) {
    const v = num(a, key);
    if (v !== undefined) out[name] = v;
  }
  const seed = num(a, "ai.settings.seed");
  if (seed !== undefined) out["seed"] = Math.trunc(seed);
  const stop = strArray(a, "ai.settings.stopSequences");
  if (stop !== undefined) out["stop_sequences"] = stop;
  if (str(a, OPERATION_ID)?.endsWith(".doStream") === true) out["stream"] = true;
  return Object.keys(out).length === 0 ? "{}" : JSON.stringify(out);
}

// ---------------------------------------------------------------------------------------------
// Content

/**
 * `ai.prompt.messages` (the provider-bound messages, JSON) on call spans; `ai.prompt`
 * (`{system?, prompt?|messages?}`) as a fallback.
 */
function promptMessages(a: Attributes): ChatMessage[] {
  const messages = json(a, "ai.prompt.messages");
  if (Array.isArray(messages)) return fromOpenAiMessages(messages, "user");
  const prompt = json(a, "ai.prompt");
  if (typeof prompt === "string") return fromOpenAiMessages(prompt, "user");
  if (!isRecord(prompt)) return [];
  const out: ChatMessage[] = [];
  const system = prompt["system"] ?? prompt["instructions"];
  if (system !== undefined && system !== null) {
    const m = systemMessage(system);
    if (m !== undefined) out.push(m);
  }
  if (Array.isArray(prompt["messages"])) out.push(...fromOpenAiMessages(prompt["messages"], "user"));
  else if (prompt["prompt"] !== undefined) out.push(...fromOpenAiMessages(prompt["prompt"], "user"));
  return out;
}

/**
 * `ai.response.text` (or, from generateObject / streamObject, the JSON `ai.response.object`)
 * plus `ai.response.toolCalls` as one assistant message.
 */
function responseMessages(a: Attributes): ChatMessage[] {
  const parts: MessagePart[] = [];
  const reasoning = str(a, "ai.response.reasoning");
  if (reasoning !== undefined) parts.push({ type: "reasoning", content: reasoning });
  const text = str(a, "ai.response.text") ?? str(a, "ai.response.object");
  if (text !== undefined) parts.push({ type: "text", content: text });
  const calls = json(a, "ai.response.toolCalls");
  if (Array.isArray(calls)) {
    for (const c of calls) {
      if (!isRecord(c)) continue;
      const args = c["input"] ?? c["args"];
      parts.push({
        type: "tool_call",
        id: typeof c["toolCallId"] === "string" ? c["toolCallId"] : "",
        name: typeof c["toolName"] === "string" ? c["toolName"] : "",
        arguments: typeof args === "string" ? parseJsonLoose(args) : args,
      });
    }
  }
  if (parts.length === 0) return [];
  const message: ChatMessage = { role: "assistant", parts };
  const finish = str(a, "ai.response.finishReason");
  if (finish !== undefined) message.finish_reason = finish;
  return [message];
}

/** doEmbed spans: `ai.values` (JSON-encoded strings) or `ai.value`, one user message each. */
function embedValues(a: Attributes): ChatMessage[] {
  const values = a["ai.values"];
  const list: unknown[] = Array.isArray(values) ? values : values === undefined || values === null ? [] : [values];
  if (list.length === 0 && a["ai.value"] !== undefined) list.push(a["ai.value"]);
  const texts: string[] = [];
  for (const v of list) {
    const parsed = typeof v === "string" ? decodeJsonString(v) : v;
    if (typeof parsed === "string") texts.push(parsed);
    else if (parsed !== undefined && parsed !== null) texts.push(JSON.stringify(parsed));
  }
  return fromOpenAiMessages(texts, "user");
}

/** `"\"text\""` -> `text`; JSON objects and arrays parsed; anything else returned as is. */
function decodeJsonString(v: string): unknown {
  if (!v.startsWith('"')) return parseJsonLoose(v);
  const parsed = parseJson(v);
  return parsed === undefined ? v : parsed;
}

export const vercelAiAdapter: ConventionAdapter = {
  name: VERCEL_AI,
  detect,
  classify,
  extract,
};
