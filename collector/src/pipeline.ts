import { createHash } from "node:crypto";
import type { Config } from "./config/schema.js";
import type { Redactor } from "./enrich/redact.js";
import type { Logger } from "./logger.js";
import type { CollectorMetrics } from "./metrics/collector-metrics.js";
import type { NormalizedCall, NormalizedSpan } from "./normalize/registry.js";
import type { SpanScore } from "./normalize/types.js";
import { decodeLogs, decodeTraces } from "./otlp/decode.js";
import type { DecodedLogRecord, DecodedSpan } from "./otlp/types.js";
import type { BatchWriter } from "./storage/batch-writer.js";
import type { CallSource, LlmCallRow, ScoreRow, SpanRow } from "./storage/rows.js";

/** What ingest answers: rejected items go into the OTLP partial_success. */
export interface IngestResult {
  rejected: number;
  message: string;
}

export interface PipelineStages {
  normalizeSpan(span: DecodedSpan, source: CallSource): NormalizedSpan;
  dedupeCalls<T extends { trace_id: string; span_id: string; parent_span_id: string }>(calls: T[]): T[];
  /** Prices the call and fills tokens when usage was missing; mutates and returns the row. */
  enrichCall(call: NormalizedCall): LlmCallRow;
  redact: Redactor;
}

export interface PipelineDeps {
  config: Config;
  writer: BatchWriter;
  metrics: CollectorMetrics;
  logger: Logger;
  stages: PipelineStages;
  /** Extra work on each stored call (built-in evaluators, budgets...). Must not throw. */
  onCall?: (row: LlmCallRow) => ScoreRow[] | undefined;
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

/**
 * decode -> normalize -> enrich -> batch writer. One instance per collector; the OTLP routes and
 * the in-process proxy both feed it.
 */
export class IngestPipeline {
  readonly #d: PipelineDeps;

  constructor(deps: PipelineDeps) {
    this.#d = deps;
  }

  async ingestTraces(body: Buffer, contentType: string, contentEncoding: string | undefined): Promise<IngestResult> {
    const { writer, config, metrics } = this.#d;
    writer.admit(0);
    const decoded = decodeTraces(body, contentType, contentEncoding, {
      maxBodyBytes: config.ingest.maxBodyBytes,
      maxAttributeValueBytes: config.ingest.maxAttributeValueBytes,
    });
    metrics.pipeline.spansReceived.inc({ signal: "traces" }, decoded.items.length + decoded.rejected);
    if (decoded.rejected > 0)
      metrics.pipeline.spansRejected.inc({ signal: "traces", reason: "invalid_span" }, decoded.rejected);
    await this.ingestSpans(decoded.items, { wait: true });
    return {
      rejected: decoded.rejected,
      message: decoded.rejected > 0 ? `${decoded.rejected} span(s) rejected: ${decoded.rejectReason}` : "",
    };
  }

  async ingestLogs(body: Buffer, contentType: string, contentEncoding: string | undefined): Promise<IngestResult> {
    const { writer, config, metrics } = this.#d;
    writer.admit(0);
    const decoded = decodeLogs(body, contentType, contentEncoding, {
      maxBodyBytes: config.ingest.maxBodyBytes,
      maxAttributeValueBytes: config.ingest.maxAttributeValueBytes,
    });
    metrics.pipeline.spansReceived.inc({ signal: "logs" }, decoded.items.length + decoded.rejected);
    const scores: ScoreRow[] = [];
    for (const rec of decoded.items) {
      const s = evaluationFromLog(rec);
      if (s) scores.push(scoreRow(rec.traceId, rec.spanId, s, "telemetry"));
    }
    writer.admit(scores.length);
    await writer.write("scores", scores);
    return {
      rejected: decoded.rejected,
      message: decoded.rejected > 0 ? `${decoded.rejected} log record(s) rejected: ${decoded.rejectReason}` : "",
    };
  }

  /**
   * Normalizes, enriches and queues decoded spans. With `wait`, resolves once the rows are
   * durable (ClickHouse or spool); in-process producers pass wait=false and never block.
   */
  async ingestSpans(spans: DecodedSpan[], opts: { wait: boolean }): Promise<void> {
    const { writer, stages, metrics, logger } = this.#d;
    if (spans.length === 0) return;
    const spanRows: SpanRow[] = [];
    const pending: NormalizedCall[] = [];
    const scoreRows: ScoreRow[] = [];
    for (const span of spans) {
      let n: NormalizedSpan;
      try {
        n = stages.normalizeSpan(span, sourceOf(span));
      } catch (err) {
        // A normalizer bug must not lose the span: keep it in `spans` without a call row.
        logger.warn({ err: { message: (err as Error).message }, span_id: span.spanId }, "normalize failed");
        metrics.pipeline.spansRejected.inc({ signal: "traces", reason: "normalize_failed" });
        continue;
      }
      spanRows.push(n.spanRow);
      if (n.call) pending.push(n.call);
      for (const s of n.scores) scoreRows.push(scoreRow(span.traceId, span.spanId, s, "telemetry"));
    }
    const calls: LlmCallRow[] = [];
    for (const c of stages.dedupeCalls(pending)) {
      const row = stages.enrichCall(c);
      this.#redactRow(row);
      calls.push(row);
      metrics.recordCall(row);
      const extra = this.#d.onCall?.(row);
      if (extra) for (const s of extra) scoreRows.push(s);
    }
    if (opts.wait) {
      writer.admit(spanRows.length + calls.length + scoreRows.length);
      await Promise.all([
        writer.write("spans", spanRows),
        writer.write("llm_calls", calls),
        writer.write("scores", scoreRows),
      ]);
    } else {
      writer.enqueue("spans", spanRows);
      writer.enqueue("llm_calls", calls);
      writer.enqueue("scores", scoreRows);
    }
  }

  #redactRow(row: LlmCallRow): void {
    const { redact } = this.#d.stages;
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
