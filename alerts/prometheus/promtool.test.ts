import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * Runs promtool on the Prometheus rules: `check rules` (syntax, PromQL, templates) and
 * `test rules` (the unit tests in tokenmeter.rules.test.yml). CI installs promtool (Debian
 * package `prometheus`) and must never pass without it; a laptop without it skips, loudly.
 */

const here = dirname(fileURLToPath(import.meta.url));
const RULES = join(here, "tokenmeter.rules.yml");
const RULE_TESTS = join(here, "tokenmeter.rules.test.yml");

const ciValue = process.env["CI"];
const inCi = ciValue !== undefined && ciValue !== "" && ciValue !== "0" && ciValue.toLowerCase() !== "false";
const probe = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const installed = probe.error === undefined && probe.status === 0;

function promtool(...args: string[]) {
  const r = spawnSync("promtool", args, { encoding: "utf8", cwd: here, timeout: 120_000 });
  return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}`, error: r.error };
}

describe("Prometheus rules (promtool)", () => {
  if (!installed && !inCi) {
    console.warn(
      "promtool not found: skipping the Prometheus rule tests. Install it with `apt-get install prometheus`.",
    );
    it.skip("promtool is not installed here (CI installs it and fails without it)", () => {});
    return;
  }

  it("promtool is installed", () => {
    expect(probe.error, "promtool not found on PATH: install the Debian package `prometheus`").toBeUndefined();
    expect(probe.status).toBe(0);
  });

  it("check rules: every rule parses, with valid PromQL and templates", () => {
    const r = promtool("check", "rules", RULES);
    expect(r.error).toBeUndefined();
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS");
    expect(r.output).toMatch(/\d+ rules found/);
  });

  it("test rules: the burn-rate, guard and pipeline-health unit tests pass", () => {
    const r = promtool("test", "rules", RULE_TESTS);
    expect(r.error).toBeUndefined();
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS");
    expect(r.output).not.toContain("FAILED");
  }, 120_000);
});
