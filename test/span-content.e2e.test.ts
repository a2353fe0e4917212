import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Collector } from "../collector/src/app.js";
import type { StorageClient } from "../collector/src/storage/client.js";
import { MIGRATIONS, migrate } from "../collector/src/storage/migrations.js";
import type { SpanRow } from "../collector/src/storage/rows.js";
import { fetchTrace, listeningCollector, otlpJsonTraces, strAttr } from "./helpers/collector.js";
import { embeddedStorage, startedWriter } from "./helpers/embedded.js";

type Row = Record<string, unknown>;

let collector: Collector;
let url: string;

beforeAll(async () => {
  ({ collector, url } = await listeningCollector());
});

afterAll(async () => {
  await collector.close();
});

const TRACE = "5a".repeat(16);
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

function span(spanId: string, name: string, attributes: unknown[], parentSpanId = "") {
  const start = nowNs() - 2_000_000_000n;
  return {
    traceId: TRACE,
    spanId,
    parentSpanId,
    name,
    kind: 1,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + 500_000_000n),
    attributes,
  };
}

async function storedSpans(db: string): Promise<Row[]> {
  const rs = await collector.storage.client.query({
    query: `SELECT span_id, attributes, content_attributes FROM ${db}.spans WHERE trace_id = {t:String} ORDER BY span_id`,
    query_params: { t: TRACE },
    format: "JSONEachRow",
  });
  return rs.json<Row>();
}

describe("a span's own content (agents, tools, workflows) is redacted and stored apart", () => {
  it("agent-and-tool-span-content-goes-to-content_attributes-redacted-and-the-trace-api-shows-it", async () => {
    const res = await fetch(`${url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        otlpJsonTraces("support-agent", [
          span("a000000000000001", "invoke_agent helper", [
            strAttr("gen_ai.operation.name", "invoke_agent"),
            strAttr("gen_ai.agent.name", "helper"),
            strAttr(
              "gen_ai.input.messages",
              JSON.stringify([{ role: "user", parts: [{ type: "text", content: "I am jane.doe@example.com" }] }]),
            ),
          ]),
          span(
            "a000000000000002",
            "execute_tool lookup_customer",
            [
              strAttr("gen_ai.operation.name", "execute_tool"),
              strAttr("gen_ai.tool.name", "lookup_customer"),
              strAttr("gen_ai.tool.call.arguments", '{"phone":"+1 415 555 0134"}'),
              strAttr("gen_ai.tool.call.result", '{"card":"4111 1111 1111 1111"}'),
            ],
            "a000000000000001",
          ),
          span("a000000000000003", "workflow triage", [strAttr("traceloop.entity.input", "mail bob@example.org")]),
        ]),
      ),
    });
    expect(res.status).toBe(200);
    await collector.writer.flush();

    const rows = await storedSpans(collector.storage.database);
    expect(rows).toEqual([
      {
        span_id: "a000000000000001",
        attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "helper" },
        content_attributes: {
          "gen_ai.input.messages": JSON.stringify([
            { role: "user", parts: [{ type: "text", content: "I am [REDACTED_EMAIL]" }] },
          ]),
        },
      },
      {
        span_id: "a000000000000002",
        attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_customer" },
        content_attributes: {
          "gen_ai.tool.call.arguments": '{"phone":"[REDACTED_PHONE]"}',
          "gen_ai.tool.call.result": '{"card":"[REDACTED_CARD]"}',
        },
      },
      {
        span_id: "a000000000000003",
        attributes: {},
        content_attributes: { "traceloop.entity.input": "mail [REDACTED_EMAIL]" },
      },
    ]);

    // The read API shows a span's attributes whole, content included (redacted).
    const t = await fetchTrace(collector, TRACE);
    const tool = t.spans.find((s) => s["span_id"] === "a000000000000002");
    expect(tool?.["attributes"]).toEqual({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "lookup_customer",
      "gen_ai.tool.call.arguments": '{"phone":"[REDACTED_PHONE]"}',
      "gen_ai.tool.call.result": '{"card":"[REDACTED_CARD]"}',
    });
  });
});

describe("an install from before content_attributes upgrades in place", () => {
  let storage: StorageClient;
  const db = "t_span_content_upgrade";

  beforeAll(async () => {
    ({ storage } = await embeddedStorage());
    await migrate(
      storage.client,
      { database: db, contentRetentionDays: 30, retentionDays: 0 },
      MIGRATIONS.filter((m) => m.version !== 4),
    );
  });

  afterAll(async () => {
    await storage.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
  });

  it("migration-4-adds-the-column-with-the-content-ttl-and-the-staging-path-carries-it", async () => {
    const applied = await migrate(storage.client, { database: db, contentRetentionDays: 30, retentionDays: 0 });
    expect(applied).toEqual([4]);
    const rs = await storage.client.query({
      query: `SELECT name, create_table_query AS q FROM system.tables WHERE database = '${db}' AND name IN ('spans', 'spans_ingest', 'spans_ingest_mv') ORDER BY name`,
      format: "JSONEachRow",
    });
    const [spans, ingest, view] = await rs.json<{ name: string; q: string }>();
    expect(spans?.q).toContain(
      "`content_attributes` Map(LowCardinality(String), String) CODEC(ZSTD(3)) TTL toDateTime(timestamp) + toIntervalDay(30)",
    );
    expect(ingest?.q).toContain("`content_attributes` Map(String, String)");
    expect(view?.q).toMatch(/SELECT .*content_attributes FROM/);

    const writer = await startedWriter(storage, db);
    const row: SpanRow = {
      timestamp: Date.now() * 1000,
      end_timestamp: Date.now() * 1000,
      trace_id: "t1",
      span_id: "s1",
      parent_span_id: "",
      name: "execute_tool x",
      kind: 1,
      service: "svc",
      scope_name: "",
      status_code: 0,
      status_message: "",
      duration_ms: 1,
      convention: "otel_genai",
      operation: "execute_tool",
      is_llm_call: 0,
      attributes: { "gen_ai.tool.name": "x" },
      content_attributes: { "gen_ai.tool.call.result": "ok" },
      resource_attributes: {},
      events: "[]",
    };
    await writer.write("spans", [row]);
    await writer.close();
    const back = await storage.client.query({
      query: `SELECT attributes, content_attributes FROM ${db}.spans WHERE span_id = 's1'`,
      format: "JSONEachRow",
    });
    expect(await back.json()).toEqual([
      { attributes: { "gen_ai.tool.name": "x" }, content_attributes: { "gen_ai.tool.call.result": "ok" } },
    ]);
  });
});
