import { describe, expect, it } from "vitest";
import { scopeSettings } from "./query-scoped-settings.js";

describe("scopeSettings", () => {
  it("insert-settings-go-before-format-and-the-data-is-untouched", () => {
    const sql = 'INSERT INTO db.t FORMAT JSONEachRow\n{"a":"x FORMAT y"}\n';
    expect(scopeSettings(sql, { insert_deduplication_token: "tok'1", insert_deduplicate: 1 })).toBe(
      'INSERT INTO db.t SETTINGS insert_deduplication_token = \'tok\\\'1\', insert_deduplicate = 1 FORMAT JSONEachRow\n{"a":"x FORMAT y"}\n',
    );
  });

  it("select-settings-go-before-the-trailing-format", () => {
    expect(scopeSettings("SELECT 1\nFORMAT JSONEachRow", { date_time_output_format: "iso" })).toBe(
      "SELECT 1\nSETTINGS date_time_output_format = 'iso'\nFORMAT JSONEachRow",
    );
  });

  it("http-only-settings-and-no-settings-leave-the-sql-alone", () => {
    expect(scopeSettings("SELECT 1", undefined)).toBe("SELECT 1");
    expect(scopeSettings("SELECT 1", { wait_end_of_query: 1 })).toBe("SELECT 1");
  });

  it("a-query-with-its-own-settings-clause-or-ddl-is-not-rewritten", () => {
    expect(scopeSettings("SELECT 1 SETTINGS max_threads = 1", { max_threads: 2 })).toBeUndefined();
    expect(scopeSettings("CREATE TABLE x (a UInt8) ENGINE = Memory", { max_threads: 2 })).toBeUndefined();
  });
});
