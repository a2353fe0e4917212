import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Collector } from "../collector/src/app.js";
import { intAttr, listeningCollector, otlpJsonTraces, strAttr } from "./helpers/collector.js";

/**
 * The call metrics as Prometheus scrapes them: spans posted over OTLP to a running collector,
 * then its /metrics read back. The Prometheus rules (alerts/prometheus) and their promtool tests
 * assume these series and labels.
 */

let collector: Collector;

beforeAll(async () => {
  ({ collector } = await listeningCollector());
});

afterAll(async () => {
  await collector?.close();
});

let seq = 0;
type Attr = ReturnType<typeof strAttr> | ReturnType<typeof intAttr> | { key: string; value: { boolValue: boolean } };

/** One model-call span with its own trace; `error` sets the span's status to ERROR. */
function callSpan(attributes: Attr[], error = false) {
  seq += 1;
  const id = seq.toString(16).padStart(16, "0");
  const start = BigInt(Date.now()) * 1_000_000n;
  return {
    traceId: `${id}${id}`,
    spanId: id,
    name: "chat",
    kind: 3,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + 400_000_000n),
    attributes: [strAttr("gen_ai.operation.name", "chat"), strAttr("gen_ai.provider.name", "openai"), ...attributes],
    ...(error ? { status: { code: 2, message: "upstream error" } } : {}),
  };
}

async function post(spans: unknown[]): Promise<void> {
  const res = await collector.app.inject({
    method: "POST",
    url: "/v1/traces",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify(otlpJsonTraces("metrics-app", spans)),
  });
  expect(res.statusCode, res.body).toBe(200);
}

/** The lines of /metrics for `metric` whose labels include `team="<team>"`. */
async function scrape(metric: string, team: string): Promise<string[]> {
  const res = await collector.app.inject({ method: "GET", url: "/metrics" });
  expect(res.statusCode, res.body).toBe(200);
  return res.body
    .split("\n")
    .filter((l) => l.startsWith(`${metric}{`) && l.includes(`team="${team}"`))
    .sort();
}

describe("call metrics on /metrics", () => {
  it("a failed call without a response model and a successful dated one share the requested model's series", async () => {
    const team = strAttr("tokenmeter.team", "model-label");
    await post([
      callSpan([
        team,
        strAttr("gen_ai.request.model", "gpt-4o-mini"),
        strAttr("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
        intAttr("gen_ai.usage.input_tokens", 10),
        intAttr("gen_ai.usage.output_tokens", 2),
      ]),
      callSpan([team, strAttr("gen_ai.request.model", "gpt-4o-mini"), strAttr("error.type", "500")], true),
    ]);
    expect(await scrape("tokenmeter_llm_calls_total", "model-label")).toEqual([
      'tokenmeter_llm_calls_total{provider="openai",model="gpt-4o-mini",team="model-label",status="error",source="otlp"} 1',
      'tokenmeter_llm_calls_total{provider="openai",model="gpt-4o-mini",team="model-label",status="ok",source="otlp"} 1',
    ]);
    expect(await scrape("tokenmeter_llm_cost_usd_total", "model-label")).toEqual([
      expect.stringMatching(
        /^tokenmeter_llm_cost_usd_total\{provider="openai",model="gpt-4o-mini",team="model-label"\} /,
      ),
    ]);
  });

  it("proxy cache hits add no cost and no tokens: three identical calls, two served from the cache, cost one call", async () => {
    const call = (team: string, hit: boolean) =>
      callSpan([
        strAttr("tokenmeter.team", team),
        strAttr("gen_ai.request.model", "gpt-4o-mini"),
        intAttr("gen_ai.usage.input_tokens", 1000),
        intAttr("gen_ai.usage.output_tokens", 200),
        ...(hit ? [{ key: "tokenmeter.cache_hit", value: { boolValue: true } }] : []),
      ]);
    await post([call("cache-once", false)]);
    await post([call("cache-hits", false), call("cache-hits", true), call("cache-hits", true)]);
    const value = (lines: string[]) => lines.map((l) => l.replace(/\{[^}]*\}/, "{}"));
    const once = value(await scrape("tokenmeter_llm_cost_usd_total", "cache-once"));
    expect(once).toHaveLength(1);
    expect(value(await scrape("tokenmeter_llm_cost_usd_total", "cache-hits"))).toEqual(once);
    expect(await scrape("tokenmeter_llm_tokens_total", "cache-hits")).toEqual([
      'tokenmeter_llm_tokens_total{provider="openai",model="gpt-4o-mini",team="cache-hits",kind="input"} 1000',
      'tokenmeter_llm_tokens_total{provider="openai",model="gpt-4o-mini",team="cache-hits",kind="output"} 200',
    ]);
    // The calls themselves were made: all three count.
    expect(await scrape("tokenmeter_llm_calls_total", "cache-hits")).toEqual([
      'tokenmeter_llm_calls_total{provider="openai",model="gpt-4o-mini",team="cache-hits",status="ok",source="otlp"} 3',
    ]);
  });

  it("a call refused upstream with no model and no tokens is not an unpriced call; an unpriced call with tokens is", async () => {
    const team = strAttr("tokenmeter.team", "unpriced");
    await post([
      callSpan([team, strAttr("error.type", "400")], true),
      callSpan([
        team,
        strAttr("gen_ai.request.model", "my-private-model-7b"),
        intAttr("gen_ai.usage.input_tokens", 10),
        intAttr("gen_ai.usage.output_tokens", 5),
      ]),
    ]);
    expect(await scrape("tokenmeter_llm_unpriced_calls_total", "unpriced")).toEqual([
      'tokenmeter_llm_unpriced_calls_total{provider="openai",model="my-private-model-7b",team="unpriced"} 1',
    ]);
  });

  it("the loss counters of the write path are at 0 before any loss, so the first one is an increase", async () => {
    const res = await collector.app.inject({ method: "GET", url: "/metrics" });
    const lines = res.body.split("\n");
    expect(lines).toContain('tokenmeter_telemetry_dropped_total{component="batch_writer"} 0');
    for (const table of ["llm_calls", "spans", "scores", "call_content"]) {
      expect(lines).toContain(`tokenmeter_rows_rejected_total{table="${table}"} 0`);
      expect(lines).toContain(`tokenmeter_insert_errors_total{table="${table}"} 0`);
    }
  });
});
