import { ERR_BAD_CONFIG } from "../../errors.js";
import type { NotifierConfig } from "../config.js";
import { createAlertmanagerNotifier } from "./alertmanager.js";
import type { HttpDeps } from "./http.js";
import { createPagerdutyNotifier } from "./pagerduty.js";
import { createSlackNotifier } from "./slack.js";
import type { Notifier } from "./types.js";
import { createWebhookNotifier } from "./webhook.js";

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Builds the configured notifiers. Secrets are read from the environment variables the config
 * names, once, here; a missing one fails at start with the notifier's name and the variable.
 */
export function createNotifiers(configs: readonly NotifierConfig[], env: Env, deps: HttpDeps = {}): Notifier[] {
  const secret = (n: NotifierConfig, variable: string): string => {
    const value = env[variable];
    if (value === undefined || value === "") {
      throw ERR_BAD_CONFIG(`notifier "${n.name}": environment variable ${variable} is not set`);
    }
    return value;
  };
  return configs.map((c): Notifier => {
    switch (c.type) {
      case "webhook":
        return createWebhookNotifier(
          c,
          {
            url: c.urlEnv ? secret(c, c.urlEnv) : (c.url ?? ""),
            secret: c.secretEnv ? secret(c, c.secretEnv) : undefined,
          },
          deps,
        );
      case "slack":
        return createSlackNotifier(c, secret(c, c.webhookUrlEnv), deps);
      case "pagerduty":
        return createPagerdutyNotifier(c, secret(c, c.routingKeyEnv), deps);
      default:
        return createAlertmanagerNotifier(c, c.bearerTokenEnv ? secret(c, c.bearerTokenEnv) : undefined, deps);
    }
  });
}
