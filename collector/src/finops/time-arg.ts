import { parseDuration } from "../alerts/duration.js";
import { ERR_BAD_REQUEST } from "../errors.js";

/**
 * Times on the command line: a duration back from now ("30d", "12h", "1w"), an ISO-8601 date
 * or time ("2026-10-01", "2026-10-01T12:00:00Z"), or "now". Returns Unix ms.
 */
export function parseTimeArg(text: string, now: number, flag: string): number {
  const t = text.trim();
  if (t === "now") return now;
  const d = parseDuration(t);
  if (d !== undefined) return now - d;
  const ms = Date.parse(t);
  if (!Number.isFinite(ms))
    throw ERR_BAD_REQUEST(`${flag}: expected a duration like 30d, an ISO date or "now", got "${text}"`);
  return ms;
}
