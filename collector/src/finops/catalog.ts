import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Config } from "../config/schema.js";
import { loadPriceBook, type PriceBook } from "../enrich/price-book.js";

/**
 * The price catalog tokenmeter.yaml names (`pricing.catalog`, a file in the format of
 * collector/prices/catalog.json), or the shipped one. Ingest (every worker), reprice and savings
 * all price from this one.
 */
export function loadConfiguredPriceBook(config: Pick<Config, "pricing">): PriceBook {
  return config.pricing.catalog ? loadPriceBook(pathToFileURL(resolve(config.pricing.catalog))) : loadPriceBook();
}
