import { z } from "zod";
import { parseDuration } from "../alerts/duration.js";

/**
 * The `pricing` and `budgets` sections of tokenmeter.yaml. Both are optional: with neither,
 * calls are costed at catalog list prices and no budget is enforced.
 *
 * ```yaml
 * pricing:
 *   catalog: ./prices/catalog.json        # default: the shipped collector/prices/catalog.json
 *   serviceTiers: { batch: 0.5, flex: 0.5 }
 *   contracts:
 *     - name: openai-enterprise
 *       match: { provider: openai }
 *       discountPercent: 12
 *     - name: search-claude
 *       match: { team: search, model: "claude-sonnet-4*" }
 *       prices:
 *         - { model: claude-sonnet-4-5, input: 2.4, output: 12, cache_read: 0.24 }
 * budgets:
 *   timezone: Europe/Berlin
 *   definitions:
 *     - name: search-monthly
 *       scope: { team: search }
 *       window: monthly
 *       limitUsd: 2000
 *       enforcement: hard
 *       thresholds: [0.5, 0.8, 1]
 * ```
 */

/** A multiplier or price with at most 6 decimals: exact in the integer arithmetic of rating. */
const sixDecimals = (n: number) => Number(n.toFixed(6)) === n;

const multiplier = z.number().positive().max(100).refine(sixDecimals, { message: "at most 6 decimals" });

const price = z
  .number()
  .nonnegative()
  .max(1_000_000)
  .refine(sixDecimals, { message: "at most 6 decimals (USD per 1M tokens)" });

const stringList = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (typeof v === "string" ? [v] : v));

const instant = z.union([z.iso.date(), z.iso.datetime({ offset: true })]).transform((v) => Date.parse(v));

const timeZone = z.string().refine(isTimeZone, { message: "expected an IANA time zone such as Europe/Berlin" });

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Negotiated prices for one model, USD per 1M tokens (the catalog's unit). */
const contractPriceSchema = z.strictObject({
  /** Model name as the catalog names it, or a glob with `*`. */
  model: z.string().min(1),
  input: price,
  output: price,
  cache_read: price.optional(),
  cache_write: price.optional(),
  reasoning: price.optional(),
});

const contractSchema = z
  .strictObject({
    name: z.string().min(1).max(128),
    /** Which calls the contract covers; every field given must match (globs with `*` allowed). */
    match: z
      .strictObject({
        team: stringList.optional(),
        project: stringList.optional(),
        provider: stringList.optional(),
        model: stringList.optional(),
      })
      .default({}),
    /** Discount off list cost for covered calls without a negotiated price. */
    discountPercent: z.number().min(0).max(100).refine(sixDecimals, { message: "at most 6 decimals" }).optional(),
    /**
     * Negotiated base rates for these models; long-context tiers and the kinds not named keep
     * the list's ratios to them (rating.ts negotiatedRates).
     */
    prices: z.array(contractPriceSchema).default([]),
    /** Contract term: calls starting before `from` or at/after `to` are not covered. */
    from: instant.optional(),
    to: instant.optional(),
  })
  .refine((c) => c.discountPercent !== undefined || c.prices.length > 0, {
    message: "a contract needs discountPercent or prices",
  })
  .refine((c) => c.from === undefined || c.to === undefined || c.to > c.from, {
    message: "to must be after from",
    path: ["to"],
  });

export const pricingSchema = z
  .object({
    /** A price catalog file in the format of collector/prices/catalog.json; default: the shipped one. */
    catalog: z.string().min(1).optional(),
    /**
     * Multipliers on list price by service tier, read from the call's `service_tier` tag or
     * request parameter. Providers publish batch and flex at half price; priority varies by
     * model, so it is not assumed (set it per provider).
     */
    serviceTiers: z.record(z.string().regex(/^[a-z_]+$/), multiplier).default({ batch: 0.5, flex: 0.5 }),
    /** Per-provider tier multipliers, winning over serviceTiers: `{ openai: { priority: 1.75 } }`. */
    providerServiceTiers: z.record(z.string(), z.record(z.string().regex(/^[a-z_]+$/), multiplier)).default({}),
    /** Contracts, first match wins. */
    contracts: z.array(contractSchema).default([]),
  })
  .prefault({});

export type PricingConfig = z.infer<typeof pricingSchema>;
export type ContractConfig = PricingConfig["contracts"][number];

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 60_000) {
    ctx.addIssue({ code: "custom", message: 'expected a duration of at least 1m such as "24h" or "7d"' });
    return z.NEVER;
  }
  return ms;
});

const budgetName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/,
    "a letter or '_' first, then letters, digits, '_', '.', ':', '-' (64 at most)",
  );

const budgetScopeSchema = z
  .strictObject({
    team: z.string().optional(),
    project: z.string().optional(),
    user: z.string().optional(),
    /** Id of a virtual key (the proxy records it in the call's `virtual_key` tag). */
    virtualKey: z.string().optional(),
    provider: z.string().optional(),
    model: z.string().optional(),
    tags: z.record(z.string().min(1), z.string()).default({}),
  })
  .default({ tags: {} });

export const budgetDefinitionSchema = z.strictObject({
  name: budgetName,
  /** What the budget covers; fields given must all match. Empty: the whole organization. */
  scope: budgetScopeSchema,
  /** Calendar window (daily, weekly, monthly in the time zone) or a rolling one: `{ rolling: 24h }`. */
  window: z.union([z.enum(["daily", "weekly", "monthly"]), z.strictObject({ rolling: duration })]),
  limitUsd: z.number().positive(),
  /** hard: the proxy rejects calls that would exceed it (429); soft: alerts only. */
  enforcement: z.enum(["hard", "soft"]).default("soft"),
  /** Fractions of the limit at which an alert fires. */
  thresholds: z.array(z.number().positive().max(10)).default([0.5, 0.8, 1]),
  /** Overrides budgets.timezone for this budget's calendar window. */
  timezone: timeZone.optional(),
});

export const budgetsSchema = z
  .object({
    /** IANA time zone in which calendar windows start (midnight, Monday, the 1st). */
    timezone: timeZone.default("UTC"),
    /** First day of weekly windows. */
    weekStart: z.enum(["monday", "sunday"]).default("monday"),
    /** Counters shared across proxy replicas; in-memory when unset (REDIS_URL). */
    redisUrl: z.string().url().optional(),
    /** A reservation never settled (its replica died) is released after this long. */
    reservationTtlMs: z.coerce
      .number()
      .int()
      .min(1000)
      .default(15 * 60_000),
    /** How often counters are raised to what ClickHouse holds (spend from SDK and OTLP calls). */
    reconcileIntervalMs: z.coerce.number().int().min(1000).default(30_000),
    definitions: z.array(budgetDefinitionSchema).default([]),
  })
  .prefault({})
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.definitions.forEach((d, i) => {
      if (seen.has(d.name)) {
        ctx.addIssue({ code: "custom", path: ["definitions", i, "name"], message: `duplicate budget "${d.name}"` });
      }
      seen.add(d.name);
    });
  });

export type BudgetsConfig = z.infer<typeof budgetsSchema>;
export type BudgetDefinition = BudgetsConfig["definitions"][number];
export type BudgetScope = BudgetDefinition["scope"];
