import { z } from "zod";
import { evaluatorsSchema } from "../enrich/evaluators/config.js";

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
    /** Rows per ClickHouse insert. */
    batchMaxRows: positiveInt.default(20_000),
    /** Longest a row waits for its batch when the writer is idle (capped at 50 ms; under load batches are cut back to back). */
    batchMaxDelayMs: positiveInt.default(1000),
    /** Worker threads that decode and normalize OTLP bodies; default one per core beyond the first (0 = inline). */
    workers: z.coerce.number().int().min(0).max(32).optional(),
    /** Rows held in memory across all tables before ingest answers 429. */
    maxQueueRows: positiveInt.default(400_000),
    /** Disk spool for batches ClickHouse refused; replayed in order. */
    spoolDir: z.string().min(1).default("./.tokenmeter/spool"),
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
  })
  .prefault({});

export const metricsSchema = z
  .object({
    /** Distinct values kept per metric label (team, model, ...); the rest become "other". */
    maxLabelValues: positiveInt.default(50),
  })
  .prefault({});

export const configSchema = z.object({
  evaluators: evaluatorsSchema,
  server: serverSchema,
  storage: storageSchema,
  ingest: ingestSchema,
  defaults: defaultsSchema,
  redaction: redactionSchema,
  metrics: metricsSchema,
});

export type Config = z.infer<typeof configSchema>;
/** What a config file may contain: every field optional. */
export type ConfigInput = z.input<typeof configSchema>;
