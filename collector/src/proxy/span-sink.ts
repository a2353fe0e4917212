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
  /**
   * Hands over what is queued now and resolves once the pipeline has it (or after `maxWaitMs`),
   * so a read that follows sees the calls answered before it. Sinks that send elsewhere have
   * nothing a local read could see, and leave it out.
   */
  flush?(maxWaitMs?: number): Promise<void>;
}

/** The in-process sink: flush() is always there. */
export interface PipelineSink extends SpanSink {
  flush(maxWaitMs?: number): Promise<void>;
}

/** The part of IngestPipeline the sink uses. */
export interface SpanIngest {
  ingestSpans(spans: DecodedSpan[], opts: { wait: boolean }): Promise<void>;
  /** When true, ingestSpans() works on another thread: batches need no slicing. */
  readonly offloadsSpans?: boolean;
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
  /**
   * How long spans gather before they go to the pipeline. Longer means fewer, larger inserts
   * (an embedded ClickHouse spends its CPU per insert, on the cores the proxy needs), but spans
   * held longer survive young-generation GCs and cost more to collect; default 200 ms.
   */
  flushIntervalMs?: number;
  /**
   * Spans normalized per turn of the event loop, so a large batch never stalls requests;
   * default 8, or 512 when the pipeline processes spans on worker threads.
   */
  sliceSize?: number;
}

/**
 * In-process sink: spans gather in a bounded array for `flushIntervalMs`, then go to the
 * pipeline a slice per turn of the event loop. Normalizing and pricing never run inside a
 * request's path, never hold the loop for long, and the whole batch reaches the batch writer
 * within one of its linger windows, so it becomes one insert per table.
 */
export function createPipelineSink(opts: PipelineSinkOptions): PipelineSink {
  const { pipeline, writer, dropped, logger, maxBufferedSpans } = opts;
  const flushIntervalMs = opts.flushIntervalMs ?? 200;
  const sliceSize = opts.sliceSize ?? (pipeline.offloadsSpans === true ? 512 : 8);
  let queue: DecodedSpan[] = [];
  let head = 0;
  let timer: NodeJS.Timeout | undefined;
  let draining = false;
  let closed = false;
  /** Batches handed to the pipeline and not yet in the batch writer. */
  const handedOver = new Set<Promise<void>>();
  /** Told when nothing is queued, draining or handed over. */
  const idle: Array<() => void> = [];
  /** Told when a drain has handed its last slice over. */
  const drained: Array<() => void> = [];

  const ingest = (batch: DecodedSpan[]): void => {
    try {
      // A span becomes at most a spans row and a call row.
      writer?.admit(batch.length * 2);
    } catch {
      dropped.inc(batch.length);
      return;
    }
    let p: Promise<void>;
    try {
      p = pipeline.ingestSpans(batch, { wait: false });
    } catch (err) {
      p = Promise.reject(err);
    }
    const settled = p
      .catch((err: unknown) => {
        dropped.inc(batch.length);
        logger.warn({ err: { message: (err as Error)?.message } }, "proxy spans could not be ingested");
      })
      .finally(() => {
        handedOver.delete(settled);
        if (handedOver.size === 0 && !draining) for (const f of idle.splice(0)) f();
      });
    handedOver.add(settled);
  };

  /** Everything queued goes to the pipeline now, a slice at a time. */
  const handOverAll = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const rest = queue.slice(head);
    queue = [];
    head = 0;
    for (let i = 0; i < rest.length; i += sliceSize) ingest(rest.slice(i, i + sliceSize));
  };

  const slice = (): void => {
    const end = Math.min(queue.length, head + sliceSize);
    const batch = queue.slice(head, end);
    head = end;
    if (head >= queue.length) {
      queue = [];
      head = 0;
    }
    if (batch.length > 0) ingest(batch);
    if (queue.length - head > 0) {
      setImmediate(slice);
      return;
    }
    draining = false;
    for (const f of drained.splice(0)) f();
    if (handedOver.size === 0) for (const f of idle.splice(0)) f();
  };

  const startDrain = (): void => {
    timer = undefined;
    if (draining) return;
    draining = true;
    slice();
  };

  return {
    emit(span) {
      if (closed || queue.length - head >= maxBufferedSpans) {
        dropped.inc();
        return;
      }
      queue.push(span);
      if (timer === undefined && !draining) timer = setTimeout(startDrain, flushIntervalMs);
    },
    async close() {
      if (closed) return;
      closed = true;
      // Whatever is queued goes to the pipeline now, in one go: the process is stopping.
      handOverAll();
      if (handedOver.size > 0 || draining) await new Promise<void>((resolve) => idle.push(resolve));
    },
    async flush(maxWaitMs = 1000) {
      // Only what was emitted before this call: spans that keep arriving under load must not
      // hold the read forever. The queue goes over a slice per turn of the loop, as always, so
      // a read never stalls the proxy's requests (inline processing normalizes on this thread).
      if (timer !== undefined) {
        clearTimeout(timer);
        startDrain();
      }
      let timeout: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, maxWaitMs);
        timeout.unref();
      });
      const handed = draining ? new Promise<void>((resolve) => drained.push(resolve)) : Promise.resolve();
      await Promise.race([handed.then(() => Promise.all(handedOver)), expired]);
      clearTimeout(timeout);
    },
  };
}
