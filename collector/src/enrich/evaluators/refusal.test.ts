import { describe, expect, it } from "vitest";
import { evaluateRefusal, startsWithRefusal } from "./refusal.js";
import { call, output } from "./test-row.js";

describe("startsWithRefusal", () => {
  it.each([
    "I can't help with that.",
    "I can\u2019t assist with that request.",
    "I'm sorry, but I cannot provide instructions for that.",
    "Sorry, I can't do that.",
    "I apologize, but I am unable to fulfil this request.",
    "I'm unable to help with requests like this.",
    "I am not able to provide that information.",
    "I won't write that.",
    "I must decline this request.",
    "As an AI language model, I cannot share personal opinions.",
    "Hmm. I cannot comply with this.",
  ])("refusal-phrase: %s", (text) => {
    expect(startsWithRefusal(text)).toBe(true);
  });

  it.each([
    "Here is the summary you asked for.",
    "I can help with that! First, open the settings.",
    "The error says: cannot open file.",
    "You can't go wrong with either option.",
    "I'm sorry to hear that your order was late. Here is a refund link.",
  ])("not-a-refusal: %s", (text) => {
    expect(startsWithRefusal(text)).toBe(false);
  });

  it("refusal-words-quoted-deep-in-a-long-answer-do-not-count", () => {
    const text = `${"Here is a detailed answer. ".repeat(30)}Some assistants say "I can't help with that", but here we can.`;
    expect(startsWithRefusal(text)).toBe(false);
  });
});

describe("evaluateRefusal", () => {
  it("refusal-phrase-in-output-is-labelled-refused", () => {
    expect(evaluateRefusal(call({ output: output("I'm sorry, but I cannot help with that.") }))).toEqual([
      { name: "refusal", value: 1, label: "refused", comment: "refusal phrase" },
    ]);
  });

  it("ordinary-answer-is-labelled-not-refused", () => {
    expect(evaluateRefusal(call({ output: output("The capital of France is Paris.") }))).toEqual([
      { name: "refusal", value: 0, label: "not_refused" },
    ]);
  });

  it("openai-refusal-field-on-the-message-counts", () => {
    const raw = JSON.stringify([
      { role: "assistant", parts: [], refusal: "I can't assist with that request.", finish_reason: "stop" },
    ]);
    expect(evaluateRefusal(call({ output: raw }))[0]).toMatchObject({ value: 1, comment: "provider refusal field" });
  });

  it("responses-api-refusal-part-counts", () => {
    const raw = JSON.stringify([{ role: "assistant", parts: [{ type: "refusal", refusal: "No." }] }]);
    expect(evaluateRefusal(call({ output: raw }))[0]).toMatchObject({ label: "refused" });
  });

  it("anthropic-stop-reason-refusal-counts-without-content", () => {
    expect(evaluateRefusal(call({ output: "", finish_reason: "refusal" }))).toEqual([
      { name: "refusal", value: 1, label: "refused", comment: "finish_reason refusal" },
    ]);
  });

  it("content-filter-finish-reason-counts", () => {
    expect(evaluateRefusal(call({ output: output(""), finish_reason: "content_filter" }))[0]?.value).toBe(1);
  });

  it("refusal-after-a-reasoning-part-is-found", () => {
    const raw = JSON.stringify([
      {
        role: "assistant",
        parts: [
          { type: "reasoning", content: "The user wants something unsafe." },
          { type: "text", content: "I can't help with that." },
        ],
      },
    ]);
    expect(evaluateRefusal(call({ output: raw }))[0]?.label).toBe("refused");
  });

  it("refusal-wording-only-inside-reasoning-is-not-a-refusal", () => {
    const raw = JSON.stringify([
      {
        role: "assistant",
        parts: [
          { type: "reasoning", content: "I can't help with that part, but the rest is fine." },
          { type: "text", content: "Here are the steps." },
        ],
      },
    ]);
    expect(evaluateRefusal(call({ output: raw }))[0]?.label).toBe("not_refused");
  });

  it("content-not-captured-and-normal-finish-is-skipped", () => {
    expect(evaluateRefusal(call({ output: "", finish_reason: "stop" }))).toEqual([]);
  });
});
