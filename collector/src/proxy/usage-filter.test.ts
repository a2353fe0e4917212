import { describe, expect, it } from "vitest";
import { UsageChunkFilter } from "./usage-filter.js";

const withUsage = [
  'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}\n\n',
  'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null,"obfuscation":"ab"}\n\n',
  'data: {"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\n',
  "data: [DONE]\n\n",
];
const without = [
  'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n',
  'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"obfuscation":"ab"}\n\n',
  "data: [DONE]\n\n",
];

function run(chunks: Buffer[]): string {
  const f = new UsageChunkFilter();
  let out = "";
  for (const c of chunks) out += f.push(c).toString();
  return out + f.end().toString();
}

describe("UsageChunkFilter", () => {
  it("injected-usage-stream-becomes-the-stream-without-it", () => {
    expect(run(withUsage.map((s) => Buffer.from(s)))).toBe(without.join(""));
  });

  it("event-boundaries-inside-chunks-do-not-matter", () => {
    const all = Buffer.from(withUsage.join(""));
    const pieces = [];
    for (let i = 0; i < all.length; i += 7) pieces.push(all.subarray(i, i + 7));
    expect(run(pieces)).toBe(without.join(""));
  });

  it("content-that-mentions-usage-is-left-alone", () => {
    const event = 'data: {"choices":[{"delta":{"content":"\\"usage\\":null is text"}}]}\n\n';
    expect(run([Buffer.from(event)])).toBe(event);
  });
});
