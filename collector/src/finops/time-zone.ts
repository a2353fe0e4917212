/**
 * Calendar arithmetic in an IANA time zone with nothing but Intl: local midnight, the start of
 * the week and of the month, as UTC instants. DST is handled by asking Intl for the offset at
 * the candidate instant and correcting once more when the offset differs there.
 */

export type CalendarUnit = "day" | "week" | "month";

const DAY_MS = 86_400_000;

interface LocalParts {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday ... 6 = Saturday */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short",
    });
    formatters.set(tz, f);
  }
  return f;
}

const WEEKDAYS: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** Wall-clock fields of an instant in a time zone. */
export function localParts(ms: number, tz: string): LocalParts {
  const out: LocalParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, weekday: 0 };
  for (const p of formatter(tz).formatToParts(new Date(ms))) {
    switch (p.type) {
      case "year":
        out.year = Number(p.value);
        break;
      case "month":
        out.month = Number(p.value);
        break;
      case "day":
        out.day = Number(p.value);
        break;
      case "hour":
        out.hour = Number(p.value);
        break;
      case "minute":
        out.minute = Number(p.value);
        break;
      case "second":
        out.second = Number(p.value);
        break;
      case "weekday":
        out.weekday = WEEKDAYS[p.value] ?? 0;
        break;
    }
  }
  return out;
}

/** Offset of the zone from UTC at an instant, in ms (Berlin in summer: +7_200_000). */
export function zoneOffsetMs(ms: number, tz: string): number {
  const p = localParts(ms, tz);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The UTC instant of a local wall-clock time. A time skipped by a DST jump resolves to the
 * instant just after the jump; a repeated one to its first occurrence.
 */
export function fromLocal(year: number, month: number, day: number, tz: string, hour = 0): number {
  const wall = Date.UTC(year, month - 1, day, hour);
  let guess = wall - zoneOffsetMs(wall, tz);
  const second = wall - zoneOffsetMs(guess, tz);
  if (second !== guess) guess = Math.min(guess, second);
  // Midnight skipped by a jump (e.g. America/Santiago): the first instant of that local day.
  const p = localParts(guess, tz);
  if (Date.UTC(p.year, p.month - 1, p.day) < Date.UTC(year, month - 1, day)) {
    guess += 3_600_000 - ((p.minute * 60 + p.second) * 1000 + (guess % 1000));
  }
  return guess;
}

/** Start (inclusive) and end (exclusive) of the calendar day, week or month holding `ms`. */
export function calendarWindow(
  ms: number,
  unit: CalendarUnit,
  tz: string,
  weekStart: "monday" | "sunday" = "monday",
): { start: number; end: number } {
  const p = localParts(ms, tz);
  if (unit === "month") {
    const start = fromLocal(p.year, p.month, 1, tz);
    const next = p.month === 12 ? [p.year + 1, 1] : [p.year, p.month + 1];
    return { start, end: fromLocal(next[0] ?? p.year, next[1] ?? 1, 1, tz) };
  }
  let back = 0;
  if (unit === "week") back = (p.weekday - (weekStart === "monday" ? 1 : 0) + 7) % 7;
  // Calendar days as UTC dates, so month and year roll over correctly.
  const startDay = new Date(Date.UTC(p.year, p.month - 1, p.day) - back * DAY_MS);
  const length = unit === "week" ? 7 : 1;
  const endDay = new Date(startDay.getTime() + length * DAY_MS);
  return {
    start: fromLocal(startDay.getUTCFullYear(), startDay.getUTCMonth() + 1, startDay.getUTCDate(), tz),
    end: fromLocal(endDay.getUTCFullYear(), endDay.getUTCMonth() + 1, endDay.getUTCDate(), tz),
  };
}

/** Local midnights from the day holding `from` up to `to` (exclusive), as UTC instants. */
export function localDays(from: number, to: number, tz: string): number[] {
  const out: number[] = [];
  let cur = calendarWindow(from, "day", tz);
  while (cur.start < to) {
    out.push(cur.start);
    cur = calendarWindow(cur.end, "day", tz);
  }
  return out;
}

/** "YYYY-MM-DD" of an instant in a time zone. */
export function localDate(ms: number, tz: string): string {
  const p = localParts(ms, tz);
  return `${p.year}-${String(p.month).padStart(2, "0")}-${String(p.day).padStart(2, "0")}`;
}

/** True when the zone's offset is a whole number of hours at every instant checked. */
export function wholeHourOffsets(tz: string, instants: readonly number[]): boolean {
  return instants.every((ms) => zoneOffsetMs(ms, tz) % 3_600_000 === 0);
}
