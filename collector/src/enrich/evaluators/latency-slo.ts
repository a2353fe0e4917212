import type { LlmCallRow } from "../../storage/rows.js";
import type { LatencySloConfig } from "./config.js";
import type { EvalInput, Finding } from "./types.js";

export const LATENCY_SLO_BREACH = "latency_slo_breach";

/** Thresholds in ms; 0 means no SLO for that measure. */
export interface LatencySlo {
  durationMs: number;
  ttftMs: number;
}

/** A case-insensitive glob (`*` any run, `?` one character) as an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let src = "";
  for (const ch of glob) {
    if (ch === "*") src += ".*";
    else if (ch === "?") src += ".";
    else src += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${src}$`, "i");
}

/** Distinct models remembered by the lookup before it starts over (model names are few). */
const LOOKUP_CACHE_MAX = 2048;

/**
 * The SLO that applies to a call: the first `models` entry whose glob matches the request or
 * response model, with unset thresholds taken from the defaults. Answers are cached per model
 * pair so the globs run once per model, not once per call.
 */
export function createSloLookup(
  cfg: LatencySloConfig,
): (row: Pick<LlmCallRow, "request_model" | "response_model">) => LatencySlo {
  const defaults: LatencySlo = { durationMs: cfg.durationMs, ttftMs: cfg.ttftMs };
  const rules = cfg.models.map((m) => ({
    re: globToRegExp(m.match),
    slo: { durationMs: m.durationMs ?? cfg.durationMs, ttftMs: m.ttftMs ?? cfg.ttftMs },
  }));
  if (rules.length === 0) return () => defaults;
  const cache = new Map<string, LatencySlo>();
  return (row) => {
    const key = `${row.request_model}\u0000${row.response_model}`;
    let slo = cache.get(key);
    if (slo === undefined) {
      slo = rules.find((r) => r.re.test(row.request_model) || r.re.test(row.response_model))?.slo ?? defaults;
      if (cache.size >= LOOKUP_CACHE_MAX) cache.clear();
      cache.set(key, slo);
    }
    return slo;
  };
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/**
 * "latency_slo_breach" 1/0: call duration above its SLO, or time to first token above its SLO
 * (streamed calls). Successful calls only: a failed call is counted by the error rate, and its
 * duration says little about latency.
 */
export function evaluateLatencySlo(input: EvalInput, slo: LatencySlo): Finding[] {
  const { row } = input;
  if (row.status !== "ok" || (slo.durationMs <= 0 && slo.ttftMs <= 0)) return [];
  const breaches: string[] = [];
  if (slo.durationMs > 0 && row.duration_ms > slo.durationMs) {
    breaches.push(`duration ${seconds(row.duration_ms)} > ${seconds(slo.durationMs)} SLO`);
  }
  if (slo.ttftMs > 0 && row.ttft_ms !== null && row.ttft_ms > slo.ttftMs) {
    breaches.push(`ttft ${seconds(row.ttft_ms)} > ${seconds(slo.ttftMs)} SLO`);
  }
  if (breaches.length === 0) return [{ name: LATENCY_SLO_BREACH, value: 0 }];
  return [{ name: LATENCY_SLO_BREACH, value: 1, comment: breaches.join("; ") }];
}
