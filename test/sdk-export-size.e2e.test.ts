/**
 * Calls with long prompts, many at once: the SDK's exports must stay within what the collector
 * takes in one request (32 MiB decompressed by default), however many spans a batch holds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { traceLLMCall, withAttributes } from "../sdk/src/index.js";
import { type Harness, type Row, session, startHarness } from "../sdk/test/e2e-harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

describe("export size", () => {
  it("a batch of calls with long prompts is exported in requests the collector takes: every call stored", async () => {
    const id = session("long-prompts");
    // 150 calls whose prompt and answer each fill the SDK's content bound (256 KiB): about
    // 80 MB of content in one batch of spans, well past one request's limit.
    const CALLS = 150;
    const prompt = "context ".repeat(40_000);
    await withAttributes({ session: id }, async () => {
      for (let i = 0; i < CALLS; i++) {
        await traceLLMCall({ provider: "openai", model: "gpt-4.1", operation: "chat" }, async (call) => {
          call.setInput([{ role: "user", content: `${i} ${prompt}` }]);
          call.setOutput([{ role: "assistant", content: `${i} ${prompt}` }]);
          call.setUsage({ inputTokens: 80_000, outputTokens: 80_000 });
        });
      }
    });
    await h.handle.forceFlush();
    // Every page, following next_cursor (a page of calls this long ends at the response's content bound).
    const rows: Row[] = [];
    for (let cursor: string | undefined = ""; cursor !== undefined; ) {
      const res = await h.collector.app.inject({
        method: "GET",
        url: `/api/v1/calls?session_id=${id}&include_content=1&limit=1000${cursor ? `&cursor=${cursor}` : ""}`,
      });
      const page = res.json() as { calls: Row[]; next_cursor?: string };
      rows.push(...page.calls);
      cursor = page.next_cursor;
    }
    expect(rows).toHaveLength(CALLS);
    const seen = new Set<string>();
    for (const row of rows) {
      expect(row["input_tokens"]).toBe(80_000);
      // The content is there, cut to the SDK's bound, not dropped.
      const input = String(row["input"]);
      expect(input.length).toBeGreaterThan(100_000);
      seen.add(/"(\d+) context/.exec(input)?.[1] ?? "");
    }
    expect(seen.size).toBe(CALLS);
  }, 60_000);
});
