import { describe, expect, it } from "vitest";
import { evaluatorsSchema } from "./config.js";
import { createSloLookup, evaluateLatencySlo, globToRegExp } from "./latency-slo.js";
import { call } from "./test-row.js";

const DEFAULTS = { durationMs: 30_000, ttftMs: 2_000 };

describe("evaluateLatencySlo", () => {
  it("fast-call-scores-0", () => {
    expect(evaluateLatencySlo(call({ duration_ms: 1200, ttft_ms: 300 }), DEFAULTS)).toEqual([
      { name: "latency_slo_breach", value: 0 },
    ]);
  });

  it("slow-call-breaches-duration-slo", () => {
    expect(evaluateLatencySlo(call({ duration_ms: 41_250 }), DEFAULTS)).toEqual([
      { name: "latency_slo_breach", value: 1, comment: "duration 41.25s > 30s SLO" },
    ]);
  });

  it("slow-first-token-breaches-ttft-slo", () => {
    expect(evaluateLatencySlo(call({ duration_ms: 9000, ttft_ms: 2500, streamed: 1 }), DEFAULTS)[0]).toEqual({
      name: "latency_slo_breach",
      value: 1,
      comment: "ttft 2.5s > 2s SLO",
    });
  });

  it("both-breaches-are-listed", () => {
    expect(evaluateLatencySlo(call({ duration_ms: 60_000, ttft_ms: 5000 }), DEFAULTS)[0]?.comment).toBe(
      "duration 60s > 30s SLO; ttft 5s > 2s SLO",
    );
  });

  it("exactly-at-the-slo-is-not-a-breach", () => {
    expect(evaluateLatencySlo(call({ duration_ms: 30_000, ttft_ms: 2000 }), DEFAULTS)[0]?.value).toBe(0);
  });

  it("non-streamed-call-has-no-ttft-to-judge", () => {
    expect(evaluateLatencySlo(call({ duration_ms: 100, ttft_ms: null }), DEFAULTS)[0]?.value).toBe(0);
  });

  it("failed-call-is-left-to-the-error-rate", () => {
    expect(evaluateLatencySlo(call({ status: "error", duration_ms: 90_000 }), DEFAULTS)).toEqual([]);
  });

  it("zero-threshold-turns-that-check-off", () => {
    expect(
      evaluateLatencySlo(call({ duration_ms: 90_000, ttft_ms: 100 }), { durationMs: 0, ttftMs: 2000 })[0]?.value,
    ).toBe(0);
    expect(evaluateLatencySlo(call({ duration_ms: 90_000 }), { durationMs: 0, ttftMs: 0 })).toEqual([]);
  });
});

describe("createSloLookup", () => {
  const cfg = evaluatorsSchema.parse({
    latency: {
      models: [
        { match: "o3*", durationMs: 120_000 },
        { match: "claude-*-haiku*", ttftMs: 800 },
      ],
    },
  }).latency;
  const lookup = createSloLookup(cfg);

  it("defaults-apply-when-no-glob-matches", () => {
    expect(lookup({ request_model: "gpt-4o", response_model: "gpt-4o-2024-08-06" })).toEqual(DEFAULTS);
  });

  it("first-matching-glob-wins-and-unset-thresholds-keep-defaults", () => {
    expect(lookup({ request_model: "o3-mini", response_model: "" })).toEqual({ durationMs: 120_000, ttftMs: 2000 });
  });

  it("glob-may-match-the-response-model-case-insensitively", () => {
    expect(lookup({ request_model: "fast", response_model: "Claude-3-5-Haiku-20241022" })).toEqual({
      durationMs: 30_000,
      ttftMs: 800,
    });
  });

  it("a-reasoning-model-under-its-own-slo-does-not-breach", () => {
    const row = call({ request_model: "o3", duration_ms: 90_000 });
    expect(evaluateLatencySlo(row, lookup(row.row))[0]?.value).toBe(0);
  });
});

describe("globToRegExp", () => {
  it("escapes regex characters and supports * and ?", () => {
    expect(globToRegExp("gpt-4o.mini*").test("gpt-4o.mini-2024")).toBe(true);
    expect(globToRegExp("gpt-4o.mini*").test("gpt-4oXmini")).toBe(false);
    expect(globToRegExp("model-?").test("model-1")).toBe(true);
    expect(globToRegExp("model-?").test("model-12")).toBe(false);
    expect(globToRegExp("a(b)+[c]").test("a(b)+[c]")).toBe(true);
  });
});
