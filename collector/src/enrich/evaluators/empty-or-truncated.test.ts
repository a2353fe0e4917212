import { describe, expect, it } from "vitest";
import { evaluateEmptyOrTruncated, isTokenLimitStop } from "./empty-or-truncated.js";
import type { EvalInput } from "./index.js";
import { call, output } from "./test-row.js";

function byName(input: EvalInput) {
  return Object.fromEntries(evaluateEmptyOrTruncated(input).map((f) => [f.name, f]));
}

describe("isTokenLimitStop", () => {
  it.each(["length", "max_tokens", "MAX_TOKENS", "max_output_tokens", "model_length"])("%s is a limit stop", (r) => {
    expect(isTokenLimitStop(r)).toBe(true);
  });
  it.each(["stop", "end_turn", "tool_calls", ""])("%s is not", (r) => {
    expect(isTokenLimitStop(r)).toBe(false);
  });
});

describe("evaluateEmptyOrTruncated", () => {
  it("normal-answer-scores-0-on-both", () => {
    expect(evaluateEmptyOrTruncated(call({ output: output("Hello!") }))).toEqual([
      { name: "empty_output", value: 0 },
      { name: "truncated", value: 0 },
    ]);
  });

  it("reported-output-tokens-settle-it-without-parsing-content", () => {
    let parsed = false;
    const input = call({ output: output("Hello!"), output_tokens: 3 });
    const spy: EvalInput = {
      row: input.row,
      output: () => {
        parsed = true;
        return input.output();
      },
    };
    expect(byName(spy)["empty_output"]?.value).toBe(0);
    expect(parsed).toBe(false);
  });

  it("empty-text-with-zero-output-tokens-is-empty", () => {
    expect(byName(call({ output: output(""), output_tokens: 0 }))["empty_output"]).toEqual({
      name: "empty_output",
      value: 1,
      comment: "no content in output",
    });
  });

  it("reasoning-model-that-spent-every-token-thinking-is-empty-and-truncated", () => {
    const raw = JSON.stringify([
      { role: "assistant", parts: [{ type: "reasoning", content: "Let me think..." }], finish_reason: "length" },
    ]);
    const f = byName(call({ output: raw, output_tokens: 4096, reasoning_tokens: 4096, finish_reason: "length" }));
    expect(f["empty_output"]?.value).toBe(1);
    expect(f["truncated"]).toEqual({ name: "truncated", value: 1, comment: "finish_reason length" });
  });

  it("tool-call-only-reply-is-not-empty", () => {
    const raw = JSON.stringify([
      { role: "assistant", parts: [{ type: "tool_call", id: "c1", name: "f", arguments: {} }] },
    ]);
    expect(byName(call({ output: raw, output_tokens: 0, finish_reason: "tool_calls" }))["empty_output"]?.value).toBe(0);
  });

  it("content-not-captured-but-provider-reported-zero-output-tokens-is-empty", () => {
    expect(byName(call({ output: "", output_tokens: 0 }))["empty_output"]).toMatchObject({ value: 1 });
  });

  it("content-not-captured-and-usage-missing-is-unknown-so-skipped", () => {
    expect(byName(call({ output: "", output_tokens: 0, tokens_estimated: 1 }))["empty_output"]).toBeUndefined();
  });

  it("failed-call-is-not-judged-empty", () => {
    expect(byName(call({ status: "error", output: "", output_tokens: 0 }))["empty_output"]).toBeUndefined();
  });

  it("embeddings-are-not-judged-empty", () => {
    expect(byName(call({ operation: "embeddings", output: "", output_tokens: 0 }))["empty_output"]).toBeUndefined();
  });

  it("anthropic-max-tokens-stop-is-truncated", () => {
    expect(
      byName(call({ finish_reason: "max_tokens", output: output("The first half of") }))["truncated"],
    ).toMatchObject({ value: 1, comment: "finish_reason max_tokens" });
  });

  it("no-finish-reason-recorded-skips-truncated", () => {
    expect(byName(call({ finish_reason: "" }))["truncated"]).toBeUndefined();
  });
});
