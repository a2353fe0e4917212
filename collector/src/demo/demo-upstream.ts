/**
 * The demo's provider: the built-in fake provider on a fixed local port, which the proxy's demo
 * routes in examples/tokenmeter.demo.yaml point at. When the port is taken by a fake provider
 * that is already running (`tokenmeter demo --serve-fake-provider`), that one is used; taken by
 * anything else, the demo runs its own on a free port and leaves the proxy out.
 */
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.js";

/** Route names of the proxy's demo upstreams (examples/tokenmeter.demo.yaml). */
export const PROXY_OPENAI_ROUTE = "demo-openai";
export const PROXY_ANTHROPIC_ROUTE = "demo-anthropic";

export interface DemoUpstream {
  url: string;
  /** Whether it listens on the port the proxy routes expect. */
  onRequestedPort: boolean;
  close(): Promise<void>;
}

async function answersLikeFake(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { object?: unknown };
    return res.ok && body.object === "list";
  } catch {
    return false;
  }
}

export async function startDemoUpstream(port: number, host = "127.0.0.1"): Promise<DemoUpstream> {
  const own = (fake: FakeProvider, onRequestedPort: boolean): DemoUpstream => ({
    url: fake.url,
    onRequestedPort,
    close: () => fake.close(),
  });
  try {
    return own(await startFakeProvider({ host, port, maxRecordedRequests: 0 }), true);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
  }
  const existing = `http://${host}:${port}`;
  if (await answersLikeFake(existing)) return { url: existing, onRequestedPort: true, close: async () => {} };
  return own(await startFakeProvider({ host, maxRecordedRequests: 0 }), false);
}

/**
 * Whether the proxy at `proxyUrl` serves the demo routes and reaches the demo's provider through
 * them; undefined when it does, else the reason it does not.
 */
export async function checkProxyRoutes(proxyUrl: string): Promise<string | undefined> {
  try {
    const health = await fetch(`${proxyUrl}/healthz`, { signal: AbortSignal.timeout(3000) });
    await health.body?.cancel();
    if (!health.ok) return `${proxyUrl}/healthz answered ${health.status}`;
  } catch (err) {
    return `no proxy answers at ${proxyUrl} (${(err as Error).message})`;
  }
  for (const [route, headers] of [
    [PROXY_OPENAI_ROUTE, {}],
    [PROXY_ANTHROPIC_ROUTE, { "anthropic-version": "2023-06-01" }],
  ] as const) {
    try {
      const res = await fetch(`${proxyUrl}/${route}/v1/models`, { headers, signal: AbortSignal.timeout(5000) });
      await res.body?.cancel();
      if (res.status === 404) {
        return `the proxy has no /${route} route: start the server with TOKENMETER_CONFIG=examples/tokenmeter.demo.yaml`;
      }
      if (!res.ok)
        return `the proxy's /${route} route answered ${res.status}: does it point at the demo's fake provider?`;
    } catch (err) {
      return `the proxy's /${route} route failed (${(err as Error).message})`;
    }
  }
  return undefined;
}
