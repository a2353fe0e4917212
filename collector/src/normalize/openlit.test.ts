import { describe, expect, it } from "vitest";
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { openLitAdapter } from "./openlit.js";
import { START_US, spanMaker } from "./test-span.js";
import type { CallFacts } from "./types.js";

const makeSpan = spanMaker({
  name: "chat llama-3.1-8b",
  kind: 3,
  endTimeUs: START_US + 2_000_000,
  resource: { attributes: { "service.name": "py-app", "telemetry.sdk.name": "openlit" } },
  scope: { name: "openlit.otel.tracing", version: "1.35.0" },
});

function extract(span: DecodedSpan): CallFacts {
  expect(openLitAdapter.detect(span)).toBe(true);
  expect(openLitAdapter.classify(span).isModelCall).toBe(true);
  return openLitAdapter.extract(span);
}

/** A Python OpenLIT vLLM span: its own provider spelling, details keys, TTFT in seconds. */
const VLLM_STREAM: Attributes = {
  "telemetry.sdk.name": "openlit",
  "gen_ai.operation.name": "chat",
  "gen_ai.system": "vLLM",
  "gen_ai.request.model": "meta-llama/Llama-3.1-8B-Instruct",
  "gen_ai.request.is_stream": true,
  "gen_ai.usage.input_tokens": 1500,
  "gen_ai.usage.output_tokens": 400,
  "gen_ai.usage.prompt_tokens_details.cached_tokens": 1024,
  "gen_ai.usage.completion_tokens_details.reasoning_tokens": 300,
  "gen_ai.server.time_to_first_token": 0.184,
  "gen_ai.usage.cost": 0.00123,
  "gen_ai.application_name": "rag-bot",
  "deployment.environment": "prod",
  "gen_ai.request.user": "end-user-1",
  "gen_ai.conversation.id": "conv-9",
};

describe("openlit adapter", () => {
  it("vllm-stream-with-details-keys-ttft-seconds-and-reported-cost", () => {
    expect(extract(makeSpan(VLLM_STREAM))).toMatchObject({
      provider: "vllm",
      operation: "chat",
      request_model: "meta-llama/Llama-3.1-8B-Instruct",
      input_tokens: 1500,
      output_tokens: 400,
      cache_read_tokens: 1024,
      reasoning_tokens: 300,
      ttft_ms: 184,
      streamed: 1,
      reportedCostUsd: 0.00123,
      userId: "end-user-1",
      sessionId: "conv-9",
      tags: { application: "rag-bot", environment: "prod" },
      usageMissing: false,
    });
  });

  it("anthropic-input-tokens-get-the-cache-added-back-whatever-its-size", () => {
    // As openlit 1.15 dist/instrumentation/anthropic/wrapper.js writes them: Anthropic's
    // input_tokens as is, cache counts beside it (the Python instrumentation does the same).
    const f = extract(
      makeSpan({
        "telemetry.sdk.name": "openlit",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.request.is_stream": false,
        "gen_ai.usage.input_tokens": 5000,
        "gen_ai.usage.output_tokens": 100,
        "gen_ai.usage.cache_read.input_tokens": 1000,
      }),
    );
    expect(f).toMatchObject({ provider: "anthropic", input_tokens: 6000, cache_read_tokens: 1000, output_tokens: 100 });
    // Other providers report the OTel total, cache inside.
    expect(extract(makeSpan(VLLM_STREAM)).input_tokens).toBe(1500);
  });

  it("time-to-first-token-of-a-call-that-was-not-streamed-is-ignored", () => {
    // Python OpenLIT sets gen_ai.server.time_to_first_token to the whole duration when
    // gen_ai.request.is_stream is false.
    const f = extract(
      makeSpan({ ...VLLM_STREAM, "gen_ai.request.is_stream": false, "gen_ai.server.time_to_first_token": 1.2 }),
    );
    expect(f).toMatchObject({ ttft_ms: null, streamed: 0 });
  });

  it("zero-cost-for-a-model-missing-from-openlit-prices-is-unknown", () => {
    expect(extract(makeSpan({ ...VLLM_STREAM, "gen_ai.usage.cost": 0 })).reportedCostUsd).toBeNull();
    const nothingUsed: Attributes = {
      "telemetry.sdk.name": "openlit",
      "gen_ai.operation.name": "chat",
      "gen_ai.usage.input_tokens": 0,
      "gen_ai.usage.output_tokens": 0,
      "gen_ai.usage.cost": 0,
    };
    expect(extract(makeSpan(nothingUsed)).reportedCostUsd).toBe(0);
  });

  it("system-prompt-written-twice-is-shown-once", () => {
    const f = extract(
      makeSpan({
        ...VLLM_STREAM,
        "gen_ai.system_instructions": JSON.stringify([{ type: "text", content: "Be brief." }]),
        "gen_ai.input.messages": JSON.stringify([
          { role: "system", parts: [{ type: "text", content: "Be brief." }] },
          { role: "user", parts: [{ type: "text", content: "Hi" }] },
        ]),
      }),
    );
    expect(JSON.parse(f.input)).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be brief." }] },
      { role: "user", parts: [{ type: "text", content: "Hi" }] },
    ]);
  });

  it("framework-and-vector-store-spans-are-not-model-calls", () => {
    for (const op of ["framework", "vectordb", "invoke_agent", "retrieval"]) {
      expect(
        openLitAdapter.classify(makeSpan({ "telemetry.sdk.name": "openlit", "gen_ai.operation.name": op })).isModelCall,
      ).toBe(false);
    }
  });

  it("detects-by-sdk-name-scope-or-own-keys-only", () => {
    const plain = makeSpan({ "gen_ai.operation.name": "chat" }, { scope: { name: "other", version: "1" } });
    expect(openLitAdapter.detect(plain)).toBe(false);
    expect(openLitAdapter.detect({ ...plain, scope: { name: "@openlit/instrumentation-openai", version: "1" } })).toBe(
      true,
    );
    expect(openLitAdapter.detect({ ...plain, attributes: { "gen_ai.usage.cost": 0.1 } })).toBe(true);
  });
});
