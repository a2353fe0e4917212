import { parseArgs } from "node:util";
import { collectDefaultMetrics, Registry } from "prom-client";
import { loadConfig } from "../config/load-config.js";
import { ERR_BAD_REQUEST } from "../errors.js";
import { loadConfiguredPriceBook } from "../finops/catalog.js";
import { createLogger } from "../logger.js";
import { buildInfoGauge } from "../metrics/collector-metrics.js";
import { collectorTracesUrl, createOtlpHttpSink, startProxy, telemetryDroppedCounter } from "../proxy/index.js";
import { VERSION } from "../version.js";

const USAGE = `usage: tokenmeter proxy --collector URL [options]

Runs the proxy alone, exporting each call as an OTLP span to a remote collector (scale the
proxy out next to your apps, keep one collector). Budgets are enforced by the collector's
process only; a standalone proxy meters, caches and rate-limits.

options:
  --collector URL     collector base URL (e.g. http://collector:4318)
  --port N            proxy port (default: TOKENMETER_PROXY_PORT or 8787)
  --host H            bind address (default: TOKENMETER_HOST or 127.0.0.1)
  -c, --config F      tokenmeter.yaml
`;

export async function runProxy(argv: string[], io: { configFile?: string | undefined } = {}): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: {
      collector: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      config: { type: "string", short: "c" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (typeof values.collector !== "string" || !/^https?:\/\//.test(values.collector)) {
    throw ERR_BAD_REQUEST(`--collector URL is required (http://host:4318)\n\n${USAGE}`);
  }
  const config = loadConfig({ file: typeof values.config === "string" ? values.config : io.configFile });
  const logger = createLogger(config.server.logLevel);
  const registry = new Registry();
  // The standalone proxy is a process of its own to watch: its runtime metrics and build.
  collectDefaultMetrics({ register: registry, prefix: "tokenmeter_" });
  // One catalog load: the proxy prices with it, and the build info names it.
  const priceBook = loadConfiguredPriceBook(config);
  buildInfoGauge(registry).set({ version: VERSION, price_book: priceBook.catalogVersion, nodejs: process.version }, 1);
  const ingestToken = config.server.ingestToken;
  const proxy = await startProxy({
    config,
    logger,
    registry,
    priceBook,
    env: process.env,
    serveMetrics: true,
    ...(typeof values.host === "string" ? { host: values.host } : {}),
    ...(typeof values.port === "string" ? { port: Number(values.port) } : {}),
    sink: createOtlpHttpSink({
      url: values.collector,
      ...(ingestToken ? { headers: { authorization: `Bearer ${ingestToken}` } } : {}),
      dropped: telemetryDroppedCounter(registry).labels({ component: "proxy" }),
      logger,
      maxBufferedSpans: config.proxy.maxBufferedSpans,
    }),
  });
  process.stdout.write(`tokenmeter proxy on ${proxy.url}, spans to ${collectorTracesUrl(values.collector)}\n`);
  const stop = async () => {
    await proxy.close(10_000);
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
  return -1;
}
