/**
 * OpenLLMetry (Traceloop): @traceloop/node-server-sdk and the @traceloop/instrumentation-*
 * packages, and the Python `traceloop-sdk`.
 *
 * Two generations of spans arrive:
 * - older (JS <= 0.22, most Python releases): `llm.request.type`, `gen_ai.system` ("OpenAI"),
 *   indexed `gen_ai.prompt.N.role/content` and `gen_ai.completion.N.role/content/finish_reason`,
 *   `gen_ai.usage.prompt_tokens` / `completion_tokens` / `cache_read_input_tokens` /
 *   `cache_creation_input_tokens` / `reasoning_tokens`, one `gen_ai.content.completion.chunk`
 *   (earlier `llm.content.completion.chunk`) event per streamed chunk;
 * - newer (JS 0.25+): the OTel GenAI keys (gen_ai.operation.name, gen_ai.input.messages, ...).
 * Both carry the SDK's `traceloop.*` keys: `traceloop.association.properties.<name>` (user_id,
 * session_id and any custom property), `traceloop.workflow.name`, `traceloop.span.kind` for the
 * workflow/task/agent/tool spans that group model calls.
 *
 * The OTel facts are read by the otel_genai adapter; this one adds what only OpenLLMetry says.
 */
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { bool, firstStr, hasAny, parseJsonLoose, str } from "./attr.js";
import {
  type ChatMessage,
  firstFinishReason,
  fromOpenAiMessages,
  parseOtelMessages,
  rebuildIndexed,
  stringifyMessages,
} from "./messages.js";
import { extractOtelGenAi, isModelCallOperation, otelOperation } from "./otel-genai.js";
import { addPrefixedTags, firstEventOffsetMs, type UsageKeys } from "./span-facts.js";
import type { CallFacts, ConventionAdapter, SpanClassification } from "./types.js";

export const OPENLLMETRY = "openllmetry";

/** Keys only OpenLLMetry writes. `traceloop.association.properties.*` names vary, so they are not here. */
const DETECT_KEYS = [
  "llm.request.type",
  "traceloop.workflow.name",
  "traceloop.span.kind",
  "traceloop.entity.name",
  "llm.is_streaming",
  "llm.usage.total_tokens",
] as const;
const SCOPE_PREFIX = "@traceloop/";

/**
 * Instrumentations that copy Anthropic's `input_tokens` (which leaves out cache reads and
 * writes) into gen_ai.usage.input_tokens and write the cache counts beside it: the JS
 * @traceloop/instrumentation-anthropic (0.27 `_endSpan`). The Python instrumentation adds the
 * cache in, so the rule follows the scope, not the provider.
 */
const INPUT_EXCLUDES_CACHE_SCOPES: ReadonlySet<string> = new Set(["@traceloop/instrumentation-anthropic"]);

const ASSOCIATION_PREFIX = "traceloop.association.properties.";
const USER_PROPERTIES = [`${ASSOCIATION_PREFIX}user_id`, `${ASSOCIATION_PREFIX}userId`] as const;
const SESSION_PROPERTIES = [`${ASSOCIATION_PREFIX}session_id`, `${ASSOCIATION_PREFIX}sessionId`] as const;
const NOT_TAGS: ReadonlySet<string> = new Set(["user_id", "userId", "session_id", "sessionId"]);

/**
 * OpenLLMetry's Vertex AI instrumentations write gen_ai.system "Google", as its Gemini API ones
 * do: the scope tells Vertex AI apart.
 */
const VERTEX_SCOPES: ReadonlySet<string> = new Set([
  "@traceloop/instrumentation-vertexai",
  "opentelemetry.instrumentation.vertexai",
]);

/** `llm.request.type` values -> operation names of the OTel convention. */
const REQUEST_TYPES: ReadonlyMap<string, string> = new Map([
  ["chat", "chat"],
  ["completion", "text_completion"],
  ["embedding", "embeddings"],
  ["embeddings", "embeddings"],
]);

const USAGE_KEYS: UsageKeys = {
  input: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens"],
  output: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens"],
  cacheRead: ["gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"],
  cacheWrite: [
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
  ],
  reasoning: ["gen_ai.usage.reasoning_tokens", "gen_ai.usage.reasoning.output_tokens", "llm.usage.reasoning_tokens"],
};

/** Streamed chunk events; the first one marks the first token. */
const CHUNK_EVENTS: ReadonlySet<string> = new Set([
  "gen_ai.content.completion.chunk",
  "llm.content.completion.chunk",
  "gen_ai.completion.chunk",
]);

function detect(span: DecodedSpan): boolean {
  return hasAny(span.attributes, DETECT_KEYS) || span.scope.name.startsWith(SCOPE_PREFIX);
}

/**
 * `llm.request.type` first (older spans), then gen_ai.operation.name, then the SDK's
 * `traceloop.span.kind` (workflow, task, agent, tool: groupings, never model calls).
 */
function operationOf(a: Attributes): string {
  const type = str(a, "llm.request.type");
  if (type !== undefined) {
    const lower = type.toLowerCase();
    return REQUEST_TYPES.get(lower) ?? lower;
  }
  if (a["gen_ai.operation.name"] === undefined) {
    const kind = str(a, "traceloop.span.kind");
    if (kind !== undefined) return kind.toLowerCase();
  }
  return otelOperation(a);
}

function classify(span: DecodedSpan): SpanClassification {
  const operation = operationOf(span.attributes);
  return { convention: OPENLLMETRY, operation, isModelCall: isModelCallOperation(operation) };
}

function extract(span: DecodedSpan): CallFacts {
  const a = span.attributes;
  const facts = extractOtelGenAi(span, USAGE_KEYS, {
    inputExcludesCache: INPUT_EXCLUDES_CACHE_SCOPES.has(span.scope.name),
  });
  facts.operation = operationOf(a);
  if (facts.provider === "gcp.gemini" && VERTEX_SCOPES.has(span.scope.name)) facts.provider = "gcp.vertex_ai";

  if (facts.input === "") facts.input = stringifyMessages(indexedMessages(a, "gen_ai.prompt", "user"));
  if (facts.output === "") {
    const out = indexedMessages(a, "gen_ai.completion", "assistant");
    facts.output = stringifyMessages(out);
    if (facts.finish_reason === "") facts.finish_reason = firstFinishReason(out) ?? "";
  }

  const ttft = firstEventOffsetMs(span, CHUNK_EVENTS);
  if (ttft !== null) facts.ttft_ms = ttft;
  if (facts.ttft_ms !== null || bool(a, "llm.is_streaming") === true) facts.streamed = 1;

  facts.userId = firstStr(a, USER_PROPERTIES) ?? facts.userId;
  facts.sessionId = firstStr(a, SESSION_PROPERTIES) ?? facts.sessionId;
  const tags: Record<string, string> = {};
  addPrefixedTags(tags, a, ASSOCIATION_PREFIX, NOT_TAGS);
  const workflow = str(a, "traceloop.workflow.name");
  if (workflow !== undefined) tags["workflow"] = workflow;
  facts.tags = tags;
  return facts;
}

/**
 * Indexed `prefix.N.role/content/tool_calls.M.*` keys as normalized messages. Content that is
 * a list of parts arrives JSON-encoded (`[{"type":"text","text":..}]`); newer releases write an
 * OTel parts list in the same place.
 */
function indexedMessages(a: Attributes, prefix: string, defaultRole: string): ChatMessage[] {
  const entries = rebuildIndexed(a, prefix);
  if (entries.length === 0) return [];
  const messages: unknown[] = [];
  for (const entry of entries) {
    const content = entry["content"];
    if (typeof content === "string" && content.startsWith("[")) {
      const parsed = parseJsonLoose(content);
      if (Array.isArray(parsed)) {
        const looksOtel = parsed.some((p) => typeof p === "object" && p !== null && "parts" in p);
        if (looksOtel) {
          // A whole OTel message list written into one indexed slot.
          for (const m of parseOtelMessages(parsed, defaultRole)) messages.push(m);
          continue;
        }
        messages.push({ ...entry, content: parsed });
        continue;
      }
    }
    messages.push(entry);
  }
  return fromOpenAiMessages(messages, defaultRole);
}

export const openLlmetryAdapter: ConventionAdapter = {
  name: OPENLLMETRY,
  detect,
  classify,
  extract,
};
