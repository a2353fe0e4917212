import { z } from "zod";
import { alertsConfigSchema } from "../alerts/config.js";
import { evaluatorsSchema } from "../enrich/evaluators/config.js";
import { budgetsSchema, pricingSchema } from "../finops/config.js";

/**
 * tokenmeter.yaml and TOKENMETER_* variables share this one schema. Every field has a default,
 * so an empty file (or none) is a valid configuration.
 */

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

export const storageSchema = z
  .object({
    /** Embedded ClickHouse data directory (chdb). */
    dataDir: z.string().min(1).default("./.tokenmeter/data"),
    /** A ClickHouse server over HTTP; when set, the embedded engine is not used. */
    clickhouseUrl: z.string().url().optional(),
    clickhouseUser: z.string().default("default"),
    clickhousePassword: z.string().default(""),
    database: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a plain identifier")
      .default("tokenmeter"),
    /** Renders migrations with ON CLUSTER, Replicated engines and Distributed tables. */
    cluster: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "must be a plain identifier")
      .optional(),
    /** Days to keep prompt/response content (input/output columns); 0 keeps forever. */
    contentRetentionDays: z.coerce.number().int().min(0).default(30),
    /** Days to keep numeric facts (rows); 0 keeps forever. */
    retentionDays: z.coerce.number().int().min(0).default(0),
  })
  .prefault({});

export const ingestSchema = z
  .object({
    /** Largest accepted request body, measured after decompression. */
    maxBodyBytes: positiveInt.default(32 * 1024 * 1024),
    /** Attribute string values beyond this are truncated (and listed in tokenmeter.truncated_attributes). */
    maxAttributeValueBytes: positiveInt.default(1024 * 1024),
    /**
     * Rows per ClickHouse insert (per table). Larger inserts mean fewer parts for ClickHouse to
     * merge, for more memory while a batch is built and inserted. On the ingest bench, 20,000
     * rows halved the merge work per span of 10,000 for about 200 MiB more peak RSS; 30,000
     * saved a little more CPU for another 250 MiB.
     */
    batchMaxRows: positiveInt.default(20_000),
    /**
     * Bytes of row text per ClickHouse insert (per table): a batch is cut at batchMaxRows or
     * here, whichever comes first, so calls with large prompts make bounded inserts.
     */
    batchMaxBytes: positiveInt.max(256 * 1024 * 1024).default(64 * 1024 * 1024),
    /**
     * Longest a row waits for its batch. With ackAfter "insert", rows an OTLP request waits on
     * linger at most 50 ms (under load batches are cut back to back); other rows linger this
     * long, for fewer, larger inserts.
     */
    batchMaxDelayMs: positiveInt.default(2000),
    /** Worker threads that decode and normalize OTLP bodies; default one per core beyond the first (0 = inline). */
    workers: z.coerce.number().int().min(0).max(32).optional(),
    /**
     * Nice value (0-19) for the embedded ClickHouse's own threads on Linux (inserts, merges), so
     * storage bursts never hold a proxied call waiting for a core. 0 leaves every thread at the
     * process's priority.
     */
    backgroundNice: z.coerce.number().int().min(0).max(19).default(10),
    /**
     * Model calls remembered to de-duplicate across export batches (a wrapper span arriving a
     * request after the span it wraps, a retried export); 0 turns it off.
     */
    dedupeRecentCalls: z.coerce.number().int().min(0).default(50_000),
    /**
     * Rows held in memory across all tables before ingest answers 429: room for a full batch of
     * each busy table pending while the previous one is inserted.
     */
    maxQueueRows: positiveInt.default(400_000),
    /** Bytes of row text held in memory across all tables before ingest answers 429. */
    maxQueueBytes: positiveInt.default(512 * 1024 * 1024),
    /**
     * Disk spool for batches ClickHouse refused, replayed in order. Its `log/` subdirectory
     * holds the ingest log.
     */
    spoolDir: z.string().min(1).default("./.tokenmeter/spool"),
    /**
     * When ingest answers 200. "log": once the rows are appended to the ingest log on disk
     * (survives a crash; inserts are then cut by batchMaxRows and batchMaxDelayMs alone, so they
     * are large). "insert": once ClickHouse (or the spool) has them.
     */
    ackAfter: z.enum(["log", "insert"]).default("log"),
    /** fdatasync the ingest log before answering (survives power loss, costs a disk flush per write). */
    logFsync: z.union([z.boolean(), z.stringbool()]).default(false),
    /** Spool size beyond which ingest answers 503. */
    maxSpoolBytes: positiveInt.default(2 * 1024 * 1024 * 1024),
  })
  .prefault({});

export const defaultsSchema = z
  .object({
    team: z.string().default(""),
    project: z.string().default(""),
    environment: z.string().default(""),
  })
  .prefault({});

export const redactionSchema = z
  .object({
    enabled: z.boolean().default(true),
    emails: z.boolean().default(true),
    phoneNumbers: z.boolean().default(true),
    cardNumbers: z.boolean().default(true),
    secrets: z.boolean().default(true),
    /** Extra patterns (JavaScript regular expressions) replaced with [REDACTED]. */
    patterns: z.array(z.string()).default([]),
  })
  .prefault({});

export const serverSchema = z
  .object({
    host: z.string().min(1).default("127.0.0.1"),
    collectorPort: port.default(4318),
    proxyPort: port.default(8787),
    /** When set, /api/* requires `Authorization: Bearer <apiToken>`. */
    apiToken: z.string().min(1).optional(),
    /** When set, /v1/* ingest requires `Authorization: Bearer <ingestToken>`. */
    ingestToken: z.string().min(1).optional(),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /**
     * Browser origins allowed to call the collector (OTLP from a browser exporter, the read API
     * from a web UI), e.g. `https://app.example.com`; `*` allows any. None by default: no CORS
     * headers are sent. From the environment as a comma-separated list.
     */
    corsOrigins: z
      .preprocess(
        (v) =>
          typeof v === "string"
            ? v
                .split(",")
                .map((o) => o.trim())
                .filter((o) => o !== "")
            : v,
        z.array(
          z.string().regex(/^(?:\*|https?:\/\/[^/\s]+)$/, "expected an origin such as https://app.example.com, or *"),
        ),
      )
      .default([]),
  })
  .prefault({});

export const metricsSchema = z
  .object({
    /** Distinct values kept per metric label (team, model, ...); the rest become "other". */
    maxLabelValues: positiveInt.default(50),
  })
  .prefault({});

/** A token bucket: a sustained request rate plus the burst allowed after a quiet period. */
export const proxyRateLimitSchema = z.object({
  requestsPerMinute: z.coerce.number().positive(),
  /** Requests allowed back to back; default ten seconds' worth of the rate (at least 1). */
  burst: positiveInt.optional(),
});

const PROXY_ROUTE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Path prefixes the proxy answers itself, so no upstream may take them. */
const RESERVED_PROXY_ROUTES = new Set(["openai", "anthropic", "healthz", "metrics"]);

/** A named upstream served at /<name>/v1/*. */
export const proxyUpstreamSchema = z.object({
  baseUrl: z.string().url(),
  /** Wire format: named upstreams speak OpenAI's unless told otherwise. */
  format: z.enum(["openai", "anthropic"]).default("openai"),
  /** gen_ai.provider.name on its spans and the price lookup; defaults to the upstream's name. */
  provider: z.string().min(1).optional(),
  /** Overrides proxy.injectStreamUsage for this upstream. */
  injectStreamUsage: z.boolean().optional(),
});

/**
 * A virtual key (`tm_...`) handed to an application instead of the provider's key. Only its
 * sha256 is configured; the real key is read from the named environment variable at start.
 */
export const proxyVirtualKeySchema = z.object({
  /** Name shown in spans, metrics and hooks (never the key itself). */
  id: z.string().min(1),
  /** Lowercase hex sha256 of the full key, `tm_` prefix included. */
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be a hex sha256")
    .transform((s) => s.toLowerCase()),
  team: z.string().default(""),
  project: z.string().default(""),
  /** Environment variable with the real provider key: one for every route, or one per route name. */
  providerKeyEnv: z.union([z.string().min(1), z.record(z.string(), z.string().min(1))]).optional(),
  rateLimit: proxyRateLimitSchema.optional(),
  /** Answer this key's identical requests from the response cache. */
  cache: z.boolean().default(false),
});

export const proxyCacheSchema = z
  .object({
    /** Routes whose identical requests are answered from the cache. */
    routes: z.array(z.string()).default([]),
    /** Teams whose identical requests are answered from the cache, on any route. */
    teams: z.array(z.string()).default([]),
    ttlSeconds: positiveInt.default(300),
    maxEntries: positiveInt.default(10_000),
    maxBytes: positiveInt.default(64 * 1024 * 1024),
    /** Larger responses are not cached. */
    maxEntryBytes: positiveInt.default(1024 * 1024),
  })
  .prefault({});

export const proxySchema = z
  .object({
    /** `/openai/v1/*` goes here. */
    openaiBaseUrl: z.string().url().default("https://api.openai.com/v1"),
    /** `/anthropic/v1/*` goes here. */
    anthropicBaseUrl: z.string().url().default("https://api.anthropic.com/v1"),
    /** More upstreams by name (vLLM, Ollama, Groq, Azure OpenAI...), served at /<name>/v1/*. */
    upstreams: z
      .record(
        z
          .string()
          .regex(PROXY_ROUTE_NAME, "must be lowercase letters, digits, - or _")
          .refine((n) => !RESERVED_PROXY_ROUTES.has(n), "is reserved"),
        proxyUpstreamSchema,
      )
      .default({}),
    /**
     * Adds stream_options.include_usage to OpenAI streaming requests that lack it, so streamed
     * calls carry exact usage; the extra usage chunk is removed before the client sees it.
     */
    injectStreamUsage: z.boolean().default(false),
    /** Record prompts and responses on spans (bounded by maxCaptureBytes per side). */
    captureContent: z.boolean().default(true),
    maxCaptureBytes: positiveInt.default(256 * 1024),
    /** Largest model-call request body read; larger ones get a 413 in the provider's shape. */
    maxBodyBytes: positiveInt.default(32 * 1024 * 1024),
    /** Time allowed for the upstream's response headers (non-streamed answers arrive whole). */
    upstreamHeadersTimeoutMs: positiveInt.default(600_000),
    /** Longest silence allowed between two chunks of the upstream's body. */
    upstreamBodyTimeoutMs: positiveInt.default(300_000),
    /** Pooled keep-alive connections per upstream origin. */
    connectionsPerUpstream: positiveInt.default(256),
    /** service.name of the spans the proxy emits. */
    serviceName: z.string().min(1).default("tokenmeter-proxy"),
    virtualKeys: z.array(proxyVirtualKeySchema).default([]),
    rateLimits: z
      .object({
        /** Per team (from the virtual key or x-tokenmeter-team). */
        teams: z.record(z.string(), proxyRateLimitSchema).default({}),
      })
      .prefault({}),
    cache: proxyCacheSchema,
    /** Finished spans held while the pipeline or remote collector is slow; more are dropped and counted. */
    maxBufferedSpans: positiveInt.default(10_000),
  })
  .prefault({});

export const configSchema = z.object({
  alerts: alertsConfigSchema,
  evaluators: evaluatorsSchema,
  server: serverSchema,
  storage: storageSchema,
  ingest: ingestSchema,
  defaults: defaultsSchema,
  redaction: redactionSchema,
  metrics: metricsSchema,
  proxy: proxySchema,
  pricing: pricingSchema,
  budgets: budgetsSchema,
});

export type Config = z.infer<typeof configSchema>;
/** What a config file may contain: every field optional. */
export type ConfigInput = z.input<typeof configSchema>;
