import type { Readable } from "node:stream";
import type { ClickHouseClient } from "@clickhouse/client";
import { ERR_BAD_REQUEST } from "../errors.js";
import { MODEL_KEY_SQL } from "./rollup.js";
import { identifier, sqlString } from "./sql.js";

/**
 * Chargeback export in FOCUS 1.2 (FinOps Open Cost and Usage Specification), written by
 * ClickHouse itself (FORMAT CSVWithNames or Parquet) from one SELECT.
 *
 * One row per UTC day, team (sub account), project, environment, provider, model and catalog
 * price: a Usage charge. Calls served from the proxy cache are not billed and are left out;
 * rows with no tokens (calls that failed before usage) carry no charge and are left out too.
 *
 * How the spec's rules are met:
 * - Dates are UTC, ISO 8601 with a Z (Date/Time Format); charge periods are [day, day + 1) and
 *   the billing period is the calendar month, start inclusive, end exclusive.
 * - BilledCost = EffectiveCost = ContractedCost = what the calls cost (contract rates and
 *   discounts applied, nothing amortized); ListCost = the same usage at list prices, so
 *   EffectiveCost <= ListCost. None is ever null; calls with no catalog price count 0 and are
 *   counted in x_UnpricedCalls (unknown, not free: check that column before invoicing).
 * - ChargeCategory "Usage", ChargeClass null (not a correction), ChargeFrequency "Usage-Based",
 *   PricingCategory "Standard" (list or negotiated rates).
 * - ConsumedQuantity = tokens (positive for every row), ConsumedUnit "Tokens"; PricingQuantity =
 *   tokens / 1e6 in PricingUnit "1000000 Tokens", the unit catalog prices are quoted in. A row
 *   mixes token kinds at different rates, so ListUnitPrice and ContractedUnitPrice are null
 *   (allowed) and the kinds are in x_ columns.
 * - ServiceCategory "AI and Machine Learning", ServiceSubcategory "Generative AI".
 * - SubAccountId / SubAccountName = the team (null when unattributed).
 * - Tags: JSON object of tokenmeter's own tags, prefixed "tokenmeter/" as provider-defined tags
 *   must be.
 * - Custom columns start with x_.
 */

export type FocusFormat = "csv" | "parquet";

export const FOCUS_COLUMNS = [
  "BilledCost",
  "BillingAccountId",
  "BillingAccountName",
  "BillingCurrency",
  "BillingPeriodEnd",
  "BillingPeriodStart",
  "ChargeCategory",
  "ChargeClass",
  "ChargeDescription",
  "ChargeFrequency",
  "ChargePeriodEnd",
  "ChargePeriodStart",
  "ConsumedQuantity",
  "ConsumedUnit",
  "ContractedCost",
  "ContractedUnitPrice",
  "EffectiveCost",
  "InvoiceIssuerName",
  "ListCost",
  "ListUnitPrice",
  "PricingCategory",
  "PricingQuantity",
  "PricingUnit",
  "ProviderName",
  "PublisherName",
  "ServiceCategory",
  "ServiceName",
  "ServiceSubcategory",
  "SkuId",
  "SkuPriceId",
  "SubAccountId",
  "SubAccountName",
  "SubAccountType",
  "Tags",
  "x_Provider",
  "x_Model",
  "x_Project",
  "x_Environment",
  "x_Calls",
  "x_UnpricedCalls",
  "x_InputTokens",
  "x_OutputTokens",
  "x_CacheReadTokens",
  "x_CacheWriteTokens",
  "x_ReasoningTokens",
] as const;

/** Normalized provider -> [company that provides and invoices, service name]. */
const PROVIDERS: Readonly<Record<string, readonly [string, string]>> = {
  openai: ["OpenAI", "OpenAI API"],
  anthropic: ["Anthropic", "Claude API"],
  "azure.ai.openai": ["Microsoft", "Azure OpenAI"],
  "azure.ai.inference": ["Microsoft", "Azure AI Foundry Models"],
  "aws.bedrock": ["Amazon Web Services", "Amazon Bedrock"],
  "gcp.vertex_ai": ["Google Cloud", "Vertex AI"],
  "gcp.gemini": ["Google", "Gemini API"],
  mistral_ai: ["Mistral AI", "Mistral AI API"],
  cohere: ["Cohere", "Cohere API"],
  groq: ["Groq", "GroqCloud"],
  deepseek: ["DeepSeek", "DeepSeek API"],
  x_ai: ["xAI", "xAI API"],
  together: ["Together AI", "Together AI API"],
  fireworks: ["Fireworks AI", "Fireworks AI API"],
  perplexity: ["Perplexity", "Perplexity API"],
};

/** Model vendors as catalog ids name them (price_id "anthropic/claude-...") -> publisher. */
const PUBLISHERS: Readonly<Record<string, string>> = {
  openai: "OpenAI",
  anthropic: "Anthropic",
  google: "Google",
  meta: "Meta",
  mistral: "Mistral AI",
  cohere: "Cohere",
  deepseek: "DeepSeek",
  xai: "xAI",
  amazon: "Amazon",
  qwen: "Alibaba Cloud",
  moonshot: "Moonshot AI",
};

function transformSql(expr: string, map: Readonly<Record<string, string>>, fallback: string): string {
  const keys = Object.keys(map);
  return `transform(${expr}, [${keys.map(sqlString).join(", ")}], [${keys
    .map((k) => sqlString(map[k] ?? ""))
    .join(", ")}], ${fallback})`;
}

/** [start, end) of a "YYYY-MM" month in UTC, Unix ms. */
export function utcMonth(month: string): { start: number; end: number } {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  const year = Number(m?.[1]);
  const mon = Number(m?.[2]);
  if (!m || mon < 1 || mon > 12) throw ERR_BAD_REQUEST(`month: expected YYYY-MM, got "${month}"`);
  return { start: Date.UTC(year, mon - 1, 1), end: Date.UTC(year, mon, 1) };
}

export function focusExportSql(database: string, month: string, format: FocusFormat): string {
  const db = identifier(database);
  const { start, end } = utcMonth(month);
  const company = transformSql(
    "provider",
    Object.fromEntries(Object.entries(PROVIDERS).map(([k, v]) => [k, v[0]])),
    "provider",
  );
  const service = transformSql(
    "provider",
    Object.fromEntries(Object.entries(PROVIDERS).map(([k, v]) => [k, v[1]])),
    "provider",
  );
  const publisher = `if(price_id = '', ${company}, ${transformSql("splitByChar('/', price_id)[1]", PUBLISHERS, "splitByChar('/', price_id)[1]")})`;
  const time = (expr: string) =>
    format === "csv" ? `formatDateTime(${expr}, '%Y-%m-%dT%H:%i:%SZ', 'UTC')` : `toDateTime64(${expr}, 0, 'UTC')`;
  const periodStart = `toDateTime(${start / 1000}, 'UTC')`;
  const periodEnd = `toDateTime(${end / 1000}, 'UTC')`;
  const tokens = "(input_tokens + output_tokens)";
  const columns: Record<(typeof FOCUS_COLUMNS)[number], string> = {
    BilledCost: "cost",
    BillingAccountId: "provider",
    BillingAccountName: company,
    BillingCurrency: "'USD'",
    BillingPeriodEnd: time(periodEnd),
    BillingPeriodStart: time(periodStart),
    ChargeCategory: "'Usage'",
    ChargeClass: "CAST(NULL AS Nullable(String))",
    ChargeDescription: `concat(model, ' usage: ', toString(input_tokens), ' input and ', toString(output_tokens), ' output tokens', if(price_id = '', ', no catalog price (unpriced)', concat(', priced at ', price_id)))`,
    ChargeFrequency: "'Usage-Based'",
    ChargePeriodEnd: time("day + toIntervalDay(1)"),
    ChargePeriodStart: time("day"),
    ConsumedQuantity: `toDecimal128(${tokens}, 0)`,
    ConsumedUnit: "'Tokens'",
    ContractedCost: "cost",
    ContractedUnitPrice: "CAST(NULL AS Nullable(Decimal(38, 9)))",
    EffectiveCost: "cost",
    InvoiceIssuerName: company,
    ListCost: "list",
    ListUnitPrice: "CAST(NULL AS Nullable(Decimal(38, 9)))",
    PricingCategory: "'Standard'",
    PricingQuantity: `toDecimal128(${tokens}, 6) / 1000000`,
    PricingUnit: "'1000000 Tokens'",
    ProviderName: company,
    PublisherName: publisher,
    ServiceCategory: "'AI and Machine Learning'",
    ServiceName: service,
    ServiceSubcategory: "'Generative AI'",
    SkuId: "model",
    SkuPriceId: "nullIf(price_id, '')",
    SubAccountId: "nullIf(team, '')",
    SubAccountName: "nullIf(team, '')",
    SubAccountType: "if(team = '', CAST(NULL AS Nullable(String)), 'Team')",
    Tags: "toJSONString(mapFilter((k, v) -> v != '', map('tokenmeter/project', project, 'tokenmeter/environment', environment)))",
    x_Provider: "provider",
    x_Model: "model",
    x_Project: "project",
    x_Environment: "environment",
    x_Calls: "calls",
    x_UnpricedCalls: "unpriced_calls",
    x_InputTokens: "input_tokens",
    x_OutputTokens: "output_tokens",
    x_CacheReadTokens: "cache_read_tokens",
    x_CacheWriteTokens: "cache_write_tokens",
    x_ReasoningTokens: "reasoning_tokens",
  };
  return `SELECT
  ${FOCUS_COLUMNS.map((c) => `${columns[c]} AS ${c}`).join(",\n  ")}
FROM (
  SELECT toStartOfDay(timestamp, 'UTC') AS day, team, project, environment, provider,
    ${MODEL_KEY_SQL} AS model, price_id,
    sum(ifNull(c.cost_usd, toDecimal64(0, 9))) AS cost,
    sum(ifNull(c.list_cost_usd, ifNull(c.cost_usd, toDecimal64(0, 9)))) AS list,
    toUInt64(count()) AS calls,
    toUInt64(countIf(c.priced = 0)) AS unpriced_calls,
    sum(c.input_tokens) AS input_tokens,
    sum(c.output_tokens) AS output_tokens,
    sum(c.cache_read_tokens) AS cache_read_tokens,
    sum(c.cache_write_tokens) AS cache_write_tokens,
    sum(c.reasoning_tokens) AS reasoning_tokens
  FROM ${db}.llm_calls AS c
  WHERE c.timestamp >= ${periodStart} AND c.timestamp < ${periodEnd} AND c.cache_hit = 0
  GROUP BY day, team, project, environment, provider, model, price_id
  HAVING ${tokens} > 0
)
ORDER BY day, team, project, environment, provider, model, price_id
SETTINGS format_csv_null_representation = '', output_format_decimal_trailing_zeros = 0, output_format_parquet_string_as_string = 1
FORMAT ${format === "csv" ? "CSVWithNames" : "Parquet"}`;
}

/** The export as a byte stream, straight from ClickHouse. */
export async function exportFocus(
  client: ClickHouseClient,
  database: string,
  opts: { month: string; format: FocusFormat },
): Promise<Readable> {
  // Nulls are empty CSV fields, as FOCUS readers expect (settings in the text: see spend.ts).
  const result = await client.exec({ query: focusExportSql(database, opts.month, opts.format) });
  return result.stream;
}
