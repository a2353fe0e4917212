/**
 * The OpenTelemetry GenAI semantic conventions (latest and deprecated spellings).
 *
 * This adapter is the registry's last resort: most third-party conventions also write some
 * gen_ai.* keys, so their adapters sit before this one and claim their spans first.
 * Spec: https://github.com/open-telemetry/semantic-conventions-genai (gen-ai-spans.md,
 * gen-ai-events.md); every key is still "Development", so old spellings stay supported.
 */
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import type { CallStatus } from "../storage/rows.js";
import { bool, firstNum, firstStr, hasAny, int, num, str, strArray, toNum } from "./attr.js";
import {
  type ChatMessage,
  contentFromEvents,
  firstFinishReason,
  fromPromptValue,
  type NormalizedMessages,
  otelMessages,
  stringifyMessages,
} from "./messages.js";
import { applyUsage, reportedUsage, type UsageKeys, type UsageStyle } from "./span-facts.js";
import type { CallFacts, ConventionAdapter, SpanClassification, SpanScore } from "./types.js";

export const OTEL_GENAI = "otel_genai";

const DETECT_KEYS = ["gen_ai.operation.name", "gen_ai.system", "gen_ai.provider.name", "gen_ai.request.model"] as const;
const MODEL_KEYS = ["gen_ai.request.model", "gen_ai.response.model"] as const;
const PROVIDER_KEYS = ["gen_ai.provider.name", "gen_ai.system"] as const;

/**
 * Where the GenAI conventions put each token count, current spelling first. The underscore
 * spellings come from instrumentations that predate the dotted names; reading them costs
 * nothing when the dotted key is present.
 */
const USAGE_KEYS: UsageKeys = {
  input: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
  output: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"],
  cacheRead: ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"],
  cacheWrite: [
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
  ],
  reasoning: ["gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"],
};
const TTFT_SECONDS_KEYS = ["gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token"] as const;
const USER_KEYS = ["user.id", "enduser.id"] as const;
const SESSION_KEYS = ["gen_ai.conversation.id", "session.id"] as const;

/**
 * Operations that are one model call. Aggregates (invoke_agent, create_agent, execute_tool,
 * invoke_workflow, retrieval, plan, ...) only group calls: counting their usage would count it
 * twice. Aliases map to the spec name so dashboards and de-duplication see one spelling.
 */
const MODEL_CALL_OPERATIONS: ReadonlyMap<string, string> = new Map([
  ["chat", "chat"],
  ["generate_content", "generate_content"],
  ["text_completion", "text_completion"],
  ["completion", "text_completion"],
  ["embeddings", "embeddings"],
  ["embedding", "embeddings"],
]);

/**
 * Old spec names, and the names OpenLLMetry (gen_ai.system "AWS", "Google", "MistralAI") and
 * OpenInference (llm.provider azure, google, aws; llm.system mistralai) write, as the spec's.
 * Google's Vertex AI is told apart by the adapters that know it (OpenLLMetry's vertexai
 * instrumentations, OpenInference's llm.system vertexai); plain "google" is the Gemini API.
 */
const PROVIDER_ALIASES: ReadonlyMap<string, string> = new Map([
  ["az.ai.openai", "azure.ai.openai"],
  ["az.ai.inference", "azure.ai.inference"],
  ["azure", "azure.ai.openai"],
  ["vertex_ai", "gcp.vertex_ai"],
  ["vertexai", "gcp.vertex_ai"],
  ["gemini", "gcp.gemini"],
  ["google", "gcp.gemini"],
  ["mistralai", "mistral_ai"],
  ["aws", "aws.bedrock"],
  ["xai", "x_ai"],
  ["ibm.watson.ai", "ibm.watsonx.ai"],
]);

/** gen_ai.provider.name / gen_ai.system value, lowercased, with pre-1.37 names mapped to current ones. */
export function normalizeProvider(value: string): string {
  const lower = value.trim().toLowerCase();
  return PROVIDER_ALIASES.get(lower) ?? lower;
}

/** A span's operation, aliases resolved; "chat" when only model keys say it is a model call. */
export function otelOperation(attrs: Attributes): string {
  const op = str(attrs, "gen_ai.operation.name");
  if (op !== undefined) {
    const lower = op.toLowerCase();
    return MODEL_CALL_OPERATIONS.get(lower) ?? lower;
  }
  if (hasAny(attrs, MODEL_KEYS) || hasAny(attrs, USAGE_KEYS.input)) return "chat";
  return "";
}

export function isModelCallOperation(operation: string): boolean {
  return MODEL_CALL_OPERATIONS.has(operation);
}

function classify(span: DecodedSpan): SpanClassification {
  const operation = otelOperation(span.attributes);
  return { convention: OTEL_GENAI, operation, isModelCall: isModelCallOperation(operation) };
}

/**
 * A span's facts read the GenAI-conventions way. Conventions built on them that spell token
 * counts their own way pass their keys, so usage is read once.
 */
export function extractOtelGenAi(
  span: DecodedSpan,
  usageKeys: UsageKeys = USAGE_KEYS,
  usageStyle: UsageStyle = {},
): CallFacts {
  const a = span.attributes;

  const ttftSeconds = firstNum(a, TTFT_SECONDS_KEYS);
  const ttftMs = ttftSeconds === undefined || ttftSeconds < 0 ? null : secondsToMs(ttftSeconds);
  const streamed = bool(a, "gen_ai.request.stream") === true || ttftMs !== null;

  const { status, errorType } = callStatus(span);
  const content = extractContent(span);
  const finishReason =
    strArray(a, "gen_ai.response.finish_reasons")?.[0] ?? firstFinishReason(content.outputMessages()) ?? "";

  const facts: CallFacts = {
    provider: normalizeProvider(firstStr(a, PROVIDER_KEYS) ?? ""),
    operation: otelOperation(a),
    request_model: str(a, "gen_ai.request.model") ?? "",
    response_model: str(a, "gen_ai.response.model") ?? "",
    response_id: str(a, "gen_ai.response.id") ?? "",
    prompt_name: str(a, "gen_ai.prompt.name") ?? "",
    prompt_version: str(a, "gen_ai.prompt.version") ?? "",
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    ttft_ms: ttftMs,
    streamed: streamed ? 1 : 0,
    status,
    error_type: errorType,
    finish_reason: finishReason,
    http_status: int(a, "http.response.status_code") ?? 0,
    request_params: requestParams(a),
    input: content.input,
    output: content.output,
    usageMissing: true,
    reportedCostUsd: num(a, "gen_ai.usage.cost") ?? null,
    userId: firstStr(a, USER_KEYS) ?? "",
    sessionId: firstStr(a, SESSION_KEYS) ?? "",
    tags: {},
  };
  applyUsage(facts, reportedUsage(a, usageKeys), usageStyle);
  return facts;
}

/** Seconds to milliseconds, rounded to the microsecond (0.35 s -> 350, not 350.00000000000006). */
export function secondsToMs(seconds: number): number {
  return Math.round(seconds * 1_000_000) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Status

const CANCELLED_ERROR_TYPES = new Set(["cancelled", "canceled", "aborterror", "aborted", "cancellederror"]);

export interface StatusFacts {
  status: CallStatus;
  errorType: string;
}

/**
 * ok / error / cancelled. A cancelled call (user abort, client disconnect) is not an error for
 * alerting, so it wins over status ERROR. `error.type` without status ERROR still means the
 * operation failed (the spec sets error.type only on failure).
 */
export function callStatus(span: DecodedSpan): StatusFacts {
  const a = span.attributes;
  const errorAttr = str(a, "error.type");
  const tmStatus = str(a, "tokenmeter.status")?.toLowerCase();
  if (tmStatus === "cancelled" || tmStatus === "canceled") {
    return { status: "cancelled", errorType: errorAttr ?? "cancelled" };
  }
  if (errorAttr !== undefined && CANCELLED_ERROR_TYPES.has(errorAttr.toLowerCase())) {
    return { status: "cancelled", errorType: errorAttr };
  }
  if (span.status.code !== 2 && errorAttr === undefined) return { status: "ok", errorType: "" };
  const errorType = errorAttr ?? exceptionType(span) ?? "_OTHER";
  if (CANCELLED_ERROR_TYPES.has(errorType.toLowerCase())) return { status: "cancelled", errorType };
  return { status: "error", errorType };
}

function exceptionType(span: DecodedSpan): string | undefined {
  for (const ev of span.events) {
    if (ev.name === "exception") return str(ev.attributes, "exception.type");
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Request parameters

type ParamKind = "num" | "int" | "bool" | "str" | "strs";

/** gen_ai.request.* key -> name in the request_params JSON, and how to read it. */
const REQUEST_PARAMS: readonly (readonly [string, string, ParamKind])[] = [
  ["gen_ai.request.max_tokens", "max_tokens", "int"],
  ["gen_ai.request.temperature", "temperature", "num"],
  ["gen_ai.request.top_p", "top_p", "num"],
  ["gen_ai.request.top_k", "top_k", "num"],
  ["gen_ai.request.frequency_penalty", "frequency_penalty", "num"],
  ["gen_ai.request.presence_penalty", "presence_penalty", "num"],
  ["gen_ai.request.stop_sequences", "stop_sequences", "strs"],
  ["gen_ai.request.seed", "seed", "int"],
  ["gen_ai.request.stream", "stream", "bool"],
  ["gen_ai.request.reasoning.level", "reasoning_level", "str"],
  ["gen_ai.request.choice.count", "choice_count", "int"],
  ["gen_ai.request.encoding_formats", "encoding_formats", "strs"],
];

/** The gen_ai.request.* parameters present, as a JSON object string ("{}" when none). */
export function requestParams(a: Attributes): string {
  let out: Record<string, unknown> | undefined;
  for (const [key, name, kind] of REQUEST_PARAMS) {
    if (a[key] === undefined) continue;
    let v: unknown;
    switch (kind) {
      case "num":
        v = num(a, key);
        break;
      case "int":
        v = int(a, key);
        break;
      case "bool":
        v = bool(a, key);
        break;
      case "str":
        v = str(a, key);
        break;
      case "strs":
        v = strArray(a, key);
        break;
    }
    if (v === undefined) continue;
    out ??= {};
    out[name] = v;
  }
  return out === undefined ? "{}" : JSON.stringify(out);
}

// ---------------------------------------------------------------------------------------------
// Content

interface ExtractedContent {
  input: string;
  output: string;
  /** Parsed output, for the finish_reason fallback; computed only when asked. */
  outputMessages(): readonly ChatMessage[];
}

/**
 * Content from span attributes (gen_ai.input.messages, gen_ai.output.messages,
 * gen_ai.system_instructions); for a side the attributes lack, from events
 * (operation.details, deprecated message events, pre-1.28 content events); last, from the
 * pre-1.28 gen_ai.prompt / gen_ai.completion written directly on the span.
 */
function extractContent(span: DecodedSpan): ExtractedContent {
  const a = span.attributes;
  const inRaw = a["gen_ai.input.messages"];
  const sysRaw = a["gen_ai.system_instructions"];
  const outRaw = a["gen_ai.output.messages"];

  let input = "";
  let output = "";
  let outMessages: NormalizedMessages | ChatMessage[] | undefined;

  if (inRaw !== undefined || sysRaw !== undefined) input = otelMessages(inRaw ?? null, sysRaw ?? undefined).json;
  if (outRaw !== undefined) {
    const normalized = otelMessages(outRaw, undefined, "assistant");
    output = normalized.json;
    outMessages = normalized;
  }

  if ((input === "" || output === "") && span.events.length > 0) {
    const fromEvents = contentFromEvents(span.events);
    if (input === "") input = stringifyMessages(fromEvents.input);
    if (output === "") {
      output = stringifyMessages(fromEvents.output);
      outMessages = fromEvents.output;
    }
  }
  if (input === "" && a["gen_ai.prompt"] !== undefined) {
    input = stringifyMessages(fromPromptValue(a["gen_ai.prompt"], "user"));
  }
  if (output === "" && a["gen_ai.completion"] !== undefined) {
    const messages = fromPromptValue(a["gen_ai.completion"], "assistant");
    output = stringifyMessages(messages);
    outMessages = messages;
  }

  return {
    input,
    output,
    outputMessages: () =>
      outMessages === undefined ? [] : Array.isArray(outMessages) ? outMessages : outMessages.messages,
  };
}

// ---------------------------------------------------------------------------------------------
// Scores

/**
 * `gen_ai.evaluation.result` span events as scores. Any convention's span may carry them, so
 * the registry uses this for adapters that define no `scores()` of their own.
 */
export function evaluationScores(span: DecodedSpan): SpanScore[] {
  let out: SpanScore[] | undefined;
  for (const ev of span.events) {
    if (ev.name !== "gen_ai.evaluation.result") continue;
    const e = ev.attributes;
    const value = toNum(e["gen_ai.evaluation.score.value"]) ?? null;
    const label = str(e, "gen_ai.evaluation.score.label") ?? "";
    const name = str(e, "gen_ai.evaluation.name");
    if (name === undefined && value === null && label === "") continue;
    out ??= [];
    out.push({
      name: name ?? "gen_ai.evaluation",
      value,
      label,
      comment: str(e, "gen_ai.evaluation.explanation") ?? "",
      timeUs: ev.timeUs,
    });
  }
  return out ?? [];
}

export const otelGenAiAdapter: ConventionAdapter = {
  name: OTEL_GENAI,
  detect: (span) => hasAny(span.attributes, DETECT_KEYS),
  classify,
  extract: (span) => extractOtelGenAi(span),
  scores: evaluationScores,
};
