import { describe, expect, it } from "vitest";
import type { Attributes, DecodedSpan, SpanEvent } from "../otlp/types.js";
import { normalizeProvider, otelGenAiAdapter, secondsToMs } from "./otel-genai.js";
import { START_US, spanMaker } from "./test-span.js";
import type { CallFacts } from "./types.js";
import { correctUsage } from "./usage.js";

const makeSpan = spanMaker({
  name: "chat gpt-4o",
  kind: 3,
  endTimeUs: START_US + 1_250_000,
  resource: { attributes: { "service.name": "checkout-api" } },
  scope: { name: "@opentelemetry/instrumentation-openai", version: "0.5.0" },
});

function event(name: string, attributes: Attributes, offsetUs = 1000): SpanEvent {
  return { name, timeUs: START_US + offsetUs, attributes };
}

function extract(span: DecodedSpan): CallFacts {
  const cls = otelGenAiAdapter.classify(span);
  expect(cls.isModelCall).toBe(true);
  return otelGenAiAdapter.extract(span);
}

describe("otel_genai detect and classify", () => {
  it("detects any of the GenAI identifying keys", () => {
    expect(otelGenAiAdapter.detect(makeSpan({ "gen_ai.operation.name": "chat" }))).toBe(true);
    expect(otelGenAiAdapter.detect(makeSpan({ "gen_ai.system": "openai" }))).toBe(true);
    expect(otelGenAiAdapter.detect(makeSpan({ "gen_ai.provider.name": "anthropic" }))).toBe(true);
    expect(otelGenAiAdapter.detect(makeSpan({ "gen_ai.request.model": "gpt-4o" }))).toBe(true);
    expect(otelGenAiAdapter.detect(makeSpan({ "http.request.method": "POST" }))).toBe(false);
  });

  it("invoke-agent-aggregate-is-not-a-model-call", () => {
    const span = makeSpan({
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.provider.name": "openai",
      "gen_ai.agent.name": "Math Tutor",
      "gen_ai.request.model": "gpt-4o",
      "gen_ai.usage.input_tokens": 900,
      "gen_ai.usage.output_tokens": 300,
    });
    expect(otelGenAiAdapter.classify(span)).toEqual({
      convention: "otel_genai",
      operation: "invoke_agent",
      isModelCall: false,
    });
  });

  it.each(["create_agent", "execute_tool", "invoke_workflow", "retrieval", "plan"])(
    "aggregate-operation-%s-is-not-a-model-call",
    (op) => {
      expect(otelGenAiAdapter.classify(makeSpan({ "gen_ai.operation.name": op })).isModelCall).toBe(false);
    },
  );

  it.each([
    ["chat", "chat"],
    ["generate_content", "generate_content"],
    ["text_completion", "text_completion"],
    ["embeddings", "embeddings"],
    ["completion", "text_completion"],
  ])("model-call-operation-%s-is-stored-as-%s", (op, stored) => {
    expect(otelGenAiAdapter.classify(makeSpan({ "gen_ai.operation.name": op }))).toEqual({
      convention: "otel_genai",
      operation: stored,
      isModelCall: true,
    });
  });

  it("model-keys-without-operation-default-to-chat", () => {
    const span = makeSpan({ "gen_ai.system": "openai", "gen_ai.request.model": "gpt-3.5-turbo" });
    expect(otelGenAiAdapter.classify(span)).toEqual({ convention: "otel_genai", operation: "chat", isModelCall: true });
  });

  it("system-only-span-without-model-is-not-a-call", () => {
    expect(otelGenAiAdapter.classify(makeSpan({ "gen_ai.system": "openai" })).isModelCall).toBe(false);
  });
});

describe("otel_genai extract", () => {
  it("latest-convention-chat-with-cache-and-reasoning", () => {
    const facts = extract(
      makeSpan({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "o4-mini",
        "gen_ai.response.model": "o4-mini-2025-04-16",
        "gen_ai.response.id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 2048,
        "gen_ai.usage.output_tokens": 812,
        "gen_ai.usage.cache_read.input_tokens": 1536,
        "gen_ai.usage.reasoning.output_tokens": 640,
        "gen_ai.request.max_tokens": 4096,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.seed": 42,
        "gen_ai.request.reasoning.level": "medium",
        "gen_ai.prompt.name": "support-answer",
        "gen_ai.prompt.version": "7",
        "gen_ai.conversation.id": "conv_5j66UpCpwteGg4YSxUnt7lPY",
        "user.id": "u-1842",
        "http.response.status_code": 200,
      }),
    );
    expect(facts).toMatchObject({
      provider: "openai",
      operation: "chat",
      request_model: "o4-mini",
      response_model: "o4-mini-2025-04-16",
      response_id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
      prompt_name: "support-answer",
      prompt_version: "7",
      // input includes the cached reads, output includes reasoning: stored as sent.
      input_tokens: 2048,
      output_tokens: 812,
      cache_read_tokens: 1536,
      cache_write_tokens: 0,
      reasoning_tokens: 640,
      usageMissing: false,
      status: "ok",
      error_type: "",
      finish_reason: "stop",
      http_status: 200,
      streamed: 0,
      ttft_ms: null,
      userId: "u-1842",
      sessionId: "conv_5j66UpCpwteGg4YSxUnt7lPY",
      tags: {},
      reportedCostUsd: null,
      input: "",
      output: "",
    });
    expect(JSON.parse(facts.request_params)).toEqual({
      max_tokens: 4096,
      temperature: 0.2,
      seed: 42,
      reasoning_level: "medium",
    });
  });

  it("deprecated-system-with-prompt-tokens-and-content-events", () => {
    const span = makeSpan(
      {
        "gen_ai.system": "az.ai.openai",
        "gen_ai.request.model": "gpt-35-turbo",
        "gen_ai.response.model": "gpt-35-turbo-0613",
        "gen_ai.usage.prompt_tokens": "57",
        "gen_ai.usage.completion_tokens": "12",
        "gen_ai.response.finish_reasons": '["stop"]',
        "enduser.id": "legacy-user",
      },
      {
        events: [
          event("gen_ai.content.prompt", {
            "gen_ai.prompt": JSON.stringify([
              { role: "system", content: "You are terse." },
              { role: "user", content: "Capital of France?" },
            ]),
          }),
          event("gen_ai.content.completion", {
            "gen_ai.completion": JSON.stringify([{ role: "assistant", content: "Paris." }]),
          }),
        ],
      },
    );
    const facts = extract(span);
    expect(facts).toMatchObject({
      provider: "azure.ai.openai",
      operation: "chat",
      input_tokens: 57,
      output_tokens: 12,
      usageMissing: false,
      finish_reason: "stop",
      userId: "legacy-user",
    });
    expect(JSON.parse(facts.input)).toEqual([
      { role: "system", parts: [{ type: "text", content: "You are terse." }] },
      { role: "user", parts: [{ type: "text", content: "Capital of France?" }] },
    ]);
    expect(JSON.parse(facts.output)).toEqual([{ role: "assistant", parts: [{ type: "text", content: "Paris." }] }]);
  });

  it("cache-reads-larger-than-input-are-added-back", () => {
    // Anthropic reports input_tokens without the cached part; an instrumentation copying it
    // verbatim sends cache counts larger than the input they belong to.
    const facts = extract(
      makeSpan({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 24,
        "gen_ai.usage.output_tokens": 310,
        "gen_ai.usage.cache_read.input_tokens": 18_000,
        "gen_ai.usage.cache_creation.input_tokens": 1200,
      }),
    );
    expect(facts.input_tokens).toBe(24 + 18_000 + 1200);
    expect(facts.cache_read_tokens).toBe(18_000);
    expect(facts.cache_write_tokens).toBe(1200);
    expect(facts.output_tokens).toBe(310);
  });

  it("cache-within-input-is-left-as-sent", () => {
    expect(correctUsage({ input: 1000, output: 10, cacheRead: 600, cacheWrite: 100, reasoning: 0 })).toEqual({
      input: 1000,
      output: 10,
      cacheRead: 600,
      cacheWrite: 100,
      reasoning: 0,
    });
  });

  it("reasoning-larger-than-output-is-added-back", () => {
    expect(correctUsage({ input: 10, output: 40, cacheRead: 0, cacheWrite: 0, reasoning: 900 }).output).toBe(940);
  });

  it("cache-write-prefers-current-name-over-cache-creation", () => {
    const facts = extract(
      makeSpan({
        "gen_ai.request.model": "claude-haiku-4-5",
        "gen_ai.usage.input_tokens": 5000,
        "gen_ai.usage.output_tokens": 1,
        "gen_ai.usage.cache_write.input_tokens": 4000,
        "gen_ai.usage.cache_creation.input_tokens": 3,
      }),
    );
    expect(facts.cache_write_tokens).toBe(4000);
    expect(facts.input_tokens).toBe(5000);
  });

  it("embeddings-without-output-tokens", () => {
    const facts = extract(
      makeSpan({
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small",
        "gen_ai.request.encoding_formats": ["float"],
        "gen_ai.usage.input_tokens": 37,
      }),
    );
    expect(facts).toMatchObject({
      operation: "embeddings",
      input_tokens: 37,
      output_tokens: 0,
      usageMissing: false,
      finish_reason: "",
    });
    expect(JSON.parse(facts.request_params)).toEqual({ encoding_formats: ["float"] });
  });

  it("usage-missing-is-flagged-not-zeroed-silently", () => {
    const facts = extract(makeSpan({ "gen_ai.operation.name": "chat", "gen_ai.request.model": "llama3.1:8b" }));
    expect(facts.usageMissing).toBe(true);
    expect(facts.input_tokens).toBe(0);
    expect(facts.request_params).toBe("{}");
  });

  it("one-implausible-token-count-makes-the-whole-usage-unknown", () => {
    const base = { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o" };
    // A billion tokens is the most a call can report (MAX_REPORTED_TOKENS): kept as sent.
    const atBound = extract(
      makeSpan({ ...base, "gen_ai.usage.input_tokens": 1_000_000_000, "gen_ai.usage.output_tokens": 5 }),
    );
    expect(atBound).toMatchObject({ usageMissing: false, input_tokens: 1_000_000_000, output_tokens: 5 });
    // Above it, or negative, in any count: the sender's other counts are not trusted either.
    const implausible: Attributes[] = [
      { "gen_ai.usage.input_tokens": 1_000_000_001 },
      { "gen_ai.usage.input_tokens": 1e300 },
      { "gen_ai.usage.cache_read.input_tokens": -1 },
      { "gen_ai.usage.reasoning.output_tokens": 2e12 },
    ];
    for (const bad of implausible) {
      const facts = extract(
        makeSpan({ ...base, "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 5, ...bad }),
      );
      expect(facts).toMatchObject({ usageMissing: true, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0 });
    }
  });

  it("error-span-takes-type-from-exception-event", () => {
    const facts = extract(
      makeSpan(
        { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "http.response.status_code": 429 },
        {
          status: { code: 2, message: "Rate limit reached for gpt-4o" },
          events: [
            event("exception", {
              "exception.type": "RateLimitError",
              "exception.message": "429 Rate limit reached",
              "exception.stacktrace": "RateLimitError: 429 ...",
            }),
          ],
        },
      ),
    );
    expect(facts).toMatchObject({ status: "error", error_type: "RateLimitError", http_status: 429 });
  });

  it("error-type-attribute-wins-over-exception-event", () => {
    const facts = extract(
      makeSpan(
        { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "error.type": "timeout" },
        { status: { code: 2, message: "" }, events: [event("exception", { "exception.type": "APITimeoutError" })] },
      ),
    );
    expect(facts).toMatchObject({ status: "error", error_type: "timeout" });
  });

  it("error-status-without-any-type-is-_OTHER", () => {
    const facts = extract(
      makeSpan(
        { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o" },
        { status: { code: 2, message: "" } },
      ),
    );
    expect(facts).toMatchObject({ status: "error", error_type: "_OTHER" });
  });

  it("abort-error-is-cancelled-not-error", () => {
    const facts = extract(
      makeSpan(
        { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "error.type": "AbortError" },
        { status: { code: 2, message: "This operation was aborted" } },
      ),
    );
    expect(facts).toMatchObject({ status: "cancelled", error_type: "AbortError" });
  });

  it("tokenmeter-status-cancelled-marks-stream-cancelled-mid-response", () => {
    const facts = extract(
      makeSpan({
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.request.stream": true,
        "tokenmeter.status": "cancelled",
      }),
    );
    expect(facts).toMatchObject({ status: "cancelled", error_type: "cancelled", streamed: 1 });
  });

  it("streaming-ttft-seconds-become-ms", () => {
    const facts = extract(
      makeSpan({
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.time_to_first_chunk": 0.35,
      }),
    );
    expect(facts.ttft_ms).toBe(350);
    expect(facts.streamed).toBe(1);
    expect(secondsToMs(1.2345678)).toBe(1234.568);
  });

  it("server-time-to-first-token-is-seconds-too", () => {
    const facts = extract(
      makeSpan({
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "mistral-large",
        "gen_ai.server.time_to_first_token": "0.08",
      }),
    );
    expect(facts.ttft_ms).toBe(80);
  });

  it("stream-flag-without-ttft-is-streamed-with-unknown-ttft", () => {
    const facts = extract(
      makeSpan({ "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.request.stream": true }),
    );
    expect(facts).toMatchObject({ streamed: 1, ttft_ms: null });
    expect(JSON.parse(facts.request_params)).toEqual({ stream: true });
  });

  it("content-from-operation-details-event", () => {
    const facts = extract(
      makeSpan(
        {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "gcp.gemini",
          "gen_ai.request.model": "gemini-2.5-flash",
        },
        {
          events: [
            event("gen_ai.client.inference.operation.details", {
              "gen_ai.system_instructions": [{ type: "text", content: "Answer in French." }],
              "gen_ai.input.messages": [{ role: "user", parts: [{ type: "text", content: "Hello" }] }],
              "gen_ai.output.messages": [
                { role: "assistant", parts: [{ type: "text", content: "Bonjour" }], finish_reason: "stop" },
              ],
            }),
          ],
        },
      ),
    );
    expect(JSON.parse(facts.input)).toEqual([
      { role: "system", parts: [{ type: "text", content: "Answer in French." }] },
      { role: "user", parts: [{ type: "text", content: "Hello" }] },
    ]);
    expect(JSON.parse(facts.output)).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Bonjour" }], finish_reason: "stop" },
    ]);
    // No gen_ai.response.finish_reasons on the span: taken from the output message.
    expect(facts.finish_reason).toBe("stop");
  });

  it("system-instructions-attribute-is-prepended-as-system-message", () => {
    const input = JSON.stringify([{ role: "user", parts: [{ type: "text", content: "Weather in Paris?" }] }]);
    const facts = extract(
      makeSpan({
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.system_instructions": JSON.stringify([{ type: "text", content: "You are a weather bot." }]),
        "gen_ai.input.messages": input,
      }),
    );
    expect(JSON.parse(facts.input)).toEqual([
      { role: "system", parts: [{ type: "text", content: "You are a weather bot." }] },
      { role: "user", parts: [{ type: "text", content: "Weather in Paris?" }] },
    ]);
  });

  it("well-formed-input-messages-string-is-stored-without-restringify", () => {
    const input = '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]';
    const facts = extract(
      makeSpan({ "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.input.messages": input }),
    );
    expect(facts.input).toBe(input);
  });

  it("tool-calls-in-output-messages-and-tool-responses-in-input", () => {
    const facts = extract(
      makeSpan({
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.finish_reasons": ["tool_calls"],
        "gen_ai.input.messages": JSON.stringify([
          { role: "user", parts: [{ type: "text", content: "Weather in Paris?" }] },
          {
            role: "assistant",
            parts: [{ type: "tool_call", id: "call_1", name: "get_weather", arguments: { city: "Paris" } }],
          },
          // early schema drafts spelled `response` as `result`
          { role: "tool", parts: [{ type: "tool_call_response", id: "call_1", result: "rainy, 57F" }] },
        ]),
        "gen_ai.output.messages": JSON.stringify([
          {
            role: "assistant",
            parts: [{ type: "tool_call", id: "call_2", name: "get_forecast", arguments: { city: "Paris", days: 3 } }],
            finish_reason: "tool_call",
          },
        ]),
      }),
    );
    const input = JSON.parse(facts.input) as { parts: unknown[] }[];
    expect(input[2]?.parts[0]).toEqual({ type: "tool_call_response", id: "call_1", response: "rainy, 57F" });
    expect(JSON.parse(facts.output)[0].parts[0]).toEqual({
      type: "tool_call",
      id: "call_2",
      name: "get_forecast",
      arguments: { city: "Paris", days: 3 },
    });
    expect(facts.finish_reason).toBe("tool_calls");
  });

  it("deprecated-message-events-with-tool-calls-and-choice", () => {
    const facts = extract(
      makeSpan(
        { "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o" },
        {
          events: [
            event("gen_ai.system.message", { "gen_ai.system": "openai", content: "You are helpful." }),
            event("gen_ai.user.message", { content: "Weather in Paris?" }),
            event("gen_ai.assistant.message", {
              tool_calls: JSON.stringify([
                { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
              ]),
            }),
            event("gen_ai.tool.message", { id: "call_1", content: "rainy, 57F" }),
            event("gen_ai.choice", {
              index: 1,
              finish_reason: "length",
              message: JSON.stringify({ content: "Second choice" }),
            }),
            event("gen_ai.choice", {
              index: 0,
              finish_reason: "stop",
              message: JSON.stringify({ role: "assistant", content: "It is rainy in Paris." }),
            }),
          ],
        },
      ),
    );
    expect(JSON.parse(facts.input)).toEqual([
      { role: "system", parts: [{ type: "text", content: "You are helpful." }] },
      { role: "user", parts: [{ type: "text", content: "Weather in Paris?" }] },
      {
        role: "assistant",
        parts: [{ type: "tool_call", id: "call_1", name: "get_weather", arguments: { city: "Paris" } }],
      },
      { role: "tool", parts: [{ type: "tool_call_response", id: "call_1", response: "rainy, 57F" }] },
    ]);
    expect(JSON.parse(facts.output)).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "It is rainy in Paris." }], finish_reason: "stop" },
      { role: "assistant", parts: [{ type: "text", content: "Second choice" }], finish_reason: "length" },
    ]);
  });

  it("span-attributes-content-wins-over-events", () => {
    const facts = extract(
      makeSpan(
        {
          "gen_ai.operation.name": "chat",
          "gen_ai.request.model": "gpt-4o",
          "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"from attributes"}]}]',
        },
        { events: [event("gen_ai.user.message", { content: "from event" })] },
      ),
    );
    expect(facts.input).toContain("from attributes");
    expect(facts.input).not.toContain("from event");
  });

  it("reported-cost-user-and-session", () => {
    const facts = extract(
      makeSpan({
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cost": 0.000125,
        "session.id": "sess-9",
      }),
    );
    expect(facts.reportedCostUsd).toBe(0.000125);
    expect(facts.sessionId).toBe("sess-9");
    expect(facts.userId).toBe("");
  });

  it.each([
    ["az.ai.openai", "azure.ai.openai"],
    ["az.ai.inference", "azure.ai.inference"],
    ["vertex_ai", "gcp.vertex_ai"],
    ["gemini", "gcp.gemini"],
    ["xai", "x_ai"],
    ["ibm.watson.ai", "ibm.watsonx.ai"],
    ["AWS.Bedrock", "aws.bedrock"],
    ["anthropic", "anthropic"],
  ])("old-provider-name-%s-becomes-%s", (raw, expected) => {
    expect(normalizeProvider(raw)).toBe(expected);
  });

  it("provider-name-wins-over-deprecated-system", () => {
    const facts = extract(
      makeSpan({ "gen_ai.provider.name": "gcp.vertex_ai", "gen_ai.system": "vertex_ai", "gen_ai.request.model": "m" }),
    );
    expect(facts.provider).toBe("gcp.vertex_ai");
  });
});

describe("otel_genai scores", () => {
  it("evaluation-result-events-become-scores", () => {
    const span = makeSpan(
      { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o" },
      {
        events: [
          event(
            "gen_ai.evaluation.result",
            {
              "gen_ai.evaluation.name": "Relevance",
              "gen_ai.evaluation.score.value": 4,
              "gen_ai.evaluation.score.label": "relevant",
              "gen_ai.evaluation.explanation": "Addresses the question directly.",
            },
            2000,
          ),
          event("gen_ai.evaluation.result", {
            "gen_ai.evaluation.name": "Toxicity",
            "gen_ai.evaluation.score.label": "safe",
          }),
          event("gen_ai.evaluation.result", {}),
          event("exception", { "exception.type": "X" }),
        ],
      },
    );
    expect(otelGenAiAdapter.scores?.(span)).toEqual([
      {
        name: "Relevance",
        value: 4,
        label: "relevant",
        comment: "Addresses the question directly.",
        timeUs: START_US + 2000,
      },
      { name: "Toxicity", value: null, label: "safe", comment: "", timeUs: START_US + 1000 },
    ]);
  });
});
