import { buildCollector } from "../app.js";
import { loadConfig } from "../config/load-config.js";
import { listenError } from "../errors.js";
import { inProcessSink } from "../in-process-sink.js";
import { createLogger } from "../logger.js";
import { startProxy } from "../proxy/index.js";
import { openStorage } from "../storage/client.js";

export interface StartOptions {
  configFile?: string | undefined;
}

/**
 * `tokenmeter start`: collector and proxy in one process, sharing one pipeline (the proxy's
 * spans go through it in-process). SIGTERM and SIGINT let calls in flight finish, then drain
 * the write queue before exit.
 */
export async function runStart(opts: StartOptions): Promise<void> {
  const config = loadConfig({ file: opts.configFile });
  const logger = createLogger(config.server.logLevel);
  const storage = await openStorage(config);
  const collector = await buildCollector({ config, storage, logger, env: process.env });
  const { host, collectorPort } = config.server;
  // A port that cannot be taken ends the start with its coded error, storage closed first.
  const failStart = async (err: unknown): Promise<never> => {
    await collector.close().catch(() => undefined);
    throw err;
  };
  const address = await collector.app
    .listen({ host, port: collectorPort })
    .catch((err: unknown) =>
      failStart(listenError(err, "collector", host, collectorPort, "TOKENMETER_COLLECTOR_PORT")),
    );

  const registry = collector.metrics.registry;
  const sink = inProcessSink(collector, logger);
  const proxy = await startProxy({
    config,
    logger: logger.child({ component: "proxy" }),
    registry,
    env: process.env,
    hooks: [collector.finops.budgetHook],
    priceBook: collector.finops.book,
    sink,
  }).catch(failStart);

  const where =
    storage.backend === "embedded" ? `embedded ClickHouse at ${config.storage.dataDir}` : "ClickHouse server";
  process.stdout.write(
    [
      "",
      `tokenmeter is running (storage: ${where})`,
      `  send OTLP/HTTP traces to  ${address}/v1/traces   (OTEL_EXPORTER_OTLP_ENDPOINT=${address})`,
      `  point OpenAI clients at   ${proxy.url}/openai/v1   (OPENAI_BASE_URL)`,
      `  point Anthropic clients at ${proxy.url}/anthropic   (ANTHROPIC_BASE_URL)`,
      `  read calls at             ${address}/api/v1/calls   (spend: /api/v1/spend, budgets: /api/v1/budgets)`,
      `  Prometheus metrics at     ${address}/metrics`,
      "",
    ].join("\n"),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: finishing calls in flight, draining the write queue");
    try {
      await proxy.close(10_000);
      await collector.close();
      logger.flush();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}
