import { describe, expect, it } from "vitest";
import type { Attributes, DecodedSpan } from "../otlp/types.js";
import { MAX_TAGS, parseBaggageHeader, parseTagValue, resolveAttribution, serviceOf } from "./attribution.js";

function makeSpan(attributes: Attributes, resource: Attributes = {}): DecodedSpan {
  return {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    parentSpanId: "",
    name: "chat gpt-4o",
    kind: 3,
    startTimeUs: 1_767_225_600_000_000,
    endTimeUs: 1_767_225_601_000_000,
    attributes,
    events: [],
    status: { code: 0, message: "" },
    resource: { attributes: resource },
    scope: { name: "tokenmeter", version: "0.1.0" },
  };
}

const NO_FACTS = { userId: "", sessionId: "", tags: {} };
const DEFAULTS = { team: "default-team", project: "default-project", environment: "dev" };

describe("resolveAttribution precedence", () => {
  const resource: Attributes = {
    "service.name": "checkout-api",
    "deployment.environment.name": "production",
    "tokenmeter.team": "resource-team",
    "tokenmeter.project": "resource-project",
    "tokenmeter.user": "resource-user",
  };

  it("span-tokenmeter-attributes-beat-everything", () => {
    const span = makeSpan(
      {
        "tokenmeter.team": "span-team",
        "tokenmeter.user": "span-user",
        "tokenmeter.session": "span-session",
        "tokenmeter.feature": "refund-bot",
        "tokenmeter.environment": "staging",
        "baggage.tokenmeter.team": "baggage-team",
        "baggage.tokenmeter.user": "baggage-user",
      },
      resource,
    );
    expect(resolveAttribution(span, { userId: "conv-user", sessionId: "conv-session", tags: {} }, DEFAULTS)).toEqual({
      service: "checkout-api",
      environment: "staging",
      team: "span-team",
      project: "resource-project",
      user_id: "span-user",
      session_id: "span-session",
      feature: "refund-bot",
      tags: {},
    });
  });

  it("baggage-beats-convention-user-and-resource", () => {
    const span = makeSpan(
      { "baggage.tokenmeter.team": "baggage-team", "baggage.tokenmeter.user_id": "baggage-user" },
      resource,
    );
    const who = resolveAttribution(span, { userId: "conv-user", sessionId: "conv-session", tags: {} }, DEFAULTS);
    expect(who.team).toBe("baggage-team");
    expect(who.user_id).toBe("baggage-user");
    expect(who.session_id).toBe("conv-session");
  });

  it("raw-baggage-header-attribute-is-parsed-and-percent-decoded", () => {
    const span = makeSpan({
      baggage: "other=x,tokenmeter.team=search%20infra;ttl=5, tokenmeter.session_id=s-77,tokenmeter.tags=tier=gold",
    });
    const who = resolveAttribution(span, NO_FACTS, {});
    expect(who.team).toBe("search infra");
    expect(who.session_id).toBe("s-77");
    expect(who.tags).toEqual({ tier: "gold" });
  });

  it("convention-user-and-session-beat-resource-tokenmeter-keys", () => {
    const span = makeSpan({}, resource);
    const who = resolveAttribution(span, { userId: "conv-user", sessionId: "", tags: {} }, DEFAULTS);
    expect(who.user_id).toBe("conv-user");
    expect(who.team).toBe("resource-team");
  });

  it("resource-attributes-beat-config-defaults", () => {
    const who = resolveAttribution(makeSpan({}, resource), NO_FACTS, DEFAULTS);
    expect(who).toMatchObject({
      service: "checkout-api",
      environment: "production",
      team: "resource-team",
      project: "resource-project",
      user_id: "resource-user",
    });
  });

  it("older-deployment-environment-key-is-read", () => {
    const who = resolveAttribution(makeSpan({}, { "deployment.environment": "qa" }), NO_FACTS, DEFAULTS);
    expect(who.environment).toBe("qa");
  });

  it("config-defaults-when-nothing-else", () => {
    expect(resolveAttribution(makeSpan({}), NO_FACTS, DEFAULTS)).toEqual({
      service: "",
      environment: "dev",
      team: "default-team",
      project: "default-project",
      user_id: "",
      session_id: "",
      feature: "",
      tags: {},
    });
  });

  it("empty-strings-when-no-defaults-either", () => {
    expect(resolveAttribution(makeSpan({}), null, {})).toEqual({
      service: "",
      environment: "",
      team: "",
      project: "",
      user_id: "",
      session_id: "",
      feature: "",
      tags: {},
    });
  });

  it("empty-span-value-does-not-hide-a-lower-layer", () => {
    const who = resolveAttribution(makeSpan({ "tokenmeter.team": "" }, resource), NO_FACTS, DEFAULTS);
    expect(who.team).toBe("resource-team");
  });
});

describe("tags", () => {
  it("layers-merge-key-by-key-with-span-on-top", () => {
    const span = makeSpan(
      {
        "tokenmeter.tags": "tier=gold, region = eu",
        "tokenmeter.tag.region": "eu-west-1",
        "baggage.tokenmeter.tags": "tier=silver,channel=web",
      },
      { "tokenmeter.tags": "tier=bronze,cluster=c1" },
    );
    const who = resolveAttribution(span, { userId: "", sessionId: "", tags: { source_app: "bot", tier: "x" } }, {});
    expect(who.tags).toEqual({
      source_app: "bot",
      cluster: "c1",
      channel: "web",
      tier: "gold",
      region: "eu-west-1",
    });
  });

  it("tag-list-spellings", () => {
    expect(parseTagValue("a=1,b=2=3,,bad")).toEqual({ a: "1", b: "2=3" });
    expect(parseTagValue('{"a":"1","n":2}')).toEqual({ a: "1", n: "2" });
    expect(parseTagValue(["a=1", "b=2"])).toEqual({ a: "1", b: "2" });
    expect(parseTagValue({ a: "1", b: true })).toEqual({ a: "1", b: "true" });
    expect(parseTagValue("")).toBeUndefined();
  });

  it("tags-are-bounded", () => {
    const many: Attributes = {};
    for (let i = 0; i < MAX_TAGS + 20; i++) many[`tokenmeter.tag.k${i}`] = "v".repeat(1000);
    const who = resolveAttribution(makeSpan(many), NO_FACTS, {});
    expect(Object.keys(who.tags)).toHaveLength(MAX_TAGS);
    expect(who.tags["k0"]).toHaveLength(256);
  });
});

describe("helpers", () => {
  it("baggage-header-keeps-only-tokenmeter-entries", () => {
    expect(parseBaggageHeader("userId=alice,tokenmeter.project=p1;prop")).toEqual(
      new Map([["tokenmeter.project", "p1"]]),
    );
    expect(parseBaggageHeader("userId=alice")).toBeUndefined();
  });

  it("service-of-span-reads-resource-service-name", () => {
    expect(serviceOf(makeSpan({}, { "service.name": "worker" }))).toBe("worker");
  });
});
