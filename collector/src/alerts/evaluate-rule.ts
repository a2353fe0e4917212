import type { ClickHouseClient } from "@clickhouse/client";
import { computeDrift, type DriftQuery, type DriftResult, type DriftStatistic } from "./drift.js";
import type { DriftFilters } from "./drift-sql.js";
import { type Rule, ruleOp } from "./rules.js";
import type { BudgetStatus, BudgetStatusSource, CostAnomaly, CostAnomalySource } from "./sources.js";
import { thresholdSql, unpricedSql } from "./threshold-sql.js";

/**
 * Turns one rule into samples: one per group the rule watches, each a value to compare with
 * the threshold. A group absent from the samples has no data this time.
 */

export interface Sample {
  /** Group labels (empty values dropped); with the rule name they identify the series. */
  labels: Record<string, string>;
  /** null: the group exists but has no value (treated as no data). */
  value: number | null;
  /** What `value` measures: the metric, drift statistic, `budget_used`, ... */
  statistic: string;
  p_value?: number | undefined;
  /** Extra facts for annotations and notification details. */
  details: Record<string, number | string | undefined>;
}

export interface EvaluationContext {
  client: ClickHouseClient;
  database: string;
  /** Evaluation time, Unix ms. */
  now: number;
  drift: { minSamples: number; epsilon: number };
  budgets?: BudgetStatusSource | undefined;
  anomalies?: CostAnomalySource | undefined;
  /** Drift results shared by the rules of one evaluation that ask the same question. */
  driftMemo: Map<string, Promise<DriftResult[]>>;
  /** Statistics wanted per drift question, so one query serves PSI, KS and Welch rules alike. */
  driftStatistics?: Map<string, DriftStatistic[]>;
  /**
   * Budget statuses and cost anomalies at `now`, fetched by the first rule that needs them: every
   * budget and threshold has a rule of its own, and all of them read the same answer.
   */
  budgetMemo?: Promise<BudgetStatus[]>;
  anomalyMemo?: Promise<CostAnomaly[]>;
}

/** Thrown when a rule needs a source the engine was not given (budget, cost anomaly). */
export class MissingSourceError extends Error {}

/** Default significance for KS and Welch when a rule sets no max_p_value. */
export const DEFAULT_MAX_P_VALUE = 0.01;

function compact(labels: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (v !== undefined && v !== null && v !== "") out[k] = String(v);
  }
  return out;
}

function num(v: unknown): number | null {
  if (v === null || v === undefined || v === "") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

async function query(ctx: EvaluationContext, sql: string, params: Record<string, unknown>) {
  const rs = await ctx.client.query({ query: sql, query_params: params, format: "JSONEachRow" });
  return rs.json<Record<string, unknown>>();
}

/** A drift rule's question without the statistic, and its identity for sharing. */
function driftQuestion(rule: Rule, ctx: Pick<EvaluationContext, "now" | "drift">): DriftQuery | undefined {
  if (rule.kind !== "drift" && rule.kind !== "model_change") return undefined;
  return {
    signal: rule.kind === "drift" ? rule.signal : "model_version",
    now: ctx.now,
    referenceMs: rule.reference_window,
    currentMs: rule.current_window,
    minSamples: rule.min_samples ?? ctx.drift.minSamples,
    epsilon: rule.kind === "drift" ? ctx.drift.epsilon : undefined,
    filters: driftFilters(rule.filters),
  };
}

/** Groups the drift rules of one evaluation by question, collecting the statistics each needs. */
export function planDrift(rules: readonly Rule[], ctx: Pick<EvaluationContext, "now" | "drift">) {
  const plan = new Map<string, DriftStatistic[]>();
  for (const rule of rules) {
    const q = driftQuestion(rule, ctx);
    if (!q) continue;
    const key = JSON.stringify(q);
    const stat: DriftStatistic = rule.kind === "drift" ? rule.statistic : "model_change";
    const list = plan.get(key) ?? [];
    if (!list.includes(stat)) list.push(stat);
    plan.set(key, list);
  }
  return plan;
}

function drift(ctx: EvaluationContext, rule: Rule, statistic: DriftStatistic): Promise<DriftResult[]> {
  const q = driftQuestion(rule, ctx);
  if (!q) return Promise.resolve([]);
  const key = JSON.stringify(q);
  let pending = ctx.driftMemo.get(key);
  if (!pending) {
    pending = computeDrift(ctx.client, ctx.database, {
      ...q,
      statistics: ctx.driftStatistics?.get(key) ?? [statistic],
    });
    ctx.driftMemo.set(key, pending);
  }
  return pending;
}

function driftFilters(f: DriftFilters): DriftFilters {
  // Only the keys the SQL knows, in a fixed order: the object is also a memo key.
  return { team: f.team, model: f.model, prompt_name: f.prompt_name, prompt_version: f.prompt_version };
}

function groupLabels(r: DriftResult): Record<string, string> {
  return compact({ ...r.group, signal: r.signal });
}

export async function evaluateRule(rule: Rule, ctx: EvaluationContext): Promise<Sample[]> {
  switch (rule.kind) {
    case "threshold": {
      const params: Record<string, unknown> = {};
      const sql = thresholdSql(
        {
          database: ctx.database,
          now: ctx.now,
          windowMs: rule.window,
          filters: rule.filters,
          groupBy: rule.group_by,
          metric: rule.metric,
          minCalls: rule.min_calls,
        },
        params,
      );
      return (await query(ctx, sql, params)).map((row) => ({
        labels: compact(Object.fromEntries(rule.group_by.map((g) => [g, row[g]]))),
        value: num(row["value"]),
        statistic: rule.metric,
        details: { calls: num(row["calls"]) ?? 0 },
      }));
    }
    case "unpriced_spend": {
      const params: Record<string, unknown> = {};
      const sql = unpricedSql(
        { database: ctx.database, now: ctx.now, windowMs: rule.window, filters: rule.filters, groupBy: rule.group_by },
        params,
      );
      return (await query(ctx, sql, params)).map((row) => ({
        labels: compact(Object.fromEntries(rule.group_by.map((g) => [g, row[g]]))),
        value: num(row["value"]),
        statistic: "unpriced_calls",
        details: { calls: num(row["calls"]) ?? 0 },
      }));
    }
    case "drift": {
      const results = await drift(ctx, rule, rule.statistic);
      return results
        .filter((r) => r.statistic === rule.statistic)
        .map((r) => {
          let value = r.value;
          if (r.statistic === "welch") {
            if (rule.direction === "increase") value = r.value;
            else if (rule.direction === "decrease") value = -r.value;
            else value = Math.abs(r.value);
          }
          return {
            labels: groupLabels(r),
            value,
            statistic: r.statistic,
            p_value: r.p_value,
            details: {
              ref_n: r.ref_n,
              cur_n: r.cur_n,
              ref_mean: r.ref_mean,
              cur_mean: r.cur_mean,
              p_value: r.p_value,
              t_statistic: r.t_statistic,
            },
          };
        });
    }
    case "model_change": {
      const results = await drift(ctx, rule, "model_change");
      return results.map((r) => ({
        labels: compact({ team: r.group.team, model: r.group.model }),
        value: r.value,
        statistic: "model_change",
        details: { ref_n: r.ref_n, cur_n: r.cur_n, new_models: (r.new_models ?? []).join(", ") },
      }));
    }
    case "budget": {
      if (!ctx.budgets) throw new MissingSourceError("budget rules need a budget status source");
      ctx.budgetMemo ??= ctx.budgets.budgetStatus(ctx.now);
      const statuses = await ctx.budgetMemo;
      return statuses
        .filter((s) => !rule.budget || rule.budget.includes(s.budget))
        .map((s) => {
          const used = rule.measure === "spent" ? s.spent_usd : s.forecast_usd;
          const exact = rule.measure === "spent" ? s.used_ratio : s.forecast_ratio;
          return {
            labels: compact({ ...s.labels, budget: s.budget }),
            value: exact !== undefined ? exact : used === null || !(s.limit_usd > 0) ? null : used / s.limit_usd,
            statistic: rule.measure === "spent" ? "budget_used" : "budget_forecast",
            details: {
              spent_usd: s.spent_usd,
              limit_usd: s.limit_usd,
              forecast_usd: s.forecast_usd ?? undefined,
              period: s.period,
            },
          };
        });
    }
    case "cost_anomaly": {
      if (!ctx.anomalies) throw new MissingSourceError("cost_anomaly rules need a cost anomaly source");
      ctx.anomalyMemo ??= ctx.anomalies.costAnomalies(ctx.now);
      const anomalies = await ctx.anomalyMemo;
      return anomalies
        .filter((a) => Object.entries(rule.filters).every(([k, values]) => values.includes(a.labels[k] ?? "")))
        .map((a) => ({
          labels: compact({ ...a.labels }),
          value: a.score,
          statistic: "anomaly_score",
          details: { expected_usd: a.expected_usd, actual_usd: a.actual_usd },
        }));
    }
  }
}

function compare(op: string, value: number, threshold: number): boolean {
  switch (op) {
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
    case "<":
      return value < threshold;
    default:
      return value <= threshold;
  }
}

/**
 * Whether a sample breaches. An active (pending or firing) series compares with the resolve
 * threshold, so it does not flap around the firing threshold. KS and Welch also require the
 * shift to be significant.
 */
export function isBreach(
  rule: Rule,
  sample: Pick<Sample, "value" | "p_value" | "statistic">,
  threshold: number,
  resolveAt: number,
  active: boolean,
): boolean {
  if (sample.value === null) return false;
  const op = ruleOp(rule);
  // A resolve threshold equal to the firing one: staying active needs the same strict crossing.
  if (!compare(op, sample.value, active ? resolveAt : threshold)) return false;
  if (rule.kind === "drift" && (sample.statistic === "ks" || sample.statistic === "welch")) {
    const maxP = rule.max_p_value ?? DEFAULT_MAX_P_VALUE;
    if (sample.p_value === undefined || sample.p_value > maxP) return false;
  }
  return true;
}
