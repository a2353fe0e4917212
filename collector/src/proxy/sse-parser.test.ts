import { describe, expect, it } from "vitest";
import { SseParser } from "./sse-parser.js";

function parseAll(chunks: (string | Buffer)[], max?: number) {
  const events: Array<[string, string]> = [];
  const p = new SseParser((e, d) => events.push([e, d]), max);
  for (const c of chunks) p.push(typeof c === "string" ? Buffer.from(c) : c);
  p.end();
  return { events, oversized: p.oversized };
}

describe("SseParser", () => {
  it("events-split-at-every-byte-give-the-same-result", () => {
    const text = 'event: message_start\ndata: {"a":1}\n\n: comment\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n';
    const whole = parseAll([text]).events;
    const bytes = [...Buffer.from(text)].map((b) => Buffer.from([b]));
    expect(parseAll(bytes).events).toEqual(whole);
    expect(whole).toEqual([
      ["message_start", '{"a":1}'],
      ["", "line1\nline2"],
      ["", "[DONE]"],
    ]);
  });

  it("crlf-line-endings-and-no-space-after-colon", () => {
    expect(parseAll(["event:x\r\ndata:{}\r\n\r\n"]).events).toEqual([["x", "{}"]]);
  });

  it("multibyte-utf8-split-across-chunks-is-decoded-whole", () => {
    const buf = Buffer.from('data: {"t":"héllo 👋"}\n\n');
    const cut = buf.indexOf(0xf0) + 2;
    expect(parseAll([buf.subarray(0, cut), buf.subarray(cut)]).events).toEqual([["", '{"t":"héllo 👋"}']]);
  });

  it("last-event-without-blank-line-is-still-delivered", () => {
    expect(parseAll(["data: tail"]).events).toEqual([["", "tail"]]);
  });

  it("oversized-event-is-skipped-and-the-next-one-kept", () => {
    const big = `data: ${"x".repeat(5000)}\n\n`;
    const r = parseAll([big.slice(0, 3000), big.slice(3000), "data: small\n\n"], 1024);
    expect(r.events).toEqual([["", "small"]]);
    expect(r.oversized).toBeGreaterThan(0);
  });
});
