import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { type AlertEventRow, writeEvents } from "../../collector/src/alerts/alert-events.js";
import { ALERT_MIGRATIONS } from "../../collector/src/alerts/schema.js";
import type { AlertStateName } from "../../collector/src/alerts/state-machine.js";
import { loadPriceBook } from "../../collector/src/enrich/price-book.js";
import { priceCall } from "../../collector/src/enrich/pricing.js";
import { createCollectorMetrics } from "../../collector/src/metrics/collector-metrics.js";
import type { StorageClient } from "../../collector/src/storage/client.js";
import { MIGRATIONS, migrate } from "../../collector/src/storage/migrations.js";
import { embeddedStorage } from "../../test/helpers/embedded.js";
import { FORMAT_CODES } from "./clickhouse-query.js";
import { CLICKHOUSE, DATABASE, PROMETHEUS } from "./datasources.js";
import { ALL, expandQuery, type VariableState } from "./macros.js";
import { buildAllDashboards, serializeDashboard } from "./registry.js";
import { seedDemoData } from "./seed-demo.js";

/**
 * Every shipped dashboard, checked the way Grafana would use it: the model is well formed, the
 * committed JSON is what the code builds, and every ClickHouse query — panels, variables and
 * annotations — runs on embedded ClickHouse over seeded demo data, after the plugin's macros and
 * the template variables are expanded for a sample range and several variable selections.
 */

interface TargetJson {
  refId?: string;
  datasource?: { type?: string; uid?: string };
  editorType?: string;
  queryType?: string;
  format?: number;
  rawSql?: string;
  expr?: string;
}

interface PanelJson {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: TargetJson[];
  panels?: PanelJson[];
}

interface VariableJson {
  type: string;
  name: string;
  query?: string | { rawSql?: string };
  current?: { value?: string | string[] };
  includeAll?: boolean;
  datasource?: { uid?: string };
}

interface DashboardJson {
  uid: string;
  title: string;
  panels: PanelJson[];
  templating: { list?: VariableJson[] };
  annotations: { list?: { name: string; datasource?: { uid?: string }; target?: TargetJson }[] };
}

const built = buildAllDashboards();
const dashboards = built.map((b) => ({
  file: b.file,
  json: JSON.parse(serializeDashboard(b.dashboard)) as DashboardJson,
}));

function leafPanels(panels: PanelJson[]): PanelJson[] {
  return panels.flatMap((p) => (p.type === "row" ? leafPanels(p.panels ?? []) : [p]));
}

const CLICKHOUSE_QUERY_TYPES = new Set(["table", "timeSeries", "logs", "traces"]);
const FORMATS = new Set<number>(Object.values(FORMAT_CODES));

describe("dashboard models", () => {
  it("ships five dashboards with distinct uids", () => {
    expect(dashboards.map((d) => d.json.uid).sort()).toEqual([
      "tokenmeter-calls",
      "tokenmeter-finops",
      "tokenmeter-overview",
      "tokenmeter-quality",
      "tokenmeter-reliability",
    ]);
  });

  it.each(dashboards)("$file: every panel has a datasource and valid queries", ({ json }) => {
    const panels = leafPanels(json.panels);
    expect(panels.length).toBeGreaterThan(5);
    const ids = json.panels.flatMap((p) => [p.id, ...(p.panels ?? []).map((q) => q.id)]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      const where = `${json.uid} / ${panel.title}`;
      expect(panel.title, where).toBeTruthy();
      expect([CLICKHOUSE.uid, PROMETHEUS.uid], where).toContain(panel.datasource?.uid);
      expect(panel.targets?.length, where).toBeGreaterThan(0);
      const refIds = new Set<string>();
      for (const target of panel.targets ?? []) {
        expect(target.refId, where).toMatch(/^[A-Za-z]\w*$/);
        refIds.add(target.refId ?? "");
        expect(target.datasource?.uid, where).toBe(panel.datasource?.uid);
        if (panel.datasource?.uid === CLICKHOUSE.uid) {
          expect(target.datasource?.type, where).toBe(CLICKHOUSE.type);
          expect(target.editorType, where).toBe("sql");
          expect(CLICKHOUSE_QUERY_TYPES.has(target.queryType ?? ""), where).toBe(true);
          expect(FORMATS.has(target.format ?? -1), where).toBe(true);
          expect(target.rawSql?.trim(), where).toBeTruthy();
        } else {
          expect(target.expr?.trim(), where).toBeTruthy();
        }
      }
      expect(refIds.size, `${where}: refIds are unique`).toBe(panel.targets?.length);
    }
  });

  it.each(dashboards)("$file: variables and annotations query the ClickHouse datasource", ({ json }) => {
    for (const v of json.templating.list ?? []) {
      if (v.type !== "query") continue;
      expect(v.datasource?.uid).toBe(CLICKHOUSE.uid);
      expect(typeof v.query === "object" && v.query.rawSql).toBeTruthy();
    }
    for (const a of json.annotations.list ?? []) {
      expect(a.datasource?.uid).toBe(CLICKHOUSE.uid);
      expect(a.target?.rawSql).toBeTruthy();
    }
  });

  it("tables are always qualified with the tokenmeter database", () => {
    for (const { json } of dashboards) {
      for (const panel of leafPanels(json.panels)) {
        for (const t of panel.targets ?? []) {
          for (const m of (t.rawSql ?? "").matchAll(/\b(?:FROM|JOIN)\s+([\w.]+)/gi)) {
            const name = m[1] ?? "";
            // numbers(...) and derived tables are not tables of the database.
            if (name === "numbers") continue;
            expect(name, `${json.uid} / ${panel.title}`).toMatch(new RegExp(`^${DATABASE}\\.`));
          }
        }
      }
    }
  });

  it("the committed JSON is what the code builds (run `npm run dashboards` after a change)", () => {
    const dir = fileURLToPath(new URL("../provisioning/dashboards/json/", import.meta.url));
    const committed = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(committed.sort()).toEqual(built.map((b) => b.file).sort());
    for (const { file, json } of dashboards) {
      expect(JSON.parse(readFileSync(join(dir, file), "utf8")), file).toEqual(json);
    }
  });
});

describe("Prometheus panels", () => {
  const exprs = dashboards.flatMap(({ json }) =>
    leafPanels(json.panels)
      .filter((p) => p.datasource?.uid === PROMETHEUS.uid)
      .flatMap((p) => (p.targets ?? []).map((t) => ({ panel: `${json.uid} / ${p.title}`, expr: t.expr ?? "" }))),
  );

  it("use only metrics the collector exposes", async () => {
    expect(exprs.length).toBeGreaterThan(0);
    const metrics = createCollectorMetrics({ maxLabelValues: 10, defaultMetrics: false });
    const exposed = new Set<string>();
    for (const m of await metrics.registry.getMetricsAsJSON()) {
      exposed.add(m.name);
      if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) exposed.add(`${m.name}${s}`);
    }
    for (const { panel, expr } of exprs) {
      const used = expr.match(/\btokenmeter_\w+/g) ?? [];
      expect(used.length, panel).toBeGreaterThan(0);
      for (const name of used) expect(exposed.has(name), `${panel}: ${name}`).toBe(true);
    }
  });

  it("parse as PromQL (promtool, when installed)", (ctx) => {
    const probe = spawnSync("promtool", ["--version"], { encoding: "utf8" });
    if (probe.error) {
      ctx.skip();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "tm-promql-"));
    const file = join(dir, "exprs.yml");
    const rules = exprs.map((e, i) => ({
      record: `tokenmeter:dashboard_expr_${i}`,
      expr: e.expr.replaceAll("$__rate_interval", "5m"),
    }));
    writeFileSync(file, stringify({ groups: [{ name: "dashboards", rules }] }));
    const run = spawnSync("promtool", ["check", "rules", file], { encoding: "utf8" });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Every ClickHouse query against seeded data.

/** The sample range: the last seven days of the seeded fortnight (the drift baseline is the week before). */
const END = new Date("2026-09-15T12:00:00Z");
const FROM = new Date(END.getTime() - 7 * 86_400_000);
const INTERVAL_MS = 3_600_000;
const QUOTED_TEAM = "o'brien lab";

interface Scenario {
  name: string;
  /** Variable name -> selection; unlisted variables keep their default (All, or empty text). */
  select: (picks: Picks) => Record<string, string | string[]>;
}

interface Picks {
  traceId: string;
}

const SCENARIOS: Scenario[] = [
  { name: "all", select: () => ({}) },
  {
    name: "selected",
    select: ({ traceId }) => ({
      environment: ["production"],
      team: ["support", "growth"],
      model: ["claude-sonnet-4-6"],
      status: ["ok", "error"],
      source: ["sdk", "proxy"],
      score: ["helpfulness", "user_feedback"],
      trace_id: traceId,
      monthly_budget: "2500",
    }),
  },
  { name: "quoted", select: () => ({ team: [QUOTED_TEAM], search: "password" }) },
];

/** Panels that stay empty until a trace is selected. */
const NEED_A_TRACE = new Set(["Prompts and responses", "Trace", "Scores of the trace"]);

let storage: StorageClient;
let picks: Picks;

async function rows(query: string): Promise<Record<string, unknown>[]> {
  const rs = await storage.client.query({ query, format: "JSONEachRow" });
  return rs.json<Record<string, unknown>>();
}

/** Alert transitions as the alert engine writes them: a drift episode, a budget alert, an error burst. */
async function seedAlertEvents(): Promise<void> {
  const at = (hoursBeforeEnd: number) => END.getTime() - hoursBeforeEnd * 3_600_000;
  const event = (
    hoursBeforeEnd: number,
    rule: string,
    kind: string,
    previous: AlertStateName,
    state: AlertStateName,
    stat: { statistic: string; value: number; threshold: number; p_value?: number },
    labels: Record<string, string>,
  ): AlertEventRow => ({
    timestamp: at(hoursBeforeEnd),
    rule,
    kind,
    fingerprint: `${rule}|${Object.values(labels).join("|")}`,
    state,
    previous_state: previous,
    value: stat.value,
    threshold: stat.threshold,
    statistic: stat.statistic,
    p_value: stat.p_value ?? null,
    severity: kind === "budget" ? "critical" : "warning",
    labels,
    annotations: { summary: `${rule}: ${stat.statistic} ${stat.value}` },
    active_since: null,
    fired_at: null,
    last_notified: null,
  });
  const drift = { team: "support", project: "chatbot", model: "claude-haiku-4-5" };
  const psi = (value: number) => ({ statistic: "psi", value, threshold: 0.25, p_value: 0.001 });
  const anthropic = { team: "support", provider: "anthropic", model: "claude-haiku-4-5" };
  await writeEvents(storage.client, DATABASE, [
    event(66, "OutputTokensDrift", "drift", "inactive", "pending", psi(0.31), drift),
    event(60, "OutputTokensDrift", "drift", "pending", "firing", psi(0.42), drift),
    event(48, "OutputTokensDrift", "drift", "firing", "firing", psi(0.45), drift),
    event(
      20,
      "GrowthMonthlyBudget",
      "budget",
      "inactive",
      "firing",
      { statistic: "budget_used", value: 0.86, threshold: 0.8 },
      { team: "growth" },
    ),
    event(
      170,
      "LlmErrorRateHigh",
      "threshold",
      "pending",
      "firing",
      { statistic: "error_rate", value: 0.21, threshold: 0.05 },
      anthropic,
    ),
    event(
      167,
      "LlmErrorRateHigh",
      "threshold",
      "firing",
      "resolved",
      { statistic: "error_rate", value: 0.02, threshold: 0.05 },
      anthropic,
    ),
  ]);
}

async function seedQuotedTeam(): Promise<void> {
  const [template] = await rows(
    `SELECT * FROM ${DATABASE}.llm_calls WHERE status = 'ok' ORDER BY timestamp DESC LIMIT 1`,
  );
  if (!template) throw new Error("no seeded call to copy");
  const copies = [1, 2, 3].map((i) => ({
    ...template,
    team: QUOTED_TEAM,
    project: "partner's pilot",
    span_id: `quoted${i}`.padEnd(16, "0"),
    input: JSON.stringify([{ role: "user", parts: [{ type: "text", content: "I need to reset my password" }] }]),
  }));
  await storage.client.insert({ table: `${DATABASE}.llm_calls`, format: "JSONEachRow", values: copies });
}

beforeAll(async () => {
  ({ storage } = await embeddedStorage());
  // The alert engine's tables may not be in the core list yet; add them once.
  const migrations = [
    ...MIGRATIONS,
    ...ALERT_MIGRATIONS.filter((a) => !MIGRATIONS.some((m) => m.version === a.version)),
  ];
  await migrate(storage.client, { database: DATABASE, contentRetentionDays: 0, retentionDays: 0 }, migrations);
  const book = loadPriceBook();
  const seeded = await seedDemoData(storage.client, {
    database: DATABASE,
    end: END,
    days: 14,
    price: (call) => priceCall(call, book),
  });
  expect(seeded.calls).toBeGreaterThan(3000);
  await seedAlertEvents();
  await seedQuotedTeam();
  const [trace] = await rows(
    `SELECT trace_id FROM ${DATABASE}.llm_calls c WHERE environment = 'production' AND team = 'support' AND request_model = 'claude-sonnet-4-6' AND status = 'ok' AND source IN ('sdk', 'proxy') AND timestamp >= toDateTime(${Math.floor(FROM.getTime() / 1000)}) AND trace_id IN (SELECT trace_id FROM ${DATABASE}.scores WHERE name = 'helpfulness') ORDER BY timestamp DESC LIMIT 1`,
  );
  picks = { traceId: String(trace?.["trace_id"] ?? "") };
  expect(picks.traceId).toMatch(/^[0-9a-f]{32}$/);
}, 120_000);

/** Resolves the dashboard's variables in order, running query variables for their options like Grafana. */
async function resolveVariables(json: DashboardJson, selection: Record<string, string | string[]>) {
  const variables: Record<string, VariableState> = {};
  for (const v of json.templating.list ?? []) {
    const chosen = selection[v.name];
    switch (v.type) {
      case "query": {
        const rawSql = typeof v.query === "object" ? (v.query.rawSql ?? "") : (v.query ?? "");
        const sql = expandQuery(rawSql, { from: FROM, to: END, intervalMs: INTERVAL_MS, variables });
        const options = (await rows(sql)).map((r) => String(Object.values(r)[0]));
        variables[v.name] = { current: chosen ?? [ALL], options };
        break;
      }
      case "custom": {
        const options = String(v.query ?? "").split(",");
        variables[v.name] = { current: chosen ?? [ALL], options };
        break;
      }
      case "constant":
        variables[v.name] = { current: String(v.query ?? "") };
        break;
      default:
        variables[v.name] = { current: chosen ?? v.current?.value ?? "" };
    }
  }
  return variables;
}

interface QueryResult {
  dashboard: string;
  panel: string;
  scenario: string;
  rows: number;
  first: string;
}

describe.each(SCENARIOS)("every ClickHouse query runs: $name selection", (scenario) => {
  it.each(dashboards)("$file", async ({ json }) => {
    const variables = await resolveVariables(json, scenario.select(picks));
    const context = { from: FROM, to: END, intervalMs: INTERVAL_MS, variables };
    const results: QueryResult[] = [];
    const failures: string[] = [];
    const queries = [
      ...leafPanels(json.panels)
        .filter((p) => p.datasource?.uid === CLICKHOUSE.uid)
        .flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title ?? "", rawSql: t.rawSql ?? "" }))),
      ...(json.annotations.list ?? []).map((a) => ({ panel: `annotation: ${a.name}`, rawSql: a.target?.rawSql ?? "" })),
    ];
    for (const { panel, rawSql } of queries) {
      try {
        const found = await rows(expandQuery(rawSql, context));
        results.push({
          dashboard: json.uid,
          panel,
          scenario: scenario.name,
          rows: found.length,
          first: JSON.stringify(found[0] ?? null).slice(0, 300),
        });
      } catch (err) {
        failures.push(`${panel}: ${(err as Error).message.slice(0, 500)}`);
      }
    }
    expect(failures).toEqual([]);
    if (process.env["TM_DASHBOARD_REPORT"]) {
      for (const r of results)
        process.stdout.write(`${r.scenario}\t${r.dashboard}\t${r.rows}\t${r.panel}\t${r.first}\n`);
    }

    const empty = results.filter((r) => r.rows === 0).map((r) => r.panel);
    if (scenario.name === "all") {
      // Every panel shows data on the demo data, except the ones waiting for a selected trace.
      expect(empty.filter((p) => !NEED_A_TRACE.has(p))).toEqual([]);
    }
    if (scenario.name === "selected" && json.uid === "tokenmeter-calls") {
      expect(empty).toEqual([]);
    }
    if (scenario.name === "quoted" && json.uid === "tokenmeter-calls") {
      const calls = results.find((r) => r.panel === "Calls");
      expect(calls?.rows).toBe(3);
    }
  });
});

describe("spend panels", () => {
  it("count spend as the spend API, budgets and FOCUS do: proxy cache hits cost nothing", async () => {
    const context = { from: FROM, to: END, intervalMs: INTERVAL_MS, variables: {} as Record<string, VariableState> };
    const [truth] = await rows(
      expandQuery(
        `SELECT toFloat64(sumIf(ifNull(cost_usd, 0), cache_hit = 0)) AS spend, toFloat64(sumIf(ifNull(cost_usd, 0), cache_hit = 1)) AS saved FROM ${DATABASE}.llm_calls WHERE $__timeFilter(timestamp)`,
        context,
      ),
    );
    // The demo data has cache hits with a cost, or this test would prove nothing.
    expect(Number(truth?.["saved"])).toBeGreaterThan(0);
    const stats = [
      ["tokenmeter-overview", "Spend (priced calls)"],
      ["tokenmeter-finops", "Spend"],
    ] as const;
    for (const [uid, title] of stats) {
      const json = dashboards.find((d) => d.json.uid === uid)?.json;
      if (!json) throw new Error(`no dashboard ${uid}`);
      const panel = leafPanels(json.panels).find((p) => p.title === title);
      const variables = await resolveVariables(json, {});
      const [shown] = await rows(expandQuery(panel?.targets?.[0]?.rawSql ?? "", { ...context, variables }));
      expect(Number(shown?.["spend_usd"]), `${uid}: ${title}`).toBeCloseTo(Number(truth?.["spend"]), 6);
    }
  });
});

describe("latency panels", () => {
  it("Overview and Reliability agree: both leave out cancelled calls, whose duration is when the client gave up", async () => {
    const context = { from: FROM, to: END, intervalMs: INTERVAL_MS, variables: {} as Record<string, VariableState> };
    const [cancelled] = await rows(
      expandQuery(
        `SELECT count() AS n FROM ${DATABASE}.llm_calls WHERE $__timeFilter(timestamp) AND status = 'cancelled'`,
        context,
      ),
    );
    // The demo data has cancelled calls, or this test would prove nothing.
    expect(Number(cancelled?.["n"])).toBeGreaterThan(0);
    const shown = async (uid: string, title: string) => {
      const json = dashboards.find((d) => d.json.uid === uid)?.json;
      if (!json) throw new Error(`no dashboard ${uid}`);
      const panel = leafPanels(json.panels).find((p) => p.title === title);
      const variables = await resolveVariables(json, {});
      return rows(expandQuery(panel?.targets?.[0]?.rawSql ?? "", { ...context, variables }));
    };
    const title = "Latency p50 / p95 / p99";
    expect(await shown("tokenmeter-overview", title)).toEqual(await shown("tokenmeter-reliability", title));
    const [stat] = await shown("tokenmeter-overview", "Latency p95");
    const [timed] = await rows(
      expandQuery(
        `SELECT quantile(0.95)(duration_ms) AS p95_ms FROM ${DATABASE}.llm_calls WHERE $__timeFilter(timestamp) AND status != 'cancelled'`,
        context,
      ),
    );
    expect(stat).toEqual(timed);
  });
});
