import type { PriceBook, PriceEntry, Rates } from "../enrich/price-book.js";
import type { ContractConfig, PricingConfig } from "./config.js";
import { formatNanoUsd } from "./money.js";

/**
 * List cost and effective cost of a call.
 *
 * The catalog gives the list price (enrich/pricing.ts picks the entry and the long-context tier
 * and records them in `price_id`). Two things then change what a call costs:
 *
 * - the service tier (batch, flex, priority...), a multiplier on the list price that providers
 *   publish: it changes the list cost itself;
 * - a contract from tokenmeter.yaml: negotiated per-model rates, or a discount off list.
 *
 * `list_cost_usd` is the tiered list cost; `cost_usd` is what the organization pays (effective
 * cost, = list when no contract applies). Budgets, spend and chargeback use `cost_usd`.
 *
 * Everything is integer arithmetic so the SQL used by `tokenmeter reprice` (rating-sql.ts)
 * computes the very same numbers: prices are pico-USD per token, multipliers parts per million,
 * and each cost is rounded once, half up, to nano-USD.
 */

export const PPM = 1_000_000n;
const NANO_DIVISOR = 1_000_000_000n;

export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
}

/** Cost in pico-USD at the given rates, with the token rules of enrich/pricing.ts. */
export function picoCost(t: TokenCounts, r: Rates): bigint {
  const input = count(t.input_tokens);
  const output = count(t.output_tokens);
  const cacheRead = count(t.cache_read_tokens);
  const cacheWrite = count(t.cache_write_tokens);
  const reasoning = Math.min(count(t.reasoning_tokens), output);
  const uncached = Math.max(0, input - cacheRead - cacheWrite);
  return (
    BigInt(uncached) * r.input +
    BigInt(cacheRead) * (r.cacheRead ?? r.input) +
    BigInt(cacheWrite) * (r.cacheWrite ?? r.input) +
    BigInt(output - reasoning) * r.output +
    BigInt(reasoning) * (r.reasoning ?? r.output)
  );
}

function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** `value * 1e6` as an integer, for values the config schema limits to 6 decimals. */
export function toPpm(value: number): bigint {
  return BigInt(Math.round(value * 1_000_000));
}

/** Half-up division of non-negative integers. */
function roundDiv(n: bigint, d: bigint): bigint {
  return (n + d / 2n) / d;
}

// ---------------------------------------------------------------------------------------------
// Service tiers

const STANDARD_TIERS = new Set(["", "default", "auto", "standard", "on_demand", "scale"]);

/** The call's service tier, lowercased ("" when standard or unknown). */
export function serviceTierOf(tags: Readonly<Record<string, string>>, requestParams: string): string {
  let tier = tags["service_tier"] ?? "";
  if (tier === "" && requestParams.includes('"service_tier"')) {
    try {
      const v = (JSON.parse(requestParams) as Record<string, unknown>)["service_tier"];
      if (typeof v === "string") tier = v;
    } catch {
      // Not JSON: no tier.
    }
  }
  tier = tier.toLowerCase();
  return STANDARD_TIERS.has(tier) ? "" : tier;
}

/** Multiplier (ppm) on the list price for a provider's tier; 1e6 when none is configured. */
export function tierMultiplierPpm(pricing: PricingConfig, provider: string, tier: string): bigint {
  if (tier === "") return PPM;
  const m = pricing.providerServiceTiers[provider]?.[tier] ?? pricing.serviceTiers[tier];
  return m === undefined ? PPM : toPpm(m);
}

// ---------------------------------------------------------------------------------------------
// Contracts

/** `gpt-4o*` -> /^gpt-4o.*$/i ; every other character literal. */
export function globSource(glob: string): string {
  return `^${glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*")}$`;
}

export interface CompiledContract {
  index: number;
  config: ContractConfig;
  teams: ReadonlySet<string> | null;
  projects: ReadonlySet<string> | null;
  providers: ReadonlySet<string> | null;
  models: readonly RegExp[] | null;
  fromUs: number;
  toUs: number;
  /** Parts per million kept after the discount (1e6 = no discount). */
  keepPpm: bigint;
  prices: readonly { model: RegExp; rates: Rates }[];
}

function micro(usdPer1M: number | undefined): bigint | null {
  return usdPer1M === undefined ? null : toPpm(usdPer1M);
}

export function compileContracts(pricing: PricingConfig): CompiledContract[] {
  return pricing.contracts.map((c, i) => ({
    index: i + 1,
    config: c,
    teams: c.match.team ? new Set(c.match.team) : null,
    projects: c.match.project ? new Set(c.match.project) : null,
    providers: c.match.provider ? new Set(c.match.provider) : null,
    models: c.match.model ? c.match.model.map((m) => new RegExp(globSource(m), "i")) : null,
    fromUs: c.from === undefined ? Number.NEGATIVE_INFINITY : c.from * 1000,
    toUs: c.to === undefined ? Number.POSITIVE_INFINITY : c.to * 1000,
    // discountPercent has at most 6 decimals; ppm of the kept fraction rounds to the nearest ppm.
    keepPpm: PPM - BigInt(Math.round((c.discountPercent ?? 0) * 10_000)),
    prices: c.prices.map((p) => ({
      model: new RegExp(globSource(p.model), "i"),
      rates: {
        input: toPpm(p.input),
        output: toPpm(p.output),
        cacheRead: micro(p.cache_read),
        cacheWrite: micro(p.cache_write),
        reasoning: micro(p.reasoning),
      },
    })),
  }));
}

export interface ContractSubject {
  timestamp: number;
  team: string;
  project: string;
  provider: string;
  request_model: string;
  response_model: string;
}

/** The first contract covering the call. */
export function matchContract(
  contracts: readonly CompiledContract[],
  call: ContractSubject,
): CompiledContract | undefined {
  for (const c of contracts) {
    if (call.timestamp < c.fromUs || call.timestamp >= c.toUs) continue;
    if (c.teams && !c.teams.has(call.team)) continue;
    if (c.projects && !c.projects.has(call.project)) continue;
    if (c.providers && !c.providers.has(call.provider)) continue;
    if (c.models && !c.models.some((re) => re.test(call.request_model) || re.test(call.response_model))) continue;
    return c;
  }
  return undefined;
}

/** Rates with the catalog's fallbacks resolved (a kind without a price of its own bills as input or output). */
function billedRates(r: Rates): Required<{ [K in keyof Rates]: bigint }> {
  return {
    input: r.input,
    output: r.output,
    cacheRead: r.cacheRead ?? r.input,
    cacheWrite: r.cacheWrite ?? r.input,
    reasoning: r.reasoning ?? r.output,
  };
}

/** `x * num / den`, rounded half up; `num` when den is 0 (no list rate to take a ratio of). */
function scale(x: bigint, num: bigint, den: bigint): bigint {
  return den === 0n ? num : (x * num + den / 2n) / den;
}

/**
 * A contract's rates for one catalog price point (an entry's base rates or one of its
 * long-context tiers), if the contract has negotiated prices for the model.
 *
 * Negotiated prices are the base (standard-context) rates of the kinds they name. Everything
 * else keeps the list's structure, scaled by the contract:
 * - a long-context tier bills each kind at the negotiated rate times the list's tier premium
 *   for that kind (Claude above 200k: input x2, output x1.5), not at the base rate;
 * - a cache read or write the contract does not price keeps its list ratio to input (a cache
 *   write is 1.25x input at Anthropic), scaled by negotiated / list input; reasoning without a
 *   price of its own likewise follows output.
 * So a contract at 80% of list on input and output bills a long-context call with cache writes
 * at 80% of its list cost, never below the discount it names.
 */
export function negotiatedRates(
  contract: CompiledContract,
  point: Pick<PricePoint, "entry" | "rates">,
): Rates | undefined {
  const neg = contract.prices.find((p) => p.model.test(point.entry.model))?.rates;
  if (neg === undefined) return undefined;
  const base = billedRates(point.entry.base);
  const here = billedRates(point.rates);
  const named = (n: bigint, kind: keyof Rates) => scale(here[kind], n, base[kind]);
  const input = named(neg.input, "input");
  const output = named(neg.output, "output");
  return {
    input,
    output,
    cacheRead:
      neg.cacheRead !== null ? named(neg.cacheRead, "cacheRead") : scale(here.cacheRead, neg.input, base.input),
    cacheWrite:
      neg.cacheWrite !== null ? named(neg.cacheWrite, "cacheWrite") : scale(here.cacheWrite, neg.input, base.input),
    reasoning:
      neg.reasoning !== null ? named(neg.reasoning, "reasoning") : scale(here.reasoning, neg.output, base.output),
  };
}

// ---------------------------------------------------------------------------------------------
// price_id -> rates

export interface PricePoint {
  priceId: string;
  entry: PriceEntry;
  rates: Rates;
}

/** Every price id the book can produce (each entry, and each of its tiers). */
export function pricePoints(book: PriceBook): PricePoint[] {
  const out: PricePoint[] = [];
  for (const entry of book.entries) {
    const base = `${entry.id}@${entry.version}`;
    out.push({ priceId: base, entry, rates: entry.base });
    for (const tier of entry.tiers) out.push({ priceId: `${base}#tier>${tier.aboveInputTokens}`, entry, rates: tier });
  }
  return out;
}

/** price_id -> entry and rates, as enrich/pricing.ts writes price ids. */
export function pricePointIndex(book: PriceBook): Map<string, PricePoint> {
  return new Map(pricePoints(book).map((p) => [p.priceId, p]));
}

// ---------------------------------------------------------------------------------------------
// Rating

export interface RatingInput extends TokenCounts, ContractSubject {
  tags: Readonly<Record<string, string>>;
  request_params: string;
  price_id: string;
}

export interface Rating {
  /** Effective cost, USD decimal string. */
  cost_usd: string;
  /** List cost at the call's service tier, USD decimal string. */
  list_cost_usd: string;
  contract: string | null;
  tierPpm: bigint;
}

export interface Rater {
  /** undefined when the price id is not in the book (unpriced, or priced by another catalog). */
  rate(call: RatingInput): Rating | undefined;
}

export function createRater(book: PriceBook, pricing: PricingConfig): Rater {
  const points = pricePointIndex(book);
  const contracts = compileContracts(pricing);
  return {
    rate(call) {
      const point = points.get(call.price_id);
      if (point === undefined) return undefined;
      return rateWith(point, call, pricing, contracts);
    },
  };
}

export function rateWith(
  point: PricePoint,
  call: RatingInput,
  pricing: PricingConfig,
  contracts: readonly CompiledContract[],
): Rating {
  const m = tierMultiplierPpm(pricing, call.provider, serviceTierOf(call.tags, call.request_params));
  const pico = picoCost(call, point.rates);
  const list = roundDiv(pico * m, NANO_DIVISOR);
  const contract = contracts.length === 0 ? undefined : matchContract(contracts, call);
  let effective = list;
  if (contract !== undefined) {
    const negotiated = negotiatedRates(contract, point);
    effective =
      negotiated !== undefined
        ? roundDiv(picoCost(call, negotiated) * m, NANO_DIVISOR)
        : roundDiv(pico * m * contract.keepPpm, NANO_DIVISOR * PPM);
  }
  return {
    cost_usd: formatNanoUsd(effective),
    list_cost_usd: formatNanoUsd(list),
    contract: contract?.config.name ?? null,
    tierPpm: m,
  };
}

/** A stored row as the ingest pipeline builds it, plus the list cost column of migration 200. */
export interface RatedRow extends RatingInput {
  cost_usd: string | null;
  priced: number;
  list_cost_usd?: string | null;
}

/**
 * Wraps the pipeline's call enricher: rows priced from the catalog get their list cost (with the
 * service tier) in `list_cost_usd` and their effective cost (contracts) in `cost_usd`. Unpriced
 * rows keep cost NULL and list NULL. With no tiers used and no contracts, costs are unchanged.
 */
export function withContractPricing<C, R extends RatedRow>(
  enrich: (call: C) => R,
  book: PriceBook,
  pricing: PricingConfig,
): (call: C) => R {
  const rater = createRater(book, pricing);
  const noContracts = pricing.contracts.length === 0;
  return (call) => {
    const row = enrich(call);
    if (row.priced !== 1 || row.cost_usd === null) {
      row.list_cost_usd = null;
      return row;
    }
    // Hot path: list price at the standard tier, no contract: the catalog cost is both.
    if (noContracts && tierMultiplierPpm(pricing, row.provider, serviceTierOf(row.tags, row.request_params)) === PPM) {
      row.list_cost_usd = row.cost_usd;
      return row;
    }
    const rating = rater.rate(row);
    if (rating === undefined) {
      row.list_cost_usd = row.cost_usd;
      return row;
    }
    row.cost_usd = rating.cost_usd;
    row.list_cost_usd = rating.list_cost_usd;
    return row;
  };
}
