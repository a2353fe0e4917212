import { readFileSync } from "node:fs";
import { z } from "zod";
import { ERR_BAD_CONFIG } from "../errors.js";

/**
 * The price catalog (collector/prices/catalog.json) loaded into an index that answers "which
 * price was in force for this provider + model at this instant". Prices are kept as bigint
 * micro-USD per 1M tokens, which is the same number as pico-USD per token, so pricing.ts can
 * multiply token counts by them and stay exact.
 */

/** Works from both src/enrich (tests) and dist/enrich (compiled): prices/ sits beside both. */
export const DEFAULT_CATALOG_URL = new URL("../../prices/catalog.json", import.meta.url);

const MAX_PRICE_DECIMALS = 6;

const price = z
  .number()
  .nonnegative()
  .max(1_000_000)
  .refine((n) => Number(n.toFixed(MAX_PRICE_DECIMALS)) === n, {
    message: `at most ${MAX_PRICE_DECIMALS} decimals (USD per 1M tokens)`,
  });

const instant = z.union([z.iso.date(), z.iso.datetime()]);

const tierSchema = z.strictObject({
  above_input_tokens: z.int().positive(),
  input: price,
  output: price,
  cache_read: price.optional(),
  cache_write: price.optional(),
  cache_write_1h: price.optional(),
  reasoning: price.optional(),
});

const entrySchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9_.-]+\/\S+$/, "expected <vendor>/<model>"),
    provider: z.string().regex(/^[a-z0-9_.]+$/, "expected a normalized provider name"),
    model: z.string().min(1),
    aliases: z.array(z.string().min(1)).default([]),
    effective_from: instant,
    effective_to: instant.optional(),
    input: price.refine((n) => n > 0, { message: "input price must be positive" }),
    output: price,
    cache_read: price.optional(),
    cache_write: price.optional(),
    cache_write_1h: price.optional(),
    reasoning: price.optional(),
    tiers: z.array(tierSchema).optional(),
    source: z.url({ protocol: /^https$/ }),
    version: z.string().min(1),
    notes: z.string().optional(),
  })
  .refine((e) => e.effective_to === undefined || Date.parse(e.effective_to) > Date.parse(e.effective_from), {
    message: "effective_to must be after effective_from",
    path: ["effective_to"],
  });

const catalogSchema = z.strictObject({
  catalog_version: z.string().min(1),
  currency: z.literal("USD"),
  unit: z.literal("per_1m_tokens"),
  entries: z.array(entrySchema).min(1),
});

export type Catalog = z.infer<typeof catalogSchema>;
export type CatalogEntry = Catalog["entries"][number];

/** Prices in micro-USD per 1M tokens (= pico-USD per token). null: not priced apart. */
export interface Rates {
  input: bigint;
  output: bigint;
  cacheRead: bigint | null;
  cacheWrite: bigint | null;
  reasoning: bigint | null;
}

export interface RateTier extends Rates {
  /** The whole call uses this tier when its total input tokens exceed this. */
  aboveInputTokens: number;
}

export interface PriceEntry {
  id: string;
  version: string;
  provider: string;
  model: string;
  /** Unix microseconds, inclusive. */
  effectiveFromUs: number;
  /** Unix microseconds, exclusive; Infinity when open-ended. */
  effectiveToUs: number;
  base: Rates;
  /** Sorted by threshold, highest first. */
  tiers: readonly RateTier[];
  /** The catalog entry as written. */
  raw: CatalogEntry;
}

export interface PriceBook {
  readonly catalogVersion: string;
  readonly entries: readonly PriceEntry[];
  /**
   * The entry in force at `atUs` (Unix microseconds) for this provider and model, or undefined
   * when the model has no price. Provider and model are taken as senders write them.
   */
  lookup(provider: string, model: string, atUs: number): PriceEntry | undefined;
}

export interface PriceBookOptions {
  /** Bound on memoized (provider, model) resolutions; the memo is cleared when it is reached. */
  maxMemoEntries?: number;
}

/** Reads and validates the catalog file. Throws TM_ERR_BAD_CONFIG naming the bad field. */
export function loadPriceBook(url: URL = DEFAULT_CATALOG_URL, options?: PriceBookOptions): PriceBook {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(url, "utf8"));
  } catch (err) {
    throw ERR_BAD_CONFIG(`price catalog ${url.pathname} could not be read as JSON`, { cause: err });
  }
  return createPriceBook(json, options);
}

/** Validates a parsed catalog and builds the index. Throws TM_ERR_BAD_CONFIG. */
export function createPriceBook(catalog: unknown, options?: PriceBookOptions): PriceBook {
  const parsed = catalogSchema.safeParse(catalog);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${formatPath(i.path)}: ${i.message}`)
      .join("; ");
    throw ERR_BAD_CONFIG(`price catalog is invalid: ${detail}`);
  }
  const entries = parsed.data.entries.map(compileEntry);
  return new IndexedPriceBook(parsed.data.catalog_version, entries, options?.maxMemoEntries ?? 50_000);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out === "" ? "" : "."}${String(p)}`;
  return out === "" ? "(root)" : out;
}

function toMicro(usdPer1M: number | undefined): bigint | null {
  if (usdPer1M === undefined) return null;
  // toFixed(6) is exact here: the schema only admits numbers with at most 6 decimals.
  return BigInt(usdPer1M.toFixed(MAX_PRICE_DECIMALS).replace(".", ""));
}

function compileEntry(e: CatalogEntry): PriceEntry {
  const base: Rates = {
    input: toMicro(e.input) ?? 0n,
    output: toMicro(e.output) ?? 0n,
    cacheRead: toMicro(e.cache_read),
    cacheWrite: toMicro(e.cache_write),
    reasoning: toMicro(e.reasoning),
  };
  const tiers = (e.tiers ?? [])
    .map(
      (t): RateTier => ({
        aboveInputTokens: t.above_input_tokens,
        input: toMicro(t.input) ?? 0n,
        output: toMicro(t.output) ?? 0n,
        cacheRead: toMicro(t.cache_read),
        cacheWrite: toMicro(t.cache_write),
        reasoning: toMicro(t.reasoning),
      }),
    )
    .sort((a, b) => b.aboveInputTokens - a.aboveInputTokens);
  return {
    id: e.id,
    version: e.version,
    provider: e.provider,
    model: e.model,
    effectiveFromUs: Date.parse(e.effective_from) * 1000,
    effectiveToUs: e.effective_to === undefined ? Number.POSITIVE_INFINITY : Date.parse(e.effective_to) * 1000,
    base,
    tiers,
    raw: e,
  };
}

/** All entries reachable under one name in one provider: versions of one id, sorted by start. */
type Chain = readonly PriceEntry[];

/** Old and vendor spellings -> the normalized provider names of GENAI_MAPPING.md. */
const PROVIDER_SPELLINGS: Readonly<Record<string, string>> = {
  "az.ai.openai": "azure.ai.openai",
  azure: "azure.ai.openai",
  azure_openai: "azure.ai.openai",
  "az.ai.inference": "azure.ai.inference",
  vertex_ai: "gcp.vertex_ai",
  vertexai: "gcp.vertex_ai",
  google_vertexai: "gcp.vertex_ai",
  gemini: "gcp.gemini",
  google: "gcp.gemini",
  google_genai: "gcp.gemini",
  "gcp.gen_ai": "gcp.gemini",
  xai: "x_ai",
  "x-ai": "x_ai",
  mistral: "mistral_ai",
  mistralai: "mistral_ai",
  bedrock: "aws.bedrock",
  aws_bedrock: "aws.bedrock",
  amazon_bedrock: "aws.bedrock",
  together_ai: "together",
  togetherai: "together",
  fireworks_ai: "fireworks",
};

/**
 * Which catalog providers price a provider's calls. Azure OpenAI bills OpenAI's list prices,
 * Bedrock and Vertex bill Anthropic's for Claude, and Vertex shares Gemini's prices. Bedrock's
 * own models (Amazon Nova) are priced under aws.bedrock.
 */
const PRICE_SCOPES: Readonly<Record<string, readonly string[]>> = {
  "azure.ai.openai": ["openai"],
  "aws.bedrock": ["aws.bedrock", "anthropic"],
  "gcp.vertex_ai": ["gcp.gemini", "anthropic"],
};

/**
 * Runtimes that serve models on the organization's own hardware. Their calls cost what the
 * hardware costs, which no catalog knows, so they never borrow a host's per-token price for
 * the same open-weights model (Groq's or Together's for gpt-oss or Llama): that would report a
 * bill no one sends. Unknown is not zero, and not someone else's price either.
 */
const SELF_HOSTED_PROVIDERS: ReadonlySet<string> = new Set([
  "vllm",
  "ollama",
  "lm_studio",
  "lmstudio",
  "llama.cpp",
  "llama_cpp",
  "llamacpp",
  "tgi",
  "text_generation_inference",
  "sglang",
  "localai",
  "self-hosted",
  "self_hosted",
  "selfhosted",
]);

function normalizeProvider(provider: string): string {
  const p = provider.trim().toLowerCase();
  return PROVIDER_SPELLINGS[p] ?? p;
}

/** A model id longer than this is not a model id: no price, and not memoized. */
const MAX_MODEL_LENGTH = 256;

// Dated-snapshot and channel suffixes, stripped one at a time (see nameCandidates).
const SNAPSHOT_SUFFIXES: readonly RegExp[] = [
  /@[^@]+$/, // Vertex: claude-3-5-sonnet@20240620, gemini-2.0-flash@001
  /-\d{4}-\d{2}-\d{2}$/, // OpenAI: gpt-4o-2024-08-06
  /-\d{8}$/, // Anthropic: claude-sonnet-4-5-20250929
  /-(?:preview|exp)-\d{2}-(?:\d{2}|\d{4})$/, // Gemini: -preview-06-05, -preview-09-2025
  /-(?:latest|preview|exp|beta)$/,
  /-\d{3}$/, // -001 (Gemini's stable revisions, billed at their model's price)
];
// Four-digit snapshots (OpenAI -0613, Mistral -2407, xAI -0709) are not stripped: an older
// snapshot was often billed differently from the model's current price (mistral-large-2407 at
// 2/6 against Large 3's 0.5/1.5, gpt-3.5-turbo-0613 at 1.5/2), so one the catalog does not
// list as an entry or alias stays unpriced rather than taking the newest price.

// Bedrock: [region.]vendor.model[-vN][:M], e.g. us.anthropic.claude-3-5-sonnet-20241022-v2:0
const BEDROCK_ID =
  /^(?:[a-z]{2,6}(?:-[a-z]+)?\.)?(?:anthropic|meta|mistral|amazon|cohere|ai21|deepseek|openai|qwen)\.(.+)$/;
const BEDROCK_VERSION = /(?:-v\d+)?(?::\d+)?$|-\d+:\d+$/;
// A Bedrock id whose vendor prefix the sender stripped (Python OpenLLMetry's Bedrock
// instrumentation: claude-3-5-sonnet-20240620-v1:0): the version suffix still tells it.
const BEDROCK_BARE_VERSION = /-v\d+:\d+$/;

// OpenAI fine-tuned models: ft:<base model>[:<org>:<suffix>:<id>[:ckpt-step-N]]
const FINE_TUNED_ID = /^ft:([^:]+)/;

/**
 * The names to try for a model id, most specific first: the id itself, then with dated
 * snapshot suffixes stripped, then without path prefixes (openai/gpt-4o, models/gemini-2.5-pro,
 * accounts/fireworks/models/x, publishers/google/models/x), then Bedrock ids, then without a
 * ":tag" suffix. Claude ids written with dots (claude-sonnet-4.5) also get the dashed form.
 * OpenAI fine-tuned ids (ft:gpt-4o-mini-2024-07-18:org::id) try ft:<base> and its snapshots only.
 */
export function nameCandidates(model: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (name: string): void => {
    if (name === "" || seen.has(name)) return;
    seen.add(name);
    out.push(name);
  };
  const addWithSnapshots = (name: string): void => {
    add(name);
    if (name.startsWith("claude-") && name.includes(".")) add(name.replaceAll(".", "-"));
    let current = name;
    for (let changed = true; changed; ) {
      changed = false;
      for (const suffix of SNAPSHOT_SUFFIXES) {
        const stripped = current.replace(suffix, "");
        if (stripped !== current && stripped !== "") {
          current = stripped;
          add(current);
          if (current.startsWith("claude-") && current.includes(".")) add(current.replaceAll(".", "-"));
          changed = true;
          break;
        }
      }
    }
  };

  const m = model.trim().toLowerCase();
  addWithSnapshots(m);
  const base = m.includes("/") ? m.slice(m.lastIndexOf("/") + 1) : m;
  if (base !== m) addWithSnapshots(base);
  // A fine-tuned model has prices of its own (ft:<base>), never its base model's: the generic
  // ":tag" rule below must not reach the base name.
  const fineTuned = FINE_TUNED_ID.exec(base);
  if (fineTuned?.[1] !== undefined) {
    addWithSnapshots(`ft:${fineTuned[1]}`);
    return out;
  }
  const bedrock = BEDROCK_ID.exec(base);
  if (bedrock?.[1] !== undefined) addWithSnapshots(bedrock[1].replace(BEDROCK_VERSION, ""));
  else if (BEDROCK_BARE_VERSION.test(base)) addWithSnapshots(base.replace(BEDROCK_BARE_VERSION, ""));
  const colon = base.indexOf(":");
  if (colon > 0) addWithSnapshots(base.slice(0, colon));
  return out;
}

class IndexedPriceBook implements PriceBook {
  readonly catalogVersion: string;
  readonly entries: readonly PriceEntry[];
  /** provider -> lowercased name (model id or alias) -> chain. */
  private readonly byProvider = new Map<string, Map<string, Chain>>();
  /** Any provider: the first catalog provider to register a name owns it. */
  private readonly anyProvider = new Map<string, Chain>();
  /** Raw provider -> raw model -> chains to try in order (empty: no price). */
  private readonly memo = new Map<string, Map<string, readonly Chain[]>>();
  private memoSize = 0;
  private readonly maxMemo: number;

  constructor(catalogVersion: string, entries: PriceEntry[], maxMemo: number) {
    this.catalogVersion = catalogVersion;
    this.entries = entries;
    this.maxMemo = maxMemo;
    this.buildIndex(entries);
  }

  lookup(provider: string, model: string, atUs: number): PriceEntry | undefined {
    const chains = this.memo.get(provider)?.get(model) ?? this.resolveAndRemember(provider, model);
    for (const chain of chains) {
      for (const entry of chain) {
        if (atUs >= entry.effectiveFromUs && atUs < entry.effectiveToUs) return entry;
      }
    }
    return undefined;
  }

  private resolveAndRemember(provider: string, model: string): readonly Chain[] {
    if (model.length > MAX_MODEL_LENGTH || provider.length > MAX_MODEL_LENGTH) return [];
    const chains = this.resolve(provider, model);
    if (this.memoSize >= this.maxMemo) {
      // Bounded: senders control these strings. Starting over is cheap next to an unbounded map.
      this.memo.clear();
      this.memoSize = 0;
    }
    let byModel = this.memo.get(provider);
    if (byModel === undefined) {
      byModel = new Map();
      this.memo.set(provider, byModel);
    }
    byModel.set(model, chains);
    this.memoSize++;
    return chains;
  }

  /**
   * Every chain the model's name candidates reach, provider-scoped ones first, then any
   * provider (OpenAI-compatible clients often report "openai" for DeepSeek, Groq, ...), except
   * for self-hosting runtimes (SELF_HOSTED_PROVIDERS), which only get prices a catalog lists
   * under their own name. A chain with no entry in force at the call's time falls through to
   * the next one.
   */
  private resolve(provider: string, model: string): Chain[] {
    const names = nameCandidates(model);
    const found: Chain[] = [];
    const push = (chain: Chain | undefined): void => {
      if (chain !== undefined && !found.includes(chain)) found.push(chain);
    };
    const p = normalizeProvider(provider);
    const scopes = PRICE_SCOPES[p] ?? (this.byProvider.has(p) ? [p] : []);
    for (const scope of scopes) {
      const names2chain = this.byProvider.get(scope);
      if (names2chain === undefined) continue;
      for (const name of names) push(names2chain.get(name));
    }
    if (SELF_HOSTED_PROVIDERS.has(p)) return found;
    for (const name of names) push(this.anyProvider.get(name));
    return found;
  }

  private buildIndex(entries: readonly PriceEntry[]): void {
    // Exact model ids first, so an alias never shadows another entry's own id.
    const chains = new Map<string, Map<string, PriceEntry[]>>();
    const owner = new Map<string, string>();
    const register = (entry: PriceEntry, name: string, isAlias: boolean): void => {
      const key = name.trim().toLowerCase();
      const ownerKey = `${entry.provider}\u0000${key}`;
      const ownerId = owner.get(ownerKey);
      if (ownerId !== undefined && ownerId !== entry.id) {
        throw ERR_BAD_CONFIG(
          `price catalog: ${isAlias ? "alias" : "model"} "${name}" of ${entry.id} is already used by ${ownerId} (${entry.provider})`,
        );
      }
      owner.set(ownerKey, entry.id);
      let byName = chains.get(entry.provider);
      if (byName === undefined) {
        byName = new Map();
        chains.set(entry.provider, byName);
      }
      const chain = byName.get(key) ?? [];
      if (!chain.includes(entry)) chain.push(entry);
      byName.set(key, chain);
    };
    for (const entry of entries) register(entry, entry.model, false);
    for (const entry of entries) for (const alias of entry.raw.aliases) register(entry, alias, true);

    const versions = new Set<string>();
    for (const entry of entries) {
      const key = `${entry.id}@${entry.version}`;
      if (versions.has(key)) throw ERR_BAD_CONFIG(`price catalog: ${key} appears twice`);
      versions.add(key);
    }

    for (const [provider, byName] of chains) {
      const frozen = new Map<string, Chain>();
      for (const [name, chain] of byName) {
        chain.sort((a, b) => a.effectiveFromUs - b.effectiveFromUs);
        for (let i = 1; i < chain.length; i++) {
          const prev = chain[i - 1];
          const next = chain[i];
          if (prev !== undefined && next !== undefined && next.effectiveFromUs < prev.effectiveToUs) {
            throw ERR_BAD_CONFIG(
              `price catalog: ${prev.id}@${prev.version} and ${next.id}@${next.version} overlap for "${name}" (${provider})`,
            );
          }
        }
        const readonlyChain: Chain = chain;
        frozen.set(name, readonlyChain);
        if (!this.anyProvider.has(name)) this.anyProvider.set(name, readonlyChain);
      }
      this.byProvider.set(provider, frozen);
    }
  }
}
