import { z } from "zod";

/**
 * The `alerts` section of tokenmeter.yaml. Rules live in their own files (rulesGlob); this
 * section says where, how often to evaluate them, and where notifications go. Secrets (webhook
 * URLs with tokens, HMAC keys, routing keys) never appear here: each notifier names the
 * environment variable that holds its secret.
 */

const positiveInt = z.coerce.number().int().positive();
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");
const notifierName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "letters, digits, '_', '.', '-' (at most 64)");

/** Delivery settings every notifier shares. */
const delivery = {
  name: notifierName,
  /** Also notify when an alert resolves. */
  sendResolved: z.boolean().default(true),
  /** Deadline for one delivery, retries included. */
  timeoutMs: positiveInt.default(30_000),
  /** Deadline for one HTTP attempt. */
  attemptTimeoutMs: positiveInt.default(10_000),
  /** Attempts per delivery (first try included); 429, 5xx and network errors are retried. */
  maxAttempts: z.coerce.number().int().min(1).max(20).default(5),
  /** Backoff before retry n is a random delay in [0, min(maxBackoffMs, minBackoffMs * 2^n)]. */
  minBackoffMs: positiveInt.default(500),
  maxBackoffMs: positiveInt.default(30_000),
};

export const webhookNotifierSchema = z.strictObject({
  type: z.literal("webhook"),
  ...delivery,
  url: z.string().url().optional(),
  /** Environment variable holding the URL, when the URL itself carries a token. */
  urlEnv: envName.optional(),
  /** Environment variable holding the HMAC-SHA256 key; the body is signed when set. */
  secretEnv: envName.optional(),
  /** Extra headers sent as-is (not secrets). */
  headers: z.record(z.string(), z.string()).default({}),
});

export const slackNotifierSchema = z.strictObject({
  type: z.literal("slack"),
  ...delivery,
  /** Environment variable holding the incoming webhook URL (the URL is the credential). */
  webhookUrlEnv: envName,
});

export const pagerdutyNotifierSchema = z.strictObject({
  type: z.literal("pagerduty"),
  ...delivery,
  /** Events API v2 endpoint. */
  url: z.string().url().default("https://events.pagerduty.com/v2/enqueue"),
  /** Environment variable holding the integration's routing key. */
  routingKeyEnv: envName,
  /** `payload.source`: where the problem is. */
  source: z.string().min(1).default("tokenmeter"),
});

export const alertmanagerNotifierSchema = z.strictObject({
  type: z.literal("alertmanager"),
  ...delivery,
  /** Alertmanager base URL; alerts go to `<url>/api/v2/alerts`. */
  url: z.string().url(),
  /** Environment variable holding a bearer token, for an Alertmanager behind an auth proxy. */
  bearerTokenEnv: envName.optional(),
});

export const notifierConfigSchema = z
  .discriminatedUnion("type", [
    webhookNotifierSchema,
    slackNotifierSchema,
    pagerdutyNotifierSchema,
    alertmanagerNotifierSchema,
  ])
  .superRefine((n, ctx) => {
    if (n.type === "webhook" && !n.url === !n.urlEnv) {
      ctx.addIssue({ code: "custom", path: ["url"], message: "set exactly one of url and urlEnv" });
    }
    if (n.minBackoffMs > n.maxBackoffMs) {
      ctx.addIssue({ code: "custom", path: ["minBackoffMs"], message: "must not exceed maxBackoffMs" });
    }
  });

export const alertsConfigSchema = z
  .object({
    /** Evaluate rules at all. */
    enabled: z.boolean().default(true),
    /** Rule files: a path or a pattern with `*` in its last segment (`dir/**` + `/*.yaml` recurses). */
    rulesGlob: z.string().min(1).default("alerts/*.yaml"),
    /** How often every rule is evaluated. */
    intervalMs: z.coerce.number().int().min(1000).default(60_000),
    /** Base URL of this collector as seen by people receiving alerts (links in notifications). */
    externalUrl: z.string().url().default("http://127.0.0.1:4318"),
    /** Drift defaults a rule may override. */
    drift: z
      .object({
        /** Fewer samples than this in either window: no result (the series has no data). */
        minSamples: positiveInt.default(100),
        /** Floor for an empty bin's share in PSI, so ln() stays finite. */
        epsilon: z.coerce.number().positive().max(0.01).default(1e-4),
      })
      .prefault({}),
    /** Series per rule beyond which the rest of the groups are dropped (and logged). */
    maxSeriesPerRule: positiveInt.default(500),
    notifiers: z.array(notifierConfigSchema).default([]),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.notifiers.forEach((n, i) => {
      if (seen.has(n.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["notifiers", i, "name"],
          message: `duplicate notifier name "${n.name}"`,
        });
      }
      seen.add(n.name);
    });
  })
  .prefault({});

export type AlertsConfig = z.infer<typeof alertsConfigSchema>;
export type NotifierConfig = z.infer<typeof notifierConfigSchema>;
export type WebhookNotifierConfig = z.infer<typeof webhookNotifierSchema>;
export type SlackNotifierConfig = z.infer<typeof slackNotifierSchema>;
export type PagerdutyNotifierConfig = z.infer<typeof pagerdutyNotifierSchema>;
export type AlertmanagerNotifierConfig = z.infer<typeof alertmanagerNotifierSchema>;
