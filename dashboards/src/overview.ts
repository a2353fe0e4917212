import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { baseDashboard, finalizeDashboard } from "./dashboard-base.js";
import { barChartPanel, row, statPanel, tablePanel, timeSeriesPanel, trafficLight, warnFrom } from "./panels.js";
import { CALL_WHERE, CALLS, ERROR_RATE, labelled, SPEND, TIMED_CALLS, UNPRICED_CALLS } from "./sql-fragments.js";
import { filterVariables } from "./variables.js";

/**
 * Overview: how much LLM traffic there is, what it costs, and whether it is healthy — calls,
 * tokens, spend, error rate, latency and time to first token, by provider and model.
 */

const BUCKET = "$__timeInterval(timestamp) AS time";

export function overviewDashboard(): Dashboard {
  const builder = baseDashboard({
    uid: "tokenmeter-overview",
    title: "tokenmeter / Overview",
    description: "Calls, tokens, spend, errors, latency and TTFT of every model call, by provider and model.",
    tags: ["overview"],
  }).variables(filterVariables());

  builder
    .withRow(row("Summary"))
    .withPanel(
      statPanel({
        title: "Calls",
        description: "How many model calls were made in the time range?",
        target: `SELECT count() AS calls FROM ${CALLS} WHERE ${CALL_WHERE}`,
        w: 3,
      }),
    )
    .withPanel(
      statPanel({
        title: "Tokens",
        description: "How many tokens went in and out (input includes cached tokens, output includes reasoning)?",
        target: `SELECT sum(input_tokens) + sum(output_tokens) AS tokens FROM ${CALLS} WHERE ${CALL_WHERE}`,
        w: 3,
      }),
    )
    .withPanel(
      statPanel({
        title: "Spend (priced calls)",
        description: "What did the priced calls cost? Unpriced calls are counted next to it, never as $0.",
        target: `SELECT ${SPEND} AS spend_usd FROM ${CALLS} WHERE ${CALL_WHERE}`,
        unit: "currencyUSD",
        decimals: 2,
      }),
    )
    .withPanel(
      statPanel({
        title: "Unpriced calls",
        description: "How many calls used a model with no price in the catalog (their cost is unknown)?",
        target: `SELECT ${UNPRICED_CALLS} AS unpriced_calls FROM ${CALLS} WHERE ${CALL_WHERE}`,
        thresholds: warnFrom(1),
        w: 3,
      }),
    )
    .withPanel(
      statPanel({
        title: "Error rate",
        description: "What share of calls ended in an error?",
        target: `SELECT ${ERROR_RATE} AS error_rate FROM ${CALLS} WHERE ${CALL_WHERE}`,
        unit: "percentunit",
        decimals: 2,
        thresholds: trafficLight(0.02, 0.05),
        w: 3,
      }),
    )
    .withPanel(
      statPanel({
        title: "Latency p95",
        description: "How long do 95% of calls take at most, end to end?",
        target: `SELECT quantile(0.95)(duration_ms) AS p95_ms FROM ${CALLS} WHERE ${CALL_WHERE} AND ${TIMED_CALLS}`,
        unit: "ms",
      }),
    )
    .withPanel(
      statPanel({
        title: "TTFT p95 (streamed)",
        description: "How long do streamed calls make the user wait for the first token (95th percentile)?",
        target: `SELECT quantile(0.95)(ttft_ms) AS ttft_p95_ms FROM ${CALLS} WHERE ${CALL_WHERE} AND streamed = 1`,
        unit: "ms",
      }),
    )
    .withRow(row("Over time"))
    .withPanel(
      timeSeriesPanel({
        title: "Calls by provider",
        description: "How is traffic spread over providers, and when are the peaks?",
        target: `SELECT ${BUCKET}, provider, count() AS calls FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time, provider ORDER BY time`,
        stacked: true,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Tokens",
        description: "How many input, output, cache-read and reasoning tokens per interval?",
        target: `SELECT ${BUCKET}, sum(input_tokens) AS input, sum(output_tokens) AS output, sum(cache_read_tokens) AS cache_read, sum(reasoning_tokens) AS reasoning FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time ORDER BY time`,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Spend by model",
        description: "Which models drive spend over time? (priced calls only)",
        target: `SELECT ${BUCKET}, request_model AS model, ${SPEND} AS spend_usd FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time, model ORDER BY time`,
        unit: "currencyUSD",
        stacked: true,
        bars: true,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Error rate by provider",
        description: "Is any provider failing more than usual?",
        target: `SELECT ${BUCKET}, provider, ${ERROR_RATE} AS error_rate FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time, provider ORDER BY time`,
        unit: "percentunit",
        min: 0,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Latency p50 / p95 / p99",
        description: "How long do calls take, typically and in the tail?",
        target: `SELECT ${BUCKET}, quantile(0.5)(duration_ms) AS p50, quantile(0.95)(duration_ms) AS p95, quantile(0.99)(duration_ms) AS p99 FROM ${CALLS} WHERE ${CALL_WHERE} AND ${TIMED_CALLS} GROUP BY time ORDER BY time`,
        unit: "ms",
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Time to first token p50 / p95 / p99",
        description: "How quickly do streamed responses start?",
        target: `SELECT ${BUCKET}, quantile(0.5)(ttft_ms) AS p50, quantile(0.95)(ttft_ms) AS p95, quantile(0.99)(ttft_ms) AS p99 FROM ${CALLS} WHERE ${CALL_WHERE} AND streamed = 1 AND ttft_ms IS NOT NULL GROUP BY time ORDER BY time`,
        unit: "ms",
      }),
    )
    .withRow(row("By provider and model"))
    .withPanel(
      tablePanel({
        title: "Providers and models",
        description:
          "For each provider and model: volume, tokens, spend, unpriced calls, error rate, latency and TTFT percentiles.",
        target: `SELECT provider, request_model AS model, count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, ${SPEND} AS spend_usd, ${UNPRICED_CALLS} AS unpriced_calls, ${ERROR_RATE} AS error_rate, quantileIf(0.5)(duration_ms, ${TIMED_CALLS}) AS p50_ms, quantileIf(0.95)(duration_ms, ${TIMED_CALLS}) AS p95_ms, quantileIf(0.99)(duration_ms, ${TIMED_CALLS}) AS p99_ms, quantileIf(0.95)(ttft_ms, streamed = 1) AS ttft_p95_ms FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY provider, model ORDER BY spend_usd DESC, calls DESC`,
        columns: [
          { column: "spend_usd", unit: "currencyUSD", decimals: 2 },
          { column: "error_rate", unit: "percentunit", decimals: 2 },
          { column: "p50_ms", unit: "ms" },
          { column: "p95_ms", unit: "ms" },
          { column: "p99_ms", unit: "ms" },
          { column: "ttft_p95_ms", unit: "ms" },
        ],
      }),
    )
    .withPanel(
      barChartPanel({
        title: "Top models by spend",
        description: "Which models cost the most in this range?",
        target: `SELECT request_model AS model, ${SPEND} AS spend_usd FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY model ORDER BY spend_usd DESC LIMIT 15`,
        xField: "model",
        unit: "currencyUSD",
        horizontal: true,
      }),
    )
    .withPanel(
      barChartPanel({
        title: "Calls and errors by team",
        description: "Which teams send the most traffic, and how much of it fails?",
        target: `SELECT ${labelled("team")}, countIf(status != 'error') AS ok_or_cancelled, countIf(status = 'error') AS errors FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY team ORDER BY count() DESC LIMIT 15`,
        xField: "team",
        stacked: true,
        horizontal: true,
      }),
    );

  return finalizeDashboard(builder);
}
