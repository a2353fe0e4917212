import { z } from "zod";
import { parseDuration } from "../alerts/duration.js";
import { ERR_BAD_REQUEST } from "../errors.js";
import { parseTime } from "../finops/time-arg.js";

/**
 * A time bound: ISO-8601, Unix epoch in seconds or milliseconds, "now", or a duration back from
 * now as the CLI takes it ("30d", "1h30m"; also written "now-1h"). Parsed to Unix µs.
 */
export const timeParam = z
  .string()
  .transform((v, ctx) => {
    const ms = parseTimeBound(v, Date.now());
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: 'expected an ISO-8601 time, a Unix epoch, "now" or a duration back from now such as 24h',
      });
      return z.NEVER;
    }
    return Math.round(ms * 1000);
  })
  .optional();

/**
 * Unix µs of a bound given as a date alone ("2026-12-01"), at midnight in `timeZone`; undefined
 * for any other value (timeParam's reading of it stands). For reports bucketed by local day.
 */
export function localDateBound(raw: unknown, timeZone: string): number | undefined {
  if (typeof raw !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(raw.trim())) return undefined;
  const ms = parseTime(raw, Date.now(), { timeZone });
  return ms === undefined ? undefined : ms * 1000;
}

/** Unix ms of a time bound (see timeParam), or undefined when it is none. */
export function parseTimeBound(text: string, now: number): number | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  const n = Number(t);
  if (Number.isFinite(n)) return n < 1e11 ? n * 1000 : n;
  if (t.startsWith("now-")) {
    const back = parseDuration(t.slice(4));
    return back === undefined ? undefined : now - back;
  }
  return parseTime(t, now);
}

export const hexId = (len: number) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${len}}$`), `expected ${len} hex characters`)
    .transform((s) => s.toLowerCase());

/** Parses with a zod schema, throwing TM_ERR_BAD_REQUEST naming the field on failure. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw ERR_BAD_REQUEST(`${issue?.path.join(".") || "request"}: ${issue?.message ?? "invalid"}`);
  }
  return r.data;
}

/** Settings that make ClickHouse JSON output friendly to API clients. */
export const JSON_OUTPUT_SETTINGS = {
  date_time_output_format: "iso",
  output_format_json_quote_64bit_integers: 0,
  output_format_json_quote_decimals: 1,
} as const;
