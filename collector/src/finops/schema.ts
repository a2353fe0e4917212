import { engine, type Migration, onCluster, type SchemaContext, tableStatements } from "../storage/migrations.js";
import {
  DAILY_COLUMNS,
  DAILY_TABLE,
  DAILY_VIEW,
  dailySelect,
  ROLLUP_COLUMNS,
  ROLLUP_TABLE,
  ROLLUP_VIEW,
  rollupSelect,
} from "./rollup.js";

/**
 * FinOps schema, versions 200+.
 *
 * 200 adds `list_cost_usd` beside `cost_usd`. `cost_usd` stays what the organization pays
 * (effective cost: contract rates and discounts applied), so every existing reader of cost keeps
 * its meaning; `list_cost_usd` is the catalog list cost at the call's service tier. It defaults
 * to `cost_usd`: rows written without it (older collectors, no contract) have list = effective.
 * Storage migration 5 adds the same column with the staging path that carries it at ingest, so
 * on an install that has run it this one changes nothing.
 *
 * 201 creates the hourly rollup `llm_calls_hourly` (AggregatingMergeTree) fed by a materialized
 * view on every insert into llm_calls, then backfills it from the rows already stored. Migrations
 * run before ingest starts, so nothing is written between the view's creation and the backfill;
 * on a cluster, run the first start of a new version on one node before the others ingest.
 *
 * The rollup has a deduplication window like llm_calls: when a batch replayed from the spool is
 * recognised as a duplicate by llm_calls (same insert_deduplication_token), ClickHouse still
 * runs the view, and only the view's own deduplication (its block token derives from the
 * batch's) keeps the rollup from counting the batch twice. Inserts that rebuild the rollup
 * disable deduplication: a rebuild may legitimately write the very block an earlier one wrote.
 */

/** Where llm_calls rows physically live: `<db>.llm_calls` or, on a cluster, `<db>.llm_calls_local`. */
export function localTable(ctx: SchemaContext, table: string): string {
  return `${ctx.database}.${table}${ctx.cluster ? "_local" : ""}`;
}

export const FINOPS_MIGRATIONS: Migration[] = [
  {
    version: 200,
    name: "llm_calls.list_cost_usd (list vs effective cost)",
    statements: (ctx) => {
      const column =
        "ADD COLUMN IF NOT EXISTS list_cost_usd Nullable(Decimal(18, 9)) DEFAULT cost_usd CODEC(ZSTD(1)) AFTER cost_usd";
      const stmts = [`ALTER TABLE ${localTable(ctx, "llm_calls")}${onCluster(ctx)} ${column}`];
      // The Distributed table carries the column list too.
      if (ctx.cluster) stmts.push(`ALTER TABLE ${ctx.database}.llm_calls${onCluster(ctx)} ${column}`);
      return stmts;
    },
  },
  {
    version: 201,
    name: "llm_calls_hourly rollup (AggregatingMergeTree + materialized view, backfilled)",
    statements: (ctx) => [
      ...tableStatements(
        ctx,
        ROLLUP_TABLE,
        ROLLUP_COLUMNS,
        `${engine(ctx, ROLLUP_TABLE, "AggregatingMergeTree")}\nPARTITION BY toYYYYMM(hour)\nORDER BY (hour, team, project, provider, model, status)${
          ctx.retentionDays > 0 ? `\nTTL hour + toIntervalDay(${ctx.retentionDays})` : ""
        }\nSETTINGS non_replicated_deduplication_window = 10000`,
      ),
      // On a cluster each shard's view feeds its own local rollup; readers go through the
      // Distributed table and GROUP BY, which merges across shards.
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${ctx.database}.${ROLLUP_VIEW}${onCluster(ctx)} TO ${localTable(ctx, ROLLUP_TABLE)} AS\n${rollupSelect(localTable(ctx, "llm_calls"))}`,
      // A rerun after an interrupted backfill starts the backfill over.
      `TRUNCATE TABLE IF EXISTS ${localTable(ctx, ROLLUP_TABLE)}${onCluster(ctx)}`,
      `INSERT INTO ${ctx.database}.${ROLLUP_TABLE} SETTINGS insert_deduplicate = 0, insert_deduplication_token = ''\n${rollupSelect(`${ctx.database}.llm_calls`)}`,
    ],
  },
  {
    version: 202,
    name: "llm_calls minmax index on timestamp",
    // Spend, budgets and forecasts read partial hours (the edges of a range) from llm_calls.
    // Its sort key starts with team and project, so a time range alone prunes little; within a
    // granule rows are consecutive hours of one team and project, so a minmax index on the
    // timestamp skips nearly everything outside the range.
    statements: (ctx) => [
      `ALTER TABLE ${localTable(ctx, "llm_calls")}${onCluster(ctx)} ADD INDEX IF NOT EXISTS idx_timestamp timestamp TYPE minmax GRANULARITY 1`,
      `ALTER TABLE ${localTable(ctx, "llm_calls")}${onCluster(ctx)} MATERIALIZE INDEX idx_timestamp SETTINGS mutations_sync = 0`,
    ],
  },
  {
    version: 203,
    name: "llm_calls_daily rollup (whole days of spend), backfilled",
    statements: (ctx) => [
      ...tableStatements(
        ctx,
        DAILY_TABLE,
        DAILY_COLUMNS,
        `${engine(ctx, DAILY_TABLE, "AggregatingMergeTree")}\nPARTITION BY toYYYYMM(day)\nORDER BY (day, team, project, provider, model)${
          ctx.retentionDays > 0 ? `\nTTL day + toIntervalDay(${ctx.retentionDays})` : ""
        }\nSETTINGS non_replicated_deduplication_window = 10000`,
      ),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${ctx.database}.${DAILY_VIEW}${onCluster(ctx)} TO ${localTable(ctx, DAILY_TABLE)} AS\n${dailySelect(localTable(ctx, "llm_calls"))}`,
      `TRUNCATE TABLE IF EXISTS ${localTable(ctx, DAILY_TABLE)}${onCluster(ctx)}`,
      `INSERT INTO ${ctx.database}.${DAILY_TABLE} SETTINGS insert_deduplicate = 0, insert_deduplication_token = ''\n${dailySelect(`${ctx.database}.llm_calls`)}`,
    ],
  },
];
