import type { Collector } from "./app.js";
import type { Logger } from "./logger.js";
import { createPipelineSink, type PipelineSink, telemetryDroppedCounter } from "./proxy/index.js";

/**
 * The sink of a proxy that shares the collector's process: its spans go through the
 * collector's pipeline, and reads wait for the calls it has answered (see onBeforeRead).
 */
export function inProcessSink(collector: Collector, logger: Logger): PipelineSink {
  const sink = createPipelineSink({
    pipeline: collector.pipeline,
    writer: collector.writer,
    dropped: telemetryDroppedCounter(collector.metrics.registry).labels({ component: "proxy" }),
    logger,
    maxBufferedSpans: collector.config.proxy.maxBufferedSpans,
  });
  collector.onBeforeRead(() => sink.flush());
  return sink;
}
