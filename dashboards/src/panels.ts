import * as barchart from "@grafana/grafana-foundation-sdk/barchart";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as logs from "@grafana/grafana-foundation-sdk/logs";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import { type ClickHouseFormat, type ClickHouseQueryBuilder, sql } from "./clickhouse-query.js";
import { CLICKHOUSE, PROMETHEUS } from "./datasources.js";

/**
 * Panel factories with the house defaults (size, legend, units, datasource), so each dashboard
 * file reads as a list of questions and their SQL. Every panel names its datasource and every
 * target carries it too, which the tests check.
 */

export interface PanelSpec {
  title: string;
  /** What question the panel answers; shown as the panel's (i) tooltip. */
  description: string;
  /** Grid width (of 24) and height. */
  w?: number;
  h?: number;
  unit?: string;
  decimals?: number;
}

/** A ClickHouse target: SQL (with the panel's default format) or a prepared query. */
export type Target = string | ClickHouseQueryBuilder;

function targets(items: Target | Target[], format: ClickHouseFormat): ClickHouseQueryBuilder[] {
  const list = Array.isArray(items) ? items : [items];
  return list.map((item, i) =>
    (typeof item === "string" ? sql(item, format) : item).refId(String.fromCharCode(65 + i)),
  );
}

function thresholds(steps: dashboard.Threshold[]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps);
}

/** Green below `warn`, orange from `warn`, red from `critical`. */
export function trafficLight(warn: number, critical: number): dashboard.Threshold[] {
  return [
    { value: null, color: "green" },
    { value: warn, color: "orange" },
    { value: critical, color: "red" },
  ];
}

/** Green below `value`, orange from it: for counts that should be zero. */
export function warnFrom(value: number): dashboard.Threshold[] {
  return [
    { value: null, color: "green" },
    { value, color: "orange" },
  ];
}

function legend(): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom);
}

export function statPanel(
  spec: PanelSpec & { target: Target; thresholds?: dashboard.Threshold[]; noValue?: string },
): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(CLICKHOUSE)
    .targets(targets(spec.target, "table"))
    .span(spec.w ?? 4)
    .height(spec.h ?? 4)
    .unit(spec.unit ?? "short")
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(spec.thresholds ? common.BigValueColorMode.Value : common.BigValueColorMode.None)
    .textMode(common.BigValueTextMode.Auto)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .thresholds(thresholds(spec.thresholds ?? [{ value: null, color: "text" }]));
  if (spec.decimals !== undefined) panel.decimals(spec.decimals);
  if (spec.noValue !== undefined) panel.noValue(spec.noValue);
  return panel;
}

export function timeSeriesPanel(
  spec: PanelSpec & { target: Target | Target[]; stacked?: boolean; bars?: boolean; min?: number },
): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(CLICKHOUSE)
    .targets(targets(spec.target, "time_series"))
    .span(spec.w ?? 12)
    .height(spec.h ?? 8)
    .unit(spec.unit ?? "short")
    .legend(legend())
    .lineWidth(1)
    .fillOpacity(spec.stacked || spec.bars ? 60 : 10)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false);
  if (spec.bars) panel.drawStyle(common.GraphDrawStyle.Bars);
  if (spec.stacked) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.decimals !== undefined) panel.decimals(spec.decimals);
  return panel;
}

/** A column-specific unit or link for table panels. */
export interface ColumnOverride {
  column: string;
  unit?: string;
  decimals?: number;
  links?: { title: string; url: string; targetBlank?: boolean }[];
}

export function tablePanel(
  spec: PanelSpec & { target: Target; columns?: ColumnOverride[]; sortBy?: { column: string; desc: boolean } },
): table.PanelBuilder {
  const panel = new table.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(CLICKHOUSE)
    .targets(targets(spec.target, "table"))
    .span(spec.w ?? 24)
    .height(spec.h ?? 9)
    .unit(spec.unit ?? "short")
    .showHeader(true)
    .filterable(true)
    .cellHeight(common.TableCellHeight.Sm);
  if (spec.decimals !== undefined) panel.decimals(spec.decimals);
  if (spec.sortBy) {
    panel.sortBy([new common.TableSortByFieldStateBuilder().displayName(spec.sortBy.column).desc(spec.sortBy.desc)]);
  }
  for (const col of spec.columns ?? []) {
    const properties: dashboard.DynamicConfigValue[] = [];
    if (col.unit !== undefined) properties.push({ id: "unit", value: col.unit });
    if (col.decimals !== undefined) properties.push({ id: "decimals", value: col.decimals });
    if (col.links !== undefined) properties.push({ id: "links", value: col.links });
    panel.overrideByName(col.column, properties);
  }
  return panel;
}

export function barChartPanel(
  spec: PanelSpec & { target: Target; xField: string; stacked?: boolean; horizontal?: boolean },
): barchart.PanelBuilder {
  return new barchart.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(CLICKHOUSE)
    .targets(targets(spec.target, "table"))
    .span(spec.w ?? 12)
    .height(spec.h ?? 8)
    .unit(spec.unit ?? "short")
    .xField(spec.xField)
    .orientation(spec.horizontal ? common.VizOrientation.Horizontal : common.VizOrientation.Auto)
    .stacking(spec.stacked ? common.StackingMode.Normal : common.StackingMode.None)
    .showValue(common.VisibilityMode.Auto)
    .fillOpacity(80)
    .legend(legend());
}

export function logsPanel(spec: PanelSpec & { target: Target }): logs.PanelBuilder {
  return new logs.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(CLICKHOUSE)
    .targets(targets(spec.target, "logs"))
    .span(spec.w ?? 24)
    .height(spec.h ?? 9)
    .showTime(true)
    .wrapLogMessage(true)
    .enableLogDetails(true)
    .sortOrder(common.LogsSortOrder.Descending);
}

/** Grafana's trace view; the query returns the columns the traces panel reads (traceID, spanID, ...). */
export function tracePanel(spec: PanelSpec & { target: Target }): dashboard.PanelBuilder {
  return new dashboard.PanelBuilder()
    .type("traces")
    .title(spec.title)
    .description(spec.description)
    .datasource(CLICKHOUSE)
    .targets(targets(spec.target, "traces"))
    .span(spec.w ?? 24)
    .height(spec.h ?? 12);
}

export interface PromTarget {
  expr: string;
  legend: string;
}

export function promTimeSeriesPanel(
  spec: PanelSpec & { queries: PromTarget[]; stacked?: boolean },
): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(PROMETHEUS)
    .targets(
      spec.queries.map((q, i) =>
        new prometheus.DataqueryBuilder()
          .datasource(PROMETHEUS)
          .refId(String.fromCharCode(65 + i))
          .expr(q.expr)
          .legendFormat(q.legend)
          .editorMode(prometheus.QueryEditorMode.Code)
          .range(),
      ),
    )
    .span(spec.w ?? 8)
    .height(spec.h ?? 7)
    .unit(spec.unit ?? "short")
    .legend(legend())
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never);
  if (spec.stacked) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return panel;
}

export function row(title: string): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title);
}
