import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeDrift, type DriftResult } from "../collector/src/alerts/drift.js";
import { type AlertEngine, type AlertView, createAlertEngine } from "../collector/src/alerts/engine.js";
import type { AlertNotification, Notifier } from "../collector/src/alerts/notifiers/types.js";
import { parseRuleFile } from "../collector/src/alerts/rules.js";
import { ALERT_MIGRATIONS } from "../collector/src/alerts/schema.js";
import type { StorageClient } from "../collector/src/storage/client.js";
import { MIGRATIONS, migrate } from "../collector/src/storage/migrations.js";
import type { LlmCallRow, ScoreRow } from "../collector/src/storage/rows.js";
import { llmCallRow } from "../collector/src/storage/test-row.js";
import { embeddedStorage, silentLogger } from "./helpers/embedded.js";

/**
 * The acceptance test of drift alerting: a week of normal traffic for two groups with the same
 * volume, then for two hours one model answers 40% longer and its helpfulness score drops by
 * 0.2. The drift rules go pending, then firing with the right statistic, and resolve once the
 * current window is normal again; the control group never leaves inactive.
 */

const db = "t_alerts_drift";
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** The shift starts here and lasts two hours. */
const T = Date.UTC(2026, 9, 5, 12, 0, 0);
const SHIFT_END = T + 2 * HOUR;
/** Calls per minute of each group: 5 in the last day before the shift and after, 1 before that. */
const rate = (t: number) => (t < T - DAY ? 1 : 5);

const SHIFTED = { team: "search", model: "gpt-4o", prompt: "answer" };
const CONTROL = { team: "support", model: "claude-sonnet-4", prompt: "triage" };

/** Deterministic normal variates (mulberry32 + Box-Muller), so every run sees the same data. */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

function call(fields: Partial<LlmCallRow> & Pick<LlmCallRow, "timestamp" | "trace_id" | "span_id">): LlmCallRow {
  return llmCallRow({
    service: "app",
    environment: "prod",
    input_tokens: 300,
    cost_usd: "0.001",
    priced: 1,
    price_id: "openai/gpt-4o",
    duration_ms: 1200,
    input: "[]",
    output: "[]",
    ...fields,
  });
}

function seed(): { calls: LlmCallRow[]; scores: ScoreRow[] } {
  const calls: LlmCallRow[] = [];
  const scores: ScoreRow[] = [];
  const start = T - 7 * DAY - 3 * HOUR;
  const end = T + 5 * HOUR;
  for (const [g, group] of [SHIFTED, CONTROL].entries()) {
    const noise = gaussian(1234 + g);
    let i = 0;
    for (let t = start; t < end; t += MIN / rate(t)) {
      const shifted = group === SHIFTED && t >= T && t < SHIFT_END;
      const tokens = Math.max(1, Math.round((400 + 60 * noise()) * (shifted ? 1.4 : 1)));
      const helpfulness = Math.min(1, Math.max(0, 0.8 + 0.08 * noise() - (shifted ? 0.2 : 0)));
      const trace = `${g}${(i++).toString(16)}`.padStart(32, "0");
      const span = trace.slice(16);
      calls.push(
        call({
          timestamp: t * 1000,
          trace_id: trace,
          span_id: span,
          team: group.team,
          request_model: group.model,
          response_model: `${group.model}-2026-01-01`,
          prompt_name: group.prompt,
          prompt_version: "v3",
          output_tokens: tokens,
        }),
      );
      scores.push({
        timestamp: (t + 2000) * 1000,
        score_id: `s-${trace}`,
        trace_id: trace,
        span_id: span,
        name: "helpfulness",
        value: helpfulness,
        label: "",
        source: "evaluator",
        comment: "",
        data_type: "numeric",
      });
    }
  }
  return { calls, scores };
}

const RULES = `rules:
  - name: OutputTokensPsi
    kind: drift
    signal: output_tokens
    statistic: psi
    threshold: 0.25
    resolve_threshold: 0.1
    reference_window: 7d
    current_window: 1h
    min_samples: 250
    for: 30m
    annotations:
      summary: "output tokens of {{ labels.model }} drifted: PSI {{ value }} ({{ ref_mean }} -> {{ cur_mean }})"
  - name: OutputTokensKs
    kind: drift
    signal: output_tokens
    statistic: ks
    threshold: 0.2
    max_p_value: 0.01
    reference_window: 7d
    current_window: 1h
    min_samples: 250
    for: 30m
  - name: HelpfulnessDrop
    kind: drift
    signal: "score:helpfulness"
    statistic: welch
    direction: decrease
    threshold: 0.1
    max_p_value: 0.001
    reference_window: 7d
    current_window: 1h
    min_samples: 250
    for: 30m
`;

let storage: StorageClient;
let now = T - 10 * MIN;
const sent: AlertNotification[] = [];
const recorder: Notifier = {
  name: "recorder",
  type: "webhook",
  sendResolved: true,
  refreshFiring: false,
  async send(n) {
    sent.push(n);
    return { attempts: 1 };
  },
};
let engine: AlertEngine;

beforeAll(async () => {
  ({ storage } = await embeddedStorage());
  await storage.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
  await migrate(storage.client, { database: db, contentRetentionDays: 0, retentionDays: 0 }, [
    ...MIGRATIONS,
    ...ALERT_MIGRATIONS,
  ]);
  const { calls, scores } = seed();
  await storage.client.insert({ table: `${db}.llm_calls`, values: calls, format: "JSONEachRow" });
  await storage.client.insert({ table: `${db}.scores`, values: scores, format: "JSONEachRow" });
  const parsed = parseRuleFile(RULES, "drift-rules.yaml");
  expect(parsed.errors).toEqual([]);
  engine = createAlertEngine({
    client: storage.client,
    database: db,
    rules: parsed.rules.map((r) => r.rule),
    notifiers: [recorder],
    logger: silentLogger,
    intervalMs: MIN,
    clock: () => now,
  });
});

afterAll(async () => {
  await engine?.close();
  await storage.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
});

function series(team: string): Map<string, AlertView> {
  const all = engine.alerts({ states: ["inactive", "pending", "firing", "resolved", "nodata"] });
  return new Map(all.filter((a) => a.labels["team"] === team).map((a) => [a.rule, a]));
}

async function at(time: number) {
  now = time;
  return engine.evaluateOnce();
}

const states = (team: string) => Object.fromEntries([...series(team)].map(([rule, a]) => [rule, a.state]));

describe("drift alert on a controlled shift", () => {
  it("reference-normal-then-40pct-longer-outputs-and-score-drop-fire-then-resolve", async () => {
    // Before the shift: both groups measured, nothing active.
    await at(T - 10 * MIN);
    expect(states(SHIFTED.team)).toEqual({
      OutputTokensPsi: "inactive",
      OutputTokensKs: "inactive",
      HelpfulnessDrop: "inactive",
    });
    expect(states(CONTROL.team)).toEqual({
      OutputTokensPsi: "inactive",
      OutputTokensKs: "inactive",
      HelpfulnessDrop: "inactive",
    });

    // 40 minutes into the shift: two thirds of the current window is shifted.
    await at(T + 40 * MIN);
    expect(states(SHIFTED.team)).toEqual({
      OutputTokensPsi: "pending",
      OutputTokensKs: "pending",
      HelpfulnessDrop: "pending",
    });
    expect(sent).toEqual([]);

    // 30 minutes later (`for: 30m`) the whole window is shifted: firing, one notification each.
    await at(T + 70 * MIN);
    const firing = series(SHIFTED.team);
    expect(states(SHIFTED.team)).toEqual({
      OutputTokensPsi: "firing",
      OutputTokensKs: "firing",
      HelpfulnessDrop: "firing",
    });
    expect(firing.get("OutputTokensPsi")).toMatchObject({ statistic: "psi", threshold: 0.25 });
    expect(firing.get("OutputTokensPsi")?.value).toBeGreaterThan(1);
    expect(firing.get("OutputTokensKs")).toMatchObject({ statistic: "ks" });
    expect(firing.get("OutputTokensKs")?.value).toBeGreaterThan(0.5);
    expect(firing.get("OutputTokensKs")?.p_value).toBeLessThan(1e-6);
    expect(firing.get("HelpfulnessDrop")).toMatchObject({ statistic: "welch" });
    expect(firing.get("HelpfulnessDrop")?.value).toBeGreaterThan(0.17);
    expect(firing.get("HelpfulnessDrop")?.value).toBeLessThan(0.23);
    expect(firing.get("OutputTokensPsi")?.labels).toMatchObject({
      alertname: "OutputTokensPsi",
      team: "search",
      model: "gpt-4o",
      prompt_name: "answer",
      prompt_version: "v3",
      signal: "output_tokens",
    });
    expect(firing.get("OutputTokensPsi")?.annotations["summary"]).toMatch(/^output tokens of gpt-4o drifted: PSI \d/);
    expect(sent.map((n) => [n.rule, n.status, n.statistic, n.labels["team"]]).sort()).toEqual([
      ["HelpfulnessDrop", "firing", "welch", "search"],
      ["OutputTokensKs", "firing", "ks", "search"],
      ["OutputTokensPsi", "firing", "psi", "search"],
    ]);

    // Still shifted: firing, no repeat yet (repeat_interval defaults to 4h).
    await at(T + 100 * MIN);
    expect(states(SHIFTED.team)).toEqual({
      OutputTokensPsi: "firing",
      OutputTokensKs: "firing",
      HelpfulnessDrop: "firing",
    });
    expect(sent).toHaveLength(3);

    // The shift ended at T+2h; an hour later the current window is normal again.
    await at(SHIFT_END + 70 * MIN);
    expect(states(SHIFTED.team)).toEqual({
      OutputTokensPsi: "resolved",
      OutputTokensKs: "resolved",
      HelpfulnessDrop: "resolved",
    });
    const resolved = sent.filter((n) => n.status === "resolved");
    expect(resolved.map((n) => n.rule).sort()).toEqual(["HelpfulnessDrop", "OutputTokensKs", "OutputTokensPsi"]);
    for (const r of resolved) {
      const fired = sent.find((n) => n.status === "firing" && n.rule === r.rule);
      expect(r.fingerprint).toBe(fired?.fingerprint);
    }

    await at(SHIFT_END + 3 * HOUR);
    expect(states(SHIFTED.team)).toEqual({
      OutputTokensPsi: "resolved",
      OutputTokensKs: "resolved",
      HelpfulnessDrop: "resolved",
    });
    // The control group, same volume, never left inactive and was never notified about.
    expect(states(CONTROL.team)).toEqual({
      OutputTokensPsi: "inactive",
      OutputTokensKs: "inactive",
      HelpfulnessDrop: "inactive",
    });
    expect(sent.filter((n) => n.labels["team"] === CONTROL.team)).toEqual([]);

    // Every transition is in alert_events, in order.
    const rs = await storage.client.query({
      query: `SELECT rule, groupArray(state) AS states FROM (SELECT rule, state FROM ${db}.alert_events ORDER BY timestamp) GROUP BY rule ORDER BY rule`,
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([
      { rule: "HelpfulnessDrop", states: ["pending", "firing", "resolved"] },
      { rule: "OutputTokensKs", states: ["pending", "firing", "resolved"] },
      { rule: "OutputTokensPsi", states: ["pending", "firing", "resolved"] },
    ]);
  });

  it("statistics of shifted and control groups (PSI, KS, Welch, JS) at the height of the shift", async () => {
    const q = { now: T + 70 * MIN, referenceMs: 7 * DAY, currentMs: HOUR, minSamples: 100 };
    const tokens = await computeDrift(storage.client, db, { ...q, signal: "output_tokens" });
    const score = await computeDrift(storage.client, db, { ...q, signal: "score:helpfulness" });
    const finish = await computeDrift(storage.client, db, { ...q, signal: "finish_reason" });
    const pick = (rs: DriftResult[], team: string, statistic: string) =>
      rs.find((r) => r.group.team === team && r.statistic === statistic);
    const figures = {
      psi: { shifted: pick(tokens, "search", "psi")?.value, control: pick(tokens, "support", "psi")?.value },
      ks: { shifted: pick(tokens, "search", "ks")?.value, control: pick(tokens, "support", "ks")?.value },
      ks_p: { shifted: pick(tokens, "search", "ks")?.p_value, control: pick(tokens, "support", "ks")?.p_value },
      tokens_mean: {
        ref: pick(tokens, "search", "welch")?.ref_mean,
        shifted: pick(tokens, "search", "welch")?.cur_mean,
      },
      welch_shift: { shifted: pick(score, "search", "welch")?.value, control: pick(score, "support", "welch")?.value },
      welch_p: { shifted: pick(score, "search", "welch")?.p_value, control: pick(score, "support", "welch")?.p_value },
      js_finish: { shifted: pick(finish, "search", "js")?.value, control: pick(finish, "support", "js")?.value },
      n: { ref: pick(tokens, "search", "psi")?.ref_n, cur: pick(tokens, "search", "psi")?.cur_n },
    };
    console.log("drift figures", JSON.stringify(figures));
    expect(figures.psi.shifted).toBeGreaterThan(1);
    expect(figures.psi.control).toBeLessThan(0.1);
    expect(figures.ks.shifted).toBeGreaterThan(0.5);
    expect(figures.ks.control).toBeLessThan(0.2);
    expect(figures.tokens_mean.shifted! / figures.tokens_mean.ref!).toBeCloseTo(1.4, 1);
    expect(figures.welch_shift.shifted).toBeCloseTo(-0.2, 1);
    expect(Math.abs(figures.welch_shift.control!)).toBeLessThan(0.05);
    expect(figures.js_finish.shifted).toBe(0);
    expect(figures.n.cur).toBe(300);
    expect(figures.n.ref).toBeGreaterThan(10_000);
  });

  it("rates and categorical mixes: refusal and error rates, finish reasons, evaluator labels", async () => {
    // Another team, a month later, so none of the windows above sees it.
    const Q = T + 30 * DAY;
    const calls: LlmCallRow[] = [];
    const scores: ScoreRow[] = [];
    let i = 0;
    for (let t = Q - DAY - HOUR; t < Q; t += t < Q - HOUR ? MIN : MIN / 5) {
      const current = t >= Q - HOUR;
      const k = i % 100;
      const trace = `q${(i++).toString(16)}`.padStart(32, "0");
      calls.push(
        call({
          timestamp: t * 1000,
          trace_id: trace,
          span_id: trace.slice(16),
          team: "qa",
          request_model: "gpt-4o-mini",
          output_tokens: 100,
          status: k < (current ? 10 : 1) ? "error" : "ok",
          finish_reason: k < (current ? 40 : 5) ? "length" : "stop",
        }),
      );
      const score = (name: string, value: number | null, label: string, dataType: ScoreRow["data_type"]): ScoreRow => ({
        timestamp: (t + 1000) * 1000,
        score_id: `${name}-${trace}`,
        trace_id: trace,
        span_id: trace.slice(16),
        name,
        value,
        label,
        source: "evaluator",
        comment: "",
        data_type: dataType,
      });
      scores.push(score("refusal", k < (current ? 20 : 2) ? 1 : 0, "", "boolean"));
      scores.push(score("tone", null, k < (current ? 50 : 10) ? "curt" : "polite", "categorical"));
    }
    await storage.client.insert({ table: `${db}.llm_calls`, values: calls, format: "JSONEachRow" });
    await storage.client.insert({ table: `${db}.scores`, values: scores, format: "JSONEachRow" });

    const q = { now: Q, referenceMs: DAY, currentMs: HOUR, minSamples: 100, filters: { team: ["qa"] } };
    const one = async (signal: string, statistic: "welch" | "js") => {
      const [r] = await computeDrift(storage.client, db, { ...q, signal, statistics: [statistic] });
      return r;
    };
    const refusal = await one("refusal_rate", "welch");
    expect(refusal).toMatchObject({ signal: "refusal_rate", statistic: "welch", ref_n: 1440, cur_n: 300 });
    expect(refusal?.ref_mean).toBeCloseTo(0.02, 2);
    expect(refusal?.cur_mean).toBeCloseTo(0.2, 3);
    expect(refusal?.p_value).toBeLessThan(1e-6);
    expect((await one("refusal_rate", "js"))?.value).toBeGreaterThan(0.05);
    const errors = await one("error_rate", "welch");
    expect(errors?.value).toBeCloseTo(0.09, 2);
    const finish = await one("finish_reason", "js");
    const tone = await one("score_label:tone", "js");
    expect(finish).toMatchObject({ signal: "finish_reason", statistic: "js", ref_n: 1440, cur_n: 300 });
    expect(tone).toMatchObject({ signal: "score_label:tone", statistic: "js", ref_n: 1440, cur_n: 300 });
    console.log(
      "categorical figures",
      JSON.stringify({
        refusal_welch: refusal?.value,
        error_welch: errors?.value,
        finish_js: finish?.value,
        tone_js: tone?.value,
      }),
    );
    expect(finish?.value).toBeGreaterThan(0.1);
    expect(tone?.value).toBeGreaterThan(0.1);
  });

  it("minimum-sample guard: a window with fewer samples gives no result", async () => {
    const q = { now: T + 70 * MIN, referenceMs: 7 * DAY, currentMs: HOUR, signal: "output_tokens" };
    expect(await computeDrift(storage.client, db, { ...q, minSamples: 301 })).toEqual([]);
    expect(await computeDrift(storage.client, db, { ...q, minSamples: 300 })).not.toEqual([]);
  });
});
