import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type ClickHouseClient,
  type ClickHouseClientConfigOptions,
  ClickHouseLogLevel,
  createClient,
} from "@clickhouse/client";
import type { Config } from "../config/schema.js";
import { ERR_DATA_DIR_LOCKED, ERR_STORAGE } from "../errors.js";
import { withQueryScopedSettings } from "./query-scoped-settings.js";

/**
 * The client library's own log lines are off: they go to stderr unstructured, with request
 * details, and an engine error can quote the rows of a failed insert (prompts). tokenmeter logs
 * storage failures itself, as JSON and with error codes only (batch-writer.ts).
 */
const CLIENT_LOG = { level: ClickHouseLogLevel.OFF };

/** ClickHouse error code when another process holds the embedded data directory. */
const CANNOT_LOCK_FILE = 76;

export interface StorageClient {
  client: ClickHouseClient;
  /** "embedded" (chdb in this process) or "server" (ClickHouse over HTTP). */
  backend: "embedded" | "server";
  database: string;
  close(): Promise<void>;
}

function clickhouseCode(err: unknown): number | undefined {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    const rec = cur as { clickhouseCode?: unknown; code?: unknown; cause?: unknown; message?: unknown };
    if (typeof rec.clickhouseCode === "number") return rec.clickhouseCode;
    if (typeof rec.code === "string" && /^\d+$/.test(rec.code)) return Number(rec.code);
    if (typeof rec.message === "string") {
      const m = /Code: (\d+)\./.exec(rec.message);
      if (m?.[1]) return Number(m[1]);
    }
    cur = rec.cause;
  }
  return undefined;
}

/**
 * ClickHouse errors that mean the rows themselves are wrong (cannot be parsed into their
 * columns): sending the same batch again fails the same way.
 */
const INVALID_DATA = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  407, // DECIMAL_OVERFLOW
]);

/**
 * ClickHouse's code and name of an error (`27 CANNOT_PARSE_INPUT_ASSERTION_FAILED`), without its
 * message: a parse error quotes the rows it choked on, which may hold prompt content.
 */
export function clickhouseErrorName(err: unknown): string {
  const type = (err as { type?: unknown } | null)?.type;
  return `${clickhouseCode(err) ?? "unknown"}${typeof type === "string" ? ` ${type}` : ""}`;
}

/** True when ClickHouse refused an insert for its data, not for being unavailable. */
export function isInvalidData(err: unknown): boolean {
  const code = clickhouseCode(err);
  return code !== undefined && INVALID_DATA.has(code);
}

/** True when the error is the embedded engine refusing a data directory another process holds. */
export function isDataDirLocked(err: unknown): boolean {
  return clickhouseCode(err) === CANNOT_LOCK_FILE;
}

/**
 * Opens storage: a ClickHouse server when `storage.clickhouseUrl` is set, otherwise embedded
 * ClickHouse (chdb) on `storage.dataDir`. Both are driven through @clickhouse/client, so every
 * query in tokenmeter runs unchanged on either.
 */
export async function openStorage(config: Config): Promise<StorageClient> {
  const { storage } = config;
  if (storage.clickhouseUrl) {
    const client = createClient({
      url: storage.clickhouseUrl,
      username: storage.clickhouseUser,
      password: storage.clickhousePassword,
      request_timeout: 30_000,
      compression: { request: true, response: true },
      log: CLIENT_LOG,
    });
    return { client, backend: "server", database: storage.database, close: () => client.close() };
  }
  const { mkdirSync } = await import("node:fs");
  const { resolve } = await import("node:path");
  const path = resolve(storage.dataDir);
  mkdirSync(path, { recursive: true });
  // chdb is loaded only when the embedded backend is used: a server deployment never maps it.
  const { createChdbConnection } = await import("chdb/connection");
  let connection: ReturnType<typeof createChdbConnection>;
  try {
    connection = createChdbConnection({ path });
  } catch (err) {
    throw storageOpenError(err, path);
  }
  // chdb re-exports the Connection type from @clickhouse/client-common, which the client bundles
  // under its own path: the shapes are identical, the declarations are not.
  const client = createClient({
    connection: withQueryScopedSettings(connection) as unknown as NonNullable<
      ClickHouseClientConfigOptions["connection"]
    >,
    log: CLIENT_LOG,
  });
  try {
    await client.command({ query: "SELECT 1" });
  } catch (err) {
    await client.close().catch(() => {});
    throw storageOpenError(err, path);
  }
  return { client, backend: "embedded", database: storage.database, close: () => client.close() };
}

function storageOpenError(err: unknown, path: string) {
  // chdb reports a held directory (ClickHouse error 76) on stderr and throws a generic
  // "Failed to create connection"; the engine's `status` file existing tells the two apart.
  const heldByOther =
    isDataDirLocked(err) || (/Failed to create connection/.test(String(err)) && existsSync(join(path, "status")));
  if (heldByOther) {
    return ERR_DATA_DIR_LOCKED(
      `the data directory ${path} is held by another tokenmeter process; stop it, point TOKENMETER_DATA_DIR elsewhere, or let the CLI talk to the running server`,
      { cause: err },
    );
  }
  return ERR_STORAGE(`cannot open embedded ClickHouse at ${path}: ${(err as Error).message}`, { cause: err });
}
