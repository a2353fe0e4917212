import { randomUUID } from "node:crypto";
import type { Logger } from "../logger.js";
import type { BudgetStore, CounterRef, ReserveItem } from "./budget-store.js";
import { type BudgetSubject, type BudgetWindow, budgetWindow, describeScope, scopeMatches } from "./budget-window.js";
import type { BudgetDefinition, BudgetsConfig } from "./config.js";
import { nanoToNumber } from "./money.js";

/**
 * Enforces budgets on calls before they run: every budget whose scope covers the call gets the
 * call's estimated cost reserved, atomically (budget-store.ts); a hard budget without room
 * refuses the call. After the call the reservation is settled with the actual cost, or released
 * when the call never reached the provider.
 *
 * Counters are rebuilt from ClickHouse at start and raised to ClickHouse's figures every
 * `reconcileIntervalMs`, so spend from SDK and OTLP senders (which never pass the proxy) counts
 * too. Raising takes the larger of the two per bucket and never lowers a counter: calls the
 * proxy settled but ClickHouse has not stored yet are not forgotten, and nothing is counted twice.
 */

/** Spend ClickHouse holds for a budget's window, per counter bucket. */
export interface BudgetSpendSource {
  bucketSpend(def: BudgetDefinition, window: BudgetWindow, now: number): Promise<Map<number, bigint>>;
}

export type BudgetDecision =
  | { ok: true; reservation: BudgetReservation | undefined }
  | { ok: false; budget: string; message: string; retryAfter: number };

export interface BudgetReservation {
  readonly id: string;
  readonly amountNano: bigint;
  /** Replaces the estimate with the actual cost (null: unknown, the estimate stands). */
  settle(actualCostUsd: number | null): Promise<void>;
  release(): Promise<void>;
}

export interface BudgetEnforcerOptions {
  config: BudgetsConfig;
  store: BudgetStore;
  spend?: BudgetSpendSource | undefined;
  logger?: Logger | undefined;
  /** Unix ms; tests inject a clock. */
  clock?: () => number;
}

export function usdToNano(usd: number): bigint {
  if (!Number.isFinite(usd) || usd <= 0) return 0n;
  return BigInt(Math.round(usd * 1e9));
}

function money(nano: bigint): string {
  return `$${nanoToNumber(nano).toFixed(2)}`;
}

export class BudgetEnforcer {
  readonly config: BudgetsConfig;
  readonly store: BudgetStore;
  readonly #spend: BudgetSpendSource | undefined;
  readonly #logger: Logger | undefined;
  readonly #clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #reconciling: Promise<void> | undefined;

  constructor(o: BudgetEnforcerOptions) {
    this.config = o.config;
    this.store = o.store;
    this.#spend = o.spend;
    this.#logger = o.logger;
    this.#clock = o.clock ?? Date.now;
  }

  get definitions(): readonly BudgetDefinition[] {
    return this.config.definitions;
  }

  now(): number {
    return this.#clock();
  }

  window(def: BudgetDefinition, now = this.#clock()): BudgetWindow {
    return budgetWindow(def, this.config, now);
  }

  matching(subject: BudgetSubject): BudgetDefinition[] {
    return this.config.definitions.filter((d) => scopeMatches(d.scope, subject));
  }

  /**
   * Reserves the estimate on every budget covering the call. An unknown estimate (null) reserves
   * nothing but is still refused by a hard budget that is already used up.
   */
  async reserve(subject: BudgetSubject, estimatedCostUsd: number | null): Promise<BudgetDecision> {
    const defs = this.matching(subject);
    if (defs.length === 0) return { ok: true, reservation: undefined };
    const now = this.#clock();
    const windows = defs.map((d) => this.window(d, now));
    const items: ReserveItem[] = defs.map((d, i) => {
      const w = windows[i] as BudgetWindow;
      return { ...w.ref, budget: d.name, limitNano: usdToNano(d.limitUsd), hard: d.enforcement === "hard" };
    });
    const amount = usdToNano(estimatedCostUsd ?? 0);
    const id = randomUUID();
    const result = await this.store.reserve(id, items, amount, now, this.config.reservationTtlMs);
    if (!result.ok) {
      const i = defs.findIndex((d) => d.name === result.budget);
      const def = defs[i];
      const w = windows[i];
      const retryAfter = w === undefined ? 60 : Math.max(1, Math.ceil((w.resetAt - now) / 1000));
      const scope = def ? describeScope(def.scope) : "";
      return {
        ok: false,
        budget: result.budget,
        retryAfter,
        message: `budget "${result.budget}" (${scope}, ${w?.period ?? ""}) is exhausted: ${money(result.spentNano)} spent and ${money(result.reservedNano)} reserved of ${money(result.limitNano)}${amount > 0n ? `; this request needs about ${money(amount)}` : ""}`,
      };
    }
    return {
      ok: true,
      reservation: this.#reservation(
        id,
        amount,
        windows.map((w) => w.ref),
      ),
    };
  }

  #reservation(id: string, amountNano: bigint, refs: CounterRef[]): BudgetReservation {
    let done = false;
    const finish = async (op: () => Promise<void>) => {
      if (done) return;
      done = true;
      try {
        await op();
      } catch (err) {
        // The reservation expires on its own; the call must not fail because of it.
        this.#logger?.warn({ err, reservation: id }, "budget counter update failed");
      }
    };
    return {
      id,
      amountNano,
      settle: (actual) =>
        finish(() => this.store.settle(id, refs, actual === null ? amountNano : usdToNano(actual), this.#clock())),
      release: () => finish(() => this.store.release(id, refs, this.#clock())),
    };
  }

  /** Raises every budget's counters to what ClickHouse holds for its current window. */
  async reconcile(): Promise<void> {
    if (!this.#spend) return;
    if (this.#reconciling) return this.#reconciling;
    const spend = this.#spend;
    const run = async () => {
      const now = this.#clock();
      await Promise.all(
        this.config.definitions.map(async (def) => {
          const w = this.window(def, now);
          try {
            await this.store.raise(w.ref, await spend.bucketSpend(def, w, now), now);
          } catch (err) {
            this.#logger?.warn({ err, budget: def.name }, "budget counters could not be rebuilt from ClickHouse");
          }
        }),
      );
    };
    this.#reconciling = run().finally(() => {
      this.#reconciling = undefined;
    });
    return this.#reconciling;
  }

  /** Rebuilds counters from ClickHouse, then keeps them reconciled. */
  async start(): Promise<void> {
    await this.reconcile();
    if (this.#spend && this.config.definitions.length > 0 && !this.#timer) {
      this.#timer = setInterval(() => void this.reconcile(), this.config.reconcileIntervalMs);
      this.#timer.unref();
    }
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#reconciling?.catch(() => {});
    await this.store.close();
  }
}
