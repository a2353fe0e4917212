// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Grafana's ${var} syntax is the subject under test.
import { describe, expect, it } from "vitest";
import { ALL, expandQuery, type MacroContext, MacroExpansionError } from "./macros.js";

const from = new Date("2026-09-08T12:00:00.250Z");
const to = new Date("2026-09-15T12:00:00.750Z");
const fromS = Math.floor(from.getTime() / 1000);
const toS = Math.floor(to.getTime() / 1000);

function ctx(variables: MacroContext["variables"] = {}, intervalMs = 3_600_000): MacroContext {
  return { from, to, intervalMs, variables };
}

describe("backend macros", () => {
  it("expand the time filters to the range in seconds, milliseconds and dates", () => {
    expect(expandQuery("WHERE $__timeFilter(ts)", ctx())).toBe(
      `WHERE ts >= toDateTime(${fromS}) AND ts <= toDateTime(${toS})`,
    );
    expect(expandQuery("WHERE $__timeFilter_ms(ts)", ctx())).toBe(
      `WHERE ts >= fromUnixTimestamp64Milli(${from.getTime()}) AND ts <= fromUnixTimestamp64Milli(${to.getTime()})`,
    );
    expect(expandQuery("WHERE $__dateFilter(d)", ctx())).toBe(
      "WHERE d >= toDate('2026-09-08') AND d <= toDate('2026-09-15')",
    );
    expect(expandQuery("$__dt(d, t)", ctx())).toBe(
      `(d >= toDate('2026-09-08') AND d <= toDate('2026-09-15')) AND (t >= toDateTime(${fromS}) AND t <= toDateTime(${toS}))`,
    );
  });

  it("expand range bounds and intervals, the _ms variants untruncated", () => {
    expect(expandQuery("$__fromTime $__toTime $__fromTime_ms $__toTime_ms", ctx())).toBe(
      `toDateTime(${fromS}) toDateTime(${toS}) fromUnixTimestamp64Milli(${from.getTime()}) fromUnixTimestamp64Milli(${to.getTime()})`,
    );
    expect(expandQuery("$__timeInterval(ts) / $__interval_s", ctx({}, 90_500))).toBe(
      "toStartOfInterval(toDateTime(ts), INTERVAL 90 second) / 90",
    );
    expect(expandQuery("$__timeInterval_ms(ts)", ctx({}, 250))).toBe(
      "toStartOfInterval(toDateTime64(ts, 3), INTERVAL 250 millisecond)",
    );
    // The plugin never groups by less than a second.
    expect(expandQuery("$__interval_s", ctx({}, 200))).toBe("1");
  });

  it("keep nested parentheses inside a macro argument", () => {
    expect(expandQuery("$__timeInterval(if(a, b, ts))", ctx({}, 60_000))).toBe(
      "toStartOfInterval(toDateTime(if(a, b, ts)), INTERVAL 60 second)",
    );
  });

  it("reject unknown macros and wrong argument counts", () => {
    expect(() => expandQuery("$__timeFiltr(ts)", ctx())).toThrow(MacroExpansionError);
    expect(() => expandQuery("$__timeFilter(a, b)", ctx())).toThrow(MacroExpansionError);
    expect(() => expandQuery("$__timeFilter", ctx())).toThrow(MacroExpansionError);
  });
});

describe("$__conditionalAll", () => {
  const team = (current: string | string[]) => ({ team: { current, options: ["a", "b"] } });
  const query = "WHERE $__conditionalAll(team IN (${team:singlequote}), $team) AND x = 1";

  it("drops the condition when All is selected or the value is empty", () => {
    expect(expandQuery(query, ctx(team([ALL])))).toBe("WHERE 1=1 AND x = 1");
    expect(expandQuery(query, ctx(team(ALL)))).toBe("WHERE 1=1 AND x = 1");
    expect(expandQuery(query, ctx(team("")))).toBe("WHERE 1=1 AND x = 1");
  });

  it("keeps the condition, interpolated, for a selection", () => {
    expect(expandQuery(query, ctx(team(["a", "b"])))).toBe("WHERE team IN ('a','b') AND x = 1");
  });

  it("handles several macros and commas nested in the condition", () => {
    const sql =
      "$__conditionalAll(f(x, y) IN (${team:singlequote}), ${team}) AND $__conditionalAll(positionCaseInsensitive(c, ${q:sqlstring}) > 0, $q)";
    expect(expandQuery(sql, ctx({ ...team(["a"]), q: { current: "" } }))).toBe("f(x, y) IN ('a') AND 1=1");
  });

  it("names an unknown variable", () => {
    expect(() => expandQuery("$__conditionalAll(a = 1, $nope)", ctx())).toThrow(/nope/);
  });
});

describe("template variables", () => {
  it("quote and escape per format", () => {
    const vars = { t: { current: ["o'brien", "x"] } };
    expect(expandQuery("${t:singlequote}", ctx(vars))).toBe("'o\\'brien','x'");
    expect(expandQuery("${t:sqlstring}", ctx(vars))).toBe("'o''brien','x'");
    expect(expandQuery("${t:csv}", ctx(vars))).toBe("o'brien,x");
    expect(expandQuery("${t:doublequote}", ctx(vars))).toBe('"o\'brien","x"');
  });

  it("format lists like the plugin and insert single values raw", () => {
    expect(expandQuery("IN ($t)", ctx({ t: { current: ["a", "b"] } }))).toBe("IN ('a','b')");
    expect(expandQuery("[[t]] ${t}", ctx({ t: { current: "1000" } }))).toBe("1000 1000");
  });

  it("expand All to allValue when set, else every option", () => {
    expect(expandQuery("${t:singlequote}", ctx({ t: { current: [ALL], options: ["a", "b"] } }))).toBe("'a','b'");
    expect(expandQuery("$t", ctx({ t: { current: [ALL], options: ["a"], allValue: ".*" } }))).toBe(".*");
  });

  it("resolve Grafana's global variables", () => {
    expect(expandQuery("$__from $__to $__interval $__interval_ms", ctx({}, 1_800_000))).toBe(
      `${from.getTime()} ${to.getTime()} 30m 1800000`,
    );
  });

  it("reject unknown variables and formats", () => {
    expect(() => expandQuery("$missing", ctx())).toThrow(/missing/);
    expect(() => expandQuery("${t:percentencode}", ctx({ t: { current: "a" } }))).toThrow(MacroExpansionError);
  });
});
