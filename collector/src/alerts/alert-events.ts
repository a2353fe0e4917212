import type { ClickHouseClient } from "@clickhouse/client";
import type { AlertStateName, SeriesState } from "./state-machine.js";

/** A row of alert_events (see schema.ts); times are Unix ms. */
export interface AlertEventRow {
  timestamp: number;
  rule: string;
  kind: string;
  fingerprint: string;
  state: AlertStateName;
  previous_state: AlertStateName;
  value: number | null;
  threshold: number | null;
  statistic: string;
  p_value: number | null;
  severity: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  active_since: number | null;
  fired_at: number | null;
  last_notified: number | null;
}

const finite = (n: number | null) => (n !== null && Number.isFinite(n) ? n : null);

export function eventOf(s: SeriesState, previous: AlertStateName, at: number): AlertEventRow {
  return {
    timestamp: at,
    rule: s.rule,
    kind: s.kind,
    fingerprint: s.fingerprint,
    state: s.state,
    previous_state: previous,
    value: finite(s.value),
    threshold: finite(s.threshold),
    statistic: s.statistic,
    p_value: finite(s.p_value),
    severity: s.severity,
    labels: s.labels,
    annotations: s.annotations,
    active_since: s.activeSince,
    fired_at: s.firedAt,
    last_notified: s.lastNotified,
  };
}

export async function writeEvents(client: ClickHouseClient, database: string, rows: AlertEventRow[]): Promise<void> {
  if (rows.length === 0) return;
  // DateTime64(3) takes integer input as milliseconds.
  await client.insert({ table: `${database}.alert_events`, values: rows, format: "JSONEachRow" });
}

function num(v: unknown): number | null {
  if (v === null || v === undefined || v === "") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * The latest event of every series that is pending or firing, or changed since `since`
 * (Unix ms): what the engine needs to carry on after a restart.
 */
export async function latestEvents(
  client: ClickHouseClient,
  database: string,
  since: number,
): Promise<AlertEventRow[]> {
  const rs = await client.query({
    query: `SELECT * FROM (
  SELECT toUnixTimestamp64Milli(timestamp) AS ts, rule, kind, fingerprint, state, previous_state, value,
    threshold, statistic, p_value, severity, labels, annotations,
    toUnixTimestamp64Milli(active_since) AS active_ms, toUnixTimestamp64Milli(fired_at) AS fired_ms,
    toUnixTimestamp64Milli(last_notified) AS notified_ms
  FROM ${database}.alert_events
  ORDER BY fingerprint, timestamp DESC
  LIMIT 1 BY fingerprint
)
WHERE state IN ('pending', 'firing') OR ts >= {since:Int64}`,
    query_params: { since },
    format: "JSONEachRow",
  });
  const rows = await rs.json<Record<string, unknown>>();
  return rows.map((r) => ({
    timestamp: Number(r["ts"]),
    rule: String(r["rule"]),
    kind: String(r["kind"]),
    fingerprint: String(r["fingerprint"]),
    state: String(r["state"]) as AlertStateName,
    previous_state: String(r["previous_state"]) as AlertStateName,
    value: num(r["value"]),
    threshold: num(r["threshold"]),
    statistic: String(r["statistic"]),
    p_value: num(r["p_value"]),
    severity: String(r["severity"]),
    labels: (r["labels"] ?? {}) as Record<string, string>,
    annotations: (r["annotations"] ?? {}) as Record<string, string>,
    active_since: num(r["active_ms"]),
    fired_at: num(r["fired_ms"]),
    last_notified: num(r["notified_ms"]),
  }));
}
