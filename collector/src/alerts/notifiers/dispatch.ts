import type { Logger } from "../../logger.js";
import type { AlertNotification, DeliveryResult, Notifier } from "./types.js";

/**
 * Sends one notification to several notifiers at once. Each notifier has its own retries and
 * deadline, and Promise.allSettled means a failing or slow one never holds back the others.
 */
export async function notifyAll(
  notifiers: readonly Notifier[],
  notification: AlertNotification,
  logger?: Logger,
): Promise<DeliveryResult[]> {
  const settled = await Promise.allSettled(notifiers.map((n) => n.send(notification)));
  return settled.map((s, i) => {
    const notifier = notifiers[i]?.name ?? "?";
    if (s.status === "fulfilled") return { notifier, ok: true, attempts: s.value.attempts };
    const err = s.reason as { message?: string; attempts?: number };
    logger?.warn(
      {
        notifier,
        rule: notification.rule,
        fingerprint: notification.fingerprint,
        status: notification.status,
        err: err.message,
      },
      "alert notification failed",
    );
    return { notifier, ok: false, attempts: err.attempts ?? 0, error: err.message ?? String(s.reason) };
  });
}
