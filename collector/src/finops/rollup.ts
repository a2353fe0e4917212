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
 */

export const ROLLUP_TABLE = "llm_calls_hourly";
export const ROLLUP_VIEW = "llm_calls_hourly_mv";

/** The `model` key, from llm_calls columns. */
export const MODEL_KEY_SQL = "if(request_model != '', request_model, response_model)";

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
  unpriced_calls SimpleAggregateFunction(sum, UInt64),
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
  ${MODEL_KEY_SQL.replaceAll("request_model", "c.request_model").replaceAll("response_model", "c.response_model")} AS model, c.status AS status,
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
