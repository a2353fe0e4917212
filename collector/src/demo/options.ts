/**
 * `tokenmeter demo` options: parsed and checked once, with a usage text that lists them.
 */
import { parseArgs } from "node:util";
import { ERR_BAD_REQUEST } from "../errors.js";

export const DEFAULT_COLLECTOR = "http://127.0.0.1:4318";
export const DEFAULT_PROXY_PORT = 8787;
/** Where examples/tokenmeter.demo.yaml sends the proxy's demo routes. */
export const DEFAULT_FAKE_PORT = 18080;

export const DEMO_USAGE = `usage: tokenmeter demo [options]

Fills a running tokenmeter with realistic traffic so every dashboard has data: a backfilled
history (OTLP spans with past timestamps) and live calls through the SDK and the proxy against a
built-in fake provider. Start the server first, with the demo's proxy routes and budgets:

  TOKENMETER_CONFIG=examples/tokenmeter.demo.yaml npm start

options:
  --collector URL        collector base URL (default ${DEFAULT_COLLECTOR})
  --proxy URL            proxy base URL (default: the collector's host, port ${DEFAULT_PROXY_PORT})
  --no-proxy             no proxy traffic (SDK and history only)
  --days N               days of history to backfill (default 14; 0 for none)
  --calls-per-day N      model calls per day in the history (default 3000)
  --minutes N            minutes of live traffic (default 2; 0 for none)
  --rate N               live requests per second (default 5); a request makes one or more calls
  --requests N           stop live traffic after N requests
  --seed N               random seed: the same seed gives the same traffic (default 42)
  --fake-port N          port of the built-in fake provider (default ${DEFAULT_FAKE_PORT}, where the
                         demo config's proxy routes point)
  --serve-fake-provider  only run the fake provider on --fake-port until interrupted
  -c, --config F         tokenmeter.yaml with the server's tokens (default: TOKENMETER_CONFIG)
  -h, --help             show this help
`;

export interface DemoOptions {
  collector: string;
  /** undefined: no proxy traffic. */
  proxy: string | undefined;
  days: number;
  callsPerDay: number;
  minutes: number;
  rate: number;
  requests: number | undefined;
  seed: number;
  fakePort: number;
  serveFakeProvider: boolean;
  configFile: string | undefined;
  help: boolean;
}

function url(flag: string, raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw ERR_BAD_REQUEST(`${flag}: expected an http(s) URL, got "${raw}"`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw ERR_BAD_REQUEST(`${flag}: expected an http(s) URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, "");
}

function number(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw ERR_BAD_REQUEST(`${flag}: expected a number from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

/** The proxy next to a collector: same scheme and host, the proxy's default port. */
export function defaultProxyUrl(collector: string): string {
  const u = new URL(collector);
  u.port = String(DEFAULT_PROXY_PORT);
  u.pathname = "";
  return u.toString().replace(/\/+$/, "");
}

export function parseDemoArgs(argv: readonly string[]): DemoOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw ERR_BAD_REQUEST(`${(err as Error).message}\n\n${DEMO_USAGE}`);
  }
  const v = parsed.values;
  const collector = url("--collector", v.collector ?? DEFAULT_COLLECTOR);
  const proxy = v["no-proxy"] === true ? undefined : url("--proxy", v.proxy ?? defaultProxyUrl(collector));
  const seed = number("--seed", v.seed, 42, 0, 2 ** 32 - 1);
  const requests = v.requests === undefined ? undefined : number("--requests", v.requests, 0, 0, 1e9);
  return {
    collector,
    proxy,
    days: number("--days", v.days, 14, 0, 90),
    callsPerDay: number("--calls-per-day", v["calls-per-day"], 3000, 1, 1_000_000),
    minutes: number("--minutes", v.minutes, 2, 0, 24 * 60),
    rate: number("--rate", v.rate, 5, 0.01, 10_000),
    requests: requests === undefined ? undefined : Math.floor(requests),
    seed: Math.floor(seed),
    fakePort: Math.floor(number("--fake-port", v["fake-port"], DEFAULT_FAKE_PORT, 0, 65535)),
    serveFakeProvider: v["serve-fake-provider"] === true,
    configFile: v.config,
    help: v.help === true,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: false,
    strict: true,
    options: {
      collector: { type: "string" },
      proxy: { type: "string" },
      "no-proxy": { type: "boolean" },
      days: { type: "string" },
      "calls-per-day": { type: "string" },
      minutes: { type: "string" },
      rate: { type: "string" },
      requests: { type: "string" },
      seed: { type: "string" },
      "fake-port": { type: "string" },
      "serve-fake-provider": { type: "boolean" },
      config: { type: "string", short: "c" },
      help: { type: "boolean", short: "h" },
    },
  });
}
