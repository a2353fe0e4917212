import type { ClickHouseClient } from "@clickhouse/client";
import { onCluster, type SchemaContext } from "./migrations.js";

/**
 * Keeps the tables' TTLs equal to the configured retention. Migrations write a TTL once, when
 * they create a table; without this, changing `storage.retentionDays` or
 * `storage.contentRetentionDays` later would change nothing on disk. At every start the server
 * compares each TTL with the configuration and alters the ones that differ: ClickHouse then
 * applies the new TTL to the rows already stored (a shorter retention deletes what it no longer
 * covers, in the background), not only to new rows.
 */

type Which = "rows" | "content";

interface TtlTarget {
  readonly table: string;
  /** A column TTL (content blanked); a table TTL (rows deleted) when absent. */
  readonly column?: string;
  /** The DateTime the TTL counts from. */
  readonly time: string;
  readonly retention: Which;
}

/** Every TTL tokenmeter's schema sets, as its migrations write them. */
export const TTL_TARGETS: readonly TtlTarget[] = [
  { table: "llm_calls", time: "toDateTime(timestamp)", retention: "rows" },
  { table: "llm_calls", column: "input", time: "toDateTime(timestamp)", retention: "content" },
  { table: "llm_calls", column: "output", time: "toDateTime(timestamp)", retention: "content" },
  { table: "spans", time: "toDateTime(timestamp)", retention: "rows" },
  { table: "spans", column: "content_attributes", time: "toDateTime(timestamp)", retention: "content" },
  { table: "scores", time: "toDateTime(timestamp)", retention: "rows" },
  { table: "call_content", time: "toDateTime(timestamp)", retention: "content" },
  { table: "alert_events", time: "toDateTime(timestamp)", retention: "rows" },
  { table: "llm_calls_hourly", time: "hour", retention: "rows" },
  { table: "llm_calls_daily", time: "day", retention: "rows" },
];

export interface RetentionChange {
  /** `table` or `table.column`. */
  readonly target: string;
  readonly retention: Which;
  /** Days before and after; 0 = kept forever. */
  readonly fromDays: number;
  readonly toDays: number;
}

function wantedDays(ctx: SchemaContext, which: Which): number {
  return which === "rows" ? ctx.retentionDays : ctx.contentRetentionDays;
}

/** The days of a TTL clause as tokenmeter writes it (`... + toIntervalDay(N)`); 0 when there is none. */
function ttlDays(clause: string | undefined): number {
  if (clause === undefined) return 0;
  const m = /toIntervalDay\((\d+)\)/.exec(clause);
  return m?.[1] === undefined ? 0 : Number(m[1]);
}

/** The table TTL in `engine_full`: what follows `TTL` up to the settings. */
function tableTtl(engineFull: string): string | undefined {
  return /\sTTL\s(.*?)(?:\sSETTINGS\s|$)/.exec(engineFull)?.[1];
}

/** A column's TTL in `create_table_query` (one line; each column starts with its quoted name). */
function columnTtl(createQuery: string, column: string): string | undefined {
  const def = new RegExp(`\`${column}\` ([^\`]*)`).exec(createQuery)?.[1];
  return def === undefined ? undefined : /\sTTL\s(.*)$/.exec(def)?.[1];
}

/** The statement that sets `days` on `target` of `table` (a physical table name, database included). */
function alterStatement(ctx: SchemaContext, table: string, target: TtlTarget, days: number): string {
  const head = `ALTER TABLE ${table}${onCluster(ctx)}`;
  const expr = `${target.time} + toIntervalDay(${days})`;
  if (target.column !== undefined) {
    return days > 0
      ? `${head} MODIFY COLUMN ${target.column} TTL ${expr}`
      : `${head} MODIFY COLUMN ${target.column} REMOVE TTL`;
  }
  return days > 0 ? `${head} MODIFY TTL ${expr}` : `${head} REMOVE TTL`;
}

interface TableInfo {
  name: string;
  engine_full: string;
  create_table_query: string;
}

/**
 * Alters every TTL that differs from the configured retention and returns what changed. Tables
 * that do not exist (a feature's migrations not run) are skipped. On a cluster the data tables
 * are the `_local` ones, altered ON CLUSTER.
 */
export async function applyRetention(client: ClickHouseClient, ctx: SchemaContext): Promise<RetentionChange[]> {
  const physical = (table: string) => (ctx.cluster ? `${table}_local` : table);
  const names = [...new Set(TTL_TARGETS.map((t) => physical(t.table)))];
  const rs = await client.query({
    query: `SELECT name, engine_full, create_table_query FROM system.tables
      WHERE database = {db:String} AND name IN {names:Array(String)}`,
    query_params: { db: ctx.database, names },
    format: "JSONEachRow",
  });
  const tables = new Map((await rs.json<TableInfo>()).map((t) => [t.name, t]));
  const changes: RetentionChange[] = [];
  for (const target of TTL_TARGETS) {
    const info = tables.get(physical(target.table));
    if (info === undefined) continue;
    const current = ttlDays(
      target.column === undefined ? tableTtl(info.engine_full) : columnTtl(info.create_table_query, target.column),
    );
    const wanted = wantedDays(ctx, target.retention);
    if (current === wanted) continue;
    await client.command({ query: alterStatement(ctx, `${ctx.database}.${info.name}`, target, wanted) });
    changes.push({
      target: target.column === undefined ? target.table : `${target.table}.${target.column}`,
      retention: target.retention,
      fromDays: current,
      toDays: wanted,
    });
  }
  return changes;
}
