import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCollector, type Collector } from "../collector/src/app.js";
import { intAttr, otlpJsonTraces, strAttr } from "./helpers/collector.js";
import { embeddedStorage, silentLogger, testConfig } from "./helpers/embedded.js";

/**
 * Instrumentations that follow the current GenAI conventions strictly (e.g.
 * @opentelemetry/instrumentation-openai) send prompts and responses as OTLP log events, not as
 * span attributes. The call row comes from the span; its content from the logs.
 */
let collector: Collector;

beforeAll(async () => {
  const { dir, storage } = await embeddedStorage();
  collector = await buildCollector({ config: testConfig(dir), storage, logger: silentLogger });
});

afterAll(async () => {
  await collector?.close();
});

const TRACE = "5b8efff798038103d269b633813fc60c";
const SPAN = "eee19b7ec3c1b174";
const str = strAttr;
// Yesterday noon (UTC): inside the default content retention, which blanks older content on insert.
const T0_S = Math.floor(Date.now() / 86_400_000) * 86_400 - 86_400 + 12 * 3600;

describe("content sent as OTLP log events", () => {
  it("content-events-on-v1-logs-fill-the-call-row-of-their-span", async () => {
    const spans = otlpJsonTraces(
      "strict-app",
      [
        {
          traceId: TRACE,
          spanId: SPAN,
          name: "chat gpt-4o-mini",
          kind: 3,
          startTimeUnixNano: `${T0_S}000000000`,
          endTimeUnixNano: `${T0_S}400000000`,
          attributes: [
            str("gen_ai.operation.name", "chat"),
            str("gen_ai.provider.name", "openai"),
            str("gen_ai.request.model", "gpt-4o-mini"),
            intAttr("gen_ai.usage.input_tokens", 12),
            intAttr("gen_ai.usage.output_tokens", 5),
          ],
        },
      ],
      "@opentelemetry/instrumentation-openai",
    );
    const logs = {
      resourceLogs: [
        {
          resource: { attributes: [str("service.name", "strict-app")] },
          scopeLogs: [
            {
              scope: { name: "@opentelemetry/instrumentation-openai" },
              logRecords: [
                {
                  timeUnixNano: `${T0_S}001000000`,
                  traceId: TRACE,
                  spanId: SPAN,
                  eventName: "gen_ai.user.message",
                  body: { kvlistValue: { values: [str("content", "What is the capital of France?")] } },
                  attributes: [str("gen_ai.system", "openai")],
                },
                {
                  timeUnixNano: `${T0_S}390000000`,
                  traceId: TRACE,
                  spanId: SPAN,
                  eventName: "gen_ai.choice",
                  body: {
                    kvlistValue: {
                      values: [
                        { key: "index", value: { intValue: "0" } },
                        str("finish_reason", "stop"),
                        {
                          key: "message",
                          value: { kvlistValue: { values: [str("role", "assistant"), str("content", "Paris.")] } },
                        },
                      ],
                    },
                  },
                  attributes: [str("gen_ai.system", "openai")],
                },
              ],
            },
          ],
        },
      ],
    };
    const t = await collector.app.inject({ method: "POST", url: "/v1/traces", payload: spans });
    expect(t.statusCode).toBe(200);
    const l = await collector.app.inject({ method: "POST", url: "/v1/logs", payload: logs });
    expect(l.statusCode).toBe(200);

    const res = await collector.app.inject({ method: "GET", url: `/api/v1/calls?trace_id=${TRACE}` });
    const [call] = (res.json() as { calls: Array<Record<string, unknown>> }).calls;
    expect(call).toMatchObject({ input_tokens: 12, output_tokens: 5, request_model: "gpt-4o-mini" });
    expect(String(call?.["input"])).toContain("What is the capital of France?");
    expect(String(call?.["output"])).toContain("Paris.");

    const trace = await collector.app.inject({ method: "GET", url: `/api/v1/traces/${TRACE}` });
    const calls = (trace.json() as { calls: Array<Record<string, unknown>> }).calls;
    expect(String(calls[0]?.["output"])).toContain("Paris.");
  });
});
