import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCollector, type Collector } from "../collector/src/app.js";
import { runReprice } from "../collector/src/cli/reprice.js";
import { runSpend } from "../collector/src/cli/spend.js";
import type { Finops } from "../collector/src/finops/finops.js";
import type { MonthForecast } from "../collector/src/finops/forecast.js";
import { otlpJsonTraces } from "./helpers/collector.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";
import { gptTestBook } from "./helpers/finops.js";

const NOW = Date.UTC(2026, 10, 20, 12, 30);
const HOUR = 3_600_000;
const DAY = 86_400_000;

let collector: Collector;
let _finops: Finops;
let url: string;
let db: string;

const BOOK = gptTestBook({ input: 2, output: 8, cache_read: 0.5 });

type Row = Record<string, unknown>;

async function get<T = Row>(path: string): Promise<T> {
  const res = await collector.app.inject({ method: "GET", url: path });
  if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${res.body}`);
  return res.json() as T;
}

async function sql<T = Row>(query: string): Promise<T[]> {
  const rs = await collector.storage.client.query({
    query,
    format: "JSONEachRow",
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  return rs.json<T>();
}

let seq = 0;
function row(p: Row & { timestamp: number }): Row {
  seq++;
  return {
    trace_id: seq.toString(16).padStart(32, "0"),
    span_id: seq.toString(16).padStart(16, "0"),
    team: "t",
    project: "p",
    provider: "openai",
    request_model: "gpt-test",
    input_tokens: 100,
    output_tokens: 10,
    priced: 1,
    price_id: "openai/gpt-test@1",
    status: "ok",
    source: "sdk",
    tags: {},
    ...p,
  };
}

async function insert(rows: Row[]) {
  // Explicit: chdb keeps a query's settings for the session, so the batch writer's last
  // insert_deduplication_token would otherwise drop these blocks as duplicates.
  await collector.storage.client.insert({
    table: `${db}.llm_calls`,
    values: rows,
    format: "JSONEachRow",
    clickhouse_settings: { insert_deduplication_token: randomUUID() },
  });
}

function capture() {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  const config = testConfig(dir, { budgets: { timezone: "UTC" } });
  collector = await buildCollector({ config, storage, logger: silentLogger, finops: { clock: () => NOW, book: BOOK } });
  db = storage.database;
  _finops = collector.finops;
  url = await collector.app.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await collector?.close();
});

describe("GET /api/v1/spend", () => {
  it("an unpriced model shows in unpriced_calls, never as $0 spend of a priced call", async () => {
    const t0 = Date.UTC(2026, 10, 2, 12);
    const span = (i: number, model: string) => ({
      traceId: (0xabc000 + i).toString(16).padStart(32, "0"),
      spanId: (0xdef000 + i).toString(16).padStart(16, "0"),
      name: `chat ${model}`,
      kind: 3,
      startTimeUnixNano: String(BigInt(t0 + i * 1000) * 1_000_000n),
      endTimeUnixNano: String(BigInt(t0 + i * 1000 + 500) * 1_000_000n),
      attributes: [
        { key: "gen_ai.operation.name", value: { stringValue: "chat" } },
        { key: "gen_ai.provider.name", value: { stringValue: "openai" } },
        { key: "gen_ai.request.model", value: { stringValue: model } },
        { key: "gen_ai.usage.input_tokens", value: { intValue: "1000" } },
        { key: "gen_ai.usage.output_tokens", value: { intValue: "200" } },
        { key: "tokenmeter.team", value: { stringValue: "otlp-team" } },
      ],
    });
    const res = await collector.app.inject({
      method: "POST",
      url: "/v1/traces",
      headers: { "content-type": "application/json" },
      payload: otlpJsonTraces("svc", [
        span(1, "gpt-4o"),
        span(2, "gpt-4o"),
        span(3, "acme-secret-model"),
        span(4, "acme-secret-model"),
      ]),
    });
    expect(res.statusCode).toBe(200);
    const body = await get<{ rows: Row[] }>(
      "/api/v1/spend?from=2026-11-02T00:00:00Z&to=2026-11-03T00:00:00Z&group_by=team,model&team=otlp-team",
    );
    const byModel = Object.fromEntries(body.rows.map((r) => [r["model"], r]));
    expect(byModel["acme-secret-model"]).toMatchObject({
      team: "otlp-team",
      calls: 2,
      input_tokens: 2000,
      unpriced_calls: 2,
      cost_usd: "0",
    });
    expect(byModel["gpt-4o"]).toMatchObject({ calls: 2, unpriced_calls: 0 });
    expect(Number(byModel["gpt-4o"]?.["cost_usd"])).toBeGreaterThan(0);
  });

  it("rollup routing returns exactly what the raw table says, for every grouping and partial hours", async () => {
    const teams = ["search", "ads", "ml"];
    const models: [string, string][] = [
      ["openai", "gpt-test"],
      ["anthropic", "claude-x"],
      ["openai", "gpt-mini"],
    ];
    const rows: Row[] = [];
    let x = 11;
    const rnd = (n: number) => {
      x = (x * 48271) % 2147483647;
      return x % n;
    };
    for (let i = 0; i < 6000; i++) {
      const [provider, model] = models[rnd(3)] ?? ["openai", "gpt-test"];
      const unpriced = rnd(20) === 0;
      const cost = (rnd(1_000_000) / 1e7).toFixed(7);
      rows.push(
        row({
          timestamp: (Date.UTC(2026, 9, 1) + rnd(31 * 24 * 3600) * 1000) * 1000 + rnd(1_000_000),
          team: teams[rnd(3)],
          project: `p${rnd(2)}`,
          user_id: `u${rnd(5)}`,
          provider,
          request_model: rnd(10) === 0 ? "" : model,
          response_model: `${model}-2026`,
          input_tokens: rnd(5000),
          output_tokens: rnd(900),
          cache_hit: rnd(15) === 0 ? 1 : 0,
          priced: unpriced ? 0 : 1,
          cost_usd: unpriced ? null : cost,
          list_cost_usd: unpriced ? null : (Number(cost) * 1.25).toFixed(9),
          status: rnd(10) === 0 ? "error" : "ok",
        }),
      );
    }
    await insert(rows);

    const from = "2026-10-03T07:13:20Z";
    const to = "2026-10-27T18:45:00Z";
    const cases: [string, string, string][] = [
      ["team", "UTC", "daily+hourly+raw"],
      ["team,project,model,provider", "UTC", "daily+hourly+raw"],
      ["day,team", "UTC", "daily+hourly+raw"],
      ["day,team", "Europe/Berlin", "hourly+raw"],
      ["day", "Asia/Kolkata", "raw"],
      ["user_id,team", "UTC", "raw"],
      ["", "UTC", "daily+hourly+raw"],
    ];
    for (const [groupBy, tz, source] of cases) {
      const api = await get<{ rows: Row[]; meta: { source: string } }>(
        `/api/v1/spend?from=${from}&to=${to}&group_by=${groupBy}&tz=${tz}`,
      );
      expect(api.meta.source, groupBy).toBe(source);
      const keys = groupBy ? groupBy.split(",") : [];
      const keyExpr = keys.map((k) =>
        k === "day"
          ? `toString(toDate(timestamp, '${tz}')) AS day`
          : k === "model"
            ? "if(request_model != '', request_model, response_model) AS model"
            : k,
      );
      const raw = await sql(
        `SELECT ${[...keyExpr, "count() AS calls", "sum(input_tokens) AS input_tokens", "sum(output_tokens) AS output_tokens", "toString(sumIf(ifNull(cost_usd, 0), cache_hit = 0)) AS cost_usd", "countIf(priced = 0) AS unpriced_calls"].join(", ")}
         FROM ${db}.llm_calls WHERE timestamp >= parseDateTime64BestEffort('${from}', 6) AND timestamp < parseDateTime64BestEffort('${to}', 6) AND team != 'otlp-team'
         ${keys.length ? `GROUP BY ${keys.join(", ")}` : ""}`,
      );
      const pick = (r: Row) =>
        JSON.stringify([
          ...keys.map((k) => r[k]),
          r["calls"],
          r["input_tokens"],
          r["output_tokens"],
          r["cost_usd"],
          r["unpriced_calls"],
        ]);
      expect(api.rows.map(pick).sort(), `${groupBy} ${tz}`).toEqual(raw.map(pick).sort());
    }
  });
});

describe("date-only bounds", () => {
  it("a-date-alone-is-midnight-in-the-report's-time-zone (API and CLI), not UTC", async () => {
    // 00:30 and 23:30 on 10 November in Berlin (UTC+1): the first and the last hour of its day.
    await insert([
      row({ timestamp: Date.UTC(2026, 10, 9, 23, 30) * 1000, team: "tz-team", cost_usd: "1", list_cost_usd: "1" }),
      row({ timestamp: Date.UTC(2026, 10, 10, 22, 30) * 1000, team: "tz-team", cost_usd: "2", list_cost_usd: "2" }),
      // 00:30 on the 11th in Berlin: the next day, outside the range.
      row({ timestamp: Date.UTC(2026, 10, 10, 23, 30) * 1000, team: "tz-team", cost_usd: "4", list_cost_usd: "4" }),
    ]);
    const body = await get<{ rows: Row[]; meta: Row }>(
      "/api/v1/spend?from=2026-11-10&to=2026-11-11&group_by=day&tz=Europe/Berlin&team=tz-team",
    );
    expect(body.rows.map((r) => [r["day"], r["calls"], Number(r["cost_usd"])])).toEqual([["2026-11-10", 2, 3]]);
    expect(body.meta["from"]).toBe("2026-11-09T23:00:00.000Z");

    const out = capture();
    const err = capture();
    const code = await runSpend(
      [
        "--by",
        "day",
        "--since",
        "2026-11-10",
        "--until",
        "2026-11-11",
        "--tz",
        "Europe/Berlin",
        "--team",
        "tz-team",
      ].concat(["--json", "--api-url", url]),
      { stdout: out.stream, stderr: err.stream, now: NOW },
    );
    expect(code, err.text()).toBe(0);
    const rows = (JSON.parse(out.text()) as { rows: Row[] }).rows;
    expect(rows.map((r) => [r["day"], r["calls"], Number(r["cost_usd"])])).toEqual([["2026-11-10", 2, 3]]);
  });
});

describe("limit", () => {
  it("a-cut-answer-says-so-and-its-total-covers-every-group (API meta, CLI --limit)", async () => {
    const t = Date.UTC(2026, 10, 12, 10) * 1000;
    await insert(
      ["lim-a", "lim-b", "lim-c"].map((team, i) =>
        row({ timestamp: t + i, team, project: "limit-proj", cost_usd: `0.${i + 1}`, list_cost_usd: `0.${i + 1}` }),
      ),
    );
    const q = "from=2026-11-12T00:00:00Z&to=2026-11-13T00:00:00Z&group_by=team&project=limit-proj";
    const cut = await get<{ rows: Row[]; meta: Row }>(`/api/v1/spend?${q}&limit=2`);
    expect(cut.rows.map((r) => r["team"])).toEqual(["lim-c", "lim-b"]);
    expect(cut.meta).toMatchObject({ truncated: true, groups: 3 });
    expect(cut.meta["total"]).toMatchObject({ calls: 3, cost_usd: "0.6", list_cost_usd: "0.6", unpriced_calls: 0 });
    const whole = await get<{ rows: Row[]; meta: Row }>(`/api/v1/spend?${q}`);
    expect(whole.meta).toMatchObject({ truncated: false, groups: 3 });
    expect(whole.meta["total"]).toEqual(cut.meta["total"]);

    const out = capture();
    const err = capture();
    const code = await runSpend(
      [
        "--by",
        "team",
        "--since",
        "2026-11-12T00:00:00Z",
        "--until",
        "2026-11-13T00:00:00Z",
        "--project",
        "limit-proj",
      ].concat(["--limit", "2", "--api-url", url]),
      { stdout: out.stream, stderr: err.stream, now: NOW },
    );
    expect(code, err.text()).toBe(0);
    const text = out.text();
    expect(text).toMatch(/\ntotal\s+3\s+300\s+30\s+\$0\.6000\s+0\n/);
    expect(text).toContain("showing the 2 costliest of 3 groups (--limit); the total covers all of them.");
  });
});

describe("rollup", () => {
  it("a batch replayed with its deduplication token is counted once in llm_calls and in the rollup", async () => {
    const batch = [0, 1, 2].map((i) =>
      row({ timestamp: (Date.UTC(2026, 8, 15, 10) + i) * 1000, team: "replayed", cost_usd: "0.1" }),
    );
    for (let attempt = 0; attempt < 2; attempt++) {
      await collector.storage.client.insert({
        table: `${db}.llm_calls`,
        values: batch,
        format: "JSONEachRow",
        clickhouse_settings: { insert_deduplication_token: "batch-replayed-1", insert_deduplicate: 1 },
      });
    }
    const [raw] = await sql<{ n: number }>(`SELECT count() AS n FROM ${db}.llm_calls WHERE team = 'replayed'`);
    const [rolled] = await sql<{ n: number; c: string }>(
      `SELECT sum(calls) AS n, toString(sum(cost_usd)) AS c FROM ${db}.llm_calls_hourly WHERE team = 'replayed'`,
    );
    expect(raw?.n).toBe(3);
    expect(rolled).toEqual({ n: 3, c: "0.3" });
  });
});

describe("forecast, savings, anomalies", () => {
  it("month-end projection per team: regression for a trend, weighted run rate otherwise", async () => {
    const rows: Row[] = [];
    // growth: $1 on Nov 1, +$1 a day. steady: $2 a day but $6 every 4th day.
    for (let d = 0; d < 20; d++) {
      const ts = (Date.UTC(2026, 10, 1 + d, 6) + 0) * 1000;
      rows.push(row({ timestamp: ts, team: "growth", cost_usd: String(1 + d) }));
      rows.push(row({ timestamp: ts + 1, team: "steady", cost_usd: d % 4 === 3 ? "6" : "2" }));
    }
    // Late October for the trailing window of early November.
    rows.push(row({ timestamp: Date.UTC(2026, 9, 31, 6) * 1000, team: "steady", cost_usd: "2" }));
    await insert(rows);
    const f = await get<MonthForecast>("/api/v1/spend/forecast?month=2026-11&tz=UTC");
    expect(f).toMatchObject({
      month: "2026-11",
      month_start: "2026-11-01T00:00:00.000Z",
      as_of: new Date(NOW).toISOString(),
    });
    const growth = f.teams.find((t) => t.team === "growth");
    const steady = f.teams.find((t) => t.team === "steady");
    // Nov 1..20 (today's $20 included): 1 + ... + 20 = 210.
    expect(growth?.spent_usd).toBe(210);
    expect(growth?.method).toBe("linear_regression");
    expect(growth?.linear_regression?.slope_usd_per_day).toBeCloseTo(1, 6);
    // Line: day x costs 1 + x. Today (x=19) has 11.5/24 left, then days x=20..29 (21..30 USD).
    expect(growth?.projected_usd).toBeCloseTo(210 + 20 * (11.5 / 24) + (21 + 30) * 5, 4);
    expect(steady?.method).toBe("weighted_run_rate_7d");
    // The 7 complete days before today (Nov 13..19), weighted 1..7 toward the newest.
    const days = [12, 13, 14, 15, 16, 17, 18].map((d) => (d % 4 === 3 ? 6 : 2));
    const rate = days.reduce((n, v, i) => n + v * (i + 1), 0) / 28;
    expect(steady?.run_rate.daily_usd).toBeCloseTo(rate, 6);
    expect(steady?.projected_usd).toBeCloseTo((steady?.spent_usd ?? 0) + rate * (10 + 11.5 / 24), 4);
    expect(f.total.spent_usd).toBeGreaterThanOrEqual(210 + (steady?.spent_usd ?? 0));
  });

  it("new-spend-is-projected-at-its-own-rate: spend that started today or two days ago is not flattened by the zero days before it", async () => {
    await insert([
      // Started today (NOW is 12:30 UTC): $10 in the first 12.5 hours.
      row({ timestamp: Date.UTC(2026, 10, 20, 10) * 1000, team: "newbie", cost_usd: "5" }),
      row({ timestamp: Date.UTC(2026, 10, 20, 12) * 1000, team: "newbie", cost_usd: "5" }),
      // Started on the 18th: $10 a day, nothing yet today.
      row({ timestamp: Date.UTC(2026, 10, 18, 9) * 1000, team: "recent", cost_usd: "10" }),
      row({ timestamp: Date.UTC(2026, 10, 19, 9) * 1000, team: "recent", cost_usd: "10" }),
    ]);
    const f = await get<MonthForecast>("/api/v1/spend/forecast?month=2026-11&tz=UTC");
    const newbie = f.teams.find((t) => t.team === "newbie");
    const recent = f.teams.find((t) => t.team === "recent");
    const left = 10 + 11.5 / 24;
    expect(newbie?.method).toBe("run_rate_today");
    expect(newbie?.run_rate.daily_usd).toBeCloseTo(10 / (12.5 / 24), 5);
    expect(newbie?.projected_usd).toBeCloseTo(10 + (10 / (12.5 / 24)) * left, 4);
    expect(recent?.method).toBe("weighted_run_rate_7d");
    expect(recent?.run_rate.daily_usd).toBeCloseTo(10, 6);
    expect(recent?.projected_usd).toBeCloseTo(20 + 10 * left, 4);
  });

  it("savings: proxy cache hits at their would-be cost, prompt caching at input minus cache-read price", async () => {
    const t = Date.UTC(2026, 10, 10, 10) * 1000;
    await insert([
      row({ timestamp: t, team: "cachey", cache_hit: 1, cost_usd: "0.75" }),
      row({ timestamp: t + 1, team: "cachey", cache_hit: 1, cost_usd: "0.25" }),
      row({ timestamp: t + 2, team: "cachey", cache_read_tokens: 1_000_000, input_tokens: 1_200_000, cost_usd: "1" }),
      row({ timestamp: t + 3, team: "cachey", cache_read_tokens: 500, price_id: "gone/model@1", cost_usd: "1" }),
    ]);
    const s = await get<{ rows: Row[] }>("/api/v1/savings?from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z");
    expect(s.rows.find((r) => r["team"] === "cachey")).toEqual({
      team: "cachey",
      cache_hit_calls: 2,
      cache_hit_savings_usd: "1",
      cache_read_tokens: 1_000_500,
      // 1M tokens x ($2 - $0.50) per 1M
      prompt_cache_savings_usd: "1.5",
      unpriced_cache_read_tokens: 500,
      total_savings_usd: "2.5",
    });
    // Cache hits are not spend.
    const spend = await get<{ rows: Row[] }>(
      "/api/v1/spend?from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z&group_by=team&team=cachey",
    );
    expect(spend.rows[0]).toMatchObject({ calls: 4, cost_usd: "2", cache_hit_calls: 2, cache_hit_cost_usd: "1" });
  });

  it("a spend spike against the team and model's own hour-of-week baseline is an anomaly", async () => {
    const rows: Row[] = [];
    for (let k = 1; k <= 4; k++) {
      for (let h = -2; h <= 2; h++) {
        const at = NOW - k * 7 * DAY + h * HOUR - 20 * 60_000;
        rows.push(
          row({ timestamp: at * 1000, team: "spiky", request_model: "m1", cost_usd: (1 + 0.1 * k).toFixed(2) }),
        );
        rows.push(
          row({ timestamp: at * 1000 + 1, team: "calm", request_model: "m1", cost_usd: (1 + 0.1 * h).toFixed(2) }),
        );
      }
    }
    rows.push(row({ timestamp: (NOW - 20 * 60_000) * 1000, team: "spiky", request_model: "m1", cost_usd: "9" }));
    rows.push(row({ timestamp: (NOW - 10 * 60_000) * 1000, team: "calm", request_model: "m1", cost_usd: "1.05" }));
    await insert(rows);
    const { anomalies } = await get<{ anomalies: Row[] }>("/api/v1/spend/anomalies");
    const spiky = anomalies.find((a) => (a["labels"] as Row)["team"] === "spiky");
    const calm = anomalies.find((a) => (a["labels"] as Row)["team"] === "calm");
    expect(spiky).toMatchObject({ labels: { team: "spiky", model: "m1" }, actual_usd: 9 });
    expect(Number(spiky?.["score"])).toBeGreaterThan(3);
    expect(Number(calm?.["score"])).toBeLessThan(3);
    expect(Number(spiky?.["expected_usd"])).toBeGreaterThan(0.5);
  });
});

describe("CLI through the running server's API", () => {
  it("tokenmeter spend --by team,model prints an aligned table with totals", async () => {
    const out = capture();
    const err = capture();
    const code = await runSpend(
      ["--by", "team,model", "--since", "2026-10-01", "--until", "2026-11-01", "--api-url", url],
      { stdout: out.stream, stderr: err.stream, now: NOW },
    );
    expect(err.text()).toBe("");
    expect(code).toBe(0);
    const lines = out.text().split("\n");
    expect(lines[0]).toContain(`(via ${url})`);
    const header = lines[2] ?? "";
    expect(header).toMatch(/^team\s+model\s+calls\s+input_tokens\s+output_tokens\s+cost_usd\s+unpriced$/);
    const rule = lines[3] ?? "";
    expect(rule).toMatch(/^-+( +-+){6}$/);
    // Right-aligned numbers end in the same column as their header.
    const costEnd = header.indexOf("cost_usd") + "cost_usd".length;
    const body = lines.slice(4).filter((l) => /\$/.test(l));
    expect(body.length).toBeGreaterThan(5);
    for (const l of body) expect(l.slice(0, costEnd)).toMatch(/\$[\d,.]+$/);
    expect(out.text()).toMatch(/\ntotal\s/);
  });

  it("tokenmeter reprice --dry-run goes through POST /api/v1/admin/reprice", async () => {
    const out = capture();
    const err = capture();
    const code = await runReprice(
      ["--from", "2026-10-01", "--to", "2026-11-01", "--model", "gpt-test", "--dry-run", "--api-url", url],
      { stdout: out.stream, stderr: err.stream, now: NOW },
    );
    expect(code, err.text()).toBe(0);
    expect(out.text()).toMatch(
      /^dry run: 2026-10-01T00:00:00.000Z -> 2026-11-01T00:00:00.000Z model gpt-test, catalog t:/,
    );
  });
});
