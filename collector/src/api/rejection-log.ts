import type { Logger } from "../logger.js";

/** One refused ingest request, or the items a request's partial_success left out. */
export interface Rejection {
  signal: string;
  /** The coded error (TM_ERR_BAD_OTLP, ...) or the partial-success reason (invalid_span). */
  reason: string;
  status: number;
  /** Items left out of an accepted request (partial success); absent for a refused request. */
  items?: number;
  remoteAddress: string;
  userAgent: string | undefined;
}

const EVERY_MS = 60_000;
/** Distinct (signal, reason) pairs remembered; reasons are a small fixed set, so this is slack. */
const MAX_KEYS = 64;

/**
 * Logs ingest rejections at warn so an operator can find the sender (its address and user
 * agent name the exporter), at most once a minute per signal and reason: a misconfigured sender
 * is refused at every export, and one line a minute with the count left out says as much
 * without flooding. The error's message is never logged: a JSON parse error quotes the body,
 * and bodies hold prompts.
 */
export function createRejectionLog(logger: Logger, now: () => number = Date.now): (r: Rejection) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (r) => {
    if (!logger.isLevelEnabled("warn")) return;
    const key = `${r.signal}\u0000${r.reason}`;
    const t = now();
    const seen = last.get(key);
    if (seen !== undefined && t - seen.at < EVERY_MS) {
      seen.suppressed += 1;
      return;
    }
    if (seen === undefined && last.size >= MAX_KEYS) last.clear();
    last.set(key, { at: t, suppressed: 0 });
    logger.warn(
      { code: r.reason, ...r, suppressedBefore: seen?.suppressed ?? 0 },
      r.items === undefined
        ? `${r.signal} export refused (${r.status} ${r.reason})`
        : `${r.items} ${r.signal} item(s) left out of an accepted export (${r.reason})`,
    );
  };
}
