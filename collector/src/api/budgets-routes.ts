import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import type { Finops } from "../finops/finops.js";
import { parseOrThrow } from "./query-params.js";

/**
 * GET /api/v1/budgets[?name=]: every budget of tokenmeter.yaml with its current window,
 * spent, reserved (calls in flight), remaining, thresholds crossed and forecast.
 */
export function registerBudgetsRoutes(
  app: FastifyInstance,
  deps: { finops: Finops; auth: preHandlerAsyncHookHandler | undefined },
): void {
  const preHandler = deps.auth ? [deps.auth] : [];
  app.get("/api/v1/budgets", { preHandler }, async (request) => {
    const q = parseOrThrow(z.object({ name: z.string().max(64).optional() }), request.query);
    const budgets = await deps.finops.budgets.list(deps.finops.clock());
    return { budgets: q.name === undefined ? budgets : budgets.filter((b) => b.name === q.name) };
  });
}
