/**
 * OpenInference (Arize Phoenix): the @arizeai/openinference-instrumentation-* packages and
 * their Python counterparts. Spec: github.com/Arize-ai/openinference, spec/semantic_conventions.md.
 *
 * - `openinference.span.kind`: LLM and EMBEDDING are model calls; CHAIN, AGENT, TOOL,
 *   RETRIEVER, RERANKER, GUARDRAIL, EVALUATOR and PROMPT only group or surround them.
 * - provider `llm.provider` (the API host: openai, azure, aws, google) / `llm.system` (the model
 *   family: openai, anthropic, vertexai); model `llm.model_name` (what the response said, or the
 *   request when there is none), `llm.request.model_name`, `llm.response.model_name`,
 *   `embedding.model_name`; the request itself in `llm.invocation_parameters` (JSON).
 * - usage `llm.token_count.prompt` (cache included) / `.completion` (reasoning included) /
 *   `.prompt_details.cache_read` / `.prompt_details.cache_write` / `.completion_details.reasoning`.
 * - messages as indexed keys `llm.input_messages.N.message.{role,content,contents.M.message_content.*,
 *   tool_calls.M.tool_call.{id,function.name,function.arguments},tool_call_id,name}` (and
 *   `llm.output_messages.N.*`); the raw request/response in `input.value` / `output.value`.
 * - `llm.cost.total` (USD) when the sender prices the call itself.
 * - `user.id`, `session.id`, `metadata` (JSON object), `tag.tags` (list).
 * - evaluations on the span: `evaluations.N.evaluation.{name,score,label,explanation}`.
 * - streaming: Python instrumentations add a "First Token Stream Event" event on the first chunk.
 */
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { firstInt, firstNum, firstStr, parseJsonLoose, str, toNum } from "./attr.js";
import {
  type ChatMessage,
  firstFinishReason,
  fromOpenAiMessages,
  fromPromptValue,
  rebuildIndexed,
  stringifyMessages,
} from "./messages.js";
import { callStatus, evaluationScores, normalizeProvider } from "./otel-genai.js";
import {
  addListTags,
  addObjectTags,
  applyUsage,
  emptyFacts,
  firstEventOffsetMs,
  isRecord,
  objectAttr,
  paramsJson,
  reportedUsage,
  type UsageKeys,
} from "./span-facts.js";
import type { CallFacts, ConventionAdapter, SpanClassification, SpanScore } from "./types.js";

export const OPENINFERENCE = "openinference";

const KIND_KEY = "openinference.span.kind";

const PROVIDER_KEYS = ["llm.provider", "llm.system"] as const;
const REQUEST_MODEL_KEYS = ["llm.request.model_name"] as const;
const RESPONSE_MODEL_KEYS = ["llm.response.model_name", "llm.model_name", "embedding.model_name"] as const;

const USAGE_KEYS: UsageKeys = {
  input: ["llm.token_count.prompt"],
  output: ["llm.token_count.completion"],
  cacheRead: ["llm.token_count.prompt_details.cache_read"],
  cacheWrite: ["llm.token_count.prompt_details.cache_write"],
  reasoning: ["llm.token_count.completion_details.reasoning"],
};
const COST_KEYS = ["llm.cost.total"] as const;

const FIRST_TOKEN_EVENTS: ReadonlySet<string> = new Set(["First Token Stream Event"]);

function detect(span: DecodedSpan): boolean {
  return span.attributes[KIND_KEY] !== undefined;
}

/** Span kind -> operation: LLM and EMBEDDING are calls, other kinds keep their name lowercased. */
function operationOf(a: Attributes): string {
  const kind = (str(a, KIND_KEY) ?? "").toUpperCase();
  if (kind === "LLM") return "chat";
  if (kind === "EMBEDDING") return "embeddings";
  return kind.toLowerCase();
}

function classify(span: DecodedSpan): SpanClassification {
  const operation = operationOf(span.attributes);
  return {
    convention: OPENINFERENCE,
    operation,
    isModelCall: operation === "chat" || operation === "embeddings",
  };
}

/**
 * `llm.provider` names the API host ("google" for both of Google's APIs), `llm.system` the model
 * family, which says "vertexai" for Vertex AI.
 */
function providerOf(a: Attributes): string {
  const provider = normalizeProvider(firstStr(a, PROVIDER_KEYS) ?? "");
  if (provider === "gcp.gemini" && str(a, "llm.system")?.toLowerCase() === "vertexai") return "gcp.vertex_ai";
  return provider;
}

function extract(span: DecodedSpan): CallFacts {
  const a = span.attributes;
  const facts = emptyFacts();
  facts.operation = operationOf(a);
  const invocation = objectAttr(a, "llm.invocation_parameters");

  facts.provider = providerOf(a);
  const responseModel = firstStr(a, RESPONSE_MODEL_KEYS) ?? "";
  const requestModel =
    firstStr(a, REQUEST_MODEL_KEYS) ??
    (invocation !== undefined && typeof invocation["model"] === "string" ? invocation["model"] : undefined);
  facts.request_model = requestModel ?? responseModel;
  facts.response_model = requestModel === undefined ? "" : responseModel;

  applyUsage(facts, reportedUsage(a, USAGE_KEYS));

  facts.ttft_ms = firstEventOffsetMs(span, FIRST_TOKEN_EVENTS);
  facts.streamed = facts.ttft_ms !== null || invocation?.["stream"] === true ? 1 : 0;
  facts.request_params = paramsJson(invocation);

  const { status, errorType } = callStatus(span);
  facts.status = status;
  facts.error_type = errorType;
  facts.http_status = firstInt(a, ["http.response.status_code", "http.status_code"]) ?? 0;

  const input = facts.operation === "embeddings" ? embeddingInputs(a) : messagesOf(a, "llm.input_messages", "user");
  facts.input = stringifyMessages(input.length > 0 ? input : valueMessages(a, "input", "user"));
  let output = messagesOf(a, "llm.output_messages", "assistant");
  if (output.length === 0 && facts.operation !== "embeddings") output = valueMessages(a, "output", "assistant");
  facts.output = stringifyMessages(output);
  facts.finish_reason = str(a, "llm.finish_reason") ?? firstFinishReason(output) ?? "";

  const cost = firstNum(a, COST_KEYS);
  facts.reportedCostUsd = cost === undefined || cost < 0 ? null : cost;

  facts.userId = str(a, "user.id") ?? "";
  facts.sessionId = str(a, "session.id") ?? "";
  const tags: Record<string, string> = {};
  const metadata = a["metadata"];
  if (metadata !== undefined && metadata !== null) addObjectTags(tags, metadata);
  const tagList = a["tag.tags"];
  if (tagList !== undefined && tagList !== null) addListTags(tags, tagList);
  facts.tags = tags;
  return facts;
}

// ---------------------------------------------------------------------------------------------
// Content

/** `prefix.N.message.*` entries as normalized messages. */
function messagesOf(a: Attributes, prefix: string, defaultRole: string): ChatMessage[] {
  const entries = rebuildIndexed(a, prefix);
  if (entries.length === 0) return [];
  const openAiStyle: Record<string, unknown>[] = [];
  for (const entry of entries) {
    const m = entry["message"];
    if (isRecord(m)) openAiStyle.push(toOpenAiMessage(m));
  }
  return fromOpenAiMessages(openAiStyle, defaultRole);
}

/** One OpenInference `message` object in the OpenAI message shape the shared converter reads. */
function toOpenAiMessage(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m["role"] };
  const contents = m["contents"];
  if (Array.isArray(contents) && contents.length > 0) {
    const blocks: unknown[] = [];
    for (const c of contents) {
      const mc = isRecord(c) ? c["message_content"] : undefined;
      if (!isRecord(mc)) continue;
      const type = typeof mc["type"] === "string" ? mc["type"] : "text";
      if (typeof mc["text"] === "string") blocks.push({ type: "text", text: mc["text"] });
      else if (type === "image" && isRecord(mc["image"])) {
        const img = mc["image"]["image"];
        const url = isRecord(img) ? img["url"] : undefined;
        if (typeof url === "string") blocks.push({ type: "image_url", image_url: { url } });
      }
    }
    out["content"] = blocks;
  } else {
    out["content"] = m["content"];
  }
  const calls = m["tool_calls"];
  if (Array.isArray(calls)) {
    const toolCalls: unknown[] = [];
    for (const c of calls) {
      const tc = isRecord(c) ? c["tool_call"] : undefined;
      if (!isRecord(tc)) continue;
      const fn = isRecord(tc["function"]) ? tc["function"] : {};
      toolCalls.push({ id: tc["id"], function: { name: fn["name"], arguments: fn["arguments"] } });
    }
    out["tool_calls"] = toolCalls;
  }
  if (typeof m["function_call_name"] === "string") {
    out["function_call"] = { name: m["function_call_name"], arguments: m["function_call_arguments_json"] };
  }
  if (m["tool_call_id"] !== undefined) out["tool_call_id"] = m["tool_call_id"];
  if (typeof m["name"] === "string") out["name"] = m["name"];
  return out;
}

/** EMBEDDING spans: `embedding.embeddings.N.embedding.text` as one user message each. */
function embeddingInputs(a: Attributes): ChatMessage[] {
  const texts: string[] = [];
  for (const entry of rebuildIndexed(a, "embedding.embeddings")) {
    const e = entry["embedding"];
    if (isRecord(e) && typeof e["text"] === "string") texts.push(e["text"]);
  }
  return fromOpenAiMessages(texts, "user");
}

/**
 * `input.value` / `output.value` when no indexed messages were written: plain text, or the
 * raw request (`{messages:[..]}`) / response (`{choices:[..]}`) JSON.
 */
function valueMessages(a: Attributes, side: "input" | "output", defaultRole: string): ChatMessage[] {
  const v = a[`${side}.value`];
  if (v === undefined || v === null) return [];
  if (typeof v === "string" && str(a, `${side}.mime_type`) !== "application/json") {
    return fromOpenAiMessages(v, defaultRole);
  }
  const parsed = typeof v === "string" ? parseJsonLoose(v) : v;
  if (isRecord(parsed) && parsed["messages"] === undefined && parsed["choices"] === undefined) {
    // Some other JSON document (a Responses request, a tool result): kept as text.
    return typeof v === "string" ? fromOpenAiMessages(v, defaultRole) : [];
  }
  return fromPromptValue(parsed, defaultRole);
}

// ---------------------------------------------------------------------------------------------
// Scores

/** `evaluations.N.evaluation.*` attributes, plus any gen_ai.evaluation.result events. */
function scores(span: DecodedSpan): SpanScore[] {
  const out = evaluationScores(span);
  for (const entry of rebuildIndexed(span.attributes, "evaluations")) {
    const e = entry["evaluation"];
    if (!isRecord(e)) continue;
    const name = typeof e["name"] === "string" ? e["name"] : undefined;
    const value = toNum(e["score"]) ?? null;
    const label = typeof e["label"] === "string" ? e["label"] : "";
    if (name === undefined && value === null && label === "") continue;
    out.push({
      name: name ?? "openinference.evaluation",
      value,
      label,
      comment: typeof e["explanation"] === "string" ? e["explanation"] : "",
      timeUs: span.endTimeUs,
    });
  }
  return out;
}

export const openInferenceAdapter: ConventionAdapter = {
  name: OPENINFERENCE,
  detect,
  classify,
  extract,
  scores,
};
