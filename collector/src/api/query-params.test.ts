import { describe, expect, it } from "vitest";
import { parseOrThrow, parseTimeBound, timeParam } from "./query-params.js";

describe("time bounds of the read API", () => {
  const now = Date.parse("2026-12-07T12:00:00Z");

  it("takes ISO-8601, epoch seconds and milliseconds", () => {
    expect(parseTimeBound("2026-12-01T00:00:00Z", now)).toBe(Date.parse("2026-12-01T00:00:00Z"));
    expect(parseTimeBound("2026-12-01", now)).toBe(Date.parse("2026-12-01"));
    expect(parseTimeBound("1765000000", now)).toBe(1_765_000_000_000);
    expect(parseTimeBound("1765000000123", now)).toBe(1_765_000_000_123);
  });

  it('takes "now" and durations back from now, as the CLI does, also as now-<duration>', () => {
    expect(parseTimeBound("now", now)).toBe(now);
    expect(parseTimeBound("24h", now)).toBe(now - 86_400_000);
    expect(parseTimeBound("now-1h30m", now)).toBe(now - 5_400_000);
    expect(parseTimeBound(" 7d ", now)).toBe(now - 7 * 86_400_000);
  });

  it("refuses anything else with a coded error naming the parameter", () => {
    for (const bad of ["", "soon", "now+1h", "now-", "1x", "-1h"])
      expect(parseTimeBound(bad, now), bad).toBeUndefined();
    expect(() => parseOrThrow(timeParam, "yesterday")).toThrow(/^request: expected an ISO-8601 time/);
    try {
      parseOrThrow(timeParam, "yesterday");
    } catch (err) {
      expect(err).toMatchObject({ code: "TM_ERR_BAD_REQUEST", statusCode: 400 });
    }
  });

  it("parses to Unix microseconds", () => {
    const before = Date.now();
    const us = parseOrThrow(timeParam, "1h") as number;
    expect(us).toBeGreaterThanOrEqual((before - 3_600_000) * 1000);
    expect(us).toBeLessThanOrEqual((Date.now() - 3_600_000) * 1000);
    expect(parseOrThrow(timeParam, "1765000000")).toBe(1_765_000_000_000_000);
  });
});
