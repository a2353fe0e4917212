import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCollector, type Collector } from "../collector/src/app.js";
import type { Config } from "../collector/src/config/schema.js";
import { loadConfiguredPriceBook } from "../collector/src/finops/catalog.js";
import { reprice } from "../collector/src/finops/reprice.js";
import { FINOPS_MIGRATIONS } from "../collector/src/finops/schema.js";
import { MIGRATIONS, migrate } from "../collector/src/storage/migrations.js";
import { llmCallRow } from "../collector/src/storage/test-row.js";
import { intAttr, otlpJsonTraces, strAttr } from "./helpers/collector.js";
import { embeddedStorage, silentLogger, startedWriter, testConfig } from "./helpers/embedded.js";

type Row = Record<string, unknown>;

let collector: Collector;
let config: Config;
let db: string;

const T0 = Date.UTC(2026, 10, 3, 10);

function span(i: number, team: string, model: string, input: number, output: number) {
  return {
    traceId: (0x11c000 + i).toString(16).padStart(32, "0"),
    spanId: (0x22c000 + i).toString(16).padStart(16, "0"),
    name: `chat ${model}`,
    kind: 3,
    startTimeUnixNano: String(BigInt(T0 + i * 1000) * 1_000_000n),
    endTimeUnixNano: String(BigInt(T0 + i * 1000 + 500) * 1_000_000n),
    attributes: [
      strAttr("gen_ai.operation.name", "chat"),
      strAttr("gen_ai.provider.name", "openai"),
      strAttr("gen_ai.request.model", model),
      intAttr("gen_ai.usage.input_tokens", input),
      intAttr("gen_ai.usage.output_tokens", output),
      strAttr("tokenmeter.team", team),
    ],
  };
}

async function sql<T = Row>(query: string): Promise<T[]> {
  const rs = await collector.storage.client.query({
    query,
    format: "JSONEachRow",
    clickhouse_settings: { output_format_json_quote_decimals: 1 },
  });
  return rs.json<T>();
}

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  config = testConfig(dir, {
    pricing: {
      contracts: [{ name: "search-openai", match: { team: "search", provider: "openai" }, discountPercent: 12 }],
    },
  });
  collector = await buildCollector({ config, storage, logger: silentLogger });
  db = storage.database;
});

afterAll(async () => {
  await collector?.close();
});

describe("list cost at ingest", () => {
  it("a-contract-call-stores-its-list-cost-beside-the-effective-cost-and-the-calls-api-returns-both", async () => {
    const res = await collector.app.inject({
      method: "POST",
      url: "/v1/traces",
      headers: { "content-type": "application/json" },
      // o4-mini at 1.1 / 4.4 per million: 10,000 in + 5,625 out = 0.03575 list, 0.03146 at 12% off.
      payload: otlpJsonTraces("svc", [
        span(1, "search", "o4-mini", 10_000, 5_625),
        span(2, "ads", "o4-mini", 10_000, 5_625),
      ]),
    });
    expect(res.statusCode).toBe(200);
    const calls = await collector.app.inject({ method: "GET", url: "/api/v1/calls?model=o4-mini&limit=10" });
    expect(calls.statusCode).toBe(200);
    const byTeam = Object.fromEntries(
      (calls.json() as { calls: Row[] }).calls.map((c) => [
        c["team"],
        [Number(c["cost_usd"]), Number(c["list_cost_usd"])],
      ]),
    );
    expect(byTeam).toEqual({ search: [0.03146, 0.03575], ads: [0.03575, 0.03575] });
    const stored = await sql(`SELECT team, cost_usd, list_cost_usd FROM ${db}.llm_calls ORDER BY team`);
    expect(stored).toEqual([
      { team: "ads", cost_usd: "0.03575", list_cost_usd: "0.03575" },
      { team: "search", cost_usd: "0.03146", list_cost_usd: "0.03575" },
    ]);

    // Re-rating with the same catalog and contracts finds nothing to change.
    const result = await reprice({
      client: collector.storage.client,
      database: db,
      book: loadConfiguredPriceBook(config),
      pricing: config.pricing,
      fromUs: Date.UTC(2026, 10, 3) * 1000,
      toUs: Date.UTC(2026, 10, 4) * 1000,
      dryRun: true,
    });
    expect(result.calls).toBe(2);
    expect(result.changed_calls).toBe(0);
  });

  it("a-batch-spooled-in-the-layout-before-list-cost-inserts-with-list-equal-to-effective", async () => {
    await collector.close();
    // The llm_calls layout of the previous version: no list_cost_usd.
    const older =
      "timestamp,trace_id,span_id,parent_span_id,service,environment,team,project,user_id,session_id,feature,source,convention,provider,operation,request_model,response_model,response_id,prompt_name,prompt_version,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,tokens_estimated,cost_usd,reported_cost_usd,priced,price_id,duration_ms,ttft_ms,streamed,status,error_type,finish_reason,http_status,request_params,input,output,redacted,cache_hit,tags";
    const fields = older.split(",").map((c) => {
      if (c === "timestamp") return String(T0 * 1000 + 5_000_000);
      if (c === "span_id") return "0000000000000009";
      if (c === "team") return "spooled";
      if (c === "cost_usd") return "0.5";
      if (c === "reported_cost_usd" || c === "ttft_ms") return "\\N";
      if (c === "tags") return "{}";
      if (c === "status") return "ok";
      if (c.endsWith("_tokens") || ["tokens_estimated", "priced", "duration_ms", "streamed"].includes(c)) return "0";
      if (["http_status", "redacted", "cache_hit"].includes(c)) return "0";
      return "";
    });
    await writeFile(
      join(config.ingest.spoolDir, "0000000000000001.tmspool"),
      `${JSON.stringify({ table: "llm_calls", token: "old-layout-1", rows: 1, layout: `tsv:${older}` })}\n${fields.join("\t")}\n`,
    );
    const { storage } = await embeddedStorage();
    collector = await buildCollector({ config, storage, logger: silentLogger });
    expect(await sql(`SELECT cost_usd, list_cost_usd FROM ${db}.llm_calls WHERE team = 'spooled'`)).toEqual([
      { cost_usd: "0.5", list_cost_usd: "0.5" },
    ]);
  });
});

describe("an install from before the staging path carried list_cost_usd upgrades in place", () => {
  const old = "t_list_cost_upgrade";

  afterAll(async () => {
    const { storage } = await embeddedStorage();
    await storage.client.command({ query: `DROP DATABASE IF EXISTS ${old}` });
  });

  it("migration-5-adds-the-column-to-staging-and-its-view-and-written-list-costs-land", async () => {
    const { storage } = await embeddedStorage();
    const ctx = { database: old, contentRetentionDays: 30, retentionDays: 0 };
    await migrate(storage.client, ctx, [...MIGRATIONS.filter((m) => m.version !== 5), ...FINOPS_MIGRATIONS]);
    expect(await migrate(storage.client, ctx, [...MIGRATIONS, ...FINOPS_MIGRATIONS])).toEqual([5]);
    const writer = await startedWriter(storage, old);
    await writer.write("llm_calls", [
      llmCallRow({ timestamp: T0 * 1000, span_id: "a1", priced: 1, cost_usd: "0.88", list_cost_usd: "1" }),
    ]);
    await writer.close();
    const rs = await storage.client.query({
      query: `SELECT cost_usd, list_cost_usd FROM ${old}.llm_calls`,
      format: "JSONEachRow",
      clickhouse_settings: { output_format_json_quote_decimals: 1 },
    });
    expect(await rs.json()).toEqual([{ cost_usd: "0.88", list_cost_usd: "1" }]);
  });
});
