import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import type { Redactor } from "../enrich/redact.js";
import { inheritAttribution } from "../normalize/inherit-attribution.js";
import { contentFromEvents, type EventLike, stringifyMessages } from "../normalize/messages.js";
import type { NormalizedCall, NormalizedSpan, SpanLink } from "../normalize/registry.js";
import type { SpanScore } from "../normalize/types.js";
import { type DecodeLimits, decodeLogs, decodeTraces } from "../otlp/decode.js";
import type { DecodedLogRecord, DecodedSpan } from "../otlp/types.js";
import {
  CALL_CONTENT_COLUMNS,
  type CallContentRow,
  encodeLine,
  LLM_CALLS_COLUMNS,
  SCORES_COLUMNS,
  SPANS_COLUMNS,
} from "../storage/row-format.js";
import type { CallSource, LlmCallRow, ScoreRow, SpanRow } from "../storage/rows.js";

/**
 * The CPU part of ingest, from request body to row text per table: decode, normalize,
 * de-duplicate, price, redact, evaluate, serialize. It is pure (no I/O), so it runs the same
 * inline or in a worker thread (see worker-pool.ts); only text and small call summaries come
 * back to the main thread.
 */

export interface PipelineStages {
  normalizeSpan(span: DecodedSpan, source: CallSource): NormalizedSpan;
  /**
   * Keeps one call per model call when nested or side-by-side spans describe the same one;
   * `links` are all spans of the batch, so wrappers are found through plain spans in between.
   */
  dedupeCalls<T extends SpanLink>(calls: T[], links?: readonly SpanLink[]): T[];
  /** Prices the call and fills tokens when usage was missing. */
  enrichCall(call: NormalizedCall): LlmCallRow;
  redact: Redactor;
  /** Built-in evaluators: scores for a stored call. Must not throw. */
  evaluate?: (row: LlmCallRow) => ScoreRow[];
}

/** Rows of one table as text in its layout (row-format.ts: one TabSeparated line per row). */
export interface TableChunk {
  text: string;
  rows: number;
}

/**
 * What metrics, budget hooks and cross-batch de-duplication need of a stored call: ids and
 * facts, no content.
 */
export type CallSummary = Pick<
  LlmCallRow,
  | "timestamp"
  | "trace_id"
  | "span_id"
  | "parent_span_id"
  | "convention"
  | "operation"
  | "tokens_estimated"
  | "team"
  | "project"
  | "user_id"
  | "environment"
  | "provider"
  | "request_model"
  | "response_model"
  | "status"
  | "source"
  | "error_type"
  | "duration_ms"
  | "ttft_ms"
  | "input_tokens"
  | "output_tokens"
  | "cache_read_tokens"
  | "cache_write_tokens"
  | "reasoning_tokens"
  | "priced"
  | "cost_usd"
  | "cache_hit"
> & {
  /** 1 when the row carries input or output messages. */
  has_content: number;
};

export interface ProcessedBatch {
  /** Items in the request (spans or log records), valid or not. */
  received: number;
  rejected: number;
  rejectReason: string;
  /** Spans whose normalization threw (they are still stored in `spans` when possible). */
  normalizeFailures: number;
  spans: TableChunk;
  llm_calls: TableChunk;
  scores: TableChunk;
  /** Prompt/response content that arrived as OTLP log events, keyed by the call's span. */
  call_content: TableChunk;
  calls: CallSummary[];
}

/** Which path a span came by: our SDK and proxy mark their spans; anything else is "otlp". */
function sourceOf(span: DecodedSpan): CallSource {
  const marked = span.attributes["tokenmeter.source"];
  if (marked === "sdk" || marked === "proxy") return marked;
  if (span.scope.name === "@tokenmeter/sdk") return "sdk";
  if (span.scope.name === "@tokenmeter/proxy") return "proxy";
  return "otlp";
}

/** A stable id for a score carried in telemetry, so a re-sent span does not double it. */
export function telemetryScoreId(traceId: string, spanId: string, name: string, timeUs: number): string {
  return createHash("sha1").update(`${traceId}:${spanId}:${name}:${timeUs}`).digest("hex").slice(0, 32);
}

function scoreRow(traceId: string, spanId: string, s: SpanScore, source: string): ScoreRow {
  return {
    timestamp: s.timeUs,
    score_id: telemetryScoreId(traceId, spanId, s.name, s.timeUs),
    trace_id: traceId,
    span_id: spanId,
    name: s.name,
    value: s.value,
    label: s.label,
    source,
    comment: s.comment,
    data_type: s.value === null ? "categorical" : "numeric",
  };
}

function summarize(r: LlmCallRow): CallSummary {
  return {
    timestamp: r.timestamp,
    trace_id: r.trace_id,
    span_id: r.span_id,
    parent_span_id: r.parent_span_id,
    convention: r.convention,
    operation: r.operation,
    tokens_estimated: r.tokens_estimated,
    has_content: r.input !== "" || r.output !== "" ? 1 : 0,
    team: r.team,
    project: r.project,
    user_id: r.user_id,
    environment: r.environment,
    provider: r.provider,
    request_model: r.request_model,
    response_model: r.response_model,
    status: r.status,
    source: r.source,
    error_type: r.error_type,
    duration_ms: r.duration_ms,
    ttft_ms: r.ttft_ms,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    cache_read_tokens: r.cache_read_tokens,
    cache_write_tokens: r.cache_write_tokens,
    reasoning_tokens: r.reasoning_tokens,
    priced: r.priced,
    cost_usd: r.cost_usd,
    cache_hit: r.cache_hit,
  };
}

/** Log events that carry a call's messages (GenAI semconv, current and deprecated). */
const CONTENT_EVENTS = new Set([
  "gen_ai.client.inference.operation.details",
  "gen_ai.system.message",
  "gen_ai.user.message",
  "gen_ai.assistant.message",
  "gen_ai.tool.message",
  "gen_ai.choice",
  "gen_ai.content.prompt",
  "gen_ai.content.completion",
]);

const EMPTY: TableChunk = Object.freeze({ text: "", rows: 0 });

/** One call_content row as a line of its layout. */
export function callContentLine(row: CallContentRow): string {
  return encodeLine(CALL_CONTENT_COLUMNS, row);
}

function scoreLine(row: ScoreRow): string {
  return encodeLine(SCORES_COLUMNS, row);
}

/** The content a span keeps in `spans` (content_attributes) is redacted like a call's. */
function redactSpanContent(row: SpanRow, redact: Redactor): void {
  const content = row.content_attributes;
  for (const key in content) content[key] = redact(content[key] as string).text;
}

function redactRow(row: LlmCallRow, redact: Redactor): void {
  let hit = false;
  if (row.input) {
    const r = redact(row.input);
    row.input = r.text;
    hit ||= r.redacted;
  }
  if (row.output) {
    const r = redact(row.output);
    row.output = r.text;
    hit ||= r.redacted;
  }
  if (hit) row.redacted = 1;
}

/** gen_ai.evaluation.result sent as an OTLP log record (event) -> a score. */
function evaluationFromLog(rec: DecodedLogRecord): SpanScore | undefined {
  const name = rec.eventName || (typeof rec.attributes["event.name"] === "string" ? rec.attributes["event.name"] : "");
  if (name !== "gen_ai.evaluation.result") return undefined;
  const a = rec.attributes;
  const evalName = a["gen_ai.evaluation.name"];
  if (typeof evalName !== "string" || !evalName || !rec.traceId) return undefined;
  const v = a["gen_ai.evaluation.score.value"];
  const value =
    typeof v === "number"
      ? v
      : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))
        ? Number(v)
        : null;
  const label = a["gen_ai.evaluation.score.label"];
  const expl = a["gen_ai.evaluation.explanation"];
  return {
    name: evalName,
    value,
    label: typeof label === "string" ? label : "",
    comment: typeof expl === "string" ? expl : "",
    timeUs: rec.timeUs,
  };
}

export interface BatchProcessor {
  traces(body: Uint8Array, contentType: string, contentEncoding: string | undefined): ProcessedBatch;
  logs(body: Uint8Array, contentType: string, contentEncoding: string | undefined): ProcessedBatch;
  spans(spans: readonly DecodedSpan[]): ProcessedBatch;
}

export function createBatchProcessor(config: Config, stages: PipelineStages): BatchProcessor {
  const limits: DecodeLimits = {
    maxBodyBytes: config.ingest.maxBodyBytes,
    maxAttributeValueBytes: config.ingest.maxAttributeValueBytes,
  };

  function spans(input: readonly DecodedSpan[]): ProcessedBatch {
    let spansText = "";
    let spanRows = 0;
    let scoresText = "";
    let scoreRows = 0;
    let normalizeFailures = 0;
    const pending: NormalizedCall[] = [];
    // Span rows are encoded after de-duplication: a span whose call is dropped as a copy of
    // another (an AI SDK embedMany `embeddings` span around its inner ones) is a grouping, and
    // its row must say so (is_llm_call 0), as it has no llm_calls row.
    const spanRowsOut: SpanRow[] = [];
    for (const span of input) {
      let n: NormalizedSpan;
      try {
        n = stages.normalizeSpan(span, sourceOf(span));
      } catch {
        // A normalizer bug must not fail the batch: the span is counted and skipped.
        normalizeFailures++;
        continue;
      }
      redactSpanContent(n.spanRow, stages.redact);
      spanRowsOut.push(n.spanRow);
      if (n.call) pending.push(n.call);
      for (const s of n.scores) {
        scoresText += scoreLine(scoreRow(span.traceId, span.spanId, s, "telemetry"));
        scoreRows++;
      }
    }
    let callsText = "";
    const calls: CallSummary[] = [];
    let byId: Map<string, DecodedSpan> | undefined;
    const kept = pending.length > 1 ? stages.dedupeCalls(pending, spanRowsOut) : pending;
    if (kept.length < pending.length) {
      const stored = new Set<string>();
      for (const c of kept) stored.add(`${c.trace_id}/${c.span_id}`);
      for (const row of spanRowsOut) {
        if (row.is_llm_call === 1 && !stored.has(`${row.trace_id}/${row.span_id}`)) row.is_llm_call = 0;
      }
    }
    for (const row of spanRowsOut) {
      spansText += encodeLine(SPANS_COLUMNS, row);
      spanRows++;
    }
    for (const c of kept) {
      if (c.parent_span_id !== "" && (c.user_id === "" || c.session_id === "" || c.team === "")) {
        if (!byId) {
          byId = new Map();
          for (const s of input) byId.set(`${s.traceId}/${s.spanId}`, s);
        }
        inheritAttribution(c, byId);
      }
      const row = stages.enrichCall(c);
      redactRow(row, stages.redact);
      callsText += encodeLine(LLM_CALLS_COLUMNS, row);
      calls.push(summarize(row));
      if (stages.evaluate) {
        for (const s of stages.evaluate(row)) {
          scoresText += scoreLine(s);
          scoreRows++;
        }
      }
    }
    return {
      received: input.length,
      rejected: 0,
      rejectReason: "",
      normalizeFailures,
      spans: { text: spansText, rows: spanRows },
      llm_calls: { text: callsText, rows: calls.length },
      scores: { text: scoresText, rows: scoreRows },
      call_content: EMPTY,
      calls,
    };
  }

  return {
    spans,
    traces(body, contentType, contentEncoding) {
      const decoded = decodeTraces(
        Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        contentType,
        contentEncoding,
        limits,
      );
      const out = spans(decoded.items);
      out.received = decoded.items.length + decoded.rejected;
      out.rejected = decoded.rejected;
      out.rejectReason = decoded.rejectReason;
      return out;
    },
    logs(body, contentType, contentEncoding) {
      const decoded = decodeLogs(
        Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        contentType,
        contentEncoding,
        limits,
      );
      let text = "";
      let rows = 0;
      // Content events (operation details, the deprecated message events) grouped per call span.
      const content = new Map<string, { timeUs: number; traceId: string; spanId: string; events: EventLike[] }>();
      for (const rec of decoded.items) {
        const s = evaluationFromLog(rec);
        if (s) {
          text += scoreLine(scoreRow(rec.traceId, rec.spanId, s, "telemetry"));
          rows++;
          continue;
        }
        if (!rec.traceId || !rec.spanId || !CONTENT_EVENTS.has(rec.eventName)) continue;
        const key = `${rec.traceId}/${rec.spanId}`;
        let group = content.get(key);
        if (!group) {
          group = { timeUs: rec.timeUs, traceId: rec.traceId, spanId: rec.spanId, events: [] };
          content.set(key, group);
        }
        group.events.push({ name: rec.eventName, attributes: rec.attributes, body: rec.body });
      }
      let contentText = "";
      let contentRows = 0;
      for (const g of content.values()) {
        const c = contentFromEvents(g.events);
        const input = stages.redact(stringifyMessages(c.input));
        const output = stages.redact(stringifyMessages(c.output));
        if (input.text === "" && output.text === "") continue;
        contentText += callContentLine({
          timestamp: g.timeUs,
          trace_id: g.traceId,
          span_id: g.spanId,
          input: input.text,
          output: output.text,
          redacted: input.redacted || output.redacted ? 1 : 0,
        });
        contentRows++;
      }
      return {
        received: decoded.items.length + decoded.rejected,
        rejected: decoded.rejected,
        rejectReason: decoded.rejectReason,
        normalizeFailures: 0,
        spans: EMPTY,
        llm_calls: EMPTY,
        scores: { text, rows },
        call_content: { text: contentText, rows: contentRows },
        calls: [],
      };
    },
  };
}
