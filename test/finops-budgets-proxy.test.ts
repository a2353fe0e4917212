import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetEnforcer } from "../collector/src/finops/budget-enforcer.js";
import { createBudgetHook } from "../collector/src/finops/budget-hook.js";
import { MemoryBudgetStore } from "../collector/src/finops/budget-store.js";
import { budgetsSchema } from "../collector/src/finops/config.js";
import type { PreRequestHook, ProxyRequestContext } from "../collector/src/proxy/hooks.js";
import { type Harness, newTrace, startHarness } from "./proxy-harness.js";

/**
 * The budget hook in the real proxy, in front of the fake provider: 200 concurrent calls
 * against a hard budget. The proxy reserves each call's estimate before it goes upstream and
 * settles with the cost of the usage the provider reported.
 */

// Each call reserves ~$0.002 (input estimate + max_tokens) and costs ~$0.00007: about 70 of
// the 200 fit, and the reservations keep concurrent calls from all seeing the same room.
const LIMIT_USD = 0.005;

let h: Harness;
let enforcer: BudgetEnforcer;
const estimates: number[] = [];
const settled: number[] = [];

beforeAll(async () => {
  enforcer = new BudgetEnforcer({
    config: budgetsSchema.parse({
      definitions: [
        {
          name: "proxy-team-daily",
          scope: { team: "proxy-team" },
          window: "daily",
          limitUsd: LIMIT_USD,
          enforcement: "hard",
        },
      ],
    }),
    store: new MemoryBudgetStore(),
  });
  const budget = createBudgetHook(enforcer);
  // Records what the proxy hands the hook and what it settles, around the real hook.
  const observed: PreRequestHook = {
    name: "budgets",
    async beforeRequest(ctx: ProxyRequestContext) {
      if (ctx.estimatedCostUsd !== null) estimates.push(ctx.estimatedCostUsd);
      const d = await budget.beforeRequest(ctx);
      if (!d.allow || !d.reservation) return d;
      const r = d.reservation;
      return {
        allow: true,
        reservation: {
          settle: (usd) => {
            settled.push(usd ?? Number.NaN);
            r.settle(usd);
          },
          release: () => r.release(),
        },
      };
    },
  };
  h = await startHarness({ hooks: [observed] });
});

afterAll(async () => {
  await h?.close();
});

describe("hard budget through the proxy", () => {
  it("200 concurrent requests overshoot the budget by at most one request's estimated cost", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await fetch(`${h.proxy.url}/openai/v1/chat/completions`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: "Bearer sk-test",
            "x-tokenmeter-team": "proxy-team",
          },
          body: JSON.stringify({
            model: "gpt-4o",
            max_tokens: 200,
            messages: [{ role: "user", content: `budget check ${i}` }],
          }),
        });
        const body = await res.text();
        return { status: res.status, body };
      }),
    );
    const ok = statuses.filter((s) => s.status === 200).length;
    const refused = statuses.filter((s) => s.status === 429);
    expect(ok).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(ok + refused.length).toBe(200);
    // Provider-shaped (OpenAI) error naming the budget.
    const err = JSON.parse(refused[0]?.body ?? "{}") as { error?: { code?: string; message?: string } };
    expect(err.error?.code).toBe("budget_exceeded");
    expect(err.error?.message).toContain("proxy-team-daily");

    // Every allowed call was settled with its actual cost.
    const deadline = Date.now() + 5000;
    while (settled.length < ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(settled.length).toBe(ok);
    const spent = settled.reduce((a, b) => a + b, 0);
    const maxEstimate = Math.max(...estimates);
    expect(spent).toBeLessThanOrEqual(LIMIT_USD + maxEstimate);
    const def = enforcer.definitions[0];
    if (!def) throw new Error("no budget");
    const [c] = await enforcer.store.read([enforcer.window(def).ref], Date.now());
    expect(Number(c?.spentNano) / 1e9).toBeCloseTo(spent, 8);
    expect(c?.reservedNano).toBe(0n);
  });
});

describe("budget settlement under a contract", () => {
  let c: Harness;
  const settledUsd: number[] = [];

  beforeAll(async () => {
    const store = new MemoryBudgetStore();
    const contractEnforcer = new BudgetEnforcer({
      config: budgetsSchema.parse({
        definitions: [
          { name: "c-daily", scope: { team: "contract-team" }, window: "daily", limitUsd: 100, enforcement: "hard" },
        ],
      }),
      store,
    });
    const budget = createBudgetHook(contractEnforcer);
    const observed: PreRequestHook = {
      name: "budgets",
      async beforeRequest(ctx: ProxyRequestContext) {
        const d = await budget.beforeRequest(ctx);
        if (!d.allow || !d.reservation) return d;
        const r = d.reservation;
        return {
          allow: true,
          reservation: {
            settle: (usd) => {
              settledUsd.push(usd ?? Number.NaN);
              r.settle(usd);
            },
            release: () => r.release(),
          },
        };
      },
    };
    c = await startHarness({
      hooks: [observed],
      pricing: { contracts: [{ name: "ent", match: { team: "contract-team" }, discountPercent: 12 }] },
    });
  });

  afterAll(async () => {
    await c?.close();
  });

  it("a-call-settles-at-the-effective-cost-the-stored-row-gets-not-the-list-price", async () => {
    const trace = newTrace();
    const res = await fetch(`${c.proxy.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer sk-test",
        "x-tokenmeter-team": "contract-team",
        traceparent: trace.traceparent,
      },
      body: JSON.stringify({ model: "gpt-4o", max_tokens: 200, messages: [{ role: "user", content: "settle me" }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const [row] = await c.calls(trace.traceId);
    const deadline = Date.now() + 5000;
    while (settledUsd.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const effective = Number(row?.["cost_usd"]);
    expect(effective).toBeGreaterThan(0);
    expect(Number(row?.["list_cost_usd"])).toBeGreaterThan(effective);
    expect(settledUsd).toEqual([effective]);
  });
});
