import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkRules } from "./check-rules.js";
import { parseDuration } from "./duration.js";
import { loadRules, parseRuleFile, resolveRulePaths, resolveThreshold } from "./rules.js";

const repoAlerts = join(import.meta.dirname, "../../../alerts");

function dir(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "tm-rules-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(root, name, ".."), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

describe("rule files", () => {
  it("the shipped defaults are valid and lint clean", () => {
    const result = checkRules([join(repoAlerts, "*.yaml")]);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    const kinds = result.rules.map((r) => r.rule.kind);
    expect(kinds).toEqual(expect.arrayContaining(["threshold", "drift", "unpriced_spend", "model_change"]));
  });

  it("parses durations and applies defaults", () => {
    const { rules, errors } = parseRuleFile(
      `rules:
  - name: Slow
    kind: threshold
    metric: latency_p95
    threshold: 1000
    for: 1h30m
`,
      "mem.yaml",
    );
    expect(errors).toEqual([]);
    const rule = rules[0]?.rule;
    expect(rule).toMatchObject({
      name: "Slow",
      for: 5_400_000,
      window: 300_000,
      op: ">",
      no_data: "ok",
      severity: "warning",
    });
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("5 minutes")).toBeUndefined();
  });

  it("bad-value-reports-field-path-and-line", () => {
    const { errors } = parseRuleFile(
      `rules:
  - name: Ok
    kind: unpriced_spend
  - name: Broken
    kind: threshold
    metric: latency_p95
    threshold: "high"
`,
      "bad.yaml",
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: "bad.yaml", path: "rules[1].threshold", line: 7, rule: "Broken" });
  });

  it("unknown-key-typo-is-an-error-pointing-at-the-key", () => {
    const { errors } = parseRuleFile(
      `rules:
  - name: Typo
    kind: threshold
    metric: error_rate
    threshold: 0.1
    treshold_resolve: 0.05
`,
      "typo.yaml",
    );
    expect(errors[0]).toMatchObject({ path: "rules[0].treshold_resolve", line: 6 });
  });

  it("unknown kind, bad duration, incompatible drift statistic, wrong-side resolve threshold", () => {
    const { errors } = parseRuleFile(
      `rules:
  - name: A
    kind: thresold
  - name: B
    kind: drift
    signal: finish_reason
    statistic: ks
    threshold: 0.2
  - name: C
    kind: threshold
    metric: error_rate
    threshold: 0.1
    resolve_threshold: 0.2
  - name: D
    kind: drift
    signal: output_tokens
    statistic: psi
    threshold: 0.2
    for: soon
  - name: E
    kind: drift
    signal: wobble
    statistic: psi
    threshold: 0.2
`,
      "many.yaml",
    );
    const paths = errors.map((e) => e.path);
    expect(paths).toEqual([
      "rules[0].kind",
      "rules[1].statistic",
      "rules[2].resolve_threshold",
      "rules[3].for",
      "rules[4].signal",
    ]);
  });

  it("yaml-syntax-error-has-a-line", () => {
    const { errors } = parseRuleFile("rules:\n  - name: X\n    kind: [threshold\n", "syntax.yaml");
    expect(errors[0]?.path).toBe("(yaml)");
    expect(errors[0]?.line).toBeGreaterThan(0);
  });

  it("hysteresis: explicit resolve threshold or a percentage band", () => {
    const [a, b] = parseRuleFile(
      `rules:
  - { name: A, kind: threshold, metric: error_rate, threshold: 0.1, resolve_threshold: 0.05 }
  - { name: B, kind: threshold, metric: tokens_rate, op: "<", threshold: 100, hysteresis_pct: 20 }
`,
      "h.yaml",
    ).rules;
    expect(a && resolveThreshold(a.rule)).toBe(0.05);
    expect(b && resolveThreshold(b.rule)).toBe(120);
  });

  it("check: duplicates across files, unknown notifiers, never-firing thresholds are errors", () => {
    const root = dir({
      "a.yaml": "rules:\n  - { name: Same, kind: unpriced_spend, notifiers: [pager], annotations: { summary: s } }\n",
      "b.yaml":
        "rules:\n  - { name: Same, kind: drift, signal: finish_reason, statistic: js, threshold: 1.5, annotations: { summary: s } }\n",
      "empty.yaml": "rules: []\n",
    });
    const result = checkRules(["*.yaml"], { cwd: root, notifiers: ["slack"] });
    expect(result.errors.map((e) => [e.file.split("/").pop(), e.path])).toEqual(
      expect.arrayContaining([
        ["a.yaml", "rules[0].notifiers"],
        ["b.yaml", "rules[0].name"],
        ["b.yaml", "rules[0].threshold"],
      ]),
    );
    expect(result.warnings.map((w) => w.file.split("/").pop())).toContain("empty.yaml");
  });

  it("check: warns about noisy settings and unknown placeholders", () => {
    const root = dir({
      "w.yaml": `rules:
  - name: Noisy
    kind: threshold
    metric: latency_p95
    threshold: 1000
    annotations: { summary: "{{ valeu }} ms" }
  - name: TinyDrift
    kind: drift
    signal: latency_ms
    statistic: psi
    threshold: 0.05
    min_samples: 10
    annotations: { summary: s }
`,
    });
    const { errors, warnings } = checkRules([root], { intervalMs: 60_000 });
    expect(errors).toEqual([]);
    expect(warnings.map((w) => w.path)).toEqual([
      "rules[0].annotations.summary",
      "rules[0].min_calls",
      "rules[1].min_samples",
      "rules[1].threshold",
    ]);
  });

  it("loadRules throws a coded error listing every problem, and skips disabled rules", () => {
    const bad = dir({ "x.yaml": "rules:\n  - { name: X, kind: threshold, metric: nope, threshold: 1 }\n" });
    expect(() => loadRules("*.yaml", bad)).toThrowError(expect.objectContaining({ code: "TM_ERR_BAD_CONFIG" }));
    const good = dir({
      "r.yaml":
        "rules:\n  - { name: On, kind: unpriced_spend }\n  - { name: Off, kind: unpriced_spend, enabled: false }\n",
    });
    expect(loadRules("*.yaml", good).map((r) => r.name)).toEqual(["On"]);
  });

  it("resolves patterns: files, directories and ** recursion", () => {
    const root = dir({ "a.yaml": "", "b.yml": "", "sub/c.yaml": "", "sub/d.txt": "" });
    const names = (ps: string[]) => resolveRulePaths(ps, root).map((p) => p.slice(root.length + 1));
    expect(names(["*.yaml"])).toEqual(["a.yaml"]);
    expect(names(["."])).toEqual(["a.yaml", "b.yml"]);
    expect(names(["**/*.yaml"])).toEqual(["a.yaml", "sub/c.yaml"]);
  });
});
