import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

// Every alert's runbook link lands on a section of docs/runbooks.md, and every section belongs
// to an alert: a page at 3 a.m. must not end on a missing anchor.

const RUNBOOKS = "docs/runbooks.md";
const rules = parseYaml(readFileSync("alerts/prometheus/tokenmeter.rules.yml", "utf8")) as {
  groups: Array<{ rules: Array<{ alert?: string; annotations?: Record<string, string> }> }>;
};
const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
// GitHub's anchor for a heading made of one word: the word in lower case.
const anchors = new Set(
  [...readFileSync(RUNBOOKS, "utf8").matchAll(/^## (\S+)\s*$/gm)].map((m) => (m[1] as string).toLowerCase()),
);

describe("alert runbooks", () => {
  it("every-alert-links-to-its-own-section-of-docs/runbooks.md", () => {
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) {
      const url = a.annotations?.["runbook_url"] ?? "";
      expect(url, a.alert).toMatch(new RegExp(`/${RUNBOOKS}#${(a.alert as string).toLowerCase()}$`));
      expect(anchors.has((a.alert as string).toLowerCase()), `${a.alert} has no section`).toBe(true);
    }
  });

  it("every-section-is-an-alert-that-exists", () => {
    const names = new Set(alerts.map((a) => (a.alert as string).toLowerCase()));
    expect([...anchors].filter((x) => !names.has(x))).toEqual([]);
  });
});
