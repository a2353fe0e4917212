import { loadConfig } from "../config/load-config.js";
import { startDemoUpstream } from "../demo/demo-upstream.js";
import { DEMO_USAGE, parseDemoArgs } from "../demo/options.js";
import type { ProgressStream } from "../demo/progress.js";

/** Where `tokenmeter demo` writes and what it reads; tests inject these. */
export interface DemoCliIo {
  stdout?: ProgressStream;
  stderr?: ProgressStream;
  /** tokenmeter.yaml, as given to `tokenmeter -c`. */
  configFile?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
  /** Unix ms: the history ends just before it. */
  now?: number;
  /** Stops the demo early (the CLI wires SIGINT to it). */
  signal?: AbortSignal;
}

/**
 * `tokenmeter demo`: fills a running tokenmeter with a backfilled history and live traffic
 * through the SDK and the proxy (see collector/src/demo/). Returns the exit code.
 */
export async function runDemo(argv: string[], io: DemoCliIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const options = parseDemoArgs(argv);
  if (options.help) {
    stdout.write(DEMO_USAGE);
    return 0;
  }

  // Ctrl-C stops the demo where it is and still prints what was sent.
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  const external = io.signal;
  external?.addEventListener("abort", onSignal, { once: true });
  if (io.signal === undefined) {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  try {
    if (options.serveFakeProvider) {
      const upstream = await startDemoUpstream(options.fakePort);
      if (!upstream.onRequestedPort) {
        await upstream.close();
        stderr.write(`tokenmeter demo: port ${options.fakePort} is taken\n`);
        return 1;
      }
      stdout.write(
        `fake provider on ${upstream.url} (OpenAI: ${upstream.url}/v1, Anthropic: ${upstream.url}); Ctrl-C stops it\n`,
      );
      await new Promise<void>((resolve) => {
        if (controller.signal.aborted) resolve();
        controller.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await upstream.close();
      return 0;
    }
    const config = loadConfig({ file: options.configFile ?? io.configFile, env: io.env });
    // Loaded here: the SDK, the provider clients and the OpenTelemetry SDK are not needed above.
    const [{ runDemoSession }, { formatSummary }] = await Promise.all([
      import("../demo/run-demo.js"),
      import("../demo/summary.js"),
    ]);
    const report = await runDemoSession(options, { stderr, config, now: io.now, signal: controller.signal });
    stdout.write(formatSummary(report));
    return 0;
  } finally {
    external?.removeEventListener("abort", onSignal);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
