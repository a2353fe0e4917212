import type { ClickHouseClient } from "@clickhouse/client";
import type { BudgetSpendSource } from "./budget-enforcer.js";
import { type BudgetWindow, rollingBucketMs, scopeFilter } from "./budget-window.js";
import type { BudgetDefinition } from "./config.js";
import { decimalToNano } from "./money.js";
import { ROLLUP_TABLE } from "./rollup.js";
import { querySpend, rollupEligible, type SpendFilter } from "./spend.js";
import { identifier } from "./sql.js";
import { calendarWindow, localDate, localDays } from "./time-zone.js";

/**
 * What ClickHouse says a budget has spent: over its window (status), per counter bucket
 * (rebuilding counters), and per day over the last week (forecasts). Reads the hourly rollup
 * whenever the scope allows (team, project, provider, model), llm_calls otherwise.
 */
export class ClickHouseBudgetSpend implements BudgetSpendSource {
  readonly #client: ClickHouseClient;
  readonly #database: string;

  constructor(deps: { client: ClickHouseClient; database: string }) {
    this.#client = deps.client;
    this.#database = identifier(deps.database);
  }

  async windowSpent(def: BudgetDefinition, window: BudgetWindow, now: number): Promise<bigint> {
    const { rows } = await querySpend(this.#client, this.#database, {
      fromUs: window.start * 1000,
      toUs: now * 1000,
      groupBy: [],
      timezone: window.timezone,
      filter: scopeFilter(def.scope),
      openEnded: true,
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
      bucketMs === 3_600_000 && rollupEligible({ fromUs: 0, toUs: 0, groupBy: [], timezone: "UTC", filter });
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

  /** Spend of the 7 complete local days before today, oldest first. */
  async trailingDays(def: BudgetDefinition, timezone: string, now: number): Promise<number[]> {
    const today = calendarWindow(now, "day", timezone);
    const from = calendarWindow(today.start - 7 * 86_400_000 + 3_600_000, "day", timezone).start;
    const { rows } = await querySpend(this.#client, this.#database, {
      fromUs: from * 1000,
      toUs: today.start * 1000,
      groupBy: ["day"],
      timezone,
      filter: scopeFilter(def.scope),
    });
    const byDay = new Map(rows.map((r) => [r.day ?? "", Number(r.cost_usd)]));
    return localDays(from, today.start, timezone).map((d) => byDay.get(localDate(d, timezone)) ?? 0);
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
