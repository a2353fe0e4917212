import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALERT_MIGRATIONS } from "../collector/src/alerts/schema.js";
import { buildCollector } from "../collector/src/app.js";
import { FINOPS_MIGRATIONS } from "../collector/src/finops/schema.js";
import { createLogger } from "../collector/src/logger.js";
import type { StorageClient } from "../collector/src/storage/client.js";
import { MIGRATIONS, migrate, renderSchema, type SchemaContext } from "../collector/src/storage/migrations.js";
import { applyRetention, TTL_TARGETS } from "../collector/src/storage/retention.js";
import { embeddedStorage, testConfig } from "./helpers/embedded.js";

let storage: StorageClient;
let dir: string;
const db = "t_retention";
const ALL = [...MIGRATIONS, ...FINOPS_MIGRATIONS, ...ALERT_MIGRATIONS];
const ctx = (retentionDays: number, contentRetentionDays: number): SchemaContext => ({
  database: db,
  retentionDays,
  contentRetentionDays,
});

beforeAll(async () => {
  ({ storage, dir } = await embeddedStorage());
  await migrate(storage.client, ctx(0, 30), ALL);
});

afterAll(async () => {
  await storage.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
});

async function rows<T>(query: string): Promise<T[]> {
  const rs = await storage.client.query({ query, format: "JSONEachRow" });
  return rs.json<T>();
}

async function createQuery(table: string): Promise<string> {
  const [row] = await rows<{ q: string }>(
    `SELECT create_table_query AS q FROM system.tables WHERE database = '${db}' AND name = '${table}'`,
  );
  return row?.q ?? "";
}

/** Waits until `check` passes: a TTL reaches stored rows through a background mutation. */
async function eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const calls = () =>
  rows<{ trace_id: string; input: string; output: string }>(
    `SELECT trace_id, input, output FROM ${db}.llm_calls ORDER BY trace_id`,
  );

describe("retention follows the configuration after the tables exist", () => {
  it("a fresh install's TTLs are what the configuration asks: nothing to alter", async () => {
    expect(await applyRetention(storage.client, ctx(0, 30))).toEqual([]);
    // And the targets name real tables in every deployment shape.
    const clusterDdl = renderSchema({ ...ctx(0, 30), cluster: "c" }, ALL).join("\n");
    for (const t of new Set(TTL_TARGETS.map((x) => x.table))) {
      expect(clusterDdl).toContain(`CREATE TABLE IF NOT EXISTS ${db}.${t}_local ON CLUSTER c`);
    }
  });

  it("restarting with shorter content retention and a row retention alters the tables and reaches stored rows", async () => {
    await storage.client.command({
      query: `INSERT INTO ${db}.llm_calls (timestamp, trace_id, span_id, input, output) VALUES
        (now64(6) - INTERVAL 10 DAY, 'a-old', 's1', '[{"role":"user"}]', '[{"role":"assistant"}]'),
        (now64(6) - INTERVAL 1 HOUR, 'b-new', 's2', '[{"role":"user"}]', '[{"role":"assistant"}]')`,
    });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).trim().split("\n"));
        done();
      },
    });
    const config = testConfig(dir, { storage: { database: db, contentRetentionDays: 7, retentionDays: 400 } });
    // The collector works in the storage's database.
    const collector = await buildCollector({
      config,
      storage: { ...storage, database: db },
      logger: createLogger("info", sink),
    });
    await collector.close();

    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.code === "TM_RETENTION_CHANGED");
    // Every change here shortens what is kept (forever -> 400 days counts), so each is a warning.
    expect(logged.map((l) => [l.level, l.target, l.fromDays, l.toDays])).toEqual([
      [40, "llm_calls", 0, 400],
      [40, "llm_calls.input", 30, 7],
      [40, "llm_calls.output", 30, 7],
      [40, "spans", 0, 400],
      [40, "spans.content_attributes", 30, 7],
      [40, "scores", 0, 400],
      [40, "call_content", 30, 7],
      [40, "alert_events", 0, 400],
      [40, "llm_calls_hourly", 0, 400],
      [40, "llm_calls_daily", 0, 400],
    ]);
    const q = await createQuery("llm_calls");
    expect(q).toContain("`input` String CODEC(ZSTD(3)) TTL toDateTime(timestamp) + toIntervalDay(7)");
    expect(q).toContain(
      "ORDER BY (team, project, toStartOfHour(timestamp), request_model, timestamp) TTL toDateTime(timestamp) + toIntervalDay(400)",
    );
    expect(await createQuery("llm_calls_daily")).toContain("TTL day + toIntervalDay(400)");

    // The 10-day-old call loses its content, keeps its row; the recent one keeps both.
    await eventually(async () => {
      expect(await calls()).toEqual([
        { trace_id: "a-old", input: "", output: "" },
        { trace_id: "b-new", input: '[{"role":"user"}]', output: '[{"role":"assistant"}]' },
      ]);
    });

    // The same configuration again changes nothing.
    expect(await applyRetention(storage.client, ctx(400, 7))).toEqual([]);
  });

  it("a row retention shorter than a row's age deletes it; 0 keeps everything again", async () => {
    const changes = await applyRetention(storage.client, ctx(5, 7));
    expect(changes.filter((c) => c.target === "llm_calls")).toEqual([
      { target: "llm_calls", retention: "rows", fromDays: 400, toDays: 5 },
    ]);
    await eventually(async () => {
      expect((await calls()).map((c) => c.trace_id)).toEqual(["b-new"]);
    });

    const off = await applyRetention(storage.client, ctx(0, 0));
    expect(off.map((c) => [c.target, c.toDays])).toEqual(
      TTL_TARGETS.map((t) => [t.column ? `${t.table}.${t.column}` : t.table, 0]),
    );
    expect(await createQuery("llm_calls")).not.toContain(" TTL ");
    expect(await createQuery("call_content")).not.toContain(" TTL ");
    expect(await applyRetention(storage.client, ctx(0, 0))).toEqual([]);
  });
});
