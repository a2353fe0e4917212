import { readFileSync } from "node:fs";

/**
 * Prompt-cache savings need list prices, which live in the price catalog, not in ClickHouse.
 * This renders, from collector/prices/catalog.json, a ClickHouse map from the `price_id` that
 * pricing stamps on every priced call to the per-token differences caching makes:
 *
 *   price_id -> (input - cache_read, cache_write - input)   in USD per 1M tokens
 *
 * so a call saved  cache_read_tokens * .1 / 1e6  on its reads and paid  cache_write_tokens * .2
 * / 1e6  extra to write the cache. Keys follow pricing.ts: `<id>@<version>`, plus
 * `#tier>N` for long-context tiers, whose rates stand alone (a tier without a cache-read price
 * bills cache reads at its input price, so it saves nothing). A rate absent from the catalog is
 * left out, so the map's default (0, 0) applies: no savings claimed without a price.
 *
 * The dashboards embed the map at build time: regenerate them (`npm run dashboards`) after the
 * catalog changes; the dashboards test fails until then.
 */

export const DEFAULT_CATALOG_URL = new URL("../../collector/prices/catalog.json", import.meta.url);

interface CatalogRates {
  input: number;
  cache_read?: number;
  cache_write?: number;
}

interface CatalogTier extends CatalogRates {
  above_input_tokens: number;
}

interface CatalogEntry extends CatalogRates {
  id: string;
  version: string;
  tiers?: CatalogTier[];
}

function isEntry(value: unknown): value is CatalogEntry {
  if (typeof value !== "object" || value === null) return false;
  const rec = value as Record<string, unknown>;
  return typeof rec["id"] === "string" && typeof rec["version"] === "string" && typeof rec["input"] === "number";
}

/** USD per 1M tokens in micro-USD, so differences are exact (prices have at most 6 decimals). */
function micro(usd: number): number {
  return Math.round(usd * 1_000_000);
}

function usd(microUsd: number): string {
  return (microUsd / 1_000_000).toFixed(6).replace(/\.?0+$/, "");
}

function rateTuple(r: CatalogRates): [number, number] | undefined {
  const readSaving = r.cache_read === undefined ? 0 : micro(r.input) - micro(r.cache_read);
  const writePremium = r.cache_write === undefined ? 0 : micro(r.cache_write) - micro(r.input);
  return readSaving === 0 && writePremium === 0 ? undefined : [readSaving, writePremium];
}

/** The (price_id, rates) pairs, sorted by price_id so the output is stable. */
export function promptCacheRates(catalog: unknown): [string, [number, number]][] {
  const entries = (catalog as { entries?: unknown }).entries;
  if (!Array.isArray(entries)) throw new Error("price catalog has no entries array");
  const out: [string, [number, number]][] = [];
  for (const entry of entries) {
    if (!isEntry(entry)) throw new Error(`price catalog entry is malformed: ${JSON.stringify(entry).slice(0, 120)}`);
    const key = `${entry.id}@${entry.version}`;
    const base = rateTuple(entry);
    if (base) out.push([key, base]);
    for (const tier of entry.tiers ?? []) {
      const rates = rateTuple(tier);
      if (rates) out.push([`${key}#tier>${tier.above_input_tokens}`, rates]);
    }
  }
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The ClickHouse expression: `map('<price_id>', (read_saving, write_premium), ...)`. */
export function promptCacheRatesSql(catalog: unknown): string {
  const pairs = promptCacheRates(catalog);
  if (pairs.length === 0) return "CAST(map(), 'Map(String, Tuple(Float64, Float64))')";
  const items = pairs.map(([id, [read, write]]) => `'${id.replaceAll("'", "''")}', (${usd(read)}, ${usd(write)})`);
  return `CAST(map(${items.join(", ")}), 'Map(String, Tuple(Float64, Float64))')`;
}

export function loadCatalog(url: URL = DEFAULT_CATALOG_URL): unknown {
  return JSON.parse(readFileSync(url, "utf8"));
}
