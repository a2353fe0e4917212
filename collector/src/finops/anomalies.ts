import type { ClickHouseClient } from "@clickhouse/client";
import type { CostAnomaly, CostAnomalySource } from "../alerts/sources.js";
import { ROLLUP_TABLE } from "./rollup.js";
import { querySpend } from "./spend.js";
import { identifier } from "./sql.js";

/**
 * Cost anomalies: the spend of each (team, model) over the trailing hour, against its own
 * baseline at the same hour of the week. The baseline samples are the same 60-minute window 1..N
 * weeks back, each also shifted by up to ±`neighborHours` so a series has enough samples to
 * measure its spread (4 weeks x 3 shifts = 12 samples). Windows not aligned to the hour are
 * read from the hourly rollup by weighting the two hours they overlap.
 *
 *   score = (actual - mean) / sigma,   sigma = max(stddev, 10% of mean, minUsd / 4)
 *
 * The floors keep a flat or near-zero baseline from turning cents into huge scores: a series
 * with no history that suddenly spends minUsd scores 4. Series below minUsd both now and in
 * their baseline are left out (no data is normal); the others are returned with their score,
 * and the alert rule's threshold (default 3) decides what fires, so a spike that calms down
 * resolves.
 *
 * No history at all (fewer than minSamples baseline windows with any spend, e.g. right after
 * installation) returns nothing rather than flagging everything.
 */

export interface AnomalyOptions {
  baselineWeeks?: number;
  neighborHours?: number;
  /** Series spending less than this (USD per hour) now and in their baseline are ignored. */
  minUsd?: number;
  /** Baseline windows with any spend needed before anything is scored. */
  minSamples?: number;
}

const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;

export function anomalyScore(actual: number, samples: readonly number[], minUsd: number) {
  const n = samples.length;
  const mean = n === 0 ? 0 : samples.reduce((a, b) => a + b, 0) / n;
  const variance = n < 2 ? 0 : samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  const sigma = Math.max(Math.sqrt(variance), 0.1 * mean, minUsd / 4);
  return { mean, sigma, score: (actual - mean) / sigma };
}

export function createCostAnomalySource(deps: {
  client: ClickHouseClient;
  database: string;
  options?: AnomalyOptions;
}): CostAnomalySource {
  const weeks = deps.options?.baselineWeeks ?? 4;
  const neighbors = deps.options?.neighborHours ?? 1;
  const minUsd = deps.options?.minUsd ?? 1;
  const minSamples = deps.options?.minSamples ?? 3;
  const db = identifier(deps.database);

  return {
    async costAnomalies(now: number): Promise<CostAnomaly[]> {
      const windowStart = now - HOUR;
      // Baseline windows [s, s + 1h) and the rollup hours each overlaps.
      const shifts: number[] = [];
      for (let k = 1; k <= weeks; k++) {
        for (let d = -neighbors; d <= neighbors; d++) shifts.push(windowStart - k * WEEK + d * HOUR);
      }
      const hours = new Set<number>();
      for (const s of shifts) {
        const h = Math.floor(s / HOUR) * HOUR;
        hours.add(h);
        hours.add(h + HOUR);
      }
      const [current, history] = await Promise.all([
        querySpend(deps.client, deps.database, {
          fromUs: windowStart * 1000,
          toUs: now * 1000,
          groupBy: ["team", "model"],
          timezone: "UTC",
        }),
        deps.client
          .query({
            query: `SELECT team, model, toUnixTimestamp(hour) * 1000 AS h, toFloat64(sum(cost_usd)) AS cost
FROM ${db}.${ROLLUP_TABLE}
WHERE hour IN (${[...hours].map((h) => `toDateTime(${h / 1000}, 'UTC')`).join(", ")})
GROUP BY team, model, hour
SETTINGS output_format_json_quote_64bit_integers = 0`,
            format: "JSONEachRow",
          })
          .then((rs) => rs.json<{ team: string; model: string; h: number; cost: number }>()),
      ]);

      const byHour = new Map<string, Map<number, number>>();
      const busyHours = new Set<number>();
      for (const r of history) {
        const key = `${r.team}\0${r.model}`;
        let m = byHour.get(key);
        if (!m) {
          m = new Map();
          byHour.set(key, m);
        }
        m.set(Number(r.h), Number(r.cost));
        if (Number(r.cost) > 0) busyHours.add(Number(r.h));
      }
      const windowsWithData = shifts.filter((s) => {
        const h = Math.floor(s / HOUR) * HOUR;
        return busyHours.has(h) || busyHours.has(h + HOUR);
      }).length;
      if (windowsWithData < minSamples) return [];

      const actualBy = new Map<string, number>();
      for (const r of current.rows) actualBy.set(`${r.team ?? ""}\0${r.model ?? ""}`, Number(r.cost_usd));
      const keys = new Set([...actualBy.keys(), ...byHour.keys()]);
      const out: CostAnomaly[] = [];
      for (const key of keys) {
        const series = byHour.get(key);
        const samples = shifts.map((s) => {
          const h = Math.floor(s / HOUR) * HOUR;
          const frac = (s - h) / HOUR;
          return (1 - frac) * (series?.get(h) ?? 0) + frac * (series?.get(h + HOUR) ?? 0);
        });
        const actual = actualBy.get(key) ?? 0;
        const { mean, score } = anomalyScore(actual, samples, minUsd);
        if (actual < minUsd && mean < minUsd) continue;
        const [team = "", model = ""] = key.split("\0");
        out.push({
          labels: { team, model },
          score: Math.round(score * 1000) / 1000,
          expected_usd: Math.round(mean * 1e6) / 1e6,
          actual_usd: Math.round(actual * 1e6) / 1e6,
          window_start: windowStart,
          window_end: now,
        });
      }
      return out.sort((a, b) => b.score - a.score);
    },
  };
}
