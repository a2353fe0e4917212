/**
 * The report printed at the end of `tokenmeter demo`: what was sent by which path, and where to
 * look at it.
 */
import { formatDuration } from "./progress.js";
import type { DemoReport } from "./run-demo.js";

const n = (x: number) => x.toLocaleString("en-US");
const usd = (x: number) => `$${x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

function row(label: string, text: string): string {
  return `  ${label.padEnd(22)} ${text}`;
}

export function formatSummary(report: DemoReport): string {
  const ended = report.interrupted ? "stopped early after" : "done in";
  const lines: string[] = ["", `tokenmeter demo: ${ended} ${formatDuration(report.durationMs)}`, ""];
  const h = report.history;
  if (h !== undefined) {
    const from = new Date(h.fromMs).toISOString().slice(0, 16).replace("T", " ");
    lines.push(
      row(
        "history (OTLP)",
        `${n(h.calls)} model calls in ${n(h.traces)} traces (${n(h.spans)} spans) since ${from} UTC, ${n(h.evaluations)} evaluator scores, ${n(h.feedback)} feedback scores`,
      ),
    );
  }
  const l = report.live;
  if (l !== undefined) {
    lines.push(
      row(
        "live via SDK",
        `${n(l.sdk.calls)} model calls in ${n(l.sdk.requests)} requests (${n(l.sdk.streamed)} streamed, ${n(l.sdk.errors)} failed), ${n(l.scores)} scores`,
      ),
    );
    if (report.proxy !== undefined) {
      lines.push(
        row(
          "live via proxy",
          `${n(l.proxy.calls)} model calls in ${n(l.proxy.requests)} requests (${n(l.proxy.streamed)} streamed, ${n(l.proxy.errors)} failed)`,
        ),
      );
    }
  }
  if (report.proxySkipped !== undefined) lines.push(row("proxy", `left out: ${report.proxySkipped}`));
  for (const b of report.budgets) {
    lines.push(
      row(
        `budget ${b.budget.name}`,
        `about ${Math.round(b.projectedRatio * 100)}% of ${usd(b.budget.limitUsd)} (${b.budget.window}, ${b.budget.enforcement}) used by team ${b.team}`,
      ),
    );
  }
  const c = report.collector;
  lines.push(
    "",
    "where to look:",
    row(
      "Grafana",
      "http://localhost:3000 (docker compose up), folder tokenmeter: Overview, FinOps, Reliability, Quality & drift, Calls explorer",
    ),
    row("spend by team", `${c}/api/v1/spend?group_by=team`),
    row("spend by model/day", `${c}/api/v1/spend?group_by=model,day`),
    row("budgets", `${c}/api/v1/budgets`),
    row("alerts", `${c}/api/v1/alerts   (drift and model-version rules need a minute or two)`),
    row("latest calls", `${c}/api/v1/calls?limit=20`),
    row("metrics", `${c}/metrics`),
    "",
  );
  return lines.join("\n");
}
