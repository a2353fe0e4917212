import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { ClickHouseLogLevel, createClient } from "@clickhouse/client";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerHealthRoutes } from "../collector/src/api/health-routes.js";
import { createLogger } from "../collector/src/logger.js";
import { createCollectorMetrics } from "../collector/src/metrics/collector-metrics.js";
import { BatchWriter, type BatchWriterOptions } from "../collector/src/storage/batch-writer.js";
import type { StorageClient } from "../collector/src/storage/client.js";
import { insertTable, migrate } from "../collector/src/storage/migrations.js";
import {
  CALL_CONTENT_COLUMNS,
  DECIMAL_COLUMNS,
  encodeRows,
  LLM_CALLS_COLUMNS,
  SCORES_COLUMNS,
  SPANS_COLUMNS,
  TIME_COLUMNS,
  tableLayout,
  UINT_COLUMNS,
} from "../collector/src/storage/row-format.js";
import type { ScoreRow } from "../collector/src/storage/rows.js";
import { Spool } from "../collector/src/storage/spool.js";
import { llmCallRow, scoreRow } from "../collector/src/storage/test-row.js";
import { embeddedStorage, tempDir } from "./helpers/embedded.js";
import { freePort } from "./helpers/net.js";

let storage: StorageClient;
const db = "t_storage";

beforeAll(async () => {
  ({ storage } = await embeddedStorage());
  await migrate(storage.client, { database: db, contentRetentionDays: 30, retentionDays: 0 });
});

afterAll(async () => {
  await storage.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
});

/** A writer on the test database with a spool of its own; `over` sets what the test is about. */
function testWriter(over: Partial<BatchWriterOptions> = {}): BatchWriter {
  return new BatchWriter({
    client: storage.client,
    database: db,
    spool: new Spool(tempDir("tm-spool-")),
    maxRows: 10,
    maxDelayMs: 10,
    maxQueueRows: 100,
    maxSpoolBytes: 1024 * 1024,
    ...over,
  });
}

const score = (i: number): ScoreRow => scoreRow(i);

/** The tables the writer encodes, with its column lists. */
const ENCODED_TABLES = [
  ["llm_calls", LLM_CALLS_COLUMNS],
  ["spans", SPANS_COLUMNS],
  ["scores", SCORES_COLUMNS],
  ["call_content", CALL_CONTENT_COLUMNS],
] as const;

/** A table's columns and their types, in the table's order. */
async function columnTypes(table: string): Promise<Array<{ name: string; type: string }>> {
  const rs = await storage.client.query({
    query: `SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {table:String} ORDER BY position`,
    query_params: { db, table },
    format: "JSONEachRow",
  });
  return rs.json<{ name: string; type: string }>();
}

async function count(table: string): Promise<number> {
  const rs = await storage.client.query({ query: `SELECT count() AS n FROM ${db}.${table}`, format: "JSONEachRow" });
  const rows = await rs.json<{ n: string | number }>();
  return Number(rows[0]?.n ?? 0);
}

describe("migrations", () => {
  it("are recorded and idempotent: a second run applies nothing", async () => {
    const again = await migrate(storage.client, { database: db, contentRetentionDays: 30, retentionDays: 0 });
    expect(again).toEqual([]);
    const rs = await storage.client.query({
      query: `SELECT version FROM ${db}.schema_migrations`,
      format: "JSONEachRow",
    });
    expect((await rs.json<{ version: number }>()).map((r) => Number(r.version))).toContain(1);
  });
});

describe("embedded storage", () => {
  it("per-query-settings-do-not-leak-into-later-queries (a dedup token would drop the next insert)", async () => {
    await storage.client.command({
      query: `CREATE TABLE ${db}.leak (a UInt32) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 100`,
    });
    await storage.client.command({
      query: `INSERT INTO ${db}.leak FORMAT JSONEachRow\n{"a":1}`,
      clickhouse_settings: { insert_deduplication_token: "only-this-insert" },
    });
    await storage.client.insert({ table: `${db}.leak`, values: [{ a: 2 }], format: "JSONEachRow" });
    await storage.client.insert({ table: `${db}.leak`, values: [{ a: 3 }], format: "JSONEachRow" });
    const rs = await storage.client.query({
      query: `SELECT count() AS n, getSetting('insert_deduplication_token') AS token FROM ${db}.leak`,
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([{ n: 3, token: "" }]);
  });
});

describe("batch writer", () => {
  it("storage-down-rows-spooled-then-replayed-exactly-once", async () => {
    const spool = new Spool(tempDir("tm-spool-"));
    const metrics = createCollectorMetrics({ maxLabelValues: 10, defaultMetrics: false });
    const writer = testWriter({
      spool,
      maxRows: 50,
      maxQueueRows: 10_000,
      maxSpoolBytes: 100 * 1024 * 1024,
      metrics,
      retryMinMs: 20,
      retryMaxMs: 50,
    });
    await writer.start();
    await writer.write("scores", [score(0), score(1)]);
    expect(await count("scores")).toBe(2);

    // A real outage: the table disappears from the server, so inserts fail.
    await storage.client.command({ query: `DETACH TABLE ${db}.scores` });
    const during = Array.from({ length: 120 }, (_, i) => score(100 + i));
    // Acknowledged while storage is down: the rows are in the spool.
    await writer.write("scores", during.slice(0, 60));
    await writer.write("scores", during.slice(60));
    expect(spool.size).toBeGreaterThan(0);
    expect(writer.degraded).toBe(true);

    await storage.client.command({ query: `ATTACH TABLE ${db}.scores` });
    await writer.write("scores", [score(999)]);
    for (let i = 0; i < 100 && (spool.size > 0 || writer.degraded); i++) await new Promise((r) => setTimeout(r, 20));
    await writer.flush();
    expect(spool.size).toBe(0);
    expect(spool.bytes).toBe(0);
    const rs = await storage.client.query({
      query: `SELECT score_id, count() AS n FROM ${db}.scores GROUP BY score_id HAVING n != 1`,
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([]);
    expect(await count("scores")).toBe(2 + 120 + 1);
    await writer.close();
  });

  it("replaying the same spooled batch twice writes it once (deduplication token)", async () => {
    const spool = new Spool(tempDir("tm-spool-"));
    const body = encodeRows("scores", [score(5000), score(5001)]);
    await spool.append("scores", "fixed-token-1", 2, tableLayout("scores"), body);
    await spool.append("scores", "fixed-token-1", 2, tableLayout("scores"), body);
    const writer = testWriter({ spool });
    const before = await count("scores");
    await writer.start();
    expect(spool.size).toBe(0);
    expect(await count("scores")).toBe(before + 2);
    await writer.close();
  });

  it("a batch left in the spool by a previous process is replayed at start", async () => {
    const dir = tempDir("tm-spool-");
    await new Spool(dir).append(
      "scores",
      "restart-token",
      1,
      tableLayout("scores"),
      encodeRows("scores", [score(7000)]),
    );
    const spool = new Spool(dir);
    const writer = testWriter({ spool });
    await writer.start();
    const rs = await storage.client.query({
      query: `SELECT count() AS n FROM ${db}.scores WHERE score_id = 's-7000'`,
      format: "JSONEachRow",
    });
    expect(Number((await rs.json<{ n: number }>())[0]?.n)).toBe(1);
    await writer.close();
  });

  it("spooled-batches-keep-their-own-column-layout: an older layout or JSONEachRow still inserts right", async () => {
    const dir = tempDir("tm-spool-");
    // A layout with fewer columns than today's table (as a later version that adds a column
    // meets batches this one spooled): the missing columns take their defaults.
    const older = "timestamp,score_id,trace_id,span_id,name,value";
    await writeFile(
      join(dir, "0000000000000001.tmspool"),
      `${JSON.stringify({ table: "scores", token: "layout-old", rows: 1, layout: older })}\n[1790000000000000,"s-7100","t","s","old-layout",0.5]\n`,
    );
    // A file from before layouts existed: no layout in the header, rows as objects.
    await writeFile(
      join(dir, "0000000000000002.tmspool"),
      `${JSON.stringify({ table: "scores", token: "layout-none", rows: 1 })}\n${JSON.stringify(score(7101))}\n`,
    );
    const writer = testWriter({ spool: new Spool(dir) });
    await writer.start();
    const rs = await storage.client.query({
      query: `SELECT score_id, name, value, label, source FROM ${db}.scores WHERE score_id IN ('s-7100', 's-7101') ORDER BY score_id`,
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([
      { score_id: "s-7100", name: "old-layout", value: 0.5, label: "", source: "" },
      {
        score_id: "s-7101",
        name: score(7101).name,
        value: score(7101).value,
        label: score(7101).label,
        source: score(7101).source,
      },
    ]);
    await writer.close();
  });

  it("every-compact-column-list-names-exactly-its-table's-columns", async () => {
    for (const [table, columns] of ENCODED_TABLES) {
      const inTable = (await columnTypes(table)).map((c) => c.name).sort();
      expect([...columns].sort(), table).toEqual(inTable);
      expect(tableLayout(table)).toBe(`tsv:${columns.join(",")}`);
    }
  });

  it("staging-tables-take-the-writer's-columns-in-order-with-LowCardinality-unwrapped", async () => {
    for (const [table, columns] of [
      ["llm_calls", LLM_CALLS_COLUMNS],
      ["spans", SPANS_COLUMNS],
    ] as const) {
      const staged = await columnTypes(insertTable(undefined, table));
      expect(staged.map((c) => c.name)).toEqual([...columns]);
      const target = new Map((await columnTypes(table)).map((c) => [c.name, c.type]));
      for (const c of staged) {
        expect(c.type, `${table}.${c.name}`).toBe(target.get(c.name)?.replace(/LowCardinality\(([^()]*)\)/g, "$1"));
      }
    }
  });

  it("rows-written-through-staging-land-once-per-token-with-the-table's-own-types", async () => {
    const writer = testWriter({ insertTable: (t) => insertTable(undefined, t) });
    const row = llmCallRow({ trace_id: "5a".repeat(16), span_id: "5b".repeat(8), team: "staging", tags: { k: "v" } });
    await writer.write("llm_calls", [row, { ...row, span_id: "5c".repeat(8) }]);
    const rs = await storage.client.query({
      query: `SELECT count() AS n, any(toTypeName(team)) AS type, any(tags['k']) AS tag FROM ${db}.llm_calls WHERE team = 'staging'`,
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([{ n: 2, type: "LowCardinality(String)", tag: "v" }]);
    // A batch replayed under its token (as from the spool or the ingest log) is dropped as a repeat.
    const spool = new Spool(tempDir("tm-spool-"));
    const body = encodeRows("llm_calls", [{ ...row, span_id: "5d".repeat(8) }]);
    await spool.append("llm_calls", "staged-token-1", 1, tableLayout("llm_calls"), body);
    await spool.append("llm_calls", "staged-token-1", 1, tableLayout("llm_calls"), body);
    const replaying = testWriter({ spool, insertTable: (t) => insertTable(undefined, t) });
    await replaying.start();
    expect(spool.size).toBe(0);
    const after = await storage.client.query({
      query: `SELECT count() AS n FROM ${db}.llm_calls WHERE team = 'staging'`,
      format: "JSONEachRow",
    });
    expect(await after.json()).toEqual([{ n: 3 }]);
    await writer.close();
    await replaying.close();
  });

  it("values-that-TabSeparated-escapes-come-back-exactly-as-written", async () => {
    const tricky = "tab\there, line\nbreak, cr\r, back\\slash, \\N, \\t literal, 'quote', \"json\" ünïcødé 😀";
    const rows = [
      llmCallRow({
        // Recent: content older than the content retention is blanked on insert.
        timestamp: Math.floor(Date.now() / 1000) * 1_000_000,
        trace_id: "6a".repeat(16),
        span_id: "6b".repeat(8),
        team: "escapes",
        input: tricky,
        output: "\\N",
        request_params: '{"stop":["\\n"]}',
        cost_usd: null,
        reported_cost_usd: "0.000000001",
        duration_ms: 1.5e-7,
        ttft_ms: null,
        tags: { "k'ey\t": tricky, plain: "v" },
      }),
      llmCallRow({
        timestamp: 0, // fewer than 16 digits of microseconds
        trace_id: "6a".repeat(16),
        span_id: "6c".repeat(8),
        team: "escapes",
        input: "",
        output: "",
        cost_usd: "12.5",
        duration_ms: 1e21,
        ttft_ms: 0,
      }),
    ];
    const writer = testWriter({ insertTable: (t) => insertTable(undefined, t) });
    await writer.write("llm_calls", rows);
    await writer.close();
    const rs = await storage.client.query({
      query: `SELECT toUnixTimestamp64Micro(timestamp) AS timestamp, input, output, request_params, cost_usd, reported_cost_usd, duration_ms, ttft_ms, tags FROM ${db}.llm_calls WHERE team = 'escapes' ORDER BY span_id`,
      format: "JSONEachRow",
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0, output_format_json_quote_decimals: 1 },
    });
    const back = await rs.json<Record<string, unknown>>();
    expect(back).toEqual(
      rows.map((r) => ({
        timestamp: r.timestamp,
        input: r.input,
        output: r.output,
        request_params: r.request_params,
        cost_usd:
          r.cost_usd === null ? null : expect.stringMatching(new RegExp(`^${r.cost_usd.replace(".", "\\.")}0*$`)),
        reported_cost_usd: r.reported_cost_usd,
        duration_ms: r.duration_ms,
        ttft_ms: r.ttft_ms,
        tags: r.tags,
      })),
    );
  });

  it("numbers-out-of-their-column's-range-are-clamped-so-the-batch-still-inserts", async () => {
    const hostile = llmCallRow({
      timestamp: 1_790_000_000_000_000,
      trace_id: "7a".repeat(16),
      span_id: "7b".repeat(8),
      team: "hostile",
      input_tokens: 1e300,
      output_tokens: -5,
      cache_read_tokens: 1.5,
      reasoning_tokens: Number.NaN,
      http_status: 70_000,
      tokens_estimated: Number.POSITIVE_INFINITY,
      cost_usd: "12345678901.5",
      reported_cost_usd: "-0.25",
      duration_ms: Number.NaN,
      ttft_ms: Number.POSITIVE_INFINITY,
    });
    const fine = llmCallRow({ ...hostile, span_id: "7c".repeat(8), input_tokens: 7, cost_usd: "0.5" });
    const writer = testWriter({ insertTable: (t) => insertTable(undefined, t) });
    await writer.write("llm_calls", [hostile, fine]);
    await writer.close();
    expect(writer.degraded).toBe(false);
    const rs = await storage.client.query({
      query: `SELECT input_tokens, output_tokens, cache_read_tokens, reasoning_tokens, http_status, tokens_estimated, cost_usd, reported_cost_usd, duration_ms, ttft_ms FROM ${db}.llm_calls WHERE team = 'hostile' ORDER BY span_id`,
      format: "JSONEachRow",
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0, output_format_json_quote_decimals: 1 },
    });
    expect(await rs.json()).toEqual([
      {
        input_tokens: Number.MAX_SAFE_INTEGER,
        output_tokens: 0,
        cache_read_tokens: 1,
        reasoning_tokens: 0,
        http_status: 65_535,
        tokens_estimated: 255,
        cost_usd: null,
        reported_cost_usd: "-0.25",
        duration_ms: 0,
        ttft_ms: null,
      },
      expect.objectContaining({ input_tokens: 7, cost_usd: "0.5" }),
    ]);
  });

  it("the encoder's column kinds match the tables' types", async () => {
    for (const [table, columns] of ENCODED_TABLES) {
      const types = new Map((await columnTypes(table)).map((c) => [c.name, c.type]));
      const max = { UInt8: 255, UInt16: 65_535, UInt64: Number.MAX_SAFE_INTEGER } as Record<string, number>;
      for (const c of columns as readonly string[]) {
        const type = types.get(c) ?? "";
        expect(TIME_COLUMNS.has(c), `${table}.${c} ${type}`).toBe(type.startsWith("DateTime64(6"));
        expect(DECIMAL_COLUMNS.has(c), `${table}.${c} ${type}`).toBe(type.includes("Decimal(18, 9)"));
        expect(UINT_COLUMNS.get(c), `${table}.${c} ${type}`).toBe(max[type]);
      }
    }
  });

  it("a-batch-the-engine-refuses-as-invalid-data-is-set-aside-and-nothing-waits-behind-it", async () => {
    const metrics = createCollectorMetrics({ maxLabelValues: 10, defaultMetrics: false });
    const logged: string[] = [];
    const logger = createLogger(
      "info",
      new Writable({ write: (chunk, _enc, done) => done(void logged.push(String(chunk))) }),
    );
    const spool = new Spool(tempDir("tm-spool-"));
    // One refused batch already in the spool (as from an earlier version), then a good one.
    await spool.append("scores", "bad-spooled", 1, tableLayout("scores"), "not\ta\tscore\n");
    await spool.append("scores", "good-spooled", 1, tableLayout("scores"), encodeRows("scores", [score(9100)]));
    const writer = testWriter({ spool, metrics, logger });
    await writer.start();
    expect(spool.size).toBe(0);
    // A fresh batch the engine refuses, then a fresh good one.
    await writer.writeText("scores", "still\tnot\ta\tscore\n", 1);
    await writer.write("scores", [score(9101)]);
    await writer.close();
    expect(writer.degraded).toBe(false);
    const rs = await storage.client.query({
      query: `SELECT score_id FROM ${db}.scores WHERE score_id IN ('s-9100', 's-9101') ORDER BY score_id`,
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([{ score_id: "s-9100" }, { score_id: "s-9101" }]);
    const rejectedDir = join(spool.dir, "rejected");
    const files = (await readdir(rejectedDir)).sort();
    expect(files).toHaveLength(2);
    expect(await readFile(join(rejectedDir, files[1] as string), "utf8")).toContain("still\tnot\ta\tscore");
    const exposition = await metrics.registry.metrics();
    expect(exposition).toContain('tokenmeter_rows_rejected_total{table="scores"} 2');
    // Logged with the engine's error code, never the rows its message would quote.
    const setAside = logged.filter((l) => l.includes("set aside"));
    expect(setAside).toHaveLength(2);
    for (const line of setAside) expect(line).toMatch(/"error":"\d+ CANNOT_PARSE_[A-Z_]+"/);
    expect(logged.join("")).not.toContain("still");
  });

  it("admit() answers backpressure with a coded 429 when the queue is full", async () => {
    const writer = testWriter({ maxRows: 1000, maxDelayMs: 10_000, maxQueueRows: 5, maxSpoolBytes: 1024 });
    writer.enqueue("scores", [score(1), score(2), score(3)]);
    expect(() => writer.admit(3)).toThrowError(
      expect.objectContaining({ code: "TM_ERR_BACKPRESSURE", statusCode: 429 }),
    );
    expect(() => writer.admit(2)).not.toThrow();
    await writer.close();
  });

  it("admit() answers 429 as well when the rows in memory reach maxQueueBytes, whatever their count", async () => {
    const writer = testWriter({ maxRows: 1000, maxDelayMs: 60_000, maxQueueRows: 1000, maxQueueBytes: 100_000 });
    // Three calls with 40 KB prompts: few rows, many bytes.
    writer.enqueue(
      "scores",
      [9100, 9101, 9102].map((i) => ({ ...score(i), comment: "x".repeat(40_000) })),
    );
    expect(writer.queuedRows).toBe(3);
    expect(writer.queuedBytes).toBeGreaterThan(120_000);
    expect(() => writer.admit(1)).toThrowError(
      expect.objectContaining({ code: "TM_ERR_BACKPRESSURE", statusCode: 429, retryAfter: 1 }),
    );
    await writer.flush();
    expect(writer.queuedBytes).toBe(0);
    expect(() => writer.admit(1)).not.toThrow();
    await writer.close();
  });

  it("batches-are-cut-by-bytes-too: calls with large prompts make bounded inserts, every row stored once", async () => {
    const metrics = createCollectorMetrics({ maxLabelValues: 10, defaultMetrics: false });
    const writer = testWriter({
      maxRows: 1000,
      maxDelayMs: 60_000,
      maxQueueRows: 1000,
      maxBatchBytes: 200_000,
      metrics,
    });
    // Ten rows of 50 KB: a row count of 1,000 would make one 500 KB insert; 200 KB cuts it.
    const ids = Array.from({ length: 10 }, (_, i) => 9200 + i);
    for (const i of ids) writer.enqueue("scores", [{ ...score(i), comment: `${i}:${"y".repeat(50_000)}` }]);
    await writer.flush();
    const samples = (await metrics.registry.getSingleMetric("tokenmeter_batch_rows")?.get())?.values as
      | Array<{ value: number; metricName?: string }>
      | undefined;
    expect(samples?.find((v) => v.metricName === "tokenmeter_batch_rows_count")?.value).toBe(3);
    expect(samples?.find((v) => v.metricName === "tokenmeter_batch_rows_sum")?.value).toBe(10);
    const rs = await storage.client.query({
      query: `SELECT score_id, length(comment) AS n FROM ${db}.scores FINAL WHERE score_id IN {ids:Array(String)} ORDER BY score_id`,
      query_params: { ids: ids.map((i) => `s-${i}`) },
      format: "JSONEachRow",
    });
    const rows = await rs.json<{ score_id: string; n: number }>();
    expect(rows.map((r) => r.score_id)).toEqual(ids.map((i) => `s-${i}`));
    for (const r of rows) expect(Number(r.n)).toBe(50_005);
    expect(writer.queuedBytes).toBe(0);
    await writer.close();
  });

  it("rows-nobody-waits-on-linger-up-to-maxDelayMs-and-leave-with-the-next-awaited-write", async () => {
    const metrics = createCollectorMetrics({ maxLabelValues: 10, defaultMetrics: false });
    const writer = testWriter({ maxRows: 1000, maxDelayMs: 60_000, maxQueueRows: 1000, metrics });
    const inserts = async () => (await metrics.registry.getSingleMetric("tokenmeter_batch_rows")?.get())?.values;
    // Its own rows only: merges of the ReplacingMergeTree may fold other tests' repeats meanwhile.
    const mine = async () => {
      const rs = await storage.client.query({
        query: `SELECT count() AS n FROM ${db}.scores WHERE score_id IN ('s-8000', 's-8001', 's-8002')`,
        format: "JSONEachRow",
      });
      return Number((await rs.json<{ n: number }>())[0]?.n);
    };
    // The in-process proxy's rows: queued, nobody waits, so no insert yet (an awaited write
    // would have been cut after a 50 ms linger).
    writer.enqueue("scores", [score(8000), score(8001)]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await mine()).toBe(0);
    expect(writer.queuedRows).toBe(2);
    // An OTLP request's rows: cut after the short linger, together with the lingering ones.
    await writer.write("scores", [score(8002)]);
    expect(await mine()).toBe(3);
    // One insert of three rows.
    const samples = (await inserts()) as Array<{ value: number; metricName?: string }> | undefined;
    expect(samples?.find((v) => v.metricName === "tokenmeter_batch_rows_count")?.value).toBe(1);
    expect(samples?.find((v) => v.metricName === "tokenmeter_batch_rows_sum")?.value).toBe(3);
    await writer.close();
  });
});

describe("readiness", () => {
  async function readyz(client: StorageClient["client"], writer: BatchWriter) {
    const app = Fastify();
    registerHealthRoutes(app, {
      client,
      metrics: createCollectorMetrics({ maxLabelValues: 10, defaultMetrics: false }),
      writer,
    });
    const res = await app.inject({ method: "GET", url: "/readyz" });
    await app.close();
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  }

  it("ready while ingest is taken, ClickHouse unreachable included (ingest goes to the spool)", async () => {
    const writer = testWriter();
    expect(await readyz(storage.client, writer)).toEqual({
      status: 200,
      body: { status: "ready", storage: "ok", spooling: false, queued_rows: 0 },
    });
    // A real client towards a port nobody listens on: the server is down.
    const down = createClient({ url: `http://127.0.0.1:${await freePort()}`, log: { level: ClickHouseLogLevel.OFF } });
    const during = await readyz(down, writer);
    expect(during.status).toBe(200);
    expect(during.body).toMatchObject({ status: "ready", storage: "unreachable" });
    await down.close();
    await writer.close();
  });

  it("not ready when ingest would be refused: the spool full, or shutting down", async () => {
    const full = testWriter({ maxSpoolBytes: 0 });
    const res = await readyz(storage.client, full);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: "not_ready", storage: "ok" });
    expect(String(res.body["reason"])).toContain("spool is full");
    await full.close();
    const closing = testWriter();
    await closing.close();
    expect((await readyz(storage.client, closing)).body).toMatchObject({
      status: "not_ready",
      reason: "tokenmeter is shutting down",
    });
  });
});
