import { afterEach, describe, expect, it, vi } from "vitest";
import { createEvaluators, EVALUATOR_IDS, evaluatorScoreId, evaluatorsSchema } from "./index.js";
import { BASE_ROW, row } from "./test-row.js";

function output(text: string, finish = "stop"): string {
  return JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: text }], finish_reason: finish }]);
}

/** Most checks below assert the pass rows too, so they run with recordPasses on. */
const defaults = evaluatorsSchema.parse({ recordPasses: true });

afterEach(() => {
  vi.restoreAllMocks();
});

describe("evaluatorsSchema", () => {
  it("absent-section-enables-every-evaluator-with-default-slos", () => {
    expect(evaluatorsSchema.parse(undefined)).toEqual({
      enabled: [...EVALUATOR_IDS],
      recordPasses: false,
      latency: { durationMs: 30_000, ttftMs: 2_000, models: [] },
    });
  });

  it.each([
    ["unknown-evaluator-name", { enabled: ["toxicity"] }],
    ["negative-threshold", { latency: { durationMs: -1 } }],
    ["model-rule-without-match", { latency: { models: [{ durationMs: 5 }] } }],
  ])("rejects %s", (_case, value) => {
    expect(evaluatorsSchema.safeParse(value).success).toBe(false);
  });
});

describe("createEvaluators", () => {
  it("ordinary-call-gets-one-passing-score-per-applicable-check", () => {
    const scores = createEvaluators(defaults)(row({ output: output("Paris is the capital of France.") }));
    expect(scores.map((s) => [s.name, s.value, s.label])).toEqual([
      ["refusal", 0, "not_refused"],
      ["empty_output", 0, ""],
      ["truncated", 0, ""],
      ["pii_in_output", 0, ""],
      ["latency_slo_breach", 0, ""],
    ]);
    for (const s of scores) {
      expect(s).toMatchObject({
        source: "evaluator",
        trace_id: BASE_ROW.trace_id,
        span_id: BASE_ROW.span_id,
        timestamp: BASE_ROW.timestamp,
        data_type: "boolean",
      });
    }
  });

  it("score-ids-are-deterministic-so-re-ingest-replaces", () => {
    const evaluate = createEvaluators(defaults);
    const first = evaluate(row({ output: output("Hi") }));
    const again = evaluate(row({ output: output("Hi") }));
    expect(again.map((s) => s.score_id)).toEqual(first.map((s) => s.score_id));
    expect(new Set(first.map((s) => s.score_id)).size).toBe(first.length);
    expect(first[0]?.score_id).toBe(evaluatorScoreId(BASE_ROW.trace_id, BASE_ROW.span_id, "refusal"));
    expect(first[0]?.score_id).toMatch(/^[0-9a-f]{32}$/);
    const otherSpan = evaluate(row({ span_id: "1111111111111111", output: output("Hi") }));
    expect(otherSpan[0]?.score_id).not.toBe(first[0]?.score_id);
  });

  it("record-passes-off-keeps-only-findings", () => {
    const evaluate = createEvaluators(evaluatorsSchema.parse({ recordPasses: false }));
    expect(evaluate(row({ output: output("Hello") }))).toEqual([]);
    const scores = evaluate(
      row({
        output: output("I'm sorry, but I can't help with that. Mail jane@example.com.", "length"),
        finish_reason: "length",
      }),
    );
    expect(scores.map((s) => s.name)).toEqual(["refusal", "truncated", "pii_in_output"]);
  });

  it("only-enabled-evaluators-run", () => {
    const evaluate = createEvaluators(evaluatorsSchema.parse({ enabled: ["latency-slo"] }));
    expect(evaluate(row({ duration_ms: 45_000, output: output("x") })).map((s) => [s.name, s.value])).toEqual([
      ["latency_slo_breach", 1],
    ]);
  });

  it("empty-enabled-list-turns-evaluation-off", () => {
    expect(createEvaluators(evaluatorsSchema.parse({ enabled: [] }))(row({ duration_ms: 99_000 }))).toEqual([]);
  });

  it("json-requested-call-gets-a-valid-json-score", () => {
    const scores = createEvaluators(defaults)(
      row({ request_params: '{"response_format":{"type":"json_object"}}', output: output('{"ok":true}') }),
    );
    expect(scores.find((s) => s.name === "valid_json")?.value).toBe(1);
  });

  it("an-evaluator-that-throws-does-not-stop-the-others-or-the-call", () => {
    const broken = row({ output: output("Hello") });
    Object.defineProperty(broken, "finish_reason", {
      get() {
        throw new Error("boom");
      },
    });
    const failed: string[] = [];
    const evaluate = createEvaluators(defaults, {
      onError: (id) => {
        failed.push(id);
        throw new Error("the reporter fails too");
      },
    });
    const scores = evaluate(broken);
    expect(failed).toEqual(["refusal", "empty-or-truncated"]);
    expect(scores.map((s) => s.name)).toEqual(["pii_in_output", "latency_slo_breach"]);
  });

  it("call-without-captured-content-never-parses-json", () => {
    const parse = vi.spyOn(JSON, "parse");
    const scores = createEvaluators(defaults)(row({ output: "", input: "" }));
    expect(parse).not.toHaveBeenCalled();
    expect(scores.map((s) => s.name)).toEqual(["empty_output", "truncated", "latency_slo_breach"]);
  });

  it("ordinary-captured-answer-is-judged-without-parsing-json", () => {
    const r = row({ output: output("A long and perfectly ordinary answer. ".repeat(50)) });
    const parse = vi.spyOn(JSON, "parse");
    createEvaluators(defaults)(r);
    expect(parse).not.toHaveBeenCalled();
  });

  it("output-parsed-at-most-once-per-call-when-several-evaluators-need-it", () => {
    const r = row({
      request_params: '{"output_type":"json"}',
      output: output("I'm sorry, but I cannot do that."),
      output_tokens: 0,
    });
    const parse = vi.spyOn(JSON, "parse");
    const scores = createEvaluators(defaults)(r);
    // json-valid, refusal and empty-output all read the messages: the stored JSON is parsed once.
    expect(parse.mock.calls.filter(([text]) => text === r.output)).toHaveLength(1);
    expect(scores.find((s) => s.name === "refusal")?.value).toBe(1);
    expect(scores.find((s) => s.name === "valid_json")?.value).toBe(0);
  });
});
