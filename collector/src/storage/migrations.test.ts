import { describe, expect, it } from "vitest";
import { insertTable, renderSchema } from "./migrations.js";

const single = { database: "tokenmeter", contentRetentionDays: 30, retentionDays: 0 };

describe("schema rendering", () => {
  it("single-node schema uses plain MergeTree, monthly partitions and a team-first sort key", () => {
    const ddl = renderSchema(single).join("\n");
    expect(ddl).not.toContain("ON CLUSTER");
    expect(ddl).not.toContain("Replicated");
    expect(ddl).toMatch(/CREATE TABLE IF NOT EXISTS tokenmeter\.llm_calls \(/);
    expect(ddl).toContain("PARTITION BY toYYYYMM(timestamp)");
    expect(ddl).toContain("ORDER BY (team, project, toStartOfHour(timestamp), request_model, timestamp)");
    expect(ddl).toContain("input String CODEC(ZSTD(3)) TTL toDateTime(timestamp) + toIntervalDay(30)");
    expect(ddl).toContain("team LowCardinality(String)");
    expect(ddl).toContain("cost_usd Nullable(Decimal(18, 9))");
  });

  it("single-node inserts go through Null staging tables that feed the tables by a view", () => {
    const ddl = renderSchema(single).join("\n");
    expect(ddl).toContain(
      "CREATE TABLE IF NOT EXISTS tokenmeter.llm_calls_ingest (\n  timestamp DateTime64(6, 'UTC'),",
    );
    expect(ddl).toContain("  team String,\n");
    expect(ddl).toContain("  tags Map(String, String)\n) ENGINE = Null");
    expect(ddl).toContain(
      "CREATE MATERIALIZED VIEW IF NOT EXISTS tokenmeter.llm_calls_ingest_mv TO tokenmeter.llm_calls AS",
    );
    expect(ddl).toContain("CREATE MATERIALIZED VIEW IF NOT EXISTS tokenmeter.spans_ingest_mv TO tokenmeter.spans AS");
    expect(insertTable(undefined, "llm_calls")).toBe("llm_calls_ingest");
    expect(insertTable(undefined, "scores")).toBe("scores");
  });

  it("a cluster has no staging: inserts go to the Distributed tables", () => {
    const ddl = renderSchema({ ...single, cluster: "prod" }).join("\n");
    expect(ddl).not.toContain("_ingest");
    expect(insertTable("prod", "llm_calls")).toBe("llm_calls");
  });

  it("content retention 0 keeps content forever and row retention renders a table TTL", () => {
    const ddl = renderSchema({ ...single, contentRetentionDays: 0, retentionDays: 400 }).join("\n");
    expect(ddl).not.toContain("input String CODEC(ZSTD(3)) TTL");
    expect(ddl).toContain("TTL toDateTime(timestamp) + toIntervalDay(400)");
  });

  it("cluster schema renders ON CLUSTER, Replicated engines on _local tables and Distributed tables", () => {
    const stmts = renderSchema({ ...single, cluster: "prod" });
    const ddl = stmts.join("\n");
    expect(stmts.every((s) => s.includes("ON CLUSTER prod"))).toBe(true);
    expect(ddl).toContain("CREATE TABLE IF NOT EXISTS tokenmeter.llm_calls_local ON CLUSTER prod");
    expect(ddl).toContain(
      "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tokenmeter/llm_calls_local', '{replica}')",
    );
    expect(ddl).toContain(
      "CREATE TABLE IF NOT EXISTS tokenmeter.llm_calls ON CLUSTER prod AS tokenmeter.llm_calls_local ENGINE = Distributed(prod, tokenmeter, llm_calls_local, cityHash64(trace_id))",
    );
    expect(ddl).toContain(
      "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tokenmeter/scores_local', '{replica}')",
    );
  });
});
