import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCollector, type Collector } from "../collector/src/app.js";
import { fetchTrace, intAttr, otlpJsonTraces, strAttr } from "./helpers/collector.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";

/**
 * Cross-batch de-duplication must never eat a retry: a request refused with 429 (or 503) is
 * sent again by its exporter, and that copy has to be stored, not taken for a duplicate of
 * the refused one.
 */
let collector: Collector;
const QUEUE = 20;

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  collector = await buildCollector({
    config: testConfig(dir, { ingest: { maxQueueRows: QUEUE, batchMaxDelayMs: 60_000 } }),
    storage,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await collector?.close();
});

const TRACE = "7be1a1c2d3e4f5061728394a5b6c7d8e";
function body(): string {
  return JSON.stringify(
    otlpJsonTraces(
      "retrying-app",
      [
        {
          traceId: TRACE,
          spanId: "a1b2c3d4e5f60718",
          parentSpanId: "0011223344556677",
          name: "chat gpt-4o-mini",
          kind: 3,
          startTimeUnixNano: "1793534400000000000",
          endTimeUnixNano: "1793534400400000000",
          attributes: [
            strAttr("gen_ai.operation.name", "chat"),
            strAttr("gen_ai.provider.name", "openai"),
            strAttr("gen_ai.request.model", "gpt-4o-mini"),
            intAttr("gen_ai.usage.input_tokens", 12),
            intAttr("gen_ai.usage.output_tokens", 5),
          ],
        },
      ],
      "app",
    ),
  );
}

const post = () =>
  collector.app.inject({
    method: "POST",
    url: "/v1/traces",
    headers: { "content-type": "application/json" },
    payload: body(),
  });

describe("cross-batch de-duplication and retries", () => {
  it("a-batch-refused-with-429-is-stored-when-sent-again", async () => {
    // Rows nobody waits on fill the write queue almost to the brim (they linger 60 s).
    collector.writer.enqueue(
      "scores",
      Array.from({ length: QUEUE - 1 }, (_, i) => ({
        timestamp: 1_793_534_400_000_000 + i,
        score_id: `filler-${i}`,
        trace_id: "f".repeat(32),
        span_id: "f".repeat(16),
        name: "filler",
        value: 1,
        label: "",
        source: "api",
        comment: "",
        data_type: "numeric",
      })),
    );
    const refused = await post();
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["retry-after"]).toBeDefined();

    await collector.writer.flush();
    const retried = await post();
    expect(retried.statusCode).toBe(200);
    const t = await fetchTrace(collector, TRACE);
    expect(t.calls).toHaveLength(1);
    expect(t.calls[0]).toMatchObject({ span_id: "a1b2c3d4e5f60718", input_tokens: 12, output_tokens: 5 });

    // A third copy (an exporter retrying after a timeout it saw, though the collector stored
    // the batch) is a duplicate: still one call.
    expect((await post()).statusCode).toBe(200);
    await collector.writer.flush();
    expect((await fetchTrace(collector, TRACE)).calls).toHaveLength(1);
  });

  it("a-wrapper-arriving-in-a-later-request-is-no-call-in-spans", async () => {
    // An exporter cuts batches by size and time: the framework span around a stored call comes
    // in a later request. Its call is dropped as a copy; its span row must not say it is a call.
    const trace = "8cf2b2d3e4f5061728394a5b6c7d8e9f";
    const chat = (spanId: string, parentSpanId: string) => ({
      traceId: trace,
      spanId,
      parentSpanId,
      name: "chat gpt-4o-mini",
      kind: 3,
      startTimeUnixNano: "1793534400000000000",
      endTimeUnixNano: "1793534400400000000",
      attributes: [
        strAttr("gen_ai.operation.name", "chat"),
        strAttr("gen_ai.provider.name", "openai"),
        strAttr("gen_ai.request.model", "gpt-4o-mini"),
        intAttr("gen_ai.usage.input_tokens", 12),
        intAttr("gen_ai.usage.output_tokens", 5),
      ],
    });
    const send = (span: unknown) =>
      collector.app.inject({
        method: "POST",
        url: "/v1/traces",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify(otlpJsonTraces("split-app", [span], "app")),
      });
    expect((await send(chat("b1b2c3d4e5f60718", "c1c2c3d4e5f60718"))).statusCode).toBe(200);
    expect((await send(chat("c1c2c3d4e5f60718", ""))).statusCode).toBe(200);
    await collector.writer.flush();
    const t = await fetchTrace(collector, trace);
    expect(t.calls).toHaveLength(1);
    expect(t.calls[0]).toMatchObject({ span_id: "b1b2c3d4e5f60718" });
    const marks = Object.fromEntries(t.spans.map((s) => [s["span_id"], s["is_llm_call"]]));
    expect(marks).toEqual({ b1b2c3d4e5f60718: 1, c1c2c3d4e5f60718: 0 });
  });
});
