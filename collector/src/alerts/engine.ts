import type { ClickHouseClient } from "@clickhouse/client";
import type { Logger } from "../logger.js";
import { type AlertEventRow, eventOf, latestEvents, writeEvents } from "./alert-events.js";
import {
  type EvaluationContext,
  evaluateRule,
  isBreach,
  MissingSourceError,
  planDrift,
  type Sample,
} from "./evaluate-rule.js";
import { notifyAll } from "./notifiers/dispatch.js";
import type { AlertNotification, DeliveryResult, Notifier, Severity } from "./notifiers/types.js";
import { type Rule, resolveThreshold, ruleOp, ruleThreshold } from "./rules.js";
import type { BudgetStatusSource, CostAnomalySource } from "./sources.js";
import {
  type AlertStateName,
  fingerprint,
  isActive,
  type Observation,
  type SeriesState,
  type StepResult,
  step,
} from "./state-machine.js";
import { formatNumber, renderTemplate } from "./template.js";

/**
 * The alert engine: on every interval, each rule is evaluated against ClickHouse into samples,
 * each sample moves its series through the state machine, transitions are written to
 * alert_events and notifications go out. At start the latest event of each series is read
 * back, so pending timers, firing alerts and notification times survive a restart.
 */

export interface AlertEngineOptions {
  client: ClickHouseClient;
  database: string;
  rules: readonly Rule[];
  notifiers: readonly Notifier[];
  logger: Logger;
  intervalMs: number;
  /** Unix ms; tests inject a fake clock. */
  clock?: () => number;
  /** Base URL for links in notifications. */
  externalUrl?: string;
  drift?: { minSamples: number; epsilon: number };
  maxSeriesPerRule?: number;
  budgets?: BudgetStatusSource | undefined;
  anomalies?: CostAnomalySource | undefined;
  /** How long resolved and no-data series stay listed. */
  retentionMs?: number;
  /** Notifications in flight at once. */
  notifyConcurrency?: number;
}

/** One series as GET /api/v1/alerts shows it; times are ISO-8601. */
export interface AlertView {
  rule: string;
  kind: string;
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: AlertStateName;
  value: number | null;
  threshold: number | null;
  statistic: string;
  p_value: number | null;
  severity: string;
  since: string;
  active_since: string | null;
  fired_at: string | null;
  last_notified: string | null;
  last_evaluated: string;
}

export interface EvaluationReport {
  /** Evaluation time, Unix ms. */
  at: number;
  events: AlertEventRow[];
  notifications: { fingerprint: string; rule: string; status: "firing" | "resolved"; results: DeliveryResult[] }[];
  errors: { rule: string; message: string }[];
}

export interface AlertFilter {
  states?: readonly AlertStateName[] | undefined;
  rule?: string | undefined;
  fingerprint?: string | undefined;
}

export interface AlertEngine {
  readonly rules: readonly Rule[];
  /** Evaluates every rule once at the clock's time (restoring state first if needed). */
  evaluateOnce(): Promise<EvaluationReport>;
  /** Restores state and evaluates every intervalMs until close(). */
  start(): Promise<void>;
  /** Current series, sorted by rule then fingerprint. */
  alerts(filter?: AlertFilter): AlertView[];
  close(): Promise<void>;
}

interface Outgoing {
  series: SeriesState;
  notification: AlertNotification;
  targets: readonly Notifier[];
  /** The first notification or a repeat: updates last_notified on success. */
  counts: boolean;
  /** A repeat of a firing series: written to alert_events once delivered (for last_notified). */
  recordWhenDelivered?: boolean;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function createAlertEngine(options: AlertEngineOptions): AlertEngine {
  const {
    client,
    database,
    rules,
    notifiers,
    logger,
    intervalMs,
    clock = Date.now,
    externalUrl = "http://127.0.0.1:4318",
    drift = { minSamples: 100, epsilon: 1e-4 },
    maxSeriesPerRule = 500,
    retentionMs = 86_400_000,
    notifyConcurrency = 8,
  } = options;
  const rulesByName = new Map(rules.map((r) => [r.name, r]));
  const states = new Map<string, SeriesState>();
  const warnedMissing = new Set<string>();
  let restored: Promise<void> | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const generatorUrl = (fp: string) =>
    `${externalUrl.replace(/\/+$/, "")}/api/v1/alerts?fingerprint=${encodeURIComponent(fp)}`;

  function targetsOf(rule: Rule | undefined): readonly Notifier[] {
    if (!rule?.notifiers) return notifiers;
    const wanted = new Set(rule.notifiers);
    return notifiers.filter((n) => wanted.has(n.name));
  }

  function notificationOf(
    s: SeriesState,
    status: "firing" | "resolved",
    repeat: boolean,
    now: number,
    details: Record<string, number | string | undefined>,
  ): AlertNotification {
    return {
      status,
      repeat,
      rule: s.rule,
      kind: s.kind,
      fingerprint: s.fingerprint,
      severity: s.severity as Severity,
      labels: s.labels,
      annotations: s.annotations,
      value: s.value,
      threshold: s.threshold,
      statistic: s.statistic,
      startsAt: s.firedAt ?? s.activeSince ?? now,
      endsAt: status === "resolved" ? now : null,
      // Prometheus' choice: valid for four intervals, refreshed every one.
      validUntil: status === "firing" ? now + 4 * intervalMs : null,
      generatorUrl: generatorUrl(s.fingerprint),
      details,
    };
  }

  function annotate(rule: Rule, labels: Record<string, string>, sample: Sample | undefined, s: SeriesState) {
    const data = {
      value: s.value,
      threshold: s.threshold,
      rule: rule.name,
      statistic: s.statistic,
      severity: rule.severity,
      labels,
      details: { p_value: s.p_value ?? undefined, ...(sample?.details ?? {}) },
    };
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(rule.annotations)) out[k] = renderTemplate(v, data);
    if (!out["summary"]) {
      const group = Object.entries(labels)
        .filter(([k]) => k !== "alertname" && k !== "severity")
        .map(([k, v]) => `${k}=${v}`)
        .join(", ");
      out["summary"] =
        `${rule.name}: ${s.statistic} ${formatNumber(s.value)} ${ruleOp(rule)} ${formatNumber(s.threshold)}${group ? ` (${group})` : ""}`;
    }
    return out;
  }

  async function restore(): Promise<void> {
    const now = clock();
    const rows = await latestEvents(client, database, now - retentionMs);
    const orphans: Outgoing[] = [];
    const events: AlertEventRow[] = [];
    for (const row of rows) {
      const s: SeriesState = {
        rule: row.rule,
        kind: row.kind,
        severity: row.severity,
        fingerprint: row.fingerprint,
        labels: row.labels,
        annotations: row.annotations,
        state: row.state,
        value: row.value,
        threshold: row.threshold,
        statistic: row.statistic,
        p_value: row.p_value,
        since: row.timestamp,
        activeSince: row.active_since,
        firedAt: row.fired_at,
        lastNotified: row.last_notified,
        lastEvaluated: row.timestamp,
        lastSeen: row.timestamp,
      };
      if (rulesByName.has(row.rule)) {
        states.set(s.fingerprint, s);
        continue;
      }
      // The rule is gone: close what it left open, or a pager stays open forever.
      if (s.state === "firing") {
        const closedSeries: SeriesState = { ...s, state: "resolved", since: now, activeSince: null, value: null };
        events.push(eventOf(closedSeries, "firing", now));
        orphans.push({
          series: closedSeries,
          notification: notificationOf(closedSeries, "resolved", false, now, { reason: "rule removed" }),
          targets: notifiers.filter((n) => n.sendResolved),
          counts: false,
        });
      }
    }
    if (orphans.length > 0) {
      logger.info({ series: orphans.length }, "resolving alerts whose rule was removed");
      await deliver(orphans, now);
      await persist(events);
    }
    logger.debug({ series: states.size }, "alert state restored");
  }

  async function deliver(outgoing: Outgoing[], now: number): Promise<EvaluationReport["notifications"]> {
    const report: EvaluationReport["notifications"] = [];
    let next = 0;
    const worker = async () => {
      while (next < outgoing.length) {
        const o = outgoing[next++];
        if (!o) break;
        const results = o.targets.length > 0 ? await notifyAll(o.targets, o.notification, logger) : [];
        report.push({ fingerprint: o.series.fingerprint, rule: o.series.rule, status: o.notification.status, results });
        // No target at all counts as delivered, or the rule would retry forever.
        if (o.counts && (results.length === 0 || results.some((r) => r.ok))) o.series.lastNotified = now;
      }
    };
    await Promise.all(Array.from({ length: Math.min(notifyConcurrency, outgoing.length) }, worker));
    return report;
  }

  async function persist(events: AlertEventRow[]): Promise<void> {
    try {
      await writeEvents(client, database, events);
    } catch (err) {
      // State stays right in memory; only a restart before the next write would lose it.
      logger.error({ err: (err as Error).message, events: events.length }, "cannot write alert_events");
    }
  }

  /** Restores once; a failed restore is retried by the next evaluation rather than skipped. */
  function ensureRestored(): Promise<void> {
    restored ??= restore().catch((err: unknown) => {
      restored = undefined;
      throw err;
    });
    return restored;
  }

  async function evaluate(): Promise<EvaluationReport> {
    await ensureRestored();
    const now = clock();
    const ctx: EvaluationContext = {
      client,
      database,
      now,
      drift,
      budgets: options.budgets,
      anomalies: options.anomalies,
      driftMemo: new Map(),
    };
    ctx.driftStatistics = planDrift(rules, ctx);
    const report: EvaluationReport = { at: now, events: [], notifications: [], errors: [] };
    const outgoing: Outgoing[] = [];
    // Transitions wait for delivery so their rows carry last_notified.
    const recorded: { series: SeriesState; previous: AlertStateName }[] = [];

    for (const rule of rules) {
      let samples: Sample[];
      try {
        samples = await evaluateRule(rule, ctx);
      } catch (err) {
        if (err instanceof MissingSourceError) {
          if (!warnedMissing.has(rule.name)) logger.warn({ rule: rule.name }, err.message);
          warnedMissing.add(rule.name);
          samples = [];
        } else {
          // A failed query says nothing about the data: leave every series as it is.
          const message = (err as Error).message;
          logger.error({ rule: rule.name, err: message }, "alert rule evaluation failed");
          report.errors.push({ rule: rule.name, message });
          continue;
        }
      }
      if (samples.length > maxSeriesPerRule) {
        logger.warn(
          { rule: rule.name, series: samples.length, kept: maxSeriesPerRule },
          "too many series: extra dropped",
        );
        samples = samples.slice(0, maxSeriesPerRule);
      }
      const threshold = ruleThreshold(rule);
      const resolveAt = resolveThreshold(rule);
      const stepRule = { forMs: rule.for, repeatMs: rule.repeat_interval, noData: rule.no_data };
      const seen = new Set<string>();
      const targets = targetsOf(rule);

      const apply = (prev: SeriesState, obs: Observation, sample: Sample | undefined) => {
        const result: StepResult = step(prev, obs, stepRule, now);
        const next = result.next;
        states.set(next.fingerprint, next);
        if (result.transition) recorded.push({ series: next, previous: prev.state });
        if (result.notify) {
          const resolved = result.notify.status === "resolved";
          const to = resolved ? targets.filter((n) => n.sendResolved) : targets;
          outgoing.push({
            series: next,
            notification: notificationOf(next, result.notify.status, result.notify.repeat, now, sample?.details ?? {}),
            targets: to,
            counts: !resolved,
            recordWhenDelivered: !resolved && !result.transition,
          });
        } else if (next.state === "firing") {
          // Receivers that expire alerts hear about every firing series on every evaluation.
          const refresh = targets.filter((n) => n.refreshFiring);
          if (refresh.length > 0) {
            outgoing.push({
              series: next,
              notification: notificationOf(next, "firing", true, now, sample?.details ?? {}),
              targets: refresh,
              counts: false,
            });
          }
        }
      };

      for (const sample of samples) {
        const groupLabels = sample.labels;
        const fp = fingerprint(rule.name, groupLabels);
        if (seen.has(fp)) continue;
        seen.add(fp);
        const labels = { ...groupLabels, ...rule.labels, alertname: rule.name, severity: rule.severity };
        const known = states.get(fp);
        const prev: SeriesState = {
          ...(known ?? {
            rule: rule.name,
            kind: rule.kind,
            fingerprint: fp,
            state: "inactive" as const,
            since: now,
            activeSince: null,
            firedAt: null,
            lastNotified: null,
            lastEvaluated: now,
            lastSeen: now,
            annotations: {},
          }),
          kind: rule.kind,
          severity: rule.severity,
          labels,
          value: sample.value,
          threshold,
          statistic: sample.statistic,
          p_value: sample.p_value ?? null,
        };
        prev.annotations = annotate(rule, labels, sample, prev);
        const obs: Observation =
          sample.value === null
            ? "nodata"
            : isBreach(rule, sample, threshold, resolveAt, isActive(prev.state))
              ? "breach"
              : "ok";
        apply(prev, obs, sample);
      }
      for (const s of [...states.values()]) {
        if (s.rule !== rule.name || seen.has(s.fingerprint)) continue;
        apply({ ...s, value: null, p_value: null }, "nodata", undefined);
      }
    }

    report.notifications = await deliver(outgoing, now);
    for (const o of outgoing) {
      if (o.recordWhenDelivered && o.series.lastNotified === now)
        recorded.push({ series: o.series, previous: "firing" });
    }
    report.events = recorded.map((r) => eventOf(r.series, r.previous, now));
    await persist(report.events);
    prune(now);
    return report;
  }

  function prune(now: number) {
    for (const [fp, s] of states) {
      if (!rulesByName.has(s.rule)) states.delete(fp);
      else if (s.state === "resolved" && now - s.since > retentionMs) states.set(fp, { ...s, state: "inactive" });
      else if ((s.state === "nodata" || s.state === "inactive") && now - s.lastSeen > retentionMs) states.delete(fp);
    }
  }

  function evaluateOnce(): Promise<EvaluationReport> {
    const run = chain.then(evaluate);
    chain = run.catch(() => {});
    return run;
  }

  function schedule() {
    if (closed) return;
    timer = setTimeout(() => {
      evaluateOnce()
        .catch((err: unknown) => logger.error({ err: (err as Error).message }, "alert evaluation failed"))
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  return {
    rules,
    evaluateOnce,
    async start() {
      try {
        await ensureRestored();
      } catch (err) {
        // Storage may come up later; each evaluation retries the restore before evaluating.
        logger.error({ err: (err as Error).message }, "cannot read alert_events; retrying at the next evaluation");
      }
      // First evaluation right away, then every interval after the previous one ends.
      void evaluateOnce()
        .catch((err: unknown) => logger.error({ err: (err as Error).message }, "alert evaluation failed"))
        .finally(schedule);
    },
    alerts(filter = {}) {
      const wanted: readonly AlertStateName[] = filter.states ?? ["pending", "firing", "resolved", "nodata"];
      return [...states.values()]
        .filter(
          (s) =>
            wanted.includes(s.state) &&
            (filter.rule === undefined || s.rule === filter.rule) &&
            (filter.fingerprint === undefined || s.fingerprint === filter.fingerprint),
        )
        .sort((a, b) => a.rule.localeCompare(b.rule) || a.fingerprint.localeCompare(b.fingerprint))
        .map((s) => ({
          rule: s.rule,
          kind: s.kind,
          fingerprint: s.fingerprint,
          labels: s.labels,
          annotations: s.annotations,
          state: s.state,
          value: s.value,
          threshold: s.threshold,
          statistic: s.statistic,
          p_value: s.p_value,
          severity: s.severity,
          since: new Date(s.since).toISOString(),
          active_since: iso(s.activeSince),
          fired_at: iso(s.firedAt),
          last_notified: iso(s.lastNotified),
          last_evaluated: new Date(s.lastEvaluated).toISOString(),
        }));
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await chain;
    },
  };
}
