import type { PriceBook, PriceEntry } from "../enrich/price-book.js";
import type { PricingConfig } from "./config.js";
import {
  type CompiledContract,
  compileContracts,
  negotiatedRates,
  PPM,
  type PricePoint,
  pricePoints,
} from "./rating.js";
import { sqlInt, sqlMicros, sqlString, sqlStringList } from "./sql.js";

/**
 * The SQL twin of enrich/pricing.ts + rating.ts, for re-rating stored calls inside ClickHouse
 * (`tokenmeter reprice`). Two expressions:
 *
 * 1. `priceIdSql`: which catalog entry and tier price a call, from provider, request and response
 *    model, call start and input tokens. It is built from a plan: for every (provider, request
 *    model, response model) present in the range, the time segments in which each entry is in
 *    force, resolved with the price book's own lookup. So the catalog's name matching, aliases,
 *    provider scopes and effective dates are decided once, in TypeScript, exactly as at ingest.
 * 2. `listCostSql` / `costSql`: cost from the price id's rates, the service tier multiplier and
 *    the contract, in Int128 pico-USD with the rounding of rating.ts.
 *
 * Tests check both against the TypeScript path row by row.
 */

export interface ModelCombo {
  provider: string;
  request_model: string;
  response_model: string;
}

interface Segment {
  /** Unix µs; the segment ends where the next one starts. */
  startUs: number;
  entry: PriceEntry | undefined;
}

/** What enrich/pricing.ts does to pick an entry: response model first, request model second. */
export function resolveEntry(book: PriceBook, combo: ModelCombo, atUs: number): PriceEntry | undefined {
  const { provider, request_model, response_model } = combo;
  if (response_model !== "") {
    const entry = book.lookup(provider, response_model, atUs);
    if (entry !== undefined || response_model === request_model) return entry;
  }
  return request_model === "" ? undefined : book.lookup(provider, request_model, atUs);
}

/** The entry in force for a combo over [fromUs, toUs), as segments. */
export function segmentsFor(book: PriceBook, combo: ModelCombo, fromUs: number, toUs: number): Segment[] {
  const cuts = new Set<number>([fromUs]);
  for (const e of book.entries) {
    if (e.effectiveFromUs > fromUs && e.effectiveFromUs < toUs) cuts.add(e.effectiveFromUs);
    if (Number.isFinite(e.effectiveToUs) && e.effectiveToUs > fromUs && e.effectiveToUs < toUs)
      cuts.add(e.effectiveToUs);
  }
  const out: Segment[] = [];
  for (const startUs of [...cuts].sort((a, b) => a - b)) {
    const entry = resolveEntry(book, combo, startUs);
    if (out.length > 0 && out[out.length - 1]?.entry === entry) continue;
    out.push({ startUs, entry });
  }
  return out;
}

/** Price id expression for one entry: its tiers by input tokens, highest threshold first. */
function entryPriceIdSql(entry: PriceEntry | undefined, inputTokens: string): string {
  if (entry === undefined) return "''";
  const base = `${entry.id}@${entry.version}`;
  if (entry.tiers.length === 0) return sqlString(base);
  const branches = entry.tiers.map(
    (t) => `${inputTokens} > ${t.aboveInputTokens}, ${sqlString(`${base}#tier>${t.aboveInputTokens}`)}`,
  );
  return `multiIf(${branches.join(", ")}, ${sqlString(base)})`;
}

/**
 * Price id of each call, for calls in [fromUs, toUs) whose combo is in `combos`; '' for calls
 * no entry prices (and for combos not planned, which the caller's WHERE excludes).
 */
export function priceIdSql(book: PriceBook, combos: readonly ModelCombo[], fromUs: number, toUs: number): string {
  if (combos.length === 0) return "''";
  const branches: string[] = [];
  for (const combo of combos) {
    const segments = segmentsFor(book, combo, fromUs, toUs);
    let expr: string;
    if (segments.length === 1) {
      expr = entryPriceIdSql(segments[0]?.entry, "input_tokens");
    } else {
      const parts: string[] = [];
      for (let s = 0; s < segments.length - 1; s++) {
        const next = segments[s + 1];
        if (next === undefined) break;
        parts.push(`timestamp < ${sqlMicros(next.startUs)}, ${entryPriceIdSql(segments[s]?.entry, "input_tokens")}`);
      }
      expr = `multiIf(${parts.join(", ")}, ${entryPriceIdSql(segments[segments.length - 1]?.entry, "input_tokens")})`;
    }
    const cond = `provider = ${sqlString(combo.provider)} AND request_model = ${sqlString(combo.request_model)} AND response_model = ${sqlString(combo.response_model)}`;
    branches.push(`${cond}, ${expr}`);
  }
  // With short-circuit evaluation (the default) each row stops at its combo's condition, and
  // only that branch's segment expression runs for it.
  return `multiIf(${branches.join(", ")}, '')`;
}

// ---------------------------------------------------------------------------------------------
// Cost from price id

const STANDARD_TIER_NAMES = new Set(["", "default", "auto", "standard", "on_demand", "scale"]);

/** rating.ts serviceTierOf(), in SQL. */
export const SERVICE_TIER_SQL =
  "lowerUTF8(if(tags['service_tier'] != '', tags['service_tier'], JSONExtractString(request_params, 'service_tier')))";

/** rating.ts tierMultiplierPpm(), in SQL. */
export function tierMultiplierSql(pricing: PricingConfig): string {
  const branches: string[] = [];
  for (const [provider, tiers] of Object.entries(pricing.providerServiceTiers)) {
    for (const [tier, m] of Object.entries(tiers)) {
      if (STANDARD_TIER_NAMES.has(tier)) continue;
      branches.push(`provider = ${sqlString(provider)} AND tier = ${sqlString(tier)}, ${ppmLiteral(m)}`);
    }
  }
  for (const [tier, m] of Object.entries(pricing.serviceTiers)) {
    if (STANDARD_TIER_NAMES.has(tier)) continue;
    branches.push(`tier = ${sqlString(tier)}, ${ppmLiteral(m)}`);
  }
  if (branches.length === 0) return `toInt128(${PPM})`;
  const expr = `multiIf(${branches.join(", ")}, toInt128(${PPM}))`;
  return expr.replaceAll("tier =", `${SERVICE_TIER_SQL} =`);
}

function ppmLiteral(m: number): string {
  return `toInt128(${Math.round(m * 1_000_000)})`;
}

/** rating.ts matchContract(), in SQL: the 1-based index of the first matching contract, or 0. */
export function contractIndexSql(contracts: readonly CompiledContract[]): string {
  if (contracts.length === 0) return "toUInt32(0)";
  const branches = contracts.map((c) => {
    const conds: string[] = [];
    if (Number.isFinite(c.fromUs)) conds.push(`timestamp >= ${sqlMicros(c.fromUs)}`);
    if (Number.isFinite(c.toUs)) conds.push(`timestamp < ${sqlMicros(c.toUs)}`);
    if (c.teams) conds.push(`team IN ${sqlStringList(c.teams)}`);
    if (c.projects) conds.push(`project IN ${sqlStringList(c.projects)}`);
    if (c.providers) conds.push(`provider IN ${sqlStringList(c.providers)}`);
    if (c.models) {
      const res = (c.config.match.model ?? []).map((m) => regexLiteral(m));
      conds.push(`(${res.map((re) => `match(request_model, ${re}) OR match(response_model, ${re})`).join(" OR ")})`);
    }
    return `${conds.length ? conds.join(" AND ") : "1"}, toUInt32(${c.index})`;
  });
  return `multiIf(${branches.join(", ")}, toUInt32(0))`;
}

/** A glob as an RE2 literal with the same meaning as rating.ts globSource() with the i flag. */
function regexLiteral(glob: string): string {
  const body = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return sqlString(`(?i)^${body}$`);
}

export interface CostSql {
  /** Nullable(Decimal(18, 9)) list cost at the call's tier; NULL when the price id is unknown. */
  listCost: string;
  /** Nullable(Decimal(18, 9)) effective cost. */
  cost: string;
  /** UInt8: 1 when the price id is known. */
  priced: string;
}

function arrayLiteral(values: readonly bigint[]): string {
  return `[${values.map((v) => sqlInt(v)).join(", ")}]`;
}

function nanoToDecimal(nano: string): string {
  return `CAST(toDecimal128(${nano}, 0) * toDecimal128('0.000000001', 9) AS Nullable(Decimal(18, 9)))`;
}

/** Cost expressions over a table with price_id, token, attribution and tags columns. */
export function costSql(points: readonly PricePoint[], pricing: PricingConfig, priceIdColumn = "price_id"): CostSql {
  const contracts = compileContracts(pricing);
  const idx = `indexOf([${points.map((p) => sqlString(p.priceId)).join(", ")}], ${priceIdColumn})`;
  const rate = (pick: (p: PricePoint) => bigint) => `toInt128(${arrayLiteral(points.map(pick))}[${idx}])`;
  const tokens = {
    // input - min(input, read + write): never below zero without a signed intermediate
    // (greatest() over Int128 gave wrong rows inside this large expression on ClickHouse 26.7).
    uncached: "toInt128(input_tokens - least(input_tokens, cache_read_tokens + cache_write_tokens))",
    cacheRead: "toInt128(cache_read_tokens)",
    cacheWrite: "toInt128(cache_write_tokens)",
    reasoning: "toInt128(least(reasoning_tokens, output_tokens))",
    visibleOutput: "(toInt128(output_tokens) - toInt128(least(reasoning_tokens, output_tokens)))",
  };
  const picoWith = (r: { input: string; output: string; cacheRead: string; cacheWrite: string; reasoning: string }) =>
    `(${tokens.uncached} * ${r.input} + ${tokens.cacheRead} * ${r.cacheRead} + ${tokens.cacheWrite} * ${r.cacheWrite} + ${tokens.visibleOutput} * ${r.output} + ${tokens.reasoning} * ${r.reasoning})`;

  const listPico = picoWith({
    input: rate((p) => p.rates.input),
    output: rate((p) => p.rates.output),
    cacheRead: rate((p) => p.rates.cacheRead ?? p.rates.input),
    cacheWrite: rate((p) => p.rates.cacheWrite ?? p.rates.input),
    reasoning: rate((p) => p.rates.reasoning ?? p.rates.output),
  });
  const m = tierMultiplierSql(pricing);
  const listNano = `intDiv(${listPico} * ${m} + toInt128(500000000), toInt128(1000000000))`;

  let effNano = listNano;
  if (contracts.length > 0) {
    const c = contractIndexSql(contracts);
    const keep = `toInt128(${arrayLiteral(contracts.map((k) => k.keepPpm))}[${c}])`;
    const discounted = `intDiv(${listPico} * ${m} * ${keep} + toInt128(500000000000000), toInt128(1000000000000000))`;
    // Negotiated rates per (contract, price point); has = 0 where the contract has none.
    const neg = contracts.map((k) => points.map((p) => negotiatedRates(k, p)));
    const has = `${`[${neg.map((row) => `[${row.map((r) => (r ? 1 : 0)).join(", ")}]`).join(", ")}]`}[${c}][${idx}]`;
    const negRate = (pick: (r: NonNullable<(typeof neg)[number][number]>) => bigint) =>
      `toInt128([${neg.map((row) => arrayLiteral(row.map((r) => (r ? pick(r) : 0n)))).join(", ")}][${c}][${idx}])`;
    const negPico = picoWith({
      input: negRate((r) => r.input),
      output: negRate((r) => r.output),
      cacheRead: negRate((r) => r.cacheRead ?? r.input),
      cacheWrite: negRate((r) => r.cacheWrite ?? r.input),
      reasoning: negRate((r) => r.reasoning ?? r.output),
    });
    const negotiated = `intDiv(${negPico} * ${m} + toInt128(500000000), toInt128(1000000000))`;
    effNano = `multiIf(${c} = 0, ${listNano}, ${has} = 1, ${negotiated}, ${discounted})`;
  }
  return {
    listCost: `if(${idx} = 0, NULL, ${nanoToDecimal(listNano)})`,
    cost: `if(${idx} = 0, NULL, ${nanoToDecimal(effNano)})`,
    priced: `if(${idx} = 0, toUInt8(0), toUInt8(1))`,
  };
}

/** The price points a plan can produce: every entry in force for some segment, with its tiers. */
export function planPricePoints(
  book: PriceBook,
  combos: readonly ModelCombo[],
  fromUs: number,
  toUs: number,
): PricePoint[] {
  const used = new Set<PriceEntry>();
  for (const combo of combos) {
    for (const s of segmentsFor(book, combo, fromUs, toUs)) if (s.entry) used.add(s.entry);
  }
  return pricePoints(book).filter((p) => used.has(p.entry));
}
