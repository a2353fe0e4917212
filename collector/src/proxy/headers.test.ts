import { describe, expect, it } from "vitest";
import { proxySchema } from "../config/schema.js";
import { parseTraceparent, responseHeaders, splitRequestHeaders } from "./headers.js";
import { buildRoutes, matchRoute } from "./routes.js";

describe("request headers", () => {
  it("hop-by-hop-attribution-and-virtual-keys-are-removed-the-rest-kept-in-order", () => {
    const { forward, meta } = splitRequestHeaders([
      "Host",
      "proxy:8787",
      "Connection",
      "keep-alive, X-Drop-Me",
      "X-Drop-Me",
      "1",
      "Content-Length",
      "12",
      "Authorization",
      "Bearer tm_secret_key",
      "X-Tokenmeter-Team",
      " payments ",
      "x-tokenmeter-tags",
      "a=1",
      "X-Tokenmeter-Tags",
      "b=2",
      "OpenAI-Beta",
      "assistants=v2",
      "traceparent",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "Transfer-Encoding",
      "chunked",
    ]);
    expect(forward).toEqual([
      "OpenAI-Beta",
      "assistants=v2",
      "traceparent",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ]);
    expect(meta).toMatchObject({
      team: "payments",
      tags: "a=1,b=2",
      virtualKey: "tm_secret_key",
      virtualKeyHeader: "authorization",
    });
  });

  it("a-provider-key-passes-through-untouched", () => {
    const { forward, meta } = splitRequestHeaders(["x-api-key", "sk-ant-real", "authorization", "Bearer sk-real"]);
    expect(forward).toEqual(["x-api-key", "sk-ant-real", "authorization", "Bearer sk-real"]);
    expect(meta.virtualKey).toBe("");
  });

  it("response-hop-by-hop-headers-go-repeated-ones-stay", () => {
    const raw = [
      "Content-Type",
      "text/event-stream",
      "Transfer-Encoding",
      "chunked",
      "Set-Cookie",
      "a=1",
      "Set-Cookie",
      "b=2",
      "Connection",
      "keep-alive",
    ].map((s) => Buffer.from(s, "latin1"));
    expect(responseHeaders(raw)).toEqual([
      "Content-Type",
      "text/event-stream",
      "Set-Cookie",
      "a=1",
      "Set-Cookie",
      "b=2",
    ]);
  });

  it("traceparent-is-validated", () => {
    expect(parseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")).toEqual({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
    });
    expect(parseTraceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01")).toBeUndefined();
    expect(parseTraceparent("garbage")).toBeUndefined();
  });
});

describe("routes", () => {
  const routes = buildRoutes(
    proxySchema.parse({
      openaiBaseUrl: "http://up:1/v1",
      upstreams: { azure: { baseUrl: "https://x.openai.azure.com/openai/deployments/gpt4o" } },
    }),
  );

  it("maps-the-path-after-v1-onto-the-base-url-query-included", () => {
    expect(matchRoute(routes, "/openai/v1/chat/completions?x=1", "POST")).toMatchObject({
      upstreamPath: "/v1/chat/completions?x=1",
      path: "/chat/completions",
      endpoint: "chat",
    });
    expect(matchRoute(routes, "/azure/v1/chat/completions?api-version=2024-10-21", "POST")).toMatchObject({
      upstreamPath: "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
      endpoint: "chat",
    });
    expect(matchRoute(routes, "/anthropic/v1/messages", "POST")?.endpoint).toBe("messages");
    expect(matchRoute(routes, "/anthropic/v1/messages/count_tokens", "POST")?.endpoint).toBeUndefined();
    expect(matchRoute(routes, "/openai/v1/models", "GET")?.endpoint).toBeUndefined();
  });

  it("unknown-routes-and-paths-without-v1-do-not-match", () => {
    expect(matchRoute(routes, "/nope/v1/chat/completions", "POST")).toBeUndefined();
    expect(matchRoute(routes, "/openai/chat/completions", "POST")).toBeUndefined();
    expect(matchRoute(routes, "/openai/v10/chat", "POST")).toBeUndefined();
  });

  it("reserved-upstream-names-are-refused-by-the-schema", () => {
    expect(proxySchema.safeParse({ upstreams: { openai: { baseUrl: "http://x" } } }).success).toBe(false);
    expect(proxySchema.safeParse({ upstreams: { "Bad Name": { baseUrl: "http://x" } } }).success).toBe(false);
  });
});
