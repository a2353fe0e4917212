import { describe, expect, it } from "vitest";
import { evaluatePiiOutput, findPiiKinds } from "./pii-output.js";
import { call, output } from "./test-row.js";

describe("findPiiKinds", () => {
  it.each([
    ["email", "Write to jane.doe+billing@example.co.uk for a refund.", ["email"]],
    ["us-phone-with-dashes", "Call 415-555-0132 today.", ["phone"]],
    ["international-phone", "Our desk: +44 20 7946 0018.", ["phone"]],
    ["phone-in-parentheses", "Dial (020) 7946 0018.", ["phone"]],
    ["visa-card-with-spaces", "Card: 4111 1111 1111 1111", ["card"]],
    ["amex-card-unbroken", "Amex 378282246310005 on file", ["card"]],
    ["ssn", "SSN 123-45-6789", ["ssn"]],
    ["several-kinds-in-fixed-order", "ssn 123-45-6789, mail a@b.io, call 415-555-0132", ["email", "phone", "ssn"]],
  ])("%s", (_case, text, kinds) => {
    expect(findPiiKinds(text).kinds).toEqual(kinds);
  });

  it.each([
    ["plain-prose", "The weather in Paris is mild in spring."],
    ["iso-date-and-time", "Deployed 2026-11-20 12:30:00 UTC."],
    ["ip-address", "Connect to 192.168.100.200 on port 8080."],
    ["version-string", "Upgrade to 1.22.3333.4444 first."],
    ["card-shaped-number-failing-luhn", "Order 4111 1111 1111 1112 shipped."],
    ["epoch-millis-timestamp", "ts=1790000000000"],
    ["ssn-shaped-but-never-issued", "Ref 000-12-3456 and 666-12-3456."],
    ["at-sign-without-a-domain", "Ping @alice in the channel."],
  ])("no-pii: %s", (_case, text) => {
    expect(findPiiKinds(text).kinds).toEqual([]);
  });

  it("redaction-markers-count-as-found", () => {
    expect(findPiiKinds("Mail [REDACTED_EMAIL] or call [REDACTED_PHONE]; card [REDACTED_CARD].")).toEqual({
      kinds: ["email", "phone", "card"],
      redacted: true,
    });
  });

  it("secret-marker-is-not-pii", () => {
    expect(findPiiKinds("key: [REDACTED_SECRET]").kinds).toEqual([]);
  });

  it("a-long-run-of-word-characters-stays-fast", () => {
    const text = `${"a".repeat(200_000)}@${"b".repeat(50_000)}`;
    const started = performance.now();
    findPiiKinds(text);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe("evaluatePiiOutput", () => {
  it("email-in-output-scores-1-and-lists-kinds-not-values", () => {
    const [f] = evaluatePiiOutput(call({ output: output("Contact jane@example.com or 415-555-0132.") }));
    expect(f).toEqual({ name: "pii_in_output", value: 1, comment: "found: email, phone" });
    expect(f?.comment).not.toContain("jane");
  });

  it("already-redacted-output-still-reports-pii-and-says-so", () => {
    const [f] = evaluatePiiOutput(call({ output: output("Reach me at [REDACTED_EMAIL]"), redacted: 1 }));
    expect(f).toEqual({ name: "pii_in_output", value: 1, comment: "found: email (some already redacted)" });
  });

  it("phone-after-a-newline-in-the-stored-json-is-found", () => {
    expect(evaluatePiiOutput(call({ output: output("Call us:\n415-555-0132") }))[0]?.value).toBe(1);
  });

  it("pii-only-in-the-input-is-not-an-output-finding", () => {
    const input = call({ input: output("my email is jane@example.com"), output: output("Thanks, noted.") });
    expect(evaluatePiiOutput(input)).toEqual([{ name: "pii_in_output", value: 0 }]);
  });

  it("content-not-captured-is-skipped", () => {
    expect(evaluatePiiOutput(call({ output: "" }))).toEqual([]);
  });
});
