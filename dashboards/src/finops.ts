import {
  ConstantVariableBuilder,
  type Dashboard,
  TextBoxVariableBuilder,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { baseDashboard, finalizeDashboard } from "./dashboard-base.js";
import { row, statPanel, tablePanel, timeSeriesPanel, warnFrom } from "./panels.js";
import { CALL_WHERE, CALLS, COST_PER_1K_CALLS, labelled, SPEND, UNPRICED_CALLS } from "./sql-fragments.js";
import { callFilters, filterVariables } from "./variables.js";

/**
 * FinOps: who spends what on which models, how the month is tracking against its budget, what
 * caching saves, and how much traffic has no price at all.
 *
 * Reads llm_calls directly. The hourly rollup (llm_calls_hourly) and the budgets API will make
 * the spend panels cheaper and the burn-down exact; until then the burn-down compares
 * month-to-date spend with the `monthly_budget` variable.
 */

const DEFAULT_MONTHLY_BUDGET = "5000";

/** Net prompt-cache savings of a call in USD: reads saved minus the premium paid to write the cache. */
const CACHE_SAVINGS = "(cache_read_tokens * rates[price_id].1 - cache_write_tokens * rates[price_id].2) / 1000000";

const WITH_RATES = `WITH \${prompt_cache_rates} AS rates`;

/** Month of the range's end: the month a budget is counted in. */
const MONTH_START = "toStartOfMonth($__toTime)";
const MONTH_WHERE = `timestamp >= ${MONTH_START} AND timestamp <= $__toTime AND ${callFilters()}`;

/** Spend per day of the month: actual to date, then a straight-line forecast at the month's daily rate. */
const BURN_DOWN = `WITH
  toDate($__toTime) AS today,
  toFloat64OrZero(\${monthly_budget:sqlstring}) AS budget,
  (SELECT ${SPEND} FROM ${CALLS} WHERE ${MONTH_WHERE}) AS month_to_date,
  month_to_date / greatest((toUnixTimestamp($__toTime) - toUnixTimestamp(${MONTH_START})) / 86400, 1) AS daily_rate
SELECT
  toDateTime(day) AS time,
  if(day <= today, cumulative, NULL) AS spend_to_date,
  if(day >= today, month_to_date + daily_rate * dateDiff('day', today, day), NULL) AS forecast,
  budget,
  budget - if(day <= today, cumulative, month_to_date + daily_rate * dateDiff('day', today, day)) AS budget_left
FROM (
  SELECT day, sum(spend) OVER (ORDER BY day) AS cumulative
  FROM (SELECT ${MONTH_START} + number AS day FROM numbers(toDayOfMonth(toLastDayOfMonth($__toTime)))) AS days
  LEFT JOIN (
    SELECT toDate(timestamp) AS day, ${SPEND} AS spend FROM ${CALLS} WHERE ${MONTH_WHERE} GROUP BY day
  ) AS daily USING day
)
ORDER BY time`;

const FORECAST = `WITH
  (SELECT ${SPEND} FROM ${CALLS} WHERE ${MONTH_WHERE}) AS month_to_date,
  (toUnixTimestamp($__toTime) - toUnixTimestamp(${MONTH_START})) / 86400 AS days_elapsed
SELECT month_to_date / greatest(days_elapsed, 1) * toDayOfMonth(toLastDayOfMonth($__toTime)) AS forecast_usd`;

export function finopsDashboard(options: { promptCacheRatesSql: string }): Dashboard {
  const builder = baseDashboard({
    uid: "tokenmeter-finops",
    title: "tokenmeter / FinOps",
    description:
      "Spend by team, project, model and day; budget burn-down and month-end forecast; prompt-cache savings; unpriced traffic.",
    tags: ["finops"],
    from: "now-7d",
  })
    .variables(filterVariables())
    .withVariable(
      new TextBoxVariableBuilder("monthly_budget")
        .label("Monthly budget (USD)")
        .description("Budget the burn-down and the budget-left figure are measured against.")
        .defaultValue(DEFAULT_MONTHLY_BUDGET)
        .current({ selected: true, text: DEFAULT_MONTHLY_BUDGET, value: DEFAULT_MONTHLY_BUDGET }),
    )
    .withVariable(
      new ConstantVariableBuilder("prompt_cache_rates")
        .description("price_id -> (input - cache_read, cache_write - input) USD per 1M tokens, from the price catalog.")
        .value(options.promptCacheRatesSql),
    );

  builder
    .withRow(row("This range"))
    .withPanel(
      statPanel({
        title: "Spend",
        description: "What did priced calls cost in the time range?",
        target: `SELECT ${SPEND} AS spend_usd FROM ${CALLS} WHERE ${CALL_WHERE}`,
        unit: "currencyUSD",
        decimals: 2,
      }),
    )
    .withPanel(
      statPanel({
        title: "Unpriced calls",
        description:
          "How many calls have no price (model missing from the catalog)? Their cost is unknown, not zero: add the model to collector/prices/catalog.json.",
        target: `SELECT ${UNPRICED_CALLS} AS unpriced_calls FROM ${CALLS} WHERE ${CALL_WHERE}`,
        thresholds: warnFrom(1),
      }),
    )
    .withPanel(
      statPanel({
        title: "Cost per 1k calls",
        description: "What does a thousand priced calls cost on average?",
        target: `SELECT ${COST_PER_1K_CALLS} AS cost_per_1k_calls FROM ${CALLS} WHERE ${CALL_WHERE}`,
        unit: "currencyUSD",
        decimals: 2,
      }),
    )
    .withPanel(
      statPanel({
        title: "Prompt-cache savings",
        description:
          "How much did provider prompt caching save? Cache reads at the uncached input price minus what they cost, less the premium paid for cache writes, at catalog list prices.",
        target: `${WITH_RATES} SELECT sum(${CACHE_SAVINGS}) AS savings_usd FROM ${CALLS} WHERE ${CALL_WHERE}`,
        unit: "currencyUSD",
        decimals: 2,
      }),
    )
    .withPanel(
      statPanel({
        title: "Month-end forecast",
        description:
          "Where will this month's spend land if the month-to-date daily rate holds? (month of the range's end)",
        target: FORECAST,
        unit: "currencyUSD",
        decimals: 0,
      }),
    )
    .withPanel(
      statPanel({
        title: "Budget left this month",
        description: "How much of the monthly budget is left after month-to-date spend?",
        target: `SELECT toFloat64OrZero(\${monthly_budget:sqlstring}) - ${SPEND} AS budget_left_usd FROM ${CALLS} WHERE ${MONTH_WHERE}`,
        unit: "currencyUSD",
        decimals: 0,
        thresholds: [
          { value: null, color: "red" },
          { value: 0, color: "orange" },
          { value: 1, color: "green" },
        ],
      }),
    )
    .withRow(row("Spend breakdown"))
    .withPanel(
      timeSeriesPanel({
        title: "Daily spend by team",
        description: "Which teams spend how much per day?",
        target: `SELECT toStartOfDay(timestamp) AS time, ${labelled("team")}, ${SPEND} AS spend_usd FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time, team ORDER BY time`,
        unit: "currencyUSD",
        stacked: true,
        bars: true,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Daily spend by model",
        description: "Which models does the daily spend go to?",
        target: `SELECT toStartOfDay(timestamp) AS time, request_model AS model, ${SPEND} AS spend_usd FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time, model ORDER BY time`,
        unit: "currencyUSD",
        stacked: true,
        bars: true,
      }),
    )
    .withPanel(
      tablePanel({
        title: "Spend by team and project",
        description:
          "Chargeback: what each team and project spent, its share of the total, unpriced calls and cost per 1k calls.",
        target: `SELECT ${labelled("team")}, ${labelled("project")}, count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, ${SPEND} AS spend_usd, spend_usd / sum(spend_usd) OVER () AS share, ${UNPRICED_CALLS} AS unpriced_calls, ${COST_PER_1K_CALLS} AS cost_per_1k_calls FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY team, project ORDER BY spend_usd DESC`,
        w: 12,
        columns: [
          { column: "spend_usd", unit: "currencyUSD", decimals: 2 },
          { column: "share", unit: "percentunit", decimals: 1 },
          { column: "cost_per_1k_calls", unit: "currencyUSD", decimals: 2 },
        ],
      }),
    )
    .withPanel(
      tablePanel({
        title: "Spend by model",
        description: "Which models cost what, per call and per 1k calls?",
        target: `SELECT provider, request_model AS model, count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, ${SPEND} AS spend_usd, ${COST_PER_1K_CALLS} AS cost_per_1k_calls, ${UNPRICED_CALLS} AS unpriced_calls FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY provider, model ORDER BY spend_usd DESC`,
        w: 12,
        columns: [
          { column: "spend_usd", unit: "currencyUSD", decimals: 2 },
          { column: "cost_per_1k_calls", unit: "currencyUSD", decimals: 2 },
        ],
      }),
    )
    .withPanel(
      tablePanel({
        title: "Spend by day",
        description: "Daily totals, for export (panel menu > Inspect > Data > Download CSV).",
        target: `SELECT toDate(timestamp) AS day, count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, ${SPEND} AS spend_usd, ${UNPRICED_CALLS} AS unpriced_calls FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY day ORDER BY day DESC`,
        w: 12,
        columns: [{ column: "spend_usd", unit: "currencyUSD", decimals: 2 }],
      }),
    )
    .withPanel(
      tablePanel({
        title: "Top users by spend",
        description: "Which end users (user_id attribution) cost the most?",
        target: `SELECT ${labelled("team")}, ${labelled("user_id")}, count() AS calls, ${SPEND} AS spend_usd, ${UNPRICED_CALLS} AS unpriced_calls FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY team, user_id ORDER BY spend_usd DESC LIMIT 25`,
        w: 12,
        columns: [{ column: "spend_usd", unit: "currencyUSD", decimals: 2 }],
      }),
    )
    .withRow(row("Budget and forecast"))
    .withPanel(
      timeSeriesPanel({
        title: "Budget burn-down and forecast (month of the range's end)",
        description:
          "Is this month on track? Cumulative spend to date, a straight-line forecast to month end at the month-to-date daily rate, the monthly budget, and what is left of it.",
        target: BURN_DOWN,
        unit: "currencyUSD",
        w: 16,
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Cost per 1k calls by model",
        description: "Is a model getting more expensive per call (longer prompts, more output)?",
        target: `SELECT $__timeInterval(timestamp) AS time, request_model AS model, ${COST_PER_1K_CALLS} AS cost_per_1k_calls FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY time, model ORDER BY time`,
        unit: "currencyUSD",
        w: 8,
      }),
    )
    .withRow(row("Caching and unpriced traffic"))
    .withPanel(
      timeSeriesPanel({
        title: "Prompt-cache savings by model",
        description: "Where does prompt caching pay off, and is it holding up?",
        target: `${WITH_RATES} SELECT $__timeInterval(timestamp) AS time, request_model AS model, sum(${CACHE_SAVINGS}) AS savings_usd FROM ${CALLS} WHERE ${CALL_WHERE} AND (cache_read_tokens > 0 OR cache_write_tokens > 0) GROUP BY time, model ORDER BY time`,
        unit: "currencyUSD",
        stacked: true,
        bars: true,
        w: 8,
      }),
    )
    .withPanel(
      tablePanel({
        title: "Caching by model",
        description:
          "How much input is served from the provider's prompt cache, what it saved, and how many calls the proxy answered from its own response cache.",
        target: `${WITH_RATES} SELECT provider, request_model AS model, sum(input_tokens) AS input_total, sum(cache_read_tokens) AS cache_read_total, if(input_total = 0, NULL, cache_read_total / input_total) AS cached_share, sum(cache_write_tokens) AS cache_write_total, sum(${CACHE_SAVINGS}) AS savings_usd, countIf(cache_hit = 1) AS proxy_cache_hits FROM ${CALLS} WHERE ${CALL_WHERE} GROUP BY provider, model ORDER BY savings_usd DESC`,
        w: 16,
        columns: [
          { column: "cached_share", unit: "percentunit", decimals: 1 },
          { column: "savings_usd", unit: "currencyUSD", decimals: 2 },
        ],
      }),
    )
    .withPanel(
      tablePanel({
        title: "Unpriced models",
        description:
          "Which models have no catalog price, how much traffic they carry, and what the sender reported as cost (if anything)?",
        target: `SELECT provider, request_model AS model, count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, toFloat64(sum(reported_cost_usd)) AS reported_cost_usd, min(timestamp) AS first_seen, max(timestamp) AS last_seen FROM ${CALLS} WHERE ${CALL_WHERE} AND priced = 0 GROUP BY provider, model ORDER BY calls DESC`,
        w: 12,
        columns: [{ column: "reported_cost_usd", unit: "currencyUSD", decimals: 2 }],
      }),
    )
    .withPanel(
      timeSeriesPanel({
        title: "Unpriced calls by model",
        description: "Is unpriced traffic growing (a new model in use that the catalog lacks)?",
        target: `SELECT $__timeInterval(timestamp) AS time, request_model AS model, count() AS unpriced_calls FROM ${CALLS} WHERE ${CALL_WHERE} AND priced = 0 GROUP BY time, model ORDER BY time`,
        stacked: true,
        bars: true,
        w: 12,
      }),
    );

  return finalizeDashboard(builder);
}
