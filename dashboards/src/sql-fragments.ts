import { table } from "./datasources.js";
import { callFilters } from "./variables.js";

/**
 * SQL pieces the dashboards repeat, named once so every panel computes spend, error rate and
 * percentiles the same way.
 */

export const CALLS = table("llm_calls");

/** Time range and template variables: the WHERE of every llm_calls panel. */
export const CALL_WHERE = `$__timeFilter(timestamp) AND ${callFilters()}`;

/**
 * Spend of priced calls in USD. Unpriced calls have a NULL cost and are counted apart (never as
 * $0), so every panel that shows spend has an unpriced count beside it. A proxy cache hit costs
 * nothing: its stored cost is what the cache saved, left out here as in the spend API, budgets,
 * reprice and the FOCUS export.
 */
export const SPEND = "toFloat64(sumIf(ifNull(cost_usd, 0), cache_hit = 0))";

export const UNPRICED_CALLS = "countIf(priced = 0)";

/**
 * The calls latency panels measure: a cancelled call's duration is when its client gave up, not
 * how long the model took, so every latency panel leaves them out (errors stay: a slow failure
 * is latency users wait through).
 */
export const TIMED_CALLS = "status != 'cancelled'";

/** Share of calls that ended in error; NULL (no value) rather than 0/0 when there are no calls. */
export const ERROR_RATE = "if(count() = 0, NULL, countIf(status = 'error') / count())";

/** Spend per 1,000 priced calls. */
export const COST_PER_1K_CALLS = `if(countIf(priced = 1) = 0, NULL, 1000 * ${SPEND} / countIf(priced = 1))`;

/** Empty attribution shown as "(none)" in legends and tables. */
export function labelled(column: string, alias = column): string {
  return `if(${column} = '', '(none)', ${column}) AS ${alias}`;
}
