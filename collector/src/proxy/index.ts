/**
 * The proxy's public surface: what `tokenmeter start` and `tokenmeter proxy` wire together,
 * and what budget enforcement implements (hooks).
 */
export type {
  PreRequestDecision,
  PreRequestHook,
  ProxyRequestContext,
  Reservation,
} from "./hooks.js";
export { collectorTracesUrl, createOtlpHttpSink, encodeSpans, type OtlpHttpSinkOptions } from "./otlp-exporter.js";
export { createProxyMetrics, type ProxyMetrics, telemetryDroppedCounter } from "./proxy-metrics.js";
export { buildProxy, type ProxyDeps, type ProxyServer, type StartProxyOptions, startProxy } from "./server.js";
export {
  createPipelineSink,
  type PipelineSink,
  type PipelineSinkOptions,
  type SpanIngest,
  type SpanSink,
  type WriteAdmission,
} from "./span-sink.js";
export { sha256Hex } from "./virtual-keys.js";
