#!/usr/bin/env node
import { parseArgs } from "node:util";
import { isTokenmeterError } from "../errors.js";
import { VERSION } from "../version.js";

const USAGE = `usage: tokenmeter <command> [options]

commands:
  start                  run the collector and the proxy on embedded ClickHouse or CLICKHOUSE_URL
  proxy --collector URL  run the proxy alone, sending spans to a remote collector
  alerts check [files]   validate and lint alert rules (default: the configured rules glob)
  demo [options]         fill a running tokenmeter with demo traffic (tokenmeter demo --help)
  spend [options]        spend by team, model, ... (--by team,model --since 30d; --forecast, --savings)
  prices show|validate|diff   inspect and check the price book
  reprice --from --to    re-rate stored calls after a price fix (idempotent)
  export focus --month   FOCUS 1.2 chargeback export (csv or parquet)

options:
  -c, --config F   tokenmeter.yaml to use (default: TOKENMETER_CONFIG)
  -h, --help       show this help
  -v, --version    print the version
`;

const ALERTS_USAGE = `usage: tokenmeter alerts check [files...] [options]

Validates and lints alert rule files: one line per problem (file:line:column: field: message),
then a summary. Exits 0 when clean (warnings allowed), 1 otherwise.

arguments:
  files            rule files, directories or glob patterns (default: alerts.rulesGlob)

options:
  --strict         treat warnings as errors
  -c, --config F   tokenmeter.yaml to use (default: TOKENMETER_CONFIG)
  -h, --help       show this help
`;

type Subcommand = (argv: string[], io: { configFile?: string | undefined }) => Promise<number>;

/** Commands that parse their own options; each module is loaded only when its command runs. */
const SUBCOMMANDS: Readonly<Record<string, () => Promise<Subcommand>>> = {
  demo: async () => (await import("./demo.js")).runDemo,
  proxy: async () => (await import("./proxy.js")).runProxy,
  prices: async () => (await import("./prices.js")).runPrices,
  reprice: async () => (await import("./reprice.js")).runReprice,
  spend: async () => (await import("./spend.js")).runSpend,
  export: async () => (await import("./export.js")).runExport,
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      config: { type: "string", short: "c" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
      strict: { type: "boolean" },
    },
  });
  const command = positionals[0];
  const configFile = typeof values.config === "string" ? values.config : undefined;
  if (values.version && !command) {
    process.stdout.write(`tokenmeter ${VERSION}\n`);
    return 0;
  }
  if (!command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 1;
  }
  const sub = Object.hasOwn(SUBCOMMANDS, command) ? SUBCOMMANDS[command] : undefined;
  // Commands with options of their own get everything after their name.
  if (sub !== undefined) return (await sub())(argv.slice(argv.indexOf(command) + 1), { configFile });
  switch (command) {
    case "start": {
      if (values.help) {
        process.stdout.write(USAGE);
        return 0;
      }
      const { runStart } = await import("./start.js");
      await runStart({ configFile });
      return -1; // keeps running
    }
    case "alerts": {
      // Help before anything runs: `alerts check --help` used to check the configured rules.
      if (values.help) {
        process.stdout.write(ALERTS_USAGE);
        return 0;
      }
      if (positionals[1] !== "check") {
        process.stderr.write(`tokenmeter: unknown alerts command "${positionals[1] ?? ""}"\n\n${USAGE}`);
        return 2;
      }
      const { runAlertsCheck } = await import("./alerts-check.js");
      return runAlertsCheck({ paths: positionals.slice(2), configFile, strict: values.strict === true });
    }
    default:
      process.stderr.write(`tokenmeter: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (isTokenmeterError(err)) process.stderr.write(`tokenmeter: ${err.code}: ${err.message}\n`);
    else process.stderr.write(`tokenmeter: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
