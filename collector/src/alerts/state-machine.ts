import { createHash } from "node:crypto";

/**
 * The life of one alert series (a rule and one set of group labels):
 *
 *   inactive --breach--> pending --breach for `for`--> firing --ok--> resolved
 *       ^                   |                            |  ^           |
 *       +-------ok----------+               breach, repeat_interval     +--breach--> pending
 *
 * With `for: 0` a breach goes straight to firing. A series with no result follows the rule's
 * `no_data`: `ok` resolves it, `alerting` counts as a breach, `keep_state` freezes a pending
 * or firing series. A series that is neither pending nor firing and loses its data is marked
 * `nodata` (and written to alert_events when it had fired before). Pure functions: the engine feeds observations in and acts on what comes out.
 */

export type AlertStateName = "inactive" | "pending" | "firing" | "resolved" | "nodata";

export interface SeriesState {
  rule: string;
  kind: string;
  severity: string;
  fingerprint: string;
  /** Every label of the alert: alertname, severity, the rule's labels, the group's labels. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: AlertStateName;
  /** The latest value (null when there was no data). */
  value: number | null;
  threshold: number | null;
  statistic: string;
  p_value: number | null;
  /** When the series entered `state`, Unix ms. */
  since: number;
  /** When the current pending/firing episode began. */
  activeSince: number | null;
  /** When it last started firing. */
  firedAt: number | null;
  /** When a firing notification last reached at least one notifier. */
  lastNotified: number | null;
  lastEvaluated: number;
  /** The last evaluation that had data. */
  lastSeen: number;
}

export type Observation = "breach" | "ok" | "nodata";

export interface StepRule {
  forMs: number;
  repeatMs: number;
  noData: "ok" | "alerting" | "keep_state";
}

export interface StepResult {
  next: SeriesState;
  /** The state changed: write an alert_events row. */
  transition: boolean;
  /** Notification to send, if any. `repeat` marks a re-notification of a firing series. */
  notify: { status: "firing" | "resolved"; repeat: boolean } | null;
}

/** Stable id of a series: rule name plus its sorted group labels. */
export function fingerprint(rule: string, labels: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]]);
  return createHash("sha256")
    .update(JSON.stringify([rule, sorted]))
    .digest("hex")
    .slice(0, 16);
}

export function isActive(state: AlertStateName): boolean {
  return state === "pending" || state === "firing";
}

function enter(prev: SeriesState, state: AlertStateName, now: number): SeriesState {
  return { ...prev, state, since: now };
}

/**
 * One evaluation of one series. `prev` carries the fields of this evaluation (value,
 * annotations, ...) already updated by the caller; only the state fields change here.
 */
export function step(prev: SeriesState, observed: Observation, rule: StepRule, now: number): StepResult {
  let obs = observed;
  const base: SeriesState = { ...prev, lastEvaluated: now, lastSeen: observed === "nodata" ? prev.lastSeen : now };
  if (obs === "nodata") {
    if (rule.noData === "alerting") obs = "breach";
    else if (rule.noData === "keep_state" && isActive(prev.state)) {
      return repeatIfDue(base, rule, now);
    } else if (rule.noData === "ok" && isActive(prev.state)) {
      obs = "ok";
    } else {
      // Not active and nothing to judge: mark the gap. Only a series that had fired is worth a
      // row; groups whose traffic comes and goes would otherwise write one per dip.
      if (prev.state === "nodata") return { next: base, transition: false, notify: null };
      return {
        next: { ...enter(base, "nodata", now), activeSince: null },
        transition: prev.state === "resolved",
        notify: null,
      };
    }
  }

  if (obs === "breach") {
    switch (prev.state) {
      case "firing":
        return repeatIfDue(base, rule, now);
      case "pending": {
        const since = prev.activeSince ?? now;
        if (now - since >= rule.forMs) return fire(base, since, now);
        return { next: base, transition: false, notify: null };
      }
      default:
        if (rule.forMs <= 0) return fire(base, now, now);
        return { next: { ...enter(base, "pending", now), activeSince: now }, transition: true, notify: null };
    }
  }

  // ok
  switch (prev.state) {
    case "firing":
      return {
        next: { ...enter(base, "resolved", now), activeSince: null },
        transition: true,
        notify: { status: "resolved", repeat: false },
      };
    case "pending":
      // Cleared before `for` elapsed: nobody was told, nobody needs to be.
      return { next: { ...enter(base, "inactive", now), activeSince: null }, transition: true, notify: null };
    case "nodata":
      return { next: { ...enter(base, "inactive", now), activeSince: null }, transition: false, notify: null };
    default:
      return { next: base, transition: false, notify: null };
  }
}

function fire(base: SeriesState, activeSince: number, now: number): StepResult {
  return {
    next: { ...enter(base, "firing", now), activeSince, firedAt: now, lastNotified: null },
    transition: true,
    notify: { status: "firing", repeat: false },
  };
}

function repeatIfDue(base: SeriesState, rule: StepRule, now: number): StepResult {
  if (base.state !== "firing") return { next: base, transition: false, notify: null };
  // lastNotified stays null while no notifier has accepted the alert: try again each time.
  const due = base.lastNotified === null || now - base.lastNotified >= rule.repeatMs;
  return { next: base, transition: false, notify: due ? { status: "firing", repeat: true } : null };
}
