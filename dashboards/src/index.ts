/**
 * Public surface of @tokenmeter/dashboards: the dashboards themselves, the ClickHouse query
 * builder, the macro expander that runs their SQL outside Grafana, and the demo-data seeder.
 */

export type {
  ClickHouseFormat,
  ClickHouseQuery,
  ClickHouseQueryType,
  ClickHouseVariableQuery,
} from "./clickhouse-query.js";
export { ClickHouseQueryBuilder, FORMAT_CODES, sql, variableQuery } from "./clickhouse-query.js";
export { CLICKHOUSE, DATABASE, PROMETHEUS } from "./datasources.js";
export type { MacroContext, VariableState } from "./macros.js";
export { ALL, expandQuery, MacroExpansionError } from "./macros.js";
export type { BuildOptions, BuiltDashboard } from "./registry.js";
export { buildAllDashboards, serializeDashboard } from "./registry.js";
export type { DemoPricer, PricedCall, RowInserter, SeedOptions, SeedResult } from "./seed-demo.js";
export { seedDemoData } from "./seed-demo.js";
