import { createHash } from "node:crypto";
import type { CounterRef } from "./budget-store.js";
import type { BudgetDefinition, BudgetScope, BudgetsConfig } from "./config.js";
import type { SpendFilter } from "./spend.js";
import { type CalendarUnit, calendarWindow } from "./time-zone.js";

/**
 * Where a budget's window lies at an instant, and which counters hold it.
 *
 * - Calendar windows (daily, weekly, monthly) start at local midnight / the week's first day /
 *   the 1st in the budget's time zone; each window has its own counters, so a new window starts
 *   from zero at its boundary.
 * - Rolling windows count spend of the last `rolling` ms, in buckets: one-minute (or coarser,
 *   at most ~120 per window) for short windows, hourly from 48 hours on. The bucket holding the
 *   window's start counts whole, so a rolling budget errs toward refusing a little early.
 */

export interface BudgetWindow {
  kind: "calendar" | "rolling";
  /** "day" | "week" | "month" | "rolling_<duration>" */
  period: string;
  /** Unix ms, inclusive. */
  start: number;
  /** Unix ms, exclusive (`now` for rolling windows). */
  end: number;
  timezone: string;
  /** When spend starts leaving the window: the calendar window's end, or when the oldest rolling bucket drops out. */
  resetAt: number;
  ref: CounterRef;
}

const UNIT: Readonly<Record<"daily" | "weekly" | "monthly", CalendarUnit>> = {
  daily: "day",
  weekly: "week",
  monthly: "month",
};

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

export function rollingBucketMs(durationMs: number): number {
  if (durationMs >= 48 * HOUR) return HOUR;
  return Math.max(MINUTE, Math.ceil(durationMs / 120 / MINUTE) * MINUTE);
}

/** Definitions are immutable once parsed: their hash is computed once per zone and week start. */
const hashes = new WeakMap<BudgetDefinition, { zone: string; hash: string }>();

/** Short hash of what the counters mean: a changed scope or window starts fresh counters. */
function definitionHash(def: BudgetDefinition, tz: string, weekStart: string): string {
  const zone = `${tz}|${weekStart}`;
  const known = hashes.get(def);
  if (known !== undefined && known.zone === zone) return known.hash;
  const window = typeof def.window === "string" ? def.window : `rolling:${def.window.rolling}`;
  const hash = createHash("sha256")
    .update(JSON.stringify([scopeEntries(def.scope), window, tz, weekStart]))
    .digest("hex")
    .slice(0, 12);
  hashes.set(def, { zone, hash });
  return hash;
}

function scopeEntries(scope: BudgetScope): [string, string][] {
  const out: [string, string][] = [];
  for (const k of ["team", "project", "user", "virtualKey", "provider", "model"] as const) {
    const v = scope[k];
    if (v !== undefined) out.push([k, v]);
  }
  for (const [k, v] of Object.entries(scope.tags).sort()) out.push([`tag:${k}`, v]);
  return out;
}

export function budgetWindow(def: BudgetDefinition, config: BudgetsConfig, now: number): BudgetWindow {
  const tz = def.timezone ?? config.timezone;
  const hash = definitionHash(def, tz, config.weekStart);
  if (typeof def.window === "string") {
    const unit = UNIT[def.window];
    const { start, end } = calendarWindow(now, unit, tz, config.weekStart);
    return {
      kind: "calendar",
      period: unit,
      start,
      end,
      timezone: tz,
      resetAt: end,
      ref: { key: `${def.name}:${hash}:${start}`, bucket: start, minBucket: start, expireAt: end + 2 * DAY },
    };
  }
  const duration = def.window.rolling;
  const bucketMs = rollingBucketMs(duration);
  const start = now - duration;
  const minBucket = Math.floor(start / bucketMs) * bucketMs;
  return {
    kind: "rolling",
    period: `rolling_${formatPeriod(duration)}`,
    start,
    end: now,
    timezone: tz,
    resetAt: minBucket + bucketMs + duration,
    ref: {
      key: `${def.name}:${hash}:rolling`,
      bucket: Math.floor(now / bucketMs) * bucketMs,
      minBucket,
      expireAt: now + duration + bucketMs + DAY,
    },
  };
}

function formatPeriod(ms: number): string {
  if (ms % DAY === 0) return `${ms / DAY}d`;
  if (ms % HOUR === 0) return `${ms / HOUR}h`;
  return `${Math.round(ms / MINUTE)}m`;
}

/** Attribution of a call, as the proxy knows it. */
export interface BudgetSubject {
  team: string;
  project: string;
  user: string;
  virtualKeyId: string;
  provider: string;
  model: string;
  tags: Readonly<Record<string, string>>;
}

export function scopeMatches(scope: BudgetScope, s: BudgetSubject): boolean {
  if (scope.team !== undefined && scope.team !== s.team) return false;
  if (scope.project !== undefined && scope.project !== s.project) return false;
  if (scope.user !== undefined && scope.user !== s.user) return false;
  if (scope.virtualKey !== undefined && scope.virtualKey !== s.virtualKeyId) return false;
  if (scope.provider !== undefined && scope.provider !== s.provider) return false;
  if (scope.model !== undefined && scope.model !== s.model) return false;
  for (const [k, v] of Object.entries(scope.tags)) if (s.tags[k] !== v) return false;
  return true;
}

/** The scope as a filter on stored calls (the virtual key is the `virtual_key` tag). */
export function scopeFilter(scope: BudgetScope): SpendFilter {
  const tags: Record<string, string> = { ...scope.tags };
  if (scope.virtualKey !== undefined) tags["virtual_key"] = scope.virtualKey;
  return {
    team: scope.team,
    project: scope.project,
    provider: scope.provider,
    model: scope.model,
    user_id: scope.user,
    tags: Object.keys(tags).length ? tags : undefined,
  };
}

/** The scope as alert labels: team, project, user, virtual_key, provider, model, tag_<k>. */
export function scopeLabels(scope: BudgetScope): Record<string, string> {
  const out: Record<string, string> = {};
  if (scope.team !== undefined) out["team"] = scope.team;
  if (scope.project !== undefined) out["project"] = scope.project;
  if (scope.user !== undefined) out["user"] = scope.user;
  if (scope.virtualKey !== undefined) out["virtual_key"] = scope.virtualKey;
  if (scope.provider !== undefined) out["provider"] = scope.provider;
  if (scope.model !== undefined) out["model"] = scope.model;
  for (const [k, v] of Object.entries(scope.tags)) out[`tag_${k.replace(/[^A-Za-z0-9_]/g, "_")}`] = v;
  return out;
}

export function describeScope(scope: BudgetScope): string {
  const parts = scopeEntries(scope).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(", ") : "organization";
}
