/**
 * Request-rate limits per virtual key and per team: token buckets refilled continuously. A
 * bucket exists only for a configured key or team, so the map is bounded by the config.
 */
import type { Config } from "../config/schema.js";

type RateLimitConfig = Config["proxy"]["rateLimits"]["teams"][string];

export class TokenBucket {
  readonly capacity: number;
  /** Tokens per millisecond. */
  readonly #rate: number;
  #tokens: number;
  #last: number;

  constructor(limit: RateLimitConfig, nowMs: number) {
    const perMinute = limit.requestsPerMinute;
    this.capacity = limit.burst ?? Math.max(1, Math.ceil(perMinute / 6));
    this.#rate = perMinute / 60_000;
    this.#tokens = this.capacity;
    this.#last = nowMs;
  }

  /** Takes one token; returns 0 when granted, else the seconds until one is available. */
  take(nowMs: number): number {
    if (nowMs > this.#last) {
      this.#tokens = Math.min(this.capacity, this.#tokens + (nowMs - this.#last) * this.#rate);
      this.#last = nowMs;
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return (1 - this.#tokens) / this.#rate / 1000;
  }

  /** Gives back a token taken for a request that was then refused by another limit. */
  refund(): void {
    this.#tokens = Math.min(this.capacity, this.#tokens + 1);
  }
}

export interface RateLimitDenial {
  /** "virtual_key" or "team". */
  scope: "virtual_key" | "team";
  /** The key id or team name. */
  name: string;
  retryAfterSeconds: number;
}

export class RateLimiter {
  readonly #teams = new Map<string, TokenBucket>();
  readonly #keys = new Map<string, TokenBucket>();
  readonly #teamLimits: Readonly<Record<string, RateLimitConfig>>;
  readonly #now: () => number;

  /** Whether any team has a limit (fixed at construction; read on every request). */
  readonly enabled: boolean;

  constructor(teamLimits: Readonly<Record<string, RateLimitConfig>>, now: () => number = Date.now) {
    this.#teamLimits = teamLimits;
    this.#now = now;
    this.enabled = Object.keys(teamLimits).length > 0;
  }

  /**
   * Takes a token from the virtual key's bucket and the team's; undefined when the request may
   * go, else which limit refused it. A request refused by one limit does not spend the other.
   */
  check(
    key: { id: string; rateLimit: RateLimitConfig | undefined } | undefined,
    team: string,
  ): RateLimitDenial | undefined {
    const now = this.#now();
    let keyBucket: TokenBucket | undefined;
    if (key?.rateLimit !== undefined) {
      keyBucket = this.#keys.get(key.id);
      if (keyBucket === undefined) {
        keyBucket = new TokenBucket(key.rateLimit, now);
        this.#keys.set(key.id, keyBucket);
      }
      const wait = keyBucket.take(now);
      if (wait > 0) return { scope: "virtual_key", name: key.id, retryAfterSeconds: wait };
    }
    const teamLimit = team !== "" && Object.hasOwn(this.#teamLimits, team) ? this.#teamLimits[team] : undefined;
    if (teamLimit !== undefined) {
      let bucket = this.#teams.get(team);
      if (bucket === undefined) {
        bucket = new TokenBucket(teamLimit, now);
        this.#teams.set(team, bucket);
      }
      const wait = bucket.take(now);
      if (wait > 0) {
        keyBucket?.refund();
        return { scope: "team", name: team, retryAfterSeconds: wait };
      }
    }
    return undefined;
  }
}
