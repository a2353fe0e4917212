import { join } from "node:path";
import cors from "@fastify/cors";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, LogController } from "fastify";
import { createAlertEngine } from "./alerts/engine.js";
import { createNotifiers } from "./alerts/notifiers/create-notifiers.js";
import { loadRules, resolveRulePaths } from "./alerts/rules.js";
import { registerAlertsRoutes } from "./api/alerts-routes.js";
import { bearerAuth } from "./api/auth.js";
import { registerBudgetsRoutes } from "./api/budgets-routes.js";
import { registerCallsRoutes } from "./api/calls-routes.js";
import { installErrorHandler } from "./api/error-handler.js";
import { registerHealthRoutes } from "./api/health-routes.js";
import { registerOtlpRoutes } from "./api/otlp-routes.js";
import { registerScoresRoutes } from "./api/scores-routes.js";
import { registerSpendRoutes } from "./api/spend-routes.js";
import type { Config } from "./config/schema.js";
import { createDefaultStages } from "./default-stages.js";
import { createFinops, type Finops, type FinopsDeps, loadConfiguredPriceBook } from "./finops/finops.js";
import { FINOPS_MIGRATIONS } from "./finops/schema.js";
import { IngestWorkerPool, workerCount } from "./ingest/worker-pool.js";
import type { Logger } from "./logger.js";
import { type CollectorMetrics, createCollectorMetrics } from "./metrics/collector-metrics.js";
import { IngestPipeline, type PipelineStages } from "./pipeline.js";
import { deprioritizeEngineThreads } from "./runtime/thread-priority.js";
import { BatchWriter } from "./storage/batch-writer.js";
import type { StorageClient } from "./storage/client.js";
import { IngestLog } from "./storage/ingest-log.js";
import { insertTable, MIGRATIONS, migrate } from "./storage/migrations.js";
import { applyRetention } from "./storage/retention.js";
import { Spool } from "./storage/spool.js";
import { VERSION } from "./version.js";

export interface CollectorDeps {
  config: Config;
  storage: StorageClient;
  logger: Logger;
  /** Replace stages in tests; defaults to the full set of adapters, pricing and redaction. */
  stages?: PipelineStages;
  metrics?: CollectorMetrics;
  /** FinOps overrides for tests: a fixed clock, a test price book, a counter store. */
  finops?: Pick<FinopsDeps, "clock" | "book" | "store">;
  /** Environment for secrets named in config (notifier keys); read once, here. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface Collector {
  app: FastifyInstance;
  pipeline: IngestPipeline;
  writer: BatchWriter;
  metrics: CollectorMetrics;
  storage: StorageClient;
  config: Config;
  /** Budgets, spend and prices: the proxy takes its budget hook and price book from here. */
  finops: Finops;
  /**
   * Registers what a read must wait for before it writes the pending rows, such as the
   * in-process proxy's sink: a call answered through the proxy is then visible to the next read.
   */
  onBeforeRead(handOver: () => Promise<void>): void;
  /** Drains the writer, closes the HTTP server and storage. */
  close(): Promise<void>;
}

/**
 * Builds the collector: migrations, batch writer (with spool replay), pipeline and HTTP routes.
 * Nothing listens yet; call `app.listen()` or use `app.inject()` in tests.
 */
export async function buildCollector(deps: CollectorDeps): Promise<Collector> {
  const { config, storage, logger } = deps;
  const schema = {
    database: storage.database,
    cluster: config.storage.cluster,
    contentRetentionDays: config.storage.contentRetentionDays,
    retentionDays: config.storage.retentionDays,
  };
  await migrate(storage.client, schema, [...MIGRATIONS, ...FINOPS_MIGRATIONS]);
  // Only the server applies retention: a CLI run with another environment must not change it.
  for (const change of await applyRetention(storage.client, schema)) {
    const shorter = change.toDays !== 0 && (change.fromDays === 0 || change.toDays < change.fromDays);
    logger[shorter ? "warn" : "info"](
      { code: "TM_RETENTION_CHANGED", ...change },
      shorter
        ? `${change.retention} retention of ${change.target} lowered to ${change.toDays} days: older ${change.retention === "rows" ? "rows are deleted" : "content is blanked"} in the background`
        : `${change.retention} retention of ${change.target} set to ${change.toDays === 0 ? "forever" : `${change.toDays} days`}`,
    );
  }
  const metrics = deps.metrics ?? createCollectorMetrics({ maxLabelValues: config.metrics.maxLabelValues });
  const spool = new Spool(config.ingest.spoolDir);
  const writer = new BatchWriter({
    client: storage.client,
    database: storage.database,
    spool,
    ...(config.ingest.ackAfter === "log"
      ? { log: new IngestLog(join(config.ingest.spoolDir, "log"), { fsync: config.ingest.logFsync }) }
      : {}),
    insertTable: (table) => insertTable(config.storage.cluster, table),
    maxRows: config.ingest.batchMaxRows,
    maxDelayMs: config.ingest.batchMaxDelayMs,
    maxQueueRows: config.ingest.maxQueueRows,
    maxBatchBytes: config.ingest.batchMaxBytes,
    maxQueueBytes: config.ingest.maxQueueBytes,
    maxSpoolBytes: config.ingest.maxSpoolBytes,
    metrics,
    logger,
  });
  await writer.start();
  // One catalog load at start, shared by the inline stages and FinOps (unless given its own).
  const book = loadConfiguredPriceBook(config);
  metrics.buildInfo.set({ version: VERSION, price_book: book.catalogVersion, nodejs: process.version }, 1);
  const stages = deps.stages ?? createDefaultStages(config, book);
  const nWorkers = deps.stages ? 0 : workerCount(config.ingest.workers);
  const workers = nWorkers > 0 ? new IngestWorkerPool(nWorkers, config, logger) : undefined;
  const pipeline = new IngestPipeline({ config, writer, metrics, logger, stages, workers });
  // The embedded engine's inserts and merges are background work too (a server is its own process).
  const stopDeprioritizing =
    storage.backend === "embedded" ? deprioritizeEngineThreads(config.ingest.backgroundNice) : () => {};

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request logs would cost more than the ingest itself; errors are logged where they occur.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // OTLP exporters keep connections open between exports.
    keepAliveTimeout: 65_000,
    // Senders configured with `…/v1/traces/` or a doubled slash reach the same route.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
  });
  const origins = config.server.corsOrigins;
  if (origins.length > 0) {
    // Before the routes, so its hooks apply to every one of them.
    await app.register(cors, {
      origin: origins.includes("*") ? "*" : [...origins],
      methods: ["GET", "POST"],
      allowedHeaders: ["content-type", "content-encoding", "authorization"],
      maxAge: 600,
    });
  }
  installErrorHandler(app);
  registerHealthRoutes(app, { client: storage.client, metrics, writer });
  await registerOtlpRoutes(app, {
    pipeline,
    metrics,
    maxBodyBytes: config.ingest.maxBodyBytes,
    auth: bearerAuth(config.server.ingestToken),
    logger: logger.child({ component: "ingest" }),
  });
  const apiAuth = bearerAuth(config.server.apiToken);
  // Reads see every acknowledged row: rows still batching for ClickHouse are written first.
  const beforeRead: Array<() => Promise<void>> = [];
  const readAuth = async (request: FastifyRequest): Promise<void> => {
    await apiAuth?.(request);
    if (request.method === "GET") {
      // Rows still on their way inside this process (the in-process proxy's calls) first.
      for (const handOver of beforeRead) await handOver();
      await writer.flush();
    }
  };
  registerCallsRoutes(app, { client: storage.client, database: storage.database, auth: readAuth });
  registerScoresRoutes(app, { writer, client: storage.client, database: storage.database, auth: readAuth });

  const finops = await createFinops({
    config,
    storage,
    logger: logger.child({ component: "finops" }),
    book,
    ...deps.finops,
  });
  // Rebuilds budget counters from ClickHouse before the proxy can reserve against them.
  await finops.start();
  registerSpendRoutes(app, { finops, auth: readAuth });
  registerBudgetsRoutes(app, { finops, auth: readAuth });

  const { rulesGlob } = config.alerts;
  // A pattern matching no file is not an error (budgets bring rules of their own), but the
  // default pattern is relative to the working directory: started elsewhere, the server would
  // evaluate none of the shipped rules and say nothing, while `alerts check` fails on it.
  if (config.alerts.enabled && resolveRulePaths([rulesGlob]).length === 0) {
    logger.warn(
      { code: "TM_ALERT_RULES_NOT_FOUND", rulesGlob, cwd: process.cwd() },
      "alerts.rulesGlob matches no rule file: no alert rules from files are evaluated",
    );
  }
  const alertEngine = createAlertEngine({
    client: storage.client,
    database: storage.database,
    rules: config.alerts.enabled ? [...loadRules(rulesGlob), ...finops.alertRules] : [],
    budgets: finops.budgets,
    anomalies: finops.anomalies,
    notifiers: createNotifiers(config.alerts.notifiers, deps.env ?? {}),
    logger: logger.child({ component: "alerts" }),
    intervalMs: config.alerts.intervalMs,
    externalUrl: config.alerts.externalUrl,
    drift: config.alerts.drift,
    maxSeriesPerRule: config.alerts.maxSeriesPerRule,
  });
  // Alerts are read from the engine's memory, not from ClickHouse: nothing to write first.
  registerAlertsRoutes(app, { engine: alertEngine, auth: apiAuth });
  if (config.alerts.enabled) await alertEngine.start();

  let closed = false;
  return {
    app,
    pipeline,
    writer,
    metrics,
    storage,
    config,
    finops,
    onBeforeRead(handOver) {
      beforeRead.push(handOver);
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await alertEngine.close();
      await finops.close();
      await workers?.close();
      stopDeprioritizing();
      await writer.close();
      await storage.close();
    },
  };
}
