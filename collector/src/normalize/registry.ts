/**
 * The normalize stage: one decoded span in, a `spans` row out for every span, an `llm_calls`
 * row (before pricing) for model calls, and the scores the span carries.
 *
 * Adapters are tried in order and the first whose `detect` accepts the span wins. Order
 * matters because third-party conventions also write gen_ai.* keys: each one goes BEFORE
 * otel_genai, detected by a key only it writes (OpenLLMetry: `llm.request.type` or
 * `traceloop.*`; OpenInference: `openinference.span.kind`; Vercel AI: `ai.operationId`;
 * Langfuse: `langfuse.observation.type`; ...). otel_genai stays last, as the catch-all for
 * anything speaking the OTel GenAI conventions.
 */
import type { Attributes, AttrValue, DecodedSpan, SpanEvent } from "../otlp/types.js";
import type { CallSource, LlmCallRow, SpanRow } from "../storage/rows.js";
import { attrToString, bool, jsonReplacer } from "./attr.js";
import { type AttributionDefaults, resolveAttribution, serviceOf } from "./attribution.js";
import { evaluationScores, otelGenAiAdapter } from "./otel-genai.js";
import type { CallFacts, ConventionAdapter, SpanClassification, SpanScore } from "./types.js";

/** An llm_calls row before enrich/ prices it and estimates missing tokens. */
export type NormalizedCall = Omit<
  LlmCallRow,
  "cost_usd" | "priced" | "price_id" | "reported_cost_usd" | "tokens_estimated"
> & {
  usageMissing: boolean;
  reportedCostUsd: number | null;
};

export interface NormalizedSpan {
  call: NormalizedCall | null;
  spanRow: SpanRow;
  scores: SpanScore[];
}

export interface NormalizerOptions {
  /**
   * Called when an adapter throws on a span (a bug, or data it did not expect). The span is
   * still stored, without a call row: one odd span never fails its batch.
   */
  onAdapterError?: (error: unknown, adapter: string, span: DecodedSpan) => void;
}

export interface Normalizer {
  normalizeSpan(span: DecodedSpan, source: CallSource): NormalizedSpan;
}

/**
 * The built-in adapters in detection order. Conventions added later go BEFORE otel_genai
 * (see the file comment); otel_genai must stay last.
 */
export const defaultAdapters: readonly ConventionAdapter[] = Object.freeze([otelGenAiAdapter]);

// Bounds on what one span may put in the spans table.
export const MAX_SPAN_ATTRIBUTES = 256;
export const MAX_ATTRIBUTE_VALUE_CHARS = 8192;
export const MAX_SPAN_EVENTS = 128;
export const MAX_EVENTS_JSON_CHARS = 65_536;

const NO_SCORES: SpanScore[] = [];
const NOT_RECOGNISED: SpanClassification = Object.freeze({ convention: "", operation: "", isModelCall: false });

export function createNormalizer(
  adapters: readonly ConventionAdapter[],
  defaults: AttributionDefaults,
  options: NormalizerOptions = {},
): Normalizer {
  const list = [...adapters];
  const frozenDefaults: AttributionDefaults = Object.freeze({ ...defaults });
  const onError = options.onAdapterError;

  function normalizeSpan(span: DecodedSpan, source: CallSource): NormalizedSpan {
    let adapter: ConventionAdapter | undefined;
    for (const candidate of list) {
      if (candidate.detect(span)) {
        adapter = candidate;
        break;
      }
    }

    let cls = NOT_RECOGNISED;
    let facts: CallFacts | undefined;
    let scores = NO_SCORES;
    if (adapter !== undefined) {
      try {
        cls = adapter.classify(span);
        if (cls.isModelCall) facts = adapter.extract(span);
      } catch (err) {
        onError?.(err, adapter.name, span);
        facts = undefined;
      }
      try {
        scores = adapter.scores === undefined ? evaluationScores(span) : adapter.scores(span);
      } catch (err) {
        onError?.(err, adapter.name, span);
      }
    } else if (span.events.length > 0) {
      scores = evaluationScores(span);
    }

    const durationMs = Math.max(0, (span.endTimeUs - span.startTimeUs) / 1000);
    let call: NormalizedCall | null = null;
    let service: string;
    if (facts !== undefined) {
      const who = resolveAttribution(span, facts, frozenDefaults);
      service = who.service;
      call = {
        timestamp: span.startTimeUs,
        trace_id: span.traceId,
        span_id: span.spanId,
        parent_span_id: span.parentSpanId,
        service: who.service,
        environment: who.environment,
        team: who.team,
        project: who.project,
        user_id: who.user_id,
        session_id: who.session_id,
        feature: who.feature,
        source,
        convention: cls.convention,
        provider: facts.provider,
        operation: facts.operation || cls.operation,
        request_model: facts.request_model,
        response_model: facts.response_model,
        response_id: facts.response_id,
        prompt_name: facts.prompt_name,
        prompt_version: facts.prompt_version,
        input_tokens: facts.input_tokens,
        output_tokens: facts.output_tokens,
        cache_read_tokens: facts.cache_read_tokens,
        cache_write_tokens: facts.cache_write_tokens,
        reasoning_tokens: facts.reasoning_tokens,
        duration_ms: durationMs,
        ttft_ms: facts.ttft_ms,
        streamed: facts.streamed,
        status: facts.status,
        error_type: facts.error_type,
        finish_reason: facts.finish_reason,
        http_status: facts.http_status,
        request_params: facts.request_params,
        input: facts.input,
        output: facts.output,
        redacted: 0,
        // Set by the proxy when it answered from its response cache.
        cache_hit: bool(span.attributes, "tokenmeter.cache_hit") === true ? 1 : 0,
        tags: who.tags,
        usageMissing: facts.usageMissing,
        reportedCostUsd: facts.reportedCostUsd,
      };
    } else {
      service = serviceOf(span);
    }

    // The call row holds the prompt and response; the spans copy leaves them out.
    const dropContent = call !== null && (call.input !== "" || call.output !== "");

    const spanRow: SpanRow = {
      timestamp: span.startTimeUs,
      end_timestamp: span.endTimeUs,
      trace_id: span.traceId,
      span_id: span.spanId,
      parent_span_id: span.parentSpanId,
      name: span.name,
      kind: span.kind,
      service,
      scope_name: span.scope.name,
      status_code: span.status.code,
      status_message: span.status.message,
      duration_ms: durationMs,
      convention: cls.convention,
      operation: cls.operation,
      is_llm_call: call === null ? 0 : 1,
      attributes: flattenAttributes(span.attributes, dropContent, call !== null),
      resource_attributes: flattenResource(span.resource.attributes),
      events: eventsJson(span.events, dropContent),
    };

    return { call, spanRow, scores };
  }

  return { normalizeSpan };
}

// ---------------------------------------------------------------------------------------------
// spans table copy

const CONTENT_KEYS = new Set([
  "gen_ai.input.messages",
  "gen_ai.output.messages",
  "gen_ai.system_instructions",
  "gen_ai.prompt",
  "gen_ai.completion",
]);

/** Fields of the deprecated message events that hold content. */
const EVENT_CONTENT_FIELDS = new Set(["content", "tool_calls", "message"]);

/**
 * Keys holding prompts or responses: the OTel content keys, OpenLLMetry's indexed
 * `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`, and any indexed `*messages.N.*` list
 * (OpenInference `llm.input_messages.N.*`, ...).
 */
export function isContentKey(key: string): boolean {
  if (CONTENT_KEYS.has(key)) return true;
  if (key.startsWith("gen_ai.prompt.") || key.startsWith("gen_ai.completion.")) {
    // gen_ai.prompt.name / .version are a prompt reference, not content.
    return key !== "gen_ai.prompt.name" && key !== "gen_ai.prompt.version";
  }
  return key.includes("messages.");
}

function truncate(s: string): string {
  return s.length > MAX_ATTRIBUTE_VALUE_CHARS ? s.slice(0, MAX_ATTRIBUTE_VALUE_CHARS) : s;
}

/** Attributes as Map(String, String): strings as is, others JSON; bounded. */
export function flattenAttributes(
  attrs: Attributes,
  dropContent: boolean,
  dropNormalized = false,
): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const key in attrs) {
    if (n >= MAX_SPAN_ATTRIBUTES) break;
    if (dropContent && isContentKey(key)) continue;
    if (dropNormalized && isNormalizedKey(key)) continue;
    const v = attrs[key] as AttrValue;
    const s = attrToString(v);
    if (s === undefined) continue;
    out[key] = truncate(s);
    n++;
  }
  return out;
}

/**
 * Keys whose facts the llm_calls row already holds (usage, models, params, attribution): a
 * model-call span's copy in `spans` leaves them out, so a call is not stored twice. Keys of
 * other conventions and the app's own attributes stay.
 */
function isNormalizedKey(key: string): boolean {
  return key.startsWith("gen_ai.") || (key.startsWith("tokenmeter.") && key !== "tokenmeter.truncated_attributes");
}

/** Every span of a resource shares one flattened copy: later stages must not mutate it. */
const resourceAttrCache = new WeakMap<Attributes, Record<string, string>>();

function flattenResource(attrs: Attributes): Record<string, string> {
  let flat = resourceAttrCache.get(attrs);
  if (flat === undefined) {
    flat = flattenAttributes(attrs, false);
    resourceAttrCache.set(attrs, flat);
  }
  return flat;
}

/**
 * Span events as a JSON array `[{"name","time_us","attributes":{k:string}}]`, bounded in count
 * and size. When events are dropped, a last `{"name":"tokenmeter.events_truncated",
 * "attributes":{"dropped":"N"}}` entry says so.
 */
export function eventsJson(events: readonly SpanEvent[], dropContent: boolean): string {
  if (events.length === 0) return "[]";
  let out = "[";
  let kept = 0;
  for (const ev of events) {
    if (kept >= MAX_SPAN_EVENTS) break;
    const attrs = eventAttributes(ev, dropContent);
    const item = JSON.stringify({ name: ev.name, time_us: ev.timeUs, attributes: attrs }, jsonReplacer);
    if (out.length + item.length + 1 > MAX_EVENTS_JSON_CHARS) break;
    out += kept === 0 ? item : `,${item}`;
    kept++;
  }
  const dropped = events.length - kept;
  if (dropped > 0) {
    const marker = JSON.stringify({
      name: "tokenmeter.events_truncated",
      time_us: 0,
      attributes: { dropped: String(dropped) },
    });
    out += kept === 0 ? marker : `,${marker}`;
  }
  return `${out}]`;
}

function eventAttributes(ev: SpanEvent, dropContent: boolean): Record<string, string> {
  const deprecatedMessageEvent =
    dropContent && (ev.name === "gen_ai.choice" || (ev.name.startsWith("gen_ai.") && ev.name.endsWith(".message")));
  const out: Record<string, string> = {};
  let n = 0;
  for (const key in ev.attributes) {
    if (n >= MAX_SPAN_ATTRIBUTES) break;
    if (dropContent && (isContentKey(key) || (deprecatedMessageEvent && EVENT_CONTENT_FIELDS.has(key)))) continue;
    const s = attrToString(ev.attributes[key] as AttrValue);
    if (s === undefined) continue;
    out[key] = truncate(s);
    n++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// De-duplication

/**
 * The fields dedupeCalls reads. Only the ids are required, so a caller typed against the ids
 * alone can pass its rows; without model/operation fields every parent/child pair matches.
 */
export interface DedupeCandidate {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  request_model?: string;
  response_model?: string;
  operation?: string;
  usageMissing?: boolean;
  input_tokens?: number;
  output_tokens?: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  reasoning_tokens?: number;
}

function modelOf(c: DedupeCandidate): string {
  return c.request_model || c.response_model || "";
}

function sameCall(a: DedupeCandidate, b: DedupeCandidate): boolean {
  return (a.operation ?? "") === (b.operation ?? "") && modelOf(a) === modelOf(b);
}

/**
 * Within one batch, drop a call whose span is the direct parent of another call in the same
 * trace with the same model and operation: a framework span wrapping the provider's span
 * describes the same model call, and counting both would double its usage. The innermost
 * span is kept; when it carries no usage but a dropped wrapper did, the wrapper's usage moves
 * onto it (copied, the input objects are not changed). Calls split across batches are not
 * matched.
 */
export function dedupeCalls<T extends DedupeCandidate>(calls: readonly T[]): T[] {
  if (calls.length < 2) return [...calls];
  const byId = new Map<string, T>();
  for (const c of calls) byId.set(`${c.trace_id}/${c.span_id}`, c);

  const wrappers = new Set<T>();
  for (const c of calls) {
    if (c.parent_span_id === "") continue;
    const parent = byId.get(`${c.trace_id}/${c.parent_span_id}`);
    if (parent !== undefined && parent !== c && sameCall(parent, c)) wrappers.add(parent);
  }
  if (wrappers.size === 0) return [...calls];

  const out: T[] = [];
  for (const c of calls) {
    if (wrappers.has(c)) continue;
    out.push(c.usageMissing === true ? withAncestorUsage(c, byId, wrappers) : c);
  }
  return out;
}

function withAncestorUsage<T extends DedupeCandidate>(call: T, byId: Map<string, T>, wrappers: Set<T>): T {
  let node: T = call;
  // Walk up through the dropped wrappers of this call; the chain is bounded by the batch size.
  for (let hops = 0; hops < byId.size; hops++) {
    const parent = byId.get(`${node.trace_id}/${node.parent_span_id}`);
    if (parent === undefined || !wrappers.has(parent) || !sameCall(parent, node)) return call;
    if (parent.usageMissing === false) {
      return {
        ...call,
        usageMissing: false,
        input_tokens: parent.input_tokens,
        output_tokens: parent.output_tokens,
        cache_read_tokens: parent.cache_read_tokens,
        cache_write_tokens: parent.cache_write_tokens,
        reasoning_tokens: parent.reasoning_tokens,
      };
    }
    node = parent;
  }
  return call;
}
