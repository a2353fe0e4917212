import { createHmac } from "node:crypto";
import type { WebhookNotifierConfig } from "../config.js";
import { type HttpDeps, postJson } from "./http.js";
import type { AlertNotification, Notifier } from "./types.js";

/**
 * Generic webhook: the notification as JSON. With a secret, `X-Tokenmeter-Signature` is
 * `sha256=` + hex HMAC-SHA256 of the exact body bytes, and `X-Tokenmeter-Timestamp` (Unix
 * seconds) equals the body's `sent_at`, so a receiver can reject stale replays using signed data.
 */

export const SIGNATURE_HEADER = "x-tokenmeter-signature";
export const TIMESTAMP_HEADER = "x-tokenmeter-timestamp";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function webhookBody(n: AlertNotification, sentAtSeconds: number): string {
  return JSON.stringify({
    version: "1",
    status: n.status,
    repeat: n.repeat,
    rule: n.rule,
    kind: n.kind,
    fingerprint: n.fingerprint,
    severity: n.severity,
    labels: n.labels,
    annotations: n.annotations,
    value: n.value,
    threshold: n.threshold,
    statistic: n.statistic,
    details: n.details,
    starts_at: iso(n.startsAt),
    ends_at: iso(n.endsAt),
    generator_url: n.generatorUrl,
    sent_at: iso(sentAtSeconds * 1000),
  });
}

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function createWebhookNotifier(
  config: WebhookNotifierConfig,
  secrets: { url: string; secret: string | undefined },
  deps: HttpDeps & { now?: () => number } = {},
): Notifier {
  const now = deps.now ?? Date.now;
  return {
    name: config.name,
    type: "webhook",
    sendResolved: config.sendResolved,
    refreshFiring: false,
    async send(n) {
      const sentAt = Math.floor(now() / 1000);
      const body = webhookBody(n, sentAt);
      const headers: Record<string, string> = { ...config.headers, [TIMESTAMP_HEADER]: String(sentAt) };
      if (secrets.secret) headers[SIGNATURE_HEADER] = signBody(secrets.secret, body);
      return postJson(secrets.url, body, headers, config, deps);
    },
  };
}
