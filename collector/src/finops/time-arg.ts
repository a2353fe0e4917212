import { parseDuration } from "../alerts/duration.js";
import { ERR_BAD_REQUEST } from "../errors.js";

/**
 * A time as Unix ms: a duration back from now ("30d", "12h", "1w"), an ISO-8601 date or time
 * ("2026-10-01", "2026-10-01T12:00:00Z"), or "now"; undefined when it is none of them. With
 * `hourAligned`, a duration start is moved back to the start of its hour.
 */
export function parseTime(text: string, now: number, opts: { hourAligned?: boolean } = {}): number | undefined {
  const t = text.trim();
  if (t === "now") return now;
  const d = parseDuration(t);
  // "30d" back from now, from the start of that hour: whole hours are read from the rollup.
  if (d !== undefined) return opts.hourAligned ? Math.floor((now - d) / 3_600_000) * 3_600_000 : now - d;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Times on the command line (see parseTime); anything else is a coded error naming the flag. */
export function parseTimeArg(text: string, now: number, flag: string, opts: { hourAligned?: boolean } = {}): number {
  const ms = parseTime(text, now, opts);
  if (ms === undefined)
    throw ERR_BAD_REQUEST(`${flag}: expected a duration like 30d, an ISO date or "now", got "${text}"`);
  return ms;
}
