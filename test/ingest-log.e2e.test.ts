import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCollectorMetrics } from "../collector/src/metrics/collector-metrics.js";
import { BatchWriter } from "../collector/src/storage/batch-writer.js";
import type { StorageClient } from "../collector/src/storage/client.js";
import { IngestLog, parseSegment } from "../collector/src/storage/ingest-log.js";
import { migrate } from "../collector/src/storage/migrations.js";
import { encodeRows, tableLayout } from "../collector/src/storage/row-format.js";
import type { ScoreRow } from "../collector/src/storage/rows.js";
import { Spool } from "../collector/src/storage/spool.js";
import { scoreRow } from "../collector/src/storage/test-row.js";
import { intAttr, otlpJsonTraces, strAttr } from "./helpers/collector.js";
import { embeddedStorage, tempDir } from "./helpers/embedded.js";
import { freePort } from "./helpers/net.js";

// The ingest log: ingest answers once rows are on disk, inserts are large, and what a dead
// process acknowledged is stored at the next start, exactly once.

let storage: StorageClient;
const db = "t_ingest_log";

beforeAll(async () => {
  ({ storage } = await embeddedStorage());
  await migrate(storage.client, { database: db, contentRetentionDays: 30, retentionDays: 0 });
});

afterAll(async () => {
  await storage.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
});

const score = (i: number): ScoreRow => scoreRow(i, "log");

async function scoreCount(): Promise<number> {
  const rs = await storage.client.query({
    query: `SELECT count() AS n FROM ${db}.scores WHERE score_id LIKE 'log-%'`,
    format: "JSONEachRow",
  });
  return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
}

const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith(".tmlog"));

function loggedWriter(
  logDir: string,
  metrics = createCollectorMetrics({ maxLabelValues: 10, defaultMetrics: false }),
): BatchWriter {
  return new BatchWriter({
    client: storage.client,
    database: db,
    spool: new Spool(tempDir("tm-spool-")),
    log: new IngestLog(logDir),
    maxRows: 1000,
    maxDelayMs: 60_000,
    maxQueueRows: 10_000,
    maxSpoolBytes: 1024 * 1024,
    metrics,
  });
}

describe("ingest log (in process)", () => {
  it("writes-are-acknowledged-once-logged-and-inserted-later-as-one-batch", async () => {
    await storage.client.command({ query: `TRUNCATE TABLE ${db}.scores` });
    const dir = tempDir("tm-log-");
    const metrics = createCollectorMetrics({ maxLabelValues: 10, defaultMetrics: false });
    const writer = loggedWriter(dir, metrics);
    await writer.start();
    for (let r = 0; r < 3; r++) {
      await writer.write(
        "scores",
        Array.from({ length: 5 }, (_, i) => score(r * 5 + i)),
      );
    }
    // Acknowledged, not yet inserted: the rows are in the log.
    expect(await scoreCount()).toBe(0);
    const files = segments(dir);
    expect(files).toHaveLength(1);
    const logged = parseSegment(readFileSync(join(dir, files[0] as string)));
    expect(logged.map((b) => [b.table, b.rows])).toEqual([["scores", 15]]);

    await writer.flush();
    expect(await scoreCount()).toBe(15);
    expect(segments(dir)).toEqual([]);
    // One insert for the three writes.
    const batches = (await metrics.registry.getSingleMetric("tokenmeter_batch_rows")?.get())?.values as
      | Array<{ value: number; metricName?: string }>
      | undefined;
    expect(batches?.find((v) => v.metricName === "tokenmeter_batch_rows_count")?.value).toBe(1);
    await writer.close();
  });

  it("a torn last record (the process died mid-write) is ignored on replay", () => {
    const layout = tableLayout("scores");
    const body = encodeRows("scores", [score(1)]);
    const header = JSON.stringify({ table: "scores", rows: 1, bytes: Buffer.byteLength(body), layout });
    const full = `${header}\n${body}`;
    const torn = `${header}\n${body.slice(0, 20)}`;
    const parsed = parseSegment(Buffer.from(full + full + torn));
    expect(parsed).toEqual([{ table: "scores", rows: 2, layout, part: 0, text: body + body }]);
  });

  it("a-segment-left-by-a-version-that-wrote-JSONEachRow-is-replayed-as-such", async () => {
    await storage.client.command({ query: `TRUNCATE TABLE ${db}.scores` });
    const dir = tempDir("tm-log-");
    // Headers without a layout, rows as objects: what versions before compact rows logged.
    const record = (rows: ScoreRow[]) => {
      const body = rows.map((r) => `${JSON.stringify(r)}\n`).join("");
      return `${JSON.stringify({ table: "scores", rows: rows.length, bytes: Buffer.byteLength(body) })}\n${body}`;
    };
    writeFileSync(
      join(dir, "000000000000001-old-00000001.tmlog"),
      record([score(300), score(301)]) + record([score(302)]),
    );
    const writer = loggedWriter(dir);
    await writer.start();
    expect(await scoreCount()).toBe(3);
    expect(segments(dir)).toEqual([]);
    await writer.close();
  });

  it("a segment replayed after its batch was already inserted is not stored twice", async () => {
    await storage.client.command({ query: `TRUNCATE TABLE ${db}.scores` });
    const dir = tempDir("tm-log-");
    const first = loggedWriter(dir);
    await first.start();
    await first.write(
      "scores",
      Array.from({ length: 4 }, (_, i) => score(100 + i)),
    );
    // Keep a copy of the segment as a crash between the insert and the delete would leave it.
    const [name] = segments(dir);
    const kept = join(tempDir("tm-log-copy-"), name as string);
    copyFileSync(join(dir, name as string), kept);
    await first.close();
    expect(await scoreCount()).toBe(4);
    copyFileSync(kept, join(dir, name as string));

    const second = loggedWriter(dir);
    await second.start();
    expect(segments(dir)).toEqual([]);
    expect(await scoreCount()).toBe(4);
    await second.close();
  });
});

// ---------------------------------------------------------------------------------------------
// A real collector process, killed with SIGKILL after answering 200.

async function startCollector(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["collector/dist/cli/main.js", "start"], {
    env: {
      ...process.env,
      ...env,
      TOKENMETER_COLLECTOR_PORT: String(port),
      TOKENMETER_PROXY_PORT: String(await freePort()),
      TOKENMETER_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`collector exited early: ${stderr}`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, url };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`collector not ready: ${stderr}`);
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

const TRACE = "5b8efff798038103d269b633813fc60c";

function callSpan(i: number) {
  const t = 1_790_000_000_000_000_000n + BigInt(i) * 1_000_000n;
  return {
    traceId: TRACE,
    spanId: `00000000000000${String(i).padStart(2, "0")}`,
    name: "chat gpt-4o",
    kind: 3,
    startTimeUnixNano: String(t),
    endTimeUnixNano: String(t + 500_000_000n),
    attributes: [
      strAttr("gen_ai.operation.name", "chat"),
      strAttr("gen_ai.provider.name", "openai"),
      strAttr("gen_ai.request.model", "gpt-4o"),
      intAttr("gen_ai.usage.input_tokens", 100 + i),
      intAttr("gen_ai.usage.output_tokens", 10),
      strAttr("tokenmeter.team", "crash-test"),
    ],
  };
}

describe("ingest log (collector process)", () => {
  it("process-killed-after-200-loses-nothing: rows are stored at the next start, exactly once", async () => {
    const dir = tempDir("tm-log-proc-");
    const configFile = join(dir, "tokenmeter.yaml");
    // Batches would wait ten minutes: nothing reaches ClickHouse before the kill.
    writeFileSync(configFile, "ingest:\n  batchMaxDelayMs: 600000\n  batchMaxRows: 100000\n");
    const env = {
      TOKENMETER_CONFIG: configFile,
      TOKENMETER_DATA_DIR: join(dir, "data"),
      TOKENMETER_SPOOL_DIR: join(dir, "spool"),
    };

    const first = await startCollector(env);
    try {
      for (const spans of [[callSpan(1), callSpan(2)], [callSpan(3)]]) {
        const res = await fetch(`${first.url}/v1/traces`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(otlpJsonTraces("crash-app", spans)),
        });
        expect(res.status).toBe(200);
      }
    } finally {
      await stop(first.child, "SIGKILL");
    }
    const logDir = join(dir, "spool", "log");
    expect(segments(logDir)).toHaveLength(1);

    const second = await startCollector(env);
    try {
      expect(segments(logDir)).toEqual([]);
      const res = await fetch(`${second.url}/api/v1/calls?team=crash-test&limit=10`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { calls: Array<{ span_id: string; input_tokens: number }> };
      expect(body.calls.map((c) => [c.span_id, Number(c.input_tokens)]).sort()).toEqual([
        ["0000000000000001", 101],
        ["0000000000000002", 102],
        ["0000000000000003", 103],
      ]);
    } finally {
      await stop(second.child, "SIGTERM");
    }
  }, 120_000);
});
