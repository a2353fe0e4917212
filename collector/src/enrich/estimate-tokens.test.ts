import { describe, expect, it } from "vitest";
import { encodingForModel, estimateTokens } from "./estimate-tokens.js";

const msgs = (...messages: Array<{ role: string; parts: unknown[] }>): string => JSON.stringify(messages);
const text = (content: string) => ({ type: "text", content });

describe("encodingForModel", () => {
  it.each([
    ["gpt-4o", "o200k_base"],
    ["gpt-4o-mini-2024-07-18", "o200k_base"],
    ["gpt-4.1-nano", "o200k_base"],
    ["gpt-5.2", "o200k_base"],
    ["o3-mini", "o200k_base"],
    ["o4-mini", "o200k_base"],
    ["openai/gpt-oss-120b", "o200k_base"],
    ["ft:gpt-4o-mini-2024-07-18:org::abc", "o200k_base"],
    ["gpt-4", "cl100k_base"],
    ["gpt-3.5-turbo", "cl100k_base"],
    ["claude-sonnet-4-5", "cl100k_base"],
    ["gemini-2.5-pro", "cl100k_base"],
    ["", "cl100k_base"],
  ])("%s -> %s", (model, encoding) => {
    expect(encodingForModel(model)).toBe(encoding);
  });
});

describe("estimateTokens", () => {
  it("counts a chat exchange with the per-message overhead on input only", () => {
    // Input, o200k_base:
    //   reply priming                                   3
    //   system: 3 framing + "system" 1 + "You are terse." 4           = 8
    //   user:   3 framing + "user" 1 + "What is the capital of France?" 7 = 11
    //   total 3 + 8 + 11 = 22
    // Output: "Paris." = 2 (no framing: usage counts only generated tokens)
    const estimate = estimateTokens({
      model: "gpt-4o",
      input: msgs(
        { role: "system", parts: [text("You are terse.")] },
        { role: "user", parts: [text("What is the capital of France?")] },
      ),
      output: msgs({ role: "assistant", parts: [text("Paris.")] }),
    });
    expect(estimate).toEqual({ input_tokens: 22, output_tokens: 2 });
  });

  it("counts tool call arguments, tool responses and reasoning, and skips blobs", () => {
    // Input:  priming 3
    //   assistant: 3 + "assistant" 1 + name "get_weather" 2 + arguments {"city":"Paris"} 5 = 11
    //   tool:      3 + "tool" 1 + response {"temp_c":21} 6                                 = 10
    //   user:      3 + "user" 1 + blob 0                                                    = 4
    //   total 3 + 11 + 10 + 4 = 28
    // Output: reasoning "Thinking about it." 4 + text "hello world" 2 = 6
    const estimate = estimateTokens({
      model: "gpt-5",
      input: msgs(
        {
          role: "assistant",
          parts: [{ type: "tool_call", id: "c1", name: "get_weather", arguments: { city: "Paris" } }],
        },
        { role: "tool", parts: [{ type: "tool_call_response", id: "c1", response: '{"temp_c":21}' }] },
        { role: "user", parts: [{ type: "blob", mime_type: "image/png", modality: "image", content: "iVBORw0KGgo=" }] },
      ),
      output: msgs({
        role: "assistant",
        parts: [{ type: "reasoning", content: "Thinking about it." }, text("hello world")],
      }),
    });
    expect(estimate).toEqual({ input_tokens: 28, output_tokens: 6 });
  });

  it("uses o200k_base for OpenAI's newer models and cl100k_base for others", () => {
    // "नमस्ते दुनिया" is 5 tokens in o200k_base and 13 in cl100k_base.
    const output = msgs({ role: "assistant", parts: [text("नमस्ते दुनिया")] });
    expect(estimateTokens({ model: "gpt-4.1", input: "", output }).output_tokens).toBe(5);
    expect(estimateTokens({ model: "claude-haiku-4-5", input: "", output }).output_tokens).toBe(13);
  });

  it("usage-missing-with-plain-text-content counts the raw string", () => {
    // Not JSON (some senders store plain prompt text): counted as one text, no framing.
    expect(estimateTokens({ model: "gpt-4o", input: "hello world", output: "" })).toEqual({
      input_tokens: 2,
      output_tokens: 0,
    });
  });

  it("empty content estimates zero", () => {
    expect(estimateTokens({ model: "gpt-4o", input: "", output: "  " })).toEqual({ input_tokens: 0, output_tokens: 0 });
    expect(estimateTokens({ model: "gpt-4o", input: "[]", output: "[]" })).toEqual({
      input_tokens: 0,
      output_tokens: 0,
    });
  });

  it("accepts provider-shaped messages with a content string", () => {
    // priming 3 + framing 3 + "user" 1 + "hello world" 2 = 9
    const input = JSON.stringify([{ role: "user", content: "hello world" }]);
    expect(estimateTokens({ model: "gpt-4o", input, output: "" }).input_tokens).toBe(9);
  });

  it("long-run-without-whitespace-stays-fast (tiktoken is quadratic on one long pre-token)", () => {
    // 300k "a" in one piece takes minutes in tiktoken; windows and the encode budget keep it bounded.
    const started = performance.now();
    const estimate = estimateTokens({
      model: "gpt-4o",
      input: msgs({ role: "user", parts: [text("a".repeat(300_000))] }),
      output: "",
    });
    expect(performance.now() - started).toBeLessThan(5_000);
    // "a" x 1024 encodes to 128 tokens, i.e. 8 chars per token: ~37.5k tokens plus framing.
    expect(estimate.input_tokens).toBeGreaterThan(30_000);
    expect(estimate.input_tokens).toBeLessThan(45_000);
  });

  it("extrapolates text beyond the encode budget at the observed ratio", () => {
    // "The quick brown fox jumps over the lazy dog. " is 10 tokens per 45 chars; 20k copies = 900k
    // chars = ~200k tokens, of which only the first 200k chars are actually encoded.
    const sentence = "The quick brown fox jumps over the lazy dog. ";
    const estimate = estimateTokens({ model: "gpt-4o", input: sentence.repeat(20_000), output: "" });
    expect(estimate.input_tokens).toBeGreaterThan(190_000);
    expect(estimate.input_tokens).toBeLessThan(210_000);
  });
});
