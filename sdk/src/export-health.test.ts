import { ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { DeferredContentExporter } from "./deferred-content.js";
import { ExportHealth, FAILING_FOR_MS } from "./export-health.js";

describe("ExportHealth", () => {
  it("a failed export counts for a while, a successful one clears it at once", () => {
    let now = 1000;
    const health = new ExportHealth(() => now);
    expect(health.failing).toBe(false);
    health.record(false);
    expect(health.failing).toBe(true);
    now += FAILING_FOR_MS - 1;
    expect(health.failing).toBe(true);
    now += 1;
    expect(health.failing).toBe(false);
    health.record(false);
    expect(health.failing).toBe(true);
    health.record(true);
    expect(health.failing).toBe(false);
  });

  it("notices once per failing period", () => {
    const health = new ExportHealth(() => 0);
    health.record(false);
    expect(health.firstNotice()).toBe(true);
    expect(health.firstNotice()).toBe(false);
    health.record(false);
    expect(health.firstNotice()).toBe(false);
    health.record(true);
    health.record(false);
    expect(health.firstNotice()).toBe(true);
  });

  it("the SDK's exporter records each outcome and passes it on unchanged", () => {
    const codes = [ExportResultCode.FAILED, ExportResultCode.SUCCESS];
    const inner: SpanExporter = {
      export: (_spans, done) => done({ code: codes.shift() ?? ExportResultCode.SUCCESS }),
      shutdown: () => Promise.resolve(),
    };
    const health = new ExportHealth(() => 0);
    const exporter = new DeferredContentExporter(inner, health);
    const seen: number[] = [];
    const spans: ReadableSpan[] = [];
    exporter.export(spans, (r) => seen.push(r.code));
    expect(health.failing).toBe(true);
    exporter.export(spans, (r) => seen.push(r.code));
    expect(health.failing).toBe(false);
    expect(seen).toEqual([ExportResultCode.FAILED, ExportResultCode.SUCCESS]);
  });
});
