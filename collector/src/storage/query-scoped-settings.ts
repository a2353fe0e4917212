/**
 * Embedded ClickHouse runs every query of a connection in one session, and chdb applies a
 * query's `clickhouse_settings` as session-wide `SET` statements. They would then outlive the
 * query: an `insert_deduplication_token` would make the next insert into the same table a
 * "duplicate" (silently dropped), output formats would leak into unrelated reads, and
 * concurrent queries would see each other's settings. Rewriting the settings into the query's
 * own SETTINGS clause scopes them to that query, as they are over HTTP.
 */

/** Settings that only mean something to the HTTP interface. */
const HTTP_ONLY = new Set([
  "wait_end_of_query",
  "send_progress_in_http_headers",
  "http_response_buffer_size",
  "http_headers_progress_interval_ms",
  "http_send_progress_interval_ms",
  "enable_http_compression",
  "http_zlib_compression_level",
  "http_response_compression_method",
  "http_native_compression_disable_checksumming_on_decompress",
]);

type Settings = Record<string, unknown>;

function literal(v: unknown): string {
  if (typeof v === "number") return String(v);
  if (typeof v === "boolean") return v ? "1" : "0";
  return `'${String(v).replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * `k = v, ...` for a SETTINGS clause, or "" when none apply. HTTP-only settings and
 * `default_format` stay with the caller.
 */
export function settingsClause(settings: Settings): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(settings)) {
    if (v === undefined || HTTP_ONLY.has(k) || k === "default_format") continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid setting name ${JSON.stringify(k)}`);
    parts.push(`${k} = ${literal(v)}`);
  }
  return parts.join(", ");
}

const INSERT_FORMAT = /^(\s*INSERT\s[\s\S]*?)(\sFORMAT\s+\w+)/i;
const TRAILING_FORMAT = /(\s+FORMAT\s+\w+\s*)$/i;

/**
 * Returns `sql` with `settings` moved into a SETTINGS clause, or undefined when the statement's
 * shape is not one this can place a clause in safely (the caller then keeps the settings).
 */
export function scopeSettings(sql: string, settings: Settings | undefined): string | undefined {
  if (!settings) return sql;
  const c = settingsClause(settings);
  if (c === "") return sql;
  const insert = INSERT_FORMAT.exec(sql);
  if (insert) {
    // INSERT ... [SETTINGS ...] FORMAT X <data>: the clause goes before FORMAT; the data after
    // it is never touched.
    const head = insert[1] as string;
    if (/\bSETTINGS\b/i.test(head)) return undefined;
    return `${head} SETTINGS ${c}${sql.slice(head.length)}`;
  }
  if (/^\s*(SELECT|WITH|INSERT)\b/i.test(sql)) {
    // A query's own SETTINGS clause already present: merging two is not worth the risk.
    if (/\bSETTINGS\b/i.test(sql)) return undefined;
    const fmt = TRAILING_FORMAT.exec(sql);
    if (fmt) return `${sql.slice(0, fmt.index)}\nSETTINGS ${c}${fmt[1]}`;
    return `${sql}\nSETTINGS ${c}`;
  }
  return undefined;
}

interface WithSettings {
  query: string;
  clickhouse_settings?: Settings | undefined;
}

/**
 * Wraps a connection so each call's settings travel inside its SQL. Statements whose shape
 * cannot take a clause (DDL with settings, say) keep the connection's own behaviour.
 */
export function withQueryScopedSettings<C extends object>(connection: C): C {
  const rewrite = <P extends WithSettings>(params: P): P => {
    const sql = scopeSettings(params.query, params.clickhouse_settings);
    if (sql === undefined) return params;
    const rest: Settings = {};
    for (const [k, v] of Object.entries(params.clickhouse_settings ?? {})) {
      if (k === "default_format" || HTTP_ONLY.has(k)) rest[k] = v;
    }
    return { ...params, query: sql, clickhouse_settings: rest };
  };
  return new Proxy(connection, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      if (prop === "query" || prop === "command" || prop === "exec" || prop === "insert") {
        return (params: WithSettings, ...more: unknown[]) =>
          (value as (p: WithSettings, ...m: unknown[]) => unknown).call(target, rewrite(params), ...more);
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
