import type { Config } from "./config/schema.js";
import { createCallEnricher } from "./enrich/enrich-call.js";
import { createEvaluators } from "./enrich/evaluators/index.js";
import { loadPriceBook, type PriceBook } from "./enrich/price-book.js";
import { createRedactor } from "./enrich/redact.js";
import type { PipelineStages } from "./ingest/process-batch.js";
import { createNormalizer, dedupeCalls, defaultAdapters } from "./normalize/registry.js";

/** The production stages: every convention adapter, the shipped price book, redaction. */
export function createDefaultStages(config: Config, book: PriceBook = loadPriceBook()): PipelineStages {
  const normalizer = createNormalizer(defaultAdapters, config.defaults);
  return {
    normalizeSpan: (span, source) => normalizer.normalizeSpan(span, source),
    dedupeCalls,
    enrichCall: createCallEnricher(book),
    redact: createRedactor(config.redaction),
    evaluate: createEvaluators(config.evaluators),
  };
}
