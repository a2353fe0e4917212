/**
 * `tokenmeter demo` end to end: a collector on embedded ClickHouse with the budgets API, the
 * proxy configured like examples/tokenmeter.demo.yaml (its demo routes pointing at the port the
 * demo's fake provider takes), and the demo run with small numbers. Then the stored data must
 * show what the dashboards need: rows from the history (OTLP), the SDK and the proxy, several
 * teams and models, streamed calls with TTFT, errors, scores, unpriced calls, the model-version
 * change and the drift; and the dashboards' ClickHouse queries must return rows over it.
 */
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ALERT_MIGRATIONS } from "../collector/src/alerts/schema.js";
import { buildCollector, type Collector } from "../collector/src/app.js";
import { runDemo } from "../collector/src/cli/demo.js";
import { loadConfig } from "../collector/src/config/load-config.js";
import type { ConfigInput } from "../collector/src/config/schema.js";
import type { Finops } from "../collector/src/finops/finops.js";
import { FINOPS_MIGRATIONS } from "../collector/src/finops/schema.js";
import { inProcessSink } from "../collector/src/in-process-sink.js";
import { type ProxyServer, startProxy } from "../collector/src/proxy/index.js";
import { MIGRATIONS, migrate } from "../collector/src/storage/migrations.js";
import { CLICKHOUSE, DATABASE } from "../dashboards/src/datasources.js";
import { ALL, expandQuery, type VariableState } from "../dashboards/src/macros.js";
import { buildAllDashboards, serializeDashboard } from "../dashboards/src/registry.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";
import { freePort } from "./helpers/net.js";

const EXAMPLE = new URL("../examples/tokenmeter.demo.yaml", import.meta.url);

type Row = Record<string, unknown>;

let collector: Collector;
let finops: Finops;
let proxy: ProxyServer & { url: string };
let collectorUrl: string;
let summary = "";
let progressText = "";

function sink(append: (text: string) => void): Writable & { isTTY: boolean } {
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      append(chunk.toString("utf8"));
      cb();
    },
  });
  return Object.assign(stream, { isTTY: false });
}

async function rows(query: string): Promise<Row[]> {
  const rs = await collector.storage.client.query({
    query,
    format: "JSONEachRow",
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  return rs.json<Row>();
}

async function count(where: string): Promise<number> {
  const [row] = await rows(`SELECT count() AS n FROM ${DATABASE}.llm_calls WHERE ${where}`);
  return Number(row?.["n"] ?? 0);
}

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  const fakePort = await freePort();
  // The shipped demo config, with its proxy routes moved to the port this test's demo uses.
  const example = parseYaml(readFileSync(EXAMPLE, "utf8")) as ConfigInput;
  const upstreams = Object.fromEntries(
    Object.entries(example.proxy?.upstreams ?? {}).map(([name, up]) => [
      name,
      { ...up, baseUrl: up.baseUrl.replace(":18080", `:${fakePort}`) },
    ]),
  );
  const config = testConfig(dir, {
    storage: { database: DATABASE },
    proxy: { upstreams },
    defaults: example.defaults,
    budgets: example.budgets,
    // The alert engine is not what this test is about; keep it from competing for the engine.
    alerts: { enabled: false },
  });
  collector = await buildCollector({ config, storage, logger: silentLogger });
  await migrate(
    storage.client,
    { database: DATABASE, contentRetentionDays: 0, retentionDays: 0 },
    [...MIGRATIONS, ...ALERT_MIGRATIONS, ...FINOPS_MIGRATIONS].filter(
      (m, i, all) => all.findIndex((x) => x.version === m.version) === i,
    ),
  );
  finops = collector.finops;
  collectorUrl = await collector.app.listen({ host: "127.0.0.1", port: 0 });
  const registry = collector.metrics.registry;
  proxy = await startProxy({
    config,
    logger: silentLogger,
    sink: inProcessSink(collector, silentLogger),
    registry,
    env: {},
    hooks: [finops.budgetHook],
    host: "127.0.0.1",
    port: 0,
  });

  const code = await runDemo(
    [
      "--collector",
      collectorUrl,
      "--proxy",
      proxy.url,
      "--days",
      "3",
      "--calls-per-day",
      "1500",
      "--minutes",
      "2",
      "--rate",
      "25",
      "--requests",
      "120",
      "--seed",
      "7",
      "--fake-port",
      String(fakePort),
    ],
    {
      stdout: sink((t) => {
        summary += t;
      }),
      stderr: sink((t) => {
        progressText += t;
      }),
      env: {},
      signal: new AbortController().signal,
    },
  );
  expect(code, progressText).toBe(0);
  if (process.env["TM_DEMO_REPORT"]) process.stdout.write(`${progressText}${summary}`);

  // The proxy hands its spans to the pipeline in timed batches, the writer inserts in batches.
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && (await count("source = 'proxy'")) < 40) await new Promise((r) => setTimeout(r, 200));
  await collector.writer.flush();
}, 240_000);

afterAll(async () => {
  await proxy?.close(1000);
  await collector?.close();
});

describe("tokenmeter demo", () => {
  it("ships a valid demo config whose proxy routes point at the demo's fake provider port", () => {
    const config = loadConfig({ env: {}, file: fileURLToPath(EXAMPLE) });
    expect(config.proxy.upstreams["demo-openai"]).toMatchObject({
      baseUrl: "http://127.0.0.1:18080/v1",
      format: "openai",
    });
    expect(config.proxy.upstreams["demo-anthropic"]).toMatchObject({
      baseUrl: "http://127.0.0.1:18080/v1",
      format: "anthropic",
    });
    expect(config.budgets.definitions.map((b) => [b.name, b.enforcement])).toEqual([
      ["growth-monthly", "soft"],
      ["search-monthly", "hard"],
    ]);
  });

  it("reports what it sent by path, and where to look", () => {
    expect(summary).toMatch(/history \(OTLP\)\s+[\d,]+ model calls/);
    expect(summary).toMatch(/live via SDK\s+\d+ model calls/);
    expect(summary).toMatch(/live via proxy\s+\d+ model calls/);
    expect(summary).toContain(`${collectorUrl}/api/v1/budgets`);
    expect(summary).toContain(`${collectorUrl}/api/v1/spend?group_by=team`);
    expect(progressText).toContain("history: started");
  });

  it("stores calls from all three paths, for several teams, providers and models", async () => {
    const bySource = await rows(`SELECT source, count() AS n FROM ${DATABASE}.llm_calls GROUP BY source`);
    const n = (s: string) => Number(bySource.find((r) => r["source"] === s)?.["n"] ?? 0);
    expect(n("otlp")).toBeGreaterThan(2000);
    expect(n("sdk")).toBeGreaterThan(40);
    expect(n("proxy")).toBeGreaterThan(40);
    const [spread] = await rows(
      `SELECT uniqExact(team) AS teams, uniqExact(provider) AS providers, uniqExact(request_model) AS models, uniqExact(project) AS projects, uniqExact(environment) AS environments FROM ${DATABASE}.llm_calls`,
    );
    expect(Number(spread?.["teams"])).toBe(4);
    expect(Number(spread?.["providers"])).toBeGreaterThanOrEqual(4);
    expect(Number(spread?.["models"])).toBeGreaterThanOrEqual(8);
    expect(Number(spread?.["projects"])).toBeGreaterThanOrEqual(8);
    expect(Number(spread?.["environments"])).toBe(2);
    // Live SDK and proxy calls are attributed like the history.
    for (const source of ["sdk", "proxy"]) {
      expect(await count(`source = '${source}' AND team IN ('payments', 'search', 'support', 'growth')`)).toBe(
        await count(`source = '${source}'`),
      );
    }
  });

  it("has streamed calls with TTFT, errors, cache reads, reasoning tokens and unpriced calls", async () => {
    for (const source of ["otlp", "sdk", "proxy"]) {
      expect(await count(`source = '${source}' AND streamed = 1 AND ttft_ms > 0`), source).toBeGreaterThan(0);
    }
    expect(await count("status = 'error'")).toBeGreaterThan(20);
    expect(await count("status = 'error' AND http_status = 429")).toBeGreaterThan(0);
    expect(await count("cache_read_tokens > 0 AND provider = 'openai'")).toBeGreaterThan(0);
    expect(await count("cache_read_tokens > 0 AND provider = 'anthropic'")).toBeGreaterThan(0);
    expect(await count("reasoning_tokens > 0 AND request_model = 'o4-mini'")).toBeGreaterThan(0);
    expect(
      await count("priced = 0 AND request_model = 'acme-support-llama-3.1-8b' AND output_tokens > 0"),
    ).toBeGreaterThan(0);
    expect(await count("priced = 1 AND cost_usd > 0")).toBeGreaterThan(1000);
    expect(await count("operation = 'embeddings'")).toBeGreaterThan(0);
  });

  it("holds the story: a model-version change, the drift episode and scores", async () => {
    const versions = await rows(
      `SELECT response_model, min(timestamp) AS first FROM ${DATABASE}.llm_calls WHERE request_model = 'gpt-4o' AND status = 'ok' GROUP BY response_model ORDER BY first`,
    );
    expect(versions.map((r) => r["response_model"])).toEqual(["gpt-4o-2024-05-13", "gpt-4o-2024-08-06"]);

    const [drift] = await rows(
      `SELECT avgIf(output_tokens, timestamp >= now() - INTERVAL 20 HOUR) / avgIf(output_tokens, timestamp < now() - INTERVAL 20 HOUR) AS ratio FROM ${DATABASE}.llm_calls WHERE source = 'otlp' AND team = 'support' AND project = 'chatbot' AND status = 'ok'`,
    );
    expect(Number(drift?.["ratio"])).toBeGreaterThan(1.2);

    const bySource = await rows(`SELECT source, count() AS n FROM ${DATABASE}.scores GROUP BY source`);
    const sources = new Set(bySource.map((r) => r["source"]));
    for (const s of ["telemetry", "api", "sdk"]) expect(sources, s).toContain(s);
    const [helpfulness] = await rows(
      `SELECT avgIf(value, timestamp >= now() - INTERVAL 20 HOUR) - avgIf(value, timestamp < now() - INTERVAL 20 HOUR) AS delta FROM ${DATABASE}.scores WHERE name = 'helpfulness' AND trace_id IN (SELECT trace_id FROM ${DATABASE}.llm_calls WHERE project = 'chatbot')`,
    );
    expect(Number(helpfulness?.["delta"])).toBeLessThan(-0.1);

    const [agentSpans] = await rows(
      `SELECT countIf(name LIKE 'invoke_agent %') AS agents, countIf(name LIKE 'execute_tool %') AS tools, countIf(name LIKE 'retrieval %') AS retrievals FROM ${DATABASE}.spans`,
    );
    expect(Number(agentSpans?.["agents"])).toBeGreaterThan(0);
    expect(Number(agentSpans?.["tools"])).toBeGreaterThan(0);
    expect(Number(agentSpans?.["retrievals"])).toBeGreaterThan(0);
  });

  it("steers the heavy spender toward its monthly budget and keeps the hard budget clear", async () => {
    const res = await collector.app.inject({ method: "GET", url: "/api/v1/budgets" });
    expect(res.statusCode).toBe(200);
    const budgets = (res.json() as { budgets: Row[] }).budgets;
    const growth = budgets.find((b) => b["name"] === "growth-monthly");
    const search = budgets.find((b) => b["name"] === "search-monthly");
    // What the summary promised is what the server measured (list prices both sides).
    const promised = /budget growth-monthly\s+about (\d+)%/.exec(summary);
    expect(promised, summary).not.toBeNull();
    expect(Number(growth?.["used_ratio"]) * 100).toBeCloseTo(Number(promised?.[1]), -1);
    // Unless the month began within the last two days (too little history in the window to steer),
    // the heavy spender ends the history close to its limit.
    if (Date.now() - Date.parse(String(growth?.["window_start"])) > 2 * 86_400_000) {
      expect(Number(growth?.["used_ratio"])).toBeGreaterThan(0.75);
      expect(Number(growth?.["used_ratio"])).toBeLessThan(1);
    }
    expect(Number(search?.["used_ratio"])).toBeLessThan(0.7);
    expect(search?.["enforcement"]).toBe("hard");
  });
});

// ---------------------------------------------------------------------------------------------
// The dashboards over the demo's data.

interface PanelJson {
  type: string;
  title?: string;
  datasource?: { uid?: string };
  targets?: { rawSql?: string }[];
  panels?: PanelJson[];
}

interface VariableJson {
  type: string;
  name: string;
  query?: string | { rawSql?: string };
  current?: { value?: string | string[] };
}

interface DashboardJson {
  uid: string;
  panels: PanelJson[];
  templating: { list?: VariableJson[] };
}

const leafPanels = (panels: PanelJson[]): PanelJson[] =>
  panels.flatMap((p) => (p.type === "row" ? leafPanels(p.panels ?? []) : [p]));

/** Panels that read what this run does not produce: alert transitions (the engine is off here), a selected trace. */
const NOT_FROM_THE_DEMO = new Set([
  "Latest drift statistics",
  "Alert transitions",
  "Firing transitions by rule",
  "Prompts and responses",
  "Trace",
  "Scores of the trace",
]);

describe("dashboards over the demo's data", () => {
  const dashboards = buildAllDashboards().map((b) => JSON.parse(serializeDashboard(b.dashboard)) as DashboardJson);

  it.each(dashboards.map((d) => ({ uid: d.uid, json: d })))(
    "$uid: every query runs and the panels show data",
    async ({ json }) => {
      const to = new Date(Date.now() + 60_000);
      const from = new Date(to.getTime() - 3 * 86_400_000);
      const context = { from, to, intervalMs: 3_600_000, variables: {} as Record<string, VariableState> };
      for (const v of json.templating.list ?? []) {
        if (v.type === "query") {
          const rawSql = typeof v.query === "object" ? (v.query.rawSql ?? "") : (v.query ?? "");
          const options = (await rows(expandQuery(rawSql, context))).map((r) => String(Object.values(r)[0]));
          context.variables[v.name] = { current: [ALL], options };
        } else if (v.type === "custom") {
          context.variables[v.name] = { current: [ALL], options: String(v.query ?? "").split(",") };
        } else if (v.type === "constant") {
          context.variables[v.name] = { current: String(v.query ?? "") };
        } else {
          context.variables[v.name] = { current: v.current?.value ?? "" };
        }
      }
      const empty: string[] = [];
      const failures: string[] = [];
      for (const panel of leafPanels(json.panels)) {
        if (panel.datasource?.uid !== CLICKHOUSE.uid) continue;
        for (const target of panel.targets ?? []) {
          try {
            const found = await rows(expandQuery(target.rawSql ?? "", context));
            if (found.length === 0) empty.push(panel.title ?? "");
          } catch (err) {
            failures.push(`${panel.title}: ${(err as Error).message.slice(0, 300)}`);
          }
        }
      }
      expect(failures).toEqual([]);
      expect(empty.filter((title) => !NOT_FROM_THE_DEMO.has(title))).toEqual([]);
    },
  );
});
