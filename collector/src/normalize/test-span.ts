import type { Attributes, DecodedSpan } from "../otlp/types.js";

/** Start time of the normalizer tests' spans, Unix microseconds (2026-01-01T00:00:00Z). */
export const START_US = 1_767_225_600_000_000;

/**
 * A span factory for the normalizer tests: each test file names what its convention's spans look
 * like (name, kind, end, resource, scope, ...); the rest is a root span with ok status and no events.
 * The factory takes the span's attributes and any per-test overrides.
 */
export function spanMaker(
  defaults: Pick<DecodedSpan, "name" | "kind" | "endTimeUs" | "resource" | "scope"> & Partial<DecodedSpan>,
): (attributes: Attributes, extra?: Partial<DecodedSpan>) => DecodedSpan {
  return (attributes, extra = {}) => ({
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    parentSpanId: "",
    startTimeUs: START_US,
    events: [],
    status: { code: 0, message: "" },
    ...defaults,
    attributes,
    ...extra,
  });
}
