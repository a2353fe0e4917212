import type { BudgetStatus, BudgetStatusSource } from "../alerts/sources.js";
import type { Logger } from "../logger.js";
import type { BudgetEnforcer } from "./budget-enforcer.js";
import type { ClickHouseBudgetSpend, WindowSpend } from "./budget-spend.js";
import type { CounterValues } from "./budget-store.js";
import { type BudgetWindow, describeScope, scopeLabels } from "./budget-window.js";
import type { BudgetDefinition } from "./config.js";
import { dailySpendRate } from "./forecast.js";
import { nanoToNumber } from "./money.js";
import { calendarWindow } from "./time-zone.js";

/**
 * Budget status for GET /api/v1/budgets and the alert engine (BudgetStatusSource): spent,
 * reserved, remaining and a forecast for the window's end, per budget.
 *
 * Spent is the larger of what ClickHouse holds for the window and the live counters (which
 * include proxy calls settled but not stored yet). The forecast (calendar windows) is the
 * spend so far plus the weighted 7-day run rate over the time left; rolling windows have none.
 */

export interface BudgetView {
  name: string;
  scope: string;
  labels: Record<string, string>;
  enforcement: "hard" | "soft";
  window: string;
  period: string;
  timezone: string;
  window_start: string;
  window_end: string;
  limit_usd: number;
  spent_usd: number;
  reserved_usd: number;
  /** limit - spent - reserved; negative when overspent. */
  remaining_usd: number;
  used_ratio: number;
  thresholds: number[];
  thresholds_crossed: number[];
  status: "ok" | "warning" | "exceeded";
  forecast_usd: number | null;
  forecast_method: "weighted_run_rate_7d" | null;
  /** Where `spent` came from: "clickhouse+counters", or "counters" when ClickHouse failed. */
  spent_source: string;
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

export class BudgetStatusService implements BudgetStatusSource {
  readonly #enforcer: BudgetEnforcer;
  readonly #spend: ClickHouseBudgetSpend;
  readonly #logger: Logger | undefined;

  constructor(deps: { enforcer: BudgetEnforcer; spend: ClickHouseBudgetSpend; logger?: Logger | undefined }) {
    this.#enforcer = deps.enforcer;
    this.#spend = deps.spend;
    this.#logger = deps.logger;
  }

  async list(now = this.#enforcer.now()): Promise<BudgetView[]> {
    return (await this.#list(now)).map((v) => v.view);
  }

  async #list(now: number): Promise<Array<{ view: BudgetView; used: number; forecastRatio: number | null }>> {
    const defs = this.#enforcer.definitions;
    const windows = defs.map((d) => this.#enforcer.window(d, now));
    const [spent, counters] = await Promise.all([
      this.#spend
        .status(
          defs.map((def, i) => ({ def, window: windows[i] as BudgetWindow })),
          now,
        )
        .catch((err: unknown) => {
          this.#logger?.warn({ err }, "budget spend query failed");
          return null;
        }),
      this.#enforcer.store.read(
        windows.map((w) => w.ref),
        now,
      ),
    ]);
    return defs.map((def, i) =>
      this.#view(def, windows[i] as BudgetWindow, now, spent?.get(def.name) ?? null, counters[i]),
    );
  }

  #view(
    def: BudgetDefinition,
    w: BudgetWindow,
    now: number,
    clickhouse: WindowSpend | null,
    counters: CounterValues | undefined,
  ): { view: BudgetView; used: number; forecastRatio: number | null } {
    const counterSpent = counters?.spentNano ?? 0n;
    const chSpent = clickhouse?.spentNano ?? null;
    const spentNano = chSpent === null || chSpent < counterSpent ? counterSpent : chSpent;
    const spent = nanoToNumber(spentNano);
    const reserved = nanoToNumber(counters?.reservedNano ?? 0n);
    const used = spent / def.limitUsd;
    const crossed = def.thresholds.filter((t) => used >= t).sort((a, b) => a - b);
    const trailing = clickhouse?.trailing ?? null;
    let forecastRaw: number | null = null;
    if (w.kind === "calendar" && trailing !== null) {
      const day = calendarWindow(now, "day", w.timezone);
      const rate = dailySpendRate(trailing, clickhouse?.today ?? 0, (now - day.start) / (day.end - day.start));
      forecastRaw = spent + (rate * Math.max(0, w.end - now)) / 86_400_000;
    }
    const forecast = forecastRaw === null ? null : round6(forecastRaw);
    const view: BudgetView = {
      name: def.name,
      scope: describeScope(def.scope),
      labels: scopeLabels(def.scope),
      enforcement: def.enforcement,
      window: typeof def.window === "string" ? def.window : "rolling",
      period: w.period,
      timezone: w.timezone,
      window_start: new Date(w.start).toISOString(),
      window_end: new Date(w.end).toISOString(),
      limit_usd: def.limitUsd,
      spent_usd: round6(spent),
      reserved_usd: round6(reserved),
      remaining_usd: round6(def.limitUsd - spent - reserved),
      used_ratio: Math.round(used * 1e6) / 1e6,
      thresholds: [...def.thresholds].sort((a, b) => a - b),
      thresholds_crossed: crossed,
      status: used >= 1 ? "exceeded" : crossed.length > 0 ? "warning" : "ok",
      forecast_usd: forecast,
      forecast_method: forecast === null ? null : "weighted_run_rate_7d",
      spent_source: clickhouse === null ? "counters" : "clickhouse+counters",
    };
    return { view, used, forecastRatio: forecastRaw === null ? null : forecastRaw / def.limitUsd };
  }

  async budgetStatus(now: number): Promise<BudgetStatus[]> {
    return (await this.#list(now)).map(({ view: v, used, forecastRatio }) => ({
      budget: v.name,
      labels: v.labels,
      period: v.period,
      limit_usd: v.limit_usd,
      spent_usd: v.spent_usd,
      forecast_usd: v.forecast_usd,
      used_ratio: used,
      forecast_ratio: forecastRatio,
    }));
  }
}
