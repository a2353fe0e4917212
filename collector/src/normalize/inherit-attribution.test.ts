import { describe, expect, it } from "vitest";
import type { DecodedSpan } from "../otlp/types.js";
import { inheritAttribution } from "./inherit-attribution.js";

function span(spanId: string, parentSpanId: string, attributes: DecodedSpan["attributes"]): DecodedSpan {
  return {
    traceId: "t".repeat(32),
    spanId,
    parentSpanId,
    name: "x",
    kind: 1,
    startTimeUs: 0,
    endTimeUs: 1,
    attributes,
    events: [],
    status: { code: 0, message: "" },
    resource: { attributes: {} },
    scope: { name: "", version: "" },
  };
}

function call(parent: string) {
  return {
    trace_id: "t".repeat(32),
    parent_span_id: parent,
    user_id: "",
    session_id: "",
    team: "",
    project: "",
    feature: "",
  };
}

describe("inheritAttribution", () => {
  const agent = span("a", "", { "ai.telemetry.metadata.userId": "u-1", "tokenmeter.team": "search" });
  const step = span("s", "a", { "gen_ai.conversation.id": "conv-9" });
  const byId = new Map([agent, step].map((s) => [`${s.traceId}/${s.spanId}`, s]));

  it("user-and-session-set-on-the-agent-span-reach-the-model-call", () => {
    const c = call("s");
    inheritAttribution(c, byId);
    expect(c).toMatchObject({ user_id: "u-1", session_id: "conv-9", team: "search", project: "" });
  });

  it("values-on-the-call-itself-win-over-ancestors", () => {
    const c = { ...call("s"), user_id: "own-user", team: "payments" };
    inheritAttribution(c, byId);
    expect(c).toMatchObject({ user_id: "own-user", team: "payments", session_id: "conv-9" });
  });

  it("a-parent-outside-the-batch-changes-nothing", () => {
    const c = call("missing");
    inheritAttribution(c, byId);
    expect(c.user_id).toBe("");
  });
});
