import { describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import type { DecodedSpan } from "../otlp/types.js";
import { createPipelineSink } from "./span-sink.js";

const logger = createLogger("silent");
const span = (i: number) => ({ spanId: String(i) }) as unknown as DecodedSpan;

function counter() {
  let n = 0;
  return {
    inc: (v = 1) => {
      n += v;
    },
    value: () => n,
  };
}

describe("createPipelineSink", () => {
  it("spans-gather-then-go-to-the-pipeline-in-slices", async () => {
    const batches: number[] = [];
    const dropped = counter();
    const sink = createPipelineSink({
      pipeline: { ingestSpans: async (s) => void batches.push(s.length) },
      dropped,
      logger,
      maxBufferedSpans: 1000,
      flushIntervalMs: 20,
      sliceSize: 4,
    });
    for (let i = 0; i < 10; i++) sink.emit(span(i));
    expect(batches).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(batches).toEqual([4, 4, 2]);
    expect(dropped.value()).toBe(0);
  });

  it("flush-hands-over-what-is-queued-now-and-resolves-once-the-pipeline-has-it", async () => {
    const stored: number[] = [];
    let release: () => void = () => {};
    const sink = createPipelineSink({
      pipeline: {
        ingestSpans: (s) =>
          new Promise<void>((resolve) => {
            release = () => {
              stored.push(s.length);
              resolve();
            };
          }),
      },
      dropped: counter(),
      logger,
      maxBufferedSpans: 1000,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 3; i++) sink.emit(span(i));
    let flushed = false;
    const flushing = sink.flush().then(() => {
      flushed = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    // Handed over at once (no 60 s wait), and not reported done before the pipeline has it.
    expect(flushed).toBe(false);
    release();
    await flushing;
    expect(stored).toEqual([3]);
    await sink.close();
  });

  it("flush-keeps-handing-over-a-slice-per-turn-and-resolves-after-the-last", async () => {
    const batches: number[] = [];
    const sink = createPipelineSink({
      pipeline: { ingestSpans: async (s) => void batches.push(s.length) },
      dropped: counter(),
      logger,
      maxBufferedSpans: 1000,
      flushIntervalMs: 60_000,
      sliceSize: 4,
    });
    for (let i = 0; i < 10; i++) sink.emit(span(i));
    const flushing = sink.flush();
    // The first slice goes at once; the rest wait for later turns of the loop.
    expect(batches).toEqual([4]);
    await flushing;
    expect(batches).toEqual([4, 4, 2]);
    await sink.close();
  });

  it("flush-waits-at-most-maxWaitMs-for-a-stuck-pipeline", async () => {
    const sink = createPipelineSink({
      pipeline: { ingestSpans: () => new Promise<void>(() => {}) },
      dropped: counter(),
      logger,
      maxBufferedSpans: 1000,
      flushIntervalMs: 60_000,
    });
    sink.emit(span(1));
    const started = performance.now();
    await sink.flush(50);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("a-full-buffer-drops-and-counts-never-throws", async () => {
    const dropped = counter();
    const sink = createPipelineSink({
      pipeline: { ingestSpans: async () => {} },
      dropped,
      logger,
      maxBufferedSpans: 3,
      flushIntervalMs: 1000,
    });
    for (let i = 0; i < 5; i++) sink.emit(span(i));
    expect(dropped.value()).toBe(2);
    await sink.close();
    sink.emit(span(9));
    expect(dropped.value()).toBe(3);
  });

  it("pipeline-failures-and-refused-admission-count-as-dropped", async () => {
    const dropped = counter();
    let admit = true;
    const sink = createPipelineSink({
      pipeline: {
        ingestSpans: () => {
          throw new Error("down");
        },
      },
      writer: {
        admit: () => {
          if (!admit) throw new Error("full");
        },
      },
      dropped,
      logger,
      maxBufferedSpans: 100,
      flushIntervalMs: 5,
    });
    sink.emit(span(1));
    await new Promise((r) => setTimeout(r, 30));
    admit = false;
    sink.emit(span(2));
    sink.emit(span(3));
    await sink.close();
    expect(dropped.value()).toBe(3);
  });

  it("close-hands-over-what-is-queued", async () => {
    const seen: string[] = [];
    const sink = createPipelineSink({
      pipeline: { ingestSpans: async (s) => void seen.push(...s.map((x) => x.spanId)) },
      dropped: counter(),
      logger,
      maxBufferedSpans: 100,
      flushIntervalMs: 60_000,
    });
    sink.emit(span(1));
    sink.emit(span(2));
    await sink.close();
    expect(seen).toEqual(["1", "2"]);
  });
});
