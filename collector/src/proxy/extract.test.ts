import { describe, expect, it } from "vitest";
import { CallCapture, jsonStringAt } from "./call-capture.js";
import { anthropicStreamEvent, newAnthropicUsageState } from "./extract-anthropic.js";
import { openaiJson, openaiStreamEvent, openaiUsageFromTail } from "./extract-openai.js";

const head = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","choices":';
const chunk = (choices: unknown, usage: unknown = null) =>
  `${head}${JSON.stringify(choices)},"usage":${JSON.stringify(usage)}}`;

describe("stream extraction", () => {
  it("delta-text-with-escapes-reads-the-same-on-the-fast-path-and-the-full-parse", () => {
    const pieces = ['He said "hi"', "\n\ttab\\slash", " caf\u00e9 \ud83d\udc4b", "</script>"];
    const cap = new CallCapture(10_000);
    openaiStreamEvent(
      cap,
      "chat",
      "",
      chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
    );
    for (const p of pieces) {
      openaiStreamEvent(
        cap,
        "chat",
        "",
        chunk([{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }]),
      );
    }
    openaiStreamEvent(cap, "chat", "", chunk([{ index: 0, delta: {}, finish_reason: "stop" }]));
    openaiStreamEvent(
      cap,
      "chat",
      "",
      chunk([], { prompt_tokens: 9, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 2 } }),
    );
    openaiStreamEvent(cap, "chat", "", "[DONE]");
    expect(cap.outputMessages()).toEqual([
      { role: "assistant", parts: [{ type: "text", content: pieces.join("") }], finish_reason: "stop" },
    ]);
    expect(cap.usage).toEqual({ input: 9, output: 4, cacheRead: 2, cacheWrite: 0, reasoning: 0 });
    expect(cap.usageFinal).toBe(true);
    expect(cap.responseModel).toBe("gpt-4o-2024-08-06");
  });

  it("several-choices-and-tool-calls-take-the-full-parse", () => {
    const cap = new CallCapture(10_000);
    openaiStreamEvent(cap, "chat", "", chunk([{ index: 0, delta: { role: "assistant" }, finish_reason: null }]));
    openaiStreamEvent(cap, "chat", "", chunk([{ index: 1, delta: { content: "second" }, finish_reason: null }]));
    openaiStreamEvent(
      cap,
      "chat",
      "",
      chunk([
        { index: 0, delta: { tool_calls: [{ index: 0, id: "call_1", function: { name: "f", arguments: '{"a"' } }] } },
      ]),
    );
    openaiStreamEvent(
      cap,
      "chat",
      "",
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ":1}" } }] } }]),
    );
    const out = cap.outputMessages();
    expect(out?.[0]?.parts).toEqual([{ type: "tool_call", id: "call_1", name: "f", arguments: { a: 1 } }]);
    expect(out?.[1]?.parts).toEqual([{ type: "text", content: "second" }]);
  });

  it("anthropic-usage-adds-cache-to-input-and-text-deltas-take-the-fast-path", () => {
    const cap = new CallCapture(10_000);
    const st = newAnthropicUsageState();
    const ev = (type: string, o: object) => anthropicStreamEvent(cap, st, type, JSON.stringify({ type, ...o }));
    ev("message_start", {
      message: {
        id: "msg_1",
        model: "claude-x",
        usage: { input_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 1 },
      },
    });
    ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
    ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: 'a "quoted" word' } });
    expect(cap.usageFinal).toBe(false);
    ev("message_delta", { delta: { stop_reason: "end_turn" }, usage: { output_tokens: 7 } });
    expect(cap.usage).toEqual({ input: 125, output: 7, cacheRead: 100, cacheWrite: 20, reasoning: 0 });
    expect(cap.usageFinal).toBe(true);
    expect(cap.finishReasons()).toEqual(["end_turn"]);
    expect(cap.outputMessages()?.[0]?.parts).toEqual([{ type: "text", content: 'a "quoted" word' }]);
  });

  it("output-capture-is-bounded", () => {
    const cap = new CallCapture(10);
    cap.responseId = "x";
    for (let i = 0; i < 5; i++)
      openaiStreamEvent(cap, "chat", "", chunk([{ index: 0, delta: { content: "abcd" }, finish_reason: null }]));
    expect(cap.truncated).toBe(true);
    const part = cap.outputMessages()?.[0]?.parts[0] as { content: string } | undefined;
    const text = part?.content ?? "";
    expect(text.startsWith("abcdabcdab")).toBe(true);
    expect(text.length).toBeLessThan(30);
  });

  it("usage-read-from-the-tail-of-a-body-too-large-to-parse", () => {
    const cap = new CallCapture(0);
    openaiUsageFromTail(cap, "embeddings", '0.1,0.2]}],"model":"m","usage":{"prompt_tokens":42,"total_tokens":42}}');
    expect(cap.usage).toMatchObject({ input: 42, output: 0 });
    const whole = new CallCapture(0);
    openaiJson(whole, "embeddings", { model: "m", usage: { prompt_tokens: 3, total_tokens: 3 } });
    expect(whole.usage).toMatchObject({ input: 3 });
  });

  it("json-string-literals-are-decoded-or-refused", () => {
    expect(jsonStringAt('x"a\\"b"y', 1)).toEqual({ value: 'a"b', end: 7 });
    expect(jsonStringAt('"plain"', 0)).toEqual({ value: "plain", end: 7 });
    expect(jsonStringAt('"unterminated', 0)).toBeUndefined();
    expect(jsonStringAt("nope", 0)).toBeUndefined();
  });
});
