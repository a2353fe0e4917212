import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import {
  CustomVariableBuilder,
  type Dashboard,
  TextBoxVariableBuilder,
  type VariableModel,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { baseDashboard, finalizeDashboard } from "./dashboard-base.js";
import { table } from "./datasources.js";
import { row, statPanel, tablePanel, tracePanel, trafficLight } from "./panels.js";
import { CALL_WHERE, CALLS, ERROR_RATE, SPEND } from "./sql-fragments.js";
import { apiUrlVariable, filterVariables } from "./variables.js";

/**
 * Calls explorer: find calls by attribution, status, source, trace id or content, then open one
 * trace — its prompts and responses, its spans as a trace view, and its scores. Trace ids link to
 * the collector's read API (GET /api/v1/traces/:trace_id) and back into this dashboard.
 */

export const CALLS_EXPLORER_UID = "tokenmeter-calls";

const SPANS = table("spans");
const SCORES = table("scores");

function customMulti(name: string, label: string, values: string[]): cog.Builder<VariableModel> {
  return new CustomVariableBuilder(name)
    .label(label)
    .values(values.join(","))
    .multi(true)
    .includeAll(true)
    .allowCustomValue(false)
    .current({ selected: true, text: ["All"], value: ["$__all"] });
}

function textBox(name: string, label: string, description: string): cog.Builder<VariableModel> {
  return new TextBoxVariableBuilder(name)
    .label(label)
    .description(description)
    .defaultValue("")
    .current({ selected: true, text: "", value: "" });
}

const EXPLORER_WHERE = [
  CALL_WHERE,
  `$__conditionalAll(status IN (\${status:singlequote}), $status)`,
  `$__conditionalAll(source IN (\${source:singlequote}), $source)`,
  `$__conditionalAll(trace_id = \${trace_id:sqlstring}, $trace_id)`,
  `$__conditionalAll((positionCaseInsensitive(input, \${search:sqlstring}) > 0 OR positionCaseInsensitive(output, \${search:sqlstring}) > 0), $search)`,
].join(" AND ");

const SELECTED_TRACE = `trace_id = \${trace_id:sqlstring}`;

const TRACE_LINKS = [
  {
    title: "Show this trace",
    url: `/d/${CALLS_EXPLORER_UID}?\${__url_time_range}&var-trace_id=\${__value.raw}`,
  },
  { title: "Open in the tokenmeter API", url: `\${api_url}/api/v1/traces/\${__value.raw}`, targetBlank: true },
];

export function callsExplorerDashboard(): Dashboard {
  const builder = baseDashboard({
    uid: CALLS_EXPLORER_UID,
    title: "tokenmeter / Calls explorer",
    description: "Filter model calls by team, model, status, source, trace id or content; open a trace.",
    tags: ["calls"],
    from: "now-6h",
  })
    .variables(filterVariables())
    .withVariable(customMulti("status", "Status", ["ok", "error", "cancelled"]))
    .withVariable(customMulti("source", "Source", ["sdk", "proxy", "otlp"]))
    .withVariable(textBox("trace_id", "Trace id", "Show only this trace; its detail panels fill in below."))
    .withVariable(textBox("search", "Content contains", "Case-insensitive text searched in prompts and responses."))
    .withVariable(apiUrlVariable());

  builder
    .withPanel(
      statPanel({
        title: "Matching calls",
        description: "How many calls match the filters?",
        target: `SELECT count() AS calls FROM ${CALLS} WHERE ${EXPLORER_WHERE}`,
        w: 8,
        h: 3,
      }),
    )
    .withPanel(
      statPanel({
        title: "Their spend",
        description: "What did the matching calls cost (priced calls)?",
        target: `SELECT ${SPEND} AS spend_usd FROM ${CALLS} WHERE ${EXPLORER_WHERE}`,
        unit: "currencyUSD",
        decimals: 2,
        w: 8,
        h: 3,
      }),
    )
    .withPanel(
      statPanel({
        title: "Their error rate",
        description: "What share of the matching calls failed?",
        target: `SELECT ${ERROR_RATE} AS error_rate FROM ${CALLS} WHERE ${EXPLORER_WHERE}`,
        unit: "percentunit",
        decimals: 2,
        thresholds: trafficLight(0.02, 0.05),
        w: 8,
        h: 3,
      }),
    )
    .withPanel(
      tablePanel({
        title: "Calls",
        description:
          "The latest 500 matching calls. Click a trace id to show that trace below, or to open it in the tokenmeter API.",
        target: `SELECT timestamp, trace_id, span_id, team, project, environment, service, source, provider, request_model AS model, response_model, status, error_type, http_status, duration_ms, ttft_ms, input_tokens, output_tokens, cache_read_tokens, toFloat64(cost_usd) AS cost_usd, priced, streamed, finish_reason, user_id, session_id, feature FROM ${CALLS} WHERE ${EXPLORER_WHERE} ORDER BY timestamp DESC LIMIT 500`,
        h: 12,
        columns: [
          { column: "trace_id", links: TRACE_LINKS },
          { column: "duration_ms", unit: "ms" },
          { column: "ttft_ms", unit: "ms" },
          { column: "cost_usd", unit: "currencyUSD", decimals: 6 },
        ],
      }),
    )
    .withRow(row("Selected trace (set the trace id variable or click a trace id)"))
    .withPanel(
      tablePanel({
        title: "Prompts and responses",
        description: "The model calls of the selected trace, with their normalized input and output messages.",
        target: `SELECT timestamp, span_id, provider, request_model AS model, status, finish_reason, input_tokens, output_tokens, toFloat64(cost_usd) AS cost_usd, redacted, input, output FROM ${CALLS} WHERE ${SELECTED_TRACE} ORDER BY timestamp`,
        h: 10,
        columns: [{ column: "cost_usd", unit: "currencyUSD", decimals: 6 }],
      }),
    )
    .withPanel(
      tracePanel({
        title: "Trace",
        description: "Every span of the selected trace: agent steps, tools, retrievals and model calls.",
        target: `SELECT trace_id AS traceID, span_id AS spanID, parent_span_id AS parentSpanID, name AS operationName, service AS serviceName, timestamp AS startTime, duration_ms AS duration, arrayMap(k -> map('key', k, 'value', attributes[k]), mapKeys(attributes)) AS tags, arrayMap(k -> map('key', k, 'value', resource_attributes[k]), mapKeys(resource_attributes)) AS serviceTags, ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'][kind + 1] AS kind, status_code AS statusCode, status_message AS statusMessage FROM ${SPANS} WHERE ${SELECTED_TRACE} ORDER BY startTime`,
      }),
    )
    .withPanel(
      tablePanel({
        title: "Scores of the trace",
        description: "Evaluations and feedback recorded for the selected trace.",
        target: `SELECT timestamp, name, value, label, source, comment, span_id FROM ${SCORES} WHERE ${SELECTED_TRACE} ORDER BY timestamp`,
        h: 6,
      }),
    );

  return finalizeDashboard(builder);
}
