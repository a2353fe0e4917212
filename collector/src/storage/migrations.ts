import type { ClickHouseClient } from "@clickhouse/client";
import { alertMigrations } from "../alerts/schema.js";

/**
 * Versioned, idempotent schema migrations. Each migration renders its DDL for the deployment
 * shape (single node or cluster) and runs once; the versions applied are recorded in
 * `schema_migrations`. Statements use IF NOT EXISTS so a migration interrupted half-way can
 * simply run again.
 */

export interface SchemaContext {
  database: string;
  /** ON CLUSTER target; Replicated engines and Distributed tables when set. */
  cluster?: string | undefined;
  /** Days to keep input/output content; 0 = forever. */
  contentRetentionDays: number;
  /** Days to keep rows; 0 = forever. */
  retentionDays: number;
}

export interface Migration {
  version: number;
  name: string;
  statements(ctx: SchemaContext): string[];
}

/** `ON CLUSTER x` or "". */
export function onCluster(ctx: SchemaContext): string {
  return ctx.cluster ? ` ON CLUSTER ${ctx.cluster}` : "";
}

/**
 * The engine clause for a table. On a cluster the data lives in `<table>_local` with a
 * Replicated engine, and `<table>` is a Distributed table over it (see tableStatements).
 */
export function engine(ctx: SchemaContext, table: string, kind = "MergeTree", args = ""): string {
  if (!ctx.cluster) return `${kind}(${args})`;
  const path = `'/clickhouse/tables/{shard}/${ctx.database}/${table}_local', '{replica}'`;
  return `Replicated${kind}(${args ? `${path}, ${args}` : path})`;
}

/**
 * CREATE TABLE statements for one logical table: a plain table on a single node; on a cluster
 * the `_local` replicated table plus a Distributed table named as the logical one, sharded by
 * `shardKey` so one trace stays on one shard.
 */
export function tableStatements(
  ctx: SchemaContext,
  table: string,
  columns: string,
  engineClause: string,
  shardKey = "rand()",
): string[] {
  const db = ctx.database;
  if (!ctx.cluster) {
    return [`CREATE TABLE IF NOT EXISTS ${db}.${table}${onCluster(ctx)} (\n${columns}\n) ENGINE = ${engineClause}`];
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.${table}_local${onCluster(ctx)} (\n${columns}\n) ENGINE = ${engineClause}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${table}${onCluster(ctx)} AS ${db}.${table}_local ENGINE = Distributed(${ctx.cluster}, ${db}, ${table}_local, ${shardKey})`,
  ];
}

/** Column TTL clause for content columns. */
function contentTtl(ctx: SchemaContext): string {
  return ctx.contentRetentionDays > 0 ? ` TTL toDateTime(timestamp) + toIntervalDay(${ctx.contentRetentionDays})` : "";
}

/** Table TTL clause: rows older than `days` go (none for 0). */
function tableTtl(days: number): string {
  return days > 0 ? `\nTTL toDateTime(timestamp) + toIntervalDay(${days})` : "";
}

/** Table TTL clause for rows. */
function rowTtl(ctx: SchemaContext): string {
  return tableTtl(ctx.retentionDays);
}

// Batches carry an insert_deduplication_token, so a batch replayed from the spool after an
// ambiguous failure is written once. Replicated tables deduplicate by default; plain MergeTree
// needs a window.
const DEDUP_SETTINGS = "non_replicated_deduplication_window = 10000";

const llmCallsColumns = (ctx: SchemaContext) => `  timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
  trace_id String CODEC(ZSTD(1)),
  span_id String CODEC(ZSTD(1)),
  parent_span_id String CODEC(ZSTD(1)),
  service LowCardinality(String),
  environment LowCardinality(String),
  team LowCardinality(String),
  project LowCardinality(String),
  user_id String CODEC(ZSTD(1)),
  session_id String CODEC(ZSTD(1)),
  feature LowCardinality(String),
  source LowCardinality(String),
  convention LowCardinality(String),
  provider LowCardinality(String),
  operation LowCardinality(String),
  request_model LowCardinality(String),
  response_model LowCardinality(String),
  response_id String CODEC(ZSTD(1)),
  prompt_name LowCardinality(String),
  prompt_version LowCardinality(String),
  input_tokens UInt64,
  output_tokens UInt64,
  cache_read_tokens UInt64,
  cache_write_tokens UInt64,
  reasoning_tokens UInt64,
  tokens_estimated UInt8,
  cost_usd Nullable(Decimal(18, 9)),
  reported_cost_usd Nullable(Decimal(18, 9)),
  priced UInt8,
  price_id LowCardinality(String),
  duration_ms Float64,
  ttft_ms Nullable(Float64),
  streamed UInt8,
  status LowCardinality(String),
  error_type LowCardinality(String),
  finish_reason LowCardinality(String),
  http_status UInt16,
  request_params String CODEC(ZSTD(3)),
  input String CODEC(ZSTD(3))${contentTtl(ctx)},
  output String CODEC(ZSTD(3))${contentTtl(ctx)},
  redacted UInt8,
  cache_hit UInt8,
  tags Map(LowCardinality(String), String) CODEC(ZSTD(1)),
  INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 4,
  INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4,
  INDEX idx_model request_model TYPE set(256) GRANULARITY 4`;

const spansColumns = `  timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
  end_timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
  trace_id String CODEC(ZSTD(1)),
  span_id String CODEC(ZSTD(1)),
  parent_span_id String CODEC(ZSTD(1)),
  name LowCardinality(String),
  kind UInt8,
  service LowCardinality(String),
  scope_name LowCardinality(String),
  status_code UInt8,
  status_message String CODEC(ZSTD(1)),
  duration_ms Float64,
  convention LowCardinality(String),
  operation LowCardinality(String),
  is_llm_call UInt8,
  attributes Map(LowCardinality(String), String) CODEC(ZSTD(3)),
  resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(3)),
  events String CODEC(ZSTD(3)),
  INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 4`;

/**
 * llm_calls.list_cost_usd (migration 5; FinOps' migration 200 adds the same column and is a
 * no-op after it). Its default is the effective cost, so a batch logged or spooled in a layout
 * without the column stores list = effective, as the versions that wrote it did.
 */
const LIST_COST_COLUMN = "list_cost_usd Nullable(Decimal(18, 9)) DEFAULT cost_usd CODEC(ZSTD(1))";

const SPAN_CONTENT_COLUMN_TYPE = "Map(LowCardinality(String), String) CODEC(ZSTD(3))";

const scoresColumns = `  timestamp DateTime64(6, 'UTC'),
  score_id String,
  trace_id String,
  span_id String,
  name LowCardinality(String),
  value Nullable(Float64),
  label String,
  source LowCardinality(String),
  comment String CODEC(ZSTD(3)),
  data_type LowCardinality(String),
  INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "core tables: llm_calls, spans, scores",
    statements: (ctx) => [
      ...tableStatements(
        ctx,
        "llm_calls",
        llmCallsColumns(ctx),
        // Per-team time-range queries are the common case (spend, budgets, dashboards).
        `${engine(ctx, "llm_calls")}\nPARTITION BY toYYYYMM(timestamp)\nORDER BY (team, project, toStartOfHour(timestamp), request_model, timestamp)${rowTtl(ctx)}\nSETTINGS ${DEDUP_SETTINGS}`,
        "cityHash64(trace_id)",
      ),
      ...tableStatements(
        ctx,
        "spans",
        spansColumns,
        `${engine(ctx, "spans")}\nPARTITION BY toYYYYMM(timestamp)\nORDER BY (service, toStartOfHour(timestamp), trace_id)${rowTtl(ctx)}\nSETTINGS ${DEDUP_SETTINGS}`,
        "cityHash64(trace_id)",
      ),
      ...tableStatements(
        ctx,
        "scores",
        scoresColumns,
        // A client-supplied score id makes a re-sent score replace the first one.
        `${engine(ctx, "scores", "ReplacingMergeTree")}\nPARTITION BY toYYYYMM(timestamp)\nORDER BY (name, trace_id, score_id)${rowTtl(ctx)}\nSETTINGS ${DEDUP_SETTINGS}`,
        "cityHash64(trace_id)",
      ),
    ],
  },
  {
    version: 2,
    name: "call_content: prompts and responses sent as OTLP log events",
    statements: (ctx) =>
      tableStatements(
        ctx,
        "call_content",
        `  timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
  trace_id String CODEC(ZSTD(1)),
  span_id String CODEC(ZSTD(1)),
  input String CODEC(ZSTD(3)),
  output String CODEC(ZSTD(3)),
  redacted UInt8,
  INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1`,
        // Content follows the content retention, not the facts'.
        `${engine(ctx, "call_content")}\nPARTITION BY toYYYYMM(timestamp)\nORDER BY (trace_id, span_id)${tableTtl(ctx.contentRetentionDays)}\nSETTINGS ${DEDUP_SETTINGS}`,
        "cityHash64(trace_id)",
      ),
  },
  {
    version: 3,
    name: "insert staging: llm_calls and spans arrive through Null tables with plain column types",
    statements: (ctx) => [
      ...stagingStatements(ctx, "llm_calls", llmCallsColumns(ctx)),
      ...stagingStatements(ctx, "spans", spansColumns),
    ],
  },
  {
    version: 4,
    name: "spans.content_attributes: a span's own content apart, under the content retention",
    statements: (ctx) => {
      const column = `content_attributes ${SPAN_CONTENT_COLUMN_TYPE}`;
      const db = ctx.database;
      if (ctx.cluster) {
        return [
          `ALTER TABLE ${db}.spans_local${onCluster(ctx)} ADD COLUMN IF NOT EXISTS ${column}${contentTtl(ctx)}`,
          `ALTER TABLE ${db}.spans${onCluster(ctx)} ADD COLUMN IF NOT EXISTS content_attributes Map(LowCardinality(String), String)`,
        ];
      }
      const staged = insertTable(ctx.cluster, "spans");
      const withContent = `${spansColumns},
  ${column}`;
      return [
        `ALTER TABLE ${db}.spans ADD COLUMN IF NOT EXISTS ${column}${contentTtl(ctx)}`,
        `ALTER TABLE ${db}.${staged} ADD COLUMN IF NOT EXISTS ${stagingColumns(column).join("")}`,
        // The view keeps running: rows inserted while it changes reach the table either way.
        `ALTER TABLE ${db}.${staged}_mv MODIFY QUERY\n${stagingSelect(db, staged, withContent)}`,
      ];
    },
  },
  {
    version: 5,
    name: "llm_calls.list_cost_usd written at ingest: the staging path carries it",
    // The column existed (migration 200) but the writer did not name it and the staging table
    // lacked it, so every row took the default: list = effective even under a contract.
    statements: (ctx) => {
      const db = ctx.database;
      const add = `ADD COLUMN IF NOT EXISTS ${LIST_COST_COLUMN} AFTER cost_usd`;
      if (ctx.cluster) {
        return [
          `ALTER TABLE ${db}.llm_calls_local${onCluster(ctx)} ${add}`,
          `ALTER TABLE ${db}.llm_calls${onCluster(ctx)} ${add}`,
        ];
      }
      const staged = insertTable(ctx.cluster, "llm_calls");
      // In the writer's order (row-format.ts): right after cost_usd.
      const withList = llmCallsColumns(ctx).replace(
        "  cost_usd Nullable(Decimal(18, 9)),\n",
        `  cost_usd Nullable(Decimal(18, 9)),\n  ${LIST_COST_COLUMN},\n`,
      );
      return [
        `ALTER TABLE ${db}.llm_calls ${add}`,
        // The staging table keeps the default too: an older layout's insert omits the column,
        // and the view would otherwise pass NULL on, which the table's default does not replace.
        `ALTER TABLE ${db}.${staged} ADD COLUMN IF NOT EXISTS ${stagingColumns(LIST_COST_COLUMN).join("")} AFTER cost_usd`,
        `ALTER TABLE ${db}.${staged}_mv MODIFY QUERY\n${stagingSelect(db, staged, withList)}`,
      ];
    },
  },
  // Feature migrations live beside their features; version ranges keep them apart.
  ...alertMigrations(),
];

/**
 * Tables whose rows are inserted through a staging table (see stagingStatements). Adding a
 * column to one of them takes a migration that adds it to `<table>_ingest` as well and
 * recreates `<table>_ingest_mv`; a test checks that the staging columns are the writer's.
 */
const STAGED_TABLES: ReadonlySet<string> = new Set(["llm_calls", "spans"]);

/**
 * The table a batch for `table` is inserted into: its staging table on a single node, the
 * table itself otherwise. On a cluster, inserts go to the Distributed table, which forwards
 * binary blocks to the shards, so there is no text parse for staging to save.
 */
export function insertTable(cluster: string | undefined, table: string): string {
  return !cluster && STAGED_TABLES.has(table) ? `${table}_ingest` : table;
}

/** The columns of a staging table: the table's own names and types, LowCardinality unwrapped, no codecs or indexes. */
function stagingColumns(columns: string): string[] {
  return columns
    .split(",\n")
    .map((line) => line.trim())
    .filter((line) => !line.startsWith("INDEX "))
    .map((line) =>
      line
        .replace(/ CODEC\((?:[^()]|\([^()]*\))*\)/g, "")
        .replace(/ TTL .*$/, "")
        .replace(/LowCardinality\(([^()]*)\)/g, "$1"),
    );
}

/**
 * A Null table with the table's columns in plain types, and a materialized view that moves
 * every block inserted there into the table. Rows then arrive as they do without it, views on
 * the table and insert deduplication included (the view's block carries the insert's
 * deduplication token), but the text is parsed into plain String columns, which the view then
 * casts to LowCardinality a whole column at a time. Parsing a text value straight into a
 * LowCardinality column goes through a temporary column per value: measured on the ingest
 * bench's rows, staging cuts the engine's CPU per stored call by about a fifth.
 */
function stagingStatements(ctx: SchemaContext, table: string, columns: string): string[] {
  if (ctx.cluster) return [];
  const db = ctx.database;
  const staged = insertTable(ctx.cluster, table);
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.${staged} (\n  ${stagingColumns(columns).join(",\n  ")}\n) ENGINE = Null`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${staged}_mv TO ${db}.${table} AS\n${stagingSelect(db, staged, columns)}`,
  ];
}

/** The staging view's query: every column of `columns`, from the staging table. */
function stagingSelect(db: string, staged: string, columns: string): string {
  const names = stagingColumns(columns).map((c) => c.slice(0, c.indexOf(" ")));
  return `SELECT ${names.join(", ")} FROM ${db}.${staged}`;
}

function migrationsTable(ctx: SchemaContext): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${ctx.database}${onCluster(ctx)}`,
    ...tableStatements(
      ctx,
      "schema_migrations",
      "  version UInt32,\n  name String,\n  applied_at DateTime64(3, 'UTC') DEFAULT now64(3)",
      `${engine(ctx, "schema_migrations", "ReplacingMergeTree")}\nORDER BY version`,
    ),
  ];
}

/** Every statement, in order, that a fresh install runs. For tests and `tokenmeter schema`. */
export function renderSchema(ctx: SchemaContext, migrations: Migration[] = MIGRATIONS): string[] {
  return [...migrationsTable(ctx), ...migrations.flatMap((m) => m.statements(ctx))];
}

/** Applies pending migrations in version order. Returns the versions applied now. */
export async function migrate(
  client: ClickHouseClient,
  ctx: SchemaContext,
  migrations: Migration[] = MIGRATIONS,
): Promise<number[]> {
  for (const stmt of migrationsTable(ctx)) await client.command({ query: stmt });
  const rs = await client.query({
    query: `SELECT DISTINCT version FROM ${ctx.database}.schema_migrations`,
    format: "JSONEachRow",
  });
  const done = new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    for (const stmt of m.statements(ctx)) await client.command({ query: stmt });
    await client.insert({
      table: `${ctx.database}.schema_migrations`,
      values: [{ version: m.version, name: m.name }],
      format: "JSONEachRow",
    });
    applied.push(m.version);
  }
  return applied;
}
