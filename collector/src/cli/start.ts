import { buildCollector } from "../app.js";
import { loadConfig } from "../config/load-config.js";
import { createLogger } from "../logger.js";
import { openStorage } from "../storage/client.js";

export interface StartOptions {
  configFile?: string | undefined;
}

/**
 * `tokenmeter start`: collector (and proxy, when configured) in one process. SIGTERM and SIGINT
 * drain the write queue before exit.
 */
export async function runStart(opts: StartOptions): Promise<void> {
  const config = loadConfig({ file: opts.configFile });
  const logger = createLogger(config.server.logLevel);
  const storage = await openStorage(config);
  const collector = await buildCollector({ config, storage, logger, env: process.env });
  const { host, collectorPort } = config.server;
  const address = await collector.app.listen({ host, port: collectorPort });

  const where =
    storage.backend === "embedded" ? `embedded ClickHouse at ${config.storage.dataDir}` : "ClickHouse server";
  process.stdout.write(
    [
      "",
      `tokenmeter is running (storage: ${where})`,
      `  send OTLP/HTTP traces to  ${address}/v1/traces   (OTEL_EXPORTER_OTLP_ENDPOINT=${address})`,
      `  read calls at             ${address}/api/v1/calls`,
      `  Prometheus metrics at     ${address}/metrics`,
      "",
    ].join("\n"),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: draining the write queue");
    try {
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
