import type { AlertmanagerNotifierConfig } from "../config.js";
import { formatNumber } from "../template.js";
import { type HttpDeps, postJson } from "./http.js";
import type { AlertNotification, Notifier } from "./types.js";

/**
 * Alertmanager API v2 (`POST /api/v2/alerts`, a list of postable alerts). Alertmanager
 * identifies an alert by its labels and expires one that is not re-sent before its endsAt, so a
 * firing alert is sent on every evaluation with endsAt a few intervals ahead (as Prometheus
 * does), and a resolved one once with endsAt set to when it resolved.
 */

export function alertmanagerAlerts(n: AlertNotification): Record<string, unknown>[] {
  const annotations: Record<string, string> = { ...n.annotations };
  annotations["value"] ??= formatNumber(n.value);
  if (n.threshold !== null) annotations["threshold"] ??= formatNumber(n.threshold);
  const endsAt = n.status === "resolved" ? n.endsAt : n.validUntil;
  return [
    {
      labels: n.labels,
      annotations,
      startsAt: new Date(n.startsAt).toISOString(),
      ...(endsAt !== null ? { endsAt: new Date(endsAt).toISOString() } : {}),
      generatorURL: n.generatorUrl,
    },
  ];
}

export function createAlertmanagerNotifier(
  config: AlertmanagerNotifierConfig,
  bearerToken: string | undefined,
  deps: HttpDeps = {},
): Notifier {
  const url = `${config.url.replace(/\/+$/, "")}/api/v2/alerts`;
  const headers: Record<string, string> = bearerToken ? { authorization: `Bearer ${bearerToken}` } : {};
  return {
    name: config.name,
    type: "alertmanager",
    sendResolved: config.sendResolved,
    refreshFiring: true,
    send: (n) => postJson(url, JSON.stringify(alertmanagerAlerts(n)), headers, config, deps),
  };
}
