import type { ClickHouseClient } from "@clickhouse/client";
import { DAILY_TABLE, RAW_AGGREGATES, RAW_MODEL_KEY_SQL, ROLLUP_AGGREGATES, ROLLUP_TABLE } from "./rollup.js";
import { identifier } from "./sql.js";
import { wholeHourOffsets, zoneOffsetMs } from "./time-zone.js";

/**
 * Spend aggregates over a time range, grouped by any of team, project, model, provider,
 * user_id and day. Each query is routed to the cheapest source that answers it exactly:
 *
 * - whole UTC days inside the range come from the daily rollup (and the open day when the range
 *   ends now), other whole hours from the hourly rollup (likewise the open hour);
 * - the partial hours at either end, and every query the rollup cannot answer (user_id, tag
 *   and user filters, days in a zone with a non-whole-hour offset), read llm_calls;
 * - both parts are added in one query (UNION ALL, then GROUP BY).
 *
 * The measures mean the same on both sources (rollup.ts).
 */

export const GROUP_KEYS = ["team", "project", "model", "provider", "user_id", "day"] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

export interface SpendFilter {
  team?: string | undefined;
  project?: string | undefined;
  provider?: string | undefined;
  model?: string | undefined;
  user_id?: string | undefined;
  /** Tag key -> value; `virtual_key` holds the proxy's virtual key id. */
  tags?: Readonly<Record<string, string>> | undefined;
}

export interface SpendQuery {
  /** Unix µs, inclusive. */
  fromUs: number;
  /** Unix µs, exclusive. */
  toUs: number;
  groupBy: readonly GroupKey[];
  /** IANA zone for `day`. */
  timezone: string;
  filter?: SpendFilter;
  limit?: number;
  /**
   * `toUs` is "now": the rollup's bucket for the current hour holds exactly the calls stored so
   * far, so the open hour is read from it instead of llm_calls.
   */
  openEnded?: boolean;
  /** "raw" reads llm_calls only (verification and benchmarks); default: the cheapest exact source. */
  route?: "auto" | "raw";
}

export interface SpendRow {
  team?: string;
  project?: string;
  model?: string;
  provider?: string;
  user_id?: string;
  day?: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  /** Effective cost, USD decimal string. */
  cost_usd: string;
  list_cost_usd: string;
  unpriced_calls: number;
  cache_hit_calls: number;
  cache_hit_cost_usd: string;
}

/** The sources a query read, e.g. "daily+hourly+raw". */
export type SpendSource = string;

const MEASURES = [
  "calls",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cost_usd",
  "list_cost_usd",
  "unpriced_calls",
  "cache_hit_calls",
  "cache_hit_cost_usd",
] as const;

const HOUR_US = 3_600_000_000;
const DAY_US = 86_400_000_000;

function rawKey(key: GroupKey): string {
  switch (key) {
    case "model":
      return RAW_MODEL_KEY_SQL;
    case "day":
      return "toString(toDate(c.timestamp, {tz:String}))";
    default:
      return `c.${key}`;
  }
}

function rollupKey(key: GroupKey): string {
  return key === "day" ? "toString(toDate(hour, {tz:String}))" : key;
}

function rollupFilter(f: SpendFilter, params: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of ["team", "project", "provider", "model"] as const) {
    const v = f[k];
    if (v === undefined) continue;
    out.push(`${k} = {f_${k}:String}`);
    params[`f_${k}`] = v;
  }
  return out;
}

function rawFilter(f: SpendFilter, params: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of ["team", "project", "provider", "user_id"] as const) {
    const v = f[k];
    if (v === undefined) continue;
    out.push(`c.${k} = {f_${k}:String}`);
    params[`f_${k}`] = v;
  }
  if (f.model !== undefined) {
    out.push(`${rawKey("model")} = {f_model:String}`);
    params["f_model"] = f.model;
  }
  Object.entries(f.tags ?? {}).forEach(([k, v], i) => {
    out.push(`c.tags[{f_tag_k${i}:String}] = {f_tag_v${i}:String}`);
    params[`f_tag_k${i}`] = k;
    params[`f_tag_v${i}`] = v;
  });
  return out;
}

/** Whether the rollup can answer this query for its whole hours. */
export function rollupEligible(q: SpendQuery): boolean {
  const f = q.filter ?? {};
  if (q.groupBy.includes("user_id") || f.user_id !== undefined) return false;
  if (f.tags && Object.keys(f.tags).length > 0) return false;
  if (q.groupBy.includes("day")) {
    // Hourly buckets split days exactly only where the zone's offset is whole hours.
    const probes = [q.fromUs / 1000, q.toUs / 1000, (q.fromUs + q.toUs) / 2000];
    if (!wholeHourOffsets(q.timezone, probes)) return false;
  }
  return true;
}

export function buildSpendSql(
  database: string,
  q: SpendQuery,
): { sql: string; params: Record<string, unknown>; source: SpendSource } {
  const db = identifier(database);
  const params: Record<string, unknown> = { tz: q.timezone };
  const keys = [...new Set(q.groupBy)];
  const f = q.filter ?? {};
  const groupBy = keys.length ? ` GROUP BY ${keys.join(", ")}` : "";
  // Counters are Int64 everywhere so the parts share one type (the daily rollup is signed).
  const measure = (m: (typeof MEASURES)[number], expr: string) =>
    m.endsWith("_usd") ? `${expr} AS ${m}` : `toInt64(${expr}) AS ${m}`;

  const parts: string[] = [];
  const sources: string[] = [];
  let rangeSeq = 0;
  const timeRanges = (column: string, ranges: [number, number][], micros: boolean) =>
    `(${ranges
      .map(([a, b]) => {
        const i = rangeSeq++;
        params[`t${i}_from`] = micros ? a : a / 1_000_000;
        params[`t${i}_to`] = micros ? b : b / 1_000_000;
        return micros
          ? `(${column} >= fromUnixTimestamp64Micro({t${i}_from:Int64}, 'UTC') AND ${column} < fromUnixTimestamp64Micro({t${i}_to:Int64}, 'UTC'))`
          : `(${column} >= toDateTime({t${i}_from:UInt32}, 'UTC') AND ${column} < toDateTime({t${i}_to:UInt32}, 'UTC'))`;
      })
      .join(" OR ")})`;

  const rawPart = (ranges: [number, number][]) => {
    const where = [timeRanges("c.timestamp", ranges, true), ...rawFilter(f, params)];
    const select = [
      ...keys.map((k) => `${rawKey(k)} AS ${k}`),
      ...MEASURES.map((m) => measure(m, RAW_AGGREGATES[m] ?? "0")),
    ];
    parts.push(`SELECT ${select.join(", ")} FROM ${db}.llm_calls AS c WHERE ${where.join(" AND ")}${groupBy}`);
    sources.push("raw");
  };
  const hourlyPart = (ranges: [number, number][]) => {
    const where = [timeRanges("hour", ranges, false), ...rollupFilter(f, params)];
    const select = [
      ...keys.map((k) => `${rollupKey(k)} AS ${k}`),
      ...MEASURES.map((m) => measure(m, ROLLUP_AGGREGATES[m] ?? "0")),
    ];
    parts.push(`SELECT ${select.join(", ")} FROM ${db}.${ROLLUP_TABLE} WHERE ${where.join(" AND ")}${groupBy}`);
    sources.push("hourly");
  };
  const dailyPart = (from: number, to: number) => {
    params["d0"] = from / 1_000_000;
    params["d1"] = to / 1_000_000;
    // Qualified (d.day): the output column `day` is a string and shadows the Date column.
    const where = [
      "d.day >= toDate(toDateTime({d0:UInt32}, 'UTC'))",
      "d.day < toDate(toDateTime({d1:UInt32}, 'UTC'))",
      ...rollupFilter(f, params),
    ];
    const select = [
      ...keys.map((k) => (k === "day" ? "toString(d.day) AS day" : `${k} AS ${k}`)),
      ...MEASURES.map((m) => measure(m, `sum(d.${m})`)),
    ];
    parts.push(`SELECT ${select.join(", ")} FROM ${db}.${DAILY_TABLE} AS d WHERE ${where.join(" AND ")}${groupBy}`);
    sources.push("daily");
  };

  const h0 = Math.ceil(q.fromUs / HOUR_US) * HOUR_US;
  const h1 = (q.openEnded ? Math.ceil(q.toUs / HOUR_US) : Math.floor(q.toUs / HOUR_US)) * HOUR_US;
  if (q.route !== "raw" && rollupEligible(q) && h1 > h0) {
    // Whole UTC days inside the whole hours come from the daily rollup, unless days are
    // grouped in a zone whose days are not UTC days.
    const utcDays = !keys.includes("day") || wholeDayOffsets(q);
    const d0 = Math.ceil(h0 / DAY_US) * DAY_US;
    const d1 = (q.openEnded ? Math.ceil(h1 / DAY_US) : Math.floor(h1 / DAY_US)) * DAY_US;
    if (utcDays && d1 > d0) {
      dailyPart(d0, d1);
      const hours: [number, number][] = [];
      if (h0 < d0) hours.push([h0, d0]);
      if (!q.openEnded && d1 < h1) hours.push([d1, h1]);
      if (hours.length) hourlyPart(hours);
    } else {
      hourlyPart([[h0, h1]]);
    }
    const edges: [number, number][] = [];
    if (q.fromUs < h0) edges.push([q.fromUs, h0]);
    if (!q.openEnded && h1 < q.toUs) edges.push([h1, q.toUs]);
    if (edges.length) rawPart(edges);
  } else {
    rawPart([[q.fromUs, q.toUs]]);
  }

  params["limit"] = q.limit ?? 10_000;
  // Outer measures are qualified (u.x): their output names equal their inputs.
  const outer = [
    ...keys,
    ...MEASURES.map((m) => (m.endsWith("_usd") ? `toString(sum(u.${m})) AS ${m}` : `sum(u.${m}) AS ${m}`)),
  ];
  // Over every group, before LIMIT cuts them: how many there are and what they add up to, so a
  // cut answer says so and its total is still the whole range's (exact decimals from the engine).
  outer.push(
    "toInt64(count() OVER ()) AS _groups",
    ...MEASURES.map((m) =>
      m.endsWith("_usd")
        ? `toString(sum(sum(u.${m})) OVER ()) AS _total_${m}`
        : `sum(sum(u.${m})) OVER () AS _total_${m}`,
    ),
  );
  const sql = `SELECT ${outer.join(", ")} FROM (\n${parts.join("\nUNION ALL\n")}\n) AS u${groupBy} ORDER BY sum(u.cost_usd) DESC${
    keys.length ? `, ${keys.join(", ")}` : ""
  } LIMIT {limit:UInt32}`;
  return { sql, params, source: sources.join("+") };
}

/** True when the zone's days are UTC days over the whole range (offset 0 throughout). */
function wholeDayOffsets(q: SpendQuery): boolean {
  const probes = [q.fromUs / 1000, q.toUs / 1000, (q.fromUs + q.toUs) / 2000];
  return probes.every((ms) => zoneOffsetMs(ms, q.timezone) === 0);
}

/** The measures of a spend row, summed over every group of a query. */
export type SpendTotal = Omit<SpendRow, GroupKey>;

export interface SpendResult {
  rows: SpendRow[];
  source: SpendSource;
  /** Over every group, including those past the limit. */
  total: SpendTotal;
  /** Groups in the range; more than rows.length when the limit cut the answer. */
  groups: number;
  truncated: boolean;
}

const ZERO_TOTAL: SpendTotal = {
  calls: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cost_usd: "0",
  list_cost_usd: "0",
  unpriced_calls: 0,
  cache_hit_calls: 0,
  cache_hit_cost_usd: "0",
};

export async function querySpend(client: ClickHouseClient, database: string, q: SpendQuery): Promise<SpendResult> {
  const { sql, params, source } = buildSpendSql(database, q);
  // Settings go in the query text: the embedded engine keeps per-request settings for its
  // session, and these must not leak into other readers' queries.
  const rs = await client.query({
    query: `${sql} SETTINGS output_format_json_quote_64bit_integers = 0`,
    query_params: params,
    format: "JSONEachRow",
  });
  const raw = await rs.json<Record<string, unknown>>();
  const first = raw[0];
  const total = { ...ZERO_TOTAL } as Record<string, unknown>;
  if (first !== undefined) for (const m of MEASURES) total[m] = first[`_total_${m}`];
  const rows = raw.map((r) => {
    const row: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (!k.startsWith("_")) row[k] = v;
    return row as unknown as SpendRow;
  });
  const groups = first === undefined ? 0 : Number(first["_groups"]);
  return { rows, source, total: total as unknown as SpendTotal, groups, truncated: groups > rows.length };
}
