import type { ClickHouseClient } from "@clickhouse/client";
import type { FastifyInstance } from "fastify";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { BatchWriter } from "../storage/batch-writer.js";
import { VERSION } from "../version.js";

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { client: ClickHouseClient; metrics: CollectorMetrics; writer: BatchWriter },
): void {
  app.get("/healthz", async () => ({ status: "ok", version: VERSION }));

  // Ready = ingest is taken. With ClickHouse unreachable the collector still answers OTLP into
  // its disk spool, so it stays ready (an orchestrator that took it out of rotation would push
  // the outage onto every sender); it is not ready when it would refuse ingest: shutting down,
  // or the spool full. Storage reachability and spooling are reported beside.
  app.get("/readyz", async (_request, reply) => {
    let refusal: string | undefined;
    try {
      deps.writer.admit(0);
    } catch (err) {
      refusal = err instanceof Error ? err.message : String(err);
    }
    const ready = refusal === undefined;
    const body = {
      status: ready ? "ready" : "not_ready",
      storage: (await storageAnswers(deps.client)) ? "ok" : "unreachable",
      spooling: deps.writer.degraded,
      queued_rows: deps.writer.queuedRows,
      ...(refusal === undefined ? {} : { reason: refusal }),
    };
    return reply.status(ready ? 200 : 503).send(body);
  });

  app.get("/metrics", async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.header("content-type", deps.metrics.registry.contentType).send(text);
  });
}

/** How long /readyz waits for ClickHouse: a probe must answer even when storage hangs. */
const STORAGE_CHECK_MS = 2000;

async function storageAnswers(client: ClickHouseClient): Promise<boolean> {
  try {
    await client.command({ query: "SELECT 1", abort_signal: AbortSignal.timeout(STORAGE_CHECK_MS) });
    return true;
  } catch {
    return false;
  }
}
