import type { Config } from "./config/schema.js";
import { createCallEnricher } from "./enrich/enrich-call.js";
import { createEvaluators } from "./enrich/evaluators/index.js";
import type { PriceBook } from "./enrich/price-book.js";
import { createRedactor } from "./enrich/redact.js";
import { loadConfiguredPriceBook } from "./finops/catalog.js";
import { withContractPricing } from "./finops/rating.js";
import type { PipelineStages } from "./ingest/process-batch.js";
import { createNormalizer, dedupeCalls, defaultAdapters } from "./normalize/registry.js";

/** The production stages: every convention adapter, the shipped price book, redaction. */
export function createDefaultStages(config: Config, book: PriceBook = loadConfiguredPriceBook(config)): PipelineStages {
  const normalizer = createNormalizer(defaultAdapters, config.defaults);
  return {
    normalizeSpan: (span, source) => normalizer.normalizeSpan(span, source),
    dedupeCalls,
    // Contract rates, discounts and service tiers (list vs effective cost) wrap the list price.
    enrichCall: withContractPricing(createCallEnricher(book), book, config.pricing),
    redact: createRedactor(config.redaction),
    evaluate: createEvaluators(config.evaluators),
  };
}
