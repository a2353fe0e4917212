import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { buildCollector } from "../collector/src/app.js";
import { createLogger } from "../collector/src/logger.js";
import { embeddedStorage, testConfig } from "./helpers/embedded.js";

/** What the server logs at start about alerts.rulesGlob (the file rules the engine evaluates). */
async function startLog(rulesGlob: string): Promise<Record<string, unknown>[]> {
  const { dir, storage } = await embeddedStorage();
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).trim().split("\n"));
      done();
    },
  });
  const collector = await buildCollector({
    config: testConfig(dir, { server: { logLevel: "info" }, alerts: { rulesGlob } }),
    storage,
    logger: createLogger("info", sink),
  });
  await collector.close();
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("alerts.rulesGlob at start", () => {
  it("a pattern that matches no rule file is a coded warning naming it and the working directory", async () => {
    const { dir } = await embeddedStorage();
    const empty = join(dir, "no-rules-here");
    mkdirSync(empty, { recursive: true });
    const glob = join(empty, "*.yaml");
    const warned = (await startLog(glob)).filter((l) => l["code"] === "TM_ALERT_RULES_NOT_FOUND");
    expect(warned).toEqual([expect.objectContaining({ level: 40, rulesGlob: glob, cwd: process.cwd() })]);
  });

  it("the shipped rules load without it", async () => {
    const logged = await startLog(join(import.meta.dirname, "..", "alerts", "*.yaml"));
    expect(logged.filter((l) => l["code"] === "TM_ALERT_RULES_NOT_FOUND")).toEqual([]);
  });
});
