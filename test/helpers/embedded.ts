import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../collector/src/config/load-config.js";
import type { Config, ConfigInput } from "../../collector/src/config/schema.js";
import { createLogger } from "../../collector/src/logger.js";
import { BatchWriter } from "../../collector/src/storage/batch-writer.js";
import { openStorage, type StorageClient } from "../../collector/src/storage/client.js";
import { insertTable } from "../../collector/src/storage/migrations.js";
import { Spool } from "../../collector/src/storage/spool.js";

/**
 * Embedded ClickHouse (chdb) for tests. chdb binds one data directory per process and vitest
 * runs each test file in its own forked worker, so each file opens one directory here and
 * shares it between its tests.
 */
let shared: { dir: string; storage: StorageClient } | undefined;

export function tempDir(prefix = "tokenmeter-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function embeddedStorage(): Promise<{ dir: string; storage: StorageClient }> {
  if (shared) return shared;
  const dir = tempDir();
  const config = loadConfig({ env: {}, overrides: { storage: { dataDir: join(dir, "data") } } });
  const opened = await openStorage(config);
  // Tests close collectors freely; the engine itself stays open until the worker exits.
  shared = { dir, storage: { ...opened, close: async () => {} } };
  return shared;
}

/** A config for tests: its own database name and spool, quiet logs, fast batches. */
export function testConfig(dir: string, overrides: ConfigInput = {}): Config {
  const database = `t_${Math.random().toString(36).slice(2, 10)}`;
  return loadConfig({
    env: {},
    overrides: {
      ...overrides,
      server: { logLevel: "silent", ...overrides.server },
      storage: { dataDir: join(dir, "data"), database, ...overrides.storage },
      ingest: { spoolDir: join(dir, `spool-${database}`), batchMaxDelayMs: 20, ...overrides.ingest },
    },
  });
}

export const silentLogger = createLogger("silent");

/** A started batch writer into `database` on a single node, with a spool of its own and quick, small batches. */
export async function startedWriter(storage: StorageClient, database: string): Promise<BatchWriter> {
  const writer = new BatchWriter({
    client: storage.client,
    database,
    spool: new Spool(tempDir("tm-spool-")),
    insertTable: (table) => insertTable(undefined, table),
    maxRows: 10,
    maxDelayMs: 10,
    maxQueueRows: 100,
    maxSpoolBytes: 1024 * 1024,
  });
  await writer.start();
  return writer;
}
