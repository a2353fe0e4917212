// Ingest benchmark: OTLP/protobuf batches of realistic GenAI spans (about 1 KB of prompt and
// completion each), sent from this process to a separate `tokenmeter start` process with
// embedded ClickHouse. Prints sustained spans/s end to end (until every row is in ClickHouse),
// p99 request latency, the server's peak RSS and a loss check, plus a baseline measured in the
// same run: the same rows inserted straight into embedded ClickHouse (no HTTP, decode,
// normalization or pricing), so the ratio shows what the pipeline costs.
//
// Then the two floors the end-to-end figure stands on, each measured alone: the CPU part of
// ingest (decode, normalize, price, redact, evaluate, serialize) on one warm thread, and the
// storage part (the pipeline's own rows for the same spans, inserted into the real schema by
// the collector's batch writer; every thread of the engine counted). Their sum is the CPU a span
// needs with HTTP, the ingest log and the thread hand-off for free, so 2 cores / that sum is
// the most this design can reach on the machine.
//
//   npm run bench:ingest            (BENCH_SECONDS=20 BENCH_CONCURRENCY=8 BENCH_BATCH=500)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Pool } from "undici";
import { cpuSeconds, fmt, freePort, peakRssMiB, percentile, startChild, stopChild, threadCpuSeconds } from "./lib.mjs";

const SELF = fileURLToPath(import.meta.url);
const DIST = new URL("../collector/dist/", import.meta.url);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const TARGET = 30_000;

const PROMPT =
  "You are a support assistant for an online store. Answer briefly and cite the order policy when relevant. " +
  "Customer: I ordered a pair of running shoes last Tuesday, order number 8812-5530, and the tracking page has " +
  "not changed for three days. Can you tell me whether the parcel is lost and what my options are for a refund " +
  "or a replacement? I also want to know if I can change the delivery address to my office downtown.";
const COMPLETION =
  "I checked order 8812-5530: the parcel left the regional hub yesterday and tracking updates lag by up to " +
  "72 hours, so it is not lost. It should arrive within two business days. If it has not arrived by Friday you " +
  "can choose a full refund or a free replacement under our delivery guarantee. The address can still be changed.";

const MODELS = [
  ["openai", "gpt-4o-mini"],
  ["openai", "gpt-4.1"],
  ["anthropic", "claude-sonnet-4-5"],
  ["gcp.gemini", "gemini-2.5-flash"],
];
const TEAMS = ["payments", "search", "support", "growth"];

/** One request template: BATCH spans with known trace ids, serialized by the official OTLP serializer. */
function buildTemplate() {
  let n = 0;
  const traceIds = [];
  const idGenerator = {
    generateTraceId() {
      const id = `00000000${(++n).toString(16).padStart(8, "0")}${"ab".repeat(8)}`;
      traceIds.push(id);
      return id;
    },
    generateSpanId() {
      return (n * 2 + 1).toString(16).padStart(16, "0");
    },
  };
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    idGenerator,
    resource: resourceFromAttributes({ "service.name": "bench-app", "deployment.environment.name": "bench" }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer("bench");
  const now = Date.now();
  for (let i = 0; i < BATCH; i++) {
    const [prov, model] = MODELS[i % MODELS.length];
    const span = tracer.startSpan(`chat ${model}`, {
      kind: 2,
      startTime: now - 2000 + i,
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": prov,
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.response.id": `resp-${i}`,
        "gen_ai.request.temperature": 0.3,
        "gen_ai.request.max_tokens": 800,
        "gen_ai.usage.input_tokens": 800 + (i % 200),
        "gen_ai.usage.output_tokens": 150 + (i % 50),
        "gen_ai.usage.cache_read.input_tokens": i % 3 === 0 ? 512 : 0,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.response.time_to_first_chunk": 0.2 + (i % 10) / 100,
        "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: PROMPT }] }]),
        "gen_ai.output.messages": JSON.stringify([
          { role: "assistant", parts: [{ type: "text", content: COMPLETION }], finish_reason: "stop" },
        ]),
        "gen_ai.conversation.id": `conv-${i % 97}`,
        "user.id": `user-${i % 311}`,
        "tokenmeter.team": TEAMS[i % TEAMS.length],
        "tokenmeter.project": "storefront",
      },
    });
    span.end(now - 1000 + i);
  }
  const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans()));
  // Where each trace id sits in the body: requests overwrite the first 4 bytes with a counter.
  const offsets = traceIds.map((id) => {
    const at = body.indexOf(Buffer.from(id, "hex"));
    if (at < 0) throw new Error("trace id not found in template");
    return at;
  });
  return { body, offsets };
}

function bodyFor(template, requestNo) {
  const b = Buffer.from(template.body);
  for (const at of template.offsets) b.writeUInt32BE(requestNo, at);
  return b;
}

async function metric(base, name, label) {
  const res = await fetch(`${base}/metrics`);
  const text = await res.text();
  const re = new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} ([0-9.e+]+)$`, "m");
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Baseline: the same number of rows, inserted straight into embedded ClickHouse, in a child process. */
async function baseline(rows) {
  const dir = mkdtempSync(join(tmpdir(), "tm-bench-base-"));
  const script = `
    const { createClient } = require("@clickhouse/client");
    const { createChdbConnection } = require("chdb/connection");
    (async () => {
      const client = createClient({ connection: createChdbConnection({ path: ${JSON.stringify(join(dir, "data"))} }) });
      await client.command({ query: "CREATE TABLE t (timestamp DateTime64(6), trace_id String, span_id String, team LowCardinality(String), request_model LowCardinality(String), input_tokens UInt64, output_tokens UInt64, cost_usd Nullable(Decimal(18,9)), input String CODEC(ZSTD(3)), output String CODEC(ZSTD(3)), tags Map(LowCardinality(String), String)) ENGINE = MergeTree ORDER BY (team, timestamp)" });
      const input = JSON.stringify([{ role: "user", parts: [{ type: "text", content: ${JSON.stringify(PROMPT)} }] }]);
      const output = JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: ${JSON.stringify(COMPLETION)} }] }]);
      const total = ${rows};
      const cpu0 = process.cpuUsage();
      const started = performance.now();
      for (let done = 0; done < total; done += 20000) {
        const batch = [];
        for (let i = done; i < Math.min(total, done + 20000); i++) batch.push({ timestamp: 1790000000000000 + i, trace_id: i.toString(16).padStart(32, "0"), span_id: i.toString(16).padStart(16, "0"), team: "t" + (i % 4), request_model: "gpt-4o-mini", input_tokens: 800, output_tokens: 150, cost_usd: "0.000123", input, output, tags: {} });
        await client.insert({ table: "t", values: batch, format: "JSONEachRow" });
      }
      const secs = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpu0);
      process.stdout.write(JSON.stringify({ rowsPerSec: total / secs, cpuUsPerRow: (cpu.user + cpu.system) / total }));
      await client.close();
    })();`;
  const { execFileSync } = await import("node:child_process");
  const out = execFileSync(process.execPath, ["-e", script], { encoding: "utf8", cwd: process.cwd() });
  rmSync(dir, { recursive: true, force: true });
  return JSON.parse(out);
}

/** The production batch processor, configured as `tokenmeter start` configures it by default. */
async function defaultProcessor(env = {}) {
  const { loadConfig } = await import(new URL("config/load-config.js", DIST).href);
  const { createBatchProcessor } = await import(new URL("ingest/process-batch.js", DIST).href);
  const { createDefaultStages } = await import(new URL("default-stages.js", DIST).href);
  const config = loadConfig({ env });
  return { config, processor: createBatchProcessor(config, createDefaultStages(config)) };
}

/** Floor 1: the CPU part of ingest for one request body, on this thread, warm. µs per span. */
async function processingFloor(template) {
  const { processor } = await defaultProcessor();
  const bodies = Array.from({ length: 20 }, (_, i) => bodyFor(template, i + 1));
  const run = (n) => {
    for (let i = 0; i < n; i++) processor.traces(bodies[i % bodies.length], "application/x-protobuf", undefined);
  };
  run(100);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const t0 = process.cpuUsage();
    run(200);
    const used = process.cpuUsage(t0);
    best = Math.min(best, (used.user + used.system) / (200 * BATCH));
  }
  return best;
}

/**
 * Floor 2 (run as a child process, it owns a fresh embedded ClickHouse): the pipeline's own rows
 * for `total` spans, in batches of batchMaxRows per table, one table after the other, inserted
 * by the collector's batch writer into the schema the collector migrates. Prints the process's
 * CPU per span, all threads.
 */
async function runStorageFloor(dir, total) {
  const { openStorage } = await import(new URL("storage/client.js", DIST).href);
  const { insertTable, migrate, MIGRATIONS } = await import(new URL("storage/migrations.js", DIST).href);
  const { FINOPS_MIGRATIONS } = await import(new URL("finops/schema.js", DIST).href);
  const { BatchWriter } = await import(new URL("storage/batch-writer.js", DIST).href);
  const { Spool } = await import(new URL("storage/spool.js", DIST).href);
  const { config, processor } = await defaultProcessor({ TOKENMETER_DATA_DIR: dir });
  const storage = await openStorage(config);
  await migrate(storage.client, { database: storage.database, contentRetentionDays: 0, retentionDays: 0 }, [
    ...MIGRATIONS,
    ...FINOPS_MIGRATIONS,
  ]);
  // One writer cycle of rows; every cycle reuses it with the ids' first hex digits changed.
  const template = buildTemplate();
  const perCycle = Math.max(1, Math.floor(config.ingest.batchMaxRows / BATCH));
  const tables = { spans: { text: "", rows: 0 }, llm_calls: { text: "", rows: 0 }, scores: { text: "", rows: 0 } };
  for (let i = 1; i <= perCycle; i++) {
    const out = processor.traces(bodyFor(template, i), "application/x-protobuf", undefined);
    for (const [t, chunk] of Object.entries(tables)) {
      chunk.text += out[t].text;
      chunk.rows += out[t].rows;
    }
  }
  const cycles = Math.max(1, Math.ceil(total / (perCycle * BATCH)));
  // Every cycle's text is made before the clock starts, and the heap collected, so the figure
  // holds no JavaScript work of this bench: only ClickHouse's own pools, libuv's pool (where each
  // query, the insert's parsing included, runs), this thread's calls into the engine, and the
  // merges the inserts cause.
  const batches = [];
  for (let c = 1; c <= cycles; c++) {
    const prefix = `\t${c.toString(16).padStart(6, "0")}`;
    for (const [table, { text, rows }] of Object.entries(tables)) {
      if (rows > 0) batches.push([table, text.replaceAll("\t000000", prefix), rows]);
    }
  }
  // The collector's own batch writer inserts them (without the ingest log, a write resolves once
  // its batch is in ClickHouse), one batch at a time.
  const { ingest } = config;
  const writer = new BatchWriter({
    client: storage.client,
    database: storage.database,
    spool: new Spool(join(dir, "..", "spool")),
    insertTable: (table) => insertTable(config.storage.cluster, table),
    maxRows: ingest.batchMaxRows,
    maxDelayMs: ingest.batchMaxDelayMs,
    maxQueueRows: ingest.maxQueueRows,
    maxSpoolBytes: ingest.maxSpoolBytes,
  });
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 1000));
  const cpu0 = cpuSeconds(process.pid);
  for (const [table, text, rows] of batches) {
    await writer.writeText(table, text, rows);
    await writer.flush();
  }
  // The merges these inserts cause are part of storing them: wait until none has run for a second.
  for (let quiet = 0, waited = 0; quiet < 4 && waited < 120; waited++) {
    const rs = await storage.client.query({ query: "SELECT count() AS n FROM system.merges", format: "JSONEachRow" });
    const [{ n }] = await rs.json();
    quiet = Number(n) === 0 ? quiet + 1 : 0;
    await new Promise((r) => setTimeout(r, 250));
  }
  const spans = cycles * perCycle * BATCH;
  const used = cpuSeconds(process.pid) - cpu0;
  process.stdout.write(JSON.stringify({ spans, cpuUsPerSpan: (used * 1e6) / spans }));
  await writer.close();
  await storage.close();
}

async function storageFloor(total) {
  const dir = mkdtempSync(join(tmpdir(), "tm-bench-floor-"));
  try {
    const { execFileSync } = await import("node:child_process");
    const out = execFileSync(
      process.execPath,
      ["--expose-gc", SELF, "storage-floor", join(dir, "data"), String(total)],
      {
        encoding: "utf8",
      },
    );
    return JSON.parse(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "tm-bench-ingest-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startChild(
    // BENCH_SERVER_NODE_FLAGS="--cpu-prof" profiles the server.
    [...(process.env.BENCH_SERVER_NODE_FLAGS?.split(" ").filter(Boolean) ?? []), "collector/dist/cli/main.js", "start"],
    {
      TOKENMETER_DATA_DIR: join(dir, "data"),
      TOKENMETER_SPOOL_DIR: join(dir, "spool"),
      TOKENMETER_COLLECTOR_PORT: String(port),
      TOKENMETER_PROXY_PORT: String(await freePort()),
      TOKENMETER_LOG_LEVEL: "warn",
    },
    async () => (await fetch(`${base}/readyz`)).ok,
  );

  const template = buildTemplate();
  console.log(
    `ingest bench: ${BATCH} spans/request (${fmt(template.body.length / BATCH)} B/span protobuf), ${CONCURRENCY} in flight, ${SECONDS}s`,
  );
  const pool = new Pool(base, { connections: CONCURRENCY, pipelining: 1 });
  const cpuBefore = cpuSeconds(server.pid);
  const threadsBefore = threadCpuSeconds(server.pid);
  const latencies = [];
  let requestNo = 0;
  let acked = 0;
  let refused = 0;
  const started = performance.now();
  const stopAt = started + SECONDS * 1000;
  async function worker() {
    while (performance.now() < stopAt) {
      const body = bodyFor(template, ++requestNo);
      const t0 = performance.now();
      const res = await pool.request({
        method: "POST",
        path: "/v1/traces",
        headers: { "content-type": "application/x-protobuf" },
        body,
      });
      await res.body.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (res.statusCode === 200) acked += BATCH;
      else {
        refused++;
        const wait = Number(res.headers["retry-after"] ?? 1);
        await new Promise((r) => setTimeout(r, Math.min(wait, 1) * 100));
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const sendSecs = (performance.now() - started) / 1000;
  // End to end: wait until ClickHouse has every acknowledged call.
  let written = 0;
  while (written < acked) {
    written = await metric(base, "tokenmeter_rows_written_total", 'table="llm_calls"');
    if (written < acked) await new Promise((r) => setTimeout(r, 100));
    if ((performance.now() - started) / 1000 > SECONDS * 4) break;
  }
  const e2eSecs = (performance.now() - started) / 1000;
  const serverCpu = cpuSeconds(server.pid) - cpuBefore;
  const threadsAfter = threadCpuSeconds(server.pid);
  const peak = peakRssMiB(server.pid);
  await pool.close();
  await stopChild(server);

  // Loss check on the stored data itself, with the server stopped (the directory is free again).
  const { createClient } = await import("@clickhouse/client");
  const { createChdbConnection } = await import("chdb/connection");
  const client = createClient({ connection: createChdbConnection({ path: join(dir, "data") }) });
  const rs = await client.query({
    query: "SELECT count() AS n, uniqExact(trace_id, span_id) AS u FROM tokenmeter.llm_calls",
    format: "JSONEachRow",
  });
  const [{ n, u }] = await rs.json();
  await client.close();

  const sorted = latencies.sort((a, b) => a - b);
  const spansPerSec = Number(n) / e2eSecs;
  console.log(`baseline: raw ClickHouse insert of the same row count (no HTTP/decode/normalize/price)...`);
  const { rowsPerSec: base_, cpuUsPerRow: baseCpu } = await baseline(Number(n) || acked);
  console.log("floors: the CPU part on one warm thread, then the storage part alone...");
  const processingUs = await processingFloor(template);
  const storage = await storageFloor(Math.min(Number(n) || acked, 100_000));
  const designCap = 2e6 / (processingUs + storage.cpuUsPerSpan);
  const result = {
    spans_acked: acked,
    rows_stored: Number(n),
    unique_rows: Number(u),
    lost: acked - Number(u),
    duplicates: Number(n) - Number(u),
    refused_requests_429_503: refused,
    send_seconds: sendSecs,
    end_to_end_seconds: e2eSecs,
    sustained_spans_per_sec: spansPerSec,
    request_p50_ms: percentile(sorted, 50),
    request_p99_ms: percentile(sorted, 99),
    server_peak_rss_mib: peak,
    server_cpu_seconds: serverCpu,
    server_cpu_us_per_span: (serverCpu * 1e6) / Math.max(1, Number(n)),
    server_cpu_us_per_span_by_thread: Object.fromEntries(
      Object.entries(threadsAfter)
        .map(([name, secs]) => [name, ((secs - (threadsBefore[name] ?? 0)) * 1e6) / Math.max(1, Number(n))])
        .filter(([, us]) => us >= 0.5)
        .sort((a, b) => b[1] - a[1])
        .map(([name, us]) => [name, Math.round(us * 10) / 10]),
    ),
    baseline_raw_insert_rows_per_sec: base_,
    baseline_raw_insert_cpu_us_per_row: baseCpu,
    floor_processing_cpu_us_per_span: processingUs,
    floor_storage_cpu_us_per_span: storage.cpuUsPerSpan,
    floor_storage_spans: storage.spans,
    design_cap_spans_per_sec_2_cores: designCap,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    [
      "",
      `sustained end to end : ${fmt(spansPerSec)} spans/s (target ${fmt(TARGET)}: ${spansPerSec >= TARGET ? "met" : "NOT met"})`,
      `vs baseline          : ${fmt(spansPerSec / base_, 2)}x of raw embedded-ClickHouse insert (${fmt(base_)} rows/s, ${fmt(baseCpu, 1)} µs CPU per row: storing one call row alone caps 2 cores at ${fmt(2e6 / baseCpu)} rows/s)`,
      `request latency      : p50 ${fmt(result.request_p50_ms, 1)} ms, p99 ${fmt(result.request_p99_ms, 1)} ms`,
      `server peak RSS      : ${fmt(peak)} MiB`,
      `server CPU per span  : ${fmt(result.server_cpu_us_per_span, 1)} µs (all threads, ClickHouse included) -> ${fmt(2e6 / result.server_cpu_us_per_span)} spans/s if it had both cores to itself`,
      `loss                 : ${result.lost} lost, ${result.duplicates} duplicated of ${fmt(acked)} acknowledged`,
      `floors, each alone   : processing ${fmt(processingUs, 1)} µs/span (one warm thread) + storage ${fmt(storage.cpuUsPerSpan, 1)} µs/span (the pipeline's rows into the real schema, all threads)`,
      `design cap           : ${fmt(designCap)} spans/s on 2 cores if HTTP, the ingest log and the thread hand-off cost nothing (end to end reached ${fmt(spansPerSec / designCap, 2)}x of it)`,
    ].join("\n"),
  );
  rmSync(dir, { recursive: true, force: true });
  if (result.lost !== 0 || result.duplicates !== 0) process.exitCode = 1;
}

const [role, ...args] = process.argv.slice(2);
if (role === "storage-floor") await runStorageFloor(args[0], Number(args[1]));
else await main();
