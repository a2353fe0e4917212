import { randomUUID } from "node:crypto";
import type { ClickHouseClient } from "@clickhouse/client";
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import type { BatchWriter } from "../storage/batch-writer.js";
import type { ScoreRow } from "../storage/rows.js";
import { hexId, JSON_OUTPUT_SETTINGS, parseOrThrow, timeParam } from "./query-params.js";

/** Most scores accepted in one `{ scores: [...] }` request. */
export const MAX_SCORES_PER_REQUEST = 1000;

// DateTime64(6) holds 1900..2299; a score time outside 1970..2200 is a client bug.
const MAX_TIMESTAMP_MS = Date.UTC(2200, 0, 1);
// Below this an epoch number is almost surely seconds (it would be early 1973 in milliseconds).
const MIN_EPOCH_MS = 1e11;

/** A score time: epoch milliseconds, or an ISO-8601 string. Parsed to epoch milliseconds. */
const scoreTimestamp = z
  .union([z.number(), z.string()], { error: "expected an ISO-8601 time or epoch milliseconds" })
  .transform((v, ctx) => {
    let ms: number;
    if (typeof v === "number") {
      if (!Number.isFinite(v) || v < MIN_EPOCH_MS) {
        ctx.addIssue({ code: "custom", message: "expected epoch milliseconds (this looks like seconds)" });
        return z.NEVER;
      }
      ms = v;
    } else {
      ms = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
      if (!Number.isFinite(ms)) {
        ctx.addIssue({ code: "custom", message: "expected an ISO-8601 time or epoch milliseconds" });
        return z.NEVER;
      }
    }
    if (ms < 0 || ms > MAX_TIMESTAMP_MS) {
      ctx.addIssue({ code: "custom", message: "expected a time between 1970 and 2200" });
      return z.NEVER;
    }
    return ms;
  });

/**
 * One score as clients send it (POST /api/v1/scores, the SDK's scores client). Exported so the
 * SDK documentation can point at the exact rules:
 * - `value` (number), `label` (string) or `boolean` must be present;
 * - `boolean: true|false` stores value 1/0 with data_type "boolean" (and label "true"/"false"
 *   unless one is given);
 * - `data_type` is inferred when absent: boolean -> "boolean", value -> "numeric", else
 *   "categorical";
 * - `id` makes the score idempotent: sending it again replaces the stored one.
 */
export const scoreInputSchema = z
  .object({
    /**
     * Client-chosen score id. Re-sending it for the same trace and name replaces the score; send
     * the original timestamp too, since rows are partitioned by month and replaced within one.
     */
    id: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[\x21-\x7e]+$/, "expected printable ASCII without spaces")
      .optional(),
    trace_id: hexId(32),
    span_id: hexId(16).optional(),
    name: z.string().trim().min(1).max(256),
    value: z.number().optional(),
    label: z.string().max(1024).optional(),
    boolean: z.boolean().optional(),
    comment: z
      .string()
      .max(16 * 1024)
      .optional(),
    source: z.string().trim().min(1).max(64).default("api"),
    data_type: z.enum(["numeric", "categorical", "boolean"]).optional(),
    timestamp: scoreTimestamp.optional(),
  })
  .superRefine((s, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (s.value === undefined && !s.label && s.boolean === undefined) {
      issue("value", "a score needs a value, a label or a boolean");
      return;
    }
    if (s.boolean !== undefined) {
      if (s.value !== undefined) issue("boolean", "send either boolean or value, not both");
      if (s.data_type !== undefined && s.data_type !== "boolean") {
        issue("data_type", `a boolean score cannot have data_type "${s.data_type}"`);
      }
      return;
    }
    switch (s.data_type) {
      case "numeric":
        if (s.value === undefined) issue("value", 'data_type "numeric" needs a value');
        break;
      case "categorical":
        if (s.label === undefined || s.label === "") issue("label", 'data_type "categorical" needs a label');
        break;
      case "boolean":
        if (s.value !== 0 && s.value !== 1) issue("value", 'data_type "boolean" needs boolean, or value 0 or 1');
        break;
      case undefined:
        break;
    }
  });

/** The body of POST /api/v1/scores in its batch form. */
export const scoresBatchSchema = z.object({
  scores: z.array(scoreInputSchema).min(1).max(MAX_SCORES_PER_REQUEST),
});

/** What a client may send for one score (before defaults and normalization). */
export type ScoreInput = z.input<typeof scoreInputSchema>;
type ParsedScore = z.output<typeof scoreInputSchema>;

export const scoresQuerySchema = z.object({
  trace_id: hexId(32).optional(),
  span_id: hexId(16).optional(),
  name: z.string().min(1).max(256).optional(),
  source: z.string().min(1).max(64).optional(),
  from: timeParam,
  to: timeParam,
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** A validated score -> its row; `nowMs` is the time used when the client sent none. */
export function scoreRowFromInput(s: ParsedScore, nowMs: number): ScoreRow {
  let value: number | null = s.value ?? null;
  let label = s.label ?? "";
  let dataType: ScoreRow["data_type"];
  if (s.boolean !== undefined) {
    value = s.boolean ? 1 : 0;
    if (s.label === undefined) label = s.boolean ? "true" : "false";
    dataType = "boolean";
  } else {
    dataType = s.data_type ?? (s.value !== undefined ? "numeric" : "categorical");
  }
  return {
    timestamp: Math.round((s.timestamp ?? nowMs) * 1000),
    score_id: s.id ?? randomUUID(),
    trace_id: s.trace_id,
    span_id: s.span_id ?? "",
    name: s.name,
    value,
    label,
    source: s.source,
    comment: s.comment ?? "",
    data_type: dataType,
  };
}

function isBatch(body: unknown): boolean {
  return typeof body === "object" && body !== null && !Array.isArray(body) && "scores" in body;
}

export interface ScoresRouteDeps {
  writer: BatchWriter;
  client: ClickHouseClient;
  database: string;
  auth: preHandlerAsyncHookHandler | undefined;
  /** Largest accepted body; 1000 scores with long comments need more than Fastify's 1 MiB. */
  bodyLimit?: number;
}

/**
 * POST /api/v1/scores (one score, or `{ scores: [...] }`) and GET /api/v1/scores. The scores
 * table is a ReplacingMergeTree keyed by (name, trace_id, score_id), so a re-sent id replaces the
 * earlier row at merge time; reads use FINAL to see the replaced state before that merge.
 */
export function registerScoresRoutes(app: FastifyInstance, deps: ScoresRouteDeps): void {
  const { writer, client, database: db } = deps;
  const preHandler = deps.auth ? [deps.auth] : [];

  app.post("/api/v1/scores", { preHandler, bodyLimit: deps.bodyLimit ?? 8 * 1024 * 1024 }, async (request, reply) => {
    const inputs = isBatch(request.body)
      ? parseOrThrow(scoresBatchSchema, request.body).scores
      : [parseOrThrow(scoreInputSchema, request.body)];
    const now = Date.now();
    const rows = inputs.map((s) => scoreRowFromInput(s, now));
    // The same score twice in one request (same table key): the last one wins, as it would
    // across requests. Sending both in one insert would leave the choice to the merge order.
    const byKey = new Map<string, ScoreRow>();
    for (const r of rows) {
      const key = `${r.name}\u0000${r.trace_id}\u0000${r.score_id}`;
      byKey.delete(key);
      byKey.set(key, r);
    }
    const unique = [...byKey.values()];
    writer.admit(unique.length);
    // Answer only once the rows are durable (ClickHouse or the disk spool).
    await writer.write("scores", unique);
    return reply.status(201).send({ ids: rows.map((r) => r.score_id) });
  });

  app.get("/api/v1/scores", { preHandler }, async (request) => {
    const q = parseOrThrow(scoresQuerySchema, request.query);
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    for (const column of ["trace_id", "span_id", "name", "source"] as const) {
      const v = q[column];
      if (v === undefined) continue;
      where.push(`${column} = {${column}:String}`);
      params[column] = v;
    }
    if (q.from !== undefined) {
      where.push("timestamp >= fromUnixTimestamp64Micro({from:Int64}, 'UTC')");
      params["from"] = q.from;
    }
    if (q.to !== undefined) {
      where.push("timestamp < fromUnixTimestamp64Micro({to:Int64}, 'UTC')");
      params["to"] = q.to;
    }
    const rs = await client.query({
      query: `SELECT timestamp, score_id, trace_id, span_id, name, value, label, source, comment, data_type FROM ${db}.scores FINAL${
        where.length ? ` WHERE ${where.join(" AND ")}` : ""
      } ORDER BY timestamp DESC, score_id LIMIT {limit:UInt32}`,
      query_params: params,
      format: "JSONEachRow",
      clickhouse_settings: JSON_OUTPUT_SETTINGS,
    });
    return { scores: await rs.json() };
  });
}
