import type { Logger } from "../logger.js";
import type { PreRequestDecision, PreRequestHook, ProxyRequestContext } from "../proxy/hooks.js";
import type { BudgetEnforcer } from "./budget-enforcer.js";

/**
 * The proxy's budget check: reserve the call's estimated cost on every budget covering it before
 * it goes upstream; a hard budget without room answers 429 with code `budget_exceeded` and a
 * message naming the budget (the proxy shapes it like the provider's own errors), and a
 * Retry-After until the window resets. The reservation is settled with the actual cost after
 * the call, or released when the call never reached the provider.
 *
 * If the counters cannot be reached (Redis down), the call is allowed and the failure logged:
 * tokenmeter never breaks the user's call because of itself.
 */
export function createBudgetHook(enforcer: BudgetEnforcer, logger?: Logger): PreRequestHook {
  return {
    name: "budgets",
    async beforeRequest(ctx: ProxyRequestContext): Promise<PreRequestDecision> {
      let decision: Awaited<ReturnType<BudgetEnforcer["reserve"]>>;
      try {
        decision = await enforcer.reserve(
          {
            team: ctx.team,
            project: ctx.project,
            user: ctx.user,
            virtualKeyId: ctx.virtualKeyId,
            provider: ctx.provider,
            model: ctx.model,
            tags: ctx.tags,
          },
          ctx.estimatedCostUsd,
        );
      } catch (err) {
        logger?.warn({ err }, "budget check failed; allowing the call");
        return { allow: true };
      }
      if (!decision.ok) {
        return {
          allow: false,
          status: 429,
          code: "budget_exceeded",
          message: decision.message,
          retryAfter: decision.retryAfter,
        };
      }
      return decision.reservation ? { allow: true, reservation: decision.reservation } : { allow: true };
    },
  };
}
