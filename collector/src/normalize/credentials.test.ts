import { describe, expect, it } from "vitest";
import { isCredentialKey, REDACTED_CREDENTIAL, storedAttributeValue } from "./credentials.js";
import { createNormalizer, defaultAdapters } from "./registry.js";
import { START_US, spanMaker } from "./test-span.js";

const KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz123456";

describe("credentials in stored span attributes", () => {
  it("knows credential keys by their last segment, and leaves token counts and the rest alone", () => {
    for (const key of [
      "http.request.header.authorization",
      "http.request.header.x-api-key",
      "http.request.header.Cookie",
      "http.response.header.set-cookie",
      "llm.api_key",
      "openai.apiKey",
      "aws.secret_access_key",
      "password",
    ]) {
      expect(isCredentialKey(key), key).toBe(true);
    }
    for (const key of [
      "gen_ai.usage.input_tokens",
      "gen_ai.request.max_tokens",
      "llm.token_count.total",
      "http.request.method",
      "tokenmeter.team",
      "user.id",
    ]) {
      expect(isCredentialKey(key), key).toBe(false);
    }
  });

  it("replaces a credential's value whole and secret-looking tokens inside other values", () => {
    expect(storedAttributeValue("http.request.header.authorization", `["Bearer ${KEY}"]`)).toBe(REDACTED_CREDENTIAL);
    expect(storedAttributeValue("url.full", `https://api.example.com/v1/chat?key=${KEY}&stream=1`)).toBe(
      "https://api.example.com/v1/chat?key=[REDACTED_SECRET]&stream=1",
    );
    expect(storedAttributeValue("http.route", "/v1/chat/completions")).toBe("/v1/chat/completions");
  });

  it("a span from any sender is stored without them: attributes, resource, events and status message", () => {
    const normalizer = createNormalizer(defaultAdapters, {});
    const makeSpan = spanMaker({
      name: "POST /v1/chat/completions",
      kind: 3,
      endTimeUs: START_US + 1000,
      resource: { attributes: { "service.name": "app", "deploy.token": "abc", "host.name": "web-1" } },
      scope: { name: "@opentelemetry/instrumentation-undici", version: "0.10.0" },
    });
    const { spanRow } = normalizer.normalizeSpan(
      makeSpan(
        {
          "http.request.method": "POST",
          "http.request.header.authorization": [`Bearer ${KEY}`],
          "http.request.header.x-api-key": ["sk-ant-api03-abcdefghijklmnopqrstuvwxyz"],
          "url.full": `https://api.openai.com/v1/chat/completions?api_key=${KEY}`,
          "http.response.status_code": 401,
        },
        {
          status: { code: 2, message: `401 Incorrect API key provided: ${KEY}` },
          events: [
            {
              name: "exception",
              timeUs: START_US + 500,
              attributes: {
                "exception.message": `Authorization: Bearer ${KEY} refused`,
                "exception.type": "AuthError",
              },
            },
          ],
        },
      ),
      "otlp",
    );
    const stored = JSON.stringify(spanRow);
    expect(stored).not.toContain("abcdefghijklmnopqrstuvwxyz");
    expect(spanRow.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.request.header.authorization": REDACTED_CREDENTIAL,
      "http.request.header.x-api-key": REDACTED_CREDENTIAL,
      "url.full": "https://api.openai.com/v1/chat/completions?api_key=[REDACTED_SECRET]",
      "http.response.status_code": "401",
    });
    expect(spanRow.resource_attributes).toEqual({
      "service.name": "app",
      "deploy.token": REDACTED_CREDENTIAL,
      "host.name": "web-1",
    });
    expect(spanRow.status_message).toBe("401 Incorrect API key provided: [REDACTED_SECRET]");
    expect(JSON.parse(spanRow.events)[0].attributes).toEqual({
      "exception.message": "Authorization: Bearer [REDACTED_SECRET] refused",
      "exception.type": "AuthError",
    });
  });
});
