import { randomUUID } from "node:crypto";
import type { ClickHouseClient } from "@clickhouse/client";
import type { PriceBook } from "../enrich/price-book.js";
import { ERR_BAD_REQUEST, ERR_STORAGE } from "../errors.js";
import type { PricingConfig } from "./config.js";
import { decimalToNano, nanoToDecimal } from "./money.js";
import { costSql, type ModelCombo, planPricePoints, priceIdSql } from "./rating-sql.js";
import {
  DAILY_TABLE,
  MODEL_KEY_SQL,
  RAW_AGGREGATES,
  RAW_MODEL_KEY_SQL,
  REPRICED_MEASURES,
  ROLLUP_KEYS,
  ROLLUP_TABLE,
} from "./rollup.js";
import { identifier, sqlMicros, sqlString, sqlStringList } from "./sql.js";

/**
 * Re-rates stored calls after a price fix: `tokenmeter reprice --from --to [--model]`.
 *
 * Strategy (correct on a ClickHouse server and on embedded chdb alike):
 * 1. Plan: the (provider, request model, response model) combinations in the range, and for
 *    each the catalog entries in force over time (rating-sql.ts).
 * 2. Predict: one SELECT computes the new price id and costs of every call in the range and
 *    counts the calls that change. None changed: stop; a second run is a no-op (idempotent).
 * 3. Rewrite llm_calls in place with two ALTER TABLE ... UPDATE mutations (price ids, then costs
 *    from price ids). A mutation rewrites only the changed columns of the affected parts, keeps
 *    every other column (prompts included) as is, and applies to parts atomically. The new
 *    values are a pure function of each row's tokens and attributes, so re-running after an
 *    interruption converges to the same state.
 * 4. Correct the hourly and daily rollups (materialized views do not see mutations): per key,
 *    the difference between llm_calls and the rollup is inserted as a correction row
 *    (reconcileRollup). This runs on every non-dry run, so a run interrupted after its rewrite
 *    is completed by the next one.
 *
 * The range ends at most at the start of the current hour: calls of the open hour were priced
 * at ingest with the catalog then in force, and may still be arriving.
 */

export interface RepriceOptions {
  client: ClickHouseClient;
  database: string;
  cluster?: string | undefined;
  book: PriceBook;
  pricing: PricingConfig;
  /** Unix µs, inclusive. */
  fromUs: number;
  /** Unix µs, exclusive; clamped to the start of the current hour. */
  toUs: number;
  /** Only calls whose request or response model is this. */
  model?: string | undefined;
  dryRun?: boolean | undefined;
  onProgress?: ((p: RepriceProgress) => void) | undefined;
  /** Unix ms. */
  clock?: () => number;
  /** Longest wait for the mutations. */
  timeoutMs?: number;
}

export interface RepriceProgress {
  phase: "plan" | "predict" | "rewrite" | "rollup" | "verify";
  done: number;
  total: number;
  message?: string;
}

export interface RepriceDiffRow {
  model: string;
  team: string;
  calls: number;
  before_cost_usd: string;
  after_cost_usd: string;
  delta_usd: string;
  before_unpriced: number;
  after_unpriced: number;
  changed_calls: number;
}

export interface RepriceResult {
  from: string;
  to: string;
  model: string | null;
  catalog_version: string;
  dry_run: boolean;
  calls: number;
  changed_calls: number;
  rewritten: boolean;
  /** Correction rows written to the rollups (0 when they already matched llm_calls). */
  rollup_corrections: number;
  rows: RepriceDiffRow[];
  totals: { before_cost_usd: string; after_cost_usd: string; delta_usd: string };
}

/**
 * Limits for the generated statements (large literal plans). They must be known before the
 * text is parsed, so they travel as request settings; every other setting is written in the
 * statement itself, because the embedded engine keeps request settings for its whole session.
 */
const PLAN_SETTINGS = {
  max_query_size: "67108864",
  max_ast_elements: "10000000",
  max_expanded_ast_elements: "10000000",
} as const;

const MAX_COMBOS = 20_000;

export async function reprice(o: RepriceOptions): Promise<RepriceResult> {
  const db = identifier(o.database);
  const now = (o.clock ?? Date.now)();
  const hourUs = 3_600_000_000;
  const toUs = Math.min(o.toUs, Math.floor((now * 1000) / hourUs) * hourUs);
  if (!(toUs > o.fromUs)) {
    throw ERR_BAD_REQUEST("reprice: --from must be before --to (and before the start of the current hour)");
  }
  const progress = o.onProgress ?? (() => {});
  const range = `timestamp >= ${sqlMicros(o.fromUs)} AND timestamp < ${sqlMicros(toUs)}`;
  const modelFilter =
    o.model === undefined
      ? ""
      : ` AND (request_model = ${sqlString(o.model)} OR response_model = ${sqlString(o.model)})`;
  const filter = `${range}${modelFilter}`;
  // Calls without usage (and no content to estimate from) stay unpriced whatever the catalog.
  const rateable = `${filter} AND NOT (priced = 0 AND input_tokens = 0 AND output_tokens = 0)`;

  const query = async <T>(sql: string): Promise<T[]> => {
    const rs = await o.client.query({
      query: `${sql}\nSETTINGS output_format_json_quote_decimals = 1, output_format_json_quote_64bit_integers = 0`,
      format: "JSONEachRow",
      clickhouse_settings: PLAN_SETTINGS,
    });
    return rs.json<T>();
  };

  // 1. Plan.
  progress({ phase: "plan", done: 0, total: 1 });
  const combos = await query<ModelCombo>(
    `SELECT DISTINCT provider, request_model, response_model FROM ${db}.llm_calls WHERE ${rateable} LIMIT ${MAX_COMBOS + 1}`,
  );
  if (combos.length > MAX_COMBOS) {
    throw ERR_BAD_REQUEST(`reprice: more than ${MAX_COMBOS} distinct models in the range; narrow it with --model`);
  }
  const points = planPricePoints(o.book, combos, o.fromUs, toUs);
  const newPriceId = priceIdSql(o.book, combos, o.fromUs, toUs);
  const cost = costSql(points, o.pricing);
  const predictedCost = costSql(points, o.pricing, "new_price_id");
  progress({ phase: "plan", done: 1, total: 1, message: `${combos.length} model combinations` });

  // 2. Predict: before and after per (model, team), and how many calls change.
  progress({ phase: "predict", done: 0, total: 1 });
  const skip = "(priced = 0 AND input_tokens = 0 AND output_tokens = 0)";
  const predicted = await query<DiffQueryRow>(`
SELECT model, team,
  toUInt64(count()) AS calls,
  sumIf(ifNull(old_cost, toDecimal64(0, 9)), cache_hit = 0) AS before_cost,
  sumIf(ifNull(new_cost, toDecimal64(0, 9)), cache_hit = 0) AS after_cost,
  toUInt64(countIf(old_priced = 0)) AS before_unpriced,
  toUInt64(countIf(new_priced = 0)) AS after_unpriced,
  toUInt64(countIf(NOT (old_price_id = new_price_id AND old_priced = new_priced
    AND isNotDistinctFrom(old_cost, new_cost) AND isNotDistinctFrom(old_list, new_list)))) AS changed
FROM (
  SELECT *, ${predictedCost.cost} AS new_cost, ${predictedCost.listCost} AS new_list, ${predictedCost.priced} AS new_priced
  FROM (
    SELECT ${MODEL_KEY_SQL} AS model, team, cache_hit, timestamp, project, provider, request_model, response_model,
      input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, tags, request_params,
      cost_usd AS old_cost, list_cost_usd AS old_list, priced AS old_priced, price_id AS old_price_id,
      if(${skip}, price_id, ${newPriceId}) AS new_price_id
    FROM ${db}.llm_calls WHERE ${filter}
  )
)
GROUP BY model, team
ORDER BY model, team`);
  progress({ phase: "predict", done: 1, total: 1 });

  const changed = predicted.reduce((n, r) => n + Number(r.changed), 0);
  const dryRun = o.dryRun === true;
  let rewritten = false;
  let corrections = 0;
  let after = new Map(predicted.map((r) => [`${r.model}\0${r.team}`, r]));

  if (!dryRun && changed > 0) {
    // 3. Rewrite.
    await mutate(o, db, [
      `UPDATE price_id = ${newPriceId} WHERE ${rateable}`,
      `UPDATE cost_usd = ${cost.cost}, list_cost_usd = ${cost.listCost}, priced = ${cost.priced} WHERE ${rateable}`,
    ]);

    rewritten = true;
  }

  if (!dryRun) {
    // 4. Rollups: correction rows for whatever differs from llm_calls now (nothing on a rerun).
    progress({ phase: "rollup", done: 0, total: 2 });
    const h0 = Math.floor(o.fromUs / hourUs) * hourUs;
    const h1 = Math.ceil(toUs / hourUs) * hourUs;
    const keys =
      o.model === undefined
        ? undefined
        : [...new Set(combos.map((c) => (c.request_model !== "" ? c.request_model : c.response_model)))];
    corrections += await reconcileRollup(o.client, db, "hourly", h0, h1, keys);
    progress({ phase: "rollup", done: 1, total: 2 });
    const dayUs = 86_400_000_000;
    corrections += await reconcileRollup(
      o.client,
      db,
      "daily",
      Math.floor(h0 / dayUs) * dayUs,
      Math.ceil(h1 / dayUs) * dayUs,
      keys,
    );
    progress({ phase: "rollup", done: 2, total: 2 });
  }

  if (rewritten) {
    // Read back what is stored now.
    progress({ phase: "verify", done: 0, total: 1 });
    const stored = await query<DiffQueryRow>(`
SELECT ${MODEL_KEY_SQL} AS model, team, toUInt64(count()) AS calls,
  sumIf(ifNull(cost_usd, toDecimal64(0, 9)), cache_hit = 0) AS after_cost,
  toUInt64(countIf(priced = 0)) AS after_unpriced
FROM ${db}.llm_calls WHERE ${filter}
GROUP BY model, team`);
    after = new Map(
      predicted.map((r) => {
        const s = stored.find((x) => x.model === r.model && x.team === r.team);
        return [
          `${r.model}\0${r.team}`,
          { ...r, after_cost: s?.after_cost ?? "0", after_unpriced: s?.after_unpriced ?? 0 },
        ];
      }),
    );
    progress({ phase: "verify", done: 1, total: 1 });
  }

  const rows: RepriceDiffRow[] = predicted.map((r) => {
    const a = after.get(`${r.model}\0${r.team}`) ?? r;
    const before = decimalToNano(r.before_cost);
    const afterNano = decimalToNano(a.after_cost);
    return {
      model: r.model,
      team: r.team,
      calls: Number(r.calls),
      before_cost_usd: nanoToDecimal(before),
      after_cost_usd: nanoToDecimal(afterNano),
      delta_usd: nanoToDecimal(afterNano - before),
      before_unpriced: Number(r.before_unpriced),
      after_unpriced: Number(a.after_unpriced),
      changed_calls: Number(r.changed),
    };
  });
  const sum = (pick: (r: RepriceDiffRow) => string) => rows.reduce((n, r) => n + decimalToNano(pick(r)), 0n);
  const beforeTotal = sum((r) => r.before_cost_usd);
  const afterTotal = sum((r) => r.after_cost_usd);
  return {
    from: new Date(o.fromUs / 1000).toISOString(),
    to: new Date(toUs / 1000).toISOString(),
    model: o.model ?? null,
    catalog_version: o.book.catalogVersion,
    dry_run: dryRun,
    calls: rows.reduce((n, r) => n + r.calls, 0),
    changed_calls: changed,
    rewritten,
    rollup_corrections: corrections,
    rows,
    totals: {
      before_cost_usd: nanoToDecimal(beforeTotal),
      after_cost_usd: nanoToDecimal(afterTotal),
      delta_usd: nanoToDecimal(afterTotal - beforeTotal),
    },
  };
}

/**
 * Brings a rollup in line with llm_calls over [fromUs, toUs) (whole hours or days): one
 * statement aggregates both, joins them and inserts the differences of the repriceable measures
 * as correction rows, which the rollup's engine folds in. Both tables are read by the same
 * statement, so calls still arriving cannot fall between two reads (as with delete + reinsert),
 * and a second run finds nothing to correct. Returns the number of correction rows.
 */
export async function reconcileRollup(
  client: ClickHouseClient,
  db: string,
  which: "hourly" | "daily",
  fromUs: number,
  toUs: number,
  modelKeys?: readonly string[],
): Promise<number> {
  const table = which === "hourly" ? ROLLUP_TABLE : DAILY_TABLE;
  const bucket = which === "hourly" ? "toStartOfHour(c.timestamp)" : "toDate(c.timestamp)";
  const bucketName = which === "hourly" ? "hour" : "day";
  const keys: readonly string[] = which === "hourly" ? ROLLUP_KEYS : ROLLUP_KEYS.filter((k) => k !== "status");
  const rawKeys = keys.map((k) => (k === "model" ? `${RAW_MODEL_KEY_SQL} AS model` : `c.${k} AS ${k}`));
  const rollupRange =
    which === "hourly"
      ? `hour >= toDateTime(${fromUs / 1_000_000}, 'UTC') AND hour < toDateTime(${toUs / 1_000_000}, 'UTC')`
      : `day >= toDate(toDateTime(${fromUs / 1_000_000}, 'UTC')) AND day < toDate(toDateTime(${toUs / 1_000_000}, 'UTC'))`;
  const models = modelKeys === undefined ? "" : ` AND model IN ${sqlStringList(modelKeys)}`;
  const rawModels = modelKeys === undefined ? "" : ` AND ${RAW_MODEL_KEY_SQL} IN ${sqlStringList(modelKeys)}`;
  const all = [bucketName, ...keys].join(", ");
  const measures = REPRICED_MEASURES;
  const rawAgg = measures.map((m) => `${RAW_AGGREGATES[m]} AS r_${m}`).join(", ");
  const rollAgg = measures.map((m) => `sum(${m}) AS h_${m}`).join(", ");
  const delta = measures
    .map((m) => (m.endsWith("_usd") ? `r_${m} - h_${m}` : `toInt64(r_${m}) - toInt64(h_${m})`))
    .join(", ");
  const differs = measures.map((m) => `r_${m} != h_${m}`).join(" OR ");
  const select = `SELECT ${all}, ${delta}
FROM (
  SELECT ${bucket} AS ${bucketName}, ${rawKeys.join(", ")}, ${rawAgg}
  FROM ${db}.llm_calls AS c
  WHERE c.timestamp >= ${sqlMicros(fromUs)} AND c.timestamp < ${sqlMicros(toUs)}${rawModels}
  GROUP BY ${all}
) AS r
FULL OUTER JOIN (
  SELECT ${all}, ${rollAgg} FROM ${db}.${table} WHERE ${rollupRange}${models} GROUP BY ${all}
) AS h USING (${all})
WHERE ${differs}`;
  const rs = await client.query({
    query: `SELECT count() AS n FROM (${select}) SETTINGS output_format_json_quote_64bit_integers = 0`,
    format: "JSONEachRow",
  });
  const n = Number((await rs.json<{ n: number }>())[0]?.n ?? 0);
  if (n === 0) return 0;
  // Never deduplicated: a correction may repeat an earlier one's block exactly.
  await client.command({
    query: `INSERT INTO ${db}.${table} (${all}, ${measures.join(", ")}) SETTINGS insert_deduplicate = 0, insert_deduplication_token = ''\n${select}`,
  });
  return n;
}

interface DiffQueryRow {
  model: string;
  team: string;
  calls: number | string;
  before_cost: string;
  after_cost: string;
  before_unpriced: number | string;
  after_unpriced: number | string;
  changed: number | string;
}

/**
 * Runs mutations on llm_calls and waits for them, reporting parts done. On a single node they
 * are submitted asynchronously and followed in system.mutations (a marker in the WHERE finds
 * them); on a cluster they run ON CLUSTER with mutations_sync = 2.
 */
async function mutate(o: RepriceOptions, db: string, commands: string[]): Promise<void> {
  const progress = o.onProgress ?? (() => {});
  if (o.cluster) {
    for (const [i, cmd] of commands.entries()) {
      progress({ phase: "rewrite", done: i, total: commands.length });
      await o.client.command({
        query: `ALTER TABLE ${db}.llm_calls_local ON CLUSTER ${identifier(o.cluster)} ${cmd} SETTINGS mutations_sync = 2`,
        clickhouse_settings: PLAN_SETTINGS,
      });
    }
    progress({ phase: "rewrite", done: commands.length, total: commands.length });
    return;
  }
  const marker = `tm_reprice_${randomUUID().replaceAll("-", "")}`;
  for (const cmd of commands) {
    await o.client.command({
      query: `ALTER TABLE ${db}.llm_calls ${cmd} AND ${sqlString(marker)} != '' SETTINGS mutations_sync = 0`,
      clickhouse_settings: PLAN_SETTINGS,
    });
  }
  const deadline = (o.clock ?? Date.now)() + (o.timeoutMs ?? 6 * 3_600_000);
  let total = 0;
  for (;;) {
    const rs = await o.client.query({
      query: `SELECT count() AS n, sum(parts_to_do) AS todo, min(is_done) AS done, anyIf(latest_fail_reason, latest_fail_reason != '') AS fail
FROM system.mutations WHERE database = {db:String} AND table = 'llm_calls' AND position(command, {marker:String}) > 0`,
      query_params: { db, marker },
      format: "JSONEachRow",
    });
    const [s] = await rs.json<{ n: number | string; todo: number | string; done: number | string; fail: string }>();
    const n = Number(s?.n ?? 0);
    const todo = Number(s?.todo ?? 0);
    total = Math.max(total, todo);
    progress({ phase: "rewrite", done: total - todo, total: Math.max(total, 1) });
    if (n === commands.length && Number(s?.done) === 1) return;
    if (s?.fail) {
      await o.client
        .command({
          query: `KILL MUTATION WHERE database = ${sqlString(db)} AND table = 'llm_calls' AND position(command, ${sqlString(marker)}) > 0`,
        })
        .catch(() => {});
      throw ERR_STORAGE(`reprice: the rewrite failed and was cancelled: ${s.fail}`);
    }
    if ((o.clock ?? Date.now)() > deadline) throw ERR_STORAGE("reprice: the rewrite did not finish in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}
