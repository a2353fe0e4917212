import { ALERT_MIGRATIONS } from "../alerts/schema.js";
import type { Config } from "../config/schema.js";
import { ERR_DATA_DIR_LOCKED, ERR_STORAGE, isTokenmeterError, TokenmeterError } from "../errors.js";
import { openStorage } from "../storage/client.js";
import { MIGRATIONS, migrate } from "../storage/migrations.js";
import { MemoryBudgetStore } from "./budget-store.js";
import { createFinops, type Finops } from "./finops.js";
import { FINOPS_MIGRATIONS } from "./schema.js";

/**
 * Where a FinOps CLI command gets its data. The embedded data directory can be open in one
 * process only, so when a tokenmeter server answers on its collector port the command goes
 * through the server's API; otherwise it opens storage itself (embedded chdb, or the ClickHouse
 * server of CLICKHOUSE_URL). A directory held by a process whose API does not answer is an
 * error that says so.
 */

export type Backend = ApiBackend | LocalBackend;

export interface ApiBackend {
  kind: "api";
  baseUrl: string;
  /** fetch against the server's API with its bearer token; non-2xx answers throw the server's coded error. */
  request(method: "GET" | "POST", path: string, body?: unknown): Promise<Response>;
  close(): Promise<void>;
}

export interface LocalBackend {
  kind: "local";
  finops: Finops;
  close(): Promise<void>;
}

export interface BackendOptions {
  /** Base URL of a running server; default http://<host>:<collectorPort> from the config. */
  apiUrl?: string | undefined;
  /** Never use the API (tests, or a ClickHouse server reachable directly). */
  local?: boolean | undefined;
  /** How long to wait for /healthz. */
  probeTimeoutMs?: number;
}

export function defaultApiUrl(config: Config): string {
  const host = config.server.host === "0.0.0.0" || config.server.host === "::" ? "127.0.0.1" : config.server.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.server.collectorPort}`;
}

async function serverAnswers(baseUrl: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

export async function openBackend(config: Config, opts: BackendOptions = {}): Promise<Backend> {
  const baseUrl = (opts.apiUrl ?? defaultApiUrl(config)).replace(/\/+$/, "");
  if (!opts.local && (await serverAnswers(baseUrl, opts.probeTimeoutMs ?? 1500))) {
    const token = config.server.apiToken;
    return {
      kind: "api",
      baseUrl,
      async request(method, path, body) {
        const res = await fetch(`${baseUrl}${path}`, {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: body === undefined ? null : JSON.stringify(body),
        });
        if (!res.ok) {
          let code = "TM_ERR_INTERNAL";
          let message = `${method} ${path}: HTTP ${res.status}`;
          try {
            const err = ((await res.json()) as { error?: { code?: string; message?: string } }).error;
            if (err?.code) code = err.code;
            if (err?.message) message = err.message;
          } catch {
            // Not our JSON error: keep the status line.
          }
          throw new TokenmeterError(code, res.status, message);
        }
        return res;
      },
      close: async () => {},
    };
  }
  if (opts.apiUrl && !opts.local) {
    throw ERR_STORAGE(`no tokenmeter server answered at ${baseUrl}`);
  }
  let storage: Awaited<ReturnType<typeof openStorage>>;
  try {
    storage = await openStorage(config);
  } catch (err) {
    if (isTokenmeterError(err) && err.code === ERR_DATA_DIR_LOCKED.code) {
      throw ERR_DATA_DIR_LOCKED(
        `${err.message} (no tokenmeter API answered at ${baseUrl}; pass --api-url if the server listens elsewhere)`,
        { cause: err },
      );
    }
    throw err;
  }
  try {
    const ctx = {
      database: storage.database,
      cluster: config.storage.cluster,
      contentRetentionDays: config.storage.contentRetentionDays,
      retentionDays: config.storage.retentionDays,
    };
    // Every migration the server would run, once each (core lists may include feature ones).
    const all = new Map([...MIGRATIONS, ...ALERT_MIGRATIONS, ...FINOPS_MIGRATIONS].map((m) => [m.version, m]));
    await migrate(storage.client, ctx, [...all.values()]);
    const finops = await createFinops({ config, storage, store: new MemoryBudgetStore() });
    return {
      kind: "local",
      finops,
      close: async () => {
        await finops.close();
        await storage.close();
      },
    };
  } catch (err) {
    await storage.close().catch(() => {});
    throw err;
  }
}
