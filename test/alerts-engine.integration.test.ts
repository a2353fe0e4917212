import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAlertEngine } from "../collector/src/alerts/engine.js";
import { evaluateRule } from "../collector/src/alerts/evaluate-rule.js";
import type { AlertNotification, Notifier } from "../collector/src/alerts/notifiers/types.js";
import { parseRuleFile, type Rule } from "../collector/src/alerts/rules.js";
import { ALERT_MIGRATIONS } from "../collector/src/alerts/schema.js";
import type { BudgetStatusSource, CostAnomalySource } from "../collector/src/alerts/sources.js";
import { registerAlertsRoutes } from "../collector/src/api/alerts-routes.js";
import { bearerAuth } from "../collector/src/api/auth.js";
import { installErrorHandler } from "../collector/src/api/error-handler.js";
import type { StorageClient } from "../collector/src/storage/client.js";
import { MIGRATIONS, migrate } from "../collector/src/storage/migrations.js";
import type { LlmCallRow } from "../collector/src/storage/rows.js";
import { llmCallRow } from "../collector/src/storage/test-row.js";
import { embeddedStorage, silentLogger } from "./helpers/embedded.js";

const db = "t_alerts_engine";
const MIN = 60_000;
const HOUR = 60 * MIN;
const T = Date.UTC(2026, 9, 12, 9, 0, 0);

let storage: StorageClient;
let seq = 0;

function call(fields: Partial<LlmCallRow> & Pick<LlmCallRow, "timestamp">): LlmCallRow {
  const id = (seq++).toString(16);
  return llmCallRow({
    trace_id: id.padStart(32, "0"),
    span_id: id.padStart(16, "0"),
    service: "app",
    environment: "prod",
    source: "proxy",
    request_model: "gpt-4o",
    response_model: "gpt-4o-2024-08-06",
    input_tokens: 100,
    output_tokens: 50,
    cost_usd: "0.0005",
    priced: 1,
    price_id: "openai/gpt-4o",
    duration_ms: 100,
    input: "[]",
    output: "[]",
    ...fields,
  });
}

/** Calls every `stepMs` in [from, to). */
function every(from: number, to: number, stepMs: number, fields: (t: number, i: number) => Partial<LlmCallRow>) {
  const out: LlmCallRow[] = [];
  for (let t = from, i = 0; t < to; t += stepMs, i++) out.push(call({ timestamp: t * 1000, ...fields(t, i) }));
  return out;
}

function rules(yaml: string): Rule[] {
  const parsed = parseRuleFile(yaml, "test.yaml");
  expect(parsed.errors).toEqual([]);
  return parsed.rules.map((r) => r.rule);
}

function recorder(name = "recorder"): Notifier & { sent: AlertNotification[] } {
  const sent: AlertNotification[] = [];
  return {
    name,
    type: "webhook",
    sendResolved: true,
    refreshFiring: false,
    sent,
    async send(n) {
      sent.push(n);
      return { attempts: 1 };
    },
  };
}

beforeAll(async () => {
  ({ storage } = await embeddedStorage());
  await storage.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
  await migrate(storage.client, { database: db, contentRetentionDays: 0, retentionDays: 0 }, [
    ...MIGRATIONS,
    ...ALERT_MIGRATIONS,
  ]);
  const calls = [
    // Latency: team slow is slow for two hours, team fast never.
    ...every(T - 10 * MIN, T + 2 * HOUR, 30_000, (_t, i) => ({
      team: "slow",
      duration_ms: 5000,
      ttft_ms: i % 2 === 0 ? 800 : null,
      streamed: i % 2 === 0 ? 1 : 0,
    })),
    ...every(T - 10 * MIN, T + 2 * HOUR, 30_000, () => ({ team: "fast", duration_ms: 120 })),
    // Error rate per 10-minute slot after T+3h: 20%, then 7%, then 3% of calls fail.
    ...every(T + 3 * HOUR - 10 * MIN, T + 3 * HOUR + 20 * MIN, 6_000, (t, i) => {
      const slot = Math.floor((t - (T + 3 * HOUR - 10 * MIN)) / (10 * MIN));
      const perHundred = [20, 7, 3][slot] ?? 0;
      return { team: "flaky", status: i % 100 < perHundred ? "error" : "ok" };
    }),
    // Unpriced: a model missing from the price book.
    ...every(T + 5 * HOUR - 30 * MIN, T + 5 * HOUR, MIN, () => ({
      team: "lab",
      provider: "mystery",
      request_model: "mystery-1",
      response_model: "mystery-1",
      cost_usd: null,
      priced: 0,
      price_id: "",
    })),
    // Model change: a week of one version, then the provider swaps it under the same name.
    ...every(T + 6 * HOUR - 7 * 24 * HOUR, T + 6 * HOUR, 10 * MIN, (t) => ({
      team: "bots",
      request_model: "claude-sonnet",
      response_model: t >= T + 6 * HOUR - 30 * MIN ? "claude-sonnet-2026-10-01" : "claude-sonnet-2026-05-14",
    })),
  ];
  await storage.client.insert({ table: `${db}.llm_calls`, values: calls, format: "JSONEachRow" });
});

afterAll(async () => {
  await storage.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
});

const LATENCY = `rules:
  - name: LatencyP95
    kind: threshold
    metric: latency_p95
    threshold: 1000
    window: 10m
    for: 2m
    repeat_interval: 1h
    group_by: [team]
    filters: { team: [slow, fast] }
    min_calls: 5
    annotations:
      summary: "p95 {{ value }} ms for {{ labels.team }}"
`;

describe("alert engine", () => {
  it("state-survives-restart: pending timer, firing state and last notification", async () => {
    let now = T;
    const clock = () => now;
    const make = (n: Notifier) =>
      createAlertEngine({
        client: storage.client,
        database: db,
        rules: rules(LATENCY),
        notifiers: [n],
        logger: silentLogger,
        intervalMs: MIN,
        clock,
      });

    const first = recorder();
    const e1 = make(first);
    await e1.evaluateOnce();
    expect(e1.alerts().map((a) => [a.labels["team"], a.state])).toEqual([["slow", "pending"]]);
    await e1.close();

    // A new process, two minutes later: the pending timer started before the restart counts.
    now = T + 2 * MIN;
    const second = recorder();
    const e2 = make(second);
    await e2.evaluateOnce();
    const firing = e2.alerts({ states: ["firing"] });
    expect(firing).toHaveLength(1);
    expect(firing[0]).toMatchObject({
      state: "firing",
      active_since: new Date(T).toISOString(),
      fired_at: new Date(T + 2 * MIN).toISOString(),
      last_notified: new Date(T + 2 * MIN).toISOString(),
      annotations: { summary: "p95 5000 ms for slow" },
    });
    expect(second.sent.map((n) => [n.status, n.labels["team"], n.repeat])).toEqual([["firing", "slow", false]]);
    await e2.close();

    // Another restart: still firing, and not paged again before repeat_interval.
    now = T + 3 * MIN;
    const third = recorder();
    const e3 = make(third);
    await e3.evaluateOnce();
    expect(e3.alerts({ states: ["firing"] })).toHaveLength(1);
    expect(third.sent).toEqual([]);

    // repeat_interval (1h) after the first page: paged again, same fingerprint.
    now = T + 2 * MIN + HOUR;
    await e3.evaluateOnce();
    expect(third.sent.map((n) => [n.status, n.repeat, n.fingerprint])).toEqual([
      ["firing", true, firing[0]?.fingerprint],
    ]);
    await e3.close();

    // Traffic stopped at T+2h: no data, which for this rule (no_data: ok) resolves.
    now = T + 2 * HOUR + 15 * MIN;
    const fourth = recorder();
    const e4 = make(fourth);
    await e4.evaluateOnce();
    expect(e4.alerts().map((a) => [a.labels["team"], a.state])).toEqual([["slow", "resolved"]]);
    expect(fourth.sent.map((n) => [n.status, n.fingerprint])).toEqual([["resolved", firing[0]?.fingerprint]]);
    await e4.close();

    const rs = await storage.client.query({
      query: `SELECT state, toUnixTimestamp64Milli(last_notified) AS notified FROM ${db}.alert_events WHERE rule = 'LatencyP95' ORDER BY timestamp`,
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([
      { state: "pending", notified: null },
      { state: "firing", notified: T + 2 * MIN },
      { state: "firing", notified: T + 2 * MIN + HOUR },
      { state: "resolved", notified: T + 2 * MIN + HOUR },
    ]);
  });

  it("every threshold metric is computed in ClickHouse", async () => {
    const ctx = {
      client: storage.client,
      database: db,
      now: T + 30 * MIN,
      drift: { minSamples: 100, epsilon: 1e-4 },
      driftMemo: new Map(),
    };
    const metric = async (name: string) => {
      const [rule] = rules(
        `rules:\n  - { name: M, kind: threshold, metric: ${name}, threshold: 1, window: 10m, group_by: [team], filters: { team: slow } }\n`,
      );
      if (!rule) throw new Error("no rule");
      const samples = await evaluateRule(rule, ctx);
      return samples.map((x) => [x.labels["team"], x.statistic, Number(x.value?.toFixed(6)), x.details["calls"]]);
    };
    // 20 calls of team slow in the 10-minute window, every other one streamed.
    expect(await metric("latency_p95")).toEqual([["slow", "latency_p95", 5000, 20]]);
    expect(await metric("latency_p99")).toEqual([["slow", "latency_p99", 5000, 20]]);
    expect(await metric("ttft_p95")).toEqual([["slow", "ttft_p95", 800, 10]]);
    expect(await metric("error_rate")).toEqual([["slow", "error_rate", 0, 20]]);
    // 20 x $0.0005 in 10 minutes = $0.06 per hour; 20 x 150 tokens in 10 minutes = 300 per minute.
    expect(await metric("cost_rate")).toEqual([["slow", "cost_rate", 0.06, 20]]);
    expect(await metric("tokens_rate")).toEqual([["slow", "tokens_rate", 300, 20]]);
  });

  it("cost_rate leaves out proxy cache hits, which cost nothing: two of three identical calls served from the cache", async () => {
    // A month after the other fixtures, so no other test's window sees these calls.
    const at = T + 30 * 24 * HOUR;
    const cached = [0, 1, 1].map((hit, i) =>
      call({ timestamp: (at - (i + 1) * MIN) * 1000, team: "cached", cache_hit: hit }),
    );
    await storage.client.insert({ table: `${db}.llm_calls`, values: cached, format: "JSONEachRow" });
    const [rule] = rules(
      "rules:\n  - { name: M, kind: threshold, metric: cost_rate, threshold: 1, window: 1h, group_by: [team], filters: { team: cached } }\n",
    );
    if (!rule) throw new Error("no rule");
    const samples = await evaluateRule(rule, {
      client: storage.client,
      database: db,
      now: at,
      drift: { minSamples: 100, epsilon: 1e-4 },
      driftMemo: new Map(),
    });
    // One call's $0.0005 in a 1-hour window, not three.
    expect(samples.map((x) => [x.labels["team"], Number(x.value?.toFixed(6)), x.details["calls"]])).toEqual([
      ["cached", 0.0005, 3],
    ]);
  });

  it("hysteresis: a firing error-rate alert holds between resolve_threshold and threshold", async () => {
    let now = T + 3 * HOUR;
    const n = recorder();
    const engine = createAlertEngine({
      client: storage.client,
      database: db,
      rules: rules(`rules:
  - { name: ErrorRate, kind: threshold, metric: error_rate, threshold: 0.1, resolve_threshold: 0.05, window: 10m, min_calls: 50, filters: { team: flaky } }
`),
      notifiers: [n],
      logger: silentLogger,
      intervalMs: MIN,
      clock: () => now,
    });
    const step = async (t: number) => {
      now = t;
      await engine.evaluateOnce();
      const a = engine.alerts({ rule: "ErrorRate", states: ["inactive", "pending", "firing", "resolved"] })[0];
      return [a?.state, a?.value];
    };
    expect(await step(T + 3 * HOUR)).toEqual(["firing", 0.2]);
    expect(await step(T + 3 * HOUR + 10 * MIN)).toEqual(["firing", 0.07]);
    expect(await step(T + 3 * HOUR + 20 * MIN)).toEqual(["resolved", 0.03]);
    expect(n.sent.map((s) => s.status)).toEqual(["firing", "resolved"]);
    await engine.close();
  });

  it("unpriced spend, model change, budget and cost anomaly rules", async () => {
    const budgets: BudgetStatusSource = {
      async budgetStatus() {
        return [
          {
            budget: "search-monthly",
            labels: { team: "search" },
            period: "month",
            limit_usd: 100,
            spent_usd: 85,
            forecast_usd: 130,
          },
          {
            budget: "lab-monthly",
            labels: { team: "lab" },
            period: "month",
            limit_usd: 100,
            spent_usd: 10,
            forecast_usd: 20,
          },
        ];
      },
    };
    const anomalies: CostAnomalySource = {
      async costAnomalies() {
        return [
          {
            labels: { team: "search", model: "gpt-4o" },
            score: 4.2,
            expected_usd: 10,
            actual_usd: 31,
            window_start: T,
            window_end: T + HOUR,
          },
        ];
      },
    };
    let now = T + 6 * HOUR;
    const n = recorder();
    const all = rules(`rules:
  - { name: Unpriced, kind: unpriced_spend, window: 1h, group_by: [provider, model] }
  - name: ModelChanged
    kind: model_change
    reference_window: 7d
    current_window: 1h
    min_samples: 50
    filters: { team: bots }
    annotations: { summary: "{{ labels.model }} now answers as {{ new_models }}" }
  - { name: BudgetForecast, kind: budget, measure: forecast, threshold: 1.0 }
  - { name: CostAnomaly, kind: cost_anomaly, threshold: 3, filters: { team: search } }
`);
    const engine = createAlertEngine({
      client: storage.client,
      database: db,
      rules: all,
      notifiers: [n],
      logger: silentLogger,
      intervalMs: MIN,
      clock: () => now,
      budgets,
      anomalies,
    });
    now = T + 5 * HOUR;
    await engine.evaluateOnce();
    now = T + 6 * HOUR;
    await engine.evaluateOnce();
    const firing = engine.alerts({ states: ["firing"] }).map((a) => [a.rule, a.labels, a.value]);
    expect(firing).toEqual(
      expect.arrayContaining([
        ["BudgetForecast", expect.objectContaining({ budget: "search-monthly", team: "search" }), 1.3],
        ["CostAnomaly", expect.objectContaining({ team: "search", model: "gpt-4o" }), 4.2],
        ["ModelChanged", expect.objectContaining({ team: "bots", model: "claude-sonnet" }), 1],
      ]),
    );
    const changed = n.sent.find((s) => s.rule === "ModelChanged");
    expect(changed?.annotations["summary"]).toBe("claude-sonnet now answers as claude-sonnet-2026-10-01");
    // Unpriced fired at T+5h (30 calls of mystery-1) and resolved when they left the window
    // (the group has no data any more, and no_data defaults to ok).
    expect(n.sent.filter((s) => s.rule === "Unpriced").map((s) => [s.status, s.value, s.labels["model"]])).toEqual([
      ["firing", 30, "mystery-1"],
      ["resolved", null, "mystery-1"],
    ]);
    expect(engine.alerts({ rule: "BudgetForecast", states: ["inactive"] }).map((a) => a.labels["budget"])).toEqual([
      "lab-monthly",
    ]);
    await engine.close();
  });

  it("budget rules without a budget source have no data instead of failing", async () => {
    const engine = createAlertEngine({
      client: storage.client,
      database: db,
      rules: rules("rules:\n  - { name: Budget, kind: budget, threshold: 0.9 }\n"),
      notifiers: [],
      logger: silentLogger,
      intervalMs: MIN,
      clock: () => T,
    });
    const report = await engine.evaluateOnce();
    expect(report.errors).toEqual([]);
    expect(engine.alerts()).toEqual([]);
    await engine.close();
  });

  it("a rule removed while firing is resolved at the next start", async () => {
    let now = T;
    const n = recorder();
    const mk = (rs: Rule[]) =>
      createAlertEngine({
        client: storage.client,
        database: db,
        rules: rs,
        notifiers: [n],
        logger: silentLogger,
        intervalMs: MIN,
        clock: () => now,
      });
    const e1 = mk(rules(LATENCY.replace("LatencyP95", "Doomed").replace("for: 2m", "for: 0s")));
    await e1.evaluateOnce();
    // Series of the earlier tests share this database; only Doomed matters here.
    const doomed = () => n.sent.filter((s) => s.rule === "Doomed").map((s) => s.status);
    expect(doomed()).toEqual(["firing"]);
    await e1.close();
    now = T + MIN;
    const e2 = mk([]);
    await e2.evaluateOnce();
    expect(doomed()).toEqual(["firing", "resolved"]);
    await e2.close();
    // And it stays closed: a third start finds nothing open.
    const e3 = mk([]);
    await e3.evaluateOnce();
    expect(doomed()).toEqual(["firing", "resolved"]);
    await e3.close();
  });

  it("GET /api/v1/alerts lists series, filters by state and requires the API token", async () => {
    let now = T;
    const engine = createAlertEngine({
      client: storage.client,
      database: db,
      rules: rules(LATENCY.replace("LatencyP95", "ApiLatency").replace("for: 2m", "for: 0s")),
      notifiers: [],
      logger: silentLogger,
      intervalMs: MIN,
      clock: () => now,
    });
    now = T + 30 * MIN;
    await engine.evaluateOnce();
    const app = Fastify();
    installErrorHandler(app);
    registerAlertsRoutes(app, { engine, auth: bearerAuth("s3cret") });
    const auth = { authorization: "Bearer s3cret" };

    const denied = await app.inject({ url: "/api/v1/alerts" });
    expect(denied.statusCode).toBe(401);
    expect(denied.json().error.code).toBe("TM_ERR_UNAUTHORIZED");

    const res = await app.inject({ url: "/api/v1/alerts", headers: auth });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { alerts: Record<string, unknown>[] };
    expect(body.alerts).toEqual([
      expect.objectContaining({
        rule: "ApiLatency",
        kind: "threshold",
        state: "firing",
        value: 5000,
        threshold: 1000,
        statistic: "latency_p95",
        labels: { alertname: "ApiLatency", severity: "warning", team: "slow" },
        since: new Date(T + 30 * MIN).toISOString(),
        last_notified: new Date(T + 30 * MIN).toISOString(),
        fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      }),
    ]);

    const all = await app.inject({ url: "/api/v1/alerts?state=inactive,firing", headers: auth });
    expect(
      (all.json() as { alerts: { labels: Record<string, string> }[] }).alerts.map((a) => a.labels["team"]).sort(),
    ).toEqual(["fast", "slow"]);
    const fp = body.alerts[0]?.["fingerprint"] as string;
    const one = await app.inject({ url: `/api/v1/alerts?fingerprint=${fp}&state=firing,inactive`, headers: auth });
    expect((one.json() as { alerts: unknown[] }).alerts).toHaveLength(1);

    const bad = await app.inject({ url: "/api/v1/alerts?state=burning", headers: auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe("TM_ERR_BAD_REQUEST");
    await app.close();
    await engine.close();
  });

  it("a failing query leaves states alone and is reported; start() survives unreadable storage", async () => {
    // alert_events exists, llm_calls does not: every threshold query fails.
    const partial = "t_alerts_engine_partial";
    await migrate(storage.client, { database: partial, contentRetentionDays: 0, retentionDays: 0 }, ALERT_MIGRATIONS);
    const broken = createAlertEngine({
      client: storage.client,
      database: partial,
      rules: rules(LATENCY),
      notifiers: [],
      logger: silentLogger,
      intervalMs: MIN,
      clock: () => T,
    });
    const report = await broken.evaluateOnce();
    expect(report.errors.map((e) => e.rule)).toEqual(["LatencyP95"]);
    expect(report.events).toEqual([]);
    await broken.close();
    await storage.client.command({ query: `DROP DATABASE IF EXISTS ${partial}` });

    const missing = createAlertEngine({
      client: storage.client,
      database: "t_alerts_missing_db",
      rules: rules(LATENCY),
      notifiers: [],
      logger: silentLogger,
      intervalMs: 3_600_000,
      clock: () => T,
    });
    await expect(missing.evaluateOnce()).rejects.toThrow();
    await missing.start();
    await missing.close();
  });
});
