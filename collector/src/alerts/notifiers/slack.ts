import type { SlackNotifierConfig } from "../config.js";
import { formatNumber } from "../template.js";
import { type HttpDeps, postJson } from "./http.js";
import type { AlertNotification, Notifier } from "./types.js";

/**
 * Slack incoming webhook: `text` is the fallback shown in notifications, `blocks` the message
 * (header, summary, a fields grid with value/threshold/labels, a context line).
 */

/** Slack treats &, < and > as markup (`<!channel>` pings everyone): escape them. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// Slack's limits: header text 150 chars, section text 3000, a field 2000, at most 10 fields.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const FIELDS_MAX = 10;

export function slackPayload(n: AlertNotification): Record<string, unknown> {
  const status = n.status === "firing" ? "FIRING" : "RESOLVED";
  const summary = n.annotations["summary"] ?? n.rule;
  const field = (name: string, value: string) => ({
    type: "mrkdwn",
    text: clip(`*${escapeMrkdwn(name)}*\n${escapeMrkdwn(value)}`, FIELD_MAX),
  });
  const fields = [
    field("Severity", n.severity),
    field("Value", formatNumber(n.value)),
    field("Threshold", formatNumber(n.threshold)),
    field("Statistic", n.statistic),
    ...Object.entries(n.labels)
      .filter(([k]) => k !== "alertname" && k !== "severity")
      .map(([k, v]) => field(k, v)),
  ].slice(0, FIELDS_MAX);
  const when =
    n.status === "firing"
      ? `firing since ${new Date(n.startsAt).toISOString()}`
      : `resolved at ${new Date(n.endsAt ?? n.startsAt).toISOString()}`;
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: { type: "plain_text", text: clip(`[${status}] ${n.rule}`, HEADER_MAX) } },
    { type: "section", text: { type: "mrkdwn", text: clip(escapeMrkdwn(summary), SECTION_MAX) } },
  ];
  const description = n.annotations["description"];
  if (description)
    blocks.push({ type: "section", text: { type: "mrkdwn", text: clip(escapeMrkdwn(description), SECTION_MAX) } });
  blocks.push(
    { type: "section", fields },
    {
      type: "context",
      elements: [{ type: "mrkdwn", text: `${when} · fingerprint \`${n.fingerprint}\` · <${n.generatorUrl}|details>` }],
    },
  );
  return { text: clip(`[${status}] ${n.rule}: ${summary}`, SECTION_MAX), blocks };
}

export function createSlackNotifier(config: SlackNotifierConfig, webhookUrl: string, deps: HttpDeps = {}): Notifier {
  return {
    name: config.name,
    type: "slack",
    sendResolved: config.sendResolved,
    refreshFiring: false,
    send: (n) => postJson(webhookUrl, JSON.stringify(slackPayload(n)), {}, config, deps),
  };
}
