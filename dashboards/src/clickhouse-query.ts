import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import { CLICKHOUSE, type DatasourceRef } from "./datasources.js";

/**
 * A typed builder for grafana-clickhouse-datasource queries in SQL-editor mode. The foundation
 * SDK ships builders for the core datasources only; this one produces the query model the
 * ClickHouse plugin saves itself (src/types/sql.ts of grafana/clickhouse-datasource):
 *
 *   { refId, datasource, editorType: "sql", queryType, format, rawSql }
 *
 * `format` is the backend's numeric frame format (sqlutil.FormatQueryOption in the Grafana plugin
 * SDK), `queryType` the plugin's own display type; they are kept in step unless set apart.
 */

export type ClickHouseFormat = "time_series" | "table" | "logs" | "traces";
export type ClickHouseQueryType = "timeSeries" | "table" | "logs" | "traces";

/** Wire values of `format`: sqlutil.FormatOptionTimeSeries = 0, Table = 1, Logs = 2, Trace = 3. */
export const FORMAT_CODES: Readonly<Record<ClickHouseFormat, 0 | 1 | 2 | 3>> = {
  time_series: 0,
  table: 1,
  logs: 2,
  traces: 3,
};

const QUERY_TYPE_FOR_FORMAT: Readonly<Record<ClickHouseFormat, ClickHouseQueryType>> = {
  time_series: "timeSeries",
  table: "table",
  logs: "logs",
  traces: "traces",
};

/** The saved query model. JSON-serialisable; the variant marker is a method, so it is not written. */
export interface ClickHouseQuery extends cog.Dataquery {
  refId: string;
  datasource: DatasourceRef;
  editorType: "sql";
  queryType: ClickHouseQueryType;
  format: 0 | 1 | 2 | 3;
  rawSql: string;
  hide?: boolean;
}

export class ClickHouseQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: ClickHouseQuery;
  private queryTypeSet = false;

  constructor(rawSql: string) {
    this.internal = {
      refId: "A",
      datasource: CLICKHOUSE,
      editorType: "sql",
      queryType: "table",
      format: FORMAT_CODES.table,
      rawSql,
      _implementsDataqueryVariant: () => {},
    };
  }

  build(): ClickHouseQuery {
    return this.internal;
  }

  rawSql(rawSql: string): this {
    this.internal.rawSql = rawSql;
    return this;
  }

  /** How the backend shapes the result; also sets the matching queryType unless one was set. */
  format(format: ClickHouseFormat): this {
    this.internal.format = FORMAT_CODES[format];
    if (!this.queryTypeSet) this.internal.queryType = QUERY_TYPE_FOR_FORMAT[format];
    return this;
  }

  queryType(queryType: ClickHouseQueryType): this {
    this.internal.queryType = queryType;
    this.queryTypeSet = true;
    return this;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  datasource(datasource: DatasourceRef): this {
    this.internal.datasource = datasource;
    return this;
  }

  hide(hide: boolean): this {
    this.internal.hide = hide;
    return this;
  }
}

/** Shorthand: a ClickHouse SQL query with the given format. */
export function sql(rawSql: string, format: ClickHouseFormat = "table"): ClickHouseQueryBuilder {
  return new ClickHouseQueryBuilder(rawSql).format(format);
}

/**
 * The query model of a ClickHouse query variable. The plugin runs `rawSql` and takes the first
 * column as the option values (a second column, when present, as their display text).
 */
export interface ClickHouseVariableQuery {
  editorType: "sql";
  rawSql: string;
}

export function variableQuery(rawSql: string): ClickHouseVariableQuery {
  return { editorType: "sql", rawSql };
}
