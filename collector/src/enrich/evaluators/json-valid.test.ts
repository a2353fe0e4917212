import { describe, expect, it } from "vitest";
import { evaluateJsonValid, jsonRequested } from "./json-valid.js";
import { call, output } from "./test-row.js";

const JSON_OBJECT = JSON.stringify({ response_format: { type: "json_object" } });

describe("jsonRequested", () => {
  it.each([
    ["output-type-json", { output_type: "json" }, true],
    ["output-type-json-uppercase", { output_type: "JSON" }, true],
    ["response-format-json-object", { response_format: { type: "json_object" } }, true],
    ["response-format-json-schema", { response_format: { type: "json_schema", json_schema: { name: "x" } } }, true],
    ["response-format-string-json", { response_format: "json" }, true],
    ["response-format-text", { response_format: { type: "text" } }, false],
    ["output-type-text", { output_type: "text" }, false],
    ["json-only-in-an-unrelated-param", { stop_sequences: ["json"] }, false],
    ["no-params", {}, false],
  ])("%s", (_case, params, expected) => {
    expect(jsonRequested(JSON.stringify(params))).toBe(expected);
  });

  it("request-params-not-json-is-not-a-request", () => {
    expect(jsonRequested("json{")).toBe(false);
  });
});

describe("evaluateJsonValid", () => {
  it("json-requested-and-output-parses-scores-1", () => {
    const input = call({ request_params: JSON_OBJECT, output: output('{"answer": 42, "items": [1, 2]}') });
    expect(evaluateJsonValid(input)).toEqual([{ name: "valid_json", value: 1 }]);
  });

  it("json-requested-and-output-is-prose-scores-0-without-quoting-it", () => {
    const [f] = evaluateJsonValid(call({ request_params: JSON_OBJECT, output: output("Sure! The answer is 42.") }));
    expect(f).toMatchObject({ name: "valid_json", value: 0, comment: "not valid JSON" });
    expect(f?.comment).not.toContain("answer");
  });

  it("json-wrapped-in-markdown-fence-scores-0-and-says-so", () => {
    const [f] = evaluateJsonValid(call({ request_params: JSON_OBJECT, output: output('```json\n{"a":1}\n```') }));
    expect(f).toMatchObject({ value: 0, comment: "JSON wrapped in a markdown code fence" });
  });

  it("json-cut-off-at-max-tokens-scores-0-and-names-the-truncation", () => {
    const [f] = evaluateJsonValid(
      call({ request_params: JSON_OBJECT, finish_reason: "length", output: output('{"items": [1, 2, 3') }),
    );
    expect(f?.value).toBe(0);
    expect(f?.comment).toContain("truncated");
  });

  it("output-type-json-from-gen-ai-output-type-is-checked", () => {
    const input = call({ request_params: JSON.stringify({ output_type: "json" }), output: output("[1,2,3]") });
    expect(evaluateJsonValid(input)).toEqual([{ name: "valid_json", value: 1 }]);
  });

  it("several-choices-all-must-parse", () => {
    const input = call({ request_params: JSON_OBJECT, output: output('{"a":1}', "{oops") });
    expect(evaluateJsonValid(input)[0]?.value).toBe(0);
  });

  it("text-split-over-several-parts-is-joined-before-parsing", () => {
    const raw = JSON.stringify([
      {
        role: "assistant",
        parts: [
          { type: "text", content: '{"a":' },
          { type: "text", content: "1}" },
        ],
      },
    ]);
    expect(evaluateJsonValid(call({ request_params: JSON_OBJECT, output: raw }))[0]?.value).toBe(1);
  });

  it("json-requested-but-output-has-no-text-scores-0", () => {
    expect(evaluateJsonValid(call({ request_params: JSON_OBJECT, output: output("   ") }))).toEqual([
      { name: "valid_json", value: 0, comment: "no text output" },
    ]);
  });

  it("tool-call-only-reply-is-skipped", () => {
    const raw = JSON.stringify([
      { role: "assistant", parts: [{ type: "tool_call", id: "c1", name: "lookup", arguments: { q: "x" } }] },
    ]);
    expect(evaluateJsonValid(call({ request_params: JSON_OBJECT, output: raw }))).toEqual([]);
  });

  it("json-not-requested-is-skipped-even-for-prose", () => {
    expect(evaluateJsonValid(call({ output: output("plain prose") }))).toEqual([]);
  });

  it("content-not-captured-is-skipped", () => {
    expect(evaluateJsonValid(call({ request_params: JSON_OBJECT, output: "" }))).toEqual([]);
  });
});
