import { engine, type Migration, type SchemaContext, tableStatements } from "../storage/migrations.js";

/**
 * Tables owned by the alert engine. Versions start at 100 so they never collide with the core
 * migrations; they are appended to the list `migrate()` runs.
 */

function rowTtl(ctx: SchemaContext): string {
  return ctx.retentionDays > 0 ? `\nTTL toDateTime(timestamp) + toIntervalDay(${ctx.retentionDays})` : "";
}

/**
 * One row per state transition of one alert series (rule + group labels), plus one row per
 * repeat notification of a firing series. States: pending, firing, resolved, nodata, and
 * inactive for a pending series that cleared before `for` elapsed (nobody was notified).
 * The latest row of each fingerprint is the state the engine rebuilds at start, so a restart
 * neither re-pages nor forgets a pending `for` timer.
 */
const alertEventsColumns = `  timestamp DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
  rule LowCardinality(String),
  kind LowCardinality(String),
  fingerprint String,
  state LowCardinality(String),
  previous_state LowCardinality(String),
  value Nullable(Float64),
  threshold Nullable(Float64),
  statistic LowCardinality(String),
  p_value Nullable(Float64),
  severity LowCardinality(String),
  labels Map(LowCardinality(String), String),
  annotations Map(LowCardinality(String), String) CODEC(ZSTD(3)),
  active_since Nullable(DateTime64(3, 'UTC')),
  fired_at Nullable(DateTime64(3, 'UTC')),
  last_notified Nullable(DateTime64(3, 'UTC'))`;

/**
 * The alert migrations, as a function declaration: migrations.ts may spread it into its own
 * list even though this file imports that one's helpers (a declaration is callable before the
 * module body runs, so the import cycle is safe; the helpers are only used later, when the
 * statements are rendered).
 */
export function alertMigrations(): Migration[] {
  return [
    {
      version: 100,
      name: "alert_events: alert state transitions",
      statements: (ctx) =>
        tableStatements(
          ctx,
          "alert_events",
          alertEventsColumns,
          `${engine(ctx, "alert_events")}\nPARTITION BY toYYYYMM(timestamp)\nORDER BY (rule, fingerprint, timestamp)${rowTtl(ctx)}`,
          "cityHash64(fingerprint)",
        ),
    },
  ];
}

export const ALERT_MIGRATIONS: Migration[] = alertMigrations();
