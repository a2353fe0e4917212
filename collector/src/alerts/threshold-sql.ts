import type { GroupColumn, ThresholdMetric } from "./rules.js";

/**
 * SQL for threshold and unpriced-spend rules: one aggregate per group over the last `window`
 * of llm_calls. Values are bound as parameters; only the fixed column and metric expressions
 * below are spliced in.
 */

/** llm_calls column behind each group/filter name. */
export const GROUP_COLUMN_SQL: Readonly<Record<GroupColumn, string>> = {
  team: "team",
  project: "project",
  model: "request_model",
  provider: "provider",
  environment: "environment",
  service: "service",
  feature: "feature",
};

/** `{hours}`/`{minutes}` are the window's length, bound as Float64. */
const METRIC_SQL: Readonly<Record<ThresholdMetric, { value: string; where?: string }>> = {
  latency_p95: { value: "quantile(0.95)(duration_ms)" },
  latency_p99: { value: "quantile(0.99)(duration_ms)" },
  ttft_p95: { value: "quantile(0.95)(assumeNotNull(ttft_ms))", where: "ttft_ms IS NOT NULL" },
  error_rate: { value: "countIf(status = 'error') / count()" },
  // Unpriced calls have a NULL cost and are counted by unpriced_spend rules, never as $0. A proxy
  // cache hit costs nothing (its stored cost is what it saved), as spend and budgets count it.
  cost_rate: { value: "toFloat64(sumIf(cost_usd, priced = 1 AND cache_hit = 0)) / {hours:Float64}" },
  tokens_rate: { value: "sum(input_tokens + output_tokens) / {minutes:Float64}" },
};

export interface WindowQuery {
  database: string;
  /** Window end, Unix ms (exclusive). */
  now: number;
  windowMs: number;
  filters: Partial<Record<GroupColumn, readonly string[] | undefined>>;
  groupBy: readonly GroupColumn[];
}

function common(q: WindowQuery, params: Record<string, unknown>): { where: string; select: string; group: string } {
  params["from"] = q.now - q.windowMs;
  params["to"] = q.now;
  const where = [
    "timestamp >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')",
    "timestamp < fromUnixTimestamp64Milli({to:Int64}, 'UTC')",
  ];
  for (const [name, values] of Object.entries(q.filters) as [GroupColumn, readonly string[] | undefined][]) {
    if (!values || values.length === 0) continue;
    params[`f_${name}`] = [...values];
    where.push(`${GROUP_COLUMN_SQL[name]} IN {f_${name}:Array(String)}`);
  }
  const select = q.groupBy.map((g) => `${GROUP_COLUMN_SQL[g]} AS ${g}`).join(", ");
  return {
    where: where.join(" AND "),
    select: select ? `${select}, ` : "",
    group: q.groupBy.length ? ` GROUP BY ${q.groupBy.join(", ")}` : "",
  };
}

/** Rows: the group columns, `value` and `calls`. Groups below `min_calls` are left out. */
export function thresholdSql(
  q: WindowQuery & { metric: ThresholdMetric; minCalls: number },
  params: Record<string, unknown>,
): string {
  const metric = METRIC_SQL[q.metric];
  const c = common(q, params);
  params["hours"] = q.windowMs / 3_600_000;
  params["minutes"] = q.windowMs / 60_000;
  params["min_calls"] = q.minCalls;
  const where = metric.where ? `${c.where} AND ${metric.where}` : c.where;
  // Without GROUP BY an aggregate over no rows still returns one row: HAVING drops it.
  return `SELECT ${c.select}toFloat64(${metric.value}) AS value, count() AS calls
FROM ${q.database}.llm_calls
WHERE ${where}${c.group}
HAVING calls >= {min_calls:UInt64}`;
}

/**
 * Rows: the group columns, `value` (calls that used tokens but have no price) and `calls`.
 * Without group_by there is one row even when there were no calls.
 */
export function unpricedSql(q: WindowQuery, params: Record<string, unknown>): string {
  const c = common(q, params);
  return `SELECT ${c.select}toFloat64(countIf(priced = 0 AND input_tokens + output_tokens > 0)) AS value, count() AS calls
FROM ${q.database}.llm_calls
WHERE ${c.where}${c.group}`;
}
