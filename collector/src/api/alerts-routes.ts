import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import type { AlertEngine } from "../alerts/engine.js";
import { parseOrThrow } from "./query-params.js";

const STATES = ["inactive", "pending", "firing", "resolved", "nodata"] as const;

const alertsQuery = z.object({
  /** Comma-separated states; default: every state but inactive. */
  state: z
    .string()
    .transform((v, ctx) => {
      const states = v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      for (const s of states) {
        if (!(STATES as readonly string[]).includes(s)) {
          ctx.addIssue({ code: "custom", message: `unknown state "${s}"; expected ${STATES.join(", ")}` });
          return z.NEVER;
        }
      }
      return states as (typeof STATES)[number][];
    })
    .optional(),
  rule: z.string().max(256).optional(),
  fingerprint: z
    .string()
    .regex(/^[0-9a-f]{16}$/, "expected 16 hex characters")
    .optional(),
});

/**
 * GET /api/v1/alerts: the engine's current series, straight from memory (the engine rebuilds
 * it from alert_events at start), so the answer costs no query.
 */
export function registerAlertsRoutes(
  app: FastifyInstance,
  deps: { engine: AlertEngine; auth: preHandlerAsyncHookHandler | undefined },
): void {
  const preHandler = deps.auth ? [deps.auth] : [];
  app.get("/api/v1/alerts", { preHandler }, async (request) => {
    const q = parseOrThrow(alertsQuery, request.query);
    return { alerts: deps.engine.alerts({ states: q.state, rule: q.rule, fingerprint: q.fingerprint }) };
  });
}
