import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateRule, isBreach } from "../collector/src/alerts/evaluate-rule.js";
import { resolveThreshold, ruleThreshold } from "../collector/src/alerts/rules.js";
import { registerBudgetsRoutes } from "../collector/src/api/budgets-routes.js";
import { installErrorHandler } from "../collector/src/api/error-handler.js";
import type { Config } from "../collector/src/config/schema.js";
import { BudgetEnforcer } from "../collector/src/finops/budget-enforcer.js";
import { createBudgetHook } from "../collector/src/finops/budget-hook.js";
import { budgetAlertRules } from "../collector/src/finops/budget-rules.js";
import { MemoryBudgetStore } from "../collector/src/finops/budget-store.js";
import { budgetsSchema } from "../collector/src/finops/config.js";
import { createFinops, type Finops } from "../collector/src/finops/finops.js";
import { FINOPS_MIGRATIONS } from "../collector/src/finops/schema.js";
import type { ProxyRequestContext } from "../collector/src/proxy/hooks.js";
import type { StorageClient } from "../collector/src/storage/client.js";
import { MIGRATIONS, migrate } from "../collector/src/storage/migrations.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";
import { gptTestBook } from "./helpers/finops.js";

const subject = {
  team: "search",
  project: "web",
  user: "u1",
  virtualKeyId: "",
  provider: "openai",
  model: "gpt-test",
  tags: {},
};

function budgets(definitions: object[], extra: object = {}) {
  return budgetsSchema.parse({ definitions, ...extra });
}

describe("hard budget under concurrency", () => {
  it("200 concurrent reserve/settle overshoot the limit by at most one request's estimate", async () => {
    const limitUsd = 1;
    const enforcer = new BudgetEnforcer({
      config: budgets([
        { name: "search-daily", scope: { team: "search" }, window: "daily", limitUsd, enforcement: "hard" },
      ]),
      store: new MemoryBudgetStore(),
    });
    const estimate = 0.03;
    let spent = 0;
    let allowed = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const d = await enforcer.reserve(subject, estimate);
        if (!d.ok) {
          refused++;
          return;
        }
        allowed++;
        // The call runs; its actual cost is at most the estimate (the estimate counts max output).
        await new Promise((r) => setTimeout(r, (i * 7) % 13));
        const actual = estimate * (0.5 + ((i * 31) % 50) / 100);
        spent += actual;
        await d.reservation?.settle(actual);
      }),
    );
    expect(allowed + refused).toBe(200);
    expect(refused).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(limitUsd + estimate);
    // And nothing stays reserved.
    const [c] = await enforcer.store.read([enforcer.window(enforcer.definitions[0] as never).ref], Date.now());
    expect(c?.reservedNano).toBe(0n);
  });

  it("soft budgets never refuse; an unknown estimate is refused only once a hard budget is used up", async () => {
    const enforcer = new BudgetEnforcer({
      config: budgets([
        { name: "org", window: "monthly", limitUsd: 0.05, enforcement: "soft" },
        { name: "u1", scope: { user: "u1" }, window: "monthly", limitUsd: 0.1, enforcement: "hard" },
      ]),
      store: new MemoryBudgetStore(),
    });
    const a = await enforcer.reserve(subject, null);
    expect(a.ok).toBe(true);
    if (a.ok) await a.reservation?.settle(0.09);
    const b = await enforcer.reserve(subject, null);
    expect(b.ok).toBe(true);
    if (b.ok) await b.reservation?.settle(0.02);
    const c = await enforcer.reserve(subject, null);
    expect(c).toMatchObject({ ok: false, budget: "u1" });
    // Another user is only under the soft org budget (exceeded, but soft).
    expect((await enforcer.reserve({ ...subject, user: "u2" }, 1)).ok).toBe(true);
  });

  it("a released reservation gives its room back; an unsettled one expires after the TTL", async () => {
    let now = Date.UTC(2026, 10, 3, 10);
    const enforcer = new BudgetEnforcer({
      config: budgets([{ name: "b", window: "daily", limitUsd: 1, enforcement: "hard" }], { reservationTtlMs: 60_000 }),
      store: new MemoryBudgetStore(),
      clock: () => now,
    });
    const first = await enforcer.reserve(subject, 0.8);
    expect(first.ok).toBe(true);
    expect((await enforcer.reserve(subject, 0.5)).ok).toBe(false);
    if (first.ok) await first.reservation?.release();
    const second = await enforcer.reserve(subject, 0.5);
    expect(second.ok).toBe(true);
    // second is never settled (its process died): after the TTL the room is back.
    expect((await enforcer.reserve(subject, 0.6)).ok).toBe(false);
    now += 61_000;
    expect((await enforcer.reserve(subject, 0.6)).ok).toBe(true);
  });
});

describe("budget windows", () => {
  it("a daily window resets at local midnight in the configured time zone, not UTC", async () => {
    // Europe/Berlin is UTC+1 on 2026-11-03: local midnight is 23:00 UTC.
    let now = Date.UTC(2026, 10, 3, 22, 30);
    const enforcer = new BudgetEnforcer({
      config: budgets([{ name: "day", window: "daily", limitUsd: 1, enforcement: "hard" }], {
        timezone: "Europe/Berlin",
      }),
      store: new MemoryBudgetStore(),
      clock: () => now,
    });
    const d = await enforcer.reserve(subject, 1);
    if (d.ok) await d.reservation?.settle(1);
    expect((await enforcer.reserve(subject, 0.01)).ok).toBe(false);
    now = Date.UTC(2026, 10, 3, 22, 59, 59, 999);
    const refused = await enforcer.reserve(subject, 0.01);
    expect(refused).toMatchObject({ ok: false, retryAfter: 1 });
    now = Date.UTC(2026, 10, 3, 23, 0, 0);
    expect((await enforcer.reserve(subject, 0.01)).ok).toBe(true);
    expect(enforcer.window(enforcer.definitions[0] as never)).toMatchObject({
      start: Date.UTC(2026, 10, 3, 23),
      end: Date.UTC(2026, 10, 4, 23),
    });
  });

  it("weekly and monthly windows follow the zone across DST changes", () => {
    const enforcer = new BudgetEnforcer({
      config: budgets(
        [
          { name: "w", window: "weekly", limitUsd: 1 },
          { name: "m", window: "monthly", limitUsd: 1 },
        ],
        { timezone: "America/New_York" },
      ),
      store: new MemoryBudgetStore(),
    });
    const [w, m] = enforcer.definitions;
    // Sunday 2026-11-01 02:00 EDT -> 01:00 EST. The week of Wed 2026-11-04 starts Mon 2026-11-02 00:00 EST.
    const at = Date.UTC(2026, 10, 4, 12);
    expect(enforcer.window(w as never, at)).toMatchObject({
      start: Date.UTC(2026, 10, 2, 5),
      end: Date.UTC(2026, 10, 9, 5),
    });
    // November starts at 00:00 EDT (04:00 UTC) and ends at 00:00 EST on Dec 1 (05:00 UTC).
    expect(enforcer.window(m as never, at)).toMatchObject({
      start: Date.UTC(2026, 10, 1, 4),
      end: Date.UTC(2026, 11, 1, 5),
    });
  });

  it("a rolling window forgets spend as it ages out", async () => {
    let now = Date.UTC(2026, 10, 3, 10);
    const enforcer = new BudgetEnforcer({
      config: budgets([{ name: "r", window: { rolling: "1h" }, limitUsd: 1, enforcement: "hard" }]),
      store: new MemoryBudgetStore(),
      clock: () => now,
    });
    const d = await enforcer.reserve(subject, 1);
    if (d.ok) await d.reservation?.settle(1);
    now += 30 * 60_000;
    const refused = await enforcer.reserve(subject, 0.1);
    expect(refused.ok).toBe(false);
    now += 32 * 60_000;
    expect((await enforcer.reserve(subject, 0.1)).ok).toBe(true);
  });
});

describe("proxy hook", () => {
  const ctx = (over: Partial<ProxyRequestContext> = {}): ProxyRequestContext => ({
    route: "openai",
    apiFormat: "openai",
    provider: "openai",
    path: "/chat/completions",
    model: "gpt-test",
    team: "search",
    project: "web",
    user: "",
    virtualKeyId: "vk-1",
    tags: { env: "prod" },
    estimatedCostUsd: 0.4,
    ...over,
  });

  it("refuses with 429 budget_exceeded naming the budget, scoped by virtual key and tag", async () => {
    const enforcer = new BudgetEnforcer({
      config: budgets([
        {
          name: "vk1-prod",
          scope: { virtualKey: "vk-1", tags: { env: "prod" } },
          window: "monthly",
          limitUsd: 1,
          enforcement: "hard",
        },
      ]),
      store: new MemoryBudgetStore(),
    });
    const hook = createBudgetHook(enforcer);
    const first = await hook.beforeRequest(ctx());
    const second = await hook.beforeRequest(ctx());
    expect(first.allow && second.allow).toBe(true);
    const third = await hook.beforeRequest(ctx());
    expect(third).toMatchObject({ allow: false, status: 429, code: "budget_exceeded" });
    if (!third.allow) {
      expect(third.message).toContain('"vk1-prod"');
      expect(third.retryAfter).toBeGreaterThan(0);
    }
    // Outside the scope: another key, or another env tag.
    expect((await hook.beforeRequest(ctx({ virtualKeyId: "vk-2" }))).allow).toBe(true);
    expect((await hook.beforeRequest(ctx({ tags: { env: "dev" } }))).allow).toBe(true);
    if (first.allow) first.reservation?.settle(0.1);
    if (second.allow) second.reservation?.release();
  });

  it("fails open when the counters cannot be reached", async () => {
    const store = new MemoryBudgetStore();
    store.reserve = async () => {
      throw new Error("redis down");
    };
    const enforcer = new BudgetEnforcer({
      config: budgets([{ name: "b", window: "daily", limitUsd: 0.01, enforcement: "hard" }]),
      store,
    });
    expect(await createBudgetHook(enforcer, silentLogger).beforeRequest(ctx())).toEqual({ allow: true });
  });
});

describe("alert rules for thresholds", () => {
  it("one budget rule per threshold, severity rising with it", () => {
    const rules = budgetAlertRules(
      budgets([{ name: "search-monthly", scope: { team: "search" }, window: "monthly", limitUsd: 100 }]),
    );
    expect(rules.map((r) => [r.name, r.kind, r.severity])).toEqual([
      ["budget:search-monthly:50pct", "budget", "warning"],
      ["budget:search-monthly:80pct", "budget", "error"],
      ["budget:search-monthly:100pct", "budget", "critical"],
    ]);
  });
});

describe("counters rebuilt from ClickHouse, status API", () => {
  let storage: StorageClient;
  let config: Config;
  let finops: Finops;
  const NOW = Date.UTC(2026, 10, 20, 12, 30);

  beforeAll(async () => {
    const { dir, storage: s } = await embeddedStorage();
    storage = s;
    config = testConfig(dir, {
      budgets: {
        timezone: "UTC",
        definitions: [
          { name: "search-monthly", scope: { team: "search" }, window: "monthly", limitUsd: 10, enforcement: "hard" },
          { name: "u7-daily", scope: { user: "u7" }, window: "daily", limitUsd: 1, enforcement: "soft" },
          { name: "search-24h", scope: { team: "search" }, window: { rolling: "24h" }, limitUsd: 5 },
          { name: "edge-daily", scope: { team: "edge" }, window: "daily", limitUsd: 0.25, enforcement: "soft" },
          // Spend that started today: by the rollup (team) and from llm_calls (user).
          { name: "fresh-monthly", scope: { team: "fresh" }, window: "monthly", limitUsd: 100, enforcement: "soft" },
          { name: "fresh-user-monthly", scope: { user: "u10" }, window: "monthly", limitUsd: 100, enforcement: "soft" },
        ],
      },
    });
    const db = config.storage.database;
    await migrate(storage.client, { database: db, contentRetentionDays: 30, retentionDays: 0 }, [
      ...MIGRATIONS,
      ...FINOPS_MIGRATIONS,
    ]);
    // $0.50 a day for team search since Nov 1, user u7 included; the last one is today.
    const rows = [];
    for (let d = 0; d < 20; d++) {
      const ts = Date.UTC(2026, 10, 1 + d, 9) * 1000;
      rows.push(callRow(ts, "search", d % 2 === 0 ? "u7" : "u8", "0.5"));
    }
    rows.push(callRow(Date.UTC(2026, 9, 31, 23) * 1000, "search", "u7", "3"));
    rows.push(callRow(Date.UTC(2026, 10, 20, 10) * 1000, "other", "u7", "0.25"));
    // Just under its limit: rounded to the micro-dollar it would read as the limit itself.
    rows.push(callRow(Date.UTC(2026, 10, 20, 10) * 1000, "edge", "u9", "0.2499996"));
    rows.push(callRow(Date.UTC(2026, 10, 20, 10) * 1000, "fresh", "u10", "5"));
    await storage.client.insert({ table: `${db}.llm_calls`, values: rows, format: "JSONEachRow" });
    finops = await createFinops({
      config,
      storage: { ...storage, database: db },
      logger: silentLogger,
      clock: () => NOW,
      book: gptTestBook({ input: 1, output: 1 }),
    });
    await finops.start();
  });

  afterAll(async () => {
    await finops?.close();
  });

  it("start() raises counters to the spend ClickHouse holds; a new call is judged against it", async () => {
    const def = finops.enforcer.definitions[0];
    if (!def) throw new Error("no budget");
    const [c] = await finops.enforcer.store.read([finops.enforcer.window(def, NOW).ref], NOW);
    expect(c?.spentNano).toBe(10_000_000_000n); // 20 x $0.50
    const d = await finops.enforcer.reserve({ ...subject, team: "search" }, 0.01);
    expect(d).toMatchObject({ ok: false, budget: "search-monthly" });
  });

  it("GET /api/v1/budgets: spent, reserved, remaining, thresholds and forecast", async () => {
    const app = Fastify();
    installErrorHandler(app);
    registerBudgetsRoutes(app, { finops, auth: undefined });
    const res = await app.inject({ method: "GET", url: "/api/v1/budgets" });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { budgets: Record<string, unknown>[] };
    const [monthly, daily, rolling] = body.budgets;
    expect(monthly).toMatchObject({
      name: "search-monthly",
      enforcement: "hard",
      period: "month",
      window_start: "2026-11-01T00:00:00.000Z",
      window_end: "2026-12-01T00:00:00.000Z",
      limit_usd: 10,
      spent_usd: 10,
      reserved_usd: 0,
      remaining_usd: 0,
      status: "exceeded",
      thresholds_crossed: [0.5, 0.8, 1],
      forecast_method: "weighted_run_rate_7d",
    });
    // 10 spent + $0.50/day x 10.48 days left.
    expect(monthly?.["forecast_usd"]).toBeCloseTo(10 + 0.5 * (10 + 11.5 / 24), 3);
    expect(daily).toMatchObject({ name: "u7-daily", spent_usd: 0.25 + 0, period: "day", status: "ok" });
    expect(rolling).toMatchObject({ name: "search-24h", period: "rolling_1d", spent_usd: 0.5, forecast_usd: null });
    const status = await finops.budgets.budgetStatus(NOW);
    expect(status[0]).toMatchObject({ budget: "search-monthly", labels: { team: "search" }, period: "month" });
    await app.close();
  });

  it("a-budget-whose-spend-started-today-is-forecast-at-today's-rate, not at what it has spent", async () => {
    const views = await finops.budgets.list(NOW);
    // $5 in the first 12.5 hours of Nov 20: $9.60 a day for the 10 days and 11.5 hours left.
    const expected = 5 + (5 / (12.5 / 24)) * (10 + 11.5 / 24);
    for (const name of ["fresh-monthly", "fresh-user-monthly"]) {
      const v = views.find((b) => b.name === name);
      expect(v?.spent_usd, name).toBe(5);
      expect(v?.forecast_usd, name).toBeCloseTo(expected, 4);
    }
  });

  it("the-100%-budget-rule-fires-exactly-when-the-budget-status-says-exceeded (at the limit, not just under)", async () => {
    const ctx = {
      client: storage.client,
      database: config.storage.database,
      now: NOW,
      drift: { minSamples: 1, epsilon: 0 },
      budgets: finops.budgets,
      driftMemo: new Map(),
    };
    const firing: Record<string, boolean> = {};
    for (const rule of budgetAlertRules(config.budgets).filter((r) => r.name.endsWith(":100pct"))) {
      const samples = await evaluateRule(rule, ctx);
      for (const s of samples) {
        const name = String(s.labels["budget"]);
        firing[name] = isBreach(rule, s, ruleThreshold(rule), resolveThreshold(rule), false);
      }
    }
    const exceeded = Object.fromEntries((await finops.budgets.list(NOW)).map((v) => [v.name, v.status === "exceeded"]));
    expect(firing).toEqual(exceeded);
    // search-monthly spent exactly its $10; edge-daily $0.2499996 of $0.25.
    expect(firing).toMatchObject({ "search-monthly": true, "edge-daily": false });
  });
});

let seq = 0;
function callRow(timestampUs: number, team: string, user: string, cost: string) {
  seq++;
  return {
    timestamp: timestampUs,
    trace_id: seq.toString(16).padStart(32, "0"),
    span_id: seq.toString(16).padStart(16, "0"),
    team,
    project: "web",
    user_id: user,
    provider: "openai",
    request_model: "gpt-test",
    input_tokens: 100,
    output_tokens: 10,
    cost_usd: cost,
    priced: 1,
    price_id: "openai/gpt-test@1",
    status: "ok",
    source: "proxy",
    tags: {},
  };
}
