import type { ClickHouseClient } from "@clickhouse/client";
import type { FastifyInstance } from "fastify";
import type { CollectorMetrics } from "../metrics/collector-metrics.js";
import type { BatchWriter } from "../storage/batch-writer.js";

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { client: ClickHouseClient; metrics: CollectorMetrics; writer: BatchWriter },
): void {
  app.get("/healthz", async () => ({ status: "ok" }));

  // Ready = storage answers. A degraded writer (spooling) is reported but still ready: ingest
  // keeps accepting into the spool.
  app.get("/readyz", async (_request, reply) => {
    let storage = "ok";
    try {
      await deps.client.command({ query: "SELECT 1" });
    } catch {
      storage = "unreachable";
    }
    const body = {
      status: storage === "ok" ? "ready" : "not_ready",
      storage,
      spooling: deps.writer.degraded,
      queued_rows: deps.writer.queuedRows,
    };
    return reply.status(storage === "ok" ? 200 : 503).send(body);
  });

  app.get("/metrics", async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.header("content-type", deps.metrics.registry.contentType).send(text);
  });
}
