import type { PagerdutyNotifierConfig } from "../config.js";
import { type HttpDeps, postJson } from "./http.js";
import type { AlertNotification, Notifier } from "./types.js";

/**
 * PagerDuty Events API v2 (`POST /v2/enqueue`). The series fingerprint is the dedup_key, so a
 * re-notification updates the open alert instead of opening another, and the resolve event
 * closes exactly the alert the trigger opened.
 */

const SUMMARY_MAX = 1024;

export function pagerdutyEvent(n: AlertNotification, routingKey: string, source: string): Record<string, unknown> {
  if (n.status === "resolved") {
    return { routing_key: routingKey, event_action: "resolve", dedup_key: n.fingerprint };
  }
  const summary = n.annotations["summary"] ?? n.rule;
  return {
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: n.fingerprint,
    payload: {
      summary: summary.length > SUMMARY_MAX ? `${summary.slice(0, SUMMARY_MAX - 1)}…` : summary,
      source,
      severity: n.severity,
      timestamp: new Date(n.startsAt).toISOString(),
      component: n.labels["model"],
      group: n.labels["team"],
      class: n.statistic,
      custom_details: {
        rule: n.rule,
        kind: n.kind,
        value: n.value,
        threshold: n.threshold,
        statistic: n.statistic,
        labels: n.labels,
        annotations: n.annotations,
        details: n.details,
      },
    },
    client: "tokenmeter",
    client_url: n.generatorUrl,
  };
}

export function createPagerdutyNotifier(
  config: PagerdutyNotifierConfig,
  routingKey: string,
  deps: HttpDeps = {},
): Notifier {
  return {
    name: config.name,
    type: "pagerduty",
    sendResolved: config.sendResolved,
    refreshFiring: false,
    send: (n) => postJson(config.url, JSON.stringify(pagerdutyEvent(n, routingKey, config.source)), {}, config, deps),
  };
}
