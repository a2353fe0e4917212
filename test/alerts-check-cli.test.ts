import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runAlertsCheck } from "../collector/src/cli/alerts-check.js";

function capture() {
  let text = "";
  return { write: (s: string) => (text += s), text: () => text };
}

describe("tokenmeter alerts check", () => {
  it("passes the shipped rules with exit code 0", () => {
    const out = capture();
    const err = capture();
    const code = runAlertsCheck({
      paths: ["alerts/*.yaml"],
      cwd: join(import.meta.dirname, ".."),
      stdout: out,
      stderr: err,
    });
    expect(err.text()).toBe("");
    expect(out.text()).toMatch(/ rule\(s\): 0 error\(s\), 0 warning\(s\) - OK\n$/);
    expect(code).toBe(0);
  });

  it("bad-rule-file-prints-file-line-field-and-exits-1", () => {
    const dir = mkdtempSync(join(tmpdir(), "tm-check-"));
    writeFileSync(
      join(dir, "bad.yaml"),
      "rules:\n  - name: Broken\n    kind: threshold\n    metric: latency_p95\n    threshold: high\n",
    );
    const out = capture();
    const err = capture();
    const code = runAlertsCheck({ paths: ["bad.yaml"], cwd: dir, stdout: out, stderr: err });
    expect(code).toBe(1);
    expect(err.text()).toBe(
      `error: ${join(dir, "bad.yaml")}:5:16: rules[0].threshold (rule Broken): Invalid input: expected number, received string\n`,
    );
  });

  it("strict turns warnings into a failure", () => {
    const dir = mkdtempSync(join(tmpdir(), "tm-check-"));
    writeFileSync(join(dir, "w.yaml"), "rules:\n  - { name: NoSummary, kind: unpriced_spend }\n");
    const quiet = { write: () => true };
    expect(runAlertsCheck({ paths: ["w.yaml"], cwd: dir, stdout: quiet, stderr: quiet })).toBe(0);
    expect(runAlertsCheck({ paths: ["w.yaml"], cwd: dir, strict: true, stdout: quiet, stderr: quiet })).toBe(1);
  });
});
