/**
 * The SDK's configuration: `init` options over environment variables over defaults, resolved
 * once, validated and frozen. This is the only module that reads `process.env`.
 *
 * Precedence per field: the explicit option, then TOKENMETER_*, then the standard OTEL_* variable.
 *
 *   endpoint        TOKENMETER_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (…/v1/traces), OTEL_EXPORTER_OTLP_ENDPOINT
 *   serviceName     OTEL_SERVICE_NAME
 *   team/project    TOKENMETER_TEAM, TOKENMETER_PROJECT
 *   environment     TOKENMETER_ENVIRONMENT
 *   captureContent  TOKENMETER_CAPTURE_CONTENT (true/false)
 *   sampleRate      TOKENMETER_SAMPLE_RATE (0..1)
 *   headers         OTEL_EXPORTER_OTLP_HEADERS (k=v,k=v); TOKENMETER_INGEST_TOKEN / TOKENMETER_API_TOKEN
 *                   add `Authorization: Bearer` to OTLP exports / score posts
 *   disabled        OTEL_SDK_DISABLED=true
 */
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { TokenmeterSdkError } from "./errors.js";
import type { RedactFn } from "./types.js";

export interface InitOptions {
  /** `service.name` of the spans; default OTEL_SERVICE_NAME, else `unknown_service:node`. */
  serviceName?: string;
  /** Collector base URL (OTLP goes to `<endpoint>/v1/traces`); default http://127.0.0.1:4318. */
  endpoint?: string;
  /** Default team / project / environment of every call (calls and `withAttributes` override them). */
  team?: string;
  project?: string;
  environment?: string;
  /** Record prompts and completions (default true). */
  captureContent?: boolean;
  /** Applied to every captured text before it is recorded. */
  redact?: RedactFn;
  /** Fraction of traces recorded, 0..1 (default 1), parent-based: a sampled parent keeps its children. */
  sampleRate?: number;
  /** Headers sent with every request to the collector (OTLP export and scores). */
  headers?: Record<string, string>;
  /** Longest captured content attribute, in characters (default 262144); longer text is truncated. */
  maxContentChars?: number;
  /**
   * Replaces the OTLP exporter, e.g. with an in-memory exporter in tests or benchmarks. Spans
   * still go through the batching span processor.
   */
  exporter?: SpanExporter;
}

export interface SdkConfig {
  readonly disabled: boolean;
  readonly serviceName: string;
  /** Collector base URL without a trailing slash. */
  readonly endpoint: string;
  /** Full OTLP/HTTP traces URL. */
  readonly tracesUrl: string;
  readonly scoresUrl: string;
  readonly team: string | undefined;
  readonly project: string | undefined;
  readonly environment: string | undefined;
  readonly captureContent: boolean;
  readonly redact: RedactFn | undefined;
  readonly sampleRate: number;
  readonly maxContentChars: number;
  readonly exportHeaders: Readonly<Record<string, string>>;
  readonly scoreHeaders: Readonly<Record<string, string>>;
  readonly exporter: SpanExporter | undefined;
}

export const DEFAULT_ENDPOINT = "http://127.0.0.1:4318";
export const DEFAULT_MAX_CONTENT_CHARS = 256 * 1024;
const TRACES_PATH = "/v1/traces";

type Env = Readonly<Record<string, string | undefined>>;

function bad(field: string, message: string): TokenmeterSdkError {
  return new TokenmeterSdkError("TM_SDK_BAD_CONFIG", `${field}: ${message}`);
}

function nonEmpty(value: string | undefined): string | undefined {
  const t = value?.trim();
  return t === undefined || t === "" ? undefined : t;
}

function parseBool(field: string, raw: string | undefined): boolean | undefined {
  const v = nonEmpty(raw)?.toLowerCase();
  if (v === undefined) return undefined;
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw bad(field, `expected true or false, got "${raw}"`);
}

function checkRate(field: string, rate: number): number {
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw bad(field, `expected a number from 0 to 1, got ${rate}`);
  return rate;
}

function checkUrl(field: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad(field, `expected an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw bad(field, `expected an http(s) URL, got "${raw}"`);
  return raw.replace(/\/+$/, "");
}

/** OTEL_EXPORTER_OTLP_HEADERS: `k=v,k=v`, values percent-encoded (OTel SDK environment spec). */
function parseHeaderList(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // keep the raw value
    }
    if (key !== "") out[key] = value;
  }
  return out;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  const lower = name.toLowerCase();
  for (const key of Object.keys(headers)) if (key.toLowerCase() === lower) return true;
  return false;
}

function withBearer(headers: Record<string, string>, token: string | undefined): Record<string, string> {
  if (token === undefined || hasHeader(headers, "authorization")) return headers;
  return { ...headers, Authorization: `Bearer ${token}` };
}

/**
 * The collector's base URL from a traces URL: what precedes /v1/traces, else the URL's origin
 * (a traces path of its own says nothing about where the API is).
 */
function baseOfTracesUrl(tracesUrl: string): string {
  return tracesUrl.endsWith(TRACES_PATH) ? tracesUrl.slice(0, -TRACES_PATH.length) : new URL(tracesUrl).origin;
}

/**
 * tokenmeter's own base URL settings. The collector prints its traces URL
 * (http://host:4318/v1/traces) at start, so that URL is taken too: as the traces URL, with the
 * base before it, rather than posting to /v1/traces/v1/traces.
 */
function tokenmeterEndpoint(name: string, value: string): { endpoint: string; tracesUrl: string } {
  const url = checkUrl(name, value);
  if (url.endsWith(TRACES_PATH)) return { endpoint: baseOfTracesUrl(url), tracesUrl: url };
  return { endpoint: url, tracesUrl: url + TRACES_PATH };
}

/** Where spans go: an explicit base URL, else the environment's, else the default. */
function resolveEndpoints(options: InitOptions, env: Env): { endpoint: string; tracesUrl: string } {
  const explicit = nonEmpty(options.endpoint);
  if (explicit !== undefined) return tokenmeterEndpoint("endpoint", explicit);
  const tm = nonEmpty(env["TOKENMETER_ENDPOINT"]);
  if (tm !== undefined) return tokenmeterEndpoint("TOKENMETER_ENDPOINT", tm);
  const traces = nonEmpty(env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
  if (traces !== undefined) {
    // The signal-specific variable is the full URL (OTel spec).
    const tracesUrl = checkUrl("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces);
    return { endpoint: baseOfTracesUrl(tracesUrl), tracesUrl };
  }
  const base = nonEmpty(env["OTEL_EXPORTER_OTLP_ENDPOINT"]);
  const endpoint = base === undefined ? DEFAULT_ENDPOINT : checkUrl("OTEL_EXPORTER_OTLP_ENDPOINT", base);
  return { endpoint, tracesUrl: endpoint + TRACES_PATH };
}

/** Resolves and validates the configuration. Throws TokenmeterSdkError (TM_SDK_BAD_CONFIG) naming the bad field. */
export function resolveConfig(options: InitOptions = {}, env: Env = process.env): SdkConfig {
  const { endpoint, tracesUrl } = resolveEndpoints(options, env);

  let sampleRate = 1;
  if (options.sampleRate !== undefined) sampleRate = checkRate("sampleRate", options.sampleRate);
  else {
    const raw = nonEmpty(env["TOKENMETER_SAMPLE_RATE"]);
    if (raw !== undefined) sampleRate = checkRate("TOKENMETER_SAMPLE_RATE", Number(raw));
  }

  const maxContentChars = options.maxContentChars ?? DEFAULT_MAX_CONTENT_CHARS;
  if (!Number.isInteger(maxContentChars) || maxContentChars < 1024) {
    throw bad("maxContentChars", `expected an integer of at least 1024, got ${maxContentChars}`);
  }
  if (options.redact !== undefined && typeof options.redact !== "function") {
    throw bad("redact", "expected a function (text) => text");
  }

  const common = { ...parseHeaderList(env["OTEL_EXPORTER_OTLP_HEADERS"]), ...options.headers };

  return Object.freeze({
    disabled: parseBool("OTEL_SDK_DISABLED", env["OTEL_SDK_DISABLED"]) === true,
    serviceName: nonEmpty(options.serviceName) ?? nonEmpty(env["OTEL_SERVICE_NAME"]) ?? "unknown_service:node",
    endpoint,
    tracesUrl,
    scoresUrl: `${endpoint}/api/v1/scores`,
    team: nonEmpty(options.team) ?? nonEmpty(env["TOKENMETER_TEAM"]),
    project: nonEmpty(options.project) ?? nonEmpty(env["TOKENMETER_PROJECT"]),
    environment: nonEmpty(options.environment) ?? nonEmpty(env["TOKENMETER_ENVIRONMENT"]),
    captureContent:
      options.captureContent ?? parseBool("TOKENMETER_CAPTURE_CONTENT", env["TOKENMETER_CAPTURE_CONTENT"]) ?? true,
    redact: options.redact,
    sampleRate,
    maxContentChars,
    exportHeaders: Object.freeze(withBearer(common, nonEmpty(env["TOKENMETER_INGEST_TOKEN"]))),
    scoreHeaders: Object.freeze(withBearer(common, nonEmpty(env["TOKENMETER_API_TOKEN"]))),
    exporter: options.exporter,
  });
}
