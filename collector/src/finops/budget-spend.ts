import type { ClickHouseClient } from "@clickhouse/client";
import type { BudgetSpendSource } from "./budget-enforcer.js";
import { type BudgetWindow, rollingBucketMs, scopeFilter } from "./budget-window.js";
import type { BudgetDefinition } from "./config.js";
import { decimalToNano } from "./money.js";
import { DAILY_TABLE, ROLLUP_TABLE } from "./rollup.js";
import { querySpend, rollupEligible, type SpendFilter } from "./spend.js";
import { identifier } from "./sql.js";
import { calendarWindow, localDate, localDays, wholeHourOffsets, zoneOffsetMs } from "./time-zone.js";

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * What ClickHouse says a budget has spent: over its window (status), per counter bucket
 * (rebuilding counters), and per day over the last week (forecasts). Reads the hourly rollup
 * whenever the scope allows (team, project, provider, model), llm_calls otherwise.
 */
/** A budget's spend in its window; for calendar windows the 7 complete days before today and today so far. */
export interface WindowSpend {
  spentNano: bigint;
  trailing: number[] | null;
  today: number;
}

export class ClickHouseBudgetSpend implements BudgetSpendSource {
  readonly #client: ClickHouseClient;
  readonly #database: string;
  readonly #route: "auto" | "raw";

  /** `route: "raw"` never reads the rollup (benchmarks compare the two). */
  constructor(deps: { client: ClickHouseClient; database: string; route?: "auto" | "raw" }) {
    this.#client = deps.client;
    this.#database = identifier(deps.database);
    this.#route = deps.route ?? "auto";
  }

  async windowSpent(def: BudgetDefinition, window: BudgetWindow, now: number): Promise<bigint> {
    const { rows } = await querySpend(this.#client, this.#database, {
      fromUs: window.start * 1000,
      toUs: now * 1000,
      groupBy: [],
      timezone: window.timezone,
      filter: scopeFilter(def.scope),
      openEnded: true,
      route: this.#route,
    });
    return decimalToNano(rows[0]?.cost_usd);
  }

  async bucketSpend(def: BudgetDefinition, window: BudgetWindow, now: number): Promise<Map<number, bigint>> {
    if (window.kind === "calendar") {
      return new Map([[window.ref.bucket, await this.windowSpent(def, window, now)]]);
    }
    const bucketMs = rollingBucketMs(window.end - window.start);
    const filter = scopeFilter(def.scope);
    const params: Record<string, unknown> = { from: window.ref.minBucket, to: now, bucket: bucketMs };
    const hourly =
      this.#route === "auto" &&
      bucketMs === 3_600_000 &&
      rollupEligible({ fromUs: 0, toUs: 0, groupBy: [], timezone: "UTC", filter });
    const where = filterSql(filter, params, hourly);
    const sql = hourly
      ? `SELECT toUnixTimestamp(hour) * 1000 AS b, toString(sum(cost_usd)) AS cost FROM ${this.#database}.${ROLLUP_TABLE}
WHERE hour >= toDateTime(intDiv({from:Int64}, 1000), 'UTC') AND hour <= toDateTime(intDiv({to:Int64}, 1000), 'UTC')${where} GROUP BY b`
      : `SELECT intDiv(toUnixTimestamp64Milli(timestamp), {bucket:Int64}) * {bucket:Int64} AS b,
  toString(sumIf(ifNull(cost_usd, toDecimal64(0, 9)), cache_hit = 0)) AS cost
FROM ${this.#database}.llm_calls AS c
WHERE timestamp >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND timestamp < fromUnixTimestamp64Milli({to:Int64}, 'UTC')${where}
GROUP BY b`;
    const rs = await this.#client.query({
      query: `${sql} SETTINGS output_format_json_quote_64bit_integers = 0`,
      query_params: params,
      format: "JSONEachRow",
    });
    const out = new Map<number, bigint>();
    for (const r of await rs.json<{ b: number; cost: string }>()) out.set(Number(r.b), decimalToNano(r.cost));
    return out;
  }

  /**
   * Spent-in-window, the trailing 7 days and today so far for many budgets at once. Every budget the rollup
   * can answer (scope on team, project, provider, model; calendar windows in whole-hour zones)
   * is read by one scan of the rollup, hour by hour with one sumIf per budget; a rolling
   * window's partial first hour comes from llm_calls. The others are asked one by one.
   */
  async status(
    items: readonly { def: BudgetDefinition; window: BudgetWindow }[],
    now: number,
  ): Promise<Map<string, WindowSpend>> {
    const out = new Map<string, WindowSpend>();
    const batched: (typeof items)[number][] = [];
    const single: (typeof items)[number][] = [];
    for (const item of items) {
      const filter = scopeFilter(item.def.scope);
      const eligible =
        this.#route === "auto" &&
        rollupEligible({ fromUs: 0, toUs: 0, groupBy: [], timezone: "UTC", filter }) &&
        (item.window.kind === "rolling" ||
          wholeHourOffsets(item.window.timezone, [item.window.start, item.window.end, now - 8 * DAY]));
      (eligible ? batched : single).push(item);
    }
    await Promise.all([
      ...single.map(async ({ def, window }) => {
        const [spentNano, days] = await Promise.all([
          this.windowSpent(def, window, now),
          window.kind === "calendar" ? this.trailingDays(def, window.timezone, now) : Promise.resolve(null),
        ]);
        out.set(def.name, { spentNano, trailing: days?.complete ?? null, today: days?.today ?? 0 });
      }),
      // Calendar windows in zones whose days are UTC days start and split at UTC midnights:
      // the daily rollup answers them with ~24 times fewer rows.
      this.#batch(
        batched.filter((b) => dailyAligned(b.window, now)),
        now,
        out,
        "daily",
      ),
      this.#batch(
        batched.filter((b) => !dailyAligned(b.window, now)),
        now,
        out,
        "hourly",
      ),
    ]);
    return out;
  }

  async #batch(
    items: readonly { def: BudgetDefinition; window: BudgetWindow }[],
    now: number,
    out: Map<string, WindowSpend>,
    source: "hourly" | "daily",
  ): Promise<void> {
    if (items.length === 0) return;
    const params: Record<string, unknown> = {};
    const plans = items.map(({ def, window }, i) => {
      const conds: string[] = [];
      for (const k of ["team", "project", "provider", "model"] as const) {
        const v = def.scope[k];
        if (v === undefined) continue;
        conds.push(`${k} = {b${i}_${k}:String}`);
        params[`b${i}_${k}`] = v;
      }
      const from = window.kind === "rolling" ? Math.ceil(window.start / HOUR) * HOUR : window.start;
      let days: number[] | null = null;
      let trailingFrom = from;
      if (window.kind === "calendar") {
        const today = calendarWindow(now, "day", window.timezone);
        trailingFrom = calendarWindow(today.start - 7 * DAY + HOUR, "day", window.timezone).start;
        days = [...localDays(trailingFrom, today.start, window.timezone), today.start];
      }
      return { def, window, from, days, trailingFrom, cond: conds.length ? conds.join(" AND ") : "1" };
    });
    const minFrom = Math.min(...plans.map((p) => Math.min(p.from, p.trailingFrom)));
    params["from"] = Math.floor(minFrom / 1000);
    params["to"] = Math.floor(now / 1000);
    const sums = plans.map((p, i) => `toString(sumIf(cost_usd, ${p.cond})) AS b${i}`).join(", ");
    // Rows are buckets (an hour, or a UTC day) keyed by their start, Unix ms.
    const sql =
      source === "hourly"
        ? `SELECT toUnixTimestamp(hour) * 1000 AS h, ${sums}
FROM ${this.#database}.${ROLLUP_TABLE}
WHERE hour >= toDateTime({from:UInt32}, 'UTC') AND hour <= toDateTime({to:UInt32}, 'UTC')
GROUP BY h
SETTINGS output_format_json_quote_64bit_integers = 0`
        : `SELECT toUnixTimestamp(toDateTime(day, 'UTC')) * 1000 AS h, ${sums}
FROM ${this.#database}.${DAILY_TABLE}
WHERE day >= toDate(toDateTime({from:UInt32}, 'UTC')) AND day <= toDate(toDateTime({to:UInt32}, 'UTC'))
GROUP BY h
SETTINGS output_format_json_quote_64bit_integers = 0`;
    const [hours, edges] = await Promise.all([
      this.#client
        .query({ query: sql, query_params: params, format: "JSONEachRow" })
        .then((rs) => rs.json<Record<string, string | number>>()),
      // A rolling window's first, partial hour.
      Promise.all(
        plans.map(async (p) => {
          if (p.window.kind !== "rolling" || p.from <= p.window.start) return 0n;
          const { rows } = await querySpend(this.#client, this.#database, {
            fromUs: p.window.start * 1000,
            toUs: p.from * 1000,
            groupBy: [],
            timezone: "UTC",
            filter: scopeFilter(p.def.scope),
            route: "raw",
          });
          return decimalToNano(rows[0]?.cost_usd);
        }),
      ),
    ]);
    plans.forEach((p, i) => {
      let spent = edges[i] ?? 0n;
      const trailing = p.days ? new Array<number>(p.days.length - 1).fill(0) : null;
      const todayStart = p.days?.[p.days.length - 1] ?? Number.POSITIVE_INFINITY;
      let today = 0;
      for (const r of hours) {
        const h = Number(r["h"]);
        const v = decimalToNano(r[`b${i}`]);
        if (v === 0n) continue;
        if (h >= p.from) spent += v;
        if (h >= todayStart) today += Number(v) / 1e9;
        if (p.days && trailing) {
          for (let d = 0; d < p.days.length - 1; d++) {
            if (h >= (p.days[d] ?? 0) && h < (p.days[d + 1] ?? 0)) trailing[d] = (trailing[d] ?? 0) + Number(v) / 1e9;
          }
        }
      }
      out.set(p.def.name, { spentNano: spent, trailing, today });
    });
  }

  /** Spend of the 7 complete local days before today, oldest first, and of today so far. */
  async trailingDays(
    def: BudgetDefinition,
    timezone: string,
    now: number,
  ): Promise<{ complete: number[]; today: number }> {
    const today = calendarWindow(now, "day", timezone);
    const from = calendarWindow(today.start - 7 * 86_400_000 + 3_600_000, "day", timezone).start;
    const { rows } = await querySpend(this.#client, this.#database, {
      fromUs: from * 1000,
      toUs: now * 1000,
      openEnded: true,
      groupBy: ["day"],
      timezone,
      filter: scopeFilter(def.scope),
      route: this.#route,
    });
    const byDay = new Map(rows.map((r) => [r.day ?? "", Number(r.cost_usd)]));
    return {
      complete: localDays(from, today.start, timezone).map((d) => byDay.get(localDate(d, timezone)) ?? 0),
      today: byDay.get(localDate(today.start, timezone)) ?? 0,
    };
  }
}

function filterSql(f: SpendFilter, params: Record<string, unknown>, rollup: boolean): string {
  const out: string[] = [];
  const col = (k: string) => (rollup ? k : `c.${k}`);
  for (const k of ["team", "project", "provider"] as const) {
    const v = f[k];
    if (v === undefined) continue;
    out.push(`${col(k)} = {f_${k}:String}`);
    params[`f_${k}`] = v;
  }
  if (f.model !== undefined) {
    out.push(
      rollup
        ? "model = {f_model:String}"
        : "if(c.request_model != '', c.request_model, c.response_model) = {f_model:String}",
    );
    params["f_model"] = f.model;
  }
  if (!rollup && f.user_id !== undefined) {
    out.push("c.user_id = {f_user:String}");
    params["f_user"] = f.user_id;
  }
  if (!rollup) {
    Object.entries(f.tags ?? {}).forEach(([k, v], i) => {
      out.push(`c.tags[{f_tk${i}:String}] = {f_tv${i}:String}`);
      params[`f_tk${i}`] = k;
      params[`f_tv${i}`] = v;
    });
  }
  return out.map((c) => ` AND ${c}`).join("");
}

/** A calendar window whose boundaries (and the last 8 days') are UTC midnights. */
function dailyAligned(window: BudgetWindow, now: number): boolean {
  if (window.kind !== "calendar") return false;
  return [window.start, window.end, now, now - 8 * DAY].every((ms) => zoneOffsetMs(ms, window.timezone) === 0);
}
