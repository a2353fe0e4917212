import type { ClickHouseClient } from "@clickhouse/client";
import { ERR_BAD_REQUEST } from "../errors.js";
import { querySpend } from "./spend.js";
import { calendarWindow, fromLocal, localDate, localDays, localParts } from "./time-zone.js";

/**
 * Month-end spend projections, two ways, with the method that was used stated:
 *
 * - weighted run rate: the trailing 7 complete days, weighted 1..7 toward the most recent,
 *   give a daily rate; projection = spent so far + rate x days left (today's rest included);
 * - linear regression: a least-squares line through this month's complete days, summed over
 *   the days left (never below zero per day).
 *
 * The regression is the projection when the month has at least 7 complete days and the line
 * explains the days well (R^2 >= 0.5): a real trend. Otherwise the run rate is.
 *
 * Both read a series from its first day with spend: the zero days before a team's first call
 * say nothing about its rate (a flat zero line "explains" them perfectly and would project no
 * more spend). Spend that started today has no complete day yet: its rate is today's spend over
 * the part of today gone (at least an hour), method "run_rate_today".
 */

export const DAY_MS = 86_400_000;
const MIN_REGRESSION_DAYS = 7;
const MIN_R2 = 0.5;

export type ForecastMethod = "weighted_run_rate_7d" | "run_rate_today" | "linear_regression" | "actual";

/** Today's rate is taken over at least this fraction of the day, so a first minute's calls do not make a day of them. */
const MIN_TODAY_ELAPSED = 1 / 24;

/** Daily rate from up to 7 days (oldest first), weights 1..n toward the newest. */
export function weightedRunRate(days: readonly number[]): number {
  const recent = days.slice(-7);
  if (recent.length === 0) return 0;
  let num = 0;
  let den = 0;
  recent.forEach((v, i) => {
    num += (i + 1) * v;
    den += i + 1;
  });
  return num / den;
}

/**
 * A daily spend rate from complete days (oldest first) and today so far: the weighted run rate
 * from the first day with spend (zero days before it say nothing about the rate), or, when
 * spend started today, today's spend over the part of the day gone (at least an hour).
 */
export function dailySpendRate(complete: readonly number[], todaySpent: number, todayElapsed: number): number {
  const first = complete.findIndex((v) => v !== 0);
  if (first >= 0) return weightedRunRate(complete.slice(first));
  return todaySpent > 0 ? todaySpent / Math.max(MIN_TODAY_ELAPSED, todayElapsed) : 0;
}

export interface Regression {
  slope: number;
  intercept: number;
  r2: number;
}

/** Least squares y = intercept + slope * x over x = 0..n-1. */
export function linearRegression(ys: readonly number[]): Regression | null {
  const n = ys.length;
  if (n < 2) return null;
  const meanX = (n - 1) / 2;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  ys.forEach((y, x) => {
    sxy += (x - meanX) * (y - meanY);
    sxx += (x - meanX) ** 2;
    syy += (y - meanY) ** 2;
  });
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  // A flat series is explained perfectly by a flat line.
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept, r2 };
}

export interface Projection {
  spent_usd: number;
  projected_usd: number;
  method: ForecastMethod;
  run_rate: { daily_usd: number; projected_usd: number };
  linear_regression: { slope_usd_per_day: number; intercept_usd: number; r2: number; projected_usd: number } | null;
}

export interface ProjectionInput {
  /** Spend from the period start to now. */
  spent: number;
  /** Complete days of the period so far, oldest first (for the regression). */
  periodDays: readonly number[];
  /** The trailing complete days, oldest first (for the run rate; may reach before the period). */
  trailingDays: readonly number[];
  /** Fraction of today still ahead (0..1). */
  todayLeft: number;
  /** Whole days after today until the period ends. */
  fullDaysLeft: number;
  /** Today's spend so far; the rate when there is no complete day of spend yet. */
  todaySpent?: number;
}

export function project(p: ProjectionInput): Projection {
  const daysLeft = p.todayLeft + p.fullDaysLeft;
  const fromToday = p.trailingDays.length === 0 && (p.todaySpent ?? 0) > 0 && p.todayLeft < 1;
  const rate = fromToday
    ? (p.todaySpent ?? 0) / Math.max(MIN_TODAY_ELAPSED, 1 - p.todayLeft)
    : weightedRunRate(p.trailingDays);
  const runRate = { daily_usd: round6(rate), projected_usd: round6(p.spent + rate * daysLeft) };
  const reg = p.periodDays.length >= 3 ? linearRegression(p.periodDays) : null;
  let regression: Projection["linear_regression"] = null;
  if (reg) {
    // Complete days are x = 0..n-1; today is x = n, then whole days.
    const n = p.periodDays.length;
    const at = (x: number) => Math.max(0, reg.intercept + reg.slope * x);
    let rest = at(n) * p.todayLeft;
    for (let j = 1; j <= p.fullDaysLeft; j++) rest += at(n + j);
    regression = {
      slope_usd_per_day: round6(reg.slope),
      intercept_usd: round6(reg.intercept),
      r2: Math.round(reg.r2 * 1e4) / 1e4,
      projected_usd: round6(p.spent + rest),
    };
  }
  const useRegression = regression !== null && p.periodDays.length >= MIN_REGRESSION_DAYS && regression.r2 >= MIN_R2;
  return {
    spent_usd: round6(p.spent),
    projected_usd: useRegression && regression ? regression.projected_usd : runRate.projected_usd,
    method: useRegression ? "linear_regression" : fromToday ? "run_rate_today" : "weighted_run_rate_7d",
    run_rate: runRate,
    linear_regression: regression,
  };
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

export interface MonthForecast {
  month: string;
  timezone: string;
  as_of: string;
  month_start: string;
  month_end: string;
  total: Projection;
  teams: (Projection & { team: string })[];
}

/** "2026-10" -> the month's bounds in the zone. */
export function monthBounds(month: string, tz: string): { start: number; end: number } {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  const year = Number(m?.[1]);
  const mon = Number(m?.[2]);
  if (!m || mon < 1 || mon > 12) throw ERR_BAD_REQUEST(`month: expected YYYY-MM, got "${month}"`);
  return calendarWindow(fromLocal(year, mon, 1, tz) + 3_600_000, "month", tz);
}

export function currentMonth(now: number, tz: string): string {
  const p = localParts(now, tz);
  return `${p.year}-${String(p.month).padStart(2, "0")}`;
}

/**
 * Forecast for a month, per team and in total. A month already over reports its actual spend
 * (method "actual"); a month not yet begun is refused.
 */
export async function forecastMonth(
  client: ClickHouseClient,
  database: string,
  opts: { month?: string | undefined; timezone: string; now: number },
): Promise<MonthForecast> {
  const tz = opts.timezone;
  const month = opts.month ?? currentMonth(opts.now, tz);
  const { start, end } = monthBounds(month, tz);
  if (start > opts.now) throw ERR_BAD_REQUEST(`month ${month} has not begun`);
  const asOf = Math.min(opts.now, end);
  const today = calendarWindow(asOf, "day", tz);
  const trailingFrom = Math.min(start, today.start - 7 * DAY_MS);
  const { rows } = await querySpend(client, database, {
    fromUs: trailingFrom * 1000,
    toUs: asOf * 1000,
    groupBy: ["team", "day"],
    timezone: tz,
    limit: 1_000_000,
  });
  const days = localDays(trailingFrom, today.start, tz).map((d) => localDate(d, tz));
  const monthFirstDay = localDate(start, tz);
  const todayDate = localDate(today.start, tz);
  const byTeam = new Map<string, Map<string, number>>();
  const total = new Map<string, number>();
  for (const r of rows) {
    const team = r.team ?? "";
    const day = r.day ?? "";
    const cost = Number(r.cost_usd);
    let t = byTeam.get(team);
    if (!t) {
      t = new Map();
      byTeam.set(team, t);
    }
    t.set(day, (t.get(day) ?? 0) + cost);
    total.set(day, (total.get(day) ?? 0) + cost);
  }
  const todayLeft = asOf >= end ? 0 : (today.end - asOf) / (today.end - today.start);
  const fullDaysLeft = asOf >= end ? 0 : localDays(today.end, end, tz).length;
  const projectSeries = (series: Map<string, number>): Projection => {
    let spent = 0;
    for (const [day, cost] of series) if (day >= monthFirstDay) spent += cost;
    // Complete days from the series' first one with spend (see the top of this file).
    const first = days.findIndex((d) => (series.get(d) ?? 0) !== 0);
    const since = first < 0 ? [] : days.slice(first);
    const complete = since.map((d) => series.get(d) ?? 0);
    const periodDays = since.filter((d) => d >= monthFirstDay).map((d) => series.get(d) ?? 0);
    const todaySpent = series.get(todayDate) ?? 0;
    if (asOf >= end) {
      const p = project({ spent, periodDays, trailingDays: complete.slice(-7), todayLeft: 0, fullDaysLeft: 0 });
      return { ...p, projected_usd: p.spent_usd, method: "actual" };
    }
    return project({ spent, periodDays, trailingDays: complete.slice(-7), todayLeft, fullDaysLeft, todaySpent });
  };
  return {
    month,
    timezone: tz,
    as_of: new Date(asOf).toISOString(),
    month_start: new Date(start).toISOString(),
    month_end: new Date(end).toISOString(),
    total: projectSeries(total),
    teams: [...byTeam.entries()]
      .map(([team, series]) => ({ team, ...projectSeries(series) }))
      .sort((a, b) => b.projected_usd - a.projected_usd),
  };
}
