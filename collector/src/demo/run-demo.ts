/**
 * One demo run: check the collector, start the demo's provider, backfill the history, run live
 * traffic through the SDK and the proxy, and report what was sent. The CLI (cli/demo.ts) parses
 * arguments and prints; everything else happens here.
 */
import type { Config } from "../config/schema.js";
import { loadConfiguredPriceBook } from "../finops/catalog.js";
import { projectBudgets, type SteeredBudget, steerBudgets } from "./budget-steering.js";
import { CollectorClient } from "./collector-client.js";
import { checkProxyRoutes, startDemoUpstream } from "./demo-upstream.js";
import { type HistoryResult, sendHistory } from "./history-export.js";
import { planHistory } from "./history-plan.js";
import { type LiveResult, runLiveTraffic } from "./live-traffic.js";
import type { DemoOptions } from "./options.js";
import { createProgress, type ProgressStream } from "./progress.js";
import { createRandom } from "./random.js";

export interface DemoIo {
  /** Progress and notes. */
  stderr: ProgressStream;
  config: Config;
  /** Unix ms; the history ends just before it. */
  now?: number;
  signal?: AbortSignal | undefined;
}

export interface DemoReport {
  collector: string;
  proxy: string | undefined;
  /** Why proxy traffic was left out, when it was asked for. */
  proxySkipped: string | undefined;
  fakeUrl: string;
  history: (HistoryResult & { fromMs: number; toMs: number; durationMs: number }) | undefined;
  budgets: SteeredBudget[];
  live: LiveResult | undefined;
  /** Stopped early (Ctrl-C): the figures are what was sent until then. */
  interrupted: boolean;
  durationMs: number;
}

/** The history stops this long before now, so it never overlaps the live traffic. */
const HISTORY_GAP_MS = 30_000;

export async function runDemoSession(options: DemoOptions, io: DemoIo): Promise<DemoReport> {
  const startedAt = Date.now();
  const now = io.now ?? startedAt;
  const client = new CollectorClient({
    baseUrl: options.collector,
    ingestToken: io.config.server.ingestToken,
    apiToken: io.config.server.apiToken,
  });
  await client.checkHealth();

  const needUpstream = options.minutes > 0 && options.requests !== 0;
  const upstream = needUpstream ? await startDemoUpstream(options.fakePort) : undefined;
  const note = (text: string) => io.stderr.write(`${text}\n`);
  const report: DemoReport = {
    collector: client.baseUrl,
    proxy: undefined,
    proxySkipped: undefined,
    fakeUrl: upstream?.url ?? "",
    history: undefined,
    budgets: [],
    live: undefined,
    interrupted: false,
    durationMs: 0,
  };

  try {
    if (upstream !== undefined && options.proxy !== undefined) {
      const problem = upstream.onRequestedPort
        ? await checkProxyRoutes(options.proxy)
        : `port ${options.fakePort} is taken, so the proxy's demo routes cannot reach the demo's provider`;
      if (problem === undefined) report.proxy = options.proxy;
      else {
        report.proxySkipped = problem;
        note(`proxy traffic left out: ${problem}`);
      }
    }
    const progress = createProgress(io.stderr);

    if (options.days > 0 && !io.signal?.aborted) {
      const endUs = (now - HISTORY_GAP_MS) * 1000;
      const base = {
        seed: options.seed,
        endUs,
        days: options.days,
        callsPerDay: options.callsPerDay,
        book: loadConfiguredPriceBook(io.config),
      };
      const budgets = await client.budgets();
      const plan = planHistory({ ...base, scales: steerBudgets(budgets, base) });
      report.budgets = projectBudgets(budgets, plan.traces);
      const sendStart = Date.now();
      progress.start("history", plan.traces.length, "traces");
      const sent = await sendHistory({
        plan,
        client,
        // Ids depend on the end of the history too, so two runs never collide.
        ids: createRandom(options.seed).fork(`ids:${Math.floor(endUs / 60_000_000)}`),
        onProgress: (n) => progress.update(n),
        signal: io.signal,
      });
      report.history = {
        ...sent,
        fromMs: plan.fromUs / 1000,
        toMs: plan.endUs / 1000,
        durationMs: Date.now() - sendStart,
      };
      progress.finish(
        `history: ${sent.calls.toLocaleString("en-US")} model calls in ${sent.traces.toLocaleString("en-US")} traces over ${options.days} days sent in ${((Date.now() - sendStart) / 1000).toFixed(1)}s`,
      );
    }

    if (upstream !== undefined && !io.signal?.aborted) {
      const expected = Math.round(options.minutes * 60 * options.rate);
      const total = options.requests === undefined ? expected : Math.min(expected, options.requests);
      progress.start("live", total, "requests");
      report.live = await runLiveTraffic({
        seed: options.seed,
        durationMs: options.minutes * 60_000,
        rate: options.rate,
        maxRequests: options.requests,
        collector: client,
        fakeUrl: upstream.url,
        proxyUrl: report.proxy,
        signal: io.signal,
        onProgress: (done, stats) =>
          progress.update(
            done,
            `sdk ${stats.sdk.calls} calls, proxy ${stats.proxy.calls} calls, ${stats.sdk.errors + stats.proxy.errors} errors`,
          ),
      });
      const l = report.live;
      progress.finish(
        `live: ${l.sdk.requests + l.proxy.requests} requests, ${l.sdk.calls + l.proxy.calls} model calls in ${(l.durationMs / 1000).toFixed(1)}s`,
      );
    }
  } finally {
    await upstream?.close();
  }
  report.interrupted = io.signal?.aborted === true;
  report.durationMs = Date.now() - startedAt;
  return report;
}
