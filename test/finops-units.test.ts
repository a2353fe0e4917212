import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runPrices } from "../collector/src/cli/prices.js";
import { loadConfig } from "../collector/src/config/load-config.js";
import { DEFAULT_CATALOG_URL, loadPriceBook } from "../collector/src/enrich/price-book.js";
import { priceCall } from "../collector/src/enrich/pricing.js";
import { anomalyScore } from "../collector/src/finops/anomalies.js";
import { pricingSchema } from "../collector/src/finops/config.js";
import { linearRegression, project, weightedRunRate } from "../collector/src/finops/forecast.js";
import { decimalToNano, formatNanoUsd, nanoToDecimal } from "../collector/src/finops/money.js";
import { createRater, serviceTierOf } from "../collector/src/finops/rating.js";
import { FINOPS_MIGRATIONS } from "../collector/src/finops/schema.js";
import { formatTable } from "../collector/src/finops/table.js";
import { parseTime } from "../collector/src/finops/time-arg.js";
import { calendarWindow, fromLocal, localDate } from "../collector/src/finops/time-zone.js";

function capture() {
  let text = "";
  return {
    stream: new Writable({
      write(c, _e, cb) {
        text += String(c);
        cb();
      },
    }),
    text: () => text,
  };
}

async function prices(args: string[]) {
  const out = capture();
  const err = capture();
  const code = await runPrices(args, { stdout: out.stream, stderr: err.stream, now: Date.UTC(2026, 10, 20) });
  return { code, out: out.text(), err: err.text() };
}

const tmp = mkdtempSync(join(tmpdir(), "tokenmeter-prices-"));
const shipped = JSON.parse(readFileSync(DEFAULT_CATALOG_URL, "utf8")) as {
  entries: Record<string, unknown>[];
} & Record<string, unknown>;

describe("tokenmeter prices", () => {
  it("show: the prices in force, filtered, as an aligned table", async () => {
    const r = await prices(["show", "--provider", "openai", "--model", "gpt-5.4"]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toMatch(/^catalog .*catalog\.json \(version [\w.-]+\), USD per 1M tokens, in force at 2026-11-20/);
    expect(lines[2]).toMatch(
      /^provider\s+model\s+version\s+input\s+output\s+cache_read\s+cache_write\s+tiers \(in\/out\)\s+effective$/,
    );
    expect(r.out).toMatch(/\nopenai\s+gpt-5\.4\s+2026-03-05\s+2\.5\s+15\s+0\.25\s+-\s+>272K 5\/22\.5/);
  });

  it("validate: the shipped catalog is valid; a broken one fails with the field named", async () => {
    expect((await prices(["validate", DEFAULT_CATALOG_URL.pathname])).code).toBe(0);
    const broken = join(tmp, "broken.json");
    const first = shipped.entries[0] ?? {};
    writeFileSync(broken, JSON.stringify({ ...shipped, entries: [{ ...first, input: -1 }] }));
    const r = await prices(["validate", broken]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ERR .*broken\.json: price catalog is invalid: entries\[0\]\.input/);
  });

  it("diff: two files, and two dates of one catalog", async () => {
    const first = shipped.entries[0] ?? {};
    const next = join(tmp, "next.json");
    writeFileSync(
      next,
      JSON.stringify({
        ...shipped,
        entries: [
          { ...first, effective_to: "2026-11-10" },
          { ...first, effective_from: "2026-11-10", version: "2026-11-10", input: Number(first["input"]) / 2 },
          ...shipped.entries.slice(1),
        ],
      }),
    );
    const files = await prices(["diff", DEFAULT_CATALOG_URL.pathname, next]);
    expect(files.code).toBe(0);
    expect(files.out).toMatch(/: 1 change\(s\)/);
    expect(files.out).toMatch(
      new RegExp(
        `changed\\s+${String(first["id"]).replace(".", "\\.")}\\s+\\S+ -> 2026-11-10\\s+input\\s+\\S+\\s+\\S+\\s+-50%`,
      ),
    );
    const dates = await prices(["diff", next, "--at", "2026-11-01", "--at-b", "2026-11-15"]);
    expect(dates.out).toMatch(/: 1 change\(s\)/);
    const same = await prices(["diff", next, "--at", "2026-11-11", "--at-b", "2026-11-15"]);
    expect(same.out).toMatch(/: 0 change\(s\)/);
  });
});

describe("time zones", () => {
  it("local midnight, weeks and months as UTC instants, across DST", () => {
    expect(fromLocal(2026, 3, 29, "Europe/Berlin")).toBe(Date.UTC(2026, 2, 28, 23));
    expect(fromLocal(2026, 3, 30, "Europe/Berlin")).toBe(Date.UTC(2026, 2, 29, 22));
    // A 23-hour day.
    const d = calendarWindow(Date.UTC(2026, 2, 29, 12), "day", "Europe/Berlin");
    expect(d.end - d.start).toBe(23 * 3_600_000);
    // Half-hour zones.
    expect(calendarWindow(Date.UTC(2026, 10, 20, 20), "day", "Asia/Kolkata").start).toBe(
      Date.UTC(2026, 10, 20, 18, 30),
    );
    // Sunday-start weeks.
    expect(calendarWindow(Date.UTC(2026, 10, 20), "week", "UTC", "sunday").start).toBe(Date.UTC(2026, 10, 15));
    expect(localDate(Date.UTC(2026, 10, 20, 23, 30), "Asia/Tokyo")).toBe("2026-11-21");
  });
});

describe("time arguments", () => {
  it("a-date-alone-starts-at-midnight-in-the-zone-given; times with an offset and durations are unchanged", () => {
    const now = Date.UTC(2026, 11, 8, 12);
    expect(parseTime("2026-12-01", now, { timeZone: "Europe/Berlin" })).toBe(Date.UTC(2026, 10, 30, 23));
    expect(parseTime("2026-07-01", now, { timeZone: "America/New_York" })).toBe(Date.UTC(2026, 6, 1, 4));
    expect(parseTime("2026-12-01", now)).toBe(Date.UTC(2026, 11, 1));
    expect(parseTime("2026-12-01T00:00:00Z", now, { timeZone: "Europe/Berlin" })).toBe(Date.UTC(2026, 11, 1));
    expect(parseTime("1d", now, { timeZone: "Europe/Berlin" })).toBe(now - 86_400_000);
  });
});

describe("forecast and anomaly math", () => {
  it("weighted run rate leans on recent days; regression finds the trend", () => {
    expect(weightedRunRate([1, 1, 1, 1, 1, 1, 8])).toBeCloseTo((1 + 2 + 3 + 4 + 5 + 6 + 8 * 7) / 28, 6);
    expect(weightedRunRate([])).toBe(0);
    const reg = linearRegression([2, 4, 6, 8]);
    expect(reg).toMatchObject({ slope: 2, intercept: 2, r2: 1 });
    const p = project({
      spent: 20,
      periodDays: [2, 4, 6, 8, 10, 12, 14],
      trailingDays: [2, 4, 6, 8, 10, 12, 14],
      todayLeft: 0.5,
      fullDaysLeft: 2,
    });
    expect(p.method).toBe("linear_regression");
    // today x=7 -> 16 x 0.5, then 18 and 20
    expect(p.projected_usd).toBeCloseTo(20 + 8 + 18 + 20, 6);
    const flat = project({ spent: 10, periodDays: [1, 3], trailingDays: [1, 3], todayLeft: 1, fullDaysLeft: 0 });
    expect(flat.method).toBe("weighted_run_rate_7d");
  });

  it("anomaly scores use a floored spread", () => {
    expect(anomalyScore(10, [1, 1, 1, 1], 1).score).toBeCloseTo((10 - 1) / 0.25, 6);
    expect(anomalyScore(1.1, [1, 1.2, 0.9, 1.0], 1).score).toBeLessThan(3);
  });
});

describe("small pieces", () => {
  it("money stays exact in nano-USD", () => {
    expect(decimalToNano("12.5")).toBe(12_500_000_000n);
    expect(decimalToNano("-0.000000001")).toBe(-1n);
    expect(nanoToDecimal(-1n)).toBe("-0.000000001");
    expect(formatNanoUsd(1_500_000_000n)).toBe("1.5");
  });

  it("service tier from tags first, then request parameters; standard tiers are none", () => {
    expect(serviceTierOf({ service_tier: "Batch" }, '{"service_tier":"flex"}')).toBe("batch");
    expect(serviceTierOf({}, '{"service_tier":"flex"}')).toBe("flex");
    expect(serviceTierOf({}, '{"service_tier":"default"}')).toBe("");
    expect(serviceTierOf({}, "not json service_tier")).toBe("");
  });

  it("tables align text left and numbers right", () => {
    const t = formatTable(
      [
        { header: "team", value: (r: { t: string; n: string }) => r.t },
        { header: "n", value: (r) => r.n, align: "right" },
      ],
      [
        { t: "search", n: "1" },
        { t: "ml", n: "1,000" },
      ],
    );
    expect(t).toBe("team        n\n------  -----\nsearch      1\nml      1,000\n");
  });

  it("budgets and pricing sections validate with the field named", () => {
    expect(() =>
      loadConfig({
        env: {},
        // A YAML file can say anything; the schema is what refuses it.
        overrides: JSON.parse('{"budgets":{"definitions":[{"name":"x","window":"yearly","limitUsd":1}]}}'),
      }),
    ).toThrow(/budgets\.definitions\.0\.window/);
    expect(() => loadConfig({ env: {}, overrides: { budgets: { timezone: "Mars/Olympus" } } })).toThrow(
      /budgets\.timezone/,
    );
    expect(() =>
      loadConfig({ env: {}, overrides: { pricing: { contracts: [{ name: "c", match: { team: "a" } }] } } }),
    ).toThrow(/pricing\.contracts\.0/);
    const c = loadConfig({
      env: {},
      overrides: {
        budgets: { definitions: [{ name: "r", window: { rolling: "24h" }, limitUsd: 5, enforcement: "hard" }] },
      },
    });
    expect(c.budgets.definitions[0]).toMatchObject({ window: { rolling: 86_400_000 }, thresholds: [0.5, 0.8, 1] });
    expect(c.pricing.serviceTiers).toEqual({ batch: 0.5, flex: 0.5 });
  });
});

describe("FinOps schema", () => {
  const render = (cluster?: string) =>
    FINOPS_MIGRATIONS.flatMap((m) =>
      m.statements({ database: "tm", cluster, contentRetentionDays: 30, retentionDays: 0 }),
    );

  it("single node: list cost column, hourly and daily AggregatingMergeTree rollups fed by views", () => {
    expect(FINOPS_MIGRATIONS.map((m) => m.version)).toEqual([200, 201, 202, 203]);
    const ddl = render().join("\n");
    expect(ddl).toContain(
      "ALTER TABLE tm.llm_calls ADD COLUMN IF NOT EXISTS list_cost_usd Nullable(Decimal(18, 9)) DEFAULT cost_usd",
    );
    expect(ddl).toMatch(/CREATE TABLE IF NOT EXISTS tm\.llm_calls_hourly \([\s\S]+ENGINE = AggregatingMergeTree\(\)/);
    expect(ddl).toContain("ORDER BY (hour, team, project, provider, model, status)");
    expect(ddl).toContain("CREATE MATERIALIZED VIEW IF NOT EXISTS tm.llm_calls_hourly_mv TO tm.llm_calls_hourly AS");
    expect(ddl).toContain("CREATE MATERIALIZED VIEW IF NOT EXISTS tm.llm_calls_daily_mv TO tm.llm_calls_daily AS");
    expect(ddl).toContain("quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(c.duration_ms)");
    expect(ddl.match(/non_replicated_deduplication_window = 10000/g)?.length).toBe(2);
  });

  it("cluster: replicated rollups on _local tables, Distributed tables, views on the local calls", () => {
    const stmts = render("prod");
    expect(stmts.every((s) => s.includes("ON CLUSTER prod") || s.startsWith("INSERT INTO"))).toBe(true);
    const ddl = stmts.join("\n");
    expect(ddl).toContain(
      "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tm/llm_calls_hourly_local', '{replica}')",
    );
    expect(ddl).toContain("ENGINE = Distributed(prod, tm, llm_calls_daily_local, rand())");
    expect(ddl).toContain("TO tm.llm_calls_hourly_local AS");
    expect(ddl).toContain("FROM tm.llm_calls_local AS c");
  });
});

describe("contract rates", () => {
  // README's example: claude-sonnet-4-5 at 2.4 / 12 / cache read 0.24 (80% of list), no cache_write.
  const book = loadPriceBook();
  const rater = createRater(
    book,
    pricingSchema.parse({
      contracts: [
        {
          name: "search-claude",
          match: { team: "search" },
          prices: [{ model: "claude-sonnet-4-5", input: 2.4, output: 12, cache_read: 0.24 }],
        },
      ],
    }),
  );
  const rate = (input: number, cacheRead: number, cacheWrite: number, output: number) => {
    const call = {
      timestamp: Date.UTC(2026, 5, 1) * 1000,
      team: "search",
      project: "",
      provider: "anthropic",
      request_model: "claude-sonnet-4-5",
      response_model: "",
      input_tokens: input,
      output_tokens: output,
      cache_read_tokens: cacheRead,
      cache_write_tokens: cacheWrite,
      reasoning_tokens: 0,
      tags: {},
      request_params: "{}",
    };
    const p = priceCall({ ...call, timestampUs: call.timestamp }, book);
    const r = rater.rate({ ...call, price_id: p.price_id });
    return [r?.list_cost_usd, r?.cost_usd];
  };

  it("negotiated-rates-keep-the-long-context-tier-premium-and-the-cache-write-premium", () => {
    // Above 200k the list bills 6 / 22.5 / read 0.6 / write 7.5: the contract keeps those
    // ratios to its base rates, 4.8 / 18 / 0.48 / 6 (write: 7.5 x 2.4/3).
    // 180k uncached x 4.8 + 50k x 0.48 + 20k x 6 + 3k x 18 = 0.864 + 0.024 + 0.12 + 0.054.
    expect(rate(250_000, 50_000, 20_000, 3_000)).toEqual(["1.3275", "1.062"]);
    // Standard context: 30k x 2.4 + 50k x 0.24 + 20k x 3 (3.75 x 2.4/3) + 3k x 12.
    expect(rate(100_000, 50_000, 20_000, 3_000)).toEqual(["0.225", "0.18"]);
  });
});
