/**
 * What the engine hands every notifier. Times are Unix ms; each notifier renders its own
 * payload from this.
 */

export type Severity = "critical" | "error" | "warning" | "info";

export interface AlertNotification {
  status: "firing" | "resolved";
  /** A firing series notified again after repeat_interval, or re-sent to keep it alive. */
  repeat: boolean;
  rule: string;
  kind: string;
  /** Series id: stable across evaluations and restarts; PagerDuty's dedup_key. */
  fingerprint: string;
  severity: Severity;
  /** `alertname` (the rule), `severity`, the rule's own labels and the group's labels. */
  labels: Record<string, string>;
  /** Rendered rule annotations; `summary` is always present. */
  annotations: Record<string, string>;
  value: number | null;
  threshold: number | null;
  statistic: string;
  /** When the alert started firing. */
  startsAt: number;
  /** When it resolved; null while firing. */
  endsAt: number | null;
  /**
   * While firing: until when the alert holds without being sent again. Receivers that expire
   * alerts (Alertmanager) get it as their end time and are refreshed every evaluation.
   */
  validUntil: number | null;
  /** Link back to this alert on the collector's API. */
  generatorUrl: string;
  /** Facts the rule kind reports (ref_mean, cur_mean, calls, spent_usd, ...). */
  details: Record<string, number | string | undefined>;
}

export interface Notifier {
  readonly name: string;
  readonly type: "webhook" | "slack" | "pagerduty" | "alertmanager";
  readonly sendResolved: boolean;
  /** Wants every firing alert on every evaluation (it expires alerts that are not re-sent). */
  readonly refreshFiring: boolean;
  /** Delivers one notification, retries included; throws DeliveryError when it gives up. */
  send(notification: AlertNotification): Promise<{ attempts: number }>;
}

export interface DeliveryResult {
  notifier: string;
  ok: boolean;
  attempts: number;
  error?: string | undefined;
}
