import type { ClickHouseClient } from "@clickhouse/client";
import type { PriceBook } from "../enrich/price-book.js";
import { decimalToNano, formatNanoUsd } from "./money.js";
import { pricePointIndex } from "./rating.js";
import { querySpend } from "./spend.js";
import { identifier } from "./sql.js";

/**
 * Cost avoided, per team:
 *
 * - proxy cache: calls the proxy answered from its response cache cost nothing; their
 *   would-be cost (the cost of the call as priced, `cache_hit = 1` rows) is saved. From the
 *   rollup.
 * - provider prompt caching: tokens read from the provider's cache are billed at the cache-read
 *   price instead of the input price; saved = cache_read_tokens x (input - cache_read) at the
 *   list price of the entry that priced the call (its price_id, tier included). Tokens of calls
 *   whose price id the current catalog does not know are reported as unpriced, not as $0.
 */

export interface SavingsRow {
  team: string;
  cache_hit_calls: number;
  cache_hit_savings_usd: string;
  cache_read_tokens: number;
  prompt_cache_savings_usd: string;
  unpriced_cache_read_tokens: number;
  total_savings_usd: string;
}

export interface SavingsReport {
  rows: SavingsRow[];
  total: Omit<SavingsRow, "team">;
}

export async function querySavings(
  client: ClickHouseClient,
  database: string,
  opts: { fromUs: number; toUs: number; book: PriceBook; timezone: string },
): Promise<SavingsReport> {
  const db = identifier(database);
  const [{ rows: spend }, cached] = await Promise.all([
    querySpend(client, database, { fromUs: opts.fromUs, toUs: opts.toUs, groupBy: ["team"], timezone: opts.timezone }),
    client
      .query({
        query: `SELECT team, price_id, sum(cache_read_tokens) AS tokens FROM ${db}.llm_calls
WHERE timestamp >= fromUnixTimestamp64Micro({from:Int64}, 'UTC') AND timestamp < fromUnixTimestamp64Micro({to:Int64}, 'UTC')
  AND cache_hit = 0 AND cache_read_tokens > 0
GROUP BY team, price_id
SETTINGS output_format_json_quote_64bit_integers = 0`,
        query_params: { from: opts.fromUs, to: opts.toUs },
        format: "JSONEachRow",
      })
      .then((rs) => rs.json<{ team: string; price_id: string; tokens: number }>()),
  ]);
  const points = pricePointIndex(opts.book);
  const teams = new Map<
    string,
    { hits: number; hitNano: bigint; tokens: number; promptPico: bigint; unpriced: number }
  >();
  const team = (name: string) => {
    let t = teams.get(name);
    if (!t) {
      t = { hits: 0, hitNano: 0n, tokens: 0, promptPico: 0n, unpriced: 0 };
      teams.set(name, t);
    }
    return t;
  };
  for (const r of spend) {
    if (r.cache_hit_calls === 0 && decimalToNano(r.cache_hit_cost_usd) === 0n) continue;
    const t = team(r.team ?? "");
    t.hits += Number(r.cache_hit_calls);
    t.hitNano += decimalToNano(r.cache_hit_cost_usd);
  }
  for (const r of cached) {
    const t = team(r.team);
    const tokens = Number(r.tokens);
    t.tokens += tokens;
    const point = points.get(r.price_id);
    if (point === undefined) {
      t.unpriced += tokens;
      continue;
    }
    const discount = point.rates.input - (point.rates.cacheRead ?? point.rates.input);
    if (discount > 0n) t.promptPico += BigInt(tokens) * discount;
  }
  const rows: SavingsRow[] = [...teams.entries()].map(([name, t]) => {
    const promptNano = (t.promptPico + 500n) / 1000n;
    return {
      team: name,
      cache_hit_calls: t.hits,
      cache_hit_savings_usd: formatNanoUsd(t.hitNano),
      cache_read_tokens: t.tokens,
      prompt_cache_savings_usd: formatNanoUsd(promptNano),
      unpriced_cache_read_tokens: t.unpriced,
      total_savings_usd: formatNanoUsd(t.hitNano + promptNano),
    };
  });
  rows.sort((a, b) => Number(decimalToNano(b.total_savings_usd) - decimalToNano(a.total_savings_usd)));
  const sumNano = (pick: (r: SavingsRow) => string) => rows.reduce((n, r) => n + decimalToNano(pick(r)), 0n);
  return {
    rows,
    total: {
      cache_hit_calls: rows.reduce((n, r) => n + r.cache_hit_calls, 0),
      cache_hit_savings_usd: formatNanoUsd(sumNano((r) => r.cache_hit_savings_usd)),
      cache_read_tokens: rows.reduce((n, r) => n + r.cache_read_tokens, 0),
      prompt_cache_savings_usd: formatNanoUsd(sumNano((r) => r.prompt_cache_savings_usd)),
      unpriced_cache_read_tokens: rows.reduce((n, r) => n + r.unpriced_cache_read_tokens, 0),
      total_savings_usd: formatNanoUsd(sumNano((r) => r.total_savings_usd)),
    },
  };
}
