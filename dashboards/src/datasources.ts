/**
 * The datasources every dashboard points at. The uids are fixed so the provisioned datasources
 * (provisioning/datasources/datasources.yaml) and the dashboards find each other without an
 * import prompt; change one only together with the other.
 */

export interface DatasourceRef {
  readonly type: string;
  readonly uid: string;
}

/** grafana-clickhouse-datasource, reading the tokenmeter database. */
export const CLICKHOUSE: DatasourceRef = { type: "grafana-clickhouse-datasource", uid: "tokenmeter-clickhouse" };

/** Prometheus scraping the collector's /metrics. */
export const PROMETHEUS: DatasourceRef = { type: "prometheus", uid: "tokenmeter-prometheus" };

/** The ClickHouse database tokenmeter writes (CLICKHOUSE_DATABASE, default `tokenmeter`). */
export const DATABASE = "tokenmeter";

/**
 * A table of the tokenmeter database, always qualified: the datasource's default database is a
 * convenience of the Grafana side, and a qualified name keeps every query runnable as-is in
 * clickhouse-client or the embedded engine.
 */
export function table(name: "llm_calls" | "spans" | "scores" | "alert_events"): string {
  return `${DATABASE}.${name}`;
}

/**
 * Where a browser reaches the collector's read API (trace links in the calls explorer). The
 * dashboards expose it as the hidden `api_url` variable, so a deployment overrides it with
 * `?var-api_url=https://tokenmeter.example.com` or by editing the variable.
 */
export const DEFAULT_API_URL = "http://localhost:4318";
