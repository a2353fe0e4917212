/**
 * What budget and cost-anomaly rules read. The FinOps side owns the numbers (budget periods,
 * spend counters, forecasts, anomaly models); the alert engine only compares them with rule
 * thresholds, so it depends on these two interfaces and nothing else. Without a source, rules
 * of that kind have no data (and follow their `no_data` setting).
 */

export interface BudgetStatus {
  /** The budget's configured name; becomes the `budget` label. */
  budget: string;
  /** What the budget covers, e.g. `{ team: "search" }`; become alert labels. */
  labels: Readonly<Record<string, string>>;
  /** e.g. "month", "day". */
  period: string;
  limit_usd: number;
  /** Spend so far in the current period. */
  spent_usd: number;
  /** Expected spend by the end of the period; null when there is no forecast yet. */
  forecast_usd: number | null;
  /**
   * spent / limit from the unrounded spend, when the source has it: the ratio the budget's own
   * status compares, so a rule at 100% fires exactly when the budget says exceeded. Without it
   * the rule divides the rounded spent_usd.
   */
  used_ratio?: number;
  /** forecast / limit likewise. */
  forecast_ratio?: number | null;
}

export interface BudgetStatusSource {
  /** Status of every budget at `now` (Unix ms). */
  budgetStatus(now: number): Promise<BudgetStatus[]>;
}

export interface CostAnomaly {
  /** What deviates, e.g. `{ team: "search", model: "gpt-4o" }`; become alert labels. */
  labels: Readonly<Record<string, string>>;
  /** How unusual: deviations from the expected cost (a z-like score). */
  score: number;
  expected_usd: number;
  actual_usd: number;
  /** The window the anomaly covers, Unix ms. */
  window_start: number;
  window_end: number;
}

export interface CostAnomalySource {
  /** Current anomalies at `now` (Unix ms); a series absent from the answer is normal. */
  costAnomalies(now: number): Promise<CostAnomaly[]>;
}
