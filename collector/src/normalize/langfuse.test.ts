import { describe, expect, it } from "vitest";
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { langfuseAdapter } from "./langfuse.js";
import { START_US, spanMaker } from "./test-span.js";
import type { CallFacts } from "./types.js";

const makeSpan = spanMaker({
  name: "anthropic-call",
  kind: 1,
  endTimeUs: START_US + 2_000_000,
  resource: { attributes: { "service.name": "py-app" } },
  scope: { name: "langfuse-sdk", version: "3.2.0" },
});

function extract(span: DecodedSpan): CallFacts {
  expect(langfuseAdapter.detect(span)).toBe(true);
  expect(langfuseAdapter.classify(span).isModelCall).toBe(true);
  return langfuseAdapter.extract(span);
}

/** A Python Langfuse generation for an Anthropic call (disjoint usage keys, cost details). */
const ANTHROPIC_GENERATION: Attributes = {
  "langfuse.observation.type": "generation",
  "langfuse.observation.model.name": "claude-sonnet-4-5",
  "langfuse.observation.model.parameters": JSON.stringify({ max_tokens: 512, temperature: 0 }),
  "langfuse.observation.usage_details": JSON.stringify({
    input: 30,
    output: 80,
    cache_read_input_tokens: 1000,
    cache_creation_input_tokens: 200,
  }),
  "langfuse.observation.cost_details": JSON.stringify({
    input: 0.00009,
    output: 0.0012,
    cache_read_input_tokens: 0.0003,
  }),
  "langfuse.observation.completion_start_time": JSON.stringify("2026-01-01T00:00:00.640Z"),
  "langfuse.observation.input": JSON.stringify([
    { role: "system", content: "Be terse." },
    { role: "user", content: "Summarise the ticket" },
  ]),
  "langfuse.observation.output": JSON.stringify({ role: "assistant", content: "Refund approved." }),
  "langfuse.observation.prompt.name": "ticket-summary",
  "langfuse.observation.prompt.version": 3,
  "langfuse.user.id": "u-5",
  "langfuse.session.id": "s-5",
  "langfuse.trace.tags": ["support", "eu"],
  "langfuse.trace.metadata": JSON.stringify({ tenant: "acme" }),
  "langfuse.trace.metadata.region": "eu-west",
  "langfuse.environment": "production",
};

describe("langfuse adapter", () => {
  it("python-generation-with-anthropic-usage-cost-details-and-completion-start", () => {
    const f = extract(makeSpan(ANTHROPIC_GENERATION));
    expect(START_US).toBe(Date.parse("2026-01-01T00:00:00Z") * 1000);
    expect(f).toMatchObject({
      operation: "chat",
      provider: "",
      request_model: "claude-sonnet-4-5",
      input_tokens: 1230,
      output_tokens: 80,
      cache_read_tokens: 1000,
      cache_write_tokens: 200,
      reasoning_tokens: 0,
      usageMissing: false,
      ttft_ms: 640,
      streamed: 1,
      prompt_name: "ticket-summary",
      prompt_version: "3",
      userId: "u-5",
      sessionId: "s-5",
      tags: { tenant: "acme", region: "eu-west", support: "true", eu: "true", environment: "production" },
    });
    expect(f.reportedCostUsd).toBeCloseTo(0.00159, 12);
    expect(JSON.parse(f.request_params)).toEqual({ max_tokens: 512, temperature: 0 });
    expect(JSON.parse(f.input)).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be terse." }] },
      { role: "user", parts: [{ type: "text", content: "Summarise the ticket" }] },
    ]);
    expect(JSON.parse(f.output)).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Refund approved." }] },
    ]);
  });

  it("openai-style-usage-details-add-cached-and-reasoning-back", () => {
    const f = extract(
      makeSpan({
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "o3",
        "langfuse.observation.usage_details": JSON.stringify({
          input: 200,
          input_cached_tokens: 1024,
          output: 50,
          output_reasoning_tokens: 400,
          total: 1674,
        }),
        "langfuse.observation.cost_details": JSON.stringify({ total: 0.02 }),
      }),
    );
    expect(f).toMatchObject({
      input_tokens: 1224,
      cache_read_tokens: 1024,
      output_tokens: 450,
      reasoning_tokens: 400,
      reportedCostUsd: 0.02,
    });
  });

  it("an-implausible-count-in-usage-details-makes-the-usage-unknown", () => {
    const facts = extract(
      makeSpan({
        ...ANTHROPIC_GENERATION,
        "langfuse.observation.usage_details": JSON.stringify({ input: 30, output: 1e300 }),
      }),
    );
    expect(facts).toMatchObject({ usageMissing: true, input_tokens: 0, output_tokens: 0 });
  });

  it("embedding-type-and-embedding-generations-are-embeddings", () => {
    expect(langfuseAdapter.classify(makeSpan({ "langfuse.observation.type": "embedding" })).operation).toBe(
      "embeddings",
    );
    const gen = makeSpan({
      "langfuse.observation.type": "generation",
      "langfuse.observation.model.name": "text-embedding-3-large",
    });
    expect(langfuseAdapter.classify(gen)).toEqual({
      convention: "langfuse",
      operation: "embeddings",
      isModelCall: true,
    });
    expect(extract(gen).usageMissing).toBe(true);
  });

  it.each(["span", "agent", "tool", "chain", "retriever", "evaluator", "guardrail", "event"])(
    "observation-type-%s-is-an-aggregate",
    (type) => {
      expect(langfuseAdapter.classify(makeSpan({ "langfuse.observation.type": type }))).toEqual({
        convention: "langfuse",
        operation: type,
        isModelCall: false,
      });
    },
  );

  it("error-level-marks-the-call-failed", () => {
    const f = extract(makeSpan({ ...ANTHROPIC_GENERATION, "langfuse.observation.level": "ERROR" }));
    expect(f).toMatchObject({ status: "error", error_type: "_OTHER" });
  });

  it("v4-trace-attributes-user-id-and-session-id", () => {
    const { "langfuse.user.id": _u, "langfuse.session.id": _s, ...rest } = ANTHROPIC_GENERATION;
    const f = extract(makeSpan({ ...rest, "user.id": "u-6", "session.id": "s-6" }));
    expect(f).toMatchObject({ userId: "u-6", sessionId: "s-6" });
  });
});
