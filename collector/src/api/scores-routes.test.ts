import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedStorage, tempDir } from "../../../test/helpers/embedded.js";
import { BatchWriter } from "../storage/batch-writer.js";
import type { StorageClient } from "../storage/client.js";
import { migrate } from "../storage/migrations.js";
import { Spool } from "../storage/spool.js";
import { bearerAuth } from "./auth.js";
import { installErrorHandler } from "./error-handler.js";
import { registerScoresRoutes } from "./scores-routes.js";

const db = "t_scores_routes";
const TOKEN = "scores-test-token";
const TRACE = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "b7ad6b7169203331";
const auth = { authorization: `Bearer ${TOKEN}` };

let storage: StorageClient;
let writer: BatchWriter;
let app: FastifyInstance;

beforeAll(async () => {
  ({ storage } = await embeddedStorage());
  await migrate(storage.client, { database: db, contentRetentionDays: 30, retentionDays: 0 });
  writer = new BatchWriter({
    client: storage.client,
    database: db,
    spool: new Spool(tempDir("tm-scores-spool-")),
    maxRows: 5000,
    maxDelayMs: 10,
    maxQueueRows: 100_000,
    maxSpoolBytes: 64 * 1024 * 1024,
  });
  await writer.start();
  app = Fastify();
  installErrorHandler(app);
  registerScoresRoutes(app, { writer, client: storage.client, database: db, auth: bearerAuth(TOKEN) });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await writer.close();
  await storage.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
});

interface StoredScore {
  timestamp: string;
  score_id: string;
  trace_id: string;
  span_id: string;
  name: string;
  value: number | null;
  label: string;
  source: string;
  comment: string;
  data_type: string;
}

async function post(payload: unknown) {
  const res = await app.inject({ method: "POST", url: "/api/v1/scores", headers: auth, payload: payload as object });
  return { status: res.statusCode, body: res.json<{ ids?: string[]; error?: { code: string } }>() };
}

async function stored(scoreId: string): Promise<StoredScore[]> {
  const rs = await storage.client.query({
    query: `SELECT score_id, trace_id, span_id, name, value, label, source, comment, data_type, toString(timestamp) AS timestamp FROM ${db}.scores FINAL WHERE score_id = {id:String}`,
    query_params: { id: scoreId },
    format: "JSONEachRow",
  });
  return rs.json<StoredScore>();
}

function firstId(body: { ids?: string[] }): string {
  const id = body.ids?.[0];
  if (id === undefined) throw new Error("no id in the answer");
  return id;
}

describe("POST /api/v1/scores", () => {
  it("numeric-score-without-id-gets-a-generated-uuid-and-is-stored", async () => {
    const { status, body } = await post({
      trace_id: TRACE.toUpperCase(),
      span_id: SPAN,
      name: "helpfulness",
      value: 0.75,
      comment: "mostly right",
      timestamp: "2026-11-01T10:00:00.123Z",
    });
    expect(status).toBe(201);
    const id = firstId(body);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const rows = await stored(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      trace_id: TRACE,
      span_id: SPAN,
      name: "helpfulness",
      value: 0.75,
      label: "",
      source: "api",
      comment: "mostly right",
      data_type: "numeric",
      timestamp: "2026-11-01 10:00:00.123000",
    });
  });

  it("categorical-score-label-only-is-inferred-categorical-with-null-value", async () => {
    const { status, body } = await post({ trace_id: TRACE, name: "tone", label: "friendly", source: "annotation" });
    expect(status).toBe(201);
    const [row] = await stored(firstId(body));
    expect(row).toMatchObject({ name: "tone", value: null, label: "friendly", source: "annotation" });
    expect(row?.data_type).toBe("categorical");
    expect(row?.span_id).toBe("");
  });

  it("boolean-score-true-and-false-store-value-1-and-0", async () => {
    const yes = await post({ trace_id: TRACE, name: "thumbs_up", boolean: true, timestamp: 1_790_000_000_000 });
    const no = await post({ trace_id: TRACE, name: "thumbs_up", boolean: false, timestamp: 1_790_000_000_000 });
    expect([yes.status, no.status]).toEqual([201, 201]);
    expect(await stored(firstId(yes.body))).toMatchObject([{ value: 1, label: "true", data_type: "boolean" }]);
    expect(await stored(firstId(no.body))).toMatchObject([{ value: 0, label: "false", data_type: "boolean" }]);
  });

  it("boolean-data-type-with-value-0-or-1-is-accepted", async () => {
    const { status, body } = await post({ trace_id: TRACE, name: "resolved", value: 1, data_type: "boolean" });
    expect(status).toBe(201);
    expect(await stored(firstId(body))).toMatchObject([{ value: 1, label: "", data_type: "boolean" }]);
  });

  it("re-sent-score-with-same-client-id-replaces-the-first-one", async () => {
    const score = {
      id: "feedback-42",
      trace_id: TRACE,
      span_id: SPAN,
      name: "user_rating",
      timestamp: 1_790_000_000_000,
    };
    const first = await post({ ...score, value: 2 });
    const second = await post({ ...score, value: 5, comment: "changed my mind" });
    expect(first.body.ids).toEqual(["feedback-42"]);
    expect(second.body.ids).toEqual(["feedback-42"]);
    const rows = await stored("feedback-42");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ value: 5, comment: "changed my mind" });

    const rs = await storage.client.query({
      query: `SELECT count() AS n FROM ${db}.scores FINAL WHERE score_id = 'feedback-42'`,
      format: "JSONEachRow",
    });
    expect(Number((await rs.json<{ n: number | string }>())[0]?.n)).toBe(1);
  });

  it("batch-of-scores-returns-ids-in-request-order", async () => {
    const scores = Array.from({ length: 250 }, (_, i) => ({
      id: `batch-${i}`,
      trace_id: TRACE,
      name: "batch_metric",
      value: i,
      timestamp: 1_790_000_000_000 + i,
    }));
    const { status, body } = await post({ scores: [...scores, { trace_id: TRACE, name: "batch_label", label: "x" }] });
    expect(status).toBe(201);
    expect(body.ids).toHaveLength(251);
    expect(body.ids?.slice(0, 3)).toEqual(["batch-0", "batch-1", "batch-2"]);
    const rs = await storage.client.query({
      query: `SELECT count() AS n, sum(value) AS total FROM ${db}.scores FINAL WHERE name = 'batch_metric'`,
      format: "JSONEachRow",
    });
    const [agg] = await rs.json<{ n: number | string; total: number }>();
    expect(Number(agg?.n)).toBe(250);
    expect(agg?.total).toBe((249 * 250) / 2);
  });

  it("same-id-twice-in-one-batch-keeps-the-last", async () => {
    const base = { id: "dup-in-batch", trace_id: TRACE, name: "dup", timestamp: 1_790_000_000_000 };
    const { status, body } = await post({
      scores: [
        { ...base, value: 1 },
        { ...base, value: 9 },
      ],
    });
    expect(status).toBe(201);
    expect(body.ids).toEqual(["dup-in-batch", "dup-in-batch"]);
    expect(await stored("dup-in-batch")).toMatchObject([{ value: 9 }]);
  });

  it.each([
    ["missing-trace-id", { name: "x", value: 1 }],
    ["trace-id-not-hex", { trace_id: "z".repeat(32), name: "x", value: 1 }],
    ["trace-id-too-short", { trace_id: "abc", name: "x", value: 1 }],
    ["span-id-wrong-length", { trace_id: TRACE, span_id: "abcd", name: "x", value: 1 }],
    ["missing-name", { trace_id: TRACE, value: 1 }],
    ["blank-name", { trace_id: TRACE, name: "   ", value: 1 }],
    ["neither-value-nor-label-nor-boolean", { trace_id: TRACE, name: "x" }],
    ["empty-label-only", { trace_id: TRACE, name: "x", label: "" }],
    ["value-is-a-string", { trace_id: TRACE, name: "x", value: "0.5" }],
    ["boolean-is-a-string", { trace_id: TRACE, name: "x", boolean: "true" }],
    ["boolean-and-value-together", { trace_id: TRACE, name: "x", boolean: true, value: 1 }],
    ["boolean-with-numeric-data-type", { trace_id: TRACE, name: "x", boolean: true, data_type: "numeric" }],
    ["numeric-data-type-without-value", { trace_id: TRACE, name: "x", label: "a", data_type: "numeric" }],
    ["categorical-data-type-without-label", { trace_id: TRACE, name: "x", value: 1, data_type: "categorical" }],
    ["boolean-data-type-with-value-2", { trace_id: TRACE, name: "x", value: 2, data_type: "boolean" }],
    ["unknown-data-type", { trace_id: TRACE, name: "x", value: 1, data_type: "ordinal" }],
    ["timestamp-in-seconds", { trace_id: TRACE, name: "x", value: 1, timestamp: 1_790_000_000 }],
    ["timestamp-not-a-date", { trace_id: TRACE, name: "x", value: 1, timestamp: "yesterday" }],
    ["id-with-spaces", { id: "a b", trace_id: TRACE, name: "x", value: 1 }],
    ["empty-batch", { scores: [] }],
    ["batch-over-1000", { scores: Array.from({ length: 1001 }, () => ({ trace_id: TRACE, name: "x", value: 1 })) }],
    ["one-bad-score-in-a-batch", { scores: [{ trace_id: TRACE, name: "x", value: 1 }, { trace_id: TRACE }] }],
    ["body-is-an-array", [{ trace_id: TRACE, name: "x", value: 1 }]],
  ])("rejects %s with TM_ERR_BAD_REQUEST and stores nothing", async (_case, payload) => {
    const before = await countAll();
    const { status, body } = await post(payload);
    expect(status).toBe(400);
    expect(body.error?.code).toBe("TM_ERR_BAD_REQUEST");
    expect(await countAll()).toBe(before);
  });

  it("rejects a body that is not JSON with a coded 400", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/scores",
      headers: { ...auth, "content-type": "application/json" },
      payload: "{not json",
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { code: string } }>().error.code).toBe("TM_ERR_BAD_REQUEST");
  });

  it("requires the bearer token when one is configured", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/scores",
      payload: { trace_id: TRACE, name: "x", value: 1 },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json<{ error: { code: string } }>().error.code).toBe("TM_ERR_UNAUTHORIZED");
  });
});

async function countAll(): Promise<number> {
  const rs = await storage.client.query({
    query: `SELECT count() AS n FROM ${db}.scores FINAL`,
    format: "JSONEachRow",
  });
  return Number((await rs.json<{ n: number | string }>())[0]?.n ?? 0);
}

describe("GET /api/v1/scores", () => {
  const trace = "1234567890abcdef1234567890abcdef";

  beforeAll(async () => {
    const t0 = Date.UTC(2026, 10, 20, 12);
    const { status } = await post({
      scores: [
        { id: "g-1", trace_id: trace, span_id: SPAN, name: "relevance", value: 0.1, timestamp: t0 },
        { id: "g-2", trace_id: trace, name: "relevance", value: 0.2, timestamp: t0 + 60_000 },
        { id: "g-3", trace_id: trace, name: "tone", label: "curt", timestamp: t0 + 120_000 },
      ],
    });
    expect(status).toBe(201);
    // Re-send g-1 with a new value: the listing must show it once, replaced.
    expect(
      (await post({ id: "g-1", trace_id: trace, span_id: SPAN, name: "relevance", value: 0.9, timestamp: t0 })).status,
    ).toBe(201);
  });

  async function list(query: string) {
    const res = await app.inject({ method: "GET", url: `/api/v1/scores?${query}`, headers: auth });
    return { status: res.statusCode, body: res.json<{ scores?: StoredScore[]; error?: { code: string } }>() };
  }

  it("lists a trace's scores newest first, replaced scores once", async () => {
    const { status, body } = await list(`trace_id=${trace}`);
    expect(status).toBe(200);
    expect(body.scores?.map((s) => s.score_id)).toEqual(["g-3", "g-2", "g-1"]);
    expect(body.scores?.find((s) => s.score_id === "g-1")?.value).toBe(0.9);
  });

  it("filters by name, time range and limit", async () => {
    expect((await list(`trace_id=${trace}&name=tone`)).body.scores?.map((s) => s.score_id)).toEqual(["g-3"]);
    const from = new Date(Date.UTC(2026, 10, 20, 12, 0, 30)).toISOString();
    const to = String(Date.UTC(2026, 10, 20, 12, 1, 30));
    expect((await list(`trace_id=${trace}&from=${from}&to=${to}`)).body.scores?.map((s) => s.score_id)).toEqual([
      "g-2",
    ]);
    expect((await list(`trace_id=${trace}&limit=1`)).body.scores).toHaveLength(1);
  });

  it.each([
    ["bad-trace-id", "trace_id=xyz"],
    ["limit-zero", "limit=0"],
    ["limit-too-large", "limit=5000"],
    ["from-not-a-time", "from=soon"],
  ])("rejects %s with TM_ERR_BAD_REQUEST", async (_case, query) => {
    const { status, body } = await list(query);
    expect(status).toBe(400);
    expect(body.error?.code).toBe("TM_ERR_BAD_REQUEST");
  });
});
