import { z } from "zod";

/** The built-in evaluators, by the name used in `evaluators.enabled` (and their file name). */
export const EVALUATOR_IDS = ["json-valid", "refusal", "empty-or-truncated", "pii-output", "latency-slo"] as const;
export type EvaluatorId = (typeof EVALUATOR_IDS)[number];

const thresholdMs = z.coerce.number().min(0);

/**
 * The `evaluators` section of tokenmeter.yaml. Every field has a default, so an absent section
 * runs all built-in evaluators with the default latency SLOs.
 *
 * ```yaml
 * evaluators:
 *   enabled: [json-valid, refusal, empty-or-truncated, pii-output, latency-slo]
 *   recordPasses: false
 *   latency:
 *     durationMs: 30000
 *     ttftMs: 2000
 *     models:
 *       - { match: "o3*", durationMs: 120000 }
 *       - { match: "claude-*-haiku*", ttftMs: 800 }
 * ```
 */
export const evaluatorsSchema = z
  .object({
    /** Evaluators that run at ingest; an empty list turns them all off. */
    enabled: z.array(z.enum(EVALUATOR_IDS)).default([...EVALUATOR_IDS]),
    /**
     * Also store a 0 score when a check passes, so score tables carry their own denominator.
     * Off by default: at ingest rates of tens of thousands of calls per second, five pass rows
     * per call would outweigh the calls themselves; rates use llm_calls as the denominator.
     */
    recordPasses: z.boolean().default(false),
    latency: z
      .object({
        /** Whole-call duration SLO in ms; 0 turns the check off. */
        durationMs: thresholdMs.default(30_000),
        /** Time-to-first-token SLO in ms for streamed calls; 0 turns the check off. */
        ttftMs: thresholdMs.default(2_000),
        /**
         * Per-model overrides, first match wins. `match` is a case-insensitive glob (`*`, `?`)
         * tried on the request model and the response model; unset thresholds keep the defaults.
         */
        models: z
          .array(
            z.object({
              match: z.string().min(1),
              durationMs: thresholdMs.optional(),
              ttftMs: thresholdMs.optional(),
            }),
          )
          .default([]),
      })
      .prefault({}),
  })
  .prefault({});

export type EvaluatorsConfig = z.infer<typeof evaluatorsSchema>;
export type LatencySloConfig = EvaluatorsConfig["latency"];
