import type { ClickHouseClient } from "@clickhouse/client";
import type { Rule } from "../alerts/rules.js";
import type { CostAnomalySource } from "../alerts/sources.js";
import type { Config } from "../config/schema.js";
import type { PriceBook } from "../enrich/price-book.js";
import { ERR_BAD_CONFIG } from "../errors.js";
import type { Logger } from "../logger.js";
import type { PreRequestHook } from "../proxy/hooks.js";
import type { StorageClient } from "../storage/client.js";
import { type AnomalyOptions, createCostAnomalySource } from "./anomalies.js";
import { BudgetEnforcer } from "./budget-enforcer.js";
import { createBudgetHook } from "./budget-hook.js";
import { budgetAlertRules } from "./budget-rules.js";
import { ClickHouseBudgetSpend } from "./budget-spend.js";
import { BudgetStatusService } from "./budget-status.js";
import { type BudgetStore, MemoryBudgetStore } from "./budget-store.js";
import { loadConfiguredPriceBook } from "./catalog.js";
import type { PricingConfig } from "./config.js";
import { RedisBudgetStore } from "./redis-budget-store.js";

/**
 * Everything FinOps in one object, built once at start: the price book and pricing config
 * (for reprice and savings), budget enforcement (the proxy hook), budget status and cost
 * anomalies (for the API and the alert engine). `start()` rebuilds budget counters from
 * ClickHouse; `close()` stops reconciling and closes the counter store.
 */
export interface Finops {
  client: ClickHouseClient;
  database: string;
  cluster: string | undefined;
  book: PriceBook;
  pricing: PricingConfig;
  /** Zone for days and months in spend, forecasts and calendar budgets. */
  timezone: string;
  clock: () => number;
  enforcer: BudgetEnforcer;
  budgets: BudgetStatusService;
  anomalies: CostAnomalySource;
  budgetHook: PreRequestHook;
  /** Alert rules for the budgets' thresholds; append them to the engine's rules. */
  alertRules: Rule[];
  /** One reprice at a time per process. */
  repricing: { running: boolean };
  start(): Promise<void>;
  close(): Promise<void>;
}

export { loadConfiguredPriceBook };

export interface FinopsDeps {
  config: Config;
  storage: StorageClient;
  logger?: Logger | undefined;
  book?: PriceBook;
  clock?: () => number;
  /** Counter store override (tests); default Redis when budgets.redisUrl is set, else memory. */
  store?: BudgetStore;
  anomalies?: AnomalyOptions;
}

export async function createFinops(deps: FinopsDeps): Promise<Finops> {
  const { config, storage, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const book = deps.book ?? loadConfiguredPriceBook(config);
  let store = deps.store;
  if (!store) {
    const url = config.budgets.redisUrl;
    if (url) {
      try {
        store = await RedisBudgetStore.connect({
          url,
          onError: (err) => logger?.warn({ err: { message: err.message } }, "redis (budget counters) error"),
        });
      } catch (err) {
        throw ERR_BAD_CONFIG(
          `budgets: cannot connect to Redis at budgets.redisUrl / REDIS_URL: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    } else {
      store = new MemoryBudgetStore();
    }
  }
  const spend = new ClickHouseBudgetSpend({ client: storage.client, database: storage.database });
  const enforcer = new BudgetEnforcer({ config: config.budgets, store, spend, logger, clock });
  const budgets = new BudgetStatusService({ enforcer, spend, logger });
  return {
    client: storage.client,
    database: storage.database,
    cluster: config.storage.cluster,
    book,
    pricing: config.pricing,
    timezone: config.budgets.timezone,
    clock,
    enforcer,
    budgets,
    anomalies: createCostAnomalySource({ client: storage.client, database: storage.database, options: deps.anomalies }),
    budgetHook: createBudgetHook(enforcer, logger),
    alertRules: budgetAlertRules(config.budgets),
    repricing: { running: false },
    start: () => enforcer.start(),
    close: () => enforcer.close(),
  };
}
