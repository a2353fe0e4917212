/**
 * Where the proxy's spans go. In `tokenmeter start` the proxy shares the collector's process
 * and hands spans straight to the ingest pipeline; `tokenmeter proxy --collector URL` exports
 * them over OTLP/HTTP instead (otlp-exporter.ts). Either way the user's call never waits for
 * telemetry: `emit` only queues, and a full queue drops the span and counts it in
 * tokenmeter_telemetry_dropped_total{component="proxy"}.
 */
import type { Counter } from "prom-client";
import type { Logger } from "../logger.js";
import type { DecodedSpan } from "../otlp/types.js";

export interface SpanSink {
  /** Queues one finished span. Never throws, never blocks. */
  emit(span: DecodedSpan): void;
  /** Hands over what is queued (bounded wait) and stops. */
  close(): Promise<void>;
}

/** The part of IngestPipeline the sink uses. */
export interface SpanIngest {
  ingestSpans(spans: DecodedSpan[], opts: { wait: boolean }): Promise<void>;
}

/** The part of BatchWriter the sink uses: throws when its queue or spool is full. */
export interface WriteAdmission {
  admit(rows: number): void;
}

export interface PipelineSinkOptions {
  pipeline: SpanIngest;
  /** When given, spans are dropped (and counted) instead of queued while storage is saturated. */
  writer?: WriteAdmission;
  /** Counter child for lost spans. */
  dropped: Pick<Counter.Internal, "inc">;
  logger: Logger;
  maxBufferedSpans: number;
  /** Spans handed to the pipeline per turn of the event loop. */
  maxBatch?: number;
}

/**
 * In-process sink: spans wait in a bounded array and go to the pipeline in batches on the next
 * turn of the event loop, so normalizing and pricing them never runs inside a request's path.
 */
export function createPipelineSink(opts: PipelineSinkOptions): SpanSink {
  const { pipeline, writer, dropped, logger, maxBufferedSpans } = opts;
  const maxBatch = opts.maxBatch ?? 512;
  let queue: DecodedSpan[] = [];
  let scheduled = false;
  let closed = false;
  let inflight = 0;
  const idle: Array<() => void> = [];

  const flush = (): void => {
    scheduled = false;
    while (queue.length > 0) {
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
      queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
      try {
        // A span becomes at most a spans row and a call row.
        writer?.admit(batch.length * 2);
      } catch {
        dropped.inc(batch.length);
        continue;
      }
      inflight++;
      let p: Promise<void>;
      try {
        p = pipeline.ingestSpans(batch, { wait: false });
      } catch (err) {
        p = Promise.reject(err);
      }
      p.catch((err: unknown) => {
        dropped.inc(batch.length);
        logger.warn({ err: { message: (err as Error)?.message } }, "proxy spans could not be ingested");
      }).finally(() => {
        inflight--;
        if (inflight === 0) for (const f of idle.splice(0)) f();
      });
    }
  };

  return {
    emit(span) {
      if (closed || queue.length >= maxBufferedSpans) {
        dropped.inc();
        return;
      }
      queue.push(span);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      flush();
      if (inflight > 0) await new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
