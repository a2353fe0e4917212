import { executionAsyncId } from "node:async_hooks";
import { createContextKey, propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { describe, expect, it } from "vitest";
import { LazyContextManager } from "./lazy-context.js";

const KEY = createContextKey("lazy-context-test");
const promisesTracked = async () => (await Promise.resolve().then(() => executionAsyncId())) !== 0;

describe("LazyContextManager", () => {
  it("runs-the-root-and-the-export's-suppressed-root-without-tracking", async () => {
    const m = new LazyContextManager();
    const suppressed = suppressTracing(ROOT_CONTEXT);
    expect(m.with(suppressed, () => m.active())).toBe(suppressed);
    expect(m.with(ROOT_CONTEXT, () => m.active())).toBe(ROOT_CONTEXT);
    expect(m.active()).toBe(ROOT_CONTEXT);
    const fn = () => 1;
    expect(m.bind(ROOT_CONTEXT, fn)).toBe(fn);
    expect(m.tracking).toBe(false);
    expect(await promisesTracked()).toBe(false);
    m.disable();
  });

  it("a-context-with-a-value-a-span-or-baggage-switches-tracking-on-and-follows-awaits", async () => {
    const m = new LazyContextManager();
    const withValue = ROOT_CONTEXT.setValue(KEY, "v");
    const seen = await m.with(withValue, async () => {
      await new Promise((r) => setTimeout(r, 1));
      return m.active().getValue(KEY);
    });
    expect(seen).toBe("v");
    expect(m.tracking).toBe(true);
    expect(m.active()).toBe(ROOT_CONTEXT);
    m.disable();
    expect(m.tracking).toBe(false);

    const baggage = propagation.setBaggage(
      suppressTracing(ROOT_CONTEXT),
      propagation.createBaggage({ a: { value: "1" } }),
    );
    const m2 = new LazyContextManager();
    m2.with(baggage, () => undefined);
    expect(m2.tracking).toBe(true);
    m2.disable();

    const span = trace.wrapSpanContext({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: 1,
    });
    const m3 = new LazyContextManager();
    m3.with(trace.setSpan(suppressTracing(ROOT_CONTEXT), span), () => undefined);
    expect(m3.tracking).toBe(true);
    m3.disable();
  });
});
