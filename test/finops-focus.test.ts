import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installErrorHandler } from "../collector/src/api/error-handler.js";
import { registerSpendRoutes } from "../collector/src/api/spend-routes.js";
import { runExport } from "../collector/src/cli/export.js";
import type { Config } from "../collector/src/config/schema.js";
import { createFinops, type Finops } from "../collector/src/finops/finops.js";
import { exportFocus, FOCUS_COLUMNS } from "../collector/src/finops/focus-export.js";
import { decimalToNano, nanoToDecimal } from "../collector/src/finops/money.js";
import { FINOPS_MIGRATIONS } from "../collector/src/finops/schema.js";
import type { StorageClient } from "../collector/src/storage/client.js";
import { MIGRATIONS, migrate } from "../collector/src/storage/migrations.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";
import { gptTestBook } from "./helpers/finops.js";

let storage: StorageClient;
let config: Config;
let db: string;
let dir: string;
let finops: Finops;
let app: FastifyInstance;
let url: string;

type Row = Record<string, unknown>;

/** RFC 4180 CSV: quoted fields, "" inside quotes, empty field = null. */
function parseCsv(text: string): Record<string, string | null>[] {
  const records: (string | null)[][] = [];
  let field = "";
  let quoted = false;
  let wasQuoted = false;
  let rec: (string | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') {
      quoted = true;
      wasQuoted = true;
    } else if (ch === ",") {
      rec.push(field === "" && !wasQuoted ? null : field);
      field = "";
      wasQuoted = false;
    } else if (ch === "\n") {
      rec.push(field === "" && !wasQuoted ? null : field);
      records.push(rec);
      rec = [];
      field = "";
      wasQuoted = false;
    } else field += ch;
  }
  const [header, ...rows] = records;
  return rows.map((r) => Object.fromEntries((header ?? []).map((h, i) => [h ?? "", r[i] ?? null])));
}

async function streamText(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

async function q<T = Row>(sql: string): Promise<T[]> {
  const rs = await storage.client.query({
    query: `${sql} SETTINGS output_format_json_quote_decimals = 1, output_format_json_quote_64bit_integers = 0`,
    format: "JSONEachRow",
  });
  return rs.json<T>();
}

let seq = 0;
function row(p: Row & { timestamp: number }): Row {
  seq++;
  return {
    trace_id: seq.toString(16).padStart(32, "0"),
    span_id: seq.toString(16).padStart(16, "0"),
    team: "search",
    project: "web",
    environment: "prod",
    provider: "openai",
    request_model: "gpt-test",
    input_tokens: 1000,
    output_tokens: 100,
    priced: 1,
    price_id: "openai/gpt-test@1",
    status: "ok",
    source: "proxy",
    tags: {},
    ...p,
  };
}

beforeAll(async () => {
  const s = await embeddedStorage();
  storage = s.storage;
  dir = s.dir;
  config = testConfig(dir);
  db = storage.database;
  await migrate(storage.client, { database: db, contentRetentionDays: 30, retentionDays: 0 }, [
    ...MIGRATIONS,
    ...FINOPS_MIGRATIONS,
  ]);
  const rows: Row[] = [];
  let x = 5;
  const rnd = (n: number) => {
    x = (x * 48271) % 2147483647;
    return x % n;
  };
  const combos: [string, string, string][] = [
    ["openai", "gpt-test", "openai/gpt-test@1"],
    ["aws.bedrock", "us.anthropic.claude-x-v1:0", "anthropic/claude-x@2"],
    ["azure.ai.openai", "gpt-test", "openai/gpt-test@1"],
    ["groq", "llama-x", ""],
  ];
  for (let i = 0; i < 4000; i++) {
    const [provider, model, priceId] = combos[rnd(4)] ?? ["openai", "gpt-test", ""];
    const input = rnd(20) === 0 ? 0 : 1 + rnd(30_000);
    const output = rnd(20) === 0 ? 0 : rnd(2000);
    // Cost follows tokens: a call that used none cost nothing.
    const cost = input + output === 0 ? "0" : (rnd(10_000_000) / 1e9).toFixed(9);
    const discounted = rnd(3) === 0;
    rows.push(
      row({
        // October 2026, plus a few calls either side that must stay out.
        timestamp: (Date.UTC(2026, 9, 1) + (rnd(33 * 86_400) - 86_400) * 1000) * 1000 + rnd(1000),
        team: ["search", "ads", ""][rnd(3)],
        project: ["web", "api"][rnd(2)],
        provider,
        request_model: model,
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: rnd(500),
        reasoning_tokens: rnd(50),
        priced: priceId ? 1 : 0,
        price_id: priceId,
        cost_usd: priceId ? (discounted ? (Number(cost) * 0.8).toFixed(9) : cost) : null,
        list_cost_usd: priceId ? cost : null,
        cache_hit: rnd(25) === 0 ? 1 : 0,
      }),
    );
  }
  await storage.client.insert({
    table: `${db}.llm_calls`,
    values: rows,
    format: "JSONEachRow",
    clickhouse_settings: { insert_deduplication_token: randomUUID() },
  });
  finops = await createFinops({
    config,
    storage,
    logger: silentLogger,
    book: gptTestBook({ input: 1, output: 1 }),
  });
  app = Fastify();
  installErrorHandler(app);
  registerSpendRoutes(app, { finops, auth: undefined });
  app.get("/healthz", async () => ({ status: "ok" }));
  url = await app.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await app?.close();
  await finops?.close();
});

const MANDATORY = [
  "BilledCost",
  "BillingAccountId",
  "BillingAccountName",
  "BillingCurrency",
  "BillingPeriodEnd",
  "BillingPeriodStart",
  "ChargeCategory",
  "ChargeClass",
  "ChargeDescription",
  "ChargePeriodEnd",
  "ChargePeriodStart",
  "ContractedCost",
  "EffectiveCost",
  "InvoiceIssuerName",
  "ListCost",
  "PricingQuantity",
  "PricingUnit",
  "ProviderName",
  "PublisherName",
  "ServiceCategory",
  "ServiceName",
];
const NOT_NULL = [
  ...MANDATORY.filter((c) => c !== "ChargeClass"),
  "ConsumedQuantity",
  "ConsumedUnit",
  "ChargeFrequency",
];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe("FOCUS 1.2 export", () => {
  it("CSV follows the spec's column rules and its sums match the stored calls to the cent", async () => {
    const text = (
      await streamText(await exportFocus(storage.client, db, { month: "2026-10", format: "csv" }))
    ).toString();
    const header = text.slice(0, text.indexOf("\n")).replaceAll('"', "").split(",");
    expect(header).toEqual([...FOCUS_COLUMNS]);
    for (const c of MANDATORY) expect(header, c).toContain(c);
    for (const c of header) expect(c, "FOCUS columns are PascalCase, custom ones x_").toMatch(/^(x_)?[A-Z][A-Za-z]+$/);
    expect(header.filter((c) => c.startsWith("x_")).length).toBeGreaterThan(5);

    const rows = parseCsv(text);
    expect(rows.length).toBeGreaterThan(100);
    let billed = 0n;
    let list = 0n;
    let calls = 0;
    let unpriced = 0;
    for (const r of rows) {
      for (const c of NOT_NULL) expect(r[c], c).not.toBeNull();
      expect(r["ChargeClass"]).toBeNull();
      expect(r).toMatchObject({
        ChargeCategory: "Usage",
        ChargeFrequency: "Usage-Based",
        BillingCurrency: "USD",
        ServiceCategory: "AI and Machine Learning",
        ServiceSubcategory: "Generative AI",
        ConsumedUnit: "Tokens",
        PricingUnit: "1000000 Tokens",
        PricingCategory: "Standard",
        BillingPeriodStart: "2026-10-01T00:00:00Z",
        BillingPeriodEnd: "2026-11-01T00:00:00Z",
      });
      for (const c of ["ChargePeriodStart", "ChargePeriodEnd"]) expect(r[c]).toMatch(ISO_UTC);
      const start = Date.parse(r["ChargePeriodStart"] ?? "");
      const end = Date.parse(r["ChargePeriodEnd"] ?? "");
      expect(start).toBeLessThan(end);
      expect(start).toBeGreaterThanOrEqual(Date.UTC(2026, 9, 1));
      expect(end).toBeLessThanOrEqual(Date.UTC(2026, 10, 1));
      const b = decimalToNano(r["BilledCost"]);
      const e = decimalToNano(r["EffectiveCost"]);
      const l = decimalToNano(r["ListCost"]);
      expect(b >= 0n).toBe(true);
      expect(e).toBe(b);
      expect(decimalToNano(r["ContractedCost"])).toBe(e);
      expect(e <= l).toBe(true);
      expect(Number(r["ConsumedQuantity"])).toBeGreaterThan(0);
      expect(Number(r["PricingQuantity"]) * 1e6).toBeCloseTo(Number(r["ConsumedQuantity"]), 3);
      expect(Number(r["ConsumedQuantity"])).toBe(Number(r["x_InputTokens"]) + Number(r["x_OutputTokens"]));
      const tags = JSON.parse(r["Tags"] ?? "null") as Record<string, string>;
      expect(Object.keys(tags).every((k) => k.startsWith("tokenmeter/"))).toBe(true);
      if (r["SubAccountId"] === null) expect(r["SubAccountName"]).toBeNull();
      else expect(r["SubAccountName"]).toBe(r["SubAccountId"]);
      billed += b;
      list += l;
      calls += Number(r["x_Calls"]);
      unpriced += Number(r["x_UnpricedCalls"]);
    }
    // Bedrock bills Claude: provider Amazon, publisher Anthropic.
    const bedrock = rows.find((r) => r["x_Provider"] === "aws.bedrock");
    expect(bedrock).toMatchObject({
      ProviderName: "Amazon Web Services",
      PublisherName: "Anthropic",
      ServiceName: "Amazon Bedrock",
      SkuPriceId: "anthropic/claude-x@2",
    });
    expect(rows.find((r) => r["x_Provider"] === "groq")).toMatchObject({ SkuPriceId: null, BilledCost: "0" });

    // Calls that used no tokens cost nothing and have no charge row unless they share one.
    const [stored] = await q<{ cost: string; list: string; calls: number; unpriced: number }>(
      `SELECT toString(sum(cost)) AS cost, toString(sum(list)) AS list, sum(n) AS calls, sum(u) AS unpriced FROM (
         SELECT sum(ifNull(cost_usd, 0)) AS cost, sum(ifNull(list_cost_usd, ifNull(cost_usd, 0))) AS list,
           count() AS n, countIf(priced = 0) AS u, sum(input_tokens + output_tokens) AS t
         FROM ${db}.llm_calls
         WHERE timestamp >= '2026-10-01 00:00:00' AND timestamp < '2026-11-01 00:00:00' AND cache_hit = 0
         GROUP BY toDate(timestamp), team, project, environment, provider, request_model, price_id
         HAVING t > 0)`,
    );
    const [all] = await q<{ cost: string }>(
      `SELECT toString(sum(ifNull(cost_usd, 0))) AS cost FROM ${db}.llm_calls
       WHERE timestamp >= '2026-10-01 00:00:00' AND timestamp < '2026-11-01 00:00:00' AND cache_hit = 0`,
    );
    expect(decimalToNano(all?.cost)).toBe(decimalToNano(stored?.cost));
    expect(nanoToDecimal(billed)).toBe(nanoToDecimal(decimalToNano(stored?.cost)));
    expect(nanoToDecimal(list)).toBe(nanoToDecimal(decimalToNano(stored?.list)));
    expect(calls).toBe(stored?.calls);
    expect(unpriced).toBe(stored?.unpriced);
    expect(list > billed).toBe(true);
  });

  it("Parquet carries the same rows with typed columns", async () => {
    const file = join(dir, "focus.parquet");
    writeFileSync(
      file,
      await streamText(await exportFocus(storage.client, db, { month: "2026-10", format: "parquet" })),
    );
    const types = Object.fromEntries(
      (await q<{ name: string; type: string }>(`DESCRIBE file('${file}', Parquet)`)).map((c) => [c.name, c.type]),
    );
    expect(types["BilledCost"]).toMatch(/^Decimal/);
    expect(types["ChargePeriodStart"]).toMatch(/^DateTime64/);
    expect(types["ChargeClass"]).toBe("Nullable(String)");
    const [sums] = await q<{ billed: string; rows: number; bad: number }>(
      `SELECT toString(sum(BilledCost)) AS billed, count() AS rows,
         countIf(ChargePeriodStart >= ChargePeriodEnd OR EffectiveCost > ListCost OR BilledCost < 0) AS bad
       FROM file('${file}', Parquet)`,
    );
    const [csv] = await q<{ cost: string; rows: number }>(
      `SELECT toString(sum(ifNull(cost_usd, 0))) AS cost, 0 AS rows FROM ${db}.llm_calls
       WHERE timestamp >= '2026-10-01 00:00:00' AND timestamp < '2026-11-01 00:00:00' AND cache_hit = 0 AND input_tokens + output_tokens > 0`,
    );
    expect(decimalToNano(sums?.billed)).toBe(decimalToNano(csv?.cost));
    expect(sums?.bad).toBe(0);
  });

  it("tokenmeter export focus --out writes the file through the running server", async () => {
    const out = join(dir, "focus-cli.csv");
    let err = "";
    const stderr = new Writable({
      write(c, _e, cb) {
        err += String(c);
        cb();
      },
    });
    const code = await runExport(["focus", "--month", "2026-10", "--format", "csv", "--out", out, "--api-url", url], {
      stderr,
    });
    expect(code, err).toBe(0);
    expect(err).toMatch(/^wrote FOCUS csv for 2026-10 to /);
    const direct = (
      await streamText(await exportFocus(storage.client, db, { month: "2026-10", format: "csv" }))
    ).toString();
    expect(readFileSync(out, "utf8")).toBe(direct);
  });
});
