/**
 * Langfuse SDK spans (@langfuse/tracing + @langfuse/otel v4+, Python langfuse v3+): every
 * Langfuse observation is an OTel span (tracer "langfuse-sdk") described by `langfuse.*` keys.
 *
 * - `langfuse.observation.type`: generation and embedding are model calls; span, agent, tool,
 *   chain, retriever, evaluator, guardrail and event only group or surround them.
 *   (observeOpenAI records embeddings calls as generations too.)
 * - `langfuse.observation.model.name`: the response's model when there was one, else the
 *   requested one. Langfuse carries no provider.
 * - `langfuse.observation.usage_details` (JSON): disjoint counts. OpenAI-shaped calls report
 *   `input` WITHOUT the cached part (`input_cached_tokens`) and `output` WITHOUT reasoning
 *   (`output_reasoning_tokens`); Anthropic-shaped ones `cache_read_input_tokens` /
 *   `cache_creation_input_tokens`. Every `input*` key adds up to the call's input, every
 *   `output*` key to its output; `total` is the sum.
 * - `langfuse.observation.cost_details` (JSON, USD): `total`, else the sum of the parts.
 * - `langfuse.observation.completion_start_time`: first token time (ISO, JSON-quoted).
 * - `langfuse.observation.input` / `.output`: the request's messages and the response message.
 * - `langfuse.observation.model.parameters`, `.prompt.name` / `.prompt.version`, `.level`.
 * - trace attributes: `user.id` / `session.id` (v4+) or `langfuse.user.id` /
 *   `langfuse.session.id`, `langfuse.trace.tags`, `langfuse.trace.metadata(.<key>)`,
 *   `langfuse.environment`.
 */
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { firstStr, parseJsonLoose, str, toNum } from "./attr.js";
import { type ChatMessage, firstFinishReason, fromPromptValue, stringifyMessages } from "./messages.js";
import { callStatus, normalizeProvider } from "./otel-genai.js";
import {
  addListTags,
  addObjectTags,
  addPrefixedTags,
  emptyFacts,
  implausibleTokens,
  isoOffsetMs,
  isRecord,
  objectAttr,
  paramsJson,
  tokens,
} from "./span-facts.js";
import type { CallFacts, ConventionAdapter, SpanClassification } from "./types.js";
import { correctUsage } from "./usage.js";

export const LANGFUSE = "langfuse";

const TYPE_KEY = "langfuse.observation.type";
const USER_KEYS = ["langfuse.user.id", "user.id"] as const;
const SESSION_KEYS = ["langfuse.session.id", "session.id"] as const;
const PROVIDER_KEYS = ["gen_ai.provider.name", "gen_ai.system"] as const;

function detect(span: DecodedSpan): boolean {
  return span.attributes[TYPE_KEY] !== undefined;
}

function operationOf(a: Attributes): string {
  const type = (str(a, TYPE_KEY) ?? "").toLowerCase();
  if (type === "embedding") return "embeddings";
  if (type !== "generation") return type;
  // observeOpenAI and similar wrappers log embeddings calls as generations.
  return /embed/i.test(str(a, "langfuse.observation.model.name") ?? "") ? "embeddings" : "chat";
}

function classify(span: DecodedSpan): SpanClassification {
  const operation = operationOf(span.attributes);
  return { convention: LANGFUSE, operation, isModelCall: operation === "chat" || operation === "embeddings" };
}

function extract(span: DecodedSpan): CallFacts {
  const a = span.attributes;
  const facts = emptyFacts();
  facts.operation = operationOf(a);
  facts.provider = normalizeProvider(firstStr(a, PROVIDER_KEYS) ?? "");
  const model = str(a, "langfuse.observation.model.name") ?? str(a, "gen_ai.request.model") ?? "";
  facts.request_model = model;
  facts.response_model = str(a, "gen_ai.response.model") ?? model;
  facts.prompt_name = str(a, "langfuse.observation.prompt.name") ?? "";
  facts.prompt_version = str(a, "langfuse.observation.prompt.version") ?? "";

  const usage = usageOf(objectAttr(a, "langfuse.observation.usage_details"));
  if (usage !== undefined) {
    facts.input_tokens = tokens(usage.input);
    facts.output_tokens = tokens(usage.output);
    facts.cache_read_tokens = tokens(usage.cacheRead);
    facts.cache_write_tokens = tokens(usage.cacheWrite);
    facts.reasoning_tokens = tokens(usage.reasoning);
    facts.usageMissing = false;
  }
  facts.reportedCostUsd = costOf(objectAttr(a, "langfuse.observation.cost_details"));

  const params = objectAttr(a, "langfuse.observation.model.parameters");
  facts.request_params = paramsJson(params);
  const start = a["langfuse.observation.completion_start_time"];
  facts.ttft_ms = start === undefined || start === null ? null : isoOffsetMs(span, start);
  facts.streamed = facts.ttft_ms !== null || params?.["stream"] === true || params?.["stream"] === "true" ? 1 : 0;

  const { status, errorType } = callStatus(span);
  if (status === "ok" && str(a, "langfuse.observation.level") === "ERROR") {
    facts.status = "error";
    facts.error_type = "_OTHER";
  } else {
    facts.status = status;
    facts.error_type = errorType;
  }

  facts.input = stringifyMessages(contentOf(a["langfuse.observation.input"], "user"));
  const output = contentOf(a["langfuse.observation.output"], "assistant");
  facts.output = stringifyMessages(output);
  facts.finish_reason = firstFinishReason(output) ?? "";

  facts.userId = firstStr(a, USER_KEYS) ?? "";
  facts.sessionId = firstStr(a, SESSION_KEYS) ?? "";
  facts.tags = tagsOf(a);
  return facts;
}

// ---------------------------------------------------------------------------------------------
// Usage and cost

interface UsageTotals {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
}

const CACHE_READ_NAMES = ["input_cached_tokens", "cache_read_input_tokens", "input_cache_read", "cached_tokens"];
const CACHE_WRITE_NAMES = ["cache_creation_input_tokens", "input_cache_creation", "input_cache_write"];
const REASONING_NAMES = ["output_reasoning_tokens", "output_reasoning", "reasoning_tokens"];

/**
 * usage_details -> totals in the stored definition (input with cache, output with reasoning).
 * Keys are disjoint parts, so the input side is the sum of every input/cache key and the output
 * side the sum of every output/reasoning key. OpenAI-style `prompt_tokens` / `completion_tokens`
 * (already totals) are accepted when the Langfuse keys are absent.
 */
function usageOf(details: Record<string, unknown> | undefined): UsageTotals | undefined {
  if (details === undefined) return undefined;
  let input = 0;
  let output = 0;
  let cacheRead = 0;
  let cacheWrite = 0;
  let reasoning = 0;
  let seen = false;
  // One absurd count makes the sender's whole usage untrustworthy (see MAX_REPORTED_TOKENS).
  for (const key in details) if (implausibleTokens(toNum(details[key]))) return undefined;
  for (const key in details) {
    const n = toNum(details[key]);
    if (n === undefined) continue;
    if (CACHE_READ_NAMES.includes(key)) cacheRead += n;
    else if (CACHE_WRITE_NAMES.includes(key)) cacheWrite += n;
    else if (REASONING_NAMES.includes(key)) reasoning += n;
    if (isInputKey(key)) input += n;
    else if (isOutputKey(key)) output += n;
    else continue;
    seen = true;
  }
  if (!seen) {
    const prompt = toNum(details["prompt_tokens"]) ?? toNum(details["promptTokens"]) ?? toNum(details["input_tokens"]);
    const completion =
      toNum(details["completion_tokens"]) ?? toNum(details["completionTokens"]) ?? toNum(details["output_tokens"]);
    if (prompt === undefined && completion === undefined) return undefined;
    return correctUsage({
      input: prompt ?? 0,
      output: completion ?? 0,
      cacheRead,
      cacheWrite,
      reasoning,
    });
  }
  return { input, output, cacheRead, cacheWrite, reasoning };
}

function isInputKey(key: string): boolean {
  return key === "input" || key.startsWith("input_") || key.startsWith("cache_") || key === "cached_tokens";
}

function isOutputKey(key: string): boolean {
  return key === "output" || key.startsWith("output_") || key === "reasoning_tokens";
}

/** cost_details: `total`, else the sum of the parts; null when there is no number. */
function costOf(details: Record<string, unknown> | undefined): number | null {
  if (details === undefined) return null;
  const total = toNum(details["total"]);
  if (total !== undefined) return total >= 0 ? total : null;
  let sum = 0;
  let seen = false;
  for (const key in details) {
    const n = toNum(details[key]);
    if (n === undefined) continue;
    sum += n;
    seen = true;
  }
  return seen && sum >= 0 ? sum : null;
}

// ---------------------------------------------------------------------------------------------
// Content and attribution

/**
 * Observation input/output: a JSON request (`{messages:[..]}`), a message list, one message
 * (`{role, content}`), a chat-completion response, or plain text.
 */
function contentOf(value: unknown, defaultRole: string): ChatMessage[] {
  if (value === undefined || value === null || value === "") return [];
  const parsed = typeof value === "string" ? parseJsonLoose(value) : value;
  if (isRecord(parsed) && parsed["messages"] === undefined && parsed["choices"] === undefined) {
    if (parsed["role"] !== undefined || parsed["content"] !== undefined) return fromPromptValue(parsed, defaultRole);
    if (typeof parsed["input"] === "string" || Array.isArray(parsed["input"])) {
      return fromPromptValue(parsed["input"], defaultRole);
    }
    return fromPromptValue(JSON.stringify(parsed), defaultRole);
  }
  return fromPromptValue(parsed, defaultRole);
}

const TRACE_METADATA_PREFIX = "langfuse.trace.metadata.";

function tagsOf(a: Attributes): Record<string, string> {
  const tags: Record<string, string> = {};
  const metadata = a["langfuse.trace.metadata"];
  if (metadata !== undefined && metadata !== null) addObjectTags(tags, metadata);
  addPrefixedTags(tags, a, TRACE_METADATA_PREFIX);
  const list = a["langfuse.trace.tags"];
  if (list !== undefined && list !== null) addListTags(tags, list);
  const environment = str(a, "langfuse.environment");
  // The row's environment column comes from resource attributes; Langfuse puts it on spans.
  if (environment !== undefined) tags["environment"] = environment;
  const traceName = str(a, "langfuse.trace.name");
  if (traceName !== undefined) tags["trace_name"] = traceName;
  return tags;
}

export const langfuseAdapter: ConventionAdapter = {
  name: LANGFUSE,
  detect,
  classify,
  extract,
};
