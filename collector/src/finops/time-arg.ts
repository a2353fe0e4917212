import { parseDuration } from "../alerts/duration.js";
import { ERR_BAD_REQUEST } from "../errors.js";
import { fromLocal } from "./time-zone.js";

export interface TimeOptions {
  /** A duration start is moved back to the start of its hour. */
  hourAligned?: boolean;
  /** IANA zone a date without a time ("2026-12-01") starts in; UTC when not given. */
  timeZone?: string;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * A time as Unix ms: a duration back from now ("30d", "12h", "1w"), an ISO-8601 date or time
 * ("2026-10-01", "2026-10-01T12:00:00Z"), or "now"; undefined when it is none of them.
 */
export function parseTime(text: string, now: number, opts: TimeOptions = {}): number | undefined {
  const t = text.trim();
  if (t === "now") return now;
  const d = parseDuration(t);
  // "30d" back from now, from the start of that hour: whole hours are read from the rollup.
  if (d !== undefined) return opts.hourAligned ? Math.floor((now - d) / 3_600_000) * 3_600_000 : now - d;
  const date = opts.timeZone === undefined ? null : DATE_ONLY.exec(t);
  if (date && opts.timeZone !== undefined) {
    // A report's days start at local midnight (its day buckets are local days), so a day given
    // as a bound does too; read as UTC it would cut or add the hours of the zone's offset.
    const [y, m, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
    if (Number.isFinite(Date.parse(t))) return fromLocal(y, m, day, opts.timeZone);
  }
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Times on the command line (see parseTime); anything else is a coded error naming the flag. */
export function parseTimeArg(text: string, now: number, flag: string, opts: TimeOptions = {}): number {
  const ms = parseTime(text, now, opts);
  if (ms === undefined)
    throw ERR_BAD_REQUEST(`${flag}: expected a duration like 30d, an ISO date or "now", got "${text}"`);
  return ms;
}
