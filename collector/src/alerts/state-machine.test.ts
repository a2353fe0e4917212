import { describe, expect, it } from "vitest";
import { jensenShannon, populationStabilityIndex } from "./drift.js";
import { fingerprint, type Observation, type SeriesState, type StepRule, step } from "./state-machine.js";

const MIN = 60_000;

function fresh(): SeriesState {
  return {
    rule: "r",
    kind: "threshold",
    severity: "warning",
    fingerprint: "f",
    labels: {},
    annotations: {},
    state: "inactive",
    value: 1,
    threshold: 0,
    statistic: "x",
    p_value: null,
    since: 0,
    activeSince: null,
    firedAt: null,
    lastNotified: null,
    lastEvaluated: 0,
    lastSeen: 0,
  };
}

/** Runs observations one minute apart; returns each state and what was notified. */
function run(rule: StepRule, observations: Observation[], notifiedOk = true) {
  let s = fresh();
  const trail: string[] = [];
  observations.forEach((obs, i) => {
    const now = (i + 1) * MIN;
    const r = step(s, obs, rule, now);
    s = r.next;
    if (r.notify && r.notify.status === "firing" && notifiedOk) s = { ...s, lastNotified: now };
    trail.push(r.notify ? `${s.state}!${r.notify.status}${r.notify.repeat ? "+" : ""}` : s.state);
  });
  return trail;
}

describe("alert state machine", () => {
  const rule: StepRule = { forMs: 2 * MIN, repeatMs: 3 * MIN, noData: "ok" };

  it("pending-then-firing-after-for-then-resolved", () => {
    expect(run(rule, ["breach", "breach", "breach", "ok", "ok"])).toEqual([
      "pending",
      "pending",
      "firing!firing",
      "resolved!resolved",
      "resolved",
    ]);
  });

  it("pending-that-clears-never-notifies", () => {
    expect(run(rule, ["breach", "ok", "breach"])).toEqual(["pending", "inactive", "pending"]);
  });

  it("for-zero-fires-at-once", () => {
    expect(run({ ...rule, forMs: 0 }, ["breach"])).toEqual(["firing!firing"]);
  });

  it("repeat-interval-re-notifies-while-firing", () => {
    const trail = run({ ...rule, forMs: 0 }, ["breach", "breach", "breach", "breach", "breach", "breach", "breach"]);
    expect(trail).toEqual([
      "firing!firing",
      "firing",
      "firing",
      "firing!firing+",
      "firing",
      "firing",
      "firing!firing+",
    ]);
  });

  it("undelivered-firing-notification-is-retried-next-evaluation", () => {
    const trail = run({ ...rule, forMs: 0 }, ["breach", "breach"], false);
    expect(trail).toEqual(["firing!firing", "firing!firing+"]);
  });

  it("no-data: ok resolves, keep_state holds, alerting fires", () => {
    expect(run(rule, ["breach", "breach", "breach", "nodata", "nodata"])).toEqual([
      "pending",
      "pending",
      "firing!firing",
      "resolved!resolved",
      "nodata",
    ]);
    expect(run({ ...rule, noData: "keep_state" }, ["breach", "breach", "breach", "nodata", "nodata", "ok"])).toEqual([
      "pending",
      "pending",
      "firing!firing",
      "firing",
      "firing",
      "resolved!resolved",
    ]);
    expect(run({ ...rule, noData: "alerting" }, ["nodata", "nodata", "nodata"])).toEqual([
      "pending",
      "pending",
      "firing!firing",
    ]);
    expect(run(rule, ["nodata", "ok"])).toEqual(["nodata", "inactive"]);
  });

  it("fingerprints depend on rule and labels, not label order", () => {
    expect(fingerprint("r", { a: "1", b: "2" })).toBe(fingerprint("r", { b: "2", a: "1" }));
    expect(fingerprint("r", { a: "1" })).not.toBe(fingerprint("r2", { a: "1" }));
    expect(fingerprint("r", { a: "1" })).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("divergences", () => {
  it("jensen-shannon: 0 for equal mixes, 1 for disjoint ones, symmetric", () => {
    expect(jensenShannon([10, 20], [1, 2])).toBeCloseTo(0, 12);
    expect(jensenShannon([5, 0], [0, 5])).toBeCloseTo(1, 12);
    expect(jensenShannon([1, 0], [1, 1])).toBeCloseTo(jensenShannon([1, 1], [1, 0]), 12);
    expect(jensenShannon([1, 0], [1, 1])).toBeCloseTo(0.3112781, 6);
  });

  it("psi: empty bins floored at epsilon keep it finite", () => {
    expect(populationStabilityIndex([10, 10], [10, 10])).toBe(0);
    const psi = populationStabilityIndex([10, 0], [0, 10], 1e-4);
    expect(Number.isFinite(psi)).toBe(true);
    expect(psi).toBeCloseTo(2 * (1 - 1e-4) * Math.log(1 / 1e-4), 6);
  });
});
