import {
  AnnotationQueryBuilder,
  type Dashboard,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { sql, variableQuery } from "./clickhouse-query.js";
import { baseDashboard, finalizeDashboard } from "./dashboard-base.js";
import { CLICKHOUSE, table } from "./datasources.js";
import { barChartPanel, row, statPanel, tablePanel, timeSeriesPanel } from "./panels.js";
import { CALL_WHERE, CALLS, ERROR_RATE } from "./sql-fragments.js";
import { callFilters, FILTER_COLUMNS, FILTERS, type FilterName, filterVariables } from "./variables.js";

/**
 * Quality & drift: how eval scores and feedback trend, whether this period drifted from the one
 * before it (scores and call shape), and which drift or cost alerts fired (annotations and a
 * table from alert_events, written by the alert engine).
 */

const SCORES = table("scores");
const ALERTS = table("alert_events");

/** Alert series carry their group labels; the team variable narrows them when the rule groups by team. */
const ALERT_TEAM = `$__conditionalAll(labels['team'] IN (\${team:singlequote}), $team)`;

/**
 * Scores carry no attribution of their own; they belong to a trace. Each selected variable
 * keeps the scores whose trace has a call matching it; with All the condition disappears, so
 * scores of traces without a stored call still count. Calls are looked up a day before the range
 * too, since feedback often arrives after the call.
 */
function scoreFilter(name: FilterName): string {
  return `$__conditionalAll(trace_id IN (SELECT trace_id FROM ${CALLS} WHERE timestamp >= $__fromTime - INTERVAL 1 DAY AND timestamp <= $__toTime AND ${FILTER_COLUMNS[name]} IN (\${${name}:singlequote})), $${name})`;
}

const SCORE_FILTERS = [...FILTERS.map(scoreFilter), `$__conditionalAll(name IN (\${score:singlequote}), $score)`].join(
  " AND ",
);

const SCORE_WHERE = `$__timeFilter(timestamp) AND ${SCORE_FILTERS}`;

/** The period before the range, as long as the range: the drift baseline. */
const BASELINE_AND_CURRENT =
  "timestamp >= $__fromTime - toIntervalSecond(toUnixTimestamp($__toTime) - toUnixTimestamp($__fromTime)) AND timestamp <= $__toTime";

function scoreVariable(): QueryVariableBuilder {
  const rawSql = `SELECT DISTINCT name FROM ${SCORES} WHERE $__timeFilter(timestamp) ORDER BY name`;
  return new QueryVariableBuilder("score")
    .label("Score")
    .datasource(CLICKHOUSE)
    .query(variableQuery(rawSql))
    .definition(rawSql)
    .multi(true)
    .includeAll(true)
    .allowCustomValue(false)
    .current({ selected: true, text: ["All"], value: ["$__all"] })
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalCaseInsensitiveAsc);
}

/**
 * Alert transitions as annotations: one marker per state change (repeat notifications of a firing
 * series are rows too, but not changes), titled by the rule, with its summary as the text.
 */
function alertAnnotations(): AnnotationQueryBuilder {
  return new AnnotationQueryBuilder()
    .name("tokenmeter alerts")
    .datasource(CLICKHOUSE)
    .enable(true)
    .hide(false)
    .iconColor("red")
    .target(
      sql(
        `SELECT timestamp AS time, rule AS title, concat(previous_state, ' -> ', state, if(severity = '', '', concat(' (', severity, ')')), ': ', if(annotations['summary'] != '', annotations['summary'], concat(statistic, ' = ', ifNull(toString(round(value, 4)), 'n/a'), ', threshold ', ifNull(toString(threshold), 'n/a')))) AS text, concat(rule, ',', kind, ',', state) AS tags FROM ${ALERTS} WHERE $__timeFilter(timestamp) AND state != previous_state AND ${ALERT_TEAM} ORDER BY time`,
      ).refId("Anno"),
    );
}

export function qualityDashboard(): Dashboard {
  const builder = baseDashboard({
    uid: "tokenmeter-quality",
    title: "tokenmeter / Quality & drift",
    description: "Eval scores and feedback over time, drift against the previous period, and alert transitions.",
    tags: ["quality", "drift"],
    from: "now-7d",
  })
    .variables([...filterVariables(), scoreVariable()])
    .annotation(alertAnnotations());

  builder
    .withRow(row("Scores"))
    .withPanel(
      statPanel({
        title: "Scores recorded",
        description: "How many eval scores and feedback items arrived?",
        target: `SELECT count() AS scores FROM ${SCORES} WHERE ${SCORE_WHERE}`,
        w: 6,
      }),
    )
    .withPanel(
      statPanel({
        title: "Traces scored",
        description: "How many distinct traces have at least one score?",
        target: `SELECT uniqExact(trace_id) AS traces FROM ${SCORES} WHERE ${SCORE_WHERE}`,
        w: 6,
      }),
    )
    .withPanel(
      statPanel({
        title: "Share of traced calls scored",
        description: "What fraction of traces with model calls got a score? Low coverage makes trends noisy.",
        target: `SELECT if(uniqExact(trace_id) = 0, NULL, uniqExactIf(trace_id, trace_id IN (SELECT trace_id FROM ${SCORES} WHERE ${SCORE_WHERE})) / uniqExact(trace_id)) AS scored_share FROM ${CALLS} WHERE ${CALL_WHERE}`,
        unit: "percentunit",
        decimals: 1,
        w: 6,
      }),
    )
    .withPanel(
      statPanel({
        title: "Negative feedback share",
        description: "Of categorical feedback, what share is negative (labels such as down, bad, negative, incorrect)?",
        target: `SELECT if(countIf(label != '') = 0, NULL, countIf(lower(label) IN ('down', 'thumbs_down', 'bad', 'negative', 'incorrect', 'no')) / countIf(label != '')) AS negative_share FROM ${SCORES} WHERE ${SCORE_WHERE}`,
        unit: "percentunit",
        decimals: 1,
        w: 6,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Score trends",
        description: "Is each numeric score improving or degrading over time? (mean per interval)",
        target: `SELECT $__timeInterval(timestamp) AS time, name, avg(value) AS mean FROM ${SCORES} WHERE ${SCORE_WHERE} AND value IS NOT NULL GROUP BY time, name ORDER BY time`,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Scores by source",
        description: "Where do scores come from (evaluators, API, SDK, human annotation), and is any source silent?",
        target: `SELECT $__timeInterval(timestamp) AS time, source, count() AS scores FROM ${SCORES} WHERE ${SCORE_WHERE} GROUP BY time, source ORDER BY time`,
        stacked: true,
        bars: true,
      }),
    )
    .withPanel(
      tablePanel({
        title: "Score summary",
        description: "Per score: volume, mean and spread, and when it was last seen.",
        target: `SELECT name, any(data_type) AS data_type, count() AS scores, avg(value) AS mean, quantile(0.1)(value) AS p10, quantile(0.5)(value) AS p50, quantile(0.9)(value) AS p90, min(value) AS min, max(value) AS max, max(timestamp) AS last_seen FROM ${SCORES} WHERE ${SCORE_WHERE} GROUP BY name ORDER BY scores DESC`,
        w: 14,
        decimals: 3,
      }),
    )
    .withPanel(
      barChartPanel({
        title: "Feedback labels",
        description: "How are categorical scores distributed?",
        target: `SELECT concat(name, ': ', label) AS score_label, count() AS scores FROM ${SCORES} WHERE ${SCORE_WHERE} AND label != '' GROUP BY score_label ORDER BY scores DESC LIMIT 20`,
        xField: "score_label",
        horizontal: true,
        w: 10,
        h: 9,
      }),
    )
    .withRow(row("Drift: this range vs the one before it"))
    .withPanel(
      tablePanel({
        title: "Score drift",
        description:
          "Did scores shift against the previous period of the same length? delta is the change of the mean; smd the change in baseline standard deviations (|smd| > 0.5 is a notable shift).",
        target: `SELECT name, countIf(current) AS current_n, avgIf(value, current) AS current_mean, countIf(NOT current) AS baseline_n, avgIf(value, NOT current) AS baseline_mean, current_mean - baseline_mean AS delta, if(stddevPopIf(value, NOT current) > 0, delta / stddevPopIf(value, NOT current), NULL) AS smd FROM (SELECT name, value, timestamp >= $__fromTime AS current FROM ${SCORES} WHERE ${BASELINE_AND_CURRENT} AND value IS NOT NULL AND ${SCORE_FILTERS}) GROUP BY name ORDER BY abs(ifNull(smd, 0)) DESC`,
        decimals: 3,
        h: 7,
      }),
    )
    .withPanel(
      tablePanel({
        title: "Call drift by model",
        description:
          "Did the shape of responses change against the previous period: output length, latency, error rate, truncation (finish_reason = length)?",
        target: `SELECT request_model AS model, countIf(current) AS current_calls, avgIf(output_tokens, current) AS output_tokens_now, avgIf(output_tokens, NOT current) AS output_tokens_before, if(output_tokens_before = 0, NULL, output_tokens_now / output_tokens_before - 1) AS output_tokens_change, quantileIf(0.95)(duration_ms, current) AS p95_ms_now, quantileIf(0.95)(duration_ms, NOT current) AS p95_ms_before, avgIf(status = 'error', current) AS error_rate_now, avgIf(status = 'error', NOT current) AS error_rate_before, avgIf(finish_reason = 'length', current) AS truncated_now, avgIf(finish_reason = 'length', NOT current) AS truncated_before FROM (SELECT request_model, output_tokens, duration_ms, status, finish_reason, timestamp >= $__fromTime AS current FROM ${CALLS} WHERE ${BASELINE_AND_CURRENT} AND ${callFilters()}) GROUP BY model HAVING current_calls > 0 ORDER BY abs(ifNull(output_tokens_change, 0)) DESC`,
        h: 8,
        columns: [
          { column: "output_tokens_now", decimals: 0 },
          { column: "output_tokens_before", decimals: 0 },
          { column: "output_tokens_change", unit: "percentunit", decimals: 1 },
          { column: "p95_ms_now", unit: "ms" },
          { column: "p95_ms_before", unit: "ms" },
          { column: "error_rate_now", unit: "percentunit", decimals: 2 },
          { column: "error_rate_before", unit: "percentunit", decimals: 2 },
          { column: "truncated_now", unit: "percentunit", decimals: 1 },
          { column: "truncated_before", unit: "percentunit", decimals: 1 },
        ],
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Error rate and truncation",
        description: "Daily error rate and share of truncated responses: a slow drift shows here first.",
        target: `SELECT toStartOfDay(timestamp) AS time, ${ERROR_RATE} AS error_rate, avg(finish_reason = 'length') AS truncated FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time ORDER BY time`,
        unit: "percentunit",
        min: 0,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Output tokens per call by model",
        description: "Are responses getting longer or shorter (a prompt, model or behaviour change)?",
        target: `SELECT $__timeInterval(timestamp) AS time, request_model AS model, avg(output_tokens) AS output_tokens FROM ${CALLS} WHERE ${CALL_WHERE} AND status = 'ok' GROUP BY time, model ORDER BY time`,
      }),
    )
    .withRow(row("Alerts"))
    .withPanel(
      tablePanel({
        title: "Latest drift statistics",
        description:
          "For every series the drift rules watch: the latest statistic (PSI, mean shift, test p-value...), its threshold and the alert state.",
        target: `SELECT timestamp AS evaluated, rule, labels, statistic, value, threshold, p_value, state FROM ${ALERTS} WHERE $__timeFilter(timestamp) AND kind IN ('drift', 'model_change') AND ${ALERT_TEAM} ORDER BY timestamp DESC LIMIT 1 BY fingerprint`,
        decimals: 3,
        h: 7,
      }),
    )
    .withPanel(
      tablePanel({
        title: "Alert transitions",
        description:
          "Which drift, budget, cost and latency rules changed state, when, and on what value and threshold.",
        target: `SELECT timestamp, rule, kind, severity, previous_state, state, statistic, value, threshold, annotations['summary'] AS summary, labels FROM ${ALERTS} WHERE $__timeFilter(timestamp) AND state != previous_state AND ${ALERT_TEAM} ORDER BY timestamp DESC LIMIT 200`,
        w: 16,
        decimals: 3,
      }),
    )
    .withPanel(
      barChartPanel({
        title: "Firing transitions by rule",
        description: "Which rules fire most often?",
        target: `SELECT rule, countIf(state = 'firing' AND previous_state != 'firing') AS firing FROM ${ALERTS} WHERE $__timeFilter(timestamp) AND ${ALERT_TEAM} GROUP BY rule ORDER BY firing DESC LIMIT 15`,
        xField: "rule",
        horizontal: true,
        w: 8,
      }),
    );

  return finalizeDashboard(builder);
}
