import { createHash } from "node:crypto";
import type { LlmCallRow, ScoreRow } from "../../storage/rows.js";
import type { EvaluatorId, EvaluatorsConfig } from "./config.js";
import { evaluateEmptyOrTruncated } from "./empty-or-truncated.js";
import { evaluateJsonValid } from "./json-valid.js";
import { createSloLookup, evaluateLatencySlo } from "./latency-slo.js";
import { parseOutputMessages } from "./output-messages.js";
import { evaluatePiiOutput } from "./pii-output.js";
import { evaluateRefusal } from "./refusal.js";
import type { EvalInput, Evaluator, Finding, OutputMessage } from "./types.js";

export { EVALUATOR_IDS, type EvaluatorId, type EvaluatorsConfig, evaluatorsSchema } from "./config.js";
export type { EvalInput, Evaluator, Finding, OutputMessage } from "./types.js";

/**
 * The score id of an evaluator's finding on a call: the same call evaluated again (a re-sent
 * span, a spool replay) gets the same id, so the scores table (ReplacingMergeTree on
 * name, trace_id, score_id) keeps one row.
 */
export function evaluatorScoreId(traceId: string, spanId: string, name: string): string {
  return createHash("sha1").update(`evaluator:${traceId}:${spanId}:${name}`).digest("hex").slice(0, 32);
}

function toScoreRow(row: LlmCallRow, f: Finding): ScoreRow {
  return {
    timestamp: row.timestamp,
    score_id: evaluatorScoreId(row.trace_id, row.span_id, f.name),
    trace_id: row.trace_id,
    span_id: row.span_id,
    name: f.name,
    value: f.value,
    label: f.label ?? "",
    source: "evaluator",
    comment: f.comment ?? "",
    data_type: f.data_type ?? "boolean",
  };
}

/** An evaluator's input for `row`; its output messages are parsed on first use, then shared. */
export function createEvalInput(row: LlmCallRow): EvalInput {
  let parsed: OutputMessage[] | undefined;
  return { row, output: () => (parsed ??= parseOutputMessages(row.output)) };
}

export interface EvaluatorsOptions {
  /** Told when an evaluator throws (a bug); the call and the other evaluators carry on. */
  onError?: (evaluator: EvaluatorId, err: unknown) => void;
}

/**
 * The built-in evaluators as the pipeline's `onCall` hook: one stored call in, its scores out
 * (source "evaluator", timestamped at the call). Runs on every call at ingest, so each evaluator
 * answers from the row's columns where it can, and the output JSON is parsed at most once per
 * call, only when an evaluator needs the text. Never throws.
 */
export function createEvaluators(cfg: EvaluatorsConfig, opts: EvaluatorsOptions = {}): (row: LlmCallRow) => ScoreRow[] {
  const sloFor = createSloLookup(cfg.latency);
  const all: Record<EvaluatorId, Evaluator> = {
    "json-valid": evaluateJsonValid,
    refusal: evaluateRefusal,
    "empty-or-truncated": evaluateEmptyOrTruncated,
    "pii-output": evaluatePiiOutput,
    "latency-slo": (input) => evaluateLatencySlo(input, sloFor(input.row)),
  };
  const active = [...new Set(cfg.enabled)].map((id) => [id, all[id]] as const);
  const recordPasses = cfg.recordPasses;
  if (active.length === 0) return () => [];

  return (row) => {
    const input = createEvalInput(row);
    const scores: ScoreRow[] = [];
    for (const [id, evaluate] of active) {
      let findings: readonly Finding[];
      try {
        findings = evaluate(input);
      } catch (err) {
        try {
          opts.onError?.(id, err);
        } catch {
          // A failing error reporter must not take the call down either.
        }
        continue;
      }
      for (const f of findings) {
        if (f.value === 0 && !recordPasses) continue;
        scores.push(toScoreRow(row, f));
      }
    }
    return scores;
  };
}
