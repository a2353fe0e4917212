// Ingest benchmark: OTLP/protobuf batches of realistic GenAI spans (about 1 KB of prompt and
// completion each), sent from this process to a separate `tokenmeter start` process with
// embedded ClickHouse. Prints sustained spans/s end to end (until every row is in ClickHouse),
// p99 request latency, the server's peak RSS and a loss check, plus a baseline measured in the
// same run: the same rows inserted straight into embedded ClickHouse (no HTTP, decode,
// normalization or pricing), so the ratio shows what the pipeline costs.
//
//   npm run bench:ingest            (BENCH_SECONDS=20 BENCH_CONCURRENCY=8 BENCH_BATCH=500)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Pool } from "undici";
import { cpuSeconds, fmt, freePort, peakRssMiB, percentile, startChild, stopChild, threadCpuSeconds } from "./lib.mjs";

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
    ].join("\n"),
  );
  rmSync(dir, { recursive: true, force: true });
  if (result.lost !== 0 || result.duplicates !== 0) process.exitCode = 1;
}

await main();
