import { defineConfig } from "vitest/config";

// chdb binds one data directory per process, so every test file runs in its own forked worker.
export default defineConfig({
  test: {
    pool: "forks",
    include: [
      "collector/src/**/*.test.ts",
      "sdk/src/**/*.test.ts",
      "test/**/*.test.ts",
      "dashboards/**/*.test.ts",
      "alerts/**/*.test.ts",
    ],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
