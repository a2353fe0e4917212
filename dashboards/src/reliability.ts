import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { baseDashboard, finalizeDashboard } from "./dashboard-base.js";
import { barChartPanel, logsPanel, promTimeSeriesPanel, row, tablePanel, timeSeriesPanel } from "./panels.js";
import { CALL_WHERE, CALLS, ERROR_RATE, TIMED_CALLS } from "./sql-fragments.js";
import { filterVariables } from "./variables.js";

/**
 * Reliability: are calls fast and succeeding, where do they fail, does the proxy path behave like
 * the SDK path, and is tokenmeter's own ingest pipeline keeping up (from its Prometheus metrics).
 */

const BUCKET = "$__timeInterval(timestamp) AS time";

/** `rate()` of a counter summed by one label, over Grafana's rate interval. */
function rateBy(metric: string, label: string): string {
  return `sum by (${label}) (rate(${metric}[$__rate_interval]))`;
}

export function reliabilityDashboard(): Dashboard {
  const builder = baseDashboard({
    uid: "tokenmeter-reliability",
    title: "tokenmeter / Reliability",
    description:
      "Latency and TTFT percentiles, error types, HTTP statuses, proxy vs SDK, and the health of tokenmeter's ingest pipeline.",
    tags: ["reliability"],
  }).variables(filterVariables());

  builder
    .withRow(row("Latency"))
    .withPanel(
      timeSeriesPanel({
        title: "Latency p50 / p95 / p99",
        description: "How long do calls take end to end, typically and in the tail?",
        target: `SELECT ${BUCKET}, quantile(0.5)(duration_ms) AS p50, quantile(0.95)(duration_ms) AS p95, quantile(0.99)(duration_ms) AS p99 FROM ${CALLS} WHERE ${CALL_WHERE} AND ${TIMED_CALLS} GROUP BY time ORDER BY time`,
        unit: "ms",
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Latency p95 by model",
        description: "Which model got slower?",
        target: `SELECT ${BUCKET}, request_model AS model, quantile(0.95)(duration_ms) AS p95 FROM ${CALLS} WHERE ${CALL_WHERE} AND ${TIMED_CALLS} GROUP BY time, model ORDER BY time`,
        unit: "ms",
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Time to first token p50 / p95 / p99",
        description: "How long do users of streamed calls wait before anything appears?",
        target: `SELECT ${BUCKET}, quantile(0.5)(ttft_ms) AS p50, quantile(0.95)(ttft_ms) AS p95, quantile(0.99)(ttft_ms) AS p99 FROM ${CALLS} WHERE ${CALL_WHERE} AND streamed = 1 AND ttft_ms IS NOT NULL GROUP BY time ORDER BY time`,
        unit: "ms",
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "TTFT p95 by model",
        description: "Which model is slow to start streaming?",
        target: `SELECT ${BUCKET}, request_model AS model, quantile(0.95)(ttft_ms) AS p95 FROM ${CALLS} WHERE ${CALL_WHERE} AND streamed = 1 AND ttft_ms IS NOT NULL GROUP BY time, model ORDER BY time`,
        unit: "ms",
      }),
    )
    .withRow(row("Errors"))
    .withPanel(
      timeSeriesPanel({
        title: "Error rate by provider",
        description: "Is a provider failing more than usual?",
        target: `SELECT ${BUCKET}, provider, ${ERROR_RATE} AS error_rate FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time, provider ORDER BY time`,
        unit: "percentunit",
        min: 0,
        w: 8,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Errors by type",
        description: "What kind of errors: rate limits, timeouts, server errors, bad requests?",
        target: `SELECT ${BUCKET}, if(error_type = '', '(unknown)', error_type) AS error_type, count() AS errors FROM ${CALLS} WHERE ${CALL_WHERE} AND status = 'error' GROUP BY time, error_type ORDER BY time`,
        stacked: true,
        bars: true,
        w: 8,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "HTTP statuses",
        description: 'Which HTTP statuses did providers answer with? ("none": no HTTP response, e.g. a timeout)',
        target: `SELECT ${BUCKET}, if(http_status = 0, 'none', toString(http_status)) AS http_status, count() AS calls FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time, http_status ORDER BY time`,
        stacked: true,
        w: 8,
      }),
    )
    .withPanel(
      tablePanel({
        title: "Error types",
        description: "Which errors, from which provider and model, how often, and when last?",
        target: `SELECT if(error_type = '', '(unknown)', error_type) AS error_type, provider, request_model AS model, count() AS errors, groupUniqArray(5)(http_status) AS http_statuses, max(timestamp) AS last_seen FROM ${CALLS} WHERE ${CALL_WHERE} AND status = 'error' GROUP BY error_type, provider, model ORDER BY errors DESC LIMIT 50`,
        w: 14,
      }),
    )
    .withPanel(
      barChartPanel({
        title: "Finish reasons by model",
        description: "Are responses cut off (length) or ending in tool calls more than expected?",
        target: `SELECT request_model AS model, countIf(finish_reason = 'stop') AS stop, countIf(finish_reason = 'length') AS length, countIf(finish_reason = 'tool_calls') AS tool_calls, countIf(finish_reason NOT IN ('stop', 'length', 'tool_calls')) AS other FROM ${CALLS} WHERE ${CALL_WHERE} AND status = 'ok' GROUP BY model ORDER BY count() DESC LIMIT 15`,
        xField: "model",
        stacked: true,
        horizontal: true,
        w: 10,
        h: 9,
      }),
    )
    .withPanel(
      logsPanel({
        title: "Recent errors",
        description: "The latest failed calls, with their trace ids for the calls explorer.",
        target: `SELECT timestamp, concat(provider, ' ', request_model, ': ', if(error_type = '', 'error', error_type), if(http_status = 0, '', concat(' (HTTP ', toString(http_status), ')'))) AS body, 'error' AS level, trace_id, team, project, source FROM ${CALLS} WHERE ${CALL_WHERE} AND status = 'error' ORDER BY timestamp DESC LIMIT 200`,
      }),
    )
    .withRow(row("Proxy vs SDK"))
    .withPanel(
      tablePanel({
        title: "By source",
        description:
          "Does traffic through the proxy behave like traffic instrumented with the SDK (or other OTLP senders)?",
        target: `SELECT source, count() AS calls, ${ERROR_RATE} AS error_rate, quantileIf(0.5)(duration_ms, ${TIMED_CALLS}) AS p50_ms, quantileIf(0.95)(duration_ms, ${TIMED_CALLS}) AS p95_ms, quantileIf(0.99)(duration_ms, ${TIMED_CALLS}) AS p99_ms, quantileIf(0.5)(ttft_ms, streamed = 1) AS ttft_p50_ms, quantileIf(0.95)(ttft_ms, streamed = 1) AS ttft_p95_ms, avg(streamed) AS streamed_share, countIf(cache_hit = 1) AS proxy_cache_hits FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY source ORDER BY calls DESC`,
        h: 6,
        columns: [
          { column: "error_rate", unit: "percentunit", decimals: 2 },
          { column: "p50_ms", unit: "ms" },
          { column: "p95_ms", unit: "ms" },
          { column: "p99_ms", unit: "ms" },
          { column: "ttft_p50_ms", unit: "ms" },
          { column: "ttft_p95_ms", unit: "ms" },
          { column: "streamed_share", unit: "percentunit", decimals: 0 },
        ],
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Latency p95 by source",
        description: "Is the proxy path adding latency compared to direct SDK calls?",
        target: `SELECT ${BUCKET}, source, quantile(0.95)(duration_ms) AS p95 FROM ${CALLS} WHERE ${CALL_WHERE} AND ${TIMED_CALLS} GROUP BY time, source ORDER BY time`,
        unit: "ms",
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Error rate by source",
        description: "Do proxy calls fail more often than SDK calls?",
        target: `SELECT ${BUCKET}, source, ${ERROR_RATE} AS error_rate FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time, source ORDER BY time`,
        unit: "percentunit",
        min: 0,
      }),
    )
    .withRow(row("Ingest pipeline (Prometheus)"))
    .withPanel(
      promTimeSeriesPanel({
        title: "Spans received",
        description: "How many spans (and log records) per second is the collector receiving?",
        queries: [{ expr: rateBy("tokenmeter_spans_received_total", "signal"), legend: "{{signal}}" }],
        unit: "ops",
      }),
    )
    .withPanel(
      promTimeSeriesPanel({
        title: "Rejected",
        description: "Are senders' spans or requests being rejected, and why?",
        queries: [{ expr: rateBy("tokenmeter_spans_rejected_total", "reason"), legend: "{{reason}}" }],
        unit: "ops",
      }),
    )
    .withPanel(
      promTimeSeriesPanel({
        title: "Ingest responses by status",
        description: "What does the collector answer senders? 429/503 mean backpressure.",
        queries: [{ expr: rateBy("tokenmeter_ingest_requests_total", "code"), legend: "{{code}}" }],
        unit: "reqps",
        stacked: true,
      }),
    )
    .withPanel(
      promTimeSeriesPanel({
        title: "Rows written",
        description: "How many rows per second reach ClickHouse, per table?",
        queries: [{ expr: rateBy("tokenmeter_rows_written_total", "table"), legend: "{{table}}" }],
        unit: "ops",
      }),
    )
    .withPanel(
      promTimeSeriesPanel({
        title: "Insert latency p95",
        description: "How long do ClickHouse inserts take?",
        queries: [
          {
            expr: "histogram_quantile(0.95, sum by (le, table) (rate(tokenmeter_insert_duration_seconds_bucket[$__rate_interval])))",
            legend: "{{table}}",
          },
        ],
        unit: "s",
      }),
    )
    .withPanel(
      promTimeSeriesPanel({
        title: "Insert errors and dropped telemetry",
        description:
          "Are inserts failing (batches go to the disk spool) or is telemetry being dropped because bounded buffers are full?",
        queries: [
          { expr: rateBy("tokenmeter_insert_errors_total", "table"), legend: "insert errors {{table}}" },
          { expr: rateBy("tokenmeter_telemetry_dropped_total", "component"), legend: "dropped {{component}}" },
        ],
        unit: "ops",
      }),
    )
    .withPanel(
      promTimeSeriesPanel({
        title: "Backlog",
        description: "Rows waiting in memory and batches waiting in the disk spool: is storage keeping up?",
        queries: [
          { expr: "sum(tokenmeter_queue_rows)", legend: "queued rows" },
          { expr: "sum(tokenmeter_spool_batches)", legend: "spooled batches" },
        ],
      }),
    )
    .withPanel(
      promTimeSeriesPanel({
        title: "Write queue size",
        description:
          "Bytes of rows waiting in memory for ClickHouse (ingest answers 429 at ingest.maxQueueBytes): long prompts fill it before the row count does.",
        queries: [{ expr: "sum(tokenmeter_queue_bytes)", legend: "queued" }],
        unit: "bytes",
      }),
    )
    .withPanel(
      promTimeSeriesPanel({
        title: "Spool size",
        description: "Bytes in the disk spool (non-zero while ClickHouse is unreachable, draining when it returns).",
        queries: [{ expr: "sum(tokenmeter_spool_bytes)", legend: "spool" }],
        unit: "bytes",
      }),
    )
    .withPanel(
      promTimeSeriesPanel({
        title: "Rows per insert",
        description: "Are batches filling up (efficient inserts) or flushed nearly empty?",
        queries: [
          {
            expr: "sum by (table) (rate(tokenmeter_batch_rows_sum[$__rate_interval])) / sum by (table) (rate(tokenmeter_batch_rows_count[$__rate_interval]))",
            legend: "{{table}}",
          },
        ],
      }),
    );

  return finalizeDashboard(builder);
}
