import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertmanagerBinary, type RunningAlertmanager, startAlertmanager } from "./helpers/alertmanager.js";

/**
 * The Alertmanager configuration docker compose ships (deploy/alertmanager/alertmanager.yml),
 * loaded by a real Alertmanager: a burn-rate alert's page and ticket variants (same alert,
 * same labels but severity) must notify once, as the page.
 */

const CONFIG = "deploy/alertmanager/alertmanager.yml";
const binary = alertmanagerBinary();
const inCi = process.env["CI"] === "true";

let am: RunningAlertmanager | undefined;

beforeAll(async () => {
  if (binary) am = await startAlertmanager(binary, CONFIG);
});

afterAll(async () => {
  await am?.stop();
});

interface GettableAlert {
  labels: Record<string, string>;
  status: { state: string; inhibitedBy: string[] };
}

function burnAlert(severity: string, team: string) {
  return {
    labels: {
      alertname: "TokenmeterLLMErrorBudgetBurn",
      severity,
      team,
      provider: "openai",
      model: "gpt-4o",
    },
    annotations: { summary: "gpt-4o calls are failing" },
    startsAt: new Date(Date.now() - 60_000).toISOString(),
  };
}

describe("deploy/alertmanager (real binary)", () => {
  it("amtool check-config accepts it", () => {
    const r = spawnSync("amtool", ["check-config", CONFIG], { encoding: "utf8" });
    if (r.error !== undefined && !inCi) return;
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it.skipIf(!binary && !inCi)(
    "a burn-rate ticket is inhibited by the page of the same alert and labels, not by another team's",
    async () => {
      expect(am, "prometheus-alertmanager not found").toBeDefined();
      const base = am?.base ?? "";
      const posted = await fetch(`${base}/api/v2/alerts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([
          burnAlert("page", "search"),
          burnAlert("ticket", "search"),
          burnAlert("ticket", "batch"),
        ]),
      });
      expect(posted.status).toBe(200);
      let got: GettableAlert[] = [];
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        got = (await (await fetch(`${base}/api/v2/alerts`)).json()) as GettableAlert[];
        if (got.length === 3 && got.some((a) => a.status.state === "suppressed")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const state = (severity: string, team: string) =>
        got.find((a) => a.labels["severity"] === severity && a.labels["team"] === team)?.status;
      expect(state("ticket", "search")).toMatchObject({ state: "suppressed", inhibitedBy: [expect.any(String)] });
      expect(state("page", "search")).toMatchObject({ state: "active", inhibitedBy: [] });
      expect(state("ticket", "batch")).toMatchObject({ state: "active", inhibitedBy: [] });
    },
  );
});
