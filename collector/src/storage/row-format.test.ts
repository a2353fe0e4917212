import { describe, expect, it } from "vitest";
import { CALL_CONTENT_COLUMNS, encodeLine, insertHead, parseLine, tableLayout } from "./row-format.js";

describe("row format", () => {
  it("a line parses back to the text of its fields, escapes undone", () => {
    const input = 'a\tb\nc\r\\d \\N "quoted" ünïcødé';
    const line = encodeLine(CALL_CONTENT_COLUMNS, {
      timestamp: 1_790_000_000_123_456,
      trace_id: "t",
      span_id: "s",
      input,
      output: "",
      redacted: 1,
    });
    expect(line.endsWith("\n")).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\n\r]/);
    expect(parseLine(CALL_CONTENT_COLUMNS, line.slice(0, -1))).toEqual({
      timestamp: "1790000000123456",
      trace_id: "t",
      span_id: "s",
      input,
      output: "",
      redacted: "1",
    });
  });

  it("16-digit timestamps are written as their digits, zeros inside kept", () => {
    const row = { trace_id: "", span_id: "", input: "", output: "", redacted: 0 };
    for (const timestamp of [1e15, 1_790_000_000_000_001, 1_790_000_000_099_999, 1_799_999_999_999_999, 1e16 - 2]) {
      expect(encodeLine(CALL_CONTENT_COLUMNS, { ...row, timestamp }).split("\t")[0]).toBe(String(timestamp));
    }
  });

  it("timestamps with fewer than 16 digits of microseconds are written as date and time", () => {
    const line = encodeLine(CALL_CONTENT_COLUMNS, {
      timestamp: 946_684_800_000_001,
      trace_id: "",
      span_id: "",
      input: "",
      output: "",
      redacted: 0,
    });
    expect(line.split("\t")[0]).toBe("2000-01-01 00:00:00.000001");
  });

  it("each layout inserts in its own format: TabSeparated now, the layouts of earlier versions still", () => {
    expect(insertHead("db", "call_content", tableLayout("call_content"), {})).toBe(
      `INSERT INTO db.call_content (${CALL_CONTENT_COLUMNS.join(",")}) FORMAT TabSeparated\n`,
    );
    expect(insertHead("db", "scores", "timestamp,name", { a: 1 })).toBe(
      "INSERT INTO db.scores (timestamp,name) SETTINGS a = 1 FORMAT JSONCompactEachRow\n",
    );
    expect(insertHead("db", "scores", "", {})).toBe("INSERT INTO db.scores FORMAT JSONEachRow\n");
  });
});
