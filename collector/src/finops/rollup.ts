/**
 * `llm_calls_hourly`: the hourly rollup that spend, budgets, forecasts, anomalies and the
 * dashboards read instead of scanning llm_calls. One row per (hour, team, project, provider,
 * model, status) after merges; AggregatingMergeTree keeps folding rows with the same key.
 *
 * Plain sums use SimpleAggregateFunction (read with sum()); latency quantiles and distinct
 * users keep aggregate states (read with quantilesTDigestMerge / uniqMerge).
 *
 * Definitions shared by every reader, so the rollup and the raw table always agree:
 * - `model` is the requested model, or the response model when no request model was recorded;
 * - `cost_usd` is spend: the effective cost of calls not served from the proxy cache (a cache
 *   hit costs nothing; its would-be cost is `cache_hit_cost_usd`, the savings);
 * - `unpriced_calls` counts calls with no price (cost NULL), which never add $0 silently.
 *
 * A reprice changes costs in llm_calls, which views never see; reprice.ts then inserts
 * correction rows (the difference between llm_calls and the rollup per key). The measures a
 * reprice can change are costs and `unpriced_calls`, which is why that counter is signed.
 */

/** The measures a reprice can change, corrected in both rollups afterwards. */
export const REPRICED_MEASURES = ["cost_usd", "list_cost_usd", "unpriced_calls", "cache_hit_cost_usd"] as const;

export const ROLLUP_TABLE = "llm_calls_hourly";
export const ROLLUP_VIEW = "llm_calls_hourly_mv";

/** The `model` key, from llm_calls columns. */
export const MODEL_KEY_SQL = "if(request_model != '', request_model, response_model)";
/** MODEL_KEY_SQL over llm_calls aliased `c`. */
export const RAW_MODEL_KEY_SQL = "if(c.request_model != '', c.request_model, c.response_model)";

export const ROLLUP_COLUMNS = `  hour DateTime('UTC') CODEC(Delta, ZSTD(1)),
  team LowCardinality(String),
  project LowCardinality(String),
  provider LowCardinality(String),
  model LowCardinality(String),
  status LowCardinality(String),
  calls SimpleAggregateFunction(sum, UInt64),
  input_tokens SimpleAggregateFunction(sum, UInt64),
  output_tokens SimpleAggregateFunction(sum, UInt64),
  cache_read_tokens SimpleAggregateFunction(sum, UInt64),
  cache_write_tokens SimpleAggregateFunction(sum, UInt64),
  reasoning_tokens SimpleAggregateFunction(sum, UInt64),
  cost_usd SimpleAggregateFunction(sum, Decimal(38, 9)),
  list_cost_usd SimpleAggregateFunction(sum, Decimal(38, 9)),
  unpriced_calls SimpleAggregateFunction(sum, Int64),
  cache_hit_calls SimpleAggregateFunction(sum, UInt64),
  cache_hit_cost_usd SimpleAggregateFunction(sum, Decimal(38, 9)),
  estimated_calls SimpleAggregateFunction(sum, UInt64),
  duration_ms_sum SimpleAggregateFunction(sum, Float64),
  duration_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64),
  users AggregateFunction(uniq, String)`;

/**
 * Aggregates of llm_calls rows (aliased `c`) with the rollup's meaning, by name. Used by the
 * view, by the rebuild after a reprice, and by queries that must read the raw table (user_id,
 * partial hours).
 */
export const RAW_AGGREGATES: Readonly<Record<string, string>> = {
  calls: "toUInt64(count())",
  input_tokens: "sum(c.input_tokens)",
  output_tokens: "sum(c.output_tokens)",
  cache_read_tokens: "sum(c.cache_read_tokens)",
  cache_write_tokens: "sum(c.cache_write_tokens)",
  reasoning_tokens: "sum(c.reasoning_tokens)",
  cost_usd: "sumIf(ifNull(c.cost_usd, toDecimal64(0, 9)), c.cache_hit = 0)",
  list_cost_usd: "sumIf(ifNull(c.list_cost_usd, ifNull(c.cost_usd, toDecimal64(0, 9))), c.cache_hit = 0)",
  unpriced_calls: "toUInt64(countIf(c.priced = 0))",
  cache_hit_calls: "toUInt64(countIf(c.cache_hit = 1))",
  cache_hit_cost_usd: "sumIf(ifNull(c.cost_usd, toDecimal64(0, 9)), c.cache_hit = 1)",
  estimated_calls: "toUInt64(countIf(c.tokens_estimated = 1))",
  duration_ms_sum: "sum(c.duration_ms)",
};

const STATE_AGGREGATES: Readonly<Record<string, string>> = {
  duration_ms_quantiles: "quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.duration_ms)",
  users: "uniqState(c.user_id)",
};

/**
 * SELECT producing rollup rows from llm_calls (`source`, aliased `c`: the aggregates name their
 * output like their input column, so inputs are always qualified), optionally filtered.
 */
export function rollupSelect(source: string, where?: string): string {
  const aggs = [...Object.entries(RAW_AGGREGATES), ...Object.entries(STATE_AGGREGATES)]
    .map(([name, expr]) => `${expr} AS ${name}`)
    .join(",\n  ");
  return `SELECT
  toStartOfHour(c.timestamp) AS hour, c.team AS team, c.project AS project, c.provider AS provider,
  ${RAW_MODEL_KEY_SQL} AS model, c.status AS status,
  ${aggs}
FROM ${source} AS c${where ? `\nWHERE ${where}` : ""}
GROUP BY hour, team, project, provider, model, status`;
}

/** The same measures read back from the rollup (sum() for SimpleAggregateFunction columns). */
export const ROLLUP_AGGREGATES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.keys(RAW_AGGREGATES).map((name) => [name, `sum(${name})`]),
);

/** Group-by keys the rollup holds. */
export const ROLLUP_KEYS = ["team", "project", "provider", "model", "status"] as const;

/**
 * `llm_calls_daily`: the same spend measures per UTC day, team, project, provider and model,
 * about 20 times fewer rows than the hourly rollup, for ranges of whole days (spend over 30
 * days reads ~30 rows per key instead of ~720). Fed by its own view on llm_calls.
 */
export const DAILY_TABLE = "llm_calls_daily";
export const DAILY_VIEW = "llm_calls_daily_mv";

/** Measures of the daily rollup (a subset of the hourly one's plain sums). */
export const DAILY_MEASURES = [
  "calls",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "cost_usd",
  "list_cost_usd",
  "unpriced_calls",
  "cache_hit_calls",
  "cache_hit_cost_usd",
] as const;

export const DAILY_COLUMNS = `  day Date CODEC(Delta, ZSTD(1)),
  team LowCardinality(String),
  project LowCardinality(String),
  provider LowCardinality(String),
  model LowCardinality(String),
${DAILY_MEASURES.map(
  (m) =>
    `  ${m} SimpleAggregateFunction(sum, ${m.endsWith("_usd") ? "Decimal(38, 9)" : m === "unpriced_calls" ? "Int64" : "UInt64"})`,
).join(",\n")}`;

/** SELECT producing daily rows from llm_calls (`source`, aliased `c`), optionally filtered. */
export function dailySelect(source: string, where?: string): string {
  const aggs = DAILY_MEASURES.map((m) => `${RAW_AGGREGATES[m] ?? "0"} AS ${m}`).join(",\n  ");
  return `SELECT
  toDate(c.timestamp) AS day, c.team AS team, c.project AS project, c.provider AS provider,
  ${RAW_MODEL_KEY_SQL} AS model,
  ${aggs}
FROM ${source} AS c${where ? `\nWHERE ${where}` : ""}
GROUP BY day, team, project, provider, model`;
}
