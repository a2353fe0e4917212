import {
  QueryVariableBuilder,
  TextBoxVariableBuilder,
  VariableHide,
  VariableRefresh,
  VariableSort,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { variableQuery } from "./clickhouse-query.js";
import { CLICKHOUSE, DEFAULT_API_URL, table } from "./datasources.js";

/**
 * The template variables the dashboards share: environment, team, project and model, each a
 * multi-select ClickHouse query variable with All. Panels filter with
 *
 *   $__conditionalAll(team IN (${team:singlequote}), $team)
 *
 * so All drops the condition (no giant IN list, and calls with an empty team still count), and a
 * selection is quoted and escaped by Grafana's singlequote format. The variables are chained in
 * the order below: the project list only shows projects of the selected teams, and so on.
 */

export type FilterName = "environment" | "team" | "project" | "model";

export const FILTERS: readonly FilterName[] = ["environment", "team", "project", "model"];

/** The llm_calls column each variable filters. `model` is the requested model, the one in the sort key. */
export const FILTER_COLUMNS: Readonly<Record<FilterName, string>> = {
  environment: "environment",
  team: "team",
  project: "project",
  model: "request_model",
};

const LABELS: Readonly<Record<FilterName, string>> = {
  environment: "Environment",
  team: "Team",
  project: "Project",
  model: "Model",
};

/** The condition for one variable; `qualifier` prefixes the column (e.g. "c." in a join). */
export function filterCondition(name: FilterName, qualifier = ""): string {
  return `$__conditionalAll(${qualifier}${FILTER_COLUMNS[name]} IN (\${${name}:singlequote}), $${name})`;
}

/** Every variable's condition, ANDed: the filter of llm_calls panels. */
export function callFilters(qualifier = "", names: readonly FilterName[] = FILTERS): string {
  return names.map((name) => filterCondition(name, qualifier)).join(" AND ");
}

/** The SQL that lists one variable's options, narrowed by the variables before it. */
export function filterVariableSql(name: FilterName): string {
  const column = FILTER_COLUMNS[name];
  const before = FILTERS.slice(0, FILTERS.indexOf(name));
  const where = ["$__timeFilter(timestamp)", `${column} != ''`, ...before.map((b) => filterCondition(b))];
  return `SELECT DISTINCT ${column} FROM ${table("llm_calls")} WHERE ${where.join(" AND ")} ORDER BY ${column}`;
}

export function filterVariable(name: FilterName): QueryVariableBuilder {
  const rawSql = filterVariableSql(name);
  return new QueryVariableBuilder(name)
    .label(LABELS[name])
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

export function filterVariables(): QueryVariableBuilder[] {
  return FILTERS.map(filterVariable);
}

/**
 * Base URL of the collector's read API as the browser sees it, for links to
 * /api/v1/traces/<trace_id>. Hidden; set it with `?var-api_url=...` or in the dashboard settings.
 */
export function apiUrlVariable(): TextBoxVariableBuilder {
  return new TextBoxVariableBuilder("api_url")
    .label("tokenmeter API")
    .description("Base URL of the tokenmeter collector API, as reachable from the browser.")
    .defaultValue(DEFAULT_API_URL)
    .current({ selected: true, text: DEFAULT_API_URL, value: DEFAULT_API_URL })
    .hide(VariableHide.HideVariable);
}
