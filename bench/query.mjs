// Query benchmark: seeds 10 million calls spread over the last 30 days into embedded ClickHouse
// (generated inside ClickHouse with INSERT ... SELECT FROM numbers(), so the hourly rollup is
// filled by its materialized view as in production), then times the FinOps read paths over
// those 30 days through the HTTP API: GET /api/v1/spend with several groupings and
// GET /api/v1/budgets. Target: p95 <= 100 ms. Baseline in the same run: the same queries
// forced onto the raw llm_calls table, printed as ratios (raw / rollup).
//
//   npm run bench:query        (BENCH_ROWS=10000000 BENCH_ITERATIONS=60 BENCH_RAW_ITERATIONS=15)
//   BENCH_DIR=/path keeps the seeded data there and reuses it on the next run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { registerBudgetsRoutes } from "../collector/dist/api/budgets-routes.js";
import { installErrorHandler } from "../collector/dist/api/error-handler.js";
import { registerSpendRoutes } from "../collector/dist/api/spend-routes.js";
import { loadConfig } from "../collector/dist/config/load-config.js";
import { ClickHouseBudgetSpend } from "../collector/dist/finops/budget-spend.js";
import { BudgetStatusService } from "../collector/dist/finops/budget-status.js";
import { createFinops } from "../collector/dist/finops/finops.js";
import { createProgressBar } from "../collector/dist/finops/progress-bar.js";
import { FINOPS_MIGRATIONS } from "../collector/dist/finops/schema.js";
import { querySpend } from "../collector/dist/finops/spend.js";
import { openStorage } from "../collector/dist/storage/client.js";
import { MIGRATIONS, migrate } from "../collector/dist/storage/migrations.js";
import { fmt, percentile } from "./lib.mjs";

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000_000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 60);
const RAW_ITERATIONS = Number(process.env.BENCH_RAW_ITERATIONS ?? 15);
const CHUNK = 500_000;
const TARGET_P95_MS = 100;
const DAY_MS = 86_400_000;

const TEAMS = 20;
const MODELS = [
  // provider, model, $ per 1M input, $ per 1M output (the last one has no price: unpriced calls)
  ["openai", "gpt-5.4", 2.5, 15],
  ["openai", "gpt-5.4-mini", 0.75, 4.5],
  ["openai", "gpt-4.1", 2, 8],
  ["anthropic", "claude-sonnet-4-5", 3, 15],
  ["anthropic", "claude-haiku-4-5", 1, 5],
  ["gcp.gemini", "gemini-2.5-pro", 1.25, 10],
  ["gcp.gemini", "gemini-2.5-flash", 0.3, 2.5],
  ["vllm", "llama-local", 0, 0],
];

const keepDir = process.env.BENCH_DIR;
const dir = keepDir ?? mkdtempSync(join(tmpdir(), "tokenmeter-bench-query-"));
const now = Date.now();
const config = loadConfig({
  env: {},
  overrides: {
    server: { logLevel: "silent" },
    storage: { dataDir: join(dir, "data") },
    budgets: {
      timezone: "UTC",
      definitions: [
        { name: "org-monthly", window: "monthly", limitUsd: 500_000 },
        {
          name: "team-00-monthly",
          scope: { team: "team-00" },
          window: "monthly",
          limitUsd: 20_000,
          enforcement: "hard",
        },
        { name: "team-01-weekly", scope: { team: "team-01" }, window: "weekly", limitUsd: 5_000 },
        { name: "team-02-daily", scope: { team: "team-02" }, window: "daily", limitUsd: 1_000 },
        {
          name: "team-03-project-monthly",
          scope: { team: "team-03", project: "p-03-1" },
          window: "monthly",
          limitUsd: 8_000,
        },
        { name: "team-04-rolling-24h", scope: { team: "team-04" }, window: { rolling: "24h" }, limitUsd: 900 },
      ],
    },
  },
});

const storage = await openStorage(config);
const db = storage.database;
const ctx = { database: db, contentRetentionDays: 30, retentionDays: 0 };
await migrate(storage.client, ctx, [...MIGRATIONS, ...FINOPS_MIGRATIONS]);

// ---------------------------------------------------------------------------------------------
// Seed

const arr = (values) => `[${values.join(", ")}]`;
const models = arr(MODELS.map((m) => `'${m[1]}'`));
const providers = arr(MODELS.map((m) => `'${m[0]}'`));
const inRates = arr(MODELS.map((m) => Math.round(m[2] * 1_000_000)));
const outRates = arr(MODELS.map((m) => Math.round(m[3] * 1_000_000)));
const startUs = (now - 30 * DAY_MS) * 1000;
const spanUs = 30 * DAY_MS * 1000;

// Rows in time order, as they arrive in production: each insert covers about a day and a half.
const seedSql = `
INSERT INTO ${db}.llm_calls (timestamp, trace_id, span_id, service, environment, team, project, user_id, source,
  convention, provider, operation, request_model, response_model, input_tokens, output_tokens, cache_read_tokens,
  reasoning_tokens, cost_usd, priced, price_id, duration_ms, status, http_status, cache_hit, tags)
SETTINGS insert_deduplicate = 0, insert_deduplication_token = ''
SELECT
  fromUnixTimestamp64Micro(toInt64(${startUs} + intDiv(number * ${spanUs}, ${ROWS})), 'UTC') AS timestamp,
  lower(leftPad(hex(number), 32, '0')) AS trace_id,
  lower(leftPad(hex(h), 16, '0')) AS span_id,
  'bench-app' AS service,
  'prod' AS environment,
  concat('team-', leftPad(toString(t), 2, '0')) AS team,
  concat('p-', leftPad(toString(t), 2, '0'), '-', toString(bitShiftRight(h, 16) % 3)) AS project,
  concat('user-', toString(bitShiftRight(h, 20) % 5000)) AS user_id,
  'proxy' AS source,
  'otel_genai' AS convention,
  ${providers}[m + 1] AS provider,
  'chat' AS operation,
  ${models}[m + 1] AS request_model,
  ${models}[m + 1] AS response_model,
  200 + bitShiftRight(h, 24) % 4000 AS input_tokens,
  20 + bitShiftRight(h, 36) % 800 AS output_tokens,
  if(bitShiftRight(h, 40) % 4 = 0, intDiv(input_tokens, 2), 0) AS cache_read_tokens,
  0 AS reasoning_tokens,
  if(m = ${MODELS.length - 1}, NULL,
     toDecimal64((input_tokens * ${inRates}[m + 1] + output_tokens * ${outRates}[m + 1]) / 1e12, 9)) AS cost_usd,
  if(m = ${MODELS.length - 1}, 0, 1) AS priced,
  if(m = ${MODELS.length - 1}, '', concat(${providers}[m + 1], '/', ${models}[m + 1], '@bench')) AS price_id,
  50 + bitShiftRight(h, 28) % 3000 AS duration_ms,
  if(bitShiftRight(h, 32) % 50 = 0, 'error', 'ok') AS status,
  if(status = 'error', 500, 200) AS http_status,
  if(bitShiftRight(h, 44) % 50 = 0, 1, 0) AS cache_hit,
  map() AS tags
FROM (SELECT number, cityHash64(number) AS h, h % ${TEAMS} AS t, bitShiftRight(h, 8) % ${MODELS.length} AS m
      FROM numbers({offset:UInt64}, {n:UInt64}))`;

const count = async (sql) =>
  Number((await (await storage.client.query({ query: sql, format: "JSONEachRow" })).json())[0]?.n ?? 0);
const seeded = await count(`SELECT count() AS n FROM ${db}.llm_calls`);
if (seeded !== 0 && seeded !== ROWS)
  throw new Error(`${dir} holds ${seeded} calls, not ${ROWS}: use another BENCH_DIR`);

const bar = createProgressBar(process.stderr);
const seedStart = Date.now();
for (let offset = seeded; offset < ROWS; offset += CHUNK) {
  bar.update("seeding", offset, ROWS, `${fmt((offset / Math.max(1, Date.now() - seedStart)) * 1000)} rows/s`);
  await storage.client.command({
    query: seedSql,
    query_params: { offset, n: Math.min(CHUNK, ROWS - offset) },
  });
}
bar.update("seeding", ROWS, ROWS);
const seedMs = Date.now() - seedStart;
bar.done(
  seeded
    ? `reusing ${fmt(seeded)} calls in ${dir}`
    : `seeded ${fmt(ROWS)} calls in ${fmt(seedMs / 1000, 1)} s (${fmt((ROWS / seedMs) * 1000)} rows/s)`,
);
// Let the merges that follow a bulk load finish, so timings show the steady state.
const settleStart = Date.now();
while (Date.now() - settleStart < 180_000) {
  const merging = await count(`SELECT count() AS n FROM system.merges WHERE database = '${db}'`);
  const mutating = await count(`SELECT count() AS n FROM system.mutations WHERE database = '${db}' AND NOT is_done`);
  bar.update("merging", Math.round((Date.now() - settleStart) / 1000), 180, `${merging} merges, ${mutating} mutations`);
  if (merging === 0 && mutating === 0) break;
  await new Promise((r) => setTimeout(r, 1000));
}
bar.done(`background merges settled after ${fmt((Date.now() - settleStart) / 1000, 1)} s`);
const rawRows = await count(`SELECT count() AS n FROM ${db}.llm_calls`);
const rollupRows = await count(`SELECT count() AS n FROM ${db}.llm_calls_hourly`);
const dailyRows = await count(`SELECT count() AS n FROM ${db}.llm_calls_daily`);
console.log(
  `llm_calls: ${fmt(rawRows)} rows; llm_calls_hourly: ${fmt(rollupRows)} rows; llm_calls_daily: ${fmt(dailyRows)} rows`,
);

// ---------------------------------------------------------------------------------------------
// Server

const finops = await createFinops({ config, storage });
const app = Fastify();
installErrorHandler(app);
registerSpendRoutes(app, { finops, auth: undefined });
registerBudgetsRoutes(app, { finops, auth: undefined });
const base = await app.listen({ host: "127.0.0.1", port: 0 });

async function timeIt(iterations, fn) {
  for (let i = 0; i < 3; i++) await fn(); // warm-up
  const samples = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p95: percentile(samples, 95), max: samples[samples.length - 1] };
}

const httpGet = (path) => async () => {
  const res = await fetch(`${base}${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
};

// The API's default range: the last 30 days from the start of that hour.
const from = Math.floor((Date.now() - 30 * DAY_MS) / 3_600_000) * 3_600_000;
const SPEND_QUERIES = [
  ["spend by team", "team"],
  ["spend by team,model", "team,model"],
  ["spend by provider,model", "provider,model"],
  ["spend by day,team", "day,team"],
  ["spend total", ""],
];
const rawSpend = new ClickHouseBudgetSpend({ client: storage.client, database: db, route: "raw" });
const rawBudgets = new BudgetStatusService({ enforcer: finops.enforcer, spend: rawSpend });

const results = [];
for (const [name, groupBy] of SPEND_QUERIES) {
  const api = await timeIt(ITERATIONS, httpGet(`/api/v1/spend?group_by=${groupBy}`));
  const q = (route) => () =>
    querySpend(storage.client, db, {
      fromUs: from * 1000,
      toUs: Date.now() * 1000,
      openEnded: true,
      groupBy: groupBy ? groupBy.split(",") : [],
      timezone: "UTC",
      route,
    });
  const rollup = await timeIt(ITERATIONS, q("auto"));
  const raw = await timeIt(RAW_ITERATIONS, q("raw"));
  results.push({ name, api, rollup, raw });
}
{
  const api = await timeIt(ITERATIONS, httpGet("/api/v1/budgets"));
  const rollup = await timeIt(ITERATIONS, () => finops.budgets.list(Date.now()));
  const raw = await timeIt(RAW_ITERATIONS, () => rawBudgets.list(Date.now()));
  results.push({ name: `budget status (${config.budgets.definitions.length} budgets)`, api, rollup, raw });
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (n) => `${fmt(n, 1)} ms`;
const rows = results.map((r) => [
  r.name,
  ms(r.api.p50),
  ms(r.api.p95),
  ms(r.rollup.p95),
  ms(r.raw.p95),
  `${fmt(r.raw.p95 / r.rollup.p95, 1)}x`,
]);
const header = ["query (30 days)", "API p50", "API p95", "rollup p95", "raw p95", "raw/rollup"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(`\n${fmt(rawRows)} calls over 30 days; API over HTTP (${ITERATIONS} requests each after warm-up);`);
console.log(`"rollup" / "raw": the same query in process, routed to the rollup vs forced onto llm_calls.\n`);
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
const worst = Math.max(...results.map((r) => r.api.p95));
const pass = worst <= TARGET_P95_MS;
console.log(`\nworst API p95 ${ms(worst)} (target <= ${TARGET_P95_MS} ms): ${pass ? "PASS" : "FAIL"}`);

await app.close();
await finops.close();
await storage.close();
if (!keepDir) rmSync(dir, { recursive: true, force: true });
process.exitCode = pass ? 0 : 1;
