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
import { redactSecrets } from "../enrich/redact.js";
import type { Attributes, AttrValue, DecodedSpan, SpanEvent } from "../otlp/types.js";
import type { CallSource, LlmCallRow, SpanRow } from "../storage/rows.js";
import { attrToString, bool } from "./attr.js";
import { type AttributionDefaults, resolveAttribution, serviceOf } from "./attribution.js";
import { storedAttributeValue } from "./credentials.js";
import { langfuseAdapter } from "./langfuse.js";
import { openInferenceAdapter } from "./openinference.js";
import { openLitAdapter } from "./openlit.js";
import { openLlmetryAdapter } from "./openllmetry.js";
import { evaluationScores, otelGenAiAdapter } from "./otel-genai.js";
import type { CallFacts, ConventionAdapter, SpanClassification, SpanScore } from "./types.js";
import { vercelAiAdapter } from "./vercel-ai.js";

/** An llm_calls row before enrich/ prices it and estimates missing tokens. */
export type NormalizedCall = Omit<
  LlmCallRow,
  "cost_usd" | "list_cost_usd" | "priced" | "price_id" | "reported_cost_usd" | "tokens_estimated"
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
 * (see the file comment); otel_genai must stay last. Among the others, the ones detected by a
 * key only their own spans carry come first: the Traceloop and Langfuse SDKs stamp their
 * context keys (traceloop.association.properties.*, langfuse.environment, user.id) on every
 * span their processor sees, including other instrumentations' spans.
 */
export const defaultAdapters: readonly ConventionAdapter[] = Object.freeze([
  openInferenceAdapter,
  langfuseAdapter,
  vercelAiAdapter,
  openLitAdapter,
  openLlmetryAdapter,
  otelGenAiAdapter,
]);

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
      if (zeroUsageIsUnknown(call)) {
        call.usageMissing = true;
        if (call.reportedCostUsd === 0) call.reportedCostUsd = null;
      }
    } else {
      service = serviceOf(span);
    }

    // The call row holds the prompt and response; the spans copy leaves them out.
    const dropContent = call !== null && (call.input !== "" || call.output !== "");
    // Content the spans copy keeps (other spans' prompts, tool arguments and results...) is
    // stored apart: redacted and kept for the content retention, like a call's.
    const content: Record<string, string> = {};

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
      status_message: redactSecrets(span.status.message),
      duration_ms: durationMs,
      convention: cls.convention,
      operation: cls.operation,
      is_llm_call: call === null ? 0 : 1,
      attributes: flattenAttributes(span.attributes, dropContent, call !== null, content),
      content_attributes: content,
      resource_attributes: flattenResource(span.resource.attributes),
      events: eventsJson(span.events, dropContent),
    };

    return { call, spanRow, scores };
  }

  return { normalizeSpan };
}

/**
 * No tokens at all on a call that answered and has a prompt: a sender that read usage where its
 * SDK no longer puts it (OpenLIT's Vercel AI wrapper reads AI SDK 4's promptTokens /
 * completionTokens and writes 0 for ai 5+). A prompt is never free of tokens, so the usage is
 * unknown, not zero: it is estimated from the content, never priced at $0. A proxy cache hit
 * used no tokens, and a failed call may truly have used none.
 */
function zeroUsageIsUnknown(call: NormalizedCall): boolean {
  if (call.usageMissing || call.cache_hit === 1 || call.status !== "ok" || call.input === "") return false;
  return (
    call.input_tokens === 0 && call.output_tokens === 0 && call.cache_read_tokens === 0 && call.cache_write_tokens === 0
  );
}

// ---------------------------------------------------------------------------------------------
// spans table copy

const CONTENT_KEYS = new Set([
  "gen_ai.input.messages",
  "gen_ai.output.messages",
  "gen_ai.system_instructions",
  "gen_ai.prompt",
  "gen_ai.completion",
  // OpenInference raw request/response
  "input.value",
  "output.value",
  // Vercel AI SDK legacy spans
  "ai.prompt",
  "ai.prompt.messages",
  "ai.response.text",
  "ai.response.toolCalls",
  "ai.response.reasoning",
  "ai.response.object",
  "ai.value",
  "ai.values",
  // Langfuse observations
  "langfuse.observation.input",
  "langfuse.observation.output",
]);

/** Fields of the deprecated message events that hold content. */
const EVENT_CONTENT_FIELDS = new Set(["content", "tool_calls", "message"]);

/**
 * Keys holding prompts or responses: the OTel content keys and the other conventions' (see
 * CONTENT_KEYS), OpenLLMetry's indexed `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`,
 * OpenInference's embedded texts, and any indexed `*messages.N.*` list (OpenInference
 * `llm.input_messages.N.*`, ...). A call span's copy in `spans` leaves them out: the call row
 * holds them, redacted.
 */
export function isContentKey(key: string): boolean {
  if (CONTENT_KEYS.has(key)) return true;
  if (key.startsWith("gen_ai.prompt.") || key.startsWith("gen_ai.completion.")) {
    // gen_ai.prompt.name / .version are a prompt reference, not content.
    return key !== "gen_ai.prompt.name" && key !== "gen_ai.prompt.version";
  }
  if (key.startsWith("embedding.embeddings.")) return true;
  return key.includes("messages.");
}

function truncate(s: string): string {
  return s.length > MAX_ATTRIBUTE_VALUE_CHARS ? s.slice(0, MAX_ATTRIBUTE_VALUE_CHARS) : s;
}

/**
 * Attributes as Map(String, String): strings as is, others JSON; bounded (both maps together).
 * With `content`, the keys that hold prompts, responses or tool data go there instead.
 */
export function flattenAttributes(
  attrs: Attributes,
  dropContent: boolean,
  dropNormalized = false,
  content?: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const key in attrs) {
    if (n >= MAX_SPAN_ATTRIBUTES) break;
    if (dropNormalized && isNormalizedKey(key)) continue;
    const isContent = (dropContent || content !== undefined) && isSpanContentKey(key);
    if (dropContent && isContent) continue;
    const v = attrs[key] as AttrValue;
    const s = attrToString(v);
    if (s === undefined) continue;
    const value = storedAttributeValue(key, truncate(s));
    if (isContent && content !== undefined) content[key] = value;
    else out[key] = value;
    n++;
  }
  return out;
}

/**
 * Keys of a span's own content besides the calls' (isContentKey): tool call arguments and
 * results (OTel GenAI, Vercel AI SDK), OpenLLMetry's workflow and task input/output, and
 * OpenInference's retrieved documents.
 */
const SPAN_CONTENT_KEYS = new Set([
  "gen_ai.tool.call.arguments",
  "gen_ai.tool.call.result",
  "ai.toolCall.args",
  "ai.toolCall.result",
  "traceloop.entity.input",
  "traceloop.entity.output",
]);

export function isSpanContentKey(key: string): boolean {
  return (
    SPAN_CONTENT_KEYS.has(key) ||
    isContentKey(key) ||
    key.startsWith("retrieval.documents.") ||
    key.startsWith("reranker.input_documents.") ||
    key.startsWith("reranker.output_documents.")
  );
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
    // Every value is a string already (eventAttributes): the fast, replacer-free stringify applies.
    const item = JSON.stringify({ name: ev.name, time_us: ev.timeUs, attributes: attrs });
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
    out[key] = storedAttributeValue(key, truncate(s));
    n++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// De-duplication

/**
 * The fields dedupeCalls reads. Only the ids are required, so a caller typed against the ids
 * alone can pass its rows; without model/operation fields every parent/child pair matches.
 * The optional fact fields are copied onto the kept row when it lacks them.
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
  /** Sibling spans are only paired across conventions (two instrumentations, one call). */
  convention?: string;
  /** Call start (Unix µs) and duration, for pairing siblings whose lifetimes overlap. */
  timestamp?: number;
  duration_ms?: number;
  provider?: string;
  response_id?: string;
  finish_reason?: string;
  prompt_name?: string;
  prompt_version?: string;
  input?: string;
  output?: string;
  user_id?: string;
  session_id?: string;
  team?: string;
  project?: string;
  feature?: string;
  ttft_ms?: number | null;
  streamed?: number;
  http_status?: number;
  reportedCostUsd?: number | null;
  tags?: Record<string, string>;
}

/** Parent link of any span of the batch, so ancestry can be followed through spans that are not calls. */
export interface SpanLink {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
}

/** How far up a call's ancestry a wrapper is looked for; traces deeper than this are not walked. */
const MAX_ANCESTOR_HOPS = 64;
/** Sibling pairing is quadratic in the calls sharing one parent; larger fan-outs are left alone. */
const MAX_SIBLINGS_PAIRED = 64;

const FILLED_STRINGS = [
  "provider",
  "request_model",
  "response_model",
  "response_id",
  "finish_reason",
  "prompt_name",
  "prompt_version",
  "input",
  "output",
  "user_id",
  "session_id",
  "team",
  "project",
  "feature",
] as const;

function idKey(traceId: string, spanId: string): string {
  return `${traceId}/${spanId}`;
}

function modelsOf(c: DedupeCandidate): [string, string] {
  return [c.request_model || "", c.response_model || ""];
}

/**
 * Same model: any shared name (a wrapper may know the requested alias and the provider span
 * the dated snapshot it resolved to, or the other way round). With `unknownMatches`, a side
 * that names no model at all matches any model: a wrapper that does not know the model.
 */
function sameModel(a: DedupeCandidate, b: DedupeCandidate, unknownMatches: boolean): boolean {
  const [a1, a2] = modelsOf(a);
  const [b1, b2] = modelsOf(b);
  const aNone = a1 === "" && a2 === "";
  const bNone = b1 === "" && b2 === "";
  if (aNone || bNone) return (aNone && bNone) || unknownMatches;
  return (a1 !== "" && (a1 === b1 || a1 === b2)) || (a2 !== "" && (a2 === b1 || a2 === b2));
}

export function sameCall(a: DedupeCandidate, b: DedupeCandidate, unknownMatches = false): boolean {
  return (a.operation ?? "") === (b.operation ?? "") && sameModel(a, b, unknownMatches);
}

function hasUsage(c: DedupeCandidate): boolean {
  return c.usageMissing !== true;
}

/** How much a row says beyond its ids: used to pick among siblings and to order gap filling. */
function richness(c: DedupeCandidate): number {
  let n = hasUsage(c) ? 8 : 0;
  if (c.input || c.output) n += 4;
  if (c.ttft_ms !== null && c.ttft_ms !== undefined) n += 2;
  if (c.user_id || c.session_id) n += 1;
  return n;
}

/** Two spans of different instrumentations around one call: overlapping lifetimes, same usage when both report it. */
export function siblingsMatch(a: DedupeCandidate, b: DedupeCandidate): boolean {
  if (!a.convention || !b.convention || a.convention === b.convention) return false;
  if (a.timestamp === undefined || b.timestamp === undefined) return false;
  if (!sameCall(a, b)) return false;
  const aEnd = a.timestamp + (a.duration_ms ?? 0) * 1000;
  const bEnd = b.timestamp + (b.duration_ms ?? 0) * 1000;
  if (a.timestamp > bEnd || b.timestamp > aEnd) return false;
  if (hasUsage(a) && hasUsage(b)) {
    return a.input_tokens === b.input_tokens && a.output_tokens === b.output_tokens;
  }
  return true;
}

/**
 * Within one batch, collapse the calls that describe the same model call into one row, so its
 * usage and cost count once:
 *
 * - sibling calls of DIFFERENT conventions with the same operation and model, overlapping
 *   lifetimes and equal usage when both report it: two instrumentations recording one call side
 *   by side (Langfuse's observeOpenAI beside an openai instrumentation). Calls of one convention
 *   are never paired, so two real parallel calls stay two rows;
 * - a call whose nearest matching ancestor (its parent, or further up through `links`, the
 *   batch's other spans) is a call with the same operation and model (or no model at all): a
 *   framework span wrapping the provider's span (an AI SDK doGenerate span around an openai
 *   instrumentation span, a Langfuse generation around an OpenInference span). A wrapper that
 *   turns out to wrap several distinct calls is a grouping, not a call: it is dropped and its
 *   calls are kept.
 *
 * Of a collapsed group the innermost span is kept (the provider's span, closest to the wire;
 * among siblings the richer one) and whatever it lacks is filled from the others, nearest
 * first: usage when it had none, content, TTFT, user and session, reported cost, response model,
 * tags. Input objects are not changed. Calls split across batches are not matched.
 */
export function dedupeCalls<T extends DedupeCandidate>(calls: readonly T[], links: readonly SpanLink[] = []): T[] {
  if (calls.length < 2) return [...calls];
  const n = calls.length;
  const at = (i: number): T => calls[i] as T;
  const index = new Map<string, number>();
  const parentOf = new Map<string, string>();
  for (const l of links) if (l.parent_span_id !== "") parentOf.set(idKey(l.trace_id, l.span_id), l.parent_span_id);
  for (let i = 0; i < n; i++) {
    const c = at(i);
    index.set(idKey(c.trace_id, c.span_id), i);
    if (c.parent_span_id !== "") parentOf.set(idKey(c.trace_id, c.span_id), c.parent_span_id);
  }

  // Nearest matching ancestor of each call, and its depth (known ancestors): the deepest
  // member of a group is its innermost span.
  const depth = new Array<number>(n).fill(0);
  const wrapperOf = new Array<number>(n).fill(-1);
  let candidates = false;
  for (let i = 0; i < n; i++) {
    const c = at(i);
    let parent = c.parent_span_id;
    for (let hops = 0; parent !== "" && hops < MAX_ANCESTOR_HOPS; hops++) {
      const key = idKey(c.trace_id, parent);
      depth[i] = hops + 1;
      const j = index.get(key);
      if (wrapperOf[i] === -1 && j !== undefined && j !== i && sameCall(at(j), c, true)) {
        wrapperOf[i] = j;
        candidates = true;
      }
      parent = parentOf.get(key) ?? "";
    }
  }

  // Union-find over call indexes; each group remembers its conventions so that sibling
  // pairing never puts two rows of one convention together.
  const root: number[] = Array.from({ length: n }, (_, i) => i);
  const conventions = new Map<number, Set<string>>();
  const find = (i: number): number => {
    let r = i;
    while (root[r] !== r) r = root[r] as number;
    let x = i;
    while (root[x] !== r) {
      const next = root[x] as number;
      root[x] = r;
      x = next;
    }
    return r;
  };
  const conventionsOf = (r: number): Set<string> => {
    let set = conventions.get(r);
    if (set === undefined) {
      set = new Set();
      const conv = at(r).convention;
      if (conv) set.add(conv);
      conventions.set(r, set);
    }
    return set;
  };
  const union = (i: number, j: number): void => {
    const ri = find(i);
    const rj = find(j);
    if (ri === rj) return;
    const merged = conventionsOf(ri);
    for (const c of conventionsOf(rj)) merged.add(c);
    root[rj] = ri;
    conventions.delete(rj);
  };

  // 1. Siblings: calls sharing a parent span within one trace.
  const byParent = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const c = at(i);
    if (!c.convention || c.timestamp === undefined) continue;
    const key = idKey(c.trace_id, c.parent_span_id);
    const list = byParent.get(key);
    if (list === undefined) byParent.set(key, [i]);
    else list.push(i);
  }
  for (const list of byParent.values()) {
    if (list.length < 2 || list.length > MAX_SIBLINGS_PAIRED) continue;
    for (const i of list) {
      const a = at(i);
      let best = -1;
      let bestGap = Number.POSITIVE_INFINITY;
      for (const j of list) {
        if (j === i || !siblingsMatch(a, at(j))) continue;
        const ri = find(i);
        const rj = find(j);
        if (ri === rj) continue;
        const ci = conventionsOf(ri);
        let clash = false;
        for (const conv of conventionsOf(rj)) if (ci.has(conv)) clash = true;
        if (clash) continue;
        const gap = Math.abs((a.timestamp ?? 0) - (at(j).timestamp ?? 0));
        if (gap < bestGap) {
          bestGap = gap;
          best = j;
        }
      }
      if (best >= 0) {
        union(i, best);
        candidates = true;
      }
    }
  }
  if (!candidates) return [...calls];

  // 2. Wrappers: one wrapped call (after sibling pairing) is the same call; several make the
  // wrapper a grouping span, dropped without merging.
  const wrapped = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const j = wrapperOf[i] as number;
    if (j < 0) continue;
    const list = wrapped.get(j);
    if (list === undefined) wrapped.set(j, [i]);
    else list.push(i);
  }
  const dropped = new Set<number>();
  for (const [j, inner] of wrapped) {
    const groups = new Set(inner.map(find));
    if (groups.size > 1) dropped.add(j);
  }
  for (const [j, inner] of wrapped) {
    if (!dropped.has(j)) union(j, inner[0] as number);
  }

  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    if (dropped.has(i)) continue;
    const r = find(i);
    const list = members.get(r);
    if (list === undefined) members.set(r, [i]);
    else list.push(i);
  }

  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    if (dropped.has(i)) continue;
    const group = members.get(find(i)) as number[];
    if (group.length === 1) {
      out.push(at(i));
      continue;
    }
    // Emit each group once, at the position of its first member.
    if (group[0] !== i) continue;
    const order = [...group].sort(
      (x, y) =>
        (depth[y] as number) - (depth[x] as number) ||
        richness(at(y)) - richness(at(x)) ||
        (at(y).timestamp ?? 0) - (at(x).timestamp ?? 0),
    );
    const [keep, ...rest] = order.map(at);
    out.push(fillGaps(keep as T, rest));
  }
  return out;
}

/** The kept row with the gaps filled from the rows it replaces (copied; inputs untouched). */
function fillGaps<T extends DedupeCandidate>(keep: T, others: readonly T[]): T {
  let out: T | undefined;
  const edit = (): Record<string, unknown> => {
    out ??= { ...keep };
    return out as unknown as Record<string, unknown>;
  };
  const current = (): DedupeCandidate => out ?? keep;
  for (const o of others) {
    if (!hasUsage(current()) && hasUsage(o) && o.usageMissing === false) {
      const w = edit();
      w["usageMissing"] = false;
      w["input_tokens"] = o.input_tokens;
      w["output_tokens"] = o.output_tokens;
      w["cache_read_tokens"] = o.cache_read_tokens;
      w["cache_write_tokens"] = o.cache_write_tokens;
      w["reasoning_tokens"] = o.reasoning_tokens;
    }
    for (const field of FILLED_STRINGS) {
      const mine = current()[field];
      const theirs = o[field];
      if (mine === "" && typeof theirs === "string" && theirs !== "") edit()[field] = theirs;
    }
    const cur = current();
    if (cur.ttft_ms === null && o.ttft_ms !== null && o.ttft_ms !== undefined) edit()["ttft_ms"] = o.ttft_ms;
    if (cur.streamed === 0 && o.streamed === 1) edit()["streamed"] = 1;
    if (cur.http_status === 0 && o.http_status !== undefined && o.http_status !== 0) {
      edit()["http_status"] = o.http_status;
    }
    if (cur.reportedCostUsd === null && o.reportedCostUsd !== null && o.reportedCostUsd !== undefined) {
      edit()["reportedCostUsd"] = o.reportedCostUsd;
    }
    if (cur.tags !== undefined && o.tags !== undefined) {
      let missing = false;
      for (const k in o.tags) if (!(k in cur.tags)) missing = true;
      if (missing) edit()["tags"] = { ...o.tags, ...cur.tags };
    }
  }
  return out ?? keep;
}
