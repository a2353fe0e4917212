import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { splitBySize } from "./deferred-content.js";

function span(name: string, contentChars: number): ReadableSpan {
  return {
    name,
    attributes: { "gen_ai.input.messages": "x".repeat(contentChars), "gen_ai.usage.input_tokens": 10 },
    events: [],
  } as unknown as ReadableSpan;
}

describe("splitting an export by size", () => {
  it("keeps small batches whole and cuts large ones into consecutive runs under the bound, in order", () => {
    const small = [span("a", 100), span("b", 100)];
    expect(splitBySize(small, 10_000)).toEqual([small]);

    const spans = Array.from({ length: 10 }, (_, i) => span(String(i), 3_000));
    const chunks = splitBySize(spans, 10_000);
    expect(chunks.flat()).toEqual(spans);
    expect(chunks.map((c) => c.length)).toEqual([2, 2, 2, 2, 2]);
  });

  it("sends a span larger than the bound alone rather than dropping it", () => {
    const spans = [span("a", 100), span("huge", 50_000), span("b", 100)];
    expect(splitBySize(spans, 10_000).map((c) => c.map((s) => s.name))).toEqual([["a"], ["huge"], ["b"]]);
  });
});
