/**
 * `recordScore()`: attaches an evaluation score or user feedback to a traced call by posting it
 * to the collector (`POST /api/v1/scores`). It needs only the trace id (and optionally the span
 * id), so it works from any process that has them, e.g. a feedback endpoint receiving ids the
 * UI got from the response. It never throws: the result says whether the collector took it.
 */
import { isSpanContextValid, trace } from "@opentelemetry/api";
import { currentRuntime } from "./runtime.js";
import type { ScoreInput, ScoreOptions, ScoreResult } from "./types.js";

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const DEFAULT_TIMEOUT_MS = 5000;

function scoresUrl(endpoint: string | undefined): string {
  if (endpoint === undefined) return currentRuntime().config.scoresUrl;
  return `${endpoint.replace(/\/+$/, "")}/api/v1/scores`;
}

/** The collector's coded error, when the body is one (`{ code, message }`), else the status line. */
async function failure(res: Response): Promise<ScoreResult> {
  let error = `HTTP ${res.status}`;
  try {
    const body: unknown = await res.json();
    if (body !== null && typeof body === "object") {
      const { code, message } = body as { code?: unknown; message?: unknown };
      if (typeof message === "string") error = typeof code === "string" ? `${code}: ${message}` : message;
    }
  } catch {
    // not JSON: keep the status
  }
  return { ok: false, status: res.status, error };
}

export async function recordScore(score: ScoreInput, options: ScoreOptions = {}): Promise<ScoreResult> {
  try {
    let traceId = score.traceId?.toLowerCase();
    let spanId = score.spanId?.toLowerCase();
    if (traceId === undefined) {
      const active = trace.getActiveSpan()?.spanContext();
      if (active !== undefined && isSpanContextValid(active)) {
        traceId = active.traceId;
        spanId ??= active.spanId;
      }
    }
    if (traceId === undefined || !TRACE_ID.test(traceId)) {
      return { ok: false, error: "traceId: expected 32 hex characters (or call inside a traced span)" };
    }
    if (spanId !== undefined && !SPAN_ID.test(spanId))
      return { ok: false, error: "spanId: expected 16 hex characters" };
    if (typeof score.name !== "string" || score.name.trim() === "") return { ok: false, error: "name: required" };
    const value = typeof score.value === "number" && Number.isFinite(score.value) ? score.value : undefined;
    const label = typeof score.label === "string" && score.label !== "" ? score.label : undefined;
    if (value === undefined && label === undefined) return { ok: false, error: "a score needs a value or a label" };

    const body = {
      trace_id: traceId,
      span_id: spanId,
      name: score.name,
      value,
      label,
      comment: score.comment,
      source: "sdk",
    };
    const url = scoresUrl(options.endpoint);
    const headers = {
      "content-type": "application/json",
      ...(options.endpoint === undefined ? currentRuntime().config.scoreHeaders : {}),
      ...options.headers,
    };
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    if (!res.ok) return await failure(res);
    const answer: unknown = await res.json().catch(() => undefined);
    const ids = (answer as { ids?: unknown } | undefined)?.ids;
    return { ok: true, ids: Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [] };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}
