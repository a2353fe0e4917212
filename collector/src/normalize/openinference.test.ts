import { describe, expect, it } from "vitest";
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { openInferenceAdapter } from "./openinference.js";
import { START_US, spanMaker } from "./test-span.js";
import type { CallFacts } from "./types.js";

const makeSpan = spanMaker({
  name: "ChatAnthropic",
  kind: 1,
  endTimeUs: START_US + 3_000_000,
  status: { code: 1, message: "" },
  resource: { attributes: { "service.name": "py-agent" } },
  scope: { name: "openinference.instrumentation.langchain", version: "0.1.40" },
});

function extract(span: DecodedSpan): CallFacts {
  expect(openInferenceAdapter.detect(span)).toBe(true);
  expect(openInferenceAdapter.classify(span).isModelCall).toBe(true);
  return openInferenceAdapter.extract(span);
}

/** A Python OpenInference LLM span (LangChain + Anthropic, streamed, priced by the sender). */
const PYTHON_LLM: Attributes = {
  "openinference.span.kind": "LLM",
  "llm.provider": "anthropic",
  "llm.system": "anthropic",
  "llm.model_name": "claude-sonnet-4-5-20250929",
  "llm.invocation_parameters": JSON.stringify({
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    temperature: 0.2,
    stream: true,
  }),
  "llm.input_messages.0.message.role": "system",
  "llm.input_messages.0.message.content": "Use tools.",
  "llm.input_messages.1.message.role": "user",
  "llm.input_messages.1.message.contents.0.message_content.type": "text",
  "llm.input_messages.1.message.contents.0.message_content.text": "What is in this picture?",
  "llm.input_messages.1.message.contents.1.message_content.type": "image",
  "llm.input_messages.1.message.contents.1.message_content.image.image.url": "https://example.com/cat.png",
  "llm.input_messages.2.message.role": "tool",
  "llm.input_messages.2.message.tool_call_id": "toolu_1",
  "llm.input_messages.2.message.content": "sunny",
  "llm.output_messages.0.message.role": "assistant",
  "llm.output_messages.0.message.content": "A cat.",
  "llm.output_messages.0.message.tool_calls.0.tool_call.id": "toolu_2",
  "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "zoom",
  "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"factor":2}',
  "llm.token_count.prompt": 1300,
  "llm.token_count.completion": 60,
  "llm.token_count.prompt_details.cache_read": 1000,
  "llm.token_count.prompt_details.cache_write": 200,
  "llm.token_count.completion_details.reasoning": 20,
  "llm.cost.total": 0.0042,
  "user.id": "u-9",
  "session.id": "s-9",
  metadata: JSON.stringify({ tenant: "acme", tier: 2 }),
  "tag.tags": ["beta"],
};

describe("openinference adapter", () => {
  it("python-llm-span-with-indexed-messages-usage-cost-and-first-token-event", () => {
    const f = extract(
      makeSpan(PYTHON_LLM, {
        events: [{ name: "First Token Stream Event", timeUs: START_US + 412_000, attributes: {} }],
      }),
    );
    expect(f).toMatchObject({
      provider: "anthropic",
      operation: "chat",
      request_model: "claude-sonnet-4-5",
      response_model: "claude-sonnet-4-5-20250929",
      input_tokens: 1300,
      output_tokens: 60,
      cache_read_tokens: 1000,
      cache_write_tokens: 200,
      reasoning_tokens: 20,
      ttft_ms: 412,
      streamed: 1,
      status: "ok",
      reportedCostUsd: 0.0042,
      userId: "u-9",
      sessionId: "s-9",
      tags: { tenant: "acme", tier: "2", beta: "true" },
    });
    expect(JSON.parse(f.request_params)).toEqual({ max_tokens: 1024, temperature: 0.2, stream: true });
    expect(JSON.parse(f.input)).toEqual([
      { role: "system", parts: [{ type: "text", content: "Use tools." }] },
      {
        role: "user",
        parts: [
          { type: "text", content: "What is in this picture?" },
          { type: "uri", uri: "https://example.com/cat.png", modality: "image" },
        ],
      },
      { role: "tool", parts: [{ type: "tool_call_response", id: "toolu_1", response: "sunny" }] },
    ]);
    expect(JSON.parse(f.output)).toEqual([
      {
        role: "assistant",
        parts: [
          { type: "text", content: "A cat." },
          { type: "tool_call", id: "toolu_2", name: "zoom", arguments: { factor: 2 } },
        ],
      },
    ]);
  });

  it("input-and-output-value-are-the-fallback-content", () => {
    const f = extract(
      makeSpan({
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o",
        "input.value": JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
        "input.mime_type": "application/json",
        "output.value": "hello",
      }),
    );
    expect(JSON.parse(f.input)).toEqual([{ role: "user", parts: [{ type: "text", content: "hi" }] }]);
    expect(JSON.parse(f.output)).toEqual([{ role: "assistant", parts: [{ type: "text", content: "hello" }] }]);
    expect(f).toMatchObject({ request_model: "gpt-4o", response_model: "", usageMissing: true });
  });

  it.each(["CHAIN", "AGENT", "TOOL", "RETRIEVER", "RERANKER", "GUARDRAIL", "EVALUATOR"])(
    "span-kind-%s-is-an-aggregate",
    (kind) => {
      const cls = openInferenceAdapter.classify(makeSpan({ "openinference.span.kind": kind }));
      expect(cls).toEqual({ convention: "openinference", operation: kind.toLowerCase(), isModelCall: false });
    },
  );

  it("evaluations-attributes-become-scores", () => {
    const span = makeSpan({
      "openinference.span.kind": "CHAIN",
      "evaluations.0.evaluation.name": "faithfulness",
      "evaluations.0.evaluation.score": 0.75,
      "evaluations.0.evaluation.explanation": "mostly grounded",
      "evaluations.1.evaluation.name": "toxicity",
      "evaluations.1.evaluation.label": "non-toxic",
    });
    expect(openInferenceAdapter.scores?.(span)).toEqual([
      { name: "faithfulness", value: 0.75, label: "", comment: "mostly grounded", timeUs: span.endTimeUs },
      { name: "toxicity", value: null, label: "non-toxic", comment: "", timeUs: span.endTimeUs },
    ]);
  });

  it("error-status-is-an-error-call", () => {
    const f = extract(
      makeSpan(
        { "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o" },
        {
          status: { code: 2, message: "rate limited" },
          events: [{ name: "exception", timeUs: START_US + 1, attributes: { "exception.type": "RateLimitError" } }],
        },
      ),
    );
    expect(f).toMatchObject({ status: "error", error_type: "RateLimitError" });
  });
});

describe("openinference provider names", () => {
  it.each([
    ["azure", "openai", "azure.ai.openai"],
    ["google", "vertexai", "gcp.vertex_ai"],
    ["google", "google", "gcp.gemini"],
    ["aws", "anthropic", "aws.bedrock"],
    ["mistralai", "mistralai", "mistral_ai"],
  ])("llm-provider-%s-llm-system-%s-is-%s", (provider, system, expected) => {
    // The values of OpenInference's LLMProvider / LLMSystem enums (semantic conventions).
    const f = extract(
      makeSpan({
        "openinference.span.kind": "LLM",
        "llm.provider": provider,
        "llm.system": system,
        "llm.model_name": "m",
      }),
    );
    expect(f.provider).toBe(expected);
  });
});
