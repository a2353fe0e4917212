import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ERR_BAD_CONFIG } from "../errors.js";
import { type Config, type ConfigInput, configSchema } from "./schema.js";

/**
 * Environment variables and the config field each one sets. Environment wins over the file,
 * so a container can override one value without a new file.
 */
const ENV_FIELDS: ReadonlyArray<readonly [string, readonly [string, string]]> = [
  ["TOKENMETER_HOST", ["server", "host"]],
  ["TOKENMETER_COLLECTOR_PORT", ["server", "collectorPort"]],
  ["TOKENMETER_PROXY_PORT", ["server", "proxyPort"]],
  ["TOKENMETER_API_TOKEN", ["server", "apiToken"]],
  ["TOKENMETER_INGEST_TOKEN", ["server", "ingestToken"]],
  ["TOKENMETER_LOG_LEVEL", ["server", "logLevel"]],
  ["TOKENMETER_CORS_ORIGINS", ["server", "corsOrigins"]],
  ["TOKENMETER_DATA_DIR", ["storage", "dataDir"]],
  ["CLICKHOUSE_URL", ["storage", "clickhouseUrl"]],
  ["CLICKHOUSE_USER", ["storage", "clickhouseUser"]],
  ["CLICKHOUSE_PASSWORD", ["storage", "clickhousePassword"]],
  ["CLICKHOUSE_DATABASE", ["storage", "database"]],
  ["TOKENMETER_CLICKHOUSE_CLUSTER", ["storage", "cluster"]],
  ["TOKENMETER_CONTENT_RETENTION_DAYS", ["storage", "contentRetentionDays"]],
  ["TOKENMETER_RETENTION_DAYS", ["storage", "retentionDays"]],
  ["TOKENMETER_MAX_BODY_BYTES", ["ingest", "maxBodyBytes"]],
  ["TOKENMETER_SPOOL_DIR", ["ingest", "spoolDir"]],
  ["TOKENMETER_INGEST_ACK_AFTER", ["ingest", "ackAfter"]],
  ["TOKENMETER_INGEST_LOG_FSYNC", ["ingest", "logFsync"]],
  ["TOKENMETER_INGEST_WORKERS", ["ingest", "workers"]],
  ["TOKENMETER_BACKGROUND_NICE", ["ingest", "backgroundNice"]],
  ["REDIS_URL", ["budgets", "redisUrl"]],
  ["TOKENMETER_OPENAI_BASE_URL", ["proxy", "openaiBaseUrl"]],
  ["TOKENMETER_ANTHROPIC_BASE_URL", ["proxy", "anthropicBaseUrl"]],
  ["TOKENMETER_DEFAULT_TEAM", ["defaults", "team"]],
  ["TOKENMETER_DEFAULT_PROJECT", ["defaults", "project"]],
  ["TOKENMETER_ENVIRONMENT", ["defaults", "environment"]],
];

type Env = Readonly<Record<string, string | undefined>>;
type Mutable = Record<string, unknown>;

function section(target: Mutable, name: string): Mutable {
  const existing = target[name];
  if (existing !== null && typeof existing === "object" && !Array.isArray(existing)) return existing as Mutable;
  const created: Mutable = {};
  target[name] = created;
  return created;
}

function readFile(path: string): ConfigInput {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw ERR_BAD_CONFIG(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw ERR_BAD_CONFIG(`config file ${path} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw ERR_BAD_CONFIG(`config file ${path} must hold a YAML mapping at the top level`);
  }
  return parsed as ConfigInput;
}

/** Deep-freezes a parsed config so no stage can change it after boot. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

export interface LoadConfigOptions {
  env?: Env;
  /** A config file path; defaults to TOKENMETER_CONFIG, then ./tokenmeter.yaml when it exists. */
  file?: string;
  /** Values layered over file and env (CLI flags, tests). */
  overrides?: ConfigInput;
}

/**
 * Parses the configuration once: file, then environment, then explicit overrides, validated by
 * zod. A bad value fails here with the field's path in the message.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env["TOKENMETER_CONFIG"];
  const raw: Mutable = file ? (structuredClone(readFile(file)) as Mutable) : {};
  for (const [name, [sec, key]] of ENV_FIELDS) {
    const value = env[name];
    if (value !== undefined && value !== "") section(raw, sec)[key] = value;
  }
  if (options.overrides) {
    for (const [sec, values] of Object.entries(options.overrides)) {
      if (values && typeof values === "object" && !Array.isArray(values)) Object.assign(section(raw, sec), values);
      else raw[sec] = values;
    }
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? issue.path.join(".") : "(root)";
    throw ERR_BAD_CONFIG(`invalid configuration at ${where}: ${issue?.message ?? "invalid"}`, {
      cause: z.prettifyError(result.error),
    });
  }
  return deepFreeze(result.data);
}
