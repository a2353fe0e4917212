import type { Config } from "./config/schema.js";
import {
  type BatchProcessor,
  type CallSummary,
  callContentLine,
  createBatchProcessor,
  type PipelineStages,
  type ProcessedBatch,
} from "./ingest/process-batch.js";
import { type CrossBatchVerdict, RecentCalls } from "./ingest/recent-calls.js";
import type { IngestWorkerPool } from "./ingest/worker-pool.js";
import type { Logger } from "./logger.js";
import type { CollectorMetrics } from "./metrics/collector-metrics.js";
import type { DecodedSpan } from "./otlp/types.js";
import type { BatchWriter } from "./storage/batch-writer.js";
import { LLM_CALLS_COLUMNS, parseLine, SPANS_COLUMNS } from "./storage/row-format.js";

export type { CallSummary, PipelineStages } from "./ingest/process-batch.js";
export { telemetryScoreId } from "./ingest/process-batch.js";

/** What ingest answers: rejected items go into the OTLP partial_success. */
export interface IngestResult {
  rejected: number;
  message: string;
}

export interface PipelineDeps {
  config: Config;
  writer: BatchWriter;
  metrics: CollectorMetrics;
  logger: Logger;
  stages: PipelineStages;
  /** Worker threads for OTLP bodies; without one, bodies are processed on this thread. */
  workers?: IngestWorkerPool | undefined;
  /** Called with every stored call (budgets, live counters). Must not throw. */
  onCalls?: (calls: readonly CallSummary[]) => void;
}

/**
 * decode -> normalize -> enrich -> batch writer. One instance per collector; the OTLP routes and
 * the in-process proxy both feed it. The CPU part runs in worker threads when there are any;
 * this side only hands text to the writer and updates metrics.
 */
export class IngestPipeline {
  readonly #d: PipelineDeps;
  readonly #inline: BatchProcessor;
  readonly #recent: RecentCalls | undefined;

  constructor(deps: PipelineDeps) {
    this.#d = deps;
    this.#inline = createBatchProcessor(deps.config, deps.stages);
    const remembered = deps.config.ingest.dedupeRecentCalls;
    this.#recent = remembered > 0 ? new RecentCalls(remembered) : undefined;
  }

  async ingestTraces(body: Buffer, contentType: string, contentEncoding: string | undefined): Promise<IngestResult> {
    this.#d.writer.admit(0);
    const batch = this.#d.workers
      ? await this.#d.workers.run("traces", body, contentType, contentEncoding)
      : this.#inline.traces(body, contentType, contentEncoding);
    await this.#store(batch, "traces", true);
    return {
      rejected: batch.rejected,
      message: batch.rejected > 0 ? `${batch.rejected} span(s) rejected: ${batch.rejectReason}` : "",
    };
  }

  async ingestLogs(body: Buffer, contentType: string, contentEncoding: string | undefined): Promise<IngestResult> {
    this.#d.writer.admit(0);
    const batch = this.#d.workers
      ? await this.#d.workers.run("logs", body, contentType, contentEncoding)
      : this.#inline.logs(body, contentType, contentEncoding);
    await this.#store(batch, "logs", true);
    return {
      rejected: batch.rejected,
      message: batch.rejected > 0 ? `${batch.rejected} log record(s) rejected: ${batch.rejectReason}` : "",
    };
  }

  /**
   * Processes decoded spans from in-process producers such as the proxy: on a worker thread
   * when there are any (the proxy's thread then only copies the spans over, and its requests
   * never wait behind normalizing, pricing and serializing), else on this thread. With `wait`,
   * resolves once the rows are durable; with wait=false the caller never waits for storage.
   */
  async ingestSpans(spans: DecodedSpan[], opts: { wait: boolean }): Promise<void> {
    if (spans.length === 0) return;
    const batch = this.#d.workers ? await this.#d.workers.runSpans(spans) : this.#inline.spans(spans);
    await this.#store(batch, "traces", opts.wait);
  }

  /** True when ingestSpans() hands its work to worker threads, so large batches cost this thread little. */
  get offloadsSpans(): boolean {
    return this.#d.workers !== undefined;
  }

  async #store(batch: ProcessedBatch, signal: "traces" | "logs", wait: boolean): Promise<void> {
    const { writer, metrics, logger } = this.#d;
    const m = metrics.pipeline;
    const verdict = this.#recent !== undefined && batch.calls.length > 0 ? this.#recent.admit(batch.calls) : undefined;
    if (verdict !== undefined && verdict.drop.length > 0) dropCounted(batch, verdict);
    const rows = batch.spans.rows + batch.llm_calls.rows + batch.scores.rows + batch.call_content.rows;
    if (wait) {
      // Refused before anything is counted: the sender retries the whole batch.
      try {
        writer.admit(rows);
      } catch (err) {
        verdict?.rollback();
        throw err;
      }
    }
    if (verdict !== undefined && verdict.drop.length > 0) m.callsDeduplicated.inc(verdict.drop.length);
    m.spansReceived.inc({ signal }, batch.received);
    if (batch.rejected > 0) m.spansRejected.inc({ signal, reason: "invalid_span" }, batch.rejected);
    if (batch.normalizeFailures > 0) {
      m.spansRejected.inc({ signal, reason: "normalize_failed" }, batch.normalizeFailures);
      logger.warn({ spans: batch.normalizeFailures }, "spans skipped: normalization failed");
    }
    for (const c of batch.calls) metrics.recordCall(c);
    if (this.#d.onCalls && batch.calls.length > 0) {
      try {
        this.#d.onCalls(batch.calls);
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, "onCalls hook failed");
      }
    }
    const tables = [
      ["spans", batch.spans],
      ["llm_calls", batch.llm_calls],
      ["scores", batch.scores],
      ["call_content", batch.call_content],
    ] as const;
    if (wait) {
      try {
        await Promise.all(tables.map(([t, c]) => writer.writeText(t, c.text, c.rows)));
      } catch (err) {
        // Neither storage nor the spool took it: the sender gets a 503 and sends it again.
        verdict?.rollback();
        throw err;
      }
    } else {
      for (const [t, c] of tables) writer.enqueueText(t, c.text, c.rows);
    }
  }
}

const SPAN_TRACE_ID = SPANS_COLUMNS.indexOf("trace_id");
const SPAN_SPAN_ID = SPANS_COLUMNS.indexOf("span_id");
const SPAN_IS_LLM_CALL = SPANS_COLUMNS.indexOf("is_llm_call");

/**
 * The span rows of calls dropped as copies of a stored call from another span get
 * is_llm_call 0: they have no llm_calls row (as within a batch, see process-batch). The same
 * span sent again keeps its mark, since its row stands for the stored call's span.
 */
function markNotCalls(batch: ProcessedBatch, indexes: readonly number[]): void {
  const keys = new Set<string>();
  for (const i of indexes) {
    const c = batch.calls[i];
    if (c !== undefined) keys.add(`${c.trace_id}/${c.span_id}`);
  }
  const lines = batch.spans.text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const fields = (lines[i] as string).split("\t");
    if (fields[SPAN_IS_LLM_CALL] !== "1" || !keys.has(`${fields[SPAN_TRACE_ID]}/${fields[SPAN_SPAN_ID]}`)) continue;
    fields[SPAN_IS_LLM_CALL] = "0";
    lines[i] = fields.join("\t");
  }
  batch.spans = { text: lines.join("\n"), rows: batch.spans.rows };
}

/**
 * Removes from `batch` the calls a stored row already counts (see RecentCalls), moving their
 * messages to `call_content` under the kept call when it has none. Rare: a split or re-sent
 * export; the common path never gets here.
 */
function dropCounted(batch: ProcessedBatch, verdict: CrossBatchVerdict): void {
  const lines = batch.llm_calls.text.split("\n");
  const drop = new Set(verdict.drop);
  let content = "";
  for (const c of verdict.contentFor) {
    const row = parseLine(LLM_CALLS_COLUMNS, lines[c.index] ?? "");
    content += callContentLine({
      timestamp: c.timestamp,
      trace_id: c.trace_id,
      span_id: c.span_id,
      input: row["input"] ?? "",
      output: row["output"] ?? "",
      redacted: row["redacted"] === "1" ? 1 : 0,
    });
  }
  if (verdict.otherSpans.length > 0) markNotCalls(batch, verdict.otherSpans);
  let text = "";
  for (let i = 0; i < batch.calls.length; i++) if (!drop.has(i)) text += `${lines[i]}\n`;
  batch.llm_calls = { text, rows: batch.calls.length - drop.size };
  batch.calls = batch.calls.filter((_, i) => !drop.has(i));
  if (content !== "") {
    batch.call_content = {
      text: batch.call_content.text + content,
      rows: batch.call_content.rows + verdict.contentFor.length,
    };
  }
}
