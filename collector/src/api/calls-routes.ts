import type { ClickHouseClient } from "@clickhouse/client";
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import { ERR_NOT_FOUND } from "../errors.js";
import { hexId, JSON_OUTPUT_SETTINGS, parseOrThrow, timeParam } from "./query-params.js";

const callsQuery = z.object({
  trace_id: hexId(32).optional(),
  team: z.string().max(256).optional(),
  project: z.string().max(256).optional(),
  model: z.string().max(256).optional(),
  provider: z.string().max(256).optional(),
  status: z.enum(["ok", "error", "cancelled"]).optional(),
  user_id: z.string().max(512).optional(),
  session_id: z.string().max(512).optional(),
  source: z.enum(["sdk", "proxy", "otlp"]).optional(),
  from: timeParam,
  to: timeParam,
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  include_content: z.enum(["0", "1", "true", "false"]).optional(),
  cursor: z
    .string()
    .max(200)
    .transform((v, ctx) => {
      const position = decodeCursor(v);
      if (position === undefined) {
        ctx.addIssue({ code: "custom", message: "not a cursor this API returned (next_cursor)" });
        return z.NEVER;
      }
      return position;
    })
    .optional(),
});

/** Where a page ended: the last call's time (Unix µs) and ids, the keys the list is sorted by. */
interface Position {
  us: number;
  traceId: string;
  spanId: string;
}

const CURSOR = /^(\d{1,17}):([0-9a-f]{32}):([0-9a-f]{16})$/;

function decodeCursor(cursor: string): Position | undefined {
  const m = CURSOR.exec(Buffer.from(cursor, "base64url").toString("latin1"));
  if (m === null) return undefined;
  return { us: Number(m[1]), traceId: m[2] as string, spanId: m[3] as string };
}

/** The cursor after `row`, from its ISO time as the API prints it (microsecond digits kept). */
function cursorAfter(row: Record<string, unknown>): string | undefined {
  const { timestamp, trace_id: traceId, span_id: spanId } = row;
  if (typeof timestamp !== "string" || typeof traceId !== "string" || typeof spanId !== "string") return undefined;
  const m = /^(.+?)(?:\.(\d{1,6}))?Z$/.exec(timestamp);
  const seconds = m?.[1] === undefined ? Number.NaN : Date.parse(`${m[1]}Z`);
  if (!Number.isFinite(seconds)) return undefined;
  const us = seconds * 1000 + Number((m?.[2] ?? "").padEnd(6, "0"));
  return Buffer.from(`${us}:${traceId}:${spanId}`, "latin1").toString("base64url");
}

/**
 * The most spans, calls and scores one trace response holds, each: a long-running agent can
 * leave a trace of hundreds of thousands of spans, which would not fit one response. A cut list
 * keeps its earliest rows and the response says `truncated: true`; the calls can be read in
 * full from /api/v1/calls?trace_id=… with its cursor.
 */
export const MAX_TRACE_ROWS = 10_000;

/**
 * The most characters of prompts and responses one response carries. Calls of long-context
 * models hold up to a megabyte of each, so a page of 1,000 calls, or a trace of 10,000, could
 * otherwise make a response of gigabytes (and hold it in the collector's memory). A list page
 * ends at the call that would pass it (`next_cursor` continues from there); a trace's calls
 * past it come without their content, marked `content_omitted: true`, and the response says
 * `content_truncated: true` (`/api/v1/calls?trace_id=…` pages through them with content).
 */
export const MAX_RESPONSE_CONTENT_CHARS = 32 * 1024 * 1024;

/** Columns of llm_calls returned by the API (content optional: it can be large). */
const META_COLUMNS =
  "timestamp, trace_id, span_id, parent_span_id, service, environment, team, project, user_id, session_id, feature, source, convention, provider, operation, request_model, response_model, response_id, prompt_name, prompt_version, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, tokens_estimated, cost_usd, list_cost_usd, reported_cost_usd, priced, price_id, duration_ms, ttft_ms, streamed, status, error_type, finish_reason, http_status, request_params, redacted, cache_hit, tags";

/** The size of a call's content in llm_calls, selected in place of the content itself (see attachContent). */
const CONTENT_SIZE_COLUMN = ", length(input) + length(output) AS content_chars";

export function registerCallsRoutes(
  app: FastifyInstance,
  deps: { client: ClickHouseClient; database: string; auth: preHandlerAsyncHookHandler | undefined },
): void {
  const { client, database: db } = deps;
  const preHandler = deps.auth ? [deps.auth] : [];

  app.get("/api/v1/calls", { preHandler }, async (request) => {
    const q = parseOrThrow(callsQuery, request.query);
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    const eq = (column: string, value: string | undefined, type = "String") => {
      if (value === undefined) return;
      where.push(`${column} = {${column}:${type}}`);
      params[column] = value;
    };
    eq("trace_id", q.trace_id);
    eq("team", q.team);
    eq("project", q.project);
    eq("provider", q.provider);
    eq("status", q.status);
    eq("user_id", q.user_id);
    eq("session_id", q.session_id);
    eq("source", q.source);
    if (q.model !== undefined) {
      where.push("(request_model = {model:String} OR response_model = {model:String})");
      params["model"] = q.model;
    }
    if (q.from !== undefined) {
      where.push("timestamp >= fromUnixTimestamp64Micro({from:Int64}, 'UTC')");
      params["from"] = q.from;
    }
    if (q.to !== undefined) {
      where.push("timestamp < fromUnixTimestamp64Micro({to:Int64}, 'UTC')");
      params["to"] = q.to;
    }
    if (q.cursor !== undefined) {
      // Keyset paging: strictly after the previous page's last call in the list's order. The
      // plain time bound beside the tuple lets ClickHouse skip partitions and granules by it.
      where.push(
        "timestamp <= fromUnixTimestamp64Micro({cursor_us:Int64}, 'UTC')",
        "(timestamp, trace_id, span_id) < (fromUnixTimestamp64Micro({cursor_us:Int64}, 'UTC'), {cursor_trace:String}, {cursor_span:String})",
      );
      params["cursor_us"] = q.cursor.us;
      params["cursor_trace"] = q.cursor.traceId;
      params["cursor_span"] = q.cursor.spanId;
    }
    params["limit"] = q.limit;
    const content = q.include_content === "1" || q.include_content === "true" || q.trace_id !== undefined;
    const rs = await client.query({
      query: `SELECT ${META_COLUMNS}${content ? CONTENT_SIZE_COLUMN : ""} FROM ${db}.llm_calls${
        where.length ? ` WHERE ${where.join(" AND ")}` : ""
      } ORDER BY timestamp DESC, trace_id DESC, span_id DESC LIMIT {limit:UInt32}`,
      query_params: params,
      format: "JSONEachRow",
      clickhouse_settings: JSON_OUTPUT_SETTINGS,
    });
    let calls = await rs.json<Record<string, unknown>>();
    let cut = false;
    if (content) {
      const kept = await attachContent(calls);
      cut = kept < calls.length;
      calls = calls.slice(0, kept);
    }
    // A full page may have more after it; the cursor asks for them (`cursor=<next_cursor>`).
    const last = calls.length === q.limit || cut ? calls[calls.length - 1] : undefined;
    const next = last === undefined ? undefined : cursorAfter(last);
    return next === undefined ? { calls } : { calls, next_cursor: next };
  });

  /**
   * Adds `input` and `output` to calls listed with CONTENT_SIZE_COLUMN, in order, while their
   * sizes stay within MAX_RESPONSE_CONTENT_CHARS (the first call always); returns how many
   * got their content. Calls whose instrumentation sent the messages as OTLP log events have
   * empty input/output in llm_calls: their content sits in call_content under the same span.
   */
  async function attachContent(calls: Record<string, unknown>[]): Promise<number> {
    const key = (c: { trace_id?: unknown; span_id?: unknown }) => `${String(c.trace_id)}/${String(c.span_id)}`;
    const pairs = (rows: Record<string, unknown>[]) => ({
      traces: rows.map((c) => String(c["trace_id"])),
      spans: rows.map((c) => String(c["span_id"])),
    });
    const fromEvents = calls.filter((c) => Number(c["content_chars"]) === 0);
    const eventSizes = new Map<string, number>();
    if (fromEvents.length > 0) {
      const rs = await client.query({
        query: `SELECT trace_id, span_id, max(length(input) + length(output)) AS n FROM ${db}.call_content WHERE trace_id IN {traces:Array(String)} AND span_id IN {spans:Array(String)} GROUP BY trace_id, span_id`,
        query_params: pairs(fromEvents),
        format: "JSONEachRow",
      });
      for (const r of await rs.json<{ trace_id: string; span_id: string; n: number | string }>()) {
        eventSizes.set(key(r), Number(r.n));
      }
    }
    let kept = 0;
    let chars = 0;
    for (const c of calls) {
      const size = Number(c["content_chars"]) || (eventSizes.get(key(c)) ?? 0);
      if (kept > 0 && chars + size > MAX_RESPONSE_CONTENT_CHARS) break;
      chars += size;
      kept++;
    }
    const withContent = calls.slice(0, kept);
    const [inCalls, inEvents] = await Promise.all([
      contentOf(
        "llm_calls",
        withContent.filter((c) => Number(c["content_chars"]) > 0),
      ),
      contentOf(
        "call_content",
        withContent.filter((c) => eventSizes.has(key(c))),
      ),
    ]);
    for (const c of calls) delete c["content_chars"];
    for (const c of withContent) {
      const found = inCalls.get(key(c)) ?? inEvents.get(key(c));
      c["input"] = found?.input ?? "";
      c["output"] = found?.output ?? "";
      if (found !== undefined && Number(found.redacted) > 0) c["redacted"] = 1;
    }
    return kept;

    async function contentOf(table: "llm_calls" | "call_content", rows: Record<string, unknown>[]) {
      const out = new Map<string, { input: string; output: string; redacted: number }>();
      if (rows.length === 0) return out;
      // llm_calls is sorted by team and time: the calls' time range prunes its partitions and
      // granules (the trace_id bloom filter does the rest). call_content is sorted by the ids.
      const times = rows.map((c) => String(c["timestamp"])).sort();
      const within =
        table === "llm_calls"
          ? " AND timestamp BETWEEN parseDateTime64BestEffort({lo:String}, 6, 'UTC') AND parseDateTime64BestEffort({hi:String}, 6, 'UTC')"
          : "";
      const rs = await client.query({
        query: `SELECT trace_id, span_id, any(input) AS input, any(output) AS output, max(redacted) AS redacted FROM ${db}.${table} WHERE trace_id IN {traces:Array(String)} AND span_id IN {spans:Array(String)}${within} GROUP BY trace_id, span_id`,
        query_params: { ...pairs(rows), lo: times[0], hi: times[times.length - 1] },
        format: "JSONEachRow",
      });
      for (const r of await rs.json<{
        trace_id: string;
        span_id: string;
        input: string;
        output: string;
        redacted: number;
      }>()) {
        out.set(key(r), r);
      }
      return out;
    }
  }

  app.get("/api/v1/traces/:trace_id", { preHandler }, async (request) => {
    const { trace_id } = parseOrThrow(z.object({ trace_id: hexId(32) }), request.params);
    // One row more than the cap tells a cut list from a full one.
    const query = async (sql: string) => {
      const rs = await client.query({
        query: `${sql} LIMIT {cap:UInt32}`,
        query_params: { trace_id, cap: MAX_TRACE_ROWS + 1 },
        format: "JSONEachRow",
        clickhouse_settings: JSON_OUTPUT_SETTINGS,
      });
      return rs.json<Record<string, unknown>>();
    };
    const [spans, calls, scores] = await Promise.all([
      query(
        `SELECT timestamp, end_timestamp, trace_id, span_id, parent_span_id, name, kind, service, scope_name, status_code, status_message, duration_ms, convention, operation, is_llm_call, mapUpdate(attributes, content_attributes) AS attributes, resource_attributes, events FROM ${db}.spans WHERE trace_id = {trace_id:String} ORDER BY timestamp`,
      ),
      query(
        `SELECT ${META_COLUMNS}${CONTENT_SIZE_COLUMN} FROM ${db}.llm_calls WHERE trace_id = {trace_id:String} ORDER BY timestamp`,
      ).then(async (rows) => {
        const kept = await attachContent(rows.slice(0, MAX_TRACE_ROWS));
        for (const row of rows.slice(kept)) row["content_omitted"] = true;
        return rows;
      }),
      query(
        `SELECT timestamp, score_id, trace_id, span_id, name, value, label, source, comment, data_type FROM ${db}.scores FINAL WHERE trace_id = {trace_id:String} ORDER BY timestamp`,
      ),
    ]);
    if (spans.length === 0 && calls.length === 0 && scores.length === 0) {
      throw ERR_NOT_FOUND(`trace ${trace_id} not found`);
    }
    const truncated = [spans, calls, scores].some((rows) => rows.length > MAX_TRACE_ROWS);
    for (const rows of [spans, calls, scores]) rows.length = Math.min(rows.length, MAX_TRACE_ROWS);
    const trace = {
      trace_id,
      spans,
      calls,
      scores,
      tree: buildTree(spans, calls, scores),
      ...(calls.some((c) => c["content_omitted"] === true) ? { content_truncated: true } : {}),
    };
    return truncated ? { ...trace, truncated: true } : trace;
  });
}

interface TreeNode {
  span_id: string;
  name: string;
  operation: string;
  start: unknown;
  duration_ms: unknown;
  status_code: unknown;
  call: Record<string, unknown> | null;
  scores: Record<string, unknown>[];
  children: TreeNode[];
}

/** Nests spans under their parents, attaching each model call and score to its span. */
function buildTree(
  spans: Record<string, unknown>[],
  calls: Record<string, unknown>[],
  scores: Record<string, unknown>[],
): TreeNode[] {
  const nodes = new Map<string, TreeNode>();
  const callBySpan = new Map(calls.map((c) => [String(c["span_id"]), c]));
  for (const s of spans) {
    const id = String(s["span_id"]);
    nodes.set(id, {
      span_id: id,
      name: String(s["name"]),
      operation: String(s["operation"] ?? ""),
      start: s["timestamp"],
      duration_ms: s["duration_ms"],
      status_code: s["status_code"],
      call: callBySpan.get(id) ?? null,
      scores: [],
      children: [],
    });
  }
  for (const sc of scores) nodes.get(String(sc["span_id"]))?.scores.push(sc);
  const roots: TreeNode[] = [];
  for (const s of spans) {
    const node = nodes.get(String(s["span_id"]));
    if (!node) continue;
    const parent = nodes.get(String(s["parent_span_id"]));
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
}
