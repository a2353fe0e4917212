import { PassThrough } from "node:stream";
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import { createPriceBook, type PriceBook } from "../enrich/price-book.js";
import { ERR_BAD_REQUEST, isTokenmeterError } from "../errors.js";
import { isTimeZone } from "../finops/config.js";
import type { Finops } from "../finops/finops.js";
import { exportFocus, utcMonth } from "../finops/focus-export.js";
import { forecastMonth } from "../finops/forecast.js";
import { reprice } from "../finops/reprice.js";
import { querySavings } from "../finops/savings.js";
import { GROUP_KEYS, type GroupKey, querySpend } from "../finops/spend.js";
import { localDateBound, parseOrThrow, timeParam } from "./query-params.js";

/**
 * FinOps read API and the reprice admin endpoint:
 *
 *   GET  /api/v1/spend?from=&to=&group_by=team,project,model,provider,user_id,day&tz=&team=&...
 *   GET  /api/v1/spend/forecast?month=YYYY-MM&tz=
 *   GET  /api/v1/spend/anomalies
 *   GET  /api/v1/savings?from=&to=
 *   GET  /api/v1/export/focus?month=YYYY-MM&format=csv|parquet
 *   POST /api/v1/admin/reprice  {from, to, model?, dry_run?, catalog?}  -> NDJSON progress, then the result
 *
 * Times are ISO-8601 or Unix epoch (s or ms); `to` defaults to now and `from` to 30 days before
 * (from the start of that hour). A date alone on spend and savings is midnight in `tz`.
 */

const DAY_US = 86_400_000_000;

const tz = z.string().refine(isTimeZone, { message: "expected an IANA time zone" }).optional();

const groupBy = z
  .string()
  .transform((v, ctx) => {
    const keys = v
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean);
    for (const k of keys) {
      if (!(GROUP_KEYS as readonly string[]).includes(k)) {
        ctx.addIssue({ code: "custom", message: `unknown key "${k}"; expected ${GROUP_KEYS.join(", ")}` });
        return z.NEVER;
      }
    }
    return keys as GroupKey[];
  })
  .optional();

const spendQuery = z.object({
  from: timeParam,
  to: timeParam,
  group_by: groupBy,
  tz,
  team: z.string().max(256).optional(),
  project: z.string().max(256).optional(),
  provider: z.string().max(256).optional(),
  model: z.string().max(256).optional(),
  limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
});

const month = z.string().regex(/^\d{4}-\d{2}$/, "expected YYYY-MM");

const repriceBody = z.strictObject({
  from: z.union([z.string(), z.number()]).transform((v) => String(v)),
  to: z
    .union([z.string(), z.number()])
    .transform((v) => String(v))
    .optional(),
  model: z.string().min(1).max(256).optional(),
  dry_run: z.boolean().default(false),
  /** A whole catalog (collector/prices/catalog.json format) to rate with instead of the server's. */
  catalog: z.record(z.string(), z.unknown()).optional(),
});

const HOUR_US = 3_600_000_000;

/**
 * Default range: the last 30 days, from the start of that hour (whole hours read the rollup).
 * A bound given as a date alone is midnight in the report's time zone, where its days start.
 */
function range(q: { from?: number | undefined; to?: number | undefined }, now: number, raw: unknown, timezone: string) {
  const given = (raw ?? {}) as Record<string, unknown>;
  const to = localDateBound(given["to"], timezone) ?? q.to;
  const from = localDateBound(given["from"], timezone) ?? q.from;
  const toUs = to ?? now * 1000;
  const fromUs = from ?? Math.floor((toUs - 30 * DAY_US) / HOUR_US) * HOUR_US;
  if (!(fromUs < toUs)) throw ERR_BAD_REQUEST("from must be before to");
  return { fromUs, toUs, openEnded: to === undefined };
}

export function registerSpendRoutes(
  app: FastifyInstance,
  deps: { finops: Finops; auth: preHandlerAsyncHookHandler | undefined },
): void {
  const { finops } = deps;
  const preHandler = deps.auth ? [deps.auth] : [];

  app.get("/api/v1/spend", { preHandler }, async (request) => {
    const q = parseOrThrow(spendQuery, request.query);
    const timezone = q.tz ?? finops.timezone;
    const { fromUs, toUs, openEnded } = range(q, finops.clock(), request.query, timezone);
    const { rows, source, total, groups, truncated } = await querySpend(finops.client, finops.database, {
      fromUs,
      toUs,
      openEnded,
      groupBy: q.group_by ?? [],
      timezone,
      filter: { team: q.team, project: q.project, provider: q.provider, model: q.model },
      limit: q.limit,
    });
    return {
      rows,
      meta: {
        from: new Date(fromUs / 1000).toISOString(),
        to: new Date(toUs / 1000).toISOString(),
        timezone,
        source,
        // `limit` (default 10,000) cuts the rows, never the total: it covers every group.
        groups,
        truncated,
        total,
      },
    };
  });

  app.get("/api/v1/spend/forecast", { preHandler }, async (request) => {
    const q = parseOrThrow(z.object({ month: month.optional(), tz }), request.query);
    return forecastMonth(finops.client, finops.database, {
      month: q.month,
      timezone: q.tz ?? finops.timezone,
      now: finops.clock(),
    });
  });

  app.get("/api/v1/spend/anomalies", { preHandler }, async () => {
    return { anomalies: await finops.anomalies.costAnomalies(finops.clock()) };
  });

  app.get("/api/v1/savings", { preHandler }, async (request) => {
    const q = parseOrThrow(z.object({ from: timeParam, to: timeParam, tz }), request.query);
    const timezone = q.tz ?? finops.timezone;
    const { fromUs, toUs } = range(q, finops.clock(), request.query, timezone);
    return querySavings(finops.client, finops.database, { fromUs, toUs, book: finops.book, timezone });
  });

  app.get("/api/v1/export/focus", { preHandler }, async (request, reply) => {
    const q = parseOrThrow(z.object({ month, format: z.enum(["csv", "parquet"]).default("csv") }), request.query);
    utcMonth(q.month);
    const stream = await exportFocus(finops.client, finops.database, { month: q.month, format: q.format });
    const name = `focus-${q.month}.${q.format}`;
    void reply
      .header("content-type", q.format === "csv" ? "text/csv; charset=utf-8" : "application/vnd.apache.parquet")
      .header("content-disposition", `attachment; filename="${name}"`);
    return reply.send(stream);
  });

  app.post("/api/v1/admin/reprice", { preHandler }, async (request, reply) => {
    const body = parseOrThrow(repriceBody, request.body ?? {});
    const from = parseOrThrow(z.object({ t: timeParam }), { t: body.from }).t;
    const to = body.to === undefined ? undefined : parseOrThrow(z.object({ t: timeParam }), { t: body.to }).t;
    if (from === undefined) throw ERR_BAD_REQUEST("from: required");
    let book: PriceBook = finops.book;
    if (body.catalog) {
      try {
        book = createPriceBook(body.catalog);
      } catch (err) {
        throw ERR_BAD_REQUEST(`catalog: ${(err as Error).message}`);
      }
    }
    if (finops.repricing.running) throw ERR_BAD_REQUEST("a reprice is already running on this server");
    finops.repricing.running = true;

    // NDJSON: progress lines while it runs, then {"result": ...} or {"error": ...}.
    const out = new PassThrough();
    void reply.header("content-type", "application/x-ndjson; charset=utf-8");
    let lastProgress = 0;
    reprice({
      client: finops.client,
      database: finops.database,
      cluster: finops.cluster,
      book,
      pricing: finops.pricing,
      fromUs: from,
      toUs: to ?? finops.clock() * 1000,
      model: body.model,
      dryRun: body.dry_run,
      clock: finops.clock,
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastProgress < 100 && p.done !== p.total) return;
        lastProgress = now;
        out.write(`${JSON.stringify({ progress: p })}\n`);
      },
    })
      .then((result) => out.end(`${JSON.stringify({ result })}\n`))
      .catch((err: unknown) => {
        const error = isTokenmeterError(err)
          ? { code: err.code, message: err.message }
          : { code: "TM_ERR_INTERNAL", message: (err as Error).message };
        request.log.error({ err }, "reprice failed");
        out.end(`${JSON.stringify({ error })}\n`);
      })
      .finally(() => {
        finops.repricing.running = false;
      });
    return reply.send(out);
  });
}
