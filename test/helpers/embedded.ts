import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../collector/src/config/load-config.js";
import type { Config, ConfigInput } from "../../collector/src/config/schema.js";
import { createLogger } from "../../collector/src/logger.js";
import { openStorage, type StorageClient } from "../../collector/src/storage/client.js";

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
