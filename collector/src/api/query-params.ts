import { z } from "zod";
import { ERR_BAD_REQUEST } from "../errors.js";

/** A time bound: ISO-8601, or Unix epoch in seconds / milliseconds. Parsed to Unix µs. */
export const timeParam = z
  .string()
  .transform((v, ctx) => {
    const n = Number(v);
    let ms: number;
    if (v.trim() !== "" && Number.isFinite(n)) ms = n < 1e11 ? n * 1000 : n;
    else ms = Date.parse(v);
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: "custom", message: "expected an ISO-8601 time or a Unix epoch" });
      return z.NEVER;
    }
    return Math.round(ms * 1000);
  })
  .optional();

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
