import { beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../collector/src/config/schema.js";
import { createPriceBook, type PriceBook } from "../collector/src/enrich/price-book.js";
import { priceCall } from "../collector/src/enrich/pricing.js";
import { pricingSchema } from "../collector/src/finops/config.js";
import { withContractPricing } from "../collector/src/finops/rating.js";
import { reprice } from "../collector/src/finops/reprice.js";
import { FINOPS_MIGRATIONS } from "../collector/src/finops/schema.js";
import type { StorageClient } from "../collector/src/storage/client.js";
import { MIGRATIONS, migrate } from "../collector/src/storage/migrations.js";
import type { LlmCallRow } from "../collector/src/storage/rows.js";
import { llmCallRow } from "../collector/src/storage/test-row.js";
import { embeddedStorage, testConfig } from "./helpers/embedded.js";

let storage: StorageClient;
let config: Config;
let db: string;

const SOURCE = "https://example.com/pricing";

function catalog(entries: object[]) {
  return { catalog_version: "test", currency: "USD", unit: "per_1m_tokens", entries };
}

const GPT_V1 = {
  id: "openai/gpt-test",
  provider: "openai",
  model: "gpt-test",
  aliases: ["gpt-test-latest"],
  effective_from: "2026-01-01",
  input: 2,
  output: 8,
  cache_read: 0.5,
  tiers: [{ above_input_tokens: 100_000, input: 4, output: 12, cache_read: 1 }],
  source: SOURCE,
  version: "2026-01-01",
};
const CLAUDE = {
  id: "anthropic/claude-test",
  provider: "anthropic",
  model: "claude-test",
  aliases: [],
  effective_from: "2026-01-01",
  input: 3,
  output: 15,
  cache_read: 0.3,
  cache_write: 3.75,
  source: SOURCE,
  version: "2026-01-01",
};

const BOOK_A = createPriceBook(catalog([GPT_V1, CLAUDE]));
/** The price fix: gpt-test got cheaper on 2026-10-15. */
const BOOK_B = createPriceBook(
  catalog([
    { ...GPT_V1, effective_to: "2026-10-15" },
    { ...GPT_V1, effective_from: "2026-10-15", version: "2026-10-15", input: 1, output: 4, tiers: [] },
    CLAUDE,
  ]),
);

const T_OCT = Date.UTC(2026, 9, 1);
const DAY = 86_400_000;

let seq = 0;
function row(partial: Partial<LlmCallRow> & { timestamp: number }): LlmCallRow {
  seq++;
  return llmCallRow({
    trace_id: seq.toString(16).padStart(32, "0"),
    span_id: seq.toString(16).padStart(16, "0"),
    service: "svc",
    environment: "test",
    team: "search",
    project: "web",
    request_model: "gpt-test",
    input_tokens: 1000,
    output_tokens: 100,
    duration_ms: 100,
    ...partial,
  });
}

/** What the ingest pipeline does: price from the catalog, then list vs effective (rating.ts). */
function ingestRater(book: PriceBook, pricing = pricingSchema.parse({})) {
  return withContractPricing(
    (r: LlmCallRow) => {
      const p = priceCall({ ...r, timestampUs: r.timestamp }, book);
      return { ...r, cost_usd: p.cost_usd, priced: p.priced, price_id: p.price_id } as LlmCallRow & {
        list_cost_usd?: string | null;
      };
    },
    book,
    pricing,
  );
}

async function insert(rows: object[]) {
  await storage.client.insert({ table: `${db}.llm_calls`, values: rows, format: "JSONEachRow" });
}

async function q<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const rs = await storage.client.query({
    query: sql,
    format: "JSONEachRow",
    clickhouse_settings: { output_format_json_quote_decimals: 1 },
  });
  return rs.json<T>();
}

beforeAll(async () => {
  const { dir, storage: s } = await embeddedStorage();
  storage = s;
  config = testConfig(dir);
  db = config.storage.database;
  await migrate(storage.client, { database: db, contentRetentionDays: 30, retentionDays: 0 }, [
    ...MIGRATIONS,
    ...FINOPS_MIGRATIONS,
  ]);
});

describe("reprice", () => {
  it("a mid-month price change reprices only the calls from its effective date on, and only once", async () => {
    const rate = ingestRater(BOOK_A);
    const rows: object[] = [];
    for (let d = 0; d < 31; d++) {
      const ts = (T_OCT + d * DAY + 3_600_000) * 1000;
      rows.push(rate(row({ timestamp: ts, team: "search" })));
      rows.push(rate(row({ timestamp: ts + 1000, team: "ads", input_tokens: 200_000, output_tokens: 1000 })));
      rows.push(rate(row({ timestamp: ts + 2000, team: "ads", provider: "anthropic", request_model: "claude-test" })));
      rows.push(rate(row({ timestamp: ts + 3000, team: "ads", request_model: "mystery-model" })));
    }
    await insert(rows);

    // Before: gpt-test 1000 in + 100 out at $2/$8 per 1M = 0.0028.
    const before = await q<{ d: string; cost: string }>(
      `SELECT toString(toDate(timestamp)) d, toString(cost_usd) cost FROM ${db}.llm_calls WHERE team = 'search' ORDER BY timestamp`,
    );
    expect(before.every((r) => r.cost === "0.0028")).toBe(true);

    const phases = new Set<string>();
    const result = await reprice({
      client: storage.client,
      database: db,
      book: BOOK_B,
      pricing: pricingSchema.parse({}),
      fromUs: T_OCT * 1000,
      toUs: (T_OCT + 31 * DAY) * 1000,
      onProgress: (p) => phases.add(p.phase),
    });
    expect(result.rewritten).toBe(true);
    // 17 days (15th..31st) x 2 gpt-test calls change.
    expect(result.changed_calls).toBe(34);
    expect([...phases]).toEqual(["plan", "predict", "rewrite", "rollup", "verify"]);

    const after = await q<{ d: string; cost: string; price_id: string }>(
      `SELECT toString(toDate(timestamp)) d, toString(cost_usd) cost, price_id FROM ${db}.llm_calls WHERE team = 'search' ORDER BY timestamp`,
    );
    for (const r of after) {
      if (r.d < "2026-10-15") {
        expect(r).toMatchObject({ cost: "0.0028", price_id: "openai/gpt-test@2026-01-01" });
      } else {
        // $1/$4 per 1M: 0.001 + 0.0004
        expect(r).toMatchObject({ cost: "0.0014", price_id: "openai/gpt-test@2026-10-15" });
      }
    }
    // The long-context tier applied before the change, the new flat price after.
    const ads = await q<{ d: string; price_id: string; cost: string }>(
      `SELECT toString(toDate(timestamp)) d, price_id, toString(cost_usd) cost FROM ${db}.llm_calls WHERE team = 'ads' AND request_model = 'gpt-test' ORDER BY timestamp`,
    );
    expect(ads[0]).toMatchObject({ price_id: "openai/gpt-test@2026-01-01#tier>100000", cost: "0.812" });
    expect(ads[ads.length - 1]).toMatchObject({ price_id: "openai/gpt-test@2026-10-15", cost: "0.204" });
    // Untouched: other models, and the unpriced one stays unpriced.
    const others = await q<{ m: string; costs: string[]; priced: number[] }>(
      `SELECT request_model m, groupUniqArray(toString(cost_usd)) costs, groupUniqArray(priced) priced FROM ${db}.llm_calls WHERE request_model != 'gpt-test' GROUP BY m ORDER BY m`,
    );
    expect(others).toEqual([
      { m: "claude-test", costs: ["0.0045"], priced: [1] },
      { m: "mystery-model", costs: [], priced: [0] },
    ]);

    // Both rollups agree with llm_calls after the corrections, per hour and team.
    expect(result.rollup_corrections).toBeGreaterThan(0);
    const raw = await q<{ k: string; c: string; u: string }>(
      `SELECT concat(toString(toStartOfHour(timestamp)), team, request_model) k, toString(sumIf(ifNull(cost_usd, 0), cache_hit = 0)) c, toString(countIf(priced = 0)) u FROM ${db}.llm_calls GROUP BY k ORDER BY k`,
    );
    const hourly = await q<{ k: string; c: string; u: string }>(
      `SELECT concat(toString(hour), team, model) k, toString(sum(cost_usd)) c, toString(sum(unpriced_calls)) u FROM ${db}.llm_calls_hourly GROUP BY k ORDER BY k`,
    );
    expect(hourly).toEqual(raw);
    const rawDays = await q<{ k: string; c: string }>(
      `SELECT concat(toString(toDate(timestamp)), team) k, toString(sumIf(ifNull(cost_usd, 0), cache_hit = 0)) c FROM ${db}.llm_calls GROUP BY k ORDER BY k`,
    );
    const daily = await q<{ k: string; c: string }>(
      `SELECT concat(toString(day), team) k, toString(sum(cost_usd)) c FROM ${db}.llm_calls_daily GROUP BY k ORDER BY k`,
    );
    expect(daily).toEqual(rawDays);

    // Diff per model and team.
    const search = result.rows.find((r) => r.model === "gpt-test" && r.team === "search");
    expect(search).toMatchObject({ calls: 31, changed_calls: 17 });
    expect(search?.delta_usd).toBe("-0.023800000");

    // Idempotent: a second run changes nothing and rewrites nothing.
    const again = await reprice({
      client: storage.client,
      database: db,
      book: BOOK_B,
      pricing: pricingSchema.parse({}),
      fromUs: T_OCT * 1000,
      toUs: (T_OCT + 31 * DAY) * 1000,
    });
    expect(again).toMatchObject({ changed_calls: 0, rewritten: false, rollup_corrections: 0 });
    expect(again.totals.delta_usd).toBe("0.000000000");
  });

  it("SQL rating matches the ingest path row by row: tiers, service tiers, contracts, discounts", async () => {
    const pricing = pricingSchema.parse({
      serviceTiers: { batch: 0.5, flex: 0.5 },
      providerServiceTiers: { openai: { priority: 1.75 } },
      contracts: [
        {
          // Negotiated rates on a model with a long-context tier, cache reads unnamed.
          name: "ml-gpt",
          match: { team: "ml", model: "gpt-test*" },
          prices: [{ model: "gpt-test", input: 1.5, output: 6 }],
        },
        {
          name: "ads-claude",
          match: { team: "ads", model: "claude-*" },
          prices: [{ model: "claude-test", input: 2.5, output: 11, cache_read: 0.25 }],
        },
        {
          name: "openai-ent",
          match: { provider: "openai" },
          discountPercent: 12.5,
          from: "2026-10-10",
          to: "2026-10-20",
        },
      ],
    });
    const rate = ingestRater(BOOK_B, pricing);
    const rows: object[] = [];
    let x = 7;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x % n;
    };
    const models: [string, string, string][] = [
      ["openai", "gpt-test", ""],
      ["openai", "gpt-test", "gpt-test-latest"],
      ["azure.ai.openai", "gpt-test", ""],
      ["anthropic", "claude-test", "claude-test"],
      ["anthropic", "claude-test-20260101", ""],
      ["openai", "unknown-x", ""],
    ];
    for (let i = 0; i < 3000; i++) {
      const [provider, request_model, response_model] = models[rnd(models.length)] ?? ["openai", "gpt-test", ""];
      const input = rnd(3) === 0 ? 150_000 + rnd(100_000) : rnd(20_000);
      const output = rnd(5000);
      const tier = ["", "batch", "flex", "priority", "default"][rnd(5)] ?? "";
      rows.push(
        rate(
          row({
            timestamp: (Date.UTC(2026, 8, 1) + rnd(30) * DAY + rnd(86_400) * 1000) * 1000 + rnd(1000),
            team: ["ads", "search", "ml"][rnd(3)] ?? "ads",
            project: "p",
            provider,
            request_model,
            response_model,
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: Math.min(input, rnd(4000)),
            cache_write_tokens: provider === "anthropic" ? rnd(500) : 0,
            reasoning_tokens: Math.min(output, rnd(800)),
            tags: rnd(2) === 0 && tier ? { service_tier: tier } : {},
            request_params: tier ? JSON.stringify({ temperature: 0, service_tier: tier.toUpperCase() }) : "{}",
          }),
        ),
      );
    }
    await insert(rows);
    const result = await reprice({
      client: storage.client,
      database: db,
      book: BOOK_B,
      pricing,
      fromUs: Date.UTC(2026, 8, 1) * 1000,
      toUs: Date.UTC(2026, 9, 1) * 1000,
      dryRun: true,
    });
    expect(result.calls).toBe(3000);
    expect(result.changed_calls).toBe(0);
    // The contracts did apply: effective below list for some rows.
    const [s] = await q<{ cheaper: string; dearer: string }>(
      `SELECT countIf(cost_usd < list_cost_usd) cheaper, countIf(cost_usd > list_cost_usd) dearer FROM ${db}.llm_calls WHERE timestamp < '2026-10-01'`,
    );
    expect(Number(s?.cheaper)).toBeGreaterThan(100);
    expect(Number(s?.dearer)).toBe(0);
  });
});
