/**
 * Test-only (not part of the package): the end-to-end rig shared by test/sdk-*.test.ts. A real
 * collector on embedded ClickHouse listening on a free port, the fake provider speaking the
 * OpenAI and Anthropic wire formats, and the SDK initialised against that collector, so every
 * assertion reads the llm_calls row the collector stored from the SDK's OTLP export.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { expect } from "vitest";
import { buildCollector, type Collector } from "../../collector/src/app.js";
import { type FakeProvider, startFakeProvider } from "../../collector/src/fake-provider/index.js";
import { embeddedStorage, silentLogger, testConfig } from "../../test/helpers/embedded.js";
import { type InitOptions, init, type TokenmeterHandle } from "../src/index.js";

export type Row = Record<string, unknown>;

export interface Harness {
  readonly collector: Collector;
  /** Collector base URL. */
  readonly url: string;
  readonly fake: FakeProvider;
  readonly handle: TokenmeterHandle;
  /** Flushes the SDK, then reads llm_calls rows (content included) matching the query. */
  calls(query: Record<string, string>): Promise<Row[]>;
  /** The single row of a session (see `session()`). */
  call(sessionId: string): Promise<Row>;
  close(): Promise<void>;
}

export async function startHarness(options: InitOptions = {}, beforeInit?: () => void): Promise<Harness> {
  const { dir, storage } = await embeddedStorage();
  const collector = await buildCollector({ config: testConfig(dir), storage, logger: silentLogger });
  const url = await collector.app.listen({ host: "127.0.0.1", port: 0 });
  const fake = await startFakeProvider();
  beforeInit?.();
  const handle = init({ serviceName: "sdk-e2e", endpoint: url, environment: "test", ...options });

  async function calls(query: Record<string, string>): Promise<Row[]> {
    // Cancellations noticed through an abort signal end their span on the next turn.
    await nextTurn();
    await handle.forceFlush();
    const qs = new URLSearchParams({ include_content: "1", ...query }).toString();
    const res = await collector.app.inject({ method: "GET", url: `/api/v1/calls?${qs}` });
    expect(res.statusCode).toBe(200);
    return (res.json() as { calls: Row[] }).calls;
  }

  return {
    collector,
    url,
    fake,
    handle,
    calls,
    async call(sessionId: string): Promise<Row> {
      const rows = await calls({ session_id: sessionId });
      expect(rows).toHaveLength(1);
      return rows[0] as Row;
    },
    async close() {
      await handle.shutdown();
      await fake.close();
      await collector.close();
    },
  };
}

let sessions = 0;

/** A session id unique to this process, to find the row of one call. */
export function session(label: string): string {
  sessions++;
  return `${label}-${process.pid}-${sessions}`;
}

/** Request options that attribute one call to a session (the SDK takes the header off the request). */
export function inSession(id: string, extra: Record<string, string> = {}): { headers: Record<string, string> } {
  return { headers: { "x-tokenmeter-session": id, ...extra } };
}

export function parseJson(value: unknown): unknown {
  expect(typeof value).toBe("string");
  return JSON.parse(String(value));
}

/** USD per 1M tokens, as in collector/prices/catalog.json. */
export interface Prices {
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
}

/**
 * The cost the collector must compute (GENAI_MAPPING.md rule 1, collector/src/enrich/pricing.ts):
 * uncached input, cache reads and writes, output at their own prices; exact in pico-USD, rounded
 * half up to 9 decimals, trailing zeros trimmed.
 */
export function expectedCost(
  p: Prices,
  t: { input: number; output: number; cacheRead?: number; cacheWrite?: number },
): string {
  const pico = (usdPerMillion: number) => BigInt(Math.round(usdPerMillion * 1_000_000));
  const cacheRead = t.cacheRead ?? 0;
  const cacheWrite = t.cacheWrite ?? 0;
  const total =
    BigInt(t.input - cacheRead - cacheWrite) * pico(p.input) +
    BigInt(cacheRead) * pico(p.cacheRead ?? p.input) +
    BigInt(cacheWrite) * pico(p.cacheWrite ?? p.input) +
    BigInt(t.output) * pico(p.output);
  const nano = (total + 500n) / 1000n;
  const frac = (nano % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  const whole = nano / 1_000_000_000n;
  return frac === "" ? `${whole}` : `${whole}.${frac}`;
}
