import { describe, expect, it } from "vitest";
import {
  type ChatMessage,
  capMessages,
  contentFromEvents,
  fromOpenAiMessages,
  fromPromptValue,
  MAX_MESSAGES,
  MAX_STORED_BLOB_CHARS,
  otelMessages,
  parseOtelMessages,
  rebuildIndexed,
  systemMessage,
  withSystemInstructions,
} from "./messages.js";

const text = (role: string, content: string): ChatMessage => ({ role, parts: [{ type: "text", content }] });

describe("OTel GenAI messages", () => {
  it("structured-and-json-string-inputs-give-the-same-messages", () => {
    const list = [
      { role: "user", parts: [{ type: "text", content: "hi" }] },
      {
        role: "assistant",
        parts: [
          { type: "reasoning", content: "greet back" },
          { type: "text", content: "hello" },
        ],
      },
    ];
    expect(parseOtelMessages(list)).toEqual(list);
    expect(parseOtelMessages(JSON.stringify(list))).toEqual(list);
  });

  it("unchanged-json-string-is-reused-as-column-value", () => {
    const raw = '[{"role":"user","parts":[{"type":"text","content":"hi"}],"name":"alice"}]';
    expect(otelMessages(raw).json).toBe(raw);
  });

  it("unknown-part-types-pass-through", () => {
    const list = [{ role: "user", parts: [{ type: "file", file_id: "file-abc", modality: "document" }] }];
    expect(parseOtelMessages(list)).toEqual(list);
  });

  it("blob-and-uri-parts-are-kept", () => {
    const list = [
      {
        role: "user",
        parts: [
          { type: "blob", mime_type: "image/png", modality: "image", content: "iVBORw0KGgo=" },
          { type: "uri", uri: "https://example.com/cat.jpg", modality: "image" },
        ],
      },
    ];
    expect(parseOtelMessages(JSON.stringify(list))).toEqual(list);
  });

  it("blob-bytes-from-structured-events-become-base64", () => {
    const [m] = parseOtelMessages([
      {
        role: "user",
        parts: [{ type: "blob", mime_type: "audio/wav", modality: "audio", content: new Uint8Array([1, 2, 3]) }],
      },
    ]);
    expect(m?.parts[0]).toEqual({ type: "blob", mime_type: "audio/wav", modality: "audio", content: "AQID" });
  });

  it("a-blob-over-the-stored-bound-keeps-its-kind-and-size-not-its-payload", () => {
    // 30,000 bytes of image: 40,000 base64 characters.
    const photo = Buffer.alloc(30_000, 7).toString("base64");
    const small = Buffer.alloc(900, 7).toString("base64");
    expect(photo.length).toBeGreaterThan(MAX_STORED_BLOB_CHARS);
    const omitted = {
      type: "blob",
      mime_type: "image/png",
      modality: "image",
      content: "",
      content_omitted_bytes: 30_000,
    };
    // OTel parts, as a JSON string (the column is rewritten) and as bytes from structured events.
    const sent = [
      {
        role: "user",
        parts: [
          { type: "text", content: "what is in this picture?" },
          { type: "blob", mime_type: "image/png", modality: "image", content: photo },
          { type: "blob", mime_type: "image/png", modality: "image", content: small },
        ],
      },
    ];
    const { messages, json } = otelMessages(JSON.stringify(sent));
    expect(messages[0]?.parts).toEqual([sent[0]?.parts[0], omitted, sent[0]?.parts[2]]);
    expect(json.length).toBeLessThan(small.length + 500);
    expect(JSON.parse(json)).toEqual(messages);
    const [fromBytes] = parseOtelMessages([
      {
        role: "user",
        parts: [{ type: "blob", mime_type: "image/png", modality: "image", content: Buffer.alloc(30_000) }],
      },
    ]);
    expect(fromBytes?.parts[0]).toEqual(omitted);
    // OpenAI data URLs and input_audio, Anthropic base64 sources.
    const [openai] = fromOpenAiMessages([
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: `data:image/png;base64,${photo}` } },
          { type: "input_audio", input_audio: { data: photo, format: "wav" } },
          { type: "image", source: { type: "base64", media_type: "image/png", data: photo } },
        ],
      },
    ]);
    expect(openai?.parts).toEqual([omitted, { ...omitted, mime_type: "audio/wav", modality: "audio" }, omitted]);
  });

  it("truncated-json-is-kept-as-plain-text-and-empty-lists-store-nothing", () => {
    expect(otelMessages('[{"role":"user"')).toEqual({
      messages: [text("user", '[{"role":"user"')],
      json: JSON.stringify([text("user", '[{"role":"user"')]),
    });
    expect(otelMessages("[]").json).toBe("");
    expect(otelMessages(undefined).json).toBe("");
  });

  it("openai-style-message-inside-otel-list-is-converted", () => {
    expect(parseOtelMessages([{ role: "user", content: "legacy shape" }])).toEqual([text("user", "legacy shape")]);
  });

  it("output-list-default-role-is-assistant", () => {
    expect(otelMessages("plain completion text", undefined, "assistant").messages).toEqual([
      text("assistant", "plain completion text"),
    ]);
  });
});

describe("system instructions", () => {
  it("parts-list-json-string", () => {
    expect(systemMessage('[{"type":"text","content":"Be brief."}]')).toEqual(text("system", "Be brief."));
  });

  it("plain-text-instructions", () => {
    expect(systemMessage("Be brief.")).toEqual(text("system", "Be brief."));
  });

  it("empty-instructions-add-nothing", () => {
    expect(systemMessage("[]")).toBeUndefined();
    const msgs = [text("user", "q")];
    expect(withSystemInstructions(msgs, "")).toBe(msgs);
  });

  it("prepended-before-input-messages", () => {
    const { messages } = otelMessages('[{"role":"user","parts":[{"type":"text","content":"q"}]}]', "Be brief.");
    expect(messages).toEqual([text("system", "Be brief."), text("user", "q")]);
  });
});

describe("OpenAI-style messages", () => {
  it("string-and-text-block-content", () => {
    expect(
      fromOpenAiMessages([
        { role: "system", content: "sys" },
        {
          role: "user",
          content: [
            { type: "text", text: "part one" },
            { type: "text", text: "part two" },
          ],
        },
      ]),
    ).toEqual([
      text("system", "sys"),
      {
        role: "user",
        parts: [
          { type: "text", content: "part one" },
          { type: "text", content: "part two" },
        ],
      },
    ]);
  });

  it("assistant-tool-calls-with-json-string-arguments-and-null-content", () => {
    expect(
      fromOpenAiMessages([
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_abc", type: "function", function: { name: "lookup", arguments: '{"sku":"A-1"}' } },
            { id: "call_def", type: "function", function: { name: "broken", arguments: "{not json" } },
          ],
        },
      ]),
    ).toEqual([
      {
        role: "assistant",
        parts: [
          { type: "tool_call", id: "call_abc", name: "lookup", arguments: { sku: "A-1" } },
          { type: "tool_call", id: "call_def", name: "broken", arguments: "{not json" },
        ],
      },
    ]);
  });

  it("tool-role-becomes-tool-call-response", () => {
    expect(fromOpenAiMessages([{ role: "tool", tool_call_id: "call_abc", content: '{"price":12}' }])).toEqual([
      { role: "tool", parts: [{ type: "tool_call_response", id: "call_abc", response: '{"price":12}' }] },
    ]);
  });

  it("image-data-url-becomes-blob-and-http-url-becomes-uri", () => {
    const [m] = fromOpenAiMessages([
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } },
          { type: "image_url", image_url: { url: "https://example.com/a.png" } },
        ],
      },
    ]);
    expect(m?.parts).toEqual([
      { type: "blob", mime_type: "image/jpeg", modality: "image", content: "/9j/4AAQ" },
      { type: "uri", uri: "https://example.com/a.png", modality: "image" },
    ]);
  });

  it("anthropic-content-blocks", () => {
    expect(
      fromOpenAiMessages([
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "need the tool", signature: "sig" },
            { type: "tool_use", id: "toolu_01", name: "search", input: { q: "otel" } },
          ],
        },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "toolu_01", content: [{ type: "text", text: "3 hits" }] }],
        },
      ]),
    ).toEqual([
      {
        role: "assistant",
        parts: [
          { type: "reasoning", content: "need the tool" },
          { type: "tool_call", id: "toolu_01", name: "search", arguments: { q: "otel" } },
        ],
      },
      { role: "user", parts: [{ type: "tool_call_response", id: "toolu_01", response: "3 hits" }] },
    ]);
  });

  it("choices-keep-finish-reason", () => {
    expect(
      fromOpenAiMessages([{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "done" } }]),
    ).toEqual([{ ...text("assistant", "done"), finish_reason: "stop" }]);
  });

  it("ai-sdk-tool-message-keeps-result-block-ids", () => {
    expect(
      fromOpenAiMessages([
        {
          role: "tool",
          content: [{ type: "tool-result", toolCallId: "call_9", toolName: "get_lat_lng", result: { lat: 51.5 } }],
        },
      ]),
    ).toEqual([{ role: "tool", parts: [{ type: "tool_call_response", id: "call_9", response: { lat: 51.5 } }] }]);
  });

  it("messages-with-nothing-recognisable-are-dropped", () => {
    expect(fromOpenAiMessages([{ role: "user" }, { role: "assistant", content: "" }, 42])).toEqual([]);
    expect(fromOpenAiMessages([{ role: "assistant", content: "", finish_reason: "length" }])).toEqual([
      { role: "assistant", parts: [], finish_reason: "length" },
    ]);
  });

  it("langchain-and-gemini-role-names-are-mapped", () => {
    expect(
      fromOpenAiMessages([
        { role: "human", content: "a" },
        { role: "model", content: "b" },
      ]),
    ).toEqual([text("user", "a"), text("assistant", "b")]);
  });
});

describe("pre-1.28 prompt and completion values", () => {
  it("plain-text-prompt-becomes-one-user-message", () => {
    expect(fromPromptValue("Translate: cheese", "user")).toEqual([text("user", "Translate: cheese")]);
  });

  it("json-message-array", () => {
    expect(fromPromptValue('[{"role":"user","content":"hi"}]', "user")).toEqual([text("user", "hi")]);
  });

  it("completion-choices-object", () => {
    expect(fromPromptValue('{"choices":[{"finish_reason":"stop","message":{"content":"yo"}}]}', "assistant")).toEqual([
      { ...text("assistant", "yo"), finish_reason: "stop" },
    ]);
  });
});

describe("content from events", () => {
  it("operation-details-wins-over-deprecated-events-sent-alongside", () => {
    const { input, output } = contentFromEvents([
      { name: "gen_ai.user.message", attributes: { content: "old" } },
      {
        name: "gen_ai.client.inference.operation.details",
        attributes: {
          "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"new"}]}]',
        },
      },
      { name: "gen_ai.choice", attributes: { index: 0, finish_reason: "stop", message: '{"content":"answer"}' } },
    ]);
    expect(input).toEqual([text("user", "new")]);
    expect(output).toEqual([{ ...text("assistant", "answer"), finish_reason: "stop" }]);
  });

  it("log-record-bodies-carry-deprecated-event-fields", () => {
    const { input, output } = contentFromEvents([
      { name: "gen_ai.user.message", attributes: { "gen_ai.system": "openai" }, body: { content: "from body" } },
      {
        name: "gen_ai.choice",
        attributes: {},
        body: {
          index: 0,
          finish_reason: "tool_calls",
          message: {
            tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
          },
        },
      },
    ]);
    expect(input).toEqual([text("user", "from body")]);
    expect(output).toEqual([
      {
        role: "assistant",
        parts: [{ type: "tool_call", id: "c1", name: "f", arguments: {} }],
        finish_reason: "tool_calls",
      },
    ]);
  });

  it("choice-with-only-a-finish-reason-is-kept", () => {
    expect(
      contentFromEvents([{ name: "gen_ai.choice", attributes: { index: 0, finish_reason: "content_filter" } }]),
    ).toEqual({
      input: [],
      output: [{ role: "assistant", parts: [], finish_reason: "content_filter" }],
    });
  });

  it("pre-1-28-content-events", () => {
    expect(
      contentFromEvents([
        { name: "gen_ai.content.prompt", attributes: { "gen_ai.prompt": "Summarize: the cat sat." } },
        { name: "gen_ai.content.completion", attributes: { "gen_ai.completion": "A cat sat." } },
      ]),
    ).toEqual({ input: [text("user", "Summarize: the cat sat.")], output: [text("assistant", "A cat sat.")] });
  });

  it("no-content-events-give-empty-lists", () => {
    expect(contentFromEvents([{ name: "exception", attributes: {} }])).toEqual({ input: [], output: [] });
  });
});

describe("caps", () => {
  it("long-history-keeps-first-message-and-most-recent", () => {
    const msgs = Array.from({ length: MAX_MESSAGES + 10 }, (_, i) => text("user", `m${i}`));
    const capped = capMessages(msgs);
    expect(capped).toHaveLength(MAX_MESSAGES);
    expect(capped[0]).toBe(msgs[0]);
    expect(capped[1]).toBe(msgs[11]);
    expect(capped.at(-1)).toBe(msgs.at(-1));
  });
});

describe("rebuildIndexed", () => {
  it("openllmetry-prompt-keys-rebuild-in-index-order", () => {
    expect(
      rebuildIndexed(
        {
          "gen_ai.prompt.1.role": "user",
          "gen_ai.prompt.1.content": "hi",
          "gen_ai.prompt.0.role": "system",
          "gen_ai.prompt.0.content": "be nice",
          "gen_ai.prompt.name": "not-an-index",
          "gen_ai.request.model": "gpt-4o",
        },
        "gen_ai.prompt",
      ),
    ).toEqual([
      { role: "system", content: "be nice" },
      { role: "user", content: "hi" },
    ]);
  });

  it("openinference-nested-indexed-keys-become-nested-arrays", () => {
    expect(
      rebuildIndexed(
        {
          "llm.output_messages.0.message.role": "assistant",
          "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
          "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "search",
          "llm.output_messages.0.message.tool_calls.2.tool_call.function.name": "fetch",
        },
        "llm.output_messages",
      ),
    ).toEqual([
      {
        message: {
          role: "assistant",
          tool_calls: [
            { tool_call: { id: "call_1", function: { name: "search" } } },
            { tool_call: { function: { name: "fetch" } } },
          ],
        },
      },
    ]);
  });

  it("gaps-are-closed-and-indexes-past-the-cap-ignored", () => {
    expect(rebuildIndexed({ "p.5.a": 1, "p.2.a": 2, "p.1000.a": 3, "p.x.a": 4, "p.3": 5 }, "p", 1000)).toEqual([
      { a: 2 },
      { a: 1 },
    ]);
  });

  it("prototype-keys-are-not-written", () => {
    const out = rebuildIndexed({ "p.0.__proto__.polluted": "yes", "p.0.ok": 1 }, "p");
    expect(out).toEqual([{ ok: 1 }]);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("no-matching-keys-gives-empty-array", () => {
    expect(rebuildIndexed({ a: 1 }, "gen_ai.completion")).toEqual([]);
  });
});
