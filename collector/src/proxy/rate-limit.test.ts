import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limit.js";

describe("RateLimiter", () => {
  it("burst-then-refill-at-the-sustained-rate", () => {
    let now = 0;
    const rl = new RateLimiter({ t: { requestsPerMinute: 60, burst: 2 } }, () => now);
    expect(rl.check(undefined, "t")).toBeUndefined();
    expect(rl.check(undefined, "t")).toBeUndefined();
    const denied = rl.check(undefined, "t");
    expect(denied).toMatchObject({ scope: "team", name: "t" });
    expect(denied?.retryAfterSeconds).toBeCloseTo(1, 5);
    now = 1000;
    expect(rl.check(undefined, "t")).toBeUndefined();
  });

  it("unconfigured-teams-and-prototype-names-are-not-limited", () => {
    const rl = new RateLimiter({ t: { requestsPerMinute: 1, burst: 1 } });
    for (let i = 0; i < 5; i++) {
      expect(rl.check(undefined, "other")).toBeUndefined();
      expect(rl.check(undefined, "constructor")).toBeUndefined();
    }
  });

  it("a-team-refusal-gives-the-key-its-token-back", () => {
    let now = 0;
    const rl = new RateLimiter({ t: { requestsPerMinute: 1, burst: 1 } }, () => now);
    const key = { id: "k", rateLimit: { requestsPerMinute: 60, burst: 2 } };
    expect(rl.check(key, "t")).toBeUndefined();
    expect(rl.check(key, "t")).toMatchObject({ scope: "team" });
    // The key spent one token only: one more is allowed for a team without limits.
    expect(rl.check(key, "free")).toBeUndefined();
    expect(rl.check(key, "free")).toMatchObject({ scope: "virtual_key", name: "k" });
    now = 0;
  });
});
